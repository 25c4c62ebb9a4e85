/*
 * fake.h - a scripted resolver backend for unit tests (no network).
 *
 * Records are added by API or loaded from text, one per line:
 *
 *	# comment
 *	name TYPE rdata...	record; rdata in zone-file syntax (RFC 1035
 *				5.1, parsed by ldns), e.g.
 *				  example.com TXT "v=spf1 " "-all"
 *				  example.com MX 10 mx.example.com.
 *	name TYPE !tempfail	that type answers TEMPFAIL (SERVFAIL/timeout)
 *	name * !tempfail	every type of name without records of its
 *				own answers TEMPFAIL
 *	name TYPE !bogus	DNSSEC-bogus answer (name * !bogus too)
 *	name * !secure		answers for name are DNSSEC-secure
 *
 * Lookups are case-insensitive. Answer rules: records of the type -> OK;
 * an injected failure -> that; a CNAME at the name -> followed (8 hops at
 * most; a loop gives TEMPFAIL); records of other types at the name or at
 * a name below it -> NODATA; otherwise NXDOMAIN. Answers are delivered
 * from the event loop like the real backend's. Every query is counted.
 *
 * The fake belongs to its resolver and is freed by resolver_free().
 */
#ifndef PTT_DNS_FAKE_H
#define PTT_DNS_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "dns/resolve.h"

struct fake_dns;

struct resolver *resolver_fake_new(struct event_base *base);
/* The fake behind a resolver made by resolver_fake_new (else NULL). */
struct fake_dns *resolver_fake(struct resolver *r);

/* Add a record; rdata in zone-file text. Returns 0 or PTT_EINVAL. */
int fake_dns_add(struct fake_dns *f, const char *name, uint16_t type,
    const char *rdata);
/* Add a record from wire-format rdata. */
int fake_dns_add_rdata(struct fake_dns *f, const char *name, uint16_t type,
    const void *rdata, size_t len);
/* Inject an answer status (DNS_TEMPFAIL, DNS_BOGUS, DNS_NXDOMAIN) for
 * name and type (0: any type without records of its own). */
int fake_dns_fail(struct fake_dns *f, const char *name, uint16_t type,
    enum dns_status st);
/* Mark the answers for name as DNSSEC-secure. */
int fake_dns_secure(struct fake_dns *f, const char *name);
/* Load lines as described above from a NUL-terminated text. On error
 * returns PTT_EINVAL and sets *lineno to the offending line. */
int fake_dns_load(struct fake_dns *f, const char *text, unsigned *lineno);
/* Load a file; PTT_EIO when it cannot be read. */
int fake_dns_load_file(struct fake_dns *f, const char *path,
    unsigned *lineno);
/* Forget every record, failure and counter. */
void fake_dns_clear(struct fake_dns *f);
/* Queries seen for name and type (type 0: any type; name NULL: any). */
unsigned fake_dns_count(const struct fake_dns *f, const char *name,
    uint16_t type);

/* Parse a type mnemonic ("TXT", "MX", ...) or "TYPEnn"; 0 if unknown. */
uint16_t fake_dns_type(const char *s);

#endif
