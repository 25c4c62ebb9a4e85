/*
 * query.c - authoritative answers from a zone's served tree.
 *
 * Implements RFC 1034 4.3.2 steps 3a-3c for one zone (the caller found
 * the zone), RFC 2308 3 (negative answers carry the SOA with
 * TTL = min(SOA TTL, MINIMUM)), RFC 4592 (wildcards), RFC 6604 (the RCODE
 * of a CNAME chain is the last name's), RFC 8482 4.1 (ANY gets one
 * RRset), RFC 4035 3.1.1-3.1.4 (RRSIGs, NSEC proofs, DS at referrals),
 * RFC 5155 7.2 (NSEC3 proofs: closest encloser, next closer, wildcard).
 * Trusts: the zone tree; the question was parsed by ldns.
 */
#include "query.h"

#include <stdlib.h>

#define CNAME_CHAIN_MAX 8

ldns_dnssec_name *
query_lookup(const ldns_dnssec_zone *db, const ldns_rdf *name)
{
	ldns_rbnode_t *n;

	if (db == NULL || db->names == NULL)
		return NULL;
	n = ldns_rbtree_search(db->names, name);
	return n ? (ldns_dnssec_name *)n->data : NULL;
}

bool
query_name_exists(const ldns_dnssec_zone *db, const ldns_rdf *name)
{
	ldns_rbnode_t *n = NULL;

	if (db == NULL || db->names == NULL)
		return false;
	if (ldns_rbtree_find_less_equal(db->names, name, &n))
		return true;
	/* an empty non-terminal: the next name in canonical order is below */
	n = n ? ldns_rbtree_next(n) : ldns_rbtree_first(db->names);
	return n != LDNS_RBTREE_NULL && n != NULL &&
	    ldns_dname_is_subdomain((const ldns_rdf *)n->key, name);
}

static ldns_dnssec_rrsets *
find_rrset(const ldns_dnssec_name *n, ldns_rr_type t)
{
	for (ldns_dnssec_rrsets *s = n ? n->rrsets : NULL; s; s = s->next)
		if (s->type == t)
			return s;
	return NULL;
}

static void
push(ldns_pkt *resp, ldns_pkt_section sec, const ldns_rr *rr,
    const ldns_rdf *owner)
{
	ldns_rr *c = ldns_rr_clone(rr);

	if (owner != NULL) {
		ldns_rdf_deep_free(ldns_rr_owner(c));
		ldns_rr_set_owner(c, ldns_rdf_clone(owner));
	}
	if (ldns_pkt_rr(resp, sec, c)) {
		ldns_rr_free(c);
		return;
	}
	ldns_pkt_push_rr(resp, sec, c);
}

/* Add an RRset (and its RRSIGs with DNSSEC); owner replaces the owner
 * name when not NULL (wildcard synthesis). */
static void
add_rrset(ldns_pkt *resp, ldns_pkt_section sec, const ldns_dnssec_rrsets *s,
    bool dnssec, const ldns_rdf *owner)
{
	for (ldns_dnssec_rrs *r = s->rrs; r; r = r->next)
		push(resp, sec, r->rr, owner);
	if (dnssec)
		for (ldns_dnssec_rrs *r = s->signatures; r; r = r->next)
			push(resp, sec, r->rr, owner);
}

static void
add_nsec(ldns_pkt *resp, const ldns_dnssec_name *n)
{
	if (n == NULL || n->nsec == NULL)
		return;
	push(resp, LDNS_SECTION_AUTHORITY, n->nsec, NULL);
	for (ldns_dnssec_rrs *r = n->nsec_signatures; r; r = r->next)
		push(resp, LDNS_SECTION_AUTHORITY, r->rr, NULL);
}

static bool
is_nsec3(const ldns_dnssec_zone *db)
{
	/* ldns keeps the hashed names tree only for NSEC3-signed zones */
	return db->hashed_names != NULL && db->hashed_names->count > 0;
}

/* The NSEC3 whose hash covers (or matches) name's hash (RFC 5155 7.2.1). */
static void
add_covering_nsec3(ldns_pkt *resp, const ldns_dnssec_zone *db,
    const ldns_rdf *name)
{
	/* the parameters zone.c signs with: SHA-1, no salt, 0 iterations;
	 * the tree is keyed by the hash label alone */
	ldns_rdf *h = ldns_nsec3_hash_name(name, LDNS_SHA1, 0, 0, NULL);
	ldns_rbnode_t *n = NULL;

	if (h == NULL)
		return;
	ldns_rbtree_find_less_equal(db->hashed_names, h, &n);
	ldns_rdf_deep_free(h);
	/* before the first hash: the last NSEC3 wraps around */
	if (n == NULL || n == LDNS_RBTREE_NULL)
		n = ldns_rbtree_last(db->hashed_names);
	for (size_t guard = 0; n != NULL && n != LDNS_RBTREE_NULL &&
	    guard <= db->hashed_names->count; guard++) {
		const ldns_dnssec_name *dn = n->data;
		if (dn->nsec != NULL) {
			add_nsec(resp, dn);
			return;
		}
		n = ldns_rbtree_previous(n);
		if (n == LDNS_RBTREE_NULL)
			n = ldns_rbtree_last(db->hashed_names);
	}
}

/* The NSEC whose owner is the closest name at or before name (or, in an
 * NSEC3 zone, the NSEC3 covering its hash). */
static void
add_covering_nsec(ldns_pkt *resp, const ldns_dnssec_zone *db,
    const ldns_rdf *name)
{
	ldns_rbnode_t *n = NULL;

	if (is_nsec3(db)) {
		add_covering_nsec3(resp, db, name);
		return;
	}
	ldns_rbtree_find_less_equal(db->names, name, &n);
	for (; n != NULL && n != LDNS_RBTREE_NULL; n = ldns_rbtree_previous(n)) {
		const ldns_dnssec_name *dn = n->data;
		if (dn->nsec != NULL) {
			add_nsec(resp, dn);
			return;
		}
	}
}

static void
add_soa(ldns_pkt *resp, const struct zone *z, bool dnssec)
{
	ldns_dnssec_rrsets *s = find_rrset(z->db->soa, LDNS_RR_TYPE_SOA);

	if (s == NULL || s->rrs == NULL)
		return;
	ldns_rr *soa = ldns_rr_clone(s->rrs->rr);
	uint32_t min = ldns_rdf2native_int32(ldns_rr_rdf(soa, 6));
	if (ldns_rr_ttl(soa) > min)
		ldns_rr_set_ttl(soa, min);
	ldns_pkt_push_rr(resp, LDNS_SECTION_AUTHORITY, soa);
	if (dnssec)
		for (ldns_dnssec_rrs *r = s->signatures; r; r = r->next)
			push(resp, LDNS_SECTION_AUTHORITY, r->rr, NULL);
}

/* A and AAAA of target into additional when the zone has them. */
static void
add_addresses(ldns_pkt *resp, const struct zone *z, const ldns_rdf *target,
    bool dnssec)
{
	ldns_dnssec_name *n;
	ldns_dnssec_rrsets *s;

	if (!ldns_dname_is_subdomain(target, z->origin) &&
	    ldns_dname_compare(target, z->origin) != 0)
		return;
	if ((n = query_lookup(z->db, target)) == NULL)
		return;
	if ((s = find_rrset(n, LDNS_RR_TYPE_A)) != NULL)
		add_rrset(resp, LDNS_SECTION_ADDITIONAL, s, dnssec && !n->is_glue, NULL);
	if ((s = find_rrset(n, LDNS_RR_TYPE_AAAA)) != NULL)
		add_rrset(resp, LDNS_SECTION_ADDITIONAL, s, dnssec && !n->is_glue, NULL);
}

static void
additional_for(ldns_pkt *resp, const struct zone *z,
    const ldns_dnssec_rrsets *s, bool dnssec)
{
	for (ldns_dnssec_rrs *r = s->rrs; r; r = r->next) {
		const ldns_rdf *t = NULL;
		if (s->type == LDNS_RR_TYPE_MX && ldns_rr_rd_count(r->rr) == 2)
			t = ldns_rr_rdf(r->rr, 1);
		else if (s->type == LDNS_RR_TYPE_NS && ldns_rr_rd_count(r->rr) == 1)
			t = ldns_rr_rdf(r->rr, 0);
		else if (s->type == LDNS_RR_TYPE_SRV && ldns_rr_rd_count(r->rr) == 4)
			t = ldns_rr_rdf(r->rr, 3);
		if (t != NULL)
			add_addresses(resp, z, t, dnssec);
	}
}

/* The delegation point above or at qname (below the apex), or NULL. */
static ldns_dnssec_name *
find_delegation(const struct zone *z, const ldns_rdf *qname,
    ldns_rr_type qtype)
{
	size_t ql = ldns_dname_label_count(qname);
	size_t zl = ldns_dname_label_count(z->origin);

	/* walk from just below the apex down to qname */
	for (size_t keep = zl + 1; keep <= ql; keep++) {
		ldns_rdf *a = ldns_dname_clone_from(qname, ql - keep);
		ldns_dnssec_name *n = a ? query_lookup(z->db, a) : NULL;
		bool at_qname = keep == ql;
		ldns_rdf_deep_free(a);
		if (n == NULL || find_rrset(n, LDNS_RR_TYPE_NS) == NULL)
			continue;
		if (at_qname && qtype == LDNS_RR_TYPE_DS)
			return NULL;	/* the parent answers for DS */
		return n;
	}
	return NULL;
}

static void
referral(ldns_pkt *resp, const struct zone *z, const ldns_dnssec_name *cut,
    bool dnssec)
{
	ldns_dnssec_rrsets *ns = find_rrset(cut, LDNS_RR_TYPE_NS);
	ldns_dnssec_rrsets *ds = find_rrset(cut, LDNS_RR_TYPE_DS);

	add_rrset(resp, LDNS_SECTION_AUTHORITY, ns, false, NULL);
	if (dnssec) {
		if (ds != NULL)
			add_rrset(resp, LDNS_SECTION_AUTHORITY, ds, true, NULL);
		else
			add_nsec(resp, cut);
	}
	additional_for(resp, z, ns, false);
	ldns_pkt_set_aa(resp, false);
}

/* The closest encloser of a name that does not exist. Caller frees. */
static ldns_rdf *
closest_encloser(const struct zone *z, const ldns_rdf *qname)
{
	size_t ql = ldns_dname_label_count(qname);
	size_t zl = ldns_dname_label_count(z->origin);

	for (size_t keep = ql - 1; keep > zl; keep--) {
		ldns_rdf *a = ldns_dname_clone_from(qname, ql - keep);
		if (a != NULL && query_name_exists(z->db, a))
			return a;
		ldns_rdf_deep_free(a);
	}
	return ldns_rdf_clone(z->origin);
}

/*
 * Prove that qname does not exist: the NSEC covering it, or for NSEC3 the
 * closest encloser proof (RFC 5155 7.2.1): the NSEC3 matching the closest
 * encloser and the one covering the next closer name.
 */
static void
deny_name(ldns_pkt *resp, const struct zone *z, const ldns_rdf *qname,
    const ldns_rdf *ce)
{
	if (!is_nsec3(z->db)) {
		add_covering_nsec(resp, z->db, qname);
		return;
	}
	add_nsec(resp, query_lookup(z->db, ce));
	size_t ql = ldns_dname_label_count(qname);
	size_t cl = ldns_dname_label_count(ce);
	if (ql > cl) {
		ldns_rdf *next = ldns_dname_clone_from(qname, ql - cl - 1);
		if (next != NULL)
			add_covering_nsec(resp, z->db, next);
		ldns_rdf_deep_free(next);
	}
}

static ldns_rdf *
wildcard_of(const ldns_rdf *ce)
{
	ldns_rdf *w = ldns_dname_new_frm_str("*");

	if (w == NULL || ldns_dname_cat(w, ce) != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(w);
		return NULL;
	}
	return w;
}

void
query_answer(const struct zone *z, const ldns_rdf *qname0,
    ldns_rr_type qtype, bool dnssec, ldns_pkt *resp)
{
	ldns_rdf *qname = ldns_rdf_clone(qname0);

	ldns_pkt_set_aa(resp, true);
	ldns_pkt_set_rcode(resp, LDNS_RCODE_NOERROR);
	for (int chain = 0; chain < CNAME_CHAIN_MAX; chain++) {
		ldns_dnssec_name *n, *cut;
		ldns_dnssec_rrsets *s;
		const ldns_rdf *synth = NULL;
		ldns_rdf *wild = NULL;

		if ((cut = find_delegation(z, qname, qtype)) != NULL) {
			if (chain == 0)
				referral(resp, z, cut, dnssec);
			break;
		}
		n = query_lookup(z->db, qname);
		if (n == NULL || n->rrsets == NULL) {
			if (query_name_exists(z->db, qname)) {
				/* empty non-terminal: NODATA (NSEC3 zones hold
				 * a node with an NSEC3 for it) */
				add_soa(resp, z, dnssec);
				if (dnssec && n != NULL && n->nsec != NULL)
					add_nsec(resp, n);
				else if (dnssec)
					add_covering_nsec(resp, z->db, qname);
				break;
			}
			ldns_rdf *ce = closest_encloser(z, qname);
			wild = ce ? wildcard_of(ce) : NULL;
			n = wild ? query_lookup(z->db, wild) : NULL;
			if (n == NULL || n->rrsets == NULL) {
				ldns_pkt_set_rcode(resp, LDNS_RCODE_NXDOMAIN);
				add_soa(resp, z, dnssec);
				if (dnssec && ce != NULL) {
					deny_name(resp, z, qname, ce);
					if (wild != NULL)
						add_covering_nsec(resp, z->db, wild);
				}
				ldns_rdf_deep_free(ce);
				ldns_rdf_deep_free(wild);
				break;
			}
			synth = qname;
			if (dnssec)	/* the name itself does not exist */
				deny_name(resp, z, qname, ce);
			ldns_rdf_deep_free(ce);
		}
		if (qtype == LDNS_RR_TYPE_ANY) {
			for (s = n->rrsets; s; s = s->next)
				if (s->type != LDNS_RR_TYPE_RRSIG &&
				    s->type != LDNS_RR_TYPE_NSEC)
					break;
			if (s == NULL)
				s = n->rrsets;
			add_rrset(resp, LDNS_SECTION_ANSWER, s, dnssec, synth);
			ldns_rdf_deep_free(wild);
			break;
		}
		if ((s = find_rrset(n, qtype)) != NULL) {
			add_rrset(resp, LDNS_SECTION_ANSWER, s, dnssec, synth);
			additional_for(resp, z, s, dnssec);
			ldns_rdf_deep_free(wild);
			break;
		}
		if ((s = find_rrset(n, LDNS_RR_TYPE_CNAME)) != NULL &&
		    s->rrs != NULL) {
			add_rrset(resp, LDNS_SECTION_ANSWER, s, dnssec, synth);
			ldns_rdf_deep_free(wild);
			const ldns_rdf *target = ldns_rr_rdf(s->rrs->rr, 0);
			if (target == NULL ||
			    (ldns_dname_compare(target, z->origin) != 0 &&
			    !ldns_dname_is_subdomain(target, z->origin)))
				break;
			ldns_rdf *next = ldns_rdf_clone(target);
			ldns_dname2canonical(next);
			ldns_rdf_deep_free(qname);
			qname = next;
			continue;
		}
		/* NODATA */
		add_soa(resp, z, dnssec);
		if (dnssec)
			add_nsec(resp, n);
		ldns_rdf_deep_free(wild);
		break;
	}
	ldns_rdf_deep_free(qname);
}
