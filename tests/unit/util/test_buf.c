/* test_buf.c - growable buffer and bounded string helpers. */
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"
#include "../tap.h"

int
main(void)
{
	struct buf b;
	char small[4];
	size_t n;
	char *p;
	int i;

	buf_init(&b, 0);
	is_int(b.len, 0, "new buffer is empty");
	is_str(b.data, "", "new buffer is an empty string");
	for (i = 0; i < 1000; i++)
		buf_addf(&b, "%d,", i);
	ok(b.len > 3000, "grows past its initial capacity");
	ok(strncmp(b.data, "0,1,2,", 6) == 0, "keeps what was appended");
	buf_consume(&b, 2);
	ok(strncmp(b.data, "1,2,", 4) == 0, "consume removes from the front");
	buf_truncate(&b, 2);
	is_str(b.data, "1,", "truncate keeps a NUL after the data");
	p = buf_steal(&b, &n);
	is_int(n, 2, "steal returns the length");
	is_str(p, "1,", "steal returns the bytes");
	free(p);
	ok(b.len == 0 && b.data == NULL, "a stolen buffer is released");
	buf_free(&b);
	buf_free(&b);
	ok(b.data == NULL, "freeing twice is harmless");

	buf_init(&b, 8);
	is_int(buf_adds(&b, "12345678"), 0, "fills up to max");
	is_int(buf_addc(&b, 'x'), PTT_ENOSPC, "one byte past max fails");
	is_int(buf_error(&b), PTT_ENOSPC, "the error is sticky");
	is_int(buf_adds(&b, ""), PTT_ENOSPC, "later appends fail too");
	is_int(b.len, 8, "nothing past max was kept");
	buf_reset(&b);
	is_int(buf_error(&b), 0, "reset clears the error");
	is_int(buf_add(&b, "a\0b", 3), 0, "holds NUL bytes");
	is_int(b.len, 3, "length counts the NUL");
	buf_free(&b);

	is_int(ptt_strlcpy(small, "abcdef", sizeof(small)), 6, "strlcpy returns the source length");
	is_str(small, "abc", "strlcpy truncates and terminates");
	is_int(ptt_strlcat(small, "xyz", sizeof(small)), 6, "strlcat returns the wanted length");
	is_str(small, "abc", "strlcat does not overflow");
	p = xstrndup("hello", 3);
	is_str(p, "hel", "xstrndup copies at most n");
	free(p);
	is_str(ptt_strerror(PTT_ENOSPC), "size limit reached", "strerror names codes");
	is_str(ptt_strerror(-999), "unknown error", "strerror survives unknown codes");
	return tap_done();
}
