/*
 * cursor.h - bounds-checked reading of untrusted bytes with a sticky error.
 *
 * Modelled on Knot's wire_ctx: every read checks the bounds; after the first
 * failure the cursor's err is set, every further operation is a no-op that
 * returns 0/NULL, and the caller checks cur->err once at the end.
 *
 *	struct cur c;
 *	cur_init(&c, p, n);
 *	if (!cur_match_ci(&c, "MAIL FROM:")) ...
 *	uint8_t ch = cur_getc(&c);
 *	if (c.err) return c.err;
 *
 * A cursor never owns the bytes it reads.
 */
#ifndef PTT_UTIL_CURSOR_H
#define PTT_UTIL_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct cur {
	const uint8_t *p;	/* next byte */
	const uint8_t *end;	/* one past the last byte */
	int err;		/* sticky: 0 or a PTT_E* code */
};

static inline void
cur_init(struct cur *c, const void *p, size_t n)
{
	c->p = p;
	c->end = c->p + n;
	c->err = 0;
}

static inline size_t cur_left(const struct cur *c) { return c->err ? 0 : (size_t)(c->end - c->p); }
static inline bool cur_eof(const struct cur *c) { return cur_left(c) == 0; }
static inline void cur_fail(struct cur *c, int err) { if (!c->err) c->err = err; }

/* Next byte without consuming; -1 at the end or after an error. */
static inline int
cur_peek(const struct cur *c)
{
	return cur_left(c) ? *c->p : -1;
}

/* Byte at offset off from the current position, or -1. */
static inline int
cur_peek_at(const struct cur *c, size_t off)
{
	return cur_left(c) > off ? c->p[off] : -1;
}

/* Consume one byte; sets PTT_EINVAL at the end. */
static inline uint8_t
cur_getc(struct cur *c)
{
	if (!cur_left(c)) {
		cur_fail(c, PTT_EINVAL);
		return 0;
	}
	return *c->p++;
}

/* Skip n bytes; sets PTT_EINVAL when fewer remain. */
static inline void
cur_skip(struct cur *c, size_t n)
{
	if (cur_left(c) < n)
		cur_fail(c, PTT_EINVAL);
	else
		c->p += n;
}

/* Consume n bytes, returning a pointer to them (NULL on error). */
static inline const uint8_t *
cur_take(struct cur *c, size_t n)
{
	const uint8_t *p = c->p;

	if (c->err || cur_left(c) < n) {
		cur_fail(c, PTT_EINVAL);
		return NULL;
	}
	c->p += n;
	return p;
}

/* If the next byte is ch, consume it and return true. Never sets err. */
bool cur_accept(struct cur *c, uint8_t ch);
/* Like cur_accept but sets PTT_EINVAL when the byte is not ch. */
bool cur_expect(struct cur *c, uint8_t ch);
/* If the input starts with s (ASCII case-insensitive), consume it. */
bool cur_match_ci(struct cur *c, const char *s);
/* If the input starts with s exactly, consume it. */
bool cur_match(struct cur *c, const char *s);
/* Consume bytes while pred(byte) holds; returns how many. */
size_t cur_span(struct cur *c, bool (*pred)(uint8_t));
/* Consume SP / HTAB; returns how many. */
size_t cur_skip_ws(struct cur *c);
/* Consume up to (not including) byte ch; returns the span's length and sets
 * *start. Sets PTT_EINVAL and consumes nothing when ch does not occur. */
size_t cur_until(struct cur *c, uint8_t ch, const uint8_t **start);
/* Parse an unsigned decimal number <= max (no sign, no leading spaces).
 * Sets PTT_EINVAL when there are no digits, PTT_ERANGE past max. */
uint64_t cur_uint(struct cur *c, uint64_t max);

/* Character classes shared by the parsers (RFC 5234 core rules). */
bool ch_alpha(uint8_t c);
bool ch_digit(uint8_t c);
bool ch_alnum(uint8_t c);
bool ch_hexdig(uint8_t c);
bool ch_vchar(uint8_t c);	/* 0x21..0x7e */
bool ch_wsp(uint8_t c);		/* SP / HTAB */

#endif
