/*
 * codec.c - base64 (RFC 2045 6.8, RFC 4648 4) and quoted-printable
 * (RFC 2045 6.7, RFC 2047 4.2 "Q") decoding and encoding.
 *
 * Trusts nothing in its input: every table lookup is by an octet, every
 * write goes through a bounded buf, time is linear in the input.
 */
#include "mail/codec.h"

#include <stdint.h>
#include <string.h>

#include "mail/defect.h"
#include "util/err.h"

enum { B64_WS = -2, B64_PAD = -3, B64_BAD = -1 };

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Octet -> 6-bit value, or B64_WS / B64_PAD / B64_BAD. */
static const int8_t b64_tab[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -2, -2, -1, -1, -2, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -3, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* A small staging area so decoders call buf_add once per KiB, not per byte. */
struct stage {
	uint8_t b[1024];
	size_t n;
	struct buf *out;
};

static void
stage_put(struct stage *s, uint8_t c)
{
	if (s->n == sizeof(s->b)) {
		buf_add(s->out, s->b, s->n);
		s->n = 0;
	}
	s->b[s->n++] = c;
}

static int
stage_flush(struct stage *s)
{
	if (s->n)
		buf_add(s->out, s->b, s->n);
	s->n = 0;
	return buf_error(s->out) ? PTT_ENOSPC : 0;
}

int
mail_b64_decode(const void *in, size_t len, struct buf *out, unsigned *defects)
{
	const uint8_t *p = in;
	struct stage st = { .n = 0, .out = out };
	unsigned d = 0, q = 0, n = 0;
	int padded = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		int v;

		/* Fast path: whole quanta of alphabet octets. */
		while (n == 0 && !padded && len - i >= 4) {
			int a = b64_tab[p[i]], b = b64_tab[p[i + 1]];
			int c = b64_tab[p[i + 2]], e = b64_tab[p[i + 3]];

			if ((a | b | c | e) < 0)
				break;
			q = (unsigned)a << 18 | (unsigned)b << 12 |
			    (unsigned)c << 6 | (unsigned)e;
			stage_put(&st, (uint8_t)(q >> 16));
			stage_put(&st, (uint8_t)(q >> 8));
			stage_put(&st, (uint8_t)q);
			q = 0;
			i += 4;
		}
		if (i >= len)
			break;
		v = b64_tab[p[i]];

		if (v == B64_WS)
			continue;
		if (v == B64_BAD) {
			d |= MAIL_D_B64_GARBAGE;
			continue;
		}
		if (v == B64_PAD) {
			if (n >= 2) {
				/* "xx=" or "xxx=": emit the partial quantum. */
				stage_put(&st, (uint8_t)(q >> (n == 2 ? 4 : 10)));
				if (n == 3)
					stage_put(&st, (uint8_t)(q >> 2));
				n = q = 0;
				padded = 1;
			} else if (!(n == 0 && padded)) {
				d |= MAIL_D_B64_GARBAGE;
			}
			continue;
		}
		if (padded) {
			/* Data after padding: decode it, but say so. */
			d |= MAIL_D_B64_GARBAGE;
			padded = 0;
		}
		q = (q << 6) | (unsigned)v;
		if (++n == 4) {
			stage_put(&st, (uint8_t)(q >> 16));
			stage_put(&st, (uint8_t)(q >> 8));
			stage_put(&st, (uint8_t)q);
			n = q = 0;
		}
	}
	if (n == 1) {
		d |= MAIL_D_B64_TRUNCATED;
	} else if (n == 2) {
		stage_put(&st, (uint8_t)(q >> 4));
	} else if (n == 3) {
		stage_put(&st, (uint8_t)(q >> 10));
		stage_put(&st, (uint8_t)(q >> 2));
	}
	if (defects)
		*defects |= d;
	return stage_flush(&st);
}

int
mail_b64_encode(const void *in, size_t len, struct buf *out, size_t line_len)
{
	const uint8_t *p = in;
	struct stage st = { .n = 0, .out = out };
	size_t i, col = 0;

	if (line_len) {
		line_len -= line_len % 4;
		if (line_len < 4)
			line_len = 4;
	}
	for (i = 0; i < len; i += 3) {
		size_t left = len - i;
		unsigned q = (unsigned)p[i] << 16;

		if (left > 1)
			q |= (unsigned)p[i + 1] << 8;
		if (left > 2)
			q |= p[i + 2];
		stage_put(&st, (uint8_t)b64_alpha[(q >> 18) & 63]);
		stage_put(&st, (uint8_t)b64_alpha[(q >> 12) & 63]);
		stage_put(&st, left > 1 ? (uint8_t)b64_alpha[(q >> 6) & 63] : '=');
		stage_put(&st, left > 2 ? (uint8_t)b64_alpha[q & 63] : '=');
		col += 4;
		if (line_len && col >= line_len) {
			stage_put(&st, '\r');
			stage_put(&st, '\n');
			col = 0;
		}
	}
	if (line_len && col) {
		stage_put(&st, '\r');
		stage_put(&st, '\n');
	}
	return stage_flush(&st);
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode escapes in p[0..n) (one line's content, or a Q-encoded text). */
static void
qp_span(struct stage *st, const uint8_t *p, size_t n, int q_mode, unsigned *d)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '=') {
			int hi = i + 1 < n ? hexval(p[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(p[i + 2]) : -1;

			if (hi >= 0 && lo >= 0) {
				stage_put(st, (uint8_t)(hi << 4 | lo));
				i += 2;
			} else {
				*d |= MAIL_D_QP_BAD_ESCAPE;
				stage_put(st, '=');
			}
		} else if (q_mode && p[i] == '_') {
			stage_put(st, ' ');
		} else {
			stage_put(st, p[i]);
		}
	}
}

int
mail_qp_decode(const void *in, size_t len, struct buf *out, bool q_mode,
    unsigned *defects)
{
	const uint8_t *p = in, *end = p + len;
	struct stage st = { .n = 0, .out = out };
	unsigned d = 0;

	if (q_mode) {
		qp_span(&st, p, len, 1, &d);
	} else {
		while (p < end) {
			const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
			const uint8_t *e = nl ? nl : end;
			int soft = 0;

			if (nl && e > p && e[-1] == '\r')
				e--;
			while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if (e > p && e[-1] == '=') {
				/* "=" ending the line: a soft line break. */
				soft = 1;
				e--;
			}
			qp_span(&st, p, (size_t)(e - p), 0, &d);
			if (nl && !soft) {
				stage_put(&st, '\r');
				stage_put(&st, '\n');
			}
			p = nl ? nl + 1 : end;
		}
	}
	if (defects)
		*defects |= d;
	return stage_flush(&st);
}

static void
qp_put_esc(struct stage *st, uint8_t c)
{
	static const char hex[] = "0123456789ABCDEF";

	stage_put(st, '=');
	stage_put(st, (uint8_t)hex[c >> 4]);
	stage_put(st, (uint8_t)hex[c & 15]);
}

int
mail_qp_encode(const void *in, size_t len, struct buf *out)
{
	const uint8_t *p = in, *end = p + len;
	struct stage st = { .n = 0, .out = out };

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *e = nl ? nl : end;
		size_t col = 0;
		const uint8_t *q;

		if (nl && e > p && e[-1] == '\r')
			e--;
		for (q = p; q < e; q++) {
			uint8_t c = *q;
			int esc = !((c >= 33 && c <= 126 && c != '=') ||
			    ((c == ' ' || c == '\t') && q + 1 < e));

			if (col == 0 && (c == '.' || (c == 'F' &&
			    (size_t)(e - q) >= 5 && memcmp(q, "From ", 5) == 0)))
				esc = 1;
			/* 76 characters a line, the '=' of a soft break
			 * included when more follows on this line. */
			if (col + (esc ? 3 : 1) > (q + 1 < e ? 75u : 76u)) {
				stage_put(&st, '=');
				stage_put(&st, '\r');
				stage_put(&st, '\n');
				col = 0;
				if (c == '.' || (c == 'F' && (size_t)(e - q) >= 5 &&
				    memcmp(q, "From ", 5) == 0))
					esc = 1;
			}
			if (esc)
				qp_put_esc(&st, c);
			else
				stage_put(&st, c);
			col += esc ? 3 : 1;
		}
		if (nl) {
			stage_put(&st, '\r');
			stage_put(&st, '\n');
		}
		p = nl ? nl + 1 : end;
	}
	return stage_flush(&st);
}

int
mail_crlf_append(struct buf *out, const void *in, size_t n)
{
	const char *p = in, *end = p + n, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (nl > p && nl[-1] == '\r') {
			buf_add(out, p, (size_t)(nl + 1 - p));
		} else {
			buf_add(out, p, (size_t)(nl - p));
			buf_add(out, "\r\n", 2);
		}
		p = nl + 1;
	}
	buf_add(out, p, (size_t)(end - p));
	return buf_error(out) ? PTT_ENOSPC : 0;
}
