/*
 * reply.c - parse SMTP replies (RFC 5321 4.2, enhanced status codes of
 * RFC 3463 / RFC 2034) and EHLO capabilities (RFC 5321 4.1.1.1 and the
 * extension RFCs listed in reply.h).
 *
 * Trusts nothing: input is server bytes; every read goes through a cursor.
 */
#include "smtp/reply.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/cursor.h"
#include "util/err.h"
#include "util/mem.h"

/* The whole text of a reply: lines * line length is already bounded, but a
 * hard cap keeps the buffer small whatever the limits become. */
#define REPLY_TEXT_MAX	(64 * 1024)

void
smtp_reply_init(struct smtp_reply *r)
{
	r->code = 0;
	r->enh[0] = '\0';
	r->nlines = 0;
	r->done = false;
	buf_init(&r->text, REPLY_TEXT_MAX);
}

void
smtp_reply_reset(struct smtp_reply *r)
{
	r->code = 0;
	r->enh[0] = '\0';
	r->nlines = 0;
	r->done = false;
	buf_reset(&r->text);
}

void
smtp_reply_free(struct smtp_reply *r)
{
	buf_free(&r->text);
}

void
smtp_reply_copy(struct smtp_reply *dst, const struct smtp_reply *src)
{
	smtp_reply_reset(dst);
	dst->code = src->code;
	memcpy(dst->enh, src->enh, sizeof(dst->enh));
	dst->nlines = src->nlines;
	dst->done = src->done;
	buf_add(&dst->text, src->text.data, src->text.len);
}

void
smtp_reply_set(struct smtp_reply *r, int code, const char *enh,
    const char *text)
{
	smtp_reply_reset(r);
	r->code = code;
	if (enh != NULL)
		ptt_strlcpy(r->enh, enh, sizeof(r->enh));
	buf_adds(&r->text, text);
	r->nlines = 1;
	r->done = true;
}

/*
 * Enhanced status code at the cursor (RFC 3463 2):
 *   class "." subject "." detail, class = 2/4/5, subject 1*3digit,
 *   detail 1*3digit, followed by SP or the end of the line.
 * Its class must match the reply code's first digit (RFC 2034 4), or it is
 * ordinary text. On success the code is copied to out and consumed.
 */
static bool
parse_enh(struct cur *c, int code, char *out, size_t outlen)
{
	struct cur t = *c;
	const uint8_t *start = t.p;
	uint8_t cls = cur_getc(&t);
	size_t n, len;
	int part;

	if (t.err || cls != (uint8_t)('0' + code / 100) ||
	    (cls != '2' && cls != '4' && cls != '5'))
		return false;
	for (part = 0; part < 2; part++) {
		if (!cur_accept(&t, '.'))
			return false;
		n = cur_span(&t, ch_digit);
		if (n < 1 || n > 3)
			return false;
	}
	if (!cur_eof(&t) && cur_peek(&t) != ' ')
		return false;
	len = (size_t)(t.p - start);
	if (len + 1 > outlen)
		return false;
	memcpy(out, start, len);
	out[len] = '\0';
	cur_accept(&t, ' ');
	*c = t;
	return true;
}

/* Text bytes: HTAB, SP..~, and 8-bit bytes (some servers send UTF-8).
 * Other control bytes (a CR inside a line, NUL, ESC) are garbage. */
static bool
ch_text(uint8_t ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

int
smtp_reply_feed(struct smtp_reply *r, const void *line, size_t len)
{
	struct cur c;
	int code, d1, d2, d3, sep;
	bool last;
	char enh[sizeof(r->enh)];
	const uint8_t *text;
	size_t textlen;

	if (r->done || len > SMTP_REPLY_LINE_MAX ||
	    r->nlines >= SMTP_REPLY_LINES_MAX)
		return PTT_EPROTO;
	cur_init(&c, line, len);
	d1 = cur_getc(&c);
	d2 = cur_getc(&c);
	d3 = cur_getc(&c);
	if (c.err || d1 < '2' || d1 > '5' || d2 < '0' || d2 > '5' ||
	    d3 < '0' || d3 > '9')
		return PTT_EPROTO;
	code = (d1 - '0') * 100 + (d2 - '0') * 10 + (d3 - '0');
	sep = cur_peek(&c);
	if (sep == '-') {
		last = false;
	} else if (sep == ' ' || sep == -1) {
		last = true;
	} else {
		return PTT_EPROTO;
	}
	cur_skip(&c, sep == -1 ? 0 : 1);
	if (r->nlines > 0 && code != r->code)
		return PTT_EPROTO;
	/* The enhanced code: remembered from the first line, stripped from
	 * later lines that repeat it. */
	if (parse_enh(&c, code, enh, sizeof(enh))) {
		if (r->nlines == 0) {
			memcpy(r->enh, enh, sizeof(r->enh));
		} else if (strcmp(enh, r->enh) != 0) {
			/* a different code on a later line: keep it as text */
			cur_init(&c, (const uint8_t *)line + 4, len - 4);
		}
	}
	text = c.p;
	textlen = cur_span(&c, ch_text);
	if (!cur_eof(&c) || c.err)
		return PTT_EPROTO;
	if (r->nlines > 0)
		buf_addc(&r->text, '\n');
	buf_add(&r->text, text, textlen);
	if (buf_error(&r->text))
		return PTT_EPROTO;
	r->code = code;
	r->nlines++;
	if (last)
		r->done = true;
	return last ? 1 : 0;
}

int
smtp_reply_parse(struct smtp_reply *r, const void *p, size_t n, size_t *used)
{
	struct cur c;
	const uint8_t *line;
	size_t len;
	int ret;

	smtp_reply_reset(r);
	*used = 0;
	cur_init(&c, p, n);
	for (;;) {
		len = cur_until(&c, '\n', &line);
		if (c.err) {
			/* no LF yet: more input, unless already too long */
			return (size_t)(c.end - c.p) > SMTP_REPLY_LINE_MAX + 1 ?
			    PTT_EPROTO : 0;
		}
		cur_skip(&c, 1);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		ret = smtp_reply_feed(r, line, len);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			*used = (size_t)(c.p - (const uint8_t *)p);
			return 1;
		}
	}
}

const char *
smtp_reply_str(const struct smtp_reply *r, char *out, size_t len)
{
	size_t i, o;
	int n;

	if (len == 0)
		return out;
	if (r->code != 0)
		n = snprintf(out, len, "%03d%s%s ", r->code, r->enh[0] ? " " : "",
		    r->enh);
	else
		n = snprintf(out, len, "%s%s", r->enh, r->enh[0] ? " " : "");
	o = n < 0 ? 0 : (size_t)n;
	for (i = 0; i < r->text.len && o + 1 < len; i++) {
		char ch = r->text.data[i];

		if (ch == '\n') {
			if (o + 2 >= len)
				break;
			out[o++] = ';';
			out[o++] = ' ';
		} else {
			out[o++] = ch;
		}
	}
	if (o >= len)
		o = len - 1;
	out[o] = '\0';
	/* drop a trailing space left when there is no text */
	while (o > 0 && out[o - 1] == ' ')
		out[--o] = '\0';
	return out;
}

static bool
ch_keyword(uint8_t ch)
{
	return ch_alnum(ch) || ch == '-';
}

static bool
ch_param(uint8_t ch)
{
	return ch >= 0x21 && ch <= 0x7e && ch != '=';
}

static const struct {
	const char *name;
	unsigned flag;
} cap_names[] = {
	{ "PIPELINING", SMTP_CAP_PIPELINING },
	{ "SIZE", SMTP_CAP_SIZE },
	{ "8BITMIME", SMTP_CAP_8BITMIME },
	{ "SMTPUTF8", SMTP_CAP_SMTPUTF8 },
	{ "STARTTLS", SMTP_CAP_STARTTLS },
	{ "AUTH", SMTP_CAP_AUTH },
	{ "CHUNKING", SMTP_CAP_CHUNKING },
	{ "DSN", SMTP_CAP_DSN },
	{ "ENHANCEDSTATUSCODES", SMTP_CAP_ENHANCEDSTATUSCODES },
	{ "REQUIRETLS", SMTP_CAP_REQUIRETLS },
	{ "BINARYMIME", SMTP_CAP_BINARYMIME },
};

static const struct {
	const char *name;
	unsigned flag;
} auth_names[] = {
	{ "PLAIN", SMTP_AUTH_PLAIN },
	{ "LOGIN", SMTP_AUTH_LOGIN },
	{ "CRAM-MD5", SMTP_AUTH_CRAM_MD5 },
	{ "XOAUTH2", SMTP_AUTH_XOAUTH2 },
};

static bool
word_is(const uint8_t *w, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp((const char *)w, name, n) == 0;
}

/* AUTH mechanism list: words separated by spaces (RFC 4954 3). */
static unsigned
parse_auth(struct cur *c)
{
	unsigned mechs = 0;
	const uint8_t *w;
	size_t n, i;

	while (cur_skip_ws(c), !cur_eof(c)) {
		w = c->p;
		n = cur_span(c, ch_param);
		if (n == 0) {
			cur_skip(c, 1);	/* '=' or junk: skip it */
			continue;
		}
		for (i = 0; i < sizeof(auth_names) / sizeof(auth_names[0]); i++)
			if (word_is(w, n, auth_names[i].name))
				break;
		mechs |= i < sizeof(auth_names) / sizeof(auth_names[0]) ?
		    auth_names[i].flag : SMTP_AUTH_OTHER;
	}
	return mechs;
}

/* One ehlo-line: ehlo-keyword *( SP ehlo-param ). */
static void
parse_cap_line(struct smtp_caps *caps, const uint8_t *p, size_t n)
{
	struct cur c;
	const uint8_t *kw;
	size_t kwlen, i;
	uint64_t size;

	cur_init(&c, p, n);
	kw = c.p;
	kwlen = cur_span(&c, ch_keyword);
	if (kwlen == 0)
		return;
	for (i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (word_is(kw, kwlen, cap_names[i].name))
			break;
	if (i == sizeof(cap_names) / sizeof(cap_names[0]))
		return;
	switch (cap_names[i].flag) {
	case SMTP_CAP_SIZE:
		if (cur_skip_ws(&c) == 0 || cur_eof(&c)) {
			caps->flags |= SMTP_CAP_SIZE;
			caps->size = 0;
			break;
		}
		size = cur_uint(&c, UINT64_MAX / 2);
		cur_skip_ws(&c);
		if (c.err || !cur_eof(&c))
			break;	/* malformed: ignore the keyword */
		caps->flags |= SMTP_CAP_SIZE;
		caps->size = size;
		break;
	case SMTP_CAP_AUTH:
		/* "AUTH=LOGIN PLAIN" is the pre-RFC 4954 form some
		 * servers announce as well */
		if (cur_peek(&c) != ' ' && cur_peek(&c) != '=' && !cur_eof(&c))
			break;
		cur_accept(&c, '=');
		caps->flags |= SMTP_CAP_AUTH;
		caps->auth |= parse_auth(&c);
		break;
	default:
		/* keywords without parameters: anything after the keyword
		 * must start with a space (else it is another keyword) */
		if (!cur_eof(&c) && cur_peek(&c) != ' ')
			break;
		caps->flags |= cap_names[i].flag;
		break;
	}
}

int
smtp_caps_parse(struct smtp_caps *caps, const struct smtp_reply *r)
{
	const char *p, *end, *nl;

	memset(caps, 0, sizeof(*caps));
	if (!r->done || smtp_reply_class(r) != 2)
		return PTT_EINVAL;
	p = r->text.data;
	end = p + r->text.len;
	/* skip the first line: the server's domain and greeting */
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL)
		return 0;
	p = nl + 1;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		parse_cap_line(caps, (const uint8_t *)p, (size_t)(nl - p));
		p = nl + 1;
	}
	return 0;
}
