/*
 * proto.c - SMTP server side: command-line parser and status -> reply map.
 *
 * Implements RFC 5321 4.1.1 (verbs), 4.1.2 (path, mailbox, domain and
 * address-literal grammar), 4.1.3 (address literals), 4.5.3.1 (limits);
 * RFC 6531 3.3 (UTF-8 in atext, qtext and sub-domains); RFC 1870 (SIZE),
 * RFC 6152 and RFC 3030 (BODY), RFC 3461 4 (RET, ENVID, NOTIFY, ORCPT and
 * xtext), RFC 4954 4 and 5 (AUTH command, AUTH= on MAIL), RFC 3030 2 (BDAT).
 *
 * Trusts nothing: every byte is read through util/cursor.h, every copy is
 * bounded by the destination's size.
 */
#include "smtp/proto.h"

#include <arpa/inet.h>
#include <string.h>

#include "util/cursor.h"
#include "util/err.h"
#include "util/mem.h"

/* ---- the one status -> reply table ---- */

static const struct smtp_status_reply status_table[SMTP_ST_COUNT] = {
	[SMTP_ST_OK] = { 250, "2.0.0", "OK" },
	[SMTP_ST_UNKNOWN_CMD] = { 500, "5.5.1", "Command unrecognized" },
	[SMTP_ST_LINE_TOO_LONG] = { 500, "5.5.2", "Line too long" },
	[SMTP_ST_BARE_LF] = { 500, "5.5.2", "Bare LF in command line; lines end with CRLF" },
	[SMTP_ST_BARE_CR] = { 500, "5.5.2", "Bare CR in command line; lines end with CRLF" },
	[SMTP_ST_NUL] = { 500, "5.5.2", "NUL byte in command line" },
	[SMTP_ST_SYNTAX] = { 501, "5.5.4", "Syntax error in parameters or arguments" },
	[SMTP_ST_NO_ARG] = { 501, "5.5.4", "Argument required" },
	[SMTP_ST_EXTRA_ARG] = { 501, "5.5.4", "No arguments allowed" },
	[SMTP_ST_BAD_HELO] = { 501, "5.5.4", "Invalid domain name" },
	[SMTP_ST_BAD_SENDER] = { 501, "5.1.7", "Bad sender address syntax" },
	[SMTP_ST_BAD_RCPT] = { 501, "5.1.3", "Bad recipient address syntax" },
	[SMTP_ST_PATH_TOO_LONG] = { 501, "5.1.3", "Path too long" },
	[SMTP_ST_BAD_PARAM] = { 501, "5.5.4", "Invalid parameter value" },
	[SMTP_ST_DUP_PARAM] = { 501, "5.5.4", "Duplicate parameter" },
	[SMTP_ST_UNKNOWN_PARAM] = { 555, "5.5.4", "Parameter not recognized or not implemented" },
	[SMTP_ST_UTF8_ADDR] = { 553, "5.6.7", "Non-ASCII address requires SMTPUTF8" },
	[SMTP_ST_NOT_IMPL] = { 502, "5.5.1", "Command not implemented" },
	[SMTP_ST_BAD_SEQ] = { 503, "5.5.1", "Bad sequence of commands" },
	[SMTP_ST_NEED_HELO] = { 503, "5.5.1", "Send EHLO or HELO first" },
	[SMTP_ST_NEED_MAIL] = { 503, "5.5.1", "Need MAIL command" },
	[SMTP_ST_NESTED_MAIL] = { 503, "5.5.1", "Nested MAIL command" },
	[SMTP_ST_NEED_RCPT] = { 554, "5.5.1", "No valid recipients" },
	[SMTP_ST_DATA_BINARY] = { 503, "5.5.1", "BODY=BINARYMIME requires BDAT" },
	[SMTP_ST_MIXED_BDAT] = { 503, "5.5.1", "DATA not allowed after BDAT" },
	[SMTP_ST_ALREADY_AUTH] = { 503, "5.5.1", "Already authenticated" },
	[SMTP_ST_AUTH_IN_TXN] = { 503, "5.5.1", "AUTH not allowed during a mail transaction" },
	[SMTP_ST_ALREADY_TLS] = { 503, "5.5.1", "TLS already active" },
	[SMTP_ST_UNKNOWN_MECH] = { 504, "5.5.4", "Unrecognized authentication type" },
	[SMTP_ST_TLS_REQUIRED] = { 530, "5.7.0", "Must issue a STARTTLS command first" },
	[SMTP_ST_AUTH_REQUIRED] = { 530, "5.7.0", "Authentication required" },
	[SMTP_ST_ENCRYPT_REQUIRED] = { 538, "5.7.11", "Encryption required for requested authentication mechanism" },
	[SMTP_ST_AUTH_CANCELLED] = { 501, "5.0.0", "Authentication cancelled" },
	[SMTP_ST_AUTH_BAD_B64] = { 501, "5.5.2", "Cannot decode base64 response" },
	[SMTP_ST_AUTH_BAD] = { 501, "5.5.2", "Malformed authentication response" },
	[SMTP_ST_AUTH_FAILED] = { 535, "5.7.8", "Authentication credentials invalid" },
	[SMTP_ST_AUTH_TEMP] = { 454, "4.7.0", "Temporary authentication failure" },
	[SMTP_ST_SIZE_DECLARED] = { 552, "5.3.4", "Message size exceeds fixed maximum message size" },
	[SMTP_ST_SIZE_EXCEEDED] = { 552, "5.3.4", "Message size exceeds fixed maximum message size" },
	[SMTP_ST_TOO_MANY_RCPTS] = { 452, "4.5.3", "Too many recipients" },
	[SMTP_ST_MSG_BARE] = { 554, "5.6.0", "Message contains bare CR or LF; refused" },
	[SMTP_ST_MSG_LINE] = { 554, "5.6.0", "Message contains a line longer than 998 characters" },
	[SMTP_ST_TLS_UNAVAIL] = { 454, "4.7.0", "TLS not available" },
	[SMTP_ST_LOCAL_ERROR] = { 451, "4.3.0", "Local error in processing" },
	[SMTP_ST_TIMEOUT] = { 421, "4.4.2", "Timeout exceeded, closing connection" },
	[SMTP_ST_TOO_MANY_ERRORS] = { 421, "4.7.0", "Too many errors, closing connection" },
	[SMTP_ST_SHUTDOWN] = { 421, "4.3.2", "Service shutting down, closing connection" },
	[SMTP_ST_CONN_REJECTED] = { 554, "5.7.1", "Connection refused" },
	[SMTP_ST_TOO_BUSY] = { 421, "4.3.2", "Too many connections, try again later" },
	[SMTP_ST_TLS_REFUSED] = { 421, "4.7.0", "TLS peer not accepted, closing connection" },
};

const struct smtp_status_reply *
smtp_status_reply(enum smtp_status st)
{
	if ((unsigned)st >= SMTP_ST_COUNT || status_table[st].code == 0)
		return &status_table[SMTP_ST_LOCAL_ERROR];
	return &status_table[st];
}

enum smtp_status
smtp_status_from_err(int err)
{
	switch (err) {
	case PTT_OK:
		return SMTP_ST_OK;
	case PTT_EINVAL:
		return SMTP_ST_SYNTAX;
	case PTT_ENOSPC:
		return SMTP_ST_SIZE_EXCEEDED;
	case PTT_EPROTO:
		return SMTP_ST_BAD_SEQ;
	case PTT_ETIMEDOUT:
		return SMTP_ST_TIMEOUT;
	case PTT_ETLS:
		return SMTP_ST_TLS_UNAVAIL;
	default:
		return SMTP_ST_LOCAL_ERROR;
	}
}

static const char *const verb_names[SMTP_V_COUNT] = {
	[SMTP_V_UNKNOWN] = "?", [SMTP_V_HELO] = "HELO", [SMTP_V_EHLO] = "EHLO",
	[SMTP_V_MAIL] = "MAIL", [SMTP_V_RCPT] = "RCPT", [SMTP_V_DATA] = "DATA",
	[SMTP_V_BDAT] = "BDAT", [SMTP_V_RSET] = "RSET", [SMTP_V_NOOP] = "NOOP",
	[SMTP_V_QUIT] = "QUIT", [SMTP_V_VRFY] = "VRFY", [SMTP_V_EXPN] = "EXPN",
	[SMTP_V_HELP] = "HELP", [SMTP_V_STARTTLS] = "STARTTLS",
	[SMTP_V_AUTH] = "AUTH",
};

const char *
smtp_verb_name(enum smtp_verb v)
{
	return (unsigned)v < SMTP_V_COUNT ? verb_names[v] : "?";
}

/* ---- character classes ---- */

/* RFC 5322 atext (ASCII part). */
static bool
ch_atext(uint8_t c)
{
	return ch_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 5321 qtextSMTP: %d32-33 / %d35-91 / %d93-126 */
static bool
ch_qtext(uint8_t c)
{
	return c == 32 || c == 33 || (c >= 35 && c <= 91) || (c >= 93 && c <= 126);
}

/* RFC 5321 dcontent: %d33-90 / %d94-126 */
static bool
ch_dcontent(uint8_t c)
{
	return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

static bool
ch_ldh(uint8_t c)
{
	return ch_alnum(c) || c == '-';
}

/* Length of a well-formed UTF-8 sequence starting at p (1..4), or 0. */
static size_t
utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool
smtp_utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if ((n = utf8_seq(p + i, len - i)) == 0)
			return false;
		i += n;
	}
	return true;
}

/*
 * Consume one UTF8-non-ascii character (RFC 6531) if the cursor is on one;
 * returns its length or 0 (consuming nothing).
 */
static size_t
accept_utf8(struct cur *c)
{
	size_t n;

	if (cur_peek(c) < 0x80)
		return 0;
	n = utf8_seq(c->p, cur_left(c));
	if (n)
		cur_skip(c, n);
	return n;
}

/* ---- domains and address literals (RFC 5321 4.1.2, 4.1.3) ---- */

/*
 * Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str],
 * or a U-label (RFC 6531) when utf8 is non-NULL (set when one is seen).
 * Consumes the longest valid domain; false (nothing consumed) if none.
 */
static bool
parse_domain(struct cur *c, bool *utf8)
{
	struct cur save = *c;

	for (;;) {
		size_t n = 0;
		const uint8_t *start = c->p;
		bool u = false;

		for (;;) {
			int ch = cur_peek(c);
			if (ch >= 0 && ch_ldh((uint8_t)ch)) {
				cur_skip(c, 1);
				n++;
			} else if (utf8 != NULL && accept_utf8(c)) {
				n++;
				u = true;
			} else
				break;
		}
		if (n == 0 || *start == '-' || c->p[-1] == '-' ||
		    (size_t)(c->p - start) > 63) {
			*c = save;
			return false;
		}
		if (u)
			*utf8 = true;
		if (cur_peek(c) == '.' && cur_left(c) > 1 &&
		    (ch_ldh(c->p[1]) || (utf8 != NULL && c->p[1] >= 0x80)))
			cur_skip(c, 1);
		else
			return true;
	}
}

/* "[" (IPv4 / "IPv6:" IPv6 / tag ":" dcontent) "]", cursor on "[". */
static bool
parse_literal(struct cur *c)
{
	const uint8_t *start;
	size_t n;
	char tmp[64];
	unsigned char addr[16];

	if (!cur_accept(c, '['))
		return false;
	n = cur_until(c, ']', &start);
	if (c->err || n == 0 || n >= sizeof(tmp))
		return false;
	cur_skip(c, 1);
	memcpy(tmp, start, n);
	tmp[n] = '\0';
	if (ch_digit((uint8_t)tmp[0]) && strspn(tmp, "0123456789.") == n)
		return inet_pton(AF_INET, tmp, addr) == 1;
	if (n > 5 && strncasecmp(tmp, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, tmp + 5, addr) == 1;
	/* General-address-literal: Standardized-tag ":" 1*dcontent */
	{
		struct cur g;
		size_t t;

		cur_init(&g, tmp, n);
		t = cur_span(&g, ch_ldh);
		if (t == 0 || tmp[t - 1] == '-' || !cur_accept(&g, ':'))
			return false;
		if (cur_span(&g, ch_dcontent) == 0 || !cur_eof(&g))
			return false;
	}
	return true;
}

/* ---- paths (RFC 5321 4.1.2) ---- */

static void
copy_span(char *dst, size_t dstlen, const uint8_t *p, size_t n)
{
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

enum smtp_status
smtp_path_parse(const char *p, size_t len, bool allow_null,
    bool allow_postmaster, struct smtp_path *out)
{
	struct cur c;
	const uint8_t *lstart, *dstart;
	size_t llen, dlen;
	bool utf8 = false;

	memset(out, 0, sizeof(*out));
	if (len > SMTP_MAX_PATH)
		return SMTP_ST_PATH_TOO_LONG;
	cur_init(&c, p, len);
	if (!cur_accept(&c, '<'))
		return SMTP_ST_SYNTAX;
	if (allow_null && cur_left(&c) == 1 && cur_peek(&c) == '>') {
		out->null = true;
		return SMTP_ST_OK;
	}
	if (allow_postmaster && cur_left(&c) == 11 &&
	    cur_match_ci(&c, "postmaster>")) {
		out->postmaster = true;
		ptt_strlcpy(out->addr, "postmaster", sizeof(out->addr));
		ptt_strlcpy(out->local, "postmaster", sizeof(out->local));
		return SMTP_ST_OK;
	}
	/* A-d-l ":" — source route, parsed and ignored (RFC 5321 4.1.2, C.) */
	if (cur_peek(&c) == '@') {
		do {
			if (!cur_accept(&c, '@') || !parse_domain(&c, NULL))
				return SMTP_ST_SYNTAX;
		} while (cur_accept(&c, ','));
		if (!cur_accept(&c, ':'))
			return SMTP_ST_SYNTAX;
	}
	/* Local-part = Dot-string / Quoted-string */
	lstart = c.p;
	if (cur_accept(&c, '"')) {
		out->quoted = true;
		for (;;) {
			int ch = cur_peek(&c);
			if (ch == '"')
				break;
			if (ch == '\\') {
				cur_skip(&c, 1);
				ch = cur_peek(&c);
				if (ch < 32 || ch > 126)
					return SMTP_ST_SYNTAX;
				cur_skip(&c, 1);
			} else if (ch >= 0 && ch_qtext((uint8_t)ch)) {
				cur_skip(&c, 1);
			} else if (accept_utf8(&c)) {
				utf8 = true;
			} else
				return SMTP_ST_SYNTAX;
		}
		cur_skip(&c, 1);
	} else {
		for (;;) {
			size_t n = 0;
			for (;;) {
				int ch = cur_peek(&c);
				if (ch >= 0 && ch_atext((uint8_t)ch)) {
					cur_skip(&c, 1);
					n++;
				} else if (accept_utf8(&c)) {
					n++;
					utf8 = true;
				} else
					break;
			}
			if (n == 0)
				return SMTP_ST_SYNTAX;
			if (!cur_accept(&c, '.'))
				break;
		}
	}
	llen = (size_t)(c.p - lstart);
	if (llen > SMTP_MAX_LOCAL)
		return SMTP_ST_PATH_TOO_LONG;
	if (!cur_accept(&c, '@'))
		return SMTP_ST_SYNTAX;
	dstart = c.p;
	if (cur_peek(&c) == '[') {
		if (!parse_literal(&c))
			return SMTP_ST_SYNTAX;
		out->literal = true;
	} else if (!parse_domain(&c, &utf8))
		return SMTP_ST_SYNTAX;
	dlen = (size_t)(c.p - dstart);
	if (dlen > SMTP_MAX_DOMAIN)
		return SMTP_ST_PATH_TOO_LONG;
	if (!cur_accept(&c, '>') || !cur_eof(&c) || c.err)
		return SMTP_ST_SYNTAX;
	copy_span(out->local, sizeof(out->local), lstart, llen);
	copy_span(out->domain, sizeof(out->domain), dstart, dlen);
	copy_span(out->addr, sizeof(out->addr), lstart,
	    (size_t)(dstart + dlen - lstart));
	out->utf8 = utf8;
	return SMTP_ST_OK;
}

/* ---- xtext (RFC 3461 4) ---- */

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
smtp_xtext_decode(const char *p, size_t len, char *out, size_t outlen)
{
	struct cur c;
	size_t n = 0;

	cur_init(&c, p, len);
	while (!cur_eof(&c)) {
		uint8_t ch = cur_getc(&c);
		if (ch == '+') {
			int hi = hexval((uint8_t)cur_peek_at(&c, 0));
			int lo = hexval((uint8_t)cur_peek_at(&c, 1));
			if (cur_left(&c) < 2 || hi < 0 || lo < 0)
				return -1;
			cur_skip(&c, 2);
			ch = (uint8_t)(hi << 4 | lo);
		} else if (ch < 33 || ch > 126 || ch == '=')
			return -1;
		if (n + 1 >= outlen)
			return -1;
		out[n++] = (char)ch;
	}
	if (outlen)
		out[n] = '\0';
	return (long)n;
}

/* ---- parameters ---- */

struct eparam {
	const uint8_t *kw;
	size_t kwlen;
	const uint8_t *val;	/* NULL when no "=" */
	size_t vallen;
};

static bool
kw_is(const struct eparam *pa, const char *name)
{
	return pa->kwlen == strlen(name) && strncasecmp((const char *)pa->kw, name, pa->kwlen) == 0;
}

static bool
val_is(const struct eparam *pa, const char *name)
{
	return pa->val != NULL && pa->vallen == strlen(name) &&
	    strncasecmp((const char *)pa->val, name, pa->vallen) == 0;
}

static bool
ch_kwchar(uint8_t c)
{
	return ch_alnum(c) || c == '-';
}

/* esmtp-value = 1*(%d33-60 / %d62-126) (RFC 5321), UTF-8 per RFC 6531 */
static bool
ch_valchar(uint8_t c)
{
	return (c >= 33 && c <= 60) || (c >= 62 && c <= 126) || c >= 0x80;
}

/*
 * Split the next " keyword[=value]" off c. Returns 1 with *pa set, 0 at
 * the end, -1 on a syntax error.
 */
static int
next_param(struct cur *c, struct eparam *pa)
{
	if (cur_eof(c))
		return 0;
	if (!cur_accept(c, ' '))
		return -1;
	while (cur_accept(c, ' '))
		;
	if (cur_eof(c))
		return 0;	/* trailing spaces are tolerated */
	pa->kw = c->p;
	if (!ch_alnum((uint8_t)cur_peek(c)))
		return -1;
	pa->kwlen = cur_span(c, ch_kwchar);
	pa->val = NULL;
	pa->vallen = 0;
	if (cur_accept(c, '=')) {
		pa->val = c->p;
		pa->vallen = cur_span(c, ch_valchar);
		if (pa->vallen == 0 || !smtp_utf8_valid(pa->val, pa->vallen))
			return -1;
	}
	if (!cur_eof(c) && cur_peek(c) != ' ')
		return -1;
	return 1;
}

static enum smtp_status
mail_param(const struct eparam *pa, unsigned ext, struct smtp_mail_params *m,
    unsigned *seen)
{
	enum { S_SIZE = 1, S_BODY = 2, S_UTF8 = 4, S_RET = 8, S_ENVID = 16,
		S_AUTH = 32 };
	unsigned bit;

	if (kw_is(pa, "SIZE") && (ext & SMTP_EXT_SIZE)) {
		struct cur v;
		bit = S_SIZE;
		if (pa->val == NULL || pa->vallen > 20)
			return SMTP_ST_BAD_PARAM;
		cur_init(&v, pa->val, pa->vallen);
		m->size = cur_uint(&v, UINT64_MAX);
		if (v.err || !cur_eof(&v))
			return SMTP_ST_BAD_PARAM;
		m->has_size = true;
	} else if (kw_is(pa, "BODY") && (ext & SMTP_EXT_8BITMIME)) {
		bit = S_BODY;
		if (val_is(pa, "7BIT"))
			m->body = SMTP_BODY_7BIT;
		else if (val_is(pa, "8BITMIME"))
			m->body = SMTP_BODY_8BITMIME;
		else if (val_is(pa, "BINARYMIME") && (ext & SMTP_EXT_BINARYMIME))
			m->body = SMTP_BODY_BINARYMIME;
		else
			return SMTP_ST_BAD_PARAM;
	} else if (kw_is(pa, "SMTPUTF8") && (ext & SMTP_EXT_SMTPUTF8)) {
		bit = S_UTF8;
		if (pa->val != NULL)
			return SMTP_ST_BAD_PARAM;
		m->smtputf8 = true;
	} else if (kw_is(pa, "RET") && (ext & SMTP_EXT_DSN)) {
		bit = S_RET;
		if (val_is(pa, "FULL"))
			m->ret = SMTP_RET_FULL;
		else if (val_is(pa, "HDRS"))
			m->ret = SMTP_RET_HDRS;
		else
			return SMTP_ST_BAD_PARAM;
	} else if (kw_is(pa, "ENVID") && (ext & SMTP_EXT_DSN)) {
		bit = S_ENVID;
		if (pa->val == NULL || pa->vallen >= sizeof(m->envid_raw) ||
		    smtp_xtext_decode((const char *)pa->val, pa->vallen,
		    m->envid, sizeof(m->envid)) <= 0)
			return SMTP_ST_BAD_PARAM;
		copy_span(m->envid_raw, sizeof(m->envid_raw), pa->val, pa->vallen);
	} else if (kw_is(pa, "AUTH") && (ext & SMTP_EXT_AUTH)) {
		char tmp[SMTP_MAX_PATH + 1];
		bit = S_AUTH;
		if (pa->val == NULL || pa->vallen >= sizeof(m->auth) ||
		    smtp_xtext_decode((const char *)pa->val, pa->vallen,
		    tmp, sizeof(tmp)) <= 0)
			return SMTP_ST_BAD_PARAM;
		copy_span(m->auth, sizeof(m->auth), pa->val, pa->vallen);
	} else
		return SMTP_ST_UNKNOWN_PARAM;
	if (*seen & bit)
		return SMTP_ST_DUP_PARAM;
	*seen |= bit;
	return SMTP_ST_OK;
}

static enum smtp_status
parse_notify(const struct eparam *pa, unsigned *notify)
{
	struct cur v;

	if (pa->val == NULL)
		return SMTP_ST_BAD_PARAM;
	cur_init(&v, pa->val, pa->vallen);
	do {
		unsigned bit;
		if (cur_match_ci(&v, "NEVER"))
			bit = SMTP_NOTIFY_NEVER;
		else if (cur_match_ci(&v, "SUCCESS"))
			bit = SMTP_NOTIFY_SUCCESS;
		else if (cur_match_ci(&v, "FAILURE"))
			bit = SMTP_NOTIFY_FAILURE;
		else if (cur_match_ci(&v, "DELAY"))
			bit = SMTP_NOTIFY_DELAY;
		else
			return SMTP_ST_BAD_PARAM;
		if (*notify & bit)
			return SMTP_ST_BAD_PARAM;
		*notify |= bit;
	} while (cur_accept(&v, ','));
	/* NEVER stands alone (RFC 3461 4.1). */
	if (!cur_eof(&v) || ((*notify & SMTP_NOTIFY_NEVER) && *notify != SMTP_NOTIFY_NEVER))
		return SMTP_ST_BAD_PARAM;
	return SMTP_ST_OK;
}

static enum smtp_status
rcpt_param(const struct eparam *pa, unsigned ext, struct smtp_rcpt_params *r,
    unsigned *seen)
{
	enum { S_NOTIFY = 1, S_ORCPT = 2 };
	unsigned bit;
	enum smtp_status st;

	if (kw_is(pa, "NOTIFY") && (ext & SMTP_EXT_DSN)) {
		bit = S_NOTIFY;
		if (*seen & bit)
			return SMTP_ST_DUP_PARAM;
		if ((st = parse_notify(pa, &r->notify)) != SMTP_ST_OK)
			return st;
	} else if (kw_is(pa, "ORCPT") && (ext & SMTP_EXT_DSN)) {
		/* ORCPT=addr-type ";" xtext (RFC 3461 4.2) */
		struct cur v;
		size_t tlen;
		const uint8_t *t;
		bit = S_ORCPT;
		if (pa->val == NULL || pa->vallen > SMTP_MAX_ORCPT)
			return SMTP_ST_BAD_PARAM;
		cur_init(&v, pa->val, pa->vallen);
		t = v.p;
		tlen = cur_span(&v, ch_kwchar);
		if (tlen == 0 || tlen >= sizeof(r->orcpt_type) ||
		    !cur_accept(&v, ';') || cur_eof(&v))
			return SMTP_ST_BAD_PARAM;
		if (smtp_xtext_decode((const char *)v.p, cur_left(&v),
		    r->orcpt_addr, sizeof(r->orcpt_addr)) <= 0)
			return SMTP_ST_BAD_PARAM;
		copy_span(r->orcpt_type, sizeof(r->orcpt_type), t, tlen);
		copy_span(r->orcpt, sizeof(r->orcpt), pa->val, pa->vallen);
	} else
		return SMTP_ST_UNKNOWN_PARAM;
	if (*seen & bit)
		return SMTP_ST_DUP_PARAM;
	*seen |= bit;
	return SMTP_ST_OK;
}

/* ---- commands ---- */

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_V_HELO }, { "EHLO", SMTP_V_EHLO },
	{ "MAIL", SMTP_V_MAIL }, { "RCPT", SMTP_V_RCPT },
	{ "DATA", SMTP_V_DATA }, { "BDAT", SMTP_V_BDAT },
	{ "RSET", SMTP_V_RSET }, { "NOOP", SMTP_V_NOOP },
	{ "QUIT", SMTP_V_QUIT }, { "VRFY", SMTP_V_VRFY },
	{ "EXPN", SMTP_V_EXPN }, { "HELP", SMTP_V_HELP },
	{ "STARTTLS", SMTP_V_STARTTLS }, { "AUTH", SMTP_V_AUTH },
};

static bool
ch_mech(uint8_t c)
{
	return ch_alnum(c) || c == '-' || c == '_';
}

static bool
ch_b64(uint8_t c)
{
	return ch_alnum(c) || c == '+' || c == '/' || c == '=';
}

/* Path followed by params for MAIL FROM: / RCPT TO:. */
static enum smtp_status
parse_mail_rcpt(struct cur *c, unsigned ext, struct smtp_cmd *cmd)
{
	bool mail = cmd->verb == SMTP_V_MAIL;
	enum smtp_status bad = mail ? SMTP_ST_BAD_SENDER : SMTP_ST_BAD_RCPT;
	const uint8_t *start;
	size_t n;
	unsigned seen = 0;
	struct eparam pa;
	enum smtp_status st;
	int r;

	if (!cur_match_ci(c, mail ? " FROM:" : " TO:"))
		return SMTP_ST_SYNTAX;
	/* RFC 5321 has no space here; many clients send one. Tolerated. */
	while (cur_accept(c, ' '))
		;
	if (cur_peek(c) != '<')
		return bad;
	/* The path ends at the first '>' outside a quoted string. */
	start = c->p;
	{
		bool q = false;
		size_t i;
		for (i = 0; i < cur_left(c); i++) {
			uint8_t ch = c->p[i];
			if (q && ch == '\\') {
				i++;
				continue;
			}
			if (ch == '"')
				q = !q;
			else if (ch == '>' && !q)
				break;
		}
		if (i >= cur_left(c))
			return bad;
		n = i + 1;
	}
	cur_skip(c, n);
	st = smtp_path_parse((const char *)start, n, mail, !mail, &cmd->path);
	if (st == SMTP_ST_SYNTAX)
		return bad;
	if (st != SMTP_ST_OK)
		return st;
	while ((r = next_param(c, &pa)) > 0) {
		st = mail ? mail_param(&pa, ext, &cmd->mail, &seen)
			  : rcpt_param(&pa, ext, &cmd->rcpt, &seen);
		if (st != SMTP_ST_OK)
			return st;
	}
	if (r < 0)
		return SMTP_ST_SYNTAX;
	if (mail && cmd->path.utf8 && !cmd->mail.smtputf8)
		return SMTP_ST_UTF8_ADDR;
	return SMTP_ST_OK;
}

static enum smtp_status
parse_helo(struct cur *c, struct smtp_cmd *cmd)
{
	const uint8_t *start;
	size_t n;
	struct cur d;
	bool utf8 = false;

	if (!cur_accept(c, ' '))
		return SMTP_ST_NO_ARG;
	while (cur_accept(c, ' '))
		;
	start = c->p;
	n = cur_span(c, ch_vchar);
	while (cur_accept(c, ' '))
		;
	/* HELO takes one word; trailing words are tolerated (old clients) */
	if (n == 0)
		return SMTP_ST_NO_ARG;
	if (n > SMTP_MAX_DOMAIN)
		return SMTP_ST_BAD_HELO;
	copy_span(cmd->helo, sizeof(cmd->helo), start, n);
	cur_init(&d, start, n);
	if (cur_peek(&d) == '[')
		cmd->helo_valid = parse_literal(&d) && cur_eof(&d);
	else
		cmd->helo_valid = parse_domain(&d, &utf8) && cur_eof(&d);
	return SMTP_ST_OK;
}

static enum smtp_status
parse_auth(struct cur *c, struct smtp_cmd *cmd)
{
	const uint8_t *start;
	size_t n, i;

	if (!cur_accept(c, ' '))
		return SMTP_ST_NO_ARG;
	start = c->p;
	n = cur_span(c, ch_mech);
	if (n == 0 || n >= sizeof(cmd->auth_mech))
		return SMTP_ST_SYNTAX;
	for (i = 0; i < n; i++) {
		uint8_t ch = start[i];
		cmd->auth_mech[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
	}
	cmd->auth_mech[n] = '\0';
	if (cur_eof(c))
		return SMTP_ST_OK;
	if (!cur_accept(c, ' '))
		return SMTP_ST_SYNTAX;
	cmd->auth_ir = (const char *)c->p;
	cmd->auth_irlen = cur_span(c, ch_b64);
	if (cmd->auth_irlen == 0 || !cur_eof(c))
		return SMTP_ST_AUTH_BAD_B64;
	return SMTP_ST_OK;
}

static enum smtp_status
parse_bdat(struct cur *c, struct smtp_cmd *cmd)
{
	if (!cur_accept(c, ' '))
		return SMTP_ST_NO_ARG;
	cmd->bdat_size = cur_uint(c, (uint64_t)1 << 62);
	if (c->err)
		return SMTP_ST_SYNTAX;
	if (cur_eof(c))
		return SMTP_ST_OK;
	if (!cur_accept(c, ' ') || !cur_match_ci(c, "LAST") || !cur_eof(c))
		return SMTP_ST_SYNTAX;
	cmd->bdat_last = true;
	return SMTP_ST_OK;
}

enum smtp_status
smtp_cmd_parse(const char *line, size_t len, unsigned ext, struct smtp_cmd *cmd)
{
	struct cur c;
	size_t i, max;

	memset(cmd, 0, sizeof(*cmd));
	if (memchr(line, '\0', len) != NULL)
		return SMTP_ST_NUL;
	if (memchr(line, '\r', len) != NULL)
		return SMTP_ST_BARE_CR;
	if (memchr(line, '\n', len) != NULL)
		return SMTP_ST_BARE_LF;
	cur_init(&c, line, len);
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		struct cur save = c;
		if (cur_match_ci(&c, verbs[i].name) &&
		    (cur_eof(&c) || cur_peek(&c) == ' ')) {
			cmd->verb = verbs[i].verb;
			break;
		}
		c = save;
	}
	if (cmd->verb == SMTP_V_UNKNOWN)
		return len + 2 > SMTP_MAX_CMDLINE ? SMTP_ST_LINE_TOO_LONG : SMTP_ST_UNKNOWN_CMD;
	switch (cmd->verb) {
	case SMTP_V_AUTH:
		max = SMTP_MAX_AUTHLINE;
		break;
	case SMTP_V_MAIL:
	case SMTP_V_RCPT:
		max = SMTP_MAX_CMDLINE_EXT;
		break;
	default:
		max = SMTP_MAX_CMDLINE;
	}
	if (len + 2 > max)
		return SMTP_ST_LINE_TOO_LONG;
	if (cur_peek(&c) == ' ') {
		cmd->arg = (const char *)c.p + 1;
		cmd->arglen = cur_left(&c) - 1;
	}
	switch (cmd->verb) {
	case SMTP_V_HELO:
	case SMTP_V_EHLO:
		return parse_helo(&c, cmd);
	case SMTP_V_MAIL:
	case SMTP_V_RCPT:
		return parse_mail_rcpt(&c, ext, cmd);
	case SMTP_V_AUTH:
		return parse_auth(&c, cmd);
	case SMTP_V_BDAT:
		return parse_bdat(&c, cmd);
	case SMTP_V_VRFY:
	case SMTP_V_EXPN:
		if (cmd->arglen == 0)
			return SMTP_ST_NO_ARG;
		return SMTP_ST_OK;
	case SMTP_V_NOOP:
	case SMTP_V_HELP:
		return SMTP_ST_OK;
	default:	/* DATA RSET QUIT STARTTLS: no arguments */
		while (cur_accept(&c, ' '))
			;
		return cur_eof(&c) ? SMTP_ST_OK : SMTP_ST_EXTRA_ARG;
	}
}
