/*
 * fuzz_dns_msg.c - libFuzzer harness for ptt-dns' message engine: DNS
 * message parsing (dns_wire_scan, tsig_find, ldns), query answering
 * (query.c), EDNS/truncation, zone transfers and RFC 2136 UPDATE handling
 * (ddns.c) against a fresh in-memory zone per input.
 *
 * Input: one mode byte, then the message as received.
 *   bit 0: as if over TCP (transfers allowed, no truncation)
 *   bit 1: the harness signs the message with the policy's TSIG key first,
 *          so the fuzzer reaches the UPDATE logic behind the signature check
 *   bit 2: the zone is DNSSEC-signed (RRSIGs, NSEC proofs with DO)
 *   bit 3: ... with NSEC3 instead of NSEC
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns/tsig.h"
#include "dnsd.h"
#include "util/log.h"
#include "zone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    "loop1   CNAME loop2\n"
    "loop2   CNAME loop1\n"
    "sub     NS  ns.sub\n"
    "sub     DS  12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
    "ns.sub  A   127.0.0.2\n"
    "*.wild  TXT \"wildcard\"\n"
    "a.b.c   A   127.0.0.3\n";

static const char key_text[] =
    "upd.key:hmac-sha256:k8E3rEH0O6ZhHWHhdxRbHxZ4dx6gG2n0Qe7PcZ6Y6Pk=";

static uint64_t
fixed_clock(void)
{
	return 1795328000;
}

/* A fresh signing key (the zone owns and frees its list). */
static ldns_key_list *
new_keys(void)
{
	ldns_key_list *l = ldns_key_list_new();
	ldns_key *c = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);

	ldns_key_set_pubkey_owner(c, ldns_dname_new_frm_str("example.test."));
	ldns_key_set_flags(c, 257);
	ldns_key_list_push_key(l, c);
	return l;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct dnsd d;
	struct zone *z;
	struct tsig_key k;
	struct dnsd_reply r;
	struct buf msg;
	ldns_rr_list *rrs;
	char err[256];
	FILE *f;

	if (!init) {
		log_init("fuzz_dns_msg");
		log_set_level(LOG_LVL_ERR);
		init = true;
	}
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;

	dnsd_init(&d);
	z = zone_new("example.test.");
	if (mode & 4)
		z->keys = new_keys();
	z->nsec3 = (mode & 8) != 0;
	f = fmemopen((void *)zone_text, sizeof(zone_text) - 1, "r");
	if (zone_parse(z->name, f, "fuzz", false, &rrs, err, sizeof(err)) != 0 ||
	    zone_commit(z, rrs, err, sizeof(err)) != 0)
		abort();
	fclose(f);
	d.zones = z;
	d.clock = fixed_clock;
	tsig_key_parse(&k, key_text);
	dnsd_key_add(&d, &k);
	dnsd_policy_line(&d, "key upd.key may update *", err, sizeof(err));
	dnsd_policy_line(&d, "key upd.key may transfer example.test", err,
	    sizeof(err));

	buf_init(&msg, 0);
	buf_add(&msg, data, size);
	if ((mode & 2) && size >= 12)
		tsig_sign(&msg, &k, fixed_clock(), NULL, 0, 0, NULL, 0, false,
		    NULL, NULL);
	buf_init(&r.msg, 0);
	for (int pass = 0; pass < 2; pass++) {
		/* twice: the second sees the zone as the first left it */
		if (dnsd_handle(&d, (const uint8_t *)msg.data, msg.len, mode & 1,
		    NULL, "F", &r) && !r.framed) {
			ldns_pkt *p = NULL;
			/* what we send must parse */
			if (r.msg.len >= 12 && ldns_wire2pkt(&p, (uint8_t *)r.msg.data,
			    r.msg.len) != LDNS_STATUS_OK)
				abort();
			ldns_pkt_free(p);
			if (!(mode & 1) && r.msg.len > DNSD_UDP_MAX)
				abort();
		}
	}
	buf_free(&r.msg);
	buf_free(&msg);
	dnsd_free(&d);
	return 0;
}
