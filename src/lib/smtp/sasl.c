/*
 * sasl.c - SMTP server side: SASL PLAIN (RFC 4616) and LOGIN for AUTH
 * (RFC 4954 4: initial response, "=" for an empty one, "*" to cancel,
 * 334 challenges), and a strict base64 decoder (RFC 4648 4).
 *
 * LOGIN is the de-facto mechanism (draft-murchison-sasl-login): challenges
 * "Username:" and "Password:", each answered with one base64 line; an
 * initial response is the user name.
 *
 * Trusts nothing: all input comes from the client. Fields are bounded
 * (SASL_MAX_FIELD) and must not contain NUL; UTF-8 is checked.
 */
#include "smtp/sasl.h"

#include <string.h>

#include "util/err.h"
#include "util/mem.h"

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
sasl_b64_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	size_t i, n = 0;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		const unsigned char *q = (const unsigned char *)in + i;
		int v[4], k, pad = 0;
		unsigned long w;

		for (k = 0; k < 4; k++) {
			if (q[k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad || (v[k] = b64val(q[k])) < 0)
				return -1;
		}
		w = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
		    (unsigned long)v[2] << 6 | (unsigned long)v[3];
		/* unused bits of the last group must be zero */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -1;
		if (n + 3 - (size_t)pad > outlen)
			return -1;
		out[n++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[n++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[n++] = (unsigned char)w;
	}
	return (long)n;
}

/* Copy one field: no NUL, valid UTF-8, at most SASL_MAX_FIELD bytes. */
static int
field(char *dst, const unsigned char *p, size_t n)
{
	if (n > SASL_MAX_FIELD || memchr(p, '\0', n) != NULL ||
	    !smtp_utf8_valid(p, n))
		return PTT_EINVAL;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

int
sasl_plain_split(const unsigned char *msg, size_t len, char *authzid,
    char *user, char *pass)
{
	const unsigned char *z1, *z2;

	if ((z1 = memchr(msg, '\0', len)) == NULL)
		return PTT_EINVAL;
	z2 = memchr(z1 + 1, '\0', len - (size_t)(z1 + 1 - msg));
	if (z2 == NULL)
		return PTT_EINVAL;
	if (field(authzid, msg, (size_t)(z1 - msg)) != 0 ||
	    field(user, z1 + 1, (size_t)(z2 - z1 - 1)) != 0 ||
	    field(pass, z2 + 1, len - (size_t)(z2 + 1 - msg)) != 0)
		return PTT_EINVAL;
	if (user[0] == '\0' || pass[0] == '\0')
		return PTT_EINVAL;
	return 0;
}

enum sasl_mech
sasl_mech_by_name(const char *name)
{
	if (strcmp(name, "PLAIN") == 0)
		return SASL_MECH_PLAIN;
	if (strcmp(name, "LOGIN") == 0)
		return SASL_MECH_LOGIN;
	return SASL_MECH_NONE;
}

static enum sasl_result
fail(struct sasl *s, enum smtp_status st)
{
	sasl_clear(s);
	s->status = st;
	return SASL_FAIL;
}

/* Decode one base64 client response ("=" is empty) into buf. */
static long
decode(const char *p, size_t n, unsigned char *buf, size_t buflen)
{
	if (n == 1 && p[0] == '=')
		return 0;
	return sasl_b64_decode(p, n, buf, buflen);
}

/* Consume one response for the current step. */
static enum sasl_result
response(struct sasl *s, const char *p, size_t n)
{
	unsigned char msg[3 * SASL_MAX_FIELD + 3];
	long len;

	len = decode(p, n, msg, sizeof(msg));
	if (len < 0)
		return fail(s, SMTP_ST_AUTH_BAD_B64);
	if (s->mech == SASL_MECH_PLAIN) {
		int r = sasl_plain_split(msg, (size_t)len, s->authzid, s->user, s->pass);
		ptt_memzero(msg, sizeof(msg));
		return r == 0 ? SASL_DONE : fail(s, SMTP_ST_AUTH_BAD);
	}
	/* LOGIN */
	if (s->step == 0) {
		if (field(s->user, msg, (size_t)len) != 0 || s->user[0] == '\0')
			return fail(s, SMTP_ST_AUTH_BAD);
		s->step = 1;
		s->challenge = "UGFzc3dvcmQ6";	/* "Password:" */
		return SASL_CONTINUE;
	}
	if (field(s->pass, msg, (size_t)len) != 0) {
		ptt_memzero(msg, sizeof(msg));
		return fail(s, SMTP_ST_AUTH_BAD);
	}
	ptt_memzero(msg, sizeof(msg));
	return SASL_DONE;
}

enum sasl_result
sasl_start(struct sasl *s, enum sasl_mech mech, const char *ir, size_t irlen)
{
	memset(s, 0, sizeof(*s));
	s->mech = mech;
	if (mech == SASL_MECH_NONE)
		return fail(s, SMTP_ST_UNKNOWN_MECH);
	if (ir != NULL)
		return response(s, ir, irlen);
	/* PLAIN: empty challenge; LOGIN: "Username:" */
	s->challenge = mech == SASL_MECH_PLAIN ? "" : "VXNlcm5hbWU6";
	return SASL_CONTINUE;
}

enum sasl_result
sasl_step(struct sasl *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*')
		return fail(s, SMTP_ST_AUTH_CANCELLED);
	if (len == 0)
		return fail(s, SMTP_ST_AUTH_BAD_B64);
	return response(s, line, len);
}

void
sasl_clear(struct sasl *s)
{
	ptt_memzero(s->authzid, sizeof(s->authzid));
	ptt_memzero(s->user, sizeof(s->user));
	ptt_memzero(s->pass, sizeof(s->pass));
}
