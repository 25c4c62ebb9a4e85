/*
 * spf.h - Sender Policy Framework verification (RFC 7208).
 *
 * check_host() complete: record selection (4.5), strict record syntax
 * (4.6, 12), every mechanism (5) and modifier (6), macros (7) including
 * %{p} with a validated PTR name and the exp= explanation with c/r/t, the
 * limits of 4.6.4 (10 DNS-querying terms, 2 void lookups, 10 MX and 10 PTR
 * names per term), the HELO identity and postmaster@HELO for an empty MAIL
 * FROM (2.3, 2.4, 4.3), and all seven results (2.6).
 *
 * Asynchronous over the resolver interface (dns/resolve.h): spf_check()
 * returns at once and calls back from the event loop. Internally the
 * evaluation is a pure function of the DNS answers: it runs until it needs
 * an answer it does not have, asks for it, and runs again from the start
 * when the answer arrives (answers are cached per check, so every lookup
 * is made once). Limits are counted per run, so they are exact.
 *
 * A DNS TEMPFAIL or a DNSSEC-bogus answer where a record is needed gives
 * temperror, never a guessed verdict.
 */
#ifndef PTT_AUTH_SPF_H
#define PTT_AUTH_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <netinet/in.h>

#include "dns/resolve.h"
#include "util/buf.h"

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

struct spf_request {
	int af;				/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;	/* v4-mapped is treated as IPv4 */
	} ip;
	const char *mail_from;	/* envelope sender without <>; "" or NULL
				 * for the null reverse-path */
	const char *helo;	/* HELO/EHLO argument (NULL: "") */
	const char *receiver;	/* %{r}; NULL: "unknown" */
	bool helo_identity;	/* check HELO instead of MAIL FROM */
	time_t now;		/* %{t}; 0: time(NULL) */
	unsigned max_dns_queries; /* safety cap on distinct queries per
				 * check; 0: 256 */
	unsigned timeout_ms;	/* whole check (4.6.4 suggests at least
				 * 20 s); then temperror. 0: 20000 */
};

struct spf_outcome {
	enum spf_result result;
	const char *identity;	/* "mailfrom" or "helo" */
	const char *domain;	/* the domain checked, "" if none */
	const char *sender;	/* <sender> used for the check */
	const char *explanation; /* fail with a usable exp=: expanded text;
				 * else NULL */
	const char *mechanism;	/* the term that decided, or NULL */
	const char *problem;	/* why temperror/permerror/none, or NULL */
	unsigned dns_terms;	/* DNS-querying terms counted */
	unsigned void_lookups;
};

/* Called once from the event loop; o and its strings are valid only
 * during the call. */
typedef void spf_cb(const struct spf_outcome *o, void *arg);

struct spf_check;

/* Start a check. req's strings are copied. Never NULL. */
struct spf_check *spf_check(struct resolver *r, const struct spf_request *req,
    spf_cb *cb, void *arg);
/* Abandon a check whose callback has not run. */
void spf_check_cancel(struct spf_check *c);

/* "pass", "fail", ... (RFC 7208 2.6, as in Received-SPF and RFC 8601). */
const char *spf_result_str(enum spf_result r);

/*
 * Syntax of one record (the TXT text, len bytes): 0 when it is a valid
 * v=spf1 record, PTT_EINVAL otherwise with a reason in err (may be NULL).
 */
int spf_record_check(const char *rec, size_t len, char *err, size_t errlen);

/*
 * Expand a macro-string (RFC 7208 7) for req with <domain> = domain,
 * appending to out. explain: an explain-string (SP allowed, c/r/t
 * allowed). %{p} expands to "unknown" here (no DNS). Returns 0 or
 * PTT_EINVAL for a syntax error.
 */
int spf_expand(const struct spf_request *req, const char *domain,
    const char *s, size_t len, bool explain, struct buf *out);

#endif
