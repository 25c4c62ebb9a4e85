/*
 * test_dnsd.c - the ptt-dns message engine on an in-memory zone: answers,
 * referrals, NXDOMAIN/NODATA, CNAME, wildcards, ANY, EDNS and truncation,
 * error RCODEs; RFC 1982 serial arithmetic; zone file errors; RFC 2136
 * updates with prerequisites and TSIG (good, wrong and missing keys).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "../tap.h"
#include "dns/tsig.h"
#include "dns/update.h"
#include "dnsd.h"
#include "query.h"
#include "util/err.h"
#include "zone.h"

static const char zone_text[] =
    "$ORIGIN example.test.\n"
    "$TTL 300\n"
    "@       SOA ns1 hostmaster 1 3600 600 86400 60\n"
    "@       NS  ns1\n"
    "ns1     A   127.0.0.1\n"
    "@       A   127.0.0.1\n"
    "@       MX  10 mx\n"
    "mx      A   127.0.0.1\n"
    "mx      AAAA ::1\n"
    "@       TXT \"v=spf1 -all\"\n"
    "www     CNAME @\n"
    "ext     CNAME www.example.org.\n"
    "loop1   CNAME loop2\n"
    "loop2   CNAME loop1\n"
    "dangling CNAME nothing\n"
    "sub     NS  ns.sub\n"
    "ns.sub  A   127.0.0.2\n"
    "*.wild  TXT \"wildcard\"\n"
    "a.b.c   A   127.0.0.3\n";

static const char key_text[] =
    "upd.key:hmac-sha256:k8E3rEH0O6ZhHWHhdxRbHxZ4dx6gG2n0Qe7PcZ6Y6Pk=";
static uint64_t fixed_now = 1700000000;
static int changes;

static uint64_t
clock_fixed(void)
{
	return fixed_now;
}

static void
on_changed(struct dnsd *d, struct zone *z, const char *key, void *arg)
{
	changes++;
}

static struct dnsd d;

static void
setup(void)
{
	struct zone *z = zone_new("example.test.");
	ldns_rr_list *rrs;
	char err[256];
	FILE *f = fmemopen((void *)zone_text, sizeof(zone_text) - 1, "r");
	struct tsig_key k;

	dnsd_init(&d);
	if (zone_parse("example.test.", f, "mem", false, &rrs, err, sizeof(err)) != 0 ||
	    zone_commit(z, rrs, err, sizeof(err)) != 0) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	fclose(f);
	d.zones = z;
	tsig_key_parse(&k, key_text);
	dnsd_key_add(&d, &k);
	dnsd_policy_line(&d, "key upd.key may update *.example.test. A AAAA TXT", err,
	    sizeof(err));
	dnsd_policy_line(&d, "key upd.key may update _acme-challenge.* TXT", err,
	    sizeof(err));
	d.clock = clock_fixed;
	d.changed = on_changed;
}

/* Build a query; edns < 0: none; else the payload size (version ver). */
static struct buf
mkquery(const char *name, ldns_rr_type t, int edns, int ver, bool dnssec)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(name), t,
	    LDNS_RR_CLASS_IN, 0);
	struct buf b;
	uint8_t *w;
	size_t n;

	ldns_pkt_set_id(p, 4242);
	if (edns >= 0) {
		ldns_pkt_set_edns_udp_size(p, (uint16_t)edns);
		ldns_pkt_set_edns_version(p, (uint8_t)ver);
		ldns_pkt_set_edns_do(p, dnssec);
	}
	ldns_pkt2wire(&w, p, &n);
	buf_init(&b, 65535);
	buf_add(&b, w, n);
	free(w);
	ldns_pkt_free(p);
	return b;
}

/* Send a message through the engine; returns the parsed reply or NULL. */
static ldns_pkt *
handle(const struct buf *q, bool tcp, size_t *len)
{
	struct dnsd_reply r;
	ldns_pkt *p = NULL;

	buf_init(&r.msg, 0);
	if (!dnsd_handle(&d, (const uint8_t *)q->data, q->len, tcp, NULL, "T", &r)) {
		buf_free(&r.msg);
		return NULL;
	}
	if (len)
		*len = r.msg.len;
	if (ldns_wire2pkt(&p, (uint8_t *)r.msg.data, r.msg.len) != LDNS_STATUS_OK)
		p = NULL;
	buf_free(&r.msg);
	return p;
}

static ldns_pkt *
ask(const char *name, ldns_rr_type t)
{
	struct buf q = mkquery(name, t, 1232, 0, false);
	ldns_pkt *p = handle(&q, false, NULL);

	buf_free(&q);
	return p;
}

static bool
has(const ldns_pkt *p, ldns_pkt_section s, const char *text)
{
	ldns_rr *rr = NULL;
	bool r;

	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		return false;
	r = ldns_pkt_rr(p, s, rr);
	ldns_rr_free(rr);
	return r;
}

static void
test_queries(void)
{
	ldns_pkt *p;

	p = ask("example.test.", LDNS_RR_TYPE_SOA);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR && ldns_pkt_aa(p) &&
	    ldns_pkt_ancount(p) == 1, "SOA: NOERROR, AA, one answer");
	ok(p && ldns_pkt_edns(p) && ldns_pkt_edns_udp_size(p) == DNSD_UDP_MAX,
	    "EDNS answered with our payload size");
	ldns_pkt_free(p);

	p = ask("EXAMPLE.test.", LDNS_RR_TYPE_MX);
	ok(p && has(p, LDNS_SECTION_ANSWER, "example.test. 300 IN MX 10 mx.example.test."),
	    "MX (case-insensitive name)");
	ok(p && has(p, LDNS_SECTION_ADDITIONAL, "mx.example.test. 300 IN A 127.0.0.1") &&
	    has(p, LDNS_SECTION_ADDITIONAL, "mx.example.test. 300 IN AAAA ::1"),
	    "MX target addresses in additional");
	ldns_pkt_free(p);

	p = ask("www.example.test.", LDNS_RR_TYPE_A);
	ok(p && ldns_pkt_ancount(p) == 2 &&
	    has(p, LDNS_SECTION_ANSWER, "www.example.test. 300 IN CNAME example.test.") &&
	    has(p, LDNS_SECTION_ANSWER, "example.test. 300 IN A 127.0.0.1"),
	    "CNAME chased within the zone");
	ldns_pkt_free(p);
	p = ask("www.example.test.", LDNS_RR_TYPE_CNAME);
	ok(p && ldns_pkt_ancount(p) == 1, "CNAME asked for is not chased");
	ldns_pkt_free(p);
	p = ask("ext.example.test.", LDNS_RR_TYPE_A);
	ok(p && ldns_pkt_ancount(p) == 1 && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR,
	    "CNAME out of the zone: just the CNAME");
	ldns_pkt_free(p);
	p = ask("loop1.example.test.", LDNS_RR_TYPE_A);
	ok(p && ldns_pkt_ancount(p) == 2, "CNAME loop stops");
	ldns_pkt_free(p);
	p = ask("dangling.example.test.", LDNS_RR_TYPE_A);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN && ldns_pkt_ancount(p) == 1,
	    "CNAME to a missing name: NXDOMAIN with the CNAME (RFC 6604)");
	ldns_pkt_free(p);

	p = ask("nope.example.test.", LDNS_RR_TYPE_A);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN && ldns_pkt_aa(p) &&
	    ldns_pkt_nscount(p) == 1 &&
	    has(p, LDNS_SECTION_AUTHORITY, "example.test. 60 IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60"),
	    "NXDOMAIN with the SOA, TTL = minimum");
	ldns_pkt_free(p);
	p = ask("mx.example.test.", LDNS_RR_TYPE_TXT);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR && ldns_pkt_ancount(p) == 0 &&
	    ldns_pkt_nscount(p) == 1, "NODATA with the SOA");
	ldns_pkt_free(p);
	p = ask("b.c.example.test.", LDNS_RR_TYPE_A);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR && ldns_pkt_ancount(p) == 0,
	    "empty non-terminal: NODATA, not NXDOMAIN");
	ldns_pkt_free(p);

	p = ask("host.sub.example.test.", LDNS_RR_TYPE_A);
	ok(p && !ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 0 &&
	    has(p, LDNS_SECTION_AUTHORITY, "sub.example.test. 300 IN NS ns.sub.example.test.") &&
	    has(p, LDNS_SECTION_ADDITIONAL, "ns.sub.example.test. 300 IN A 127.0.0.2"),
	    "referral: NS in authority, glue, no AA");
	ldns_pkt_free(p);
	p = ask("ns.sub.example.test.", LDNS_RR_TYPE_A);
	ok(p && !ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 0, "glue itself is a referral");
	ldns_pkt_free(p);
	p = ask("sub.example.test.", LDNS_RR_TYPE_DS);
	ok(p && ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 0,
	    "DS at the cut is answered by the parent side (NODATA)");
	ldns_pkt_free(p);

	p = ask("x.y.wild.example.test.", LDNS_RR_TYPE_TXT);
	ok(p && has(p, LDNS_SECTION_ANSWER, "x.y.wild.example.test. 300 IN TXT \"wildcard\""),
	    "wildcard synthesised with the query name");
	ldns_pkt_free(p);
	p = ask("x.wild.example.test.", LDNS_RR_TYPE_A);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR && ldns_pkt_ancount(p) == 0,
	    "wildcard, other type: NODATA");
	ldns_pkt_free(p);

	p = ask("example.test.", LDNS_RR_TYPE_ANY);
	ok(p && ldns_pkt_ancount(p) == 1, "ANY: one RRset (RFC 8482)");
	ldns_pkt_free(p);

	p = ask("example.org.", LDNS_RR_TYPE_A);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED, "other zone: REFUSED");
	ldns_pkt_free(p);
}

static void
test_edns(void)
{
	struct buf q;
	ldns_pkt *p;
	size_t len = 0;

	q = mkquery("example.test.", LDNS_RR_TYPE_SOA, 1232, 1, false);
	p = handle(&q, false, NULL);
	ok(p && ldns_pkt_edns_extended_rcode(p) == 1 && ldns_pkt_ancount(p) == 0,
	    "EDNS version 1: BADVERS");
	ldns_pkt_free(p);
	buf_free(&q);

	/* 40 TXT records overflow 512 and 1232 bytes */
	ldns_rr_list *rrs = ldns_rr_list_clone(d.zones->rrs);
	char err[256];
	for (int i = 0; i < 40; i++) {
		char t[200];
		ldns_rr *rr;
		snprintf(t, sizeof(t), "big.example.test. 300 IN TXT \"record %d "
		    "with enough text to make the answer large\"", i);
		ldns_rr_new_frm_str(&rr, t, 0, NULL, NULL);
		ldns_rr_list_push_rr(rrs, rr);
	}
	is_int(zone_commit(d.zones, rrs, err, sizeof(err)), 0, "zone grows");

	q = mkquery("big.example.test.", LDNS_RR_TYPE_TXT, -1, 0, false);
	p = handle(&q, false, &len);
	ok(p && ldns_pkt_tc(p) && ldns_pkt_ancount(p) == 0 && len <= 512,
	    "no EDNS: over 512 bytes is truncated (TC)");
	ldns_pkt_free(p);
	p = handle(&q, true, &len);
	ok(p && !ldns_pkt_tc(p) && ldns_pkt_ancount(p) == 40, "same over TCP: all 40");
	ldns_pkt_free(p);
	buf_free(&q);
	q = mkquery("big.example.test.", LDNS_RR_TYPE_TXT, 4096, 0, false);
	p = handle(&q, false, &len);
	ok(p && ldns_pkt_tc(p) && len <= DNSD_UDP_MAX,
	    "EDNS 4096: capped at our 1232, truncated");
	ldns_pkt_free(p);
	buf_free(&q);
	q = mkquery("mx.example.test.", LDNS_RR_TYPE_A, 100, 0, false);
	p = handle(&q, false, &len);
	ok(p && !ldns_pkt_tc(p) && ldns_pkt_ancount(p) == 1,
	    "EDNS payload below 512 is treated as 512");
	ldns_pkt_free(p);
	buf_free(&q);
}

static void
test_errors(void)
{
	struct buf q = mkquery("example.test.", LDNS_RR_TYPE_SOA, -1, 0, false);
	ldns_pkt *p;
	struct dnsd_reply r;

	/* opcode STATUS (2) */
	q.data[2] = (char)((q.data[2] & 0x87) | (2 << 3));
	p = handle(&q, false, NULL);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOTIMPL, "opcode 2: NOTIMP");
	ldns_pkt_free(p);
	buf_free(&q);

	q = mkquery("example.test.", LDNS_RR_TYPE_SOA, -1, 0, false);
	q.data[5] = 2;		/* QDCOUNT 2, one present */
	p = handle(&q, false, NULL);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_FORMERR, "bad counts: FORMERR");
	ldns_pkt_free(p);
	q.data[5] = 1;
	q.data[2] |= (char)0x80;
	buf_init(&r.msg, 0);
	ok(!dnsd_handle(&d, (uint8_t *)q.data, q.len, false, NULL, "T", &r),
	    "responses are dropped");
	ok(!dnsd_handle(&d, (uint8_t *)q.data, 5, false, NULL, "T", &r),
	    "short messages are dropped");
	buf_free(&r.msg);
	buf_free(&q);

	q = mkquery("example.test.", LDNS_RR_TYPE_AXFR, -1, 0, false);
	p = handle(&q, true, NULL);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED,
	    "AXFR not allowed by the policy: REFUSED");
	ldns_pkt_free(p);
	buf_free(&q);
	q = mkquery("example.test.", LDNS_RR_TYPE_MAILB, -1, 0, false);
	p = handle(&q, false, NULL);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOTIMPL, "MAILB: NOTIMP");
	ldns_pkt_free(p);
	buf_free(&q);
}

static void
test_serial(void)
{
	is_int(serial_cmp(1, 1), 0, "serial equal");
	is_int(serial_cmp(1, 2), -1, "1 < 2");
	is_int(serial_cmp(2, 1), 1, "2 > 1");
	is_int(serial_cmp(0xffffffffu, 0), -1, "wraps: 2^32-1 < 0");
	is_int(serial_cmp(0, 0xffffffffu), 1, "wraps: 0 > 2^32-1");
	is_int(serial_cmp(0, 0x80000000u), 2, "2^31 apart: undefined");
	is_int(serial_cmp(0x80000004u, 5), 1, "just under half ahead: greater");
	is_int(serial_next(7, 1700000000), 8, "small serial: + 1");
	is_int(serial_next(0xffffffffu, 0), 0, "next wraps to 0");
	is_int(serial_next(1600000000, 1700000000), 1700000000,
	    "a Unix-time serial follows the clock");
	is_int(serial_next(1800000000, 1700000000), 1800000001,
	    "but never goes back");
}

static void
test_zone_errors(void)
{
	static const char *bad[][2] = {
		{ "$ORIGIN t.\n@ SOA a b 1 2 3 4 5\nx A 1.2.3\n", "mem:3:" },
		{ "$ORIGIN t.\n@ SOA a b 1 2 3 4 5\n\n; c\nother. A 1.2.3.4\n", "mem:5:" },
		{ "$ORIGIN t.\n@ NS a\n", "no SOA" },
		{ "$ORIGIN t.\n@ SOA a b 1 2 3 4 5\nx CNAME y\nx A 1.2.3.4\n", "CNAME and other data" },
		{ "$ORIGIN t.\n@ SOA a b 1 2 3 4 5\n$INCLUDE /etc/passwd\n", "$INCLUDE" },
		{ "$ORIGIN t.\n@ SOA a b 1 2 3 4 5\nx.t. CH A 1.2.3.4\n", "mem:" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		ldns_rr_list *rrs = NULL;
		FILE *f = fmemopen((void *)bad[i][0], strlen(bad[i][0]), "r");
		int ret = zone_parse("t.", f, "mem", false, &rrs, err, sizeof(err));
		fclose(f);
		ok(ret != 0 && rrs == NULL && strstr(err, bad[i][1]) != NULL,
		    "bad zone %zu refused: %s", i, err);
	}
}

/* Build, sign (with key or not) and run an UPDATE. */
static int
update(const struct tsig_key *key, const struct dns_update_op *pre,
    size_t npre, const struct dns_update_op *upd, size_t nupd, int *tsig_err)
{
	struct dns_update_req req = { .zone = "example.test.", .prereq = pre,
	    .nprereq = npre, .upd = upd, .nupd = nupd };
	uint8_t *w, mac[TSIG_MAC_MAX];
	size_t n, ml = 0;
	char err[256];
	struct buf q;
	struct dnsd_reply r;
	struct tsig_rr t;
	int rc = -1;

	if (dns_update_build(&req, 99, &w, &n, err, sizeof(err)) != 0) {
		printf("# build: %s\n", err);
		return -1;
	}
	buf_init(&q, 65535);
	buf_add(&q, w, n);
	free(w);
	if (key != NULL)
		tsig_sign(&q, key, fixed_now, NULL, 0, 0, NULL, 0, false, mac, &ml);
	buf_init(&r.msg, 0);
	*tsig_err = -1;
	if (dnsd_handle(&d, (uint8_t *)q.data, q.len, false, NULL, "T", &r)) {
		rc = (uint8_t)r.msg.data[3] & 0x0f;
		if (tsig_find((uint8_t *)r.msg.data, r.msg.len, &t) == 0) {
			*tsig_err = t.error;
			if (t.error == 0 && key != NULL &&
			    tsig_verify((uint8_t *)r.msg.data, r.msg.len, &t, key,
			    mac, ml, fixed_now) != 0)
				*tsig_err = -2;
		}
	}
	buf_free(&r.msg);
	buf_free(&q);
	return rc;
}

static bool
served(const char *name, ldns_rr_type t, const char *rr)
{
	ldns_pkt *p = ask(name, t);
	bool r = p && (rr ? has(p, LDNS_SECTION_ANSWER, rr) : ldns_pkt_ancount(p) == 0);

	ldns_pkt_free(p);
	return r;
}

static void
test_updates(void)
{
	const struct tsig_key *k = dnsd_key_find(&d, "upd.key.");
	struct tsig_key wrong, unknown;
	int te;
	uint32_t s0 = zone_serial(d.zones);

	tsig_key_parse(&wrong, "upd.key:hmac-sha256:c2VjcmV0c2VjcmV0c2VjcmV0");
	tsig_key_parse(&unknown, "who.key:hmac-sha256:c2VjcmV0c2VjcmV0c2VjcmV0");
	struct dns_update_op add1[] = { { DNSU_ADD, "new 60 A 192.0.2.1" } };

	is_int(update(NULL, NULL, 0, add1, 1, &te), LDNS_RCODE_REFUSED,
	    "unsigned update: REFUSED");
	is_int(update(&wrong, NULL, 0, add1, 1, &te), LDNS_RCODE_NOTAUTH,
	    "wrong secret: NOTAUTH");
	is_int(te, TSIG_BADSIG, "... with TSIG error BADSIG");
	is_int(update(&unknown, NULL, 0, add1, 1, &te), LDNS_RCODE_NOTAUTH,
	    "unknown key: NOTAUTH");
	is_int(te, TSIG_BADKEY, "... with TSIG error BADKEY");
	fixed_now += 1000;
	/* signed 1000 s ago */
	{
		struct dns_update_req req = { .zone = "example.test.", .upd = add1, .nupd = 1 };
		uint8_t *w;
		size_t n;
		char err[128];
		struct buf q;
		struct dnsd_reply r;
		struct tsig_rr t;
		dns_update_build(&req, 5, &w, &n, err, sizeof(err));
		buf_init(&q, 0);
		buf_add(&q, w, n);
		free(w);
		tsig_sign(&q, k, fixed_now - 1000, NULL, 0, 0, NULL, 0, false, NULL, NULL);
		buf_init(&r.msg, 0);
		dnsd_handle(&d, (uint8_t *)q.data, q.len, false, NULL, "T", &r);
		ok((r.msg.data[3] & 0x0f) == LDNS_RCODE_NOTAUTH &&
		    tsig_find((uint8_t *)r.msg.data, r.msg.len, &t) == 0 &&
		    t.error == TSIG_BADTIME && t.other_len == 6,
		    "stale signature: NOTAUTH, BADTIME with the server time");
		buf_free(&q);
		buf_free(&r.msg);
	}
	ok(served("new.example.test.", LDNS_RR_TYPE_A, NULL) &&
	    zone_serial(d.zones) == s0 && changes == 0, "rejected updates changed nothing");

	is_int(update(k, NULL, 0, add1, 1, &te), 0, "signed add: NOERROR");
	is_int(te, 0, "response signed, verifies with the request MAC");
	ok(served("new.example.test.", LDNS_RR_TYPE_A, "new.example.test. 60 IN A 192.0.2.1"),
	    "added record served");
	ok(zone_serial(d.zones) == s0 + 1 && changes == 1, "serial + 1, change reported");
	is_int(update(k, NULL, 0, add1, 1, &te), 0, "same add again: NOERROR");
	ok(zone_serial(d.zones) == s0 + 1 && changes == 1, "no change, same serial");

	/* policy */
	struct dns_update_op mx[] = { { DNSU_ADD, "new 60 MX 1 x.example.org." } };
	is_int(update(k, NULL, 0, mx, 1, &te), LDNS_RCODE_REFUSED, "type outside the policy: REFUSED");
	struct dns_update_op apex[] = { { DNSU_ADD, "@ 60 TXT \"x\"" } };
	is_int(update(k, NULL, 0, apex, 1, &te), LDNS_RCODE_REFUSED, "apex outside the policy: REFUSED");
	struct dns_update_op acme[] = { { DNSU_ADD, "_acme-challenge 60 TXT \"tok\"" } };
	is_int(update(k, NULL, 0, acme, 1, &te), 0, "_acme-challenge TXT allowed");
	struct dns_update_op soa[] = { { DNSU_ADD, "@ 60 SOA a b 99 1 1 1 1" } };
	is_int(update(k, NULL, 0, soa, 1, &te), LDNS_RCODE_REFUSED, "SOA never updatable");
	struct dns_update_op notzone[] = { { DNSU_ADD, "x.example.org. 60 A 192.0.2.9" } };
	ok(update(k, NULL, 0, notzone, 1, &te) != 0, "name outside the zone refused");

	/* the five prerequisites */
	struct dns_update_op add2[] = { { DNSU_ADD, "new 60 A 192.0.2.2" } };
	struct dns_update_op p_yx[] = { { DNSP_YXRRSET, "new A" } };
	struct dns_update_op p_yx_no[] = { { DNSP_YXRRSET, "new AAAA" } };
	struct dns_update_op p_nx[] = { { DNSP_NXRRSET, "new A" } };
	struct dns_update_op p_nx_ok[] = { { DNSP_NXRRSET, "new AAAA" } };
	struct dns_update_op p_yxd[] = { { DNSP_YXDOMAIN, "gone" } };
	struct dns_update_op p_nxd[] = { { DNSP_NXDOMAIN, "new" } };
	struct dns_update_op p_nxd_ok[] = { { DNSP_NXDOMAIN, "gone" } };
	struct dns_update_op p_val[] = { { DNSP_YXRRSET_VALUE, "new A 192.0.2.1" } };
	struct dns_update_op p_val_bad[] = { { DNSP_YXRRSET_VALUE, "new A 192.0.2.7" } };
	is_int(update(k, p_yx_no, 1, add2, 1, &te), LDNS_RCODE_NXRRSET, "RRset exists: fails with NXRRSET");
	is_int(update(k, p_nx, 1, add2, 1, &te), LDNS_RCODE_YXRRSET, "RRset does not exist: fails with YXRRSET");
	is_int(update(k, p_yxd, 1, add2, 1, &te), LDNS_RCODE_NXDOMAIN, "name in use: fails with NXDOMAIN");
	is_int(update(k, p_nxd, 1, add2, 1, &te), LDNS_RCODE_YXDOMAIN, "name not in use: fails with YXDOMAIN");
	is_int(update(k, p_val_bad, 1, add2, 1, &te), LDNS_RCODE_NXRRSET, "RRset with value: fails with NXRRSET");
	ok(served("new.example.test.", LDNS_RR_TYPE_A, NULL) == false &&
	    zone_serial(d.zones) == s0 + 2, "failed prerequisites changed nothing");
	is_int(update(k, p_nx_ok, 1, add2, 1, &te), 0, "RRset does not exist holds");
	is_int(update(k, p_nxd_ok, 1, add2, 1, &te), 0, "name not in use holds");
	is_int(update(k, p_yx, 1, add2, 1, &te), 0, "RRset exists holds");
	struct dns_update_op p_val2[] = { { DNSP_YXRRSET_VALUE, "new A 192.0.2.1" },
	    { DNSP_YXRRSET_VALUE, "new A 192.0.2.2" } };
	is_int(update(k, p_val, 1, add2, 1, &te), LDNS_RCODE_NXRRSET,
	    "RRset with value must match the whole RRset");
	is_int(update(k, p_val2, 2, add2, 1, &te), 0, "whole RRset matches");

	/* replace, delete RR, delete RRset, delete name; atomicity */
	struct dns_update_op rep[] = { { DNSU_REPLACE, "new 120 A 192.0.2.3" } };
	is_int(update(k, NULL, 0, rep, 1, &te), 0, "replace");
	ok(served("new.example.test.", LDNS_RR_TYPE_A, "new.example.test. 120 IN A 192.0.2.3") &&
	    !served("new.example.test.", LDNS_RR_TYPE_A, "new.example.test. 60 IN A 192.0.2.1"),
	    "RRset replaced");
	struct dns_update_op two[] = { { DNSU_ADD, "new 120 AAAA 2001:db8::1" },
	    { DNSU_DEL_RR, "new A 192.0.2.3" } };
	is_int(update(k, NULL, 0, two, 2, &te), 0, "add one, delete one");
	ok(served("new.example.test.", LDNS_RR_TYPE_A, NULL), "A gone");
	struct dns_update_op mixed[] = { { DNSU_ADD, "mixed 60 A 192.0.2.4" },
	    { DNSU_ADD, "mixed 60 MX 1 x." } };
	uint32_t s1 = zone_serial(d.zones);
	is_int(update(k, NULL, 0, mixed, 2, &te), LDNS_RCODE_REFUSED,
	    "update with one forbidden RR refused");
	ok(served("mixed.example.test.", LDNS_RR_TYPE_A, NULL) && zone_serial(d.zones) == s1,
	    "... and none of it applied");
	struct dns_update_op cname[] = { { DNSU_ADD, "new 60 CNAME mx" } };
	dnsd_policy_line(&d, "key upd.key may update new.example.test.", NULL, 0);
	is_int(update(k, NULL, 0, cname, 1, &te), 0, "CNAME beside data: NOERROR but ignored");
	ok(served("new.example.test.", LDNS_RR_TYPE_CNAME, NULL), "no CNAME added");
	struct dns_update_op delname[] = { { DNSU_DEL_NAME, "new" } };
	is_int(update(k, NULL, 0, delname, 1, &te), 0, "delete a name");
	ok(served("new.example.test.", LDNS_RR_TYPE_AAAA, NULL), "name gone");
	struct dns_update_op delns[] = { { DNSU_DEL_RRSET, "@ NS" } };
	dnsd_policy_line(&d, "key upd.key may update example.test.", NULL, 0);
	is_int(update(k, NULL, 0, delns, 1, &te), 0, "delete apex NS: ignored");
	ok(!served("example.test.", LDNS_RR_TYPE_NS, NULL), "apex NS kept");
	ok(d.zones->njournal > 0, "changes journaled for IXFR");
}

/* Split a framed transfer into messages; returns how many, RRs in *nrr. */
static int
frames(const struct dnsd_reply *r, size_t *nrr, ldns_rr **first, ldns_rr **last)
{
	size_t off = 0;
	int n = 0;

	*nrr = 0;
	while (off + 2 <= r->msg.len) {
		size_t l = (size_t)(uint8_t)r->msg.data[off] << 8 |
		    (uint8_t)r->msg.data[off + 1];
		ldns_pkt *p = NULL;
		if (off + 2 + l > r->msg.len ||
		    ldns_wire2pkt(&p, (uint8_t *)r->msg.data + off + 2, l) != LDNS_STATUS_OK)
			return -1;
		for (size_t i = 0; i < ldns_pkt_ancount(p); i++) {
			ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), i);
			if (*nrr == 0 && first)
				*first = ldns_rr_clone(rr);
			if (last) {
				ldns_rr_free(*last);
				*last = ldns_rr_clone(rr);
			}
			(*nrr)++;
		}
		ldns_pkt_free(p);
		off += 2 + l;
		n++;
	}
	return off == r->msg.len ? n : -1;
}

static void
test_xfr(void)
{
	struct buf q;
	struct dnsd_reply r;
	size_t nrr;
	ldns_rr *first = NULL, *last = NULL;
	char err[256];
	struct sockaddr_in sin = { .sin_family = AF_INET };

	sin.sin_addr.s_addr = htonl(0x7f000001);
	is_int(dnsd_policy_line(&d, "address 127.0.0.1 may transfer example.test", err,
	    sizeof(err)), 0, "transfer rule parses");
	buf_init(&r.msg, 0);
	q = mkquery("example.test.", LDNS_RR_TYPE_AXFR, -1, 0, false);
	ok(dnsd_handle(&d, (uint8_t *)q.data, q.len, true, (struct sockaddr *)&sin,
	    "T", &r) && r.framed, "AXFR from an allowed address: framed messages");
	int n = frames(&r, &nrr, &first, &last);
	ok(n >= 1 && nrr == ldns_rr_list_rr_count(d.zones->rrs) + 1,
	    "AXFR: every record and the closing SOA (%zu RRs in %d messages)", nrr, n);
	ok(first && last && ldns_rr_get_type(first) == LDNS_RR_TYPE_SOA &&
	    ldns_rr_get_type(last) == LDNS_RR_TYPE_SOA, "starts and ends with the SOA");
	ldns_rr_free(first);
	ldns_rr_free(last);
	first = last = NULL;
	buf_free(&q);

	/* IXFR from the first journaled serial: differences, not the zone */
	uint32_t from = ldns_rdf2native_int32(ldns_rr_rdf(d.zones->journal[0].old_soa, 2));
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str("example.test."),
	    LDNS_RR_TYPE_IXFR, LDNS_RR_CLASS_IN, 0);
	ldns_rr *soa = ldns_rr_clone(d.zones->journal[0].old_soa);
	ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, soa);
	uint8_t *w;
	size_t wl;
	ldns_pkt2wire(&w, p, &wl);
	ldns_pkt_free(p);
	buf_init(&q, 0);
	buf_add(&q, w, wl);
	free(w);
	ok(dnsd_handle(&d, (uint8_t *)q.data, q.len, true, (struct sockaddr *)&sin,
	    "T", &r) && r.framed, "IXFR answered");
	n = frames(&r, &nrr, &first, &last);
	ok(n >= 1 && nrr >= 4 && first && ldns_rr_get_type(first) == LDNS_RR_TYPE_SOA &&
	    ldns_rdf2native_int32(ldns_rr_rdf(first, 2)) == zone_serial(d.zones),
	    "IXFR from serial %u: %zu RRs of differences", from, nrr);
	ldns_rr_free(first);
	ldns_rr_free(last);
	first = last = NULL;
	buf_free(&q);

	/* IXFR from the current serial: the SOA alone */
	p = ldns_pkt_query_new(ldns_dname_new_frm_str("example.test."),
	    LDNS_RR_TYPE_IXFR, LDNS_RR_CLASS_IN, 0);
	ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, ldns_rr_clone(zone_soa(d.zones)));
	ldns_pkt2wire(&w, p, &wl);
	ldns_pkt_free(p);
	buf_init(&q, 0);
	buf_add(&q, w, wl);
	free(w);
	dnsd_handle(&d, (uint8_t *)q.data, q.len, true, (struct sockaddr *)&sin, "T", &r);
	n = frames(&r, &nrr, NULL, NULL);
	ok(n == 1 && nrr == 1, "IXFR when up to date: one SOA");
	/* over UDP: the SOA in a normal answer */
	dnsd_handle(&d, (uint8_t *)q.data, q.len, false, (struct sockaddr *)&sin, "T", &r);
	ok(!r.framed && r.msg.len > 12, "IXFR over UDP: a plain answer with the SOA");
	buf_free(&q);
	/* AXFR over UDP is refused */
	q = mkquery("example.test.", LDNS_RR_TYPE_AXFR, -1, 0, false);
	dnsd_handle(&d, (uint8_t *)q.data, q.len, false, (struct sockaddr *)&sin, "T", &r);
	ok(!r.framed && (r.msg.data[3] & 0x0f) == LDNS_RCODE_FORMERR, "AXFR over UDP: FORMERR");
	buf_free(&q);
	/* AXFR of a name below the apex */
	q = mkquery("mx.example.test.", LDNS_RR_TYPE_AXFR, -1, 0, false);
	dnsd_handle(&d, (uint8_t *)q.data, q.len, true, (struct sockaddr *)&sin, "T", &r);
	ok(!r.framed && (r.msg.data[3] & 0x0f) == LDNS_RCODE_NOTAUTH, "AXFR below the apex: NOTAUTH");
	buf_free(&q);
	buf_free(&r.msg);
}

static void
test_policy_and_keys(void)
{
	struct dnsd t;
	char err[256], dir[] = "/tmp/test_dnsd.XXXXXX", path[300];
	FILE *f;

	dnsd_init(&t);
	ok(dnsd_policy_line(&t, "key k may update _acme-challenge.* TXT", err,
	    sizeof(err)) == 0, "update rule");
	ok(dnsd_policy_line(&t, "# only a comment", err, sizeof(err)) == 0 &&
	    dnsd_policy_line(&t, "   ", err, sizeof(err)) == 0, "comments and blank lines");
	ok(dnsd_policy_line(&t, "key k may update x BOGUSTYPE", err, sizeof(err)) != 0,
	    "unknown type refused: %s", err);
	ok(dnsd_policy_line(&t, "key k may delete x", err, sizeof(err)) != 0,
	    "unknown verb refused");
	ok(dnsd_policy_line(&t, "notify example.test 127.0.0.1:53 key k", err,
	    sizeof(err)) == 0, "notify rule with a key");
	ok(dnsd_may_update(&t, "k.", "_acme-challenge.example.test.", LDNS_RR_TYPE_TXT),
	    "glob matches _acme-challenge.*");
	ok(!dnsd_may_update(&t, "k.", "_acme-challenge.example.test.", LDNS_RR_TYPE_A),
	    "other type refused");
	ok(!dnsd_may_update(&t, "k.", "www.example.test.", LDNS_RR_TYPE_TXT),
	    "other name refused");
	ok(!dnsd_may_update(&t, "other.", "_acme-challenge.example.test.", LDNS_RR_TYPE_TXT),
	    "other key refused");
	ok(!dnsd_may_transfer(&t, "example.test.", "k.", "127.0.0.1"),
	    "no transfer rule: no transfer");

	if (mkdtemp(dir) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/k", dir);
	f = fopen(path, "w");
	fputs(key_text, f);
	fclose(f);
	chmod(path, 0644);
	ok(dnsd_keys_load(&t, dir, err, sizeof(err)) == PTT_EPERM,
	    "a key file readable by others is refused: %s", err);
	chmod(path, 0600);
	ok(dnsd_keys_load(&t, dir, err, sizeof(err)) == 0 &&
	    dnsd_key_find(&t, "upd.key.") != NULL, "a 0600 key file loads");
	unlink(path);
	rmdir(dir);
	dnsd_free(&t);
}

int
main(void)
{
	setup();
	test_queries();
	test_edns();
	test_errors();
	test_serial();
	test_zone_errors();
	test_updates();
	test_xfr();
	test_policy_and_keys();
	dnsd_free(&d);
	return tap_done();
}
