/*
 * test_tsig.c - TSIG (RFC 8945) signing and verification, key parsing and
 * the message walk, with good, wrong and unknown keys, stale clocks,
 * tampered bytes and response chaining.
 */
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "../tap.h"
#include "dns/tsig.h"
#include "dns/update.h"
#include "util/buf.h"
#include "util/err.h"

static const char key_text[] =
    "upd.key:hmac-sha256:k8E3rEH0O6ZhHWHhdxRbHxZ4dx6gG2n0Qe7PcZ6Y6Pk=";

static void
query(struct buf *b, uint16_t id)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str("example.test."),
	    LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, LDNS_RD);
	uint8_t *w;
	size_t n;

	ldns_pkt_set_id(p, id);
	ldns_pkt2wire(&w, p, &n);
	buf_reset(b);
	buf_add(b, w, n);
	free(w);
	ldns_pkt_free(p);
}

int
main(void)
{
	struct tsig_key k, other;
	struct tsig_rr t;
	struct dns_wire_info wi;
	struct buf b;
	uint8_t mac[TSIG_MAC_MAX];
	size_t maclen = 0;
	const uint64_t now = 1700000000;

	/* key files */
	is_int(tsig_key_parse(&k, key_text), 0, "key parses");
	is_str(k.name, "upd.key.", "key name made absolute");
	is_int(k.secret_len, 32, "secret decoded to 32 bytes");
	is_int(tsig_key_parse(&other, "UPD.Key.:HMAC-SHA256:c2VjcmV0\n"), 0,
	    "upper case, trailing dot and newline accepted");
	is_str(other.name, "upd.key.", "name lowercased");
	is_int(other.secret_len, 6, "short secret decoded");
	ok(tsig_key_parse(&other, "k:hmac-md5:c2VjcmV0") != 0, "hmac-md5 refused");
	ok(tsig_key_parse(&other, "k:hmac-sha256:***") != 0, "bad base64 refused");
	ok(tsig_key_parse(&other, "k:hmac-sha256") != 0, "missing secret refused");
	ok(tsig_key_parse(&other, ":hmac-sha256:c2VjcmV0") != 0, "empty name refused");

	/* sign and verify a request */
	buf_init(&b, 65535);
	query(&b, 0x1234);
	ok(tsig_find((uint8_t *)b.data, b.len, &t) == PTT_ENOENT,
	    "unsigned message has no TSIG");
	is_int(tsig_sign(&b, &k, now, NULL, 0, 0, NULL, 0, false, mac, &maclen),
	    0, "request signed");
	is_int(maclen, 32, "MAC is 32 bytes");
	is_int(dns_wire_scan((uint8_t *)b.data, b.len, &wi), 0, "signed message walks");
	ok(wi.has_tsig && wi.tsig_last && wi.ar == 1, "TSIG is the last RR");
	is_int(tsig_find((uint8_t *)b.data, b.len, &t), 0, "TSIG found");
	is_str(t.name, "upd.key.", "key name read back");
	is_str(t.alg, "hmac-sha256.", "algorithm read back");
	ok(t.time_signed == now && t.fudge == TSIG_FUDGE && t.orig_id == 0x1234,
	    "time, fudge and original id read back");
	is_int(tsig_verify((uint8_t *)b.data, b.len, &t, &k, NULL, 0, now), TSIG_NOERROR,
	    "good key verifies");
	is_int(tsig_verify((uint8_t *)b.data, b.len, &t, &k, NULL, 0, now + 299),
	    TSIG_NOERROR, "within the fudge");
	is_int(tsig_verify((uint8_t *)b.data, b.len, &t, &k, NULL, 0, now + 301),
	    TSIG_BADTIME, "outside the fudge: BADTIME");
	is_int(tsig_verify((uint8_t *)b.data, b.len, &t, &k, NULL, 0, now - 1000),
	    TSIG_BADTIME, "clock behind: BADTIME");
	tsig_key_parse(&other, "upd.key:hmac-sha256:c2VjcmV0c2VjcmV0c2VjcmV0");
	is_int(tsig_verify((uint8_t *)b.data, b.len, &t, &other, NULL, 0, now),
	    TSIG_BADSIG, "wrong secret: BADSIG");
	tsig_key_parse(&other, "other.key:hmac-sha256:c2VjcmV0");
	is_int(tsig_verify((uint8_t *)b.data, b.len, &t, &other, NULL, 0, now),
	    TSIG_BADKEY, "other key name: BADKEY");

	/* a changed ID (forwarders do that) still verifies via orig_id */
	b.data[0] = 0x55;
	is_int(tsig_find((uint8_t *)b.data, b.len, &t), 0, "found after id change");
	is_int(tsig_verify((uint8_t *)b.data, b.len, &t, &k, NULL, 0, now), TSIG_NOERROR,
	    "new message id: still valid (original id signed)");
	/* a flipped bit in the question breaks it */
	b.data[14] ^= 0x20;
	tsig_find((uint8_t *)b.data, b.len, &t);
	is_int(tsig_verify((uint8_t *)b.data, b.len, &t, &k, NULL, 0, now), TSIG_BADSIG,
	    "tampered question: BADSIG");

	/* a response chains the request MAC */
	query(&b, 7);
	b.data[2] |= 0x80;
	is_int(tsig_sign(&b, &k, now, mac, maclen, 0, NULL, 0, false, NULL, NULL),
	    0, "response signed over the request MAC");
	tsig_find((uint8_t *)b.data, b.len, &t);
	is_int(tsig_verify((uint8_t *)b.data, b.len, &t, &k, mac, maclen, now),
	    TSIG_NOERROR, "response verifies with the request MAC");
	is_int(tsig_verify((uint8_t *)b.data, b.len, &t, &k, NULL, 0, now),
	    TSIG_BADSIG, "response without the request MAC: BADSIG");

	/* multi-message chain (zone transfers) */
	uint8_t prev[TSIG_MAC_MAX];
	size_t prevlen = maclen;
	memcpy(prev, mac, maclen);
	query(&b, 8);
	is_int(tsig_sign_next(&b, &k, now, prev, &prevlen), 0,
	    "later message signed with timers only");
	is_int(tsig_find((uint8_t *)b.data, b.len, &t), 0, "its TSIG parses");

	/* unsigned error answers */
	query(&b, 9);
	is_int(tsig_sign_unknown(&b, "nobody.", now, TSIG_BADKEY), 0,
	    "BADKEY answer carries an empty MAC");
	tsig_find((uint8_t *)b.data, b.len, &t);
	ok(t.mac_len == 0 && t.error == TSIG_BADKEY, "error and empty MAC read back");
	is_int(tsig_verify((uint8_t *)b.data, b.len, &t, &k, NULL, 0, now), TSIG_BADKEY,
	    "and do not verify");

	/* malformed: TSIG not last, truncated, garbage counts */
	query(&b, 10);
	tsig_sign(&b, &k, now, NULL, 0, 0, NULL, 0, false, NULL, NULL);
	size_t signed_len = b.len;
	ok(tsig_find((uint8_t *)b.data, signed_len - 1, &t) == PTT_EINVAL,
	    "truncated TSIG: malformed");
	b.data[11] = 2;		/* ARCOUNT 2 with one RR present */
	ok(dns_wire_scan((uint8_t *)b.data, b.len, &wi) != 0, "counts beyond the data");
	uint8_t loop[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
	ok(dns_wire_scan(loop, sizeof(loop), &wi) == 0, "a pointer name is walked, not followed");
	uint8_t badlabel[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x80, 0, 1, 0, 1 };
	ok(dns_wire_scan(badlabel, sizeof(badlabel), &wi) != 0, "reserved label type refused");

	/* names */
	uint8_t w[256];
	size_t wl;
	is_int(dns_name_to_wire("Ex.Test.", w, &wl), 0, "name to wire");
	ok(wl == 9 && memcmp(w, "\2ex\4test\0", 9) == 0, "lowercase labels");
	ok(dns_name_to_wire("a..b", w, &wl) != 0, "empty label refused");
	char longl[80];
	memset(longl, 'a', 64);
	longl[64] = '\0';
	ok(dns_name_to_wire(longl, w, &wl) != 0, "64-byte label refused");
	is_str(dns_rcode_name(9), "NOTAUTH", "rcode names");
	buf_free(&b);
	return tap_done();
}
