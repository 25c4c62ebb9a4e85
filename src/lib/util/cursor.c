/*
 * cursor.c - the out-of-line parts of the bounds-checked cursor.
 */
#include "util/cursor.h"

#include <string.h>

bool
cur_accept(struct cur *c, uint8_t ch)
{
	if (cur_peek(c) == ch) {
		c->p++;
		return true;
	}
	return false;
}

bool
cur_expect(struct cur *c, uint8_t ch)
{
	if (cur_accept(c, ch))
		return true;
	cur_fail(c, PTT_EINVAL);
	return false;
}

static inline uint8_t
lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

bool
cur_match_ci(struct cur *c, const char *s)
{
	size_t n = strlen(s), i;

	if (cur_left(c) < n)
		return false;
	for (i = 0; i < n; i++)
		if (lower(c->p[i]) != lower((uint8_t)s[i]))
			return false;
	c->p += n;
	return true;
}

bool
cur_match(struct cur *c, const char *s)
{
	size_t n = strlen(s);

	if (cur_left(c) < n || memcmp(c->p, s, n) != 0)
		return false;
	c->p += n;
	return true;
}

size_t
cur_span(struct cur *c, bool (*pred)(uint8_t))
{
	size_t n = 0;

	while (cur_left(c) && pred(*c->p)) {
		c->p++;
		n++;
	}
	return n;
}

size_t
cur_skip_ws(struct cur *c)
{
	return cur_span(c, ch_wsp);
}

size_t
cur_until(struct cur *c, uint8_t ch, const uint8_t **start)
{
	const uint8_t *q;
	size_t n;

	*start = c->p;
	if (!cur_left(c) || (q = memchr(c->p, ch, cur_left(c))) == NULL) {
		cur_fail(c, PTT_EINVAL);
		return 0;
	}
	n = (size_t)(q - c->p);
	c->p = q;
	return n;
}

uint64_t
cur_uint(struct cur *c, uint64_t max)
{
	uint64_t v = 0;
	size_t n = 0;

	while (cur_left(c) && ch_digit(*c->p)) {
		unsigned d = (unsigned)(*c->p - '0');
		if (d > max || v > (max - d) / 10) {
			cur_fail(c, PTT_ERANGE);
			return 0;
		}
		v = v * 10 + d;
		c->p++;
		n++;
	}
	if (n == 0) {
		cur_fail(c, PTT_EINVAL);
		return 0;
	}
	return v;
}

bool ch_alpha(uint8_t c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
bool ch_digit(uint8_t c) { return c >= '0' && c <= '9'; }
bool ch_alnum(uint8_t c) { return ch_alpha(c) || ch_digit(c); }
bool ch_hexdig(uint8_t c) { return ch_digit(c) || ((c | 32) >= 'a' && (c | 32) <= 'f'); }
bool ch_vchar(uint8_t c) { return c >= 0x21 && c <= 0x7e; }
bool ch_wsp(uint8_t c) { return c == ' ' || c == '\t'; }
