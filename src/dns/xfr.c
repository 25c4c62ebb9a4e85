/*
 * xfr.c - outgoing zone transfers: AXFR and IXFR over TCP.
 *
 * Implements RFC 5936 2.2 (AXFR response: SOA, every RR, SOA, over one or
 * more messages, question in the first), RFC 1995 4 (IXFR: a single SOA
 * when the client is current, difference sequences from the journal,
 * otherwise the full zone in AXFR form), RFC 8945 5.3.1 (each message of
 * a signed transfer is signed; later ones chain the previous MAC with the
 * timers only). Signed zones are always sent whole (their journal would
 * not hold the signatures). Trusts: the query was parsed and authorised
 * by dnsd.c.
 */
#include "dnsd.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define XFR_RRS_PER_MSG 100

static const ldns_rr *
served_soa(const struct zone *z)
{
	for (ldns_dnssec_rrsets *s = z->db->soa ? z->db->soa->rrsets : NULL; s;
	    s = s->next)
		if (s->type == LDNS_RR_TYPE_SOA && s->rrs != NULL)
			return s->rrs->rr;
	return NULL;
}

static void
push_rrs(ldns_rr_list *all, const ldns_dnssec_rrs *r)
{
	for (; r != NULL; r = r->next)
		ldns_rr_list_push_rr(all, r->rr);
}

static void
collect_axfr(const struct zone *z, ldns_rr_list *all)
{
	ldns_rbnode_t *n;

	for (n = ldns_rbtree_first(z->db->names); n != LDNS_RBTREE_NULL &&
	    n != NULL; n = ldns_rbtree_next(n)) {
		const ldns_dnssec_name *dn = n->data;
		for (ldns_dnssec_rrsets *s = dn->rrsets; s; s = s->next) {
			if (s->type != LDNS_RR_TYPE_SOA)
				push_rrs(all, s->rrs);
			push_rrs(all, s->signatures);
		}
		if (dn->nsec != NULL) {
			ldns_rr_list_push_rr(all, dn->nsec);
			push_rrs(all, dn->nsec_signatures);
		}
	}
}

/* The journal entries from serial from to the current one, or false. */
static bool
collect_ixfr(const struct zone *z, uint32_t from, ldns_rr_list *all)
{
	size_t i;
	uint32_t cur = zone_serial(z);

	if (z->keys != NULL)
		return false;
	for (i = 0; i < z->njournal; i++)
		if (ldns_rdf2native_int32(ldns_rr_rdf(z->journal[i].old_soa, 2))
		    == from)
			break;
	if (i == z->njournal)
		return false;
	for (size_t k = i; k < z->njournal; k++) {
		const struct zone_diff *df = &z->journal[k];
		if (k + 1 < z->njournal &&
		    ldns_rdf2native_int32(ldns_rr_rdf(df->new_soa, 2)) !=
		    ldns_rdf2native_int32(ldns_rr_rdf(z->journal[k + 1].old_soa, 2)))
			return false;
	}
	if (ldns_rdf2native_int32(ldns_rr_rdf(z->journal[z->njournal - 1].new_soa,
	    2)) != cur)
		return false;
	for (size_t k = i; k < z->njournal; k++) {
		const struct zone_diff *df = &z->journal[k];
		ldns_rr_list_push_rr(all, df->old_soa);
		for (size_t j = 0; j < ldns_rr_list_rr_count(df->removed); j++)
			ldns_rr_list_push_rr(all, ldns_rr_list_rr(df->removed, j));
		ldns_rr_list_push_rr(all, df->new_soa);
		for (size_t j = 0; j < ldns_rr_list_rr_count(df->added); j++)
			ldns_rr_list_push_rr(all, ldns_rr_list_rr(df->added, j));
	}
	return true;
}

int
xfr_build(const struct zone *z, const ldns_pkt *query,
    const struct tsig_key *key, const uint8_t *req_mac, size_t req_mac_len,
    uint64_t now, struct buf *out)
{
	const ldns_rr *soa = served_soa(z);
	const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(query), 0);
	ldns_rr_list *all;
	uint8_t mac[TSIG_MAC_MAX];
	size_t maclen = 0;
	int ret = 0;

	if (soa == NULL || q == NULL)
		return PTT_ENOENT;
	all = ldns_rr_list_new();
	ldns_rr_list_push_rr(all, (ldns_rr *)soa);
	if (ldns_rr_get_type(q) == LDNS_RR_TYPE_IXFR) {
		const ldns_rr *cs = ldns_rr_list_rr(ldns_pkt_authority(query), 0);
		uint32_t from = 0;
		bool have = cs != NULL && ldns_rr_get_type(cs) == LDNS_RR_TYPE_SOA &&
		    ldns_rr_rd_count(cs) == 7;
		if (have)
			from = ldns_rdf2native_int32(ldns_rr_rdf(cs, 2));
		if (have && serial_cmp(from, zone_serial(z)) != -1) {
			/* up to date: the SOA alone */
		} else if (have && collect_ixfr(z, from, all)) {
			ldns_rr_list_push_rr(all, (ldns_rr *)soa);
		} else {
			collect_axfr(z, all);
			ldns_rr_list_push_rr(all, (ldns_rr *)soa);
		}
	} else {
		collect_axfr(z, all);
		ldns_rr_list_push_rr(all, (ldns_rr *)soa);
	}
	size_t n = ldns_rr_list_rr_count(all);
	for (size_t i = 0; ret == 0 && i < n; i += XFR_RRS_PER_MSG) {
		ldns_pkt *p = ldns_pkt_new();
		uint8_t *w = NULL;
		size_t wl = 0;
		struct buf m;

		ldns_pkt_set_id(p, ldns_pkt_id(query));
		ldns_pkt_set_qr(p, true);
		ldns_pkt_set_aa(p, true);
		ldns_pkt_set_opcode(p, LDNS_PACKET_QUERY);
		if (i == 0)
			ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, ldns_rr_clone(q));
		for (size_t j = i; j < n && j < i + XFR_RRS_PER_MSG; j++)
			ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER,
			    ldns_rr_clone(ldns_rr_list_rr(all, j)));
		if (ldns_pkt2wire(&w, p, &wl) != LDNS_STATUS_OK) {
			ldns_pkt_free(p);
			ret = PTT_EINVAL;
			break;
		}
		ldns_pkt_free(p);
		buf_init(&m, 65535);
		buf_add(&m, w, wl);
		free(w);
		if (key != NULL) {
			if (i == 0)
				ret = tsig_sign(&m, key, now, req_mac,
				    req_mac_len, 0, NULL, 0, false, mac, &maclen);
			else
				ret = tsig_sign_next(&m, key, now, mac, &maclen);
		}
		if (ret == 0 && buf_error(&m))
			ret = PTT_ENOSPC;
		if (ret == 0) {
			uint8_t l[2] = { (uint8_t)(m.len >> 8), (uint8_t)m.len };
			buf_add(out, l, 2);
			buf_add(out, m.data, m.len);
		}
		buf_free(&m);
	}
	ldns_rr_list_free(all);
	return ret != 0 ? ret : buf_error(out);
}
