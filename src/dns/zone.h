/*
 * zone.h - the zones ptt-dns serves: loading, checking, signing, writing.
 *
 * A zone keeps two views: rrs, the authoritative data as the zone file
 * (or the last accepted update) says, and db, the served tree (ldns
 * dnssec_zone) built from rrs and, with DNSSEC on, signed (NSEC or NSEC3,
 * ECDSA P-256). Changing a zone means building a new rrs list, then
 * zone_commit(), which builds and signs a new db and swaps it in only when
 * that succeeded; the old one is freed. Nothing is shared between zones.
 *
 * Implements RFC 1035 5 (master files, through ldns), RFC 1982 (serial
 * arithmetic), RFC 4034/4035 (signing, through ldns). Trusts: zone files
 * are checked line by line (names inside the zone, one SOA at the apex,
 * CNAME alone at its name, class IN, no $INCLUDE).
 */
#ifndef PTT_DNSD_ZONE_H
#define PTT_DNSD_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include <ldns/ldns.h>

#define ZONE_JOURNAL_MAX 32

/* One change between two serials (for IXFR, RFC 1995). Owned lists. */
struct zone_diff {
	ldns_rr *old_soa, *new_soa;
	ldns_rr_list *removed, *added;
};

struct zone {
	char *name;			/* "example.test." lowercase */
	ldns_rdf *origin;
	char *path;			/* zone file, or NULL (in memory) */
	struct stat st;			/* of the file as last read or written */
	ldns_rr_list *rrs;		/* sorted, no duplicates; owned */
	ldns_dnssec_zone *db;		/* served; owned with its RRs */
	ldns_rr_list *db_added;		/* list shell of the RRs signing added */
	ldns_key_list *keys;		/* DNSSEC signing keys, or NULL */
	bool nsec3;			/* deny with NSEC3 (RFC 5155, SHA-1, no
					 * salt, 0 iterations per RFC 9276) */
	time_t signed_at;
	struct zone_diff journal[ZONE_JOURNAL_MAX];
	size_t njournal;
	struct zone *next;
};

/* RFC 1982: -1 when a < b, 0 equal, 1 when a > b, 2 when undefined. */
int serial_cmp(uint32_t a, uint32_t b);
/* The next serial after old: old + 1, or the current time when that is
 * greater in RFC 1982 terms (serials that look like Unix time stay so). */
uint32_t serial_next(uint32_t old, time_t now);

/*
 * Parse a zone file for zone name (absolute). On success *out holds the
 * records (sorted, deduplicated; caller frees with ldns_rr_list_deep_free).
 * On failure err holds "file:line: reason" and nothing is returned.
 * With strip_dnssec, RRSIG/NSEC/NSEC3/NSEC3PARAM/DNSKEY records are dropped
 * (the zone will be signed here).
 */
int zone_parse(const char *name, FILE *f, const char *fname,
    bool strip_dnssec, ldns_rr_list **out, char *err, size_t errlen);
/* Check a record list: one SOA at the apex, names inside, CNAME alone.
 * 0 or PTT_EINVAL with a reason. */
int zone_check(const ldns_rdf *origin, const ldns_rr_list *rrs, char *err,
    size_t errlen);
/* Sort and drop duplicate RRs (same owner, type, class and RDATA). */
void zone_rrs_normalise(ldns_rr_list *rrs);

/* A zone with no data yet. Caller frees with zone_free. */
struct zone *zone_new(const char *name);
void zone_free(struct zone *z);
/* The SOA record in rrs, or NULL. */
ldns_rr *zone_soa(const struct zone *z);
uint32_t zone_serial(const struct zone *z);

/*
 * Install rrs (taken over) as the zone's data: build (and sign) the served
 * view and swap it in. On failure nothing changes and rrs is freed.
 * 0 or a PTT_E* code with a reason in err.
 */
int zone_commit(struct zone *z, ldns_rr_list *rrs, char *err, size_t errlen);
/* Re-sign the served view from rrs (signatures nearing expiry). */
int zone_resign(struct zone *z, char *err, size_t errlen);

/*
 * (Re)load z->path when it changed since z->st (or force). 1 when loaded,
 * 0 when unchanged, a PTT_E* code when the file does not parse (err says
 * where; the last good data stays served).
 */
int zone_reload(struct zone *z, bool force, char *err, size_t errlen);
/* Write the zone's rrs to z->path atomically (temp file, fsync, rename,
 * fsync of the directory); updates z->st. 0 or PTT_EIO with a reason. */
int zone_write(struct zone *z, char *err, size_t errlen);
/* The same with rrs (SOA included) instead of the zone's current records:
 * an update is stored before it is served. */
int zone_write_rrs(struct zone *z, const ldns_rr_list *rrs, char *err,
    size_t errlen);

/* Record a change for IXFR (lists taken over). */
void zone_journal_add(struct zone *z, ldns_rr *old_soa, ldns_rr *new_soa,
    ldns_rr_list *removed, ldns_rr_list *added);
void zone_journal_clear(struct zone *z);

/* Longest match among zones for name, or NULL. */
struct zone *zone_find(struct zone *list, const ldns_rdf *name);

/* Is t a DNSSEC record type that signing produces? */
bool type_is_dnssec(ldns_rr_type t);

#endif
