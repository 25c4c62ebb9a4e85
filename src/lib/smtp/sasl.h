/*
 * sasl.h - SMTP server side: SASL PLAIN (RFC 4616) and LOGIN exchanges for
 * the AUTH command (RFC 4954), and strict base64 (RFC 4648 4).
 *
 * The server drives one struct sasl per AUTH command: sasl_start() with
 * the mechanism and optional initial response, then sasl_step() with each
 * client line, until the result is SASL_DONE (credentials decoded) or
 * SASL_FAIL (a status to answer). No verification happens here: the caller
 * hands user and password to its hook.
 *
 * Trusts nothing: every client line is untrusted. Decoded credentials live
 * in the struct and are wiped by sasl_clear(); NUL bytes inside a user name
 * or password are refused.
 */
#ifndef PTT_SMTP_SASL_H
#define PTT_SMTP_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "smtp/proto.h"

#define SASL_MAX_FIELD	255	/* user, authzid, password */

enum sasl_mech { SASL_MECH_NONE = 0, SASL_MECH_PLAIN, SASL_MECH_LOGIN };

enum sasl_result {
	SASL_CONTINUE,	/* send "334 " + s->challenge, then call sasl_step */
	SASL_DONE,	/* s->authzid, s->user, s->pass are set */
	SASL_FAIL,	/* answer with s->status */
};

struct sasl {
	enum sasl_mech mech;
	int step;
	const char *challenge;	/* base64 text for the 334 reply (static) */
	enum smtp_status status;
	char authzid[SASL_MAX_FIELD + 1];
	char user[SASL_MAX_FIELD + 1];
	char pass[SASL_MAX_FIELD + 1];
};

/* The mechanism named (upper case), or SASL_MECH_NONE. */
enum sasl_mech sasl_mech_by_name(const char *name);

/* Begin an exchange. ir/irlen: the initial response (RFC 4954 4), NULL
 * when absent; "=" is an empty one. */
enum sasl_result sasl_start(struct sasl *s, enum sasl_mech mech,
    const char *ir, size_t irlen);
/* One client line (without CRLF). "*" cancels (SMTP_ST_AUTH_CANCELLED). */
enum sasl_result sasl_step(struct sasl *s, const char *line, size_t len);
/* Wipe the credentials. */
void sasl_clear(struct sasl *s);

/*
 * Strict base64 decode (RFC 4648 4: padding required, no whitespace, no
 * other characters, zero pad bits). Returns the decoded length or -1; out
 * gets at most outlen bytes (-1 when it would need more).
 */
long sasl_b64_decode(const char *in, size_t len, unsigned char *out, size_t outlen);

/*
 * PLAIN message (RFC 4616 2): [authzid] NUL authcid NUL passwd. Splits into
 * the three fields (NUL-terminated; each at most SASL_MAX_FIELD). 0 or
 * PTT_EINVAL.
 */
int sasl_plain_split(const unsigned char *msg, size_t len, char *authzid,
    char *user, char *pass);

#endif
