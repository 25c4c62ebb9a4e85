/*
 * ddns.c - RFC 2136 dynamic updates: prerequisites, permissions, atomic
 * application, serial increment, journal for IXFR.
 *
 * Implements RFC 2136 3.2 (the five prerequisite forms, checked against the
 * zone before anything changes), 3.3 (permission: our policy, by TSIG key,
 * name and type), 3.4.1 (prescan of the update section), 3.4.2 (additions,
 * RRset and name deletions, single RR deletions; SOA and apex NS
 * protected; CNAME exclusivity of RFC 2181 10.1), 3.6 (the serial grows,
 * RFC 1982). The update is applied to a copy; the zone changes only when
 * every step succeeded (3.4.2.6 atomicity). Trusts: a request whose TSIG
 * dnsd.c has verified; every RR in it is still checked here.
 */
#include "dnsd.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dns/update.h"
#include "util/log.h"
#include "util/mem.h"

static bool
in_zone(const struct zone *z, const ldns_rdf *name)
{
	return ldns_dname_compare(name, z->origin) == 0 ||
	    ldns_dname_is_subdomain(name, z->origin);
}

static bool
name_in_use(const ldns_rr_list *rrs, const ldns_rdf *name)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++)
		if (ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(rrs, i)),
		    name) == 0)
			return true;
	return false;
}

static bool
rrset_exists(const ldns_rr_list *rrs, const ldns_rdf *name, ldns_rr_type t)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		if (ldns_rr_get_type(rr) == t &&
		    ldns_dname_compare(ldns_rr_owner(rr), name) == 0)
			return true;
	}
	return false;
}

static bool
is_meta(ldns_rr_type t)
{
	return t == LDNS_RR_TYPE_ANY || t == LDNS_RR_TYPE_AXFR ||
	    t == LDNS_RR_TYPE_IXFR || t == LDNS_RR_TYPE_MAILA ||
	    t == LDNS_RR_TYPE_MAILB || t == LDNS_RR_TYPE_OPT ||
	    t == LDNS_RR_TYPE_TSIG || t == 0;
}

/* RFC 2136 3.2: 0 (NOERROR) or the RCODE that fails the update. */
static int
check_prereqs(const struct zone *z, const ldns_rr_list *pre)
{
	size_t n = ldns_rr_list_rr_count(pre);

	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(pre, i);
		const ldns_rdf *name = ldns_rr_owner(rr);
		ldns_rr_type t = ldns_rr_get_type(rr);
		ldns_rr_class c = ldns_rr_get_class(rr);

		if (ldns_rr_ttl(rr) != 0)
			return LDNS_RCODE_FORMERR;
		if (!in_zone(z, name))
			return LDNS_RCODE_NOTZONE;
		if (c == LDNS_RR_CLASS_ANY) {
			if (ldns_rr_rd_count(rr) != 0)
				return LDNS_RCODE_FORMERR;
			if (t == LDNS_RR_TYPE_ANY) {
				if (!name_in_use(z->rrs, name))
					return LDNS_RCODE_NXDOMAIN;
			} else if (!rrset_exists(z->rrs, name, t)) {
				return LDNS_RCODE_NXRRSET;
			}
		} else if (c == LDNS_RR_CLASS_NONE) {
			if (ldns_rr_rd_count(rr) != 0)
				return LDNS_RCODE_FORMERR;
			if (t == LDNS_RR_TYPE_ANY) {
				if (name_in_use(z->rrs, name))
					return LDNS_RCODE_YXDOMAIN;
			} else if (rrset_exists(z->rrs, name, t)) {
				return LDNS_RCODE_YXRRSET;
			}
		} else if (c == LDNS_RR_CLASS_IN) {
			if (is_meta(t))
				return LDNS_RCODE_FORMERR;
		} else {
			return LDNS_RCODE_FORMERR;
		}
	}
	/* value-dependent: each (name, type) group equals the zone's RRset */
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(pre, i);
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			continue;
		const ldns_rdf *name = ldns_rr_owner(rr);
		ldns_rr_type t = ldns_rr_get_type(rr);
		size_t zn = 0, matched = 0;
		for (size_t j = 0; j < ldns_rr_list_rr_count(z->rrs); j++) {
			const ldns_rr *zr = ldns_rr_list_rr(z->rrs, j);
			if (ldns_rr_get_type(zr) != t ||
			    ldns_dname_compare(ldns_rr_owner(zr), name) != 0)
				continue;
			zn++;
			for (size_t k = 0; k < n; k++) {
				const ldns_rr *p = ldns_rr_list_rr(pre, k);
				if (ldns_rr_get_class(p) == LDNS_RR_CLASS_IN &&
				    rr_same_data(p, zr)) {
					matched++;
					break;
				}
			}
		}
		if (zn == 0 || matched != zn)
			return LDNS_RCODE_NXRRSET;
		for (size_t k = 0; k < n; k++) {
			const ldns_rr *p = ldns_rr_list_rr(pre, k);
			if (ldns_rr_get_class(p) != LDNS_RR_CLASS_IN ||
			    ldns_rr_get_type(p) != t ||
			    ldns_dname_compare(ldns_rr_owner(p), name) != 0)
				continue;
			bool found = false;
			for (size_t j = 0; !found &&
			    j < ldns_rr_list_rr_count(z->rrs); j++)
				found = rr_same_data(p, ldns_rr_list_rr(z->rrs, j));
			if (!found)
				return LDNS_RCODE_NXRRSET;
		}
	}
	return LDNS_RCODE_NOERROR;
}

/* RFC 2136 3.4.1 */
static int
prescan(const struct zone *z, const ldns_rr_list *upd)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(upd); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(upd, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		ldns_rr_class c = ldns_rr_get_class(rr);

		if (!in_zone(z, ldns_rr_owner(rr)))
			return LDNS_RCODE_NOTZONE;
		if (c == LDNS_RR_CLASS_IN) {
			if (is_meta(t) || ldns_rr_rd_count(rr) == 0)
				return LDNS_RCODE_FORMERR;
		} else if (c == LDNS_RR_CLASS_ANY) {
			if (ldns_rr_ttl(rr) != 0 || ldns_rr_rd_count(rr) != 0 ||
			    (is_meta(t) && t != LDNS_RR_TYPE_ANY))
				return LDNS_RCODE_FORMERR;
		} else if (c == LDNS_RR_CLASS_NONE) {
			if (ldns_rr_ttl(rr) != 0 || is_meta(t) ||
			    ldns_rr_rd_count(rr) == 0)
				return LDNS_RCODE_FORMERR;
		} else {
			return LDNS_RCODE_FORMERR;
		}
	}
	return LDNS_RCODE_NOERROR;
}

static void
name_text(const ldns_rdf *name, char *buf, size_t len)
{
	char *s = ldns_rdf2str(name);

	ptt_strlcpy(buf, s ? s : "", len);
	free(s);
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

static ldns_rr *
list_remove(ldns_rr_list *l, size_t i)
{
	size_t n = ldns_rr_list_rr_count(l);
	ldns_rr *rr = ldns_rr_list_rr(l, i);

	for (size_t j = i; j + 1 < n; j++)
		ldns_rr_list_set_rr(l, ldns_rr_list_rr(l, j + 1), j);
	ldns_rr_list_set_rr_count(l, n - 1);
	return rr;
}

/* Remove RRs of name (type t, or every type but SOA/NS at the apex when
 * t is ANY; one RR when match is set). Returns how many went. */
static size_t
remove_rrs(const struct zone *z, ldns_rr_list *rrs, const ldns_rdf *name,
    ldns_rr_type t, const ldns_rr *match)
{
	bool apex = ldns_dname_compare(name, z->origin) == 0;
	size_t gone = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs);) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		ldns_rr_type rt = ldns_rr_get_type(rr);
		bool del = ldns_dname_compare(ldns_rr_owner(rr), name) == 0 &&
		    (t == LDNS_RR_TYPE_ANY || rt == t) &&
		    (match == NULL || rr_same_data(rr, match));
		if (del && apex && (rt == LDNS_RR_TYPE_SOA ||
		    (rt == LDNS_RR_TYPE_NS && match == NULL)))
			del = false;
		if (del && rt == LDNS_RR_TYPE_SOA)
			del = false;
		if (!del) {
			i++;
			continue;
		}
		ldns_rr_free(list_remove(rrs, i));
		gone++;
	}
	return gone;
}

static size_t
count_type(const ldns_rr_list *rrs, const ldns_rdf *name, ldns_rr_type t)
{
	size_t n = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		if (ldns_rr_get_type(rr) == t &&
		    ldns_dname_compare(ldns_rr_owner(rr), name) == 0)
			n++;
	}
	return n;
}

/* Add rr (RFC 2136 3.4.2.2); true when something changed. */
static bool
add_rr(ldns_rr_list *rrs, const ldns_rr *in)
{
	const ldns_rdf *name = ldns_rr_owner(in);
	ldns_rr_type t = ldns_rr_get_type(in);
	bool has_cname = false, has_other = false, changed = false;
	bool present = false;

	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		if (ldns_dname_compare(ldns_rr_owner(rr), name) != 0)
			continue;
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME)
			has_cname = true;
		else if (!type_is_dnssec(ldns_rr_get_type(rr)))
			has_other = true;
	}
	if (t == LDNS_RR_TYPE_CNAME && has_other)
		return false;
	if (t != LDNS_RR_TYPE_CNAME && !type_is_dnssec(t) && has_cname)
		return false;
	if (t == LDNS_RR_TYPE_CNAME && has_cname) {
		for (size_t i = 0; i < ldns_rr_list_rr_count(rrs);) {
			ldns_rr *rr = ldns_rr_list_rr(rrs, i);
			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
			    ldns_dname_compare(ldns_rr_owner(rr), name) == 0 &&
			    !rr_same_data(rr, in)) {
				ldns_rr_free(list_remove(rrs, i));
				changed = true;
				continue;
			}
			i++;
		}
	}
	/* one TTL per RRset (RFC 2181 5.2): the newest wins */
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		if (ldns_rr_get_type(rr) != t ||
		    ldns_dname_compare(ldns_rr_owner(rr), name) != 0)
			continue;
		if (rr_same_data(rr, in))
			present = true;
		if (ldns_rr_ttl(rr) != ldns_rr_ttl(in)) {
			ldns_rr_set_ttl(rr, ldns_rr_ttl(in));
			changed = true;
		}
	}
	if (!present) {
		ldns_rr *c = ldns_rr_clone(in);
		ldns_dname2canonical(ldns_rr_owner(c));
		ldns_rr_list_push_rr(rrs, c);
		changed = true;
	}
	return changed;
}

/* a minus b, as clones; both sorted by zone_rrs_normalise (ldns_rr_compare
 * order, which ignores the TTL: a TTL change counts as removed + added). */
static ldns_rr_list *
difference(const ldns_rr_list *a, const ldns_rr_list *b)
{
	ldns_rr_list *out = ldns_rr_list_new();
	size_t na = ldns_rr_list_rr_count(a), nb = ldns_rr_list_rr_count(b);
	size_t j = 0;

	for (size_t i = 0; i < na; i++) {
		const ldns_rr *x = ldns_rr_list_rr(a, i);
		int c = 1;
		while (j < nb && (c = ldns_rr_compare(ldns_rr_list_rr(b, j), x)) < 0)
			j++;
		if (j < nb && c == 0 &&
		    ldns_rr_ttl(ldns_rr_list_rr(b, j)) == ldns_rr_ttl(x))
			continue;
		if (ldns_rr_get_type(x) != LDNS_RR_TYPE_SOA)
			ldns_rr_list_push_rr(out, ldns_rr_clone(x));
	}
	return out;
}

static ldns_rr *
find_soa(const ldns_rr_list *rrs)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++)
		if (ldns_rr_get_type(ldns_rr_list_rr(rrs, i)) == LDNS_RR_TYPE_SOA)
			return ldns_rr_list_rr(rrs, i);
	return NULL;
}

int
ddns_apply(struct dnsd *d, struct zone *z, const ldns_pkt *req,
    const char *keyname, const char *id)
{
	const ldns_rr_list *upd = ldns_pkt_authority(req);
	ldns_rr_list *rrs;
	int rc;
	bool changed = false;
	char name[512], err[512];

	if (z->rrs == NULL)
		return LDNS_RCODE_SERVFAIL;
	if ((rc = check_prereqs(z, ldns_pkt_answer(req))) != 0) {
		log_info(id, "update of %s by key %s: prerequisite failed (%s)",
		    z->name, keyname, dns_rcode_name(rc));
		return rc;
	}
	if ((rc = prescan(z, upd)) != 0) {
		log_info(id, "update of %s by key %s refused: malformed update "
		    "section", z->name, keyname);
		return rc;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(upd); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(upd, i);
		name_text(ldns_rr_owner(rr), name, sizeof(name));
		if (!dnsd_may_update(d, keyname, name, ldns_rr_get_type(rr))) {
			char *t = ldns_rr_type2str(ldns_rr_get_type(rr));
			log_info(id, "update of %s by key %s refused: %s %s not "
			    "allowed by the policy", z->name, keyname, name, t);
			free(t);
			return LDNS_RCODE_REFUSED;
		}
	}
	rrs = ldns_rr_list_clone(z->rrs);
	for (size_t i = 0; i < ldns_rr_list_rr_count(upd); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(upd, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		const ldns_rdf *o = ldns_rr_owner(rr);

		switch (ldns_rr_get_class(rr)) {
		case LDNS_RR_CLASS_IN:
			if (t == LDNS_RR_TYPE_SOA)
				break;	/* the serial is ours */
			changed |= add_rr(rrs, rr);
			break;
		case LDNS_RR_CLASS_ANY:
			changed |= remove_rrs(z, rrs, o, t, NULL) > 0;
			break;
		case LDNS_RR_CLASS_NONE:
			if (t == LDNS_RR_TYPE_NS &&
			    ldns_dname_compare(o, z->origin) == 0 &&
			    count_type(rrs, o, t) <= 1)
				break;	/* never the last apex NS */
			changed |= remove_rrs(z, rrs, o, t, rr) > 0;
			break;
		default:
			break;
		}
	}
	if (!changed) {
		ldns_rr_list_deep_free(rrs);
		log_info(id, "update of %s by key %s: nothing to change, serial "
		    "%u", z->name, keyname, zone_serial(z));
		return LDNS_RCODE_NOERROR;
	}
	uint32_t old = zone_serial(z);
	uint32_t serial = serial_next(old, (time_t)dnsd_now(d));
	ldns_rr *soa = find_soa(rrs);
	ldns_rdf *prev = ldns_rr_set_rdf(soa,
	    ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, serial), 2);
	ldns_rdf_deep_free(prev);
	zone_rrs_normalise(rrs);
	ldns_rr_list *removed = difference(z->rrs, rrs);
	ldns_rr_list *added = difference(rrs, z->rrs);
	ldns_rr *old_soa = ldns_rr_clone(zone_soa(z));
	size_t nrem = ldns_rr_list_rr_count(removed);
	size_t nadd = ldns_rr_list_rr_count(added);
	if (d->persist != NULL && d->persist(d, z, rrs, err, sizeof(err),
	    d->arg) != 0) {
		log_warn(id, "update of %s by key %s refused: cannot store the "
		    "zone: %s", z->name, keyname, err);
		ldns_rr_list_deep_free(rrs);
		ldns_rr_free(old_soa);
		ldns_rr_list_deep_free(removed);
		ldns_rr_list_deep_free(added);
		return LDNS_RCODE_SERVFAIL;
	}
	if (zone_commit(z, rrs, err, sizeof(err)) != 0) {
		char err2[512];
		log_warn(id, "update of %s by key %s failed: %s", z->name,
		    keyname, err);
		/* Put the file back to what is served. */
		if (d->persist != NULL && d->persist(d, z, z->rrs, err2,
		    sizeof(err2), d->arg) != 0)
			log_err(id, "zone %s: restoring the file: %s", z->name,
			    err2);
		ldns_rr_free(old_soa);
		ldns_rr_list_deep_free(removed);
		ldns_rr_list_deep_free(added);
		return LDNS_RCODE_SERVFAIL;
	}
	zone_journal_add(z, old_soa, ldns_rr_clone(zone_soa(z)), removed,
	    added);
	log_info(id, "update of %s by key %s: serial %u -> %u, %zu added, "
	    "%zu removed", z->name, keyname, old, serial, nadd, nrem);
	if (d->changed != NULL)
		d->changed(d, z, keyname, d->arg);
	return LDNS_RCODE_NOERROR;
}
