/*
 * fuzz_spf_record.c - SPF records (RFC 7208) from hostile DNS.
 *
 * The input is used three ways: as a record for the syntax checker, as a
 * macro-string expanded for an IPv4 and an IPv6 client (domain-spec and
 * explain-string rules), and as the published TXT record of a domain that
 * is then evaluated in full by check_host() over the fake DNS (with a few
 * helper records so mechanisms, includes, redirects and exp= resolve).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/spf.h"
#include "dns/fake.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
done(const struct spf_outcome *o, void *arg)
{
	*(int *)arg = 1;
	if (o->explanation)
		(void)strlen(o->explanation);
}

/* Publish data as one TXT record (split into 255-byte strings). */
static void
publish(struct fake_dns *f, const char *name, const uint8_t *data, size_t size)
{
	struct buf rd;

	buf_init(&rd, 0);
	do {
		size_t n = size > 255 ? 255 : size;

		buf_addc(&rd, (char)n);
		buf_add(&rd, data, n);
		data += n;
		size -= n;
	} while (size > 0);
	fake_dns_add_rdata(f, name, DNS_T_TXT, rd.data, rd.len);
	buf_free(&rd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_request req;
	struct buf out;
	char err[160];
	struct event_base *base;
	struct resolver *r;
	struct fake_dns *f;
	int finished = 0;

	if (size > 4096)
		return 0;
	spf_record_check((const char *)data, size, err, sizeof(err));

	memset(&req, 0, sizeof(req));
	req.af = AF_INET;
	req.ip.v4.s_addr = htonl(0xc0000203);
	req.mail_from = "strong-bad@email.example.com";
	req.helo = "mx.example.org";
	req.now = 1;
	buf_init(&out, 1 << 16);
	spf_expand(&req, "email.example.com", (const char *)data, size, false,
	    &out);
	buf_reset(&out);
	req.af = AF_INET6;
	req.ip.v6.s6_addr[0] = 0x20;
	req.ip.v6.s6_addr[15] = 1;
	spf_expand(&req, "email.example.com", (const char *)data, size, true,
	    &out);
	buf_free(&out);

	base = event_base_new();
	r = resolver_fake_new(base);
	f = resolver_fake(r);
	publish(f, "email.example.com", data, size);
	publish(f, "inc.example.com", data, size);
	fake_dns_load(f,
	    "email.example.com A 192.0.2.3\n"
	    "email.example.com MX 10 mx.email.example.com.\n"
	    "mx.email.example.com A 192.0.2.4\n"
	    "3.2.0.192.in-addr.arpa PTR mx.email.example.com.\n"
	    "exp.example.com TXT \"%{s} %{c} %{r} %{t} %{p} %{i}\"\n"
	    "down.example.com * !tempfail\n", NULL);
	req.af = AF_INET;
	req.mail_from = "strong-bad@email.example.com";
	spf_check(r, &req, done, &finished);
	while (!finished)
		event_base_loop(base, EVLOOP_ONCE);
	resolver_free(r);
	event_base_free(base);
	return 0;
}
