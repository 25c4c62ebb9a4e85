/*
 * srs.h - Sender Rewriting Scheme, in the de facto format of libsrs2 and
 * PostSRSd (Shevek's "SRS" paper, 2004):
 *
 *   SRS0=HHHH=TT=orig-domain=orig-local@forward-domain
 *   SRS1=HHHH=first-forward-domain==HHHH=TT=orig-domain=orig-local@fwd
 *
 * HHHH: the first hash_len characters of base64(HMAC(secret, data)), data
 * being the lowercased concatenation of TT, orig-domain and orig-local
 * (SRS0) or of first-forward-domain and the SRS0 part after "SRS0"
 * (SRS1); compared case-insensitively, since mailers fold case. TT: the
 * day (Unix time / 86400) mod 1024 in two base32 characters (A-Z2-7).
 * After "SRS0"/"SRS1" the separator may be '=', '+' or '-'.
 *
 * Trusts: the secrets it is given; nothing in the addresses it reverses.
 */
#ifndef PTT_AUTH_SRS_H
#define PTT_AUTH_SRS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Errors (negative, distinct from PTT_E*; srs_strerror() names them). */
enum {
	SRS_ENOTSRS = -100,	/* not an SRS address (reverse) */
	SRS_ESYNTAX = -101,	/* looks like SRS but is malformed */
	SRS_EFORGED = -102,	/* hash does not match any secret */
	SRS_EEXPIRED = -103,	/* timestamp older than max_age days */
	SRS_ENOAT = -104,	/* address without '@', or empty parts */
	SRS_ESPACE = -105,	/* result does not fit the output buffer */
	SRS_ECRYPTO = -106,	/* HMAC failed */
};

enum srs_alg { SRS_HMAC_SHA1, SRS_HMAC_SHA256 };

struct srs_secret {
	const void *key;
	size_t len;
};

struct srs {
	const struct srs_secret *secrets;	/* [0] signs, all verify */
	size_t nsecrets;			/* >= 1 */
	enum srs_alg alg;			/* SHA-1 is PostSRSd's */
	unsigned hash_len;			/* 0: 4 (libsrs2's default) */
	unsigned max_age;			/* days; 0: 21 */
	char sep;				/* 0: '=' */
};

/*
 * Rewrite the envelope sender addr for forwarding from fwd_domain: an
 * address already in fwd_domain is copied unchanged, an SRS0 one becomes
 * SRS1, an SRS1 one keeps its origin and gets a new hash, any other one
 * becomes SRS0. out gets a NUL-terminated address. 0 or SRS_E* (a
 * domain with '=' in it is SRS_ESYNTAX: it could not be reversed).
 */
int srs_forward(const struct srs *s, const char *addr, const char *fwd_domain,
    time_t now, char *out, size_t outlen);

/*
 * Undo one rewriting of addr (SRS0 gives the original address, SRS1 the
 * SRS0 address at the first forwarder), checking the hash and, for SRS0,
 * the age. 0, SRS_ENOTSRS for an address that is not SRS at all, or
 * another SRS_E* for one that must be refused.
 */
int srs_reverse(const struct srs *s, const char *addr, time_t now, char *out,
    size_t outlen);

/* Does addr's local part start like an SRS address ("SRS0=", "srs1+" ...)? */
bool srs_is_srs(const char *addr);

/*
 * The secrets file shared by the mx (which checks SRS addresses of
 * bounces) and the relay (which makes them): one secret per line, the
 * first signs and every one verifies (rotation: put a new line first),
 * empty lines and lines starting with '#' ignored, each secret 16 to 256
 * bytes. It must be a regular file that grants nothing to group or
 * others (0600), like every secret of the state directory.
 */
#define SRS_SECRETS_MAX 8

struct srs_keyfile {
	struct srs_secret sec[SRS_SECRETS_MAX];	/* point into text */
	size_t n;
	char *text;		/* the file (owned; wiped by srs_keyfile_free) */
	size_t len;
};

/*
 * Load the secrets of path into kf (zeroed by the caller). With create,
 * a missing file is made first: 32 random bytes in base64, mode 0600,
 * written to a temporary file, fsync'd and linked into place, so two
 * services starting at once end up with the same secret (the loser of the
 * race reads the winner's). 0, or a PTT_E* code with the reason in err.
 */
int srs_keyfile_load(struct srs_keyfile *kf, const char *path, bool create,
    char *err, size_t errlen);
void srs_keyfile_free(struct srs_keyfile *kf);

const char *srs_strerror(int err);

#endif
