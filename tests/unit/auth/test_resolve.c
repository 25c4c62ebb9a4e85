/*
 * test_resolve.c - the resolver interface (dns/resolve.h) through its
 * scripted fake backend (dns/fake.h): every status, rdata parsing of each
 * type, MX ordering, TXT joining, CNAME chasing, DNSSEC flags, counters,
 * deferred delivery and cancellation, names and reverse names.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dns/fake.h"
#include "dns/resolve.h"
#include "util/err.h"
#include "util/mem.h"
#include "../tap.h"

static struct event_base *base;

struct got {
	int calls;
	struct dns_result *res;
};

static void
got_cb(const struct dns_result *res, void *arg)
{
	struct got *g = arg;

	g->calls++;
	dns_result_free(g->res);
	g->res = dns_result_dup(res);
}

static struct got g;	/* the last answer of ask() */

static struct dns_result *
ask(struct resolver *r, const char *name, uint16_t type)
{
	g.calls = 0;
	resolve(r, name, type, got_cb, &g);
	is_int(g.calls, 0, "%s %s: no callback from inside resolve()", name,
	    dns_type_str(type));
	while (g.calls == 0)
		event_base_loop(base, EVLOOP_ONCE);
	return g.res;
}

static void
test_names(void)
{
	char out[DNS_NAME_TEXT_MAX];
	uint8_t v4[4] = { 192, 0, 2, 1 };
	struct in6_addr v6;
	char long_label[80];

	is_int(dns_name_normalise("Mail.Example.COM.", out, sizeof(out)), 0,
	    "normalise");
	is_str(out, "mail.example.com", "lowercase, no trailing dot");
	is_int(dns_name_normalise("a\\.b.example", out, sizeof(out)), 0,
	    "escaped dot");
	is_str(out, "a\\.b.example", "escaped dot kept escaped");
	dns_name_normalise("sp\\032ace.ex", out, sizeof(out));
	is_str(out, "sp\\032ace.ex", "\\DDD escape");
	dns_name_normalise(".", out, sizeof(out));
	is_str(out, "", "root");
	is_int(dns_name_normalise("a..b", out, sizeof(out)), PTT_EINVAL,
	    "empty label refused");
	is_int(dns_name_normalise(".a", out, sizeof(out)), PTT_EINVAL,
	    "leading dot refused");
	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	is_int(dns_name_normalise(long_label, out, sizeof(out)), PTT_EINVAL,
	    "64-octet label refused");
	long_label[63] = '\0';
	is_int(dns_name_normalise(long_label, out, sizeof(out)), 0,
	    "63-octet label accepted");
	{
		char big[400] = "";

		for (int i = 0; i < 64; i++)
			ptt_strlcat(big, "abc.", sizeof(big));
		is_int(dns_name_normalise(big, out, sizeof(out)), PTT_EINVAL,
		    "name over 255 octets refused");
	}
	is_int(dns_name_normalise("a\\999", out, sizeof(out)), PTT_EINVAL,
	    "\\999 refused");
	dns_reverse_name(AF_INET, v4, out, sizeof(out));
	is_str(out, "1.2.0.192.in-addr.arpa", "IPv4 reverse name");
	inet_pton(AF_INET6, "2001:db8::1", &v6);
	dns_reverse_name(AF_INET6, &v6, out, sizeof(out));
	is_str(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	    "IPv6 reverse name");
	{
		static const uint8_t w[] = { 3, 'w', 'W', 'w', 2, 'a', '.', 0 };

		is_int(dns_name_from_wire(w, sizeof(w), out, sizeof(out)), 0,
		    "wire name");
		is_str(out, "wWw.a\\.", "wire name keeps case, escapes dots");
		is_int(dns_name_from_wire(w, sizeof(w) - 1, out, sizeof(out)),
		    PTT_EINVAL, "truncated wire name refused");
	}
	{
		static const uint8_t ptr[] = { 0xc0, 0x0c };

		is_int(dns_name_from_wire(ptr, sizeof(ptr), out, sizeof(out)),
		    PTT_EINVAL, "compression pointer in rdata refused");
	}
}

static void
test_fake(void)
{
	struct resolver *r = resolver_fake_new(base);
	struct fake_dns *f = resolver_fake(r);
	struct dns_result *res;
	unsigned line = 0;
	static const uint8_t badtxt[] = { 5, 'a', 'b' };

	is_int(fake_dns_load(f,
	    "# zone\n"
	    "example.com TXT \"v=spf1 \" \"ip4:192.0.2.0/24\" \" -all\"\n"
	    "example.com TXT \"second\"\n"
	    "example.com MX 20 mx2.example.com.\n"
	    "example.com MX 10 mx1.example.com.\n"
	    "example.com MX 20 mx3.example.com.\n"
	    "mx1.example.com A 192.0.2.10\n"
	    "mx1.example.com A 192.0.2.11\n"
	    "mx1.example.com AAAA 2001:db8::10\n"
	    "alias.example.com CNAME mx1.example.com.\n"
	    "loop1.example.com CNAME loop2.example.com.\n"
	    "loop2.example.com CNAME loop1.example.com.\n"
	    "1.2.0.192.in-addr.arpa PTR host.example.com.\n"
	    "_25._tcp.mx1.example.com TLSA 3 1 1 0123456789abcdef\n"
	    "nullmx.example MX 0 .\n"
	    "deep.sub.example.org A 192.0.2.99\n"
	    "slow.example.com * !tempfail\n"
	    "half.example.com A 192.0.2.5\n"
	    "half.example.com AAAA !tempfail\n"
	    "signed.example TXT \"ok\"\n"
	    "signed.example * !secure\n"
	    "bad.example TXT \"forged\"\n"
	    "bad.example TXT !bogus\n", &line), 0, "fixture loads");

	res = ask(r, "Example.COM.", DNS_T_TXT);
	ok(res->status == DNS_OK && res->n == 2, "TXT: two records");
	is_str(res->txt[0].s, "v=spf1 ip4:192.0.2.0/24 -all",
	    "TXT strings joined without separators (RFC 7208 3.3)");
	is_str(res->qname, "example.com", "qname normalised");
	res = ask(r, "example.com", DNS_T_MX);
	ok(res->n == 3 && res->mx[0].pref == 10 &&
	    strcmp(res->mx[0].host, "mx1.example.com") == 0 &&
	    strcmp(res->mx[1].host, "mx2.example.com") == 0 &&
	    strcmp(res->mx[2].host, "mx3.example.com") == 0,
	    "MX sorted by preference, ties in answer order");
	res = ask(r, "mx1.example.com", DNS_T_A);
	ok(res->n == 2 && res->a[0].s_addr == htonl(0xc000020a),
	    "A records");
	res = ask(r, "mx1.example.com", DNS_T_AAAA);
	ok(res->n == 1 && res->aaaa[0].s6_addr[15] == 0x10, "AAAA record");
	res = ask(r, "alias.example.com", DNS_T_A);
	ok(res->status == DNS_OK && res->n == 2, "CNAME followed");
	res = ask(r, "loop1.example.com", DNS_T_A);
	is_int(res->status, DNS_TEMPFAIL, "CNAME loop: TEMPFAIL");
	{
		struct got p = { 0 };
		uint8_t v4[4] = { 192, 0, 2, 1 };

		resolve_ptr(r, AF_INET, v4, got_cb, &p);
		while (p.calls == 0)
			event_base_loop(base, EVLOOP_ONCE);
		ok(p.res->n == 1 && strcmp(p.res->ptr[0],
		    "host.example.com") == 0, "PTR via resolve_ptr");
		dns_result_free(p.res);
	}
	res = ask(r, "_25._tcp.mx1.example.com", DNS_T_TLSA);
	ok(res->n == 1 && res->tlsa[0].usage == 3 && res->tlsa[0].selector == 1 &&
	    res->tlsa[0].mtype == 1 && res->tlsa[0].len == 8 &&
	    res->tlsa[0].data[0] == 0x01, "TLSA parsed");
	res = ask(r, "nullmx.example", DNS_T_MX);
	ok(res->n == 1 && res->mx[0].host[0] == '\0', "null MX has host \"\"");
	res = ask(r, "example.com", DNS_T_AAAA);
	is_int(res->status, DNS_NODATA, "existing name, no such type: NODATA");
	res = ask(r, "sub.example.org", DNS_T_A);
	is_int(res->status, DNS_NODATA, "empty non-terminal: NODATA");
	res = ask(r, "nope.example.com", DNS_T_A);
	is_int(res->status, DNS_NXDOMAIN, "unknown name: NXDOMAIN");
	res = ask(r, "a..b", DNS_T_A);
	is_int(res->status, DNS_NXDOMAIN, "malformed name: NXDOMAIN, no query");
	res = ask(r, "slow.example.com", DNS_T_TXT);
	is_int(res->status, DNS_TEMPFAIL, "injected timeout: TEMPFAIL");
	ok(res->why != NULL && res->n == 0, "TEMPFAIL has a reason, no data");
	res = ask(r, "half.example.com", DNS_T_A);
	is_int(res->status, DNS_OK, "per-type failure leaves other types");
	res = ask(r, "half.example.com", DNS_T_AAAA);
	is_int(res->status, DNS_TEMPFAIL, "per-type failure");
	res = ask(r, "signed.example", DNS_T_TXT);
	ok(res->status == DNS_OK && res->sec == DNS_SEC_SECURE, "secure answer");
	res = ask(r, "bad.example", DNS_T_TXT);
	ok(res->status == DNS_BOGUS && res->sec == DNS_SEC_BOGUS && res->n == 0 &&
	    res->txt == NULL, "bogus answer carries no data");
	res = ask(r, "example.com", DNS_T_TXT);
	is_int(res->sec, DNS_SEC_INSECURE, "unsigned answer is insecure");

	is_int(fake_dns_count(f, "example.com", DNS_T_TXT), 2,
	    "per-name, per-type counter");
	is_int(fake_dns_count(f, "EXAMPLE.com.", 0), 4, "per-name counter");
	is_int(fake_dns_count(f, NULL, 0), resolver_nqueries(r) - 1,
	    "total counter: every query but the malformed one");

	/* Malformed rdata is dropped; the rest survives. */
	fake_dns_add_rdata(f, "mixed.example", DNS_T_TXT, badtxt,
	    sizeof(badtxt));
	fake_dns_add(f, "mixed.example", DNS_T_TXT, "\"good\"");
	fake_dns_add_rdata(f, "short.example", DNS_T_A, "\1\2\3", 3);
	res = ask(r, "mixed.example", DNS_T_TXT);
	ok(res->n == 1 && strcmp(res->txt[0].s, "good") == 0,
	    "malformed TXT rdata dropped");
	res = ask(r, "short.example", DNS_T_A);
	is_int(res->status, DNS_NODATA, "only malformed records: NODATA");
	{
		static const uint8_t nul[] = { 3, 'a', 0, 'b' };

		fake_dns_add_rdata(f, "nul.example", DNS_T_TXT, nul, sizeof(nul));
		res = ask(r, "nul.example", DNS_T_TXT);
		ok(res->n == 1 && res->txt[0].len == 3 && res->txt[0].s[2] == 'b',
		    "TXT with a NUL keeps its length");
	}

	is_int(fake_dns_load(f, "x.example BOGUSTYPE 1\n", &line), PTT_EINVAL,
	    "unknown type refused");
	is_int(line, 1, "line number reported");
	is_int(fake_dns_load(f, "ok.example A 192.0.2.1\nx.example A 999.1.1.1\n",
	    &line), PTT_EINVAL, "bad rdata refused");
	is_int(line, 2, "second line reported");
	is_int(fake_dns_load(f, "x.example * 1.2.3.4\n", &line), PTT_EINVAL,
	    "records need a type");
	is_int(fake_dns_load(f, "lonely\n", &line), PTT_EINVAL,
	    "a name alone is refused");
	is_int(fake_dns_load_file(f, "/nonexistent/zone", &line), PTT_EIO,
	    "missing file: EIO");

	/* Cancel before delivery: the callback never runs. */
	{
		struct got c = { 0 };
		struct dns_query *q = resolve_txt(r, "example.com", got_cb, &c);

		resolve_cancel(q);
		event_base_loop(base, EVLOOP_NONBLOCK);
		is_int(c.calls, 0, "cancelled query never calls back");
	}
	/* Freeing the resolver with queries in flight cancels them. */
	{
		struct got c = { 0 };

		resolve_mx(r, "example.com", got_cb, &c);
		resolve_a(r, "mx1.example.com", got_cb, &c);
		resolve_aaaa(r, "mx1.example.com", got_cb, &c);
		resolver_free(r);
		event_base_loop(base, EVLOOP_NONBLOCK);
		is_int(c.calls, 0, "resolver_free cancels queries in flight");
	}
	r = resolver_fake_new(base);
	f = resolver_fake(r);
	ok(f != NULL, "resolver_fake finds the fake");
	fake_dns_add(f, "c.example", DNS_T_A, "192.0.2.7");
	res = ask(r, "c.example", DNS_T_A);
	is_int(res->status, DNS_OK, "record before clear");
	fake_dns_clear(f);
	is_int(fake_dns_count(f, NULL, 0), 0, "clear resets the counters");
	res = ask(r, "c.example", DNS_T_A);
	is_int(res->status, DNS_NXDOMAIN, "clear forgets the records");
	resolver_free(r);
}

static void
test_dup(void)
{
	struct resolver *r = resolver_fake_new(base);
	struct dns_result *res, *d;

	fake_dns_load(resolver_fake(r),
	    "x.example MX 5 a.example.\nx.example MX 1 b.example.\n", NULL);
	res = ask(r, "x.example", DNS_T_MX);
	d = dns_result_dup(res);
	ok(d->n == 2 && d->mx != res->mx && strcmp(d->mx[0].host, "b.example") == 0,
	    "dns_result_dup deep-copies");
	dns_result_free(d);
	is_str(dns_status_str(DNS_BOGUS), "bogus", "status names");
	is_str(dns_type_str(DNS_T_TLSA), "TLSA", "type names");
	is_int(fake_dns_type("AAAA"), DNS_T_AAAA, "type mnemonic");
	resolver_free(r);
}

int
main(void)
{
	base = event_base_new();
	test_names();
	test_fake();
	test_dup();
	dns_result_free(g.res);
	event_base_free(base);
	return tap_done();
}
