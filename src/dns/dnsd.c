/*
 * dnsd.c - one DNS message in, one reply out: header checks, TSIG, EDNS0,
 * dispatch to query/update/transfer, UDP truncation.
 *
 * Implements RFC 1035 4.1.1 (FORMERR for messages that do not parse,
 * NOTIMP for opcodes other than QUERY and UPDATE), RFC 6891 6.1.1 and
 * 7 (one OPT at most, BADVERS for version > 0, the requestor's payload
 * size, TC when the answer does not fit), RFC 8945 5.2 (key, MAC and
 * time checks; NOTAUTH with BADKEY/BADSIG unsigned, BADTIME signed with
 * the server's time), RFC 5936 4.2 (transfers only over TCP, only when
 * the policy allows). Trusts nothing in the message: it is walked with a
 * cursor (dns_wire_scan) before ldns parses it.
 */
#include "dnsd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"

#define OP_QUERY 0
#define OP_UPDATE 5

static void
header_reply(struct buf *out, const uint8_t *wire, uint8_t rcode)
{
	uint8_t h[12];

	memset(h, 0, sizeof(h));
	h[0] = wire[0];
	h[1] = wire[1];
	h[2] = (uint8_t)(0x80 | (wire[2] & 0x79));	/* QR, opcode, RD */
	h[3] = rcode & 0x0f;
	buf_add(out, h, sizeof(h));
}

bool
rr_same_data(const ldns_rr *a, const ldns_rr *b)
{
	size_t n = ldns_rr_rd_count(a);

	if (ldns_rr_get_type(a) != ldns_rr_get_type(b) ||
	    n != ldns_rr_rd_count(b) ||
	    ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b)) != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		const ldns_rdf *x = ldns_rr_rdf(a, i), *y = ldns_rr_rdf(b, i);
		if (ldns_rdf_get_type(x) == LDNS_RDF_TYPE_DNAME &&
		    ldns_rdf_get_type(y) == LDNS_RDF_TYPE_DNAME) {
			if (ldns_dname_compare(x, y) != 0)
				return false;
		} else if (ldns_rdf_compare(x, y) != 0) {
			return false;
		}
	}
	return true;
}

static const char *
from_str(const struct sockaddr *from, char *buf, size_t len)
{
	if (from == NULL)
		return "-";
	return net_addr_str(from, buf, len);
}

/* Encode resp; fit it into limit bytes (UDP) by dropping the additional
 * section, then everything with TC set. */
static int
encode(ldns_pkt *resp, size_t limit, struct buf *out)
{
	uint8_t *w = NULL;
	size_t n = 0;

	for (int pass = 0; pass < 3; pass++) {
		if (ldns_pkt2wire(&w, resp, &n) != LDNS_STATUS_OK)
			return PTT_EINVAL;
		if (limit == 0 || n <= limit)
			break;
		free(w);
		w = NULL;
		if (pass == 0 && ldns_pkt_arcount(resp) > 0 &&
		    ldns_pkt_get_rcode(resp) == LDNS_RCODE_NOERROR &&
		    ldns_pkt_ancount(resp) > 0) {
			ldns_rr_list_deep_free(ldns_pkt_additional(resp));
			ldns_pkt_set_additional(resp, ldns_rr_list_new());
			ldns_pkt_set_arcount(resp, 0);
			continue;
		}
		ldns_rr_list_deep_free(ldns_pkt_answer(resp));
		ldns_pkt_set_answer(resp, ldns_rr_list_new());
		ldns_pkt_set_ancount(resp, 0);
		ldns_rr_list_deep_free(ldns_pkt_authority(resp));
		ldns_pkt_set_authority(resp, ldns_rr_list_new());
		ldns_pkt_set_nscount(resp, 0);
		ldns_rr_list_deep_free(ldns_pkt_additional(resp));
		ldns_pkt_set_additional(resp, ldns_rr_list_new());
		ldns_pkt_set_arcount(resp, 0);
		ldns_pkt_set_tc(resp, true);
		pass = 1;
	}
	if (w == NULL)
		return PTT_EINVAL;
	buf_add(out, w, n);
	free(w);
	return buf_error(out);
}

static size_t
tsig_room(const struct tsig_key *k)
{
	return k ? strlen(k->name) + 2 + 10 + 13 + 16 + 32 + 8 : 0;
}

static ldns_pkt *
new_response(const ldns_pkt *q, bool has_edns)
{
	ldns_pkt *r = ldns_pkt_new();

	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_opcode(r, ldns_pkt_get_opcode(q));
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_cd(r, ldns_pkt_cd(q));
	for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_question(q)); i++)
		ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION,
		    ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), i)));
	if (has_edns) {
		ldns_pkt_set_edns_udp_size(r, DNSD_UDP_MAX);
		ldns_pkt_set_edns_do(r, ldns_pkt_edns_do(q));
	}
	return r;
}

static bool
is_zone_apex(const struct dnsd *d, const ldns_rdf *name, struct zone **zp)
{
	for (struct zone *z = d->zones; z != NULL; z = z->next)
		if (z->db != NULL && ldns_dname_compare(z->origin, name) == 0) {
			*zp = z;
			return true;
		}
	return false;
}

static void
qname_str(const ldns_pkt *q, char *buf, size_t len)
{
	const ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	char *s = qr ? ldns_rdf2str(ldns_rr_owner(qr)) : NULL;

	ptt_strlcpy(buf, s ? s : "?", len);
	free(s);
}

/* A standard query or a transfer request. Returns the RCODE to use when
 * resp should be sent as is, or -1 when r was filled with a transfer. */
static int
do_query(struct dnsd *d, const ldns_pkt *q, ldns_pkt *resp, bool tcp,
    const struct sockaddr *from, const struct tsig_key *key,
    const struct tsig_rr *t, const char *id, struct dnsd_reply *r)
{
	const ldns_rr *qr;
	const ldns_rdf *qname;
	ldns_rr_type qtype;
	struct zone *z;
	char name[512], addr[64];

	if (ldns_pkt_qdcount(q) != 1 ||
	    ldns_rr_list_rr_count(ldns_pkt_question(q)) != 1)
		return LDNS_RCODE_FORMERR;
	qr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	qname = ldns_rr_owner(qr);
	qtype = ldns_rr_get_type(qr);
	if (qtype == LDNS_RR_TYPE_OPT || qtype == LDNS_RR_TYPE_TSIG ||
	    qtype == 0)
		return LDNS_RCODE_FORMERR;
	if (qtype == LDNS_RR_TYPE_MAILA || qtype == LDNS_RR_TYPE_MAILB)
		return LDNS_RCODE_NOTIMPL;
	if (ldns_rr_get_class(qr) != LDNS_RR_CLASS_IN)
		return LDNS_RCODE_REFUSED;
	ldns_rdf *lname = ldns_rdf_clone(qname);
	ldns_dname2canonical(lname);
	z = zone_find(d->zones, lname);
	if (z == NULL) {
		ldns_rdf_deep_free(lname);
		return LDNS_RCODE_REFUSED;
	}
	if (qtype == LDNS_RR_TYPE_AXFR || qtype == LDNS_RR_TYPE_IXFR) {
		int ret = LDNS_RCODE_NOERROR;
		qname_str(q, name, sizeof(name));
		if (ldns_dname_compare(lname, z->origin) != 0) {
			ret = LDNS_RCODE_NOTAUTH;
		} else if (!dnsd_may_transfer(d, z->name, key ? key->name : NULL,
		    from ? from_str(from, addr, sizeof(addr)) : NULL)) {
			log_info(id, "transfer of %s refused: not allowed for %s%s%s",
			    z->name, from_str(from, addr, sizeof(addr)),
			    key ? " key " : "", key ? key->name : "");
			ret = LDNS_RCODE_REFUSED;
		} else if (!tcp && qtype == LDNS_RR_TYPE_AXFR) {
			ret = LDNS_RCODE_FORMERR;
		} else if (!tcp) {
			/* IXFR over UDP: the current SOA tells the client to
			 * come back over TCP (RFC 1995 4) */
			ldns_pkt_push_rr(resp, LDNS_SECTION_ANSWER,
			    ldns_rr_clone(zone_soa(z)));
			ldns_pkt_set_aa(resp, true);
		} else {
			buf_reset(&r->msg);
			ret = xfr_build(z, q, key, t ? t->mac : NULL,
			    t ? t->mac_len : 0, dnsd_now(d), &r->msg);
			if (ret == 0) {
				log_info(id, "%s of %s serial %u to %s%s%s",
				    qtype == LDNS_RR_TYPE_AXFR ? "AXFR" : "IXFR",
				    z->name, zone_serial(z),
				    from_str(from, addr, sizeof(addr)),
				    key ? " key " : "", key ? key->name : "");
				r->framed = true;
				ret = -1;
			} else {
				ret = LDNS_RCODE_SERVFAIL;
			}
		}
		ldns_rdf_deep_free(lname);
		return ret;
	}
	query_answer(z, lname, qtype, ldns_pkt_edns_do(q) && z->keys != NULL,
	    resp);
	ldns_rdf_deep_free(lname);
	return ldns_pkt_get_rcode(resp);
}

static int
do_update(struct dnsd *d, const ldns_pkt *q, const struct tsig_key *key,
    const struct sockaddr *from, const char *id)
{
	const ldns_rr *zr;
	struct zone *z = NULL;
	char name[512], addr[64];

	if (ldns_pkt_qdcount(q) != 1 ||
	    ldns_rr_list_rr_count(ldns_pkt_question(q)) != 1)
		return LDNS_RCODE_FORMERR;
	zr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	qname_str(q, name, sizeof(name));
	if (ldns_rr_get_type(zr) != LDNS_RR_TYPE_SOA)
		return LDNS_RCODE_FORMERR;
	ldns_rdf *lname = ldns_rdf_clone(ldns_rr_owner(zr));
	ldns_dname2canonical(lname);
	bool found = is_zone_apex(d, lname, &z);
	ldns_rdf_deep_free(lname);
	if (!found || ldns_rr_get_class(zr) != LDNS_RR_CLASS_IN) {
		log_info(id, "update for %s from %s refused: not a zone here",
		    name, from_str(from, addr, sizeof(addr)));
		return LDNS_RCODE_NOTAUTH;
	}
	if (key == NULL) {
		log_info(id, "update for %s from %s refused: not signed",
		    name, from_str(from, addr, sizeof(addr)));
		return LDNS_RCODE_REFUSED;
	}
	return ddns_apply(d, z, q, key->name, id);
}

bool
dnsd_handle(struct dnsd *d, const uint8_t *wire, size_t len, bool tcp,
    const struct sockaddr *from, const char *id, struct dnsd_reply *r)
{
	struct dns_wire_info wi;
	struct tsig_rr t;
	const struct tsig_key *key = NULL;
	ldns_pkt *q = NULL, *resp;
	int opcode, rcode, ret;
	bool has_tsig, has_edns;
	size_t limit;
	char addr[64];
	uint64_t now = dnsd_now(d);

	buf_reset(&r->msg);
	r->framed = false;
	if (len < 12 || (wire[2] & 0x80))
		return false;			/* too short, or a response */
	opcode = (wire[2] >> 3) & 0x0f;
	if (dns_wire_scan(wire, len, &wi) != 0 || wi.opt_count > 1 ||
	    wi.opt_misplaced || (wi.has_tsig && !wi.tsig_last) ||
	    ldns_wire2pkt(&q, wire, len) != LDNS_STATUS_OK) {
		header_reply(&r->msg, wire, LDNS_RCODE_FORMERR);
		return true;
	}
	if (opcode != OP_QUERY && opcode != OP_UPDATE) {
		ldns_pkt_free(q);
		header_reply(&r->msg, wire, LDNS_RCODE_NOTIMPL);
		return true;
	}
	has_tsig = tsig_find(wire, len, &t) == 0;
	if (wi.has_tsig && !has_tsig) {
		ldns_pkt_free(q);
		header_reply(&r->msg, wire, LDNS_RCODE_FORMERR);
		return true;
	}
	has_edns = wi.opt_count == 1;
	resp = new_response(q, has_edns);
	if (has_tsig) {
		key = dnsd_key_find(d, t.name);
		int v = key ? tsig_verify(wire, len, &t, key, NULL, 0, now) :
		    TSIG_BADKEY;
		if (v != TSIG_NOERROR) {
			log_info(id, "%s from %s with key %s refused: TSIG %s",
			    opcode == OP_UPDATE ? "update" : "query",
			    from_str(from, addr, sizeof(addr)), t.name,
			    v == TSIG_BADKEY ? "BADKEY" : v == TSIG_BADSIG ?
			    "BADSIG" : "BADTIME");
			ldns_pkt_set_rcode(resp, LDNS_RCODE_NOTAUTH);
			ret = encode(resp, 0, &r->msg);
			ldns_pkt_free(resp);
			ldns_pkt_free(q);
			if (ret != 0)
				return false;
			if (v == TSIG_BADTIME) {
				uint8_t other[6] = { (uint8_t)(now >> 40),
				    (uint8_t)(now >> 32), (uint8_t)(now >> 24),
				    (uint8_t)(now >> 16), (uint8_t)(now >> 8),
				    (uint8_t)now };
				ret = tsig_sign(&r->msg, key, t.time_signed,
				    t.mac, t.mac_len, TSIG_BADTIME, other, 6,
				    false, NULL, NULL);
			} else {
				ret = tsig_sign_unknown(&r->msg, t.name, now,
				    (uint16_t)v);
			}
			return ret == 0;
		}
	}
	if (has_edns && ldns_pkt_edns_version(q) > 0) {
		ldns_pkt_set_edns_extended_rcode(resp, 1);	/* BADVERS */
		ldns_rr_list_deep_free(ldns_pkt_question(resp));
		ldns_pkt_set_question(resp, ldns_rr_list_new());
		ldns_pkt_set_qdcount(resp, 0);
		rcode = LDNS_RCODE_NOERROR;
	} else if (opcode == OP_UPDATE) {
		rcode = do_update(d, q, key, from, id);
	} else {
		rcode = do_query(d, q, resp, tcp, from, key, has_tsig ? &t :
		    NULL, id, r);
		if (rcode == -1) {		/* a transfer, already framed */
			ldns_pkt_free(resp);
			ldns_pkt_free(q);
			return true;
		}
	}
	ldns_pkt_set_rcode(resp, (uint8_t)rcode);
	if (tcp)
		limit = 65535;
	else if (has_edns)
		limit = ldns_pkt_edns_udp_size(q) < 512 ? 512 :
		    ldns_pkt_edns_udp_size(q) > DNSD_UDP_MAX ? DNSD_UDP_MAX :
		    ldns_pkt_edns_udp_size(q);
	else
		limit = 512;
	limit -= tsig_room(key);
	ret = encode(resp, limit, &r->msg);
	ldns_pkt_free(resp);
	ldns_pkt_free(q);
	if (ret != 0) {
		buf_reset(&r->msg);
		header_reply(&r->msg, wire, LDNS_RCODE_SERVFAIL);
		return true;
	}
	if (key != NULL && tsig_sign(&r->msg, key, now, t.mac, t.mac_len, 0,
	    NULL, 0, false, NULL, NULL) != 0)
		return false;
	return true;
}
