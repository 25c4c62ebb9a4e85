/* test_cursor.c - the bounds-checked cursor and its sticky error. */
#include <stdint.h>
#include <string.h>

#include "util/cursor.h"
#include "util/err.h"
#include "../tap.h"

int
main(void)
{
	struct cur c;
	const uint8_t *s;
	size_t n;

	cur_init(&c, "MAIL FROM:<a@b> SIZE=123", 24);
	ok(cur_match_ci(&c, "mail from:"), "case-insensitive match consumes");
	ok(!cur_match_ci(&c, "RCPT"), "a failed match consumes nothing");
	is_int(cur_peek(&c), '<', "peek sees the next byte");
	n = cur_until(&c, '>', &s);
	is_int(n, 4, "until measures the span");
	ok(memcmp(s, "<a@b", 4) == 0, "until returns the span");
	ok(cur_expect(&c, '>'), "expect consumes a matching byte");
	is_int(cur_skip_ws(&c), 1, "skips white space");
	ok(cur_match(&c, "SIZE="), "exact match");
	is_int(cur_uint(&c, 1000), 123, "parses a number");
	ok(cur_eof(&c), "at the end");
	is_int(c.err, 0, "no error so far");
	is_int(cur_peek(&c), -1, "peek at the end is -1");
	cur_getc(&c);
	is_int(c.err, PTT_EINVAL, "reading past the end fails");
	ok(cur_take(&c, 0) == NULL, "after an error every read fails");

	cur_init(&c, "99999999999999999999999", 23);
	cur_uint(&c, UINT64_MAX);
	is_int(c.err, PTT_ERANGE, "overflow is caught");
	cur_init(&c, "1001", 4);
	cur_uint(&c, 1000);
	is_int(c.err, PTT_ERANGE, "the bound is enforced");
	cur_init(&c, "5", 1);
	cur_uint(&c, 3);
	is_int(c.err, PTT_ERANGE, "a single digit above a small bound");
	cur_init(&c, "x", 1);
	cur_uint(&c, 10);
	is_int(c.err, PTT_EINVAL, "no digits is malformed");
	cur_init(&c, "abc", 3);
	cur_until(&c, 'z', &s);
	is_int(c.err, PTT_EINVAL, "until without the byte fails");
	cur_init(&c, "ab", 2);
	cur_skip(&c, 3);
	is_int(c.err, PTT_EINVAL, "skip past the end fails");
	is_int(cur_left(&c), 0, "a failed cursor has nothing left");
	cur_init(&c, "a", 1);
	is_int(cur_peek_at(&c, 0), 'a', "peek_at 0");
	is_int(cur_peek_at(&c, 1), -1, "peek_at past the end");
	ok(ch_hexdig('F') && ch_hexdig('a') && !ch_hexdig('g'), "hex digits");
	ok(ch_vchar('!') && !ch_vchar(' ') && !ch_vchar(0x7f), "visible characters");
	return tap_done();
}
