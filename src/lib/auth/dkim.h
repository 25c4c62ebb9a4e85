/*
 * dkim.h - DKIM signing and verification (RFC 6376), with the algorithm
 * rules of RFC 8301 (rsa-sha1 and RSA keys under 1024 bits fail) and
 * Ed25519 (RFC 8463). Also the base that ARC (RFC 8617) signs with.
 *
 * DNS-agnostic: verification is begun on a message, the caller looks up
 * each pending signature's key record (dkim_key_name()) with whatever
 * resolver it has and hands the TXT strings (or the failure) to
 * dkim_verify_key(). Results use RFC 8601's names.
 *
 * Trusts: the private key it is given (signing); nothing in the message or
 * the key records (verification).
 */
#ifndef PTT_AUTH_DKIM_H
#define PTT_AUTH_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "mail/canon.h"
#include "mail/hdr.h"
#include "util/buf.h"

enum dkim_alg { DKIM_RSA_SHA256, DKIM_ED25519_SHA256, DKIM_RSA_SHA1 };

enum dkim_result {
	DKIM_PENDING,	/* key not looked up yet */
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_NEUTRAL,	/* (unused by ptt's verifier; named for AR) */
	DKIM_POLICY,	/* valid but unacceptable (expired, t=s mismatch) */
	DKIM_TEMPERROR,
	DKIM_PERMERROR,
};

/* "pass", "fail", ... (RFC 8601 2.7.1). */
const char *dkim_result_name(enum dkim_result r);

/* ---- signing ---- */

struct dkim_sign {
	const char *domain;		/* d= */
	const char *selector;		/* s= */
	EVP_PKEY *key;			/* RSA (>= 1024 bits) or Ed25519 */
	const char *identity;		/* i=, or NULL */
	time_t now;			/* t= (0: no t=) */
	long expire;			/* x= is now + expire (0: no x=) */
	enum mail_canon hc, bc;		/* header/body canonicalisation */
	const char *const *headers;	/* NULL-terminated; NULL: default list */
	const char *const *oversign;	/* NULL-terminated; NULL: default list */
};

/*
 * Sign msg (a whole message, CRLF line ends) and append the complete
 * "DKIM-Signature: ...\r\n" field to out, to be prepended to the message.
 * Every header named in headers is signed as often as it occurs, and the
 * names in oversign once more, so none can be added later (RFC 6376 8.15).
 * Returns 0 or a PTT_E* code with err.
 */
int dkim_sign(const struct dkim_sign *s, const char *msg, size_t len,
    struct buf *out, char *err, size_t errlen);

/* Load a PEM private key (PKCS#8 or traditional). NULL with err. */
EVP_PKEY *dkim_load_key(const char *path, char *err, size_t errlen);
/* The key record to publish: "v=DKIM1; k=rsa; p=..." (appended). */
int dkim_key_record(EVP_PKEY *key, struct buf *out);

/* ---- verification ---- */

struct dkim_sig {
	size_t field;			/* index of its field in v->hdr */
	enum dkim_result result;
	char reason[128];		/* why, for logs and AR comments */
	enum dkim_alg alg;
	enum mail_canon hc, bc;
	char domain[256];		/* d= (lowercased) */
	char selector[128];		/* s= */
	char identity[320];		/* i= (or "@" d=) */
	char b_prefix[16];		/* first 8 characters of b= (RFC 6008) */
	uint64_t l;			/* l= or UINT64_MAX */
	time_t t, x;			/* 0 when absent */
	bool testing;			/* key t=y */
	int key_bits;			/* RSA modulus size, 256 for Ed25519 */
};

struct dkim_verify {
	struct mail_hdr hdr;
	const char *msg;
	size_t len;
	time_t now;
	struct dkim_sig *sig;
	size_t nsig;
};

/*
 * Parse msg and every DKIM-Signature field (at most max_sigs; further ones
 * get permerror). Malformed signatures get their result at once; the rest
 * are DKIM_PENDING. v must be ended with dkim_verify_end().
 */
int dkim_verify_begin(struct dkim_verify *v, const char *msg, size_t len,
    time_t now, size_t max_sigs);
/* "selector._domainkey.domain" for sig i. */
const char *dkim_key_name(const struct dkim_verify *v, size_t i, char *buf,
    size_t len);

enum dkim_dns { DKIM_DNS_OK, DKIM_DNS_NOTFOUND, DKIM_DNS_TEMPFAIL };
/* Complete sig i with its key lookup: st and, when OK, the TXT records
 * (each one's strings already joined). Sets v->sig[i].result. */
void dkim_verify_key(struct dkim_verify *v, size_t i, enum dkim_dns st,
    const char *const *txt, size_t ntxt);
void dkim_verify_end(struct dkim_verify *v);

/* Lower-level pieces shared with ARC. */
/* Hash the canonical body with SHA-256 (l: byte limit or UINT64_MAX);
 * *length gets the whole canonical length. */
int dkim_body_hash(const char *body, size_t len, enum mail_canon c,
    uint64_t l, unsigned char out[32], uint64_t *length);
/* Append the canonicalised headers named in hlist ("from:to:...", bottom-up
 * selection per RFC 6376 5.4.2), then the signature field itself with its
 * b= value removed and no final CRLF. */
int dkim_header_data(const struct mail_hdr *h, enum mail_canon c,
    const char *hlist, size_t hlen, const char *sigraw, size_t siglen,
    struct buf *out);

/* Shared with ARC (RFC 8617 signs the same way). */
/* Sign (sign != 0, *siglen in: room, out: length) or verify data with key:
 * RSASSA-PKCS1-v1_5 over SHA-256, or Ed25519 over the SHA-256 hash (RFC
 * 8463 3). 0 or PTT_ECRYPTO. */
int dkim_crypto(EVP_PKEY *key, int sign, const unsigned char *data,
    size_t len, unsigned char *sig, size_t *siglen);
/* The public key of a key record (RFC 6376 3.6.1) for alg, or NULL with
 * why; testing/strict (may be NULL) get the t=y / t=s flags. */
EVP_PKEY *dkim_key_from_record(const char *txt, enum dkim_alg alg,
    bool *testing, bool *strict, const char **why);
/* Strict base64 (whitespace allowed, nothing else) into out[max]. */
int dkim_b64_strict(const char *val, size_t len, unsigned char *out,
    size_t max, size_t *n);
/* Append s to a field being built, folding before it past column 78. */
void dkim_fold_add(struct buf *b, size_t *col, const char *s, size_t n);
/* Append the base64 of sig folded at 78 columns, then CRLF. */
void dkim_add_b(struct buf *field, size_t col, const unsigned char *sig,
    size_t siglen);

#endif
