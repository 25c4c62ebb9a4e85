/*
 * dmarc.h - DMARC policy records, discovery and verdicts (RFC 7489).
 *
 * Record syntax (6.3, 6.4), policy discovery through the organizational
 * domain (3.2, 6.6.3) taken from the Public Suffix List with libpsl,
 * identifier alignment (3.1, strict and relaxed), the verdict and the
 * policy to apply (6.6.2, 6.6.4), pct sampling with the one-step downgrade
 * (6.6.4: reject -> quarantine -> none).
 *
 * Verdicts (as RFC 8601 names them):
 *   none       no DMARC record for the From domain or its organizational
 *              domain
 *   pass       an aligned SPF or DKIM pass
 *   fail       a record exists and nothing aligned passed
 *   temperror  a DNS failure during discovery (TEMPFAIL or DNSSEC bogus):
 *              the caller answers 4xx, never a guessed verdict
 *   permerror  the record set is unusable: several v=DMARC1 records, or a
 *              record with no valid p= / sp= and no valid rua= (6.6.3
 *              says to apply no DMARC processing; the record is reported)
 * The disposition is what the policy asks for after sampling; it is
 * DMARC_P_NONE for every verdict but fail.
 */
#ifndef PTT_AUTH_DMARC_H
#define PTT_AUTH_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/resolve.h"

enum dmarc_policy {
	DMARC_P_NONE,
	DMARC_P_QUARANTINE,
	DMARC_P_REJECT,
};

enum dmarc_result {
	DMARC_NONE,
	DMARC_PASS,
	DMARC_FAIL,
	DMARC_TEMPERROR,
	DMARC_PERMERROR,
};

enum dmarc_fo {
	DMARC_FO_0 = 1,		/* report if all mechanisms fail (default) */
	DMARC_FO_1 = 2,		/* report if any mechanism fails */
	DMARC_FO_D = 4,		/* DKIM failure report */
	DMARC_FO_S = 8,		/* SPF failure report */
};

struct dmarc_uri {
	char *uri;		/* as published (no "!size" suffix) */
	uint64_t max_bytes;	/* 0: no limit given */
};

struct dmarc_record {
	bool p_valid;		/* p= present and valid */
	enum dmarc_policy p;
	bool sp_present, sp_valid;
	enum dmarc_policy sp;	/* == p when absent */
	bool adkim_strict, aspf_strict;
	unsigned pct;		/* 0..100, default 100 */
	bool pct_present;
	unsigned fo;		/* DMARC_FO_* bits, default DMARC_FO_0 */
	bool rf_afrf;		/* rf=afrf (the only format defined) */
	uint32_t ri;		/* default 86400 */
	struct dmarc_uri *rua, *ruf;	/* syntactically valid URIs only */
	size_t nrua, nruf;
	unsigned bad_tags;	/* tags with an invalid value (ignored) */
};

/*
 * Parse a TXT record. Returns 0 when it is a DMARC record (first tag
 * v=DMARC1), even if p= is missing or invalid (see p_valid, sp_valid: the
 * caller applies 6.6.3). PTT_EINVAL when it is not a DMARC record or its
 * tag-list syntax is broken; err (may be NULL) says why. Free with
 * dmarc_record_free() after a 0 return.
 */
int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *rec,
    char *err, size_t errlen);
void dmarc_record_free(struct dmarc_record *rec);

/* Does the TXT text start with the v=DMARC1 tag (discovery, 6.6.3)? */
bool dmarc_is_record(const char *txt, size_t len);

/*
 * The organizational domain of domain (3.2) into out: the registrable
 * domain by the Public Suffix List, or the domain itself when it is a
 * public suffix or has a single label. Lowercase, no trailing dot.
 * Returns 0 or PTT_EINVAL (malformed domain or out too small).
 */
int dmarc_org_domain(const char *domain, char *out, size_t outlen);
/* Use this PSL file instead of libpsl's latest (builtin or system list);
 * NULL restores the default. Returns 0 or PTT_EIO. */
int dmarc_set_psl_file(const char *path);

/* Identifier alignment (3.1): strict is equality, relaxed is equal
 * organizational domains. Case-insensitive. */
bool dmarc_aligned(const char *a, const char *b, bool strict);

struct dmarc_request {
	const char *from_domain;	/* RFC5322.From domain */
	bool spf_pass;			/* SPF result was pass ... */
	const char *spf_domain;		/* ... for this domain (MAIL FROM,
					 * or HELO for a null path) */
	const char *const *dkim_pass;	/* d= of the signatures that passed */
	size_t ndkim_pass;
	/* Random integer in 0..99 for pct sampling; NULL: arc4random-like
	 * (getrandom). */
	unsigned (*rand100)(void *arg);
	void *rand_arg;
};

struct dmarc_outcome {
	enum dmarc_result result;
	enum dmarc_policy policy;	/* p or sp as it applies (none if no
					 * usable record) */
	enum dmarc_policy disposition;	/* after pct sampling */
	bool sampled_out;		/* pct sampling lowered the policy */
	bool spf_aligned, dkim_aligned;
	const char *from_domain;
	const char *org_domain;
	const char *record_domain;	/* where the record was found, or NULL */
	const struct dmarc_record *record;	/* NULL if none usable */
	const char *problem;		/* for none/temperror/permerror */
};

typedef void dmarc_cb(const struct dmarc_outcome *o, void *arg);
struct dmarc_check;

/* Start policy discovery and evaluation; the callback runs once from the
 * event loop (o valid during the call only). req is copied. */
struct dmarc_check *dmarc_check(struct resolver *r,
    const struct dmarc_request *req, dmarc_cb *cb, void *arg);
void dmarc_check_cancel(struct dmarc_check *c);

const char *dmarc_result_str(enum dmarc_result r);
const char *dmarc_policy_str(enum dmarc_policy p);

#endif
