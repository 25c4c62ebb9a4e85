/*
 * check.h - the mx's verdict on one message: SPF (RFC 7208) for MAIL FROM
 * and for HELO, DKIM (RFC 6376) for every signature, DMARC (RFC 7489) for
 * the From domain, and the Authentication-Results field (RFC 8601) that
 * reports them, as one asynchronous operation over a resolver.
 *
 * Order: both SPF checks and every DKIM key lookup run at once; DMARC
 * runs when they are done (it needs the SPF and DKIM passes); then the
 * callback runs once, from the event loop.
 *
 * Temporary failure. A DNS failure (timeout, SERVFAIL, DNSSEC bogus) must
 * never turn into a wrong verdict, so `temporary` is set when a result
 * that decides what happens to the message is unknown:
 *   - DMARC itself is temperror (the policy could not be found), or
 *   - DMARC fails under a policy of quarantine or reject while the SPF
 *     identity it uses or a DKIM signature is temperror (that identifier
 *     could have passed and aligned), or
 *   - the whole check ran out of time (timeout_ms) before a decision.
 * The mx answers 451 4.4.3 then. A temperror that decides nothing (no
 * DMARC policy, or DMARC passed through another identifier) is only
 * reported.
 *
 * ARC (RFC 8617): the arriving chain is validated with auth/arc.h (its
 * key lookups run with DKIM's) and reported as arc=none/pass/fail/
 * temperror; trusted_arc is set when it passes and its latest seal was
 * made by a domain of arc_trusted. An ARC temperror decides (temporary)
 * only when arc_trusted is set and DMARC fails under a policy.
 *
 * Trusts: nothing in the message or in DNS answers; the request comes
 * from the SMTP engine.
 */
#ifndef PTT_AUTH_CHECK_H
#define PTT_AUTH_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/spf.h"
#include "dns/resolve.h"

struct check_request {
	const char *ip;		/* client address, text (IPv4 or IPv6) */
	const char *helo;	/* HELO/EHLO argument ("" or NULL: none) */
	const char *mail_from;	/* envelope sender without <> ("" or NULL:
				 * the null reverse-path) */
	const char *receiver;	/* our host name (SPF %{r}); NULL: unknown */
	const char *authserv_id; /* for the AR field (required) */
	const void *msg;	/* the whole message, CRLF line ends; must
				 * stay valid until the callback ran or the
				 * check was cancelled */
	size_t len;
	time_t now;		/* 0: time(NULL) */
	unsigned timeout_ms;	/* whole check; 0: 30000 */
	size_t max_sigs;	/* DKIM signatures verified; 0: 8 */
	const char *arc_trusted; /* sealer domains (comma- or space-
				 * separated) whose passing ARC chain makes
				 * trusted_arc true; NULL: none */
	/* DMARC pct sampling (NULL: random). */
	unsigned (*rand100)(void *arg);
	void *rand_arg;
};

struct check_dkim {
	enum dkim_result result;
	char domain[256];
	char selector[128];
	char identity[320];
	char b_prefix[16];
	const char *alg;	/* "rsa-sha256", ... (static) */
	char reason[128];
};

struct check_result {
	/* SPF, MAIL FROM identity (for a null path: postmaster@HELO). */
	enum spf_result spf;
	char spf_sender[512];	/* the <sender> checked */
	char spf_domain[256];
	char spf_problem[128];	/* why temperror/permerror, or "" */
	/* SPF, HELO identity. */
	enum spf_result spf_helo;
	/* DKIM, one per signature (ndkim 0: unsigned). */
	struct check_dkim *dkim;
	size_t ndkim;
	/* DMARC. */
	enum dmarc_result dmarc;
	enum dmarc_policy dmarc_policy;		/* p or sp as it applies */
	enum dmarc_policy dmarc_disposition;	/* after pct; none unless fail */
	char from_domain[256];			/* "" when none was found */
	char dmarc_problem[128];
	/* ARC. */
	const char *arc;	/* "none", "pass", "fail", "temperror" */
	bool trusted_arc;	/* a trusted ARC chain vouches for it */
	/* The verdict. */
	bool temporary;		/* answer 451 4.4.3 (see above) */
	char temp_reason[128];
	/* The complete field, "Authentication-Results: ...\r\n". */
	char *ar_field;
	size_t ar_len;
};

/* Called once from the event loop; r is valid during the call only. */
typedef void check_cb(const struct check_result *r, void *arg);

struct check;

/* Start a check (req's strings are copied, not msg). Never NULL. */
struct check *check_message(struct resolver *res,
    const struct check_request *req, check_cb *cb, void *arg);
/* Abandon a check whose callback has not run. */
void check_cancel(struct check *c);

/* One line for logs: "spf=pass dkim=pass:example.org dmarc=pass ...". */
void check_summary(const struct check_result *r, char *out, size_t len);

#endif
