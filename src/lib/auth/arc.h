/*
 * arc.h - Authenticated Received Chain (RFC 8617): validation of an
 * arriving chain and sealing of a new ARC Set.
 *
 * ARC-Message-Signature is a DKIM-like signature and ARC-Seal a signature
 * over the chain's header fields with relaxed canonicalisation (RFC 8617
 * 5.1); both use the canonicalisation and key records of dkim.h, with
 * rsa-sha256 and ed25519-sha256 (RFC 8463) as for DKIM.
 *
 * Validation is DNS-agnostic, like dkim.h: arc_verify_begin() parses the
 * chain and lists the signatures still to check (v->chk); the caller looks
 * each one's key up (arc_key_name()) and hands the TXT strings, or the
 * failure, to arc_verify_key(); arc_verify_finish() then gives the Chain
 * Validation Status (RFC 8617 5.2) and, when asked, the oldest-pass.
 *
 * Trusts: nothing in the message or the key records (validation); the key
 * and the chain validation status it is given (sealing) - the sealer must
 * have validated the arriving chain itself, or be told by whoever did.
 */
#ifndef PTT_AUTH_ARC_H
#define PTT_AUTH_ARC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "auth/dkim.h"
#include "mail/hdr.h"
#include "util/buf.h"

#define ARC_MAX_INSTANCES 50	/* RFC 8617 4.2.1 */

/* Chain Validation Status (RFC 8617 4.4), plus temperror: a key lookup
 * failed temporarily, so no verdict could be reached (the mx answers 4xx
 * rather than record a wrong one). */
enum arc_cv { ARC_NONE, ARC_PASS, ARC_FAIL, ARC_TEMPERROR };

/* "none", "pass", "fail", "temperror" (RFC 8617 4.4, RFC 8601). */
const char *arc_cv_name(enum arc_cv cv);

/* ---- validation ---- */

/* One signature of the chain to check: an AMS or an AS of an instance. */
struct arc_check {
	unsigned instance;
	bool seal;			/* ARC-Seal (else ARC-Message-Signature) */
	size_t field;			/* its field in v->hdr */
	enum dkim_alg alg;
	enum mail_canon hc, bc;		/* AMS: c=; AS: always relaxed */
	char domain[256];		/* d= (lowercased) */
	char selector[128];		/* s= */
	enum dkim_result result;	/* DKIM_PENDING until its key comes */
	char reason[96];
};

struct arc_verify {
	struct mail_hdr hdr;
	time_t now;
	unsigned n;			/* instances in the chain (0: none) */
	/* field index of each instance's headers, [1..n] */
	size_t aar[ARC_MAX_INSTANCES + 1];
	size_t ams[ARC_MAX_INSTANCES + 1];
	size_t as[ARC_MAX_INSTANCES + 1];
	struct arc_check *chk;		/* signatures to check (owned) */
	size_t nchk;
	enum arc_cv result;		/* set by begin when decided early */
	bool decided;			/* structure or cv= already failed */
	unsigned oldest_pass;		/* RFC 8617 5.2 step 5 (0: all pass) */
	bool want_oldest;
	char reason[128];		/* why, for logs and AR comments */
	/* body hashes by canonicalisation, computed once for all AMSs */
	unsigned char bh[2][32];
	int bh_state[2];		/* 0 not yet, 1 done, -1 failed */
};

/*
 * Parse msg (whole message, CRLF or LF line ends; not copied: it must
 * outlive v) and its ARC header fields; check the structure (instances
 * 1..n contiguous, exactly one AAR, AMS and AS each, n <= 50, no h= in
 * an AS, cv=none on instance 1 and cv=pass on the others). On a broken
 * chain v->result is ARC_FAIL at once and nothing is left to check; with
 * no chain ARC_NONE. Otherwise v->chk lists the latest AMS, every AS and,
 * when oldest_pass, the older AMSs too. Returns 0; v must be ended with
 * arc_verify_end().
 */
int arc_verify_begin(struct arc_verify *v, const char *msg, size_t len,
    time_t now, bool oldest_pass);
/* "selector._domainkey.domain" of check i. */
const char *arc_key_name(const struct arc_verify *v, size_t i, char *buf,
    size_t len);
/* Complete check i with its key lookup (as dkim_verify_key()). */
void arc_verify_key(struct arc_verify *v, size_t i, enum dkim_dns st,
    const char *const *txt, size_t ntxt);
/* The chain's status once every check has its key (checks still pending
 * count as failed lookups). Sets v->result, v->reason, v->oldest_pass. */
enum arc_cv arc_verify_finish(struct arc_verify *v);
void arc_verify_end(struct arc_verify *v);

/*
 * Append the Authentication-Results method result for the chain, e.g.
 *   arc=pass (i=2 d=lists.example; aar: lists.example; spf=pass ...)
 *     header.oldest-pass=0 smtp.remote-ip=192.0.2.1
 * (one line; the comment carries the latest instance, its seal's d= and
 * its AAR without parentheses or backslashes). remote_ip may be NULL.
 */
int arc_ar_result(const struct arc_verify *v, const char *remote_ip,
    struct buf *out);

/* ---- sealing ---- */

struct arc_seal {
	const char *domain;		/* d= of AMS and AS */
	const char *selector;		/* s= */
	EVP_PKEY *key;			/* RSA (>= 1024 bits) or Ed25519 */
	const char *authserv_id;	/* our Authentication-Results to copy */
	enum arc_cv cv;			/* status of the arriving chain */
	time_t now;			/* t= (0: no t=) */
	const char *const *headers;	/* AMS h=, NULL-terminated; NULL: default */
};

/*
 * Seal msg (whole message with our Authentication-Results already in it)
 * as instance N+1 of the chain it carries, and append the three new
 * fields ("ARC-Seal: ...\r\nARC-Message-Signature: ...\r\n
 * ARC-Authentication-Results: ...\r\n") to out, to be prepended to the
 * message. The AAR copies the results of every Authentication-Results
 * field whose authserv-id is s->authserv_id ("none" when there is none).
 * With cv ARC_FAIL (or ARC_TEMPERROR, sealed as fail) the seal covers its
 * own set only (RFC 8617 5.1.2); cv must be ARC_NONE exactly when the
 * message has no chain. PTT_ERANGE when the chain already has 50
 * instances, PTT_EINVAL on a bad key, a missing From, a wrong cv or a
 * message whose first line is a continuation (it would fold into ours).
 */
int arc_seal(const struct arc_seal *s, const char *msg, size_t len,
    struct buf *out, char *err, size_t errlen);

/*
 * The status an earlier hop of ours recorded: the "arc=" result in the
 * Authentication-Results fields with authserv-id id (parsed by authres.h;
 * the last field wins). ARC_NONE when there is none; a result other than
 * none or pass, or a field of ours that does not parse, is ARC_FAIL. For
 * a sealer that trusts the validator that wrote it.
 */
enum arc_cv arc_cv_from_ar(const struct mail_hdr *h, const char *id);

/* Highest instance of any ARC field in h (0: no chain). */
unsigned arc_instances(const struct mail_hdr *h);

#endif
