/*
 * query.h - answering a standard query from one zone's served tree.
 *
 * Implements the authoritative part of RFC 1034 4.3.2 (answers with AA,
 * referrals with glue, CNAME chasing within the zone, NXDOMAIN/NODATA
 * with the SOA, RFC 2308 3), wildcards (RFC 4592), minimal ANY (RFC 8482
 * 4.1: one RRset) and, when the query asked for DNSSEC (DO), the RRSIGs
 * and NSEC denial proofs of RFC 4035 3.1.
 * Trusts: qname and qtype come from a parsed query; the zone is ours.
 */
#ifndef PTT_DNSD_QUERY_H
#define PTT_DNSD_QUERY_H

#include <stdbool.h>

#include <ldns/ldns.h>

#include "zone.h"

/*
 * Fill the answer, authority and additional sections of resp (which
 * already holds the question) and set AA and the RCODE.
 */
void query_answer(const struct zone *z, const ldns_rdf *qname,
    ldns_rr_type qtype, bool dnssec, ldns_pkt *resp);

/* The served node for an exact name, or NULL. */
ldns_dnssec_name *query_lookup(const ldns_dnssec_zone *db,
    const ldns_rdf *name);
/* Does name exist in db (with records, or as an empty non-terminal)? */
bool query_name_exists(const ldns_dnssec_zone *db, const ldns_rdf *name);

#endif
