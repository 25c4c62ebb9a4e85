/*
 * canon.c - DKIM header and body canonicalisation, RFC 6376 3.4.1 (simple
 * header), 3.4.2 (relaxed header), 3.4.3 (simple body), 3.4.4 (relaxed
 * body, with errata 1384/3133: an empty body is empty, a missing final
 * CRLF is added), and 3.5 l= (body length count).
 *
 * Input is untrusted; state is a few counters, so memory is constant and
 * time linear whatever the chunking.
 */
#include "mail/canon.h"

#include <string.h>
#include <strings.h>

#include "mail/codec.h"
#include "util/err.h"

int
mail_canon_parse(const char *s, size_t len)
{
	if (len == 6 && strncasecmp(s, "simple", 6) == 0)
		return MAIL_CANON_SIMPLE;
	if (len == 7 && strncasecmp(s, "relaxed", 7) == 0)
		return MAIL_CANON_RELAXED;
	return -1;
}

static int
wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

int
mail_canon_header(enum mail_canon c, const char *raw, size_t len,
    struct buf *out)
{
	const char *colon = memchr(raw, ':', len), *p, *end = raw + len;
	size_t i, name_end;
	int pend = 0, any = 0;

	if (colon == NULL)
		return PTT_EINVAL;
	if (c == MAIL_CANON_SIMPLE) {
		mail_crlf_append(out, raw, len);
		if (len == 0 || raw[len - 1] != '\n')
			buf_add(out, "\r\n", 2);
		return buf_error(out) ? PTT_ENOSPC : 0;
	}
	/* relaxed: lowercase name, no WSP before the colon */
	name_end = (size_t)(colon - raw);
	while (name_end > 0 && (wsp((uint8_t)raw[name_end - 1]) ||
	    raw[name_end - 1] == '\r' || raw[name_end - 1] == '\n'))
		name_end--;
	for (i = 0; i < name_end; i++) {
		char ch = raw[i];

		buf_addc(out, (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch);
	}
	buf_addc(out, ':');
	/* value: unfold, compress WSP, strip both ends */
	for (p = colon + 1; p < end; p++) {
		uint8_t ch = (uint8_t)*p;

		if (ch == '\n' || (ch == '\r' && p + 1 < end && p[1] == '\n') ||
		    (ch == '\r' && p + 1 == end))
			continue;
		if (wsp(ch)) {
			pend = 1;
			continue;
		}
		if (pend && any)
			buf_addc(out, ' ');
		pend = 0;
		any = 1;
		buf_addc(out, (char)ch);
	}
	buf_add(out, "\r\n", 2);
	return buf_error(out) ? PTT_ENOSPC : 0;
}

void
mail_canon_body_init(struct mail_canon_body *cb, enum mail_canon mode,
    uint64_t limit, mail_canon_sink sink, void *arg)
{
	memset(cb, 0, sizeof(*cb));
	cb->mode = mode;
	cb->limit = limit;
	cb->sink = sink;
	cb->arg = arg;
}

static void
flush(struct mail_canon_body *cb)
{
	if (cb->outn && !cb->err)
		cb->err = cb->sink(cb->arg, cb->out, cb->outn);
	cb->outn = 0;
}

static void
emit(struct mail_canon_body *cb, const void *p, size_t n)
{
	const uint8_t *s = p;

	cb->length += n;
	if (cb->emitted >= cb->limit)
		return;
	if (n > cb->limit - cb->emitted)
		n = (size_t)(cb->limit - cb->emitted);
	cb->emitted += n;
	while (n) {
		size_t k = sizeof(cb->out) - cb->outn;

		if (k > n)
			k = n;
		memcpy(cb->out + cb->outn, s, k);
		cb->outn += k;
		s += k;
		n -= k;
		if (cb->outn == sizeof(cb->out))
			flush(cb);
	}
}

/* Before a non-empty line's content: the line ends held back. */
static void
release(struct mail_canon_body *cb)
{
	for (; cb->crlf > 0; cb->crlf--) {
		emit(cb, "\r\n", 2);
		if (cb->emitted >= cb->limit) {
			/* Only the length counts from here on. */
			cb->length += 2 * (cb->crlf - 1);
			cb->crlf = 0;
			break;
		}
	}
}

static void
octet(struct mail_canon_body *cb, uint8_t c)
{
	if (cb->mode == MAIL_CANON_RELAXED && wsp(c)) {
		cb->wsp = 1;
		return;
	}
	release(cb);
	if (cb->wsp) {
		emit(cb, " ", 1);
		cb->wsp = 0;
	}
	emit(cb, &c, 1);
}

static void
line_end(struct mail_canon_body *cb)
{
	cb->wsp = 0;	/* relaxed: trailing WSP goes */
	cb->crlf++;
}

int
mail_canon_body_update(struct mail_canon_body *cb, const void *p, size_t n)
{
	const uint8_t *s = p, *end = s + n;
	int relaxed = cb->mode == MAIL_CANON_RELAXED;

	while (s < end && !cb->err) {
		uint8_t c = *s++;

		if (cb->cr) {
			cb->cr = 0;
			if (c == '\n') {
				line_end(cb);
				continue;
			}
			octet(cb, '\r');
		}
		if (c == '\r') {
			cb->cr = 1;
		} else if (c == '\n') {
			line_end(cb);
		} else if (relaxed && wsp(c)) {
			cb->wsp = 1;
		} else {
			/* A run of ordinary octets goes out at once. */
			const uint8_t *q = s - 1;

			while (s < end && *s != '\r' && *s != '\n' &&
			    !(relaxed && wsp(*s)))
				s++;
			release(cb);
			if (cb->wsp) {
				emit(cb, " ", 1);
				cb->wsp = 0;
			}
			emit(cb, q, (size_t)(s - q));
		}
	}
	return cb->err;
}

int
mail_canon_body_final(struct mail_canon_body *cb)
{
	if (cb->cr) {
		cb->cr = 0;
		octet(cb, '\r');
	}
	/* Some content: it ends with exactly one CRLF. No content: simple
	 * gives one CRLF, relaxed nothing. */
	if (cb->length > 0 || cb->mode == MAIL_CANON_SIMPLE)
		emit(cb, "\r\n", 2);
	cb->crlf = 0;
	cb->wsp = 0;
	flush(cb);
	return cb->err;
}
