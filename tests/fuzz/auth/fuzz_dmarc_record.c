/*
 * fuzz_dmarc_record.c - DMARC records (RFC 7489) from hostile DNS.
 *
 * The input is parsed as a record, then published as the TXT record of
 * _dmarc.example.com and evaluated for a subdomain From (discovery through
 * the organizational domain, sp=, pct sampling with a fixed random value).
 */
#include <stdint.h>
#include <string.h>

#include <event2/event.h>

#include "auth/dmarc.h"
#include "dns/fake.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
done(const struct dmarc_outcome *o, void *arg)
{
	*(int *)arg = 1;
	if (o->record)
		for (size_t i = 0; i < o->record->nrua; i++)
			(void)strlen(o->record->rua[i].uri);
}

static unsigned
rand_mid(void *arg)
{
	(void)arg;
	return 50;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record rec;
	char err[96];
	struct event_base *base;
	struct resolver *r;
	struct buf rd;
	const char *dkim[] = { "example.net" };
	struct dmarc_request req = {
		.from_domain = "mail.example.com", .spf_pass = true,
		.spf_domain = "bounce.example.org", .dkim_pass = dkim,
		.ndkim_pass = 1, .rand100 = rand_mid,
	};
	int finished = 0;

	if (size > 4096)
		return 0;
	if (dmarc_record_parse((const char *)data, size, &rec, err,
	    sizeof(err)) == 0)
		dmarc_record_free(&rec);
	(void)dmarc_is_record((const char *)data, size);

	base = event_base_new();
	r = resolver_fake_new(base);
	buf_init(&rd, 0);
	do {
		size_t n = size > 255 ? 255 : size;

		buf_addc(&rd, (char)n);
		buf_add(&rd, data, n);
		data += n;
		size -= n;
	} while (size > 0);
	fake_dns_add_rdata(resolver_fake(r), "_dmarc.example.com", DNS_T_TXT,
	    rd.data, rd.len);
	buf_free(&rd);
	dmarc_check(r, &req, done, &finished);
	while (!finished)
		event_base_loop(base, EVLOOP_ONCE);
	resolver_free(r);
	event_base_free(base);
	return 0;
}
