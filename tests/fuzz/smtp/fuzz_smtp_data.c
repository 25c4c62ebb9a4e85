/*
 * fuzz_smtp_data.c - libFuzzer harness for the DATA and BDAT decoders
 * (smtp/data.h). The first two bytes choose chunk sizes; the rest is fed
 * once whole and once in those chunkings (and bytewise for short inputs),
 * and the results must be identical: the same bytes stored, the same
 * flags, the end of data found at the same offset. A message without bare
 * CR/LF must round-trip through the bytes it produced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/data.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct res {
	struct buf b;
	unsigned flags;
	size_t used;
	int done;
};

static void
run_data(const uint8_t *p, size_t n, size_t chunk, struct res *r)
{
	struct smtp_data d;
	size_t off = 0;

	buf_init(&r->b, 1 << 16);
	smtp_data_init(&d, &r->b, 1000);
	while (off < n && !d.done) {
		size_t k = chunk == 0 || chunk > n - off ? n - off : chunk;
		size_t u = smtp_data_feed(&d, p + off, k);
		if (u > k || (u < k && !d.done))
			abort();
		off += u;
	}
	r->flags = d.flags;
	r->used = off;
	r->done = d.done;
}

static void
run_bdat(const uint8_t *p, size_t n, size_t chunk, bool binary, struct res *r)
{
	struct smtp_data d;
	size_t off = 0;

	buf_init(&r->b, 1 << 16);
	smtp_data_init(&d, &r->b, 1000);
	while (off < n) {
		size_t k = chunk == 0 || chunk > n - off ? n - off : chunk;
		smtp_bdat_feed(&d, p + off, k, binary);
		off += k;
	}
	smtp_bdat_end(&d);
	r->flags = d.flags;
	r->used = off;
	r->done = d.done;
}

static void
same(struct res *a, struct res *b)
{
	if (a->flags != b->flags || a->used != b->used || a->done != b->done ||
	    a->b.len != b->b.len || memcmp(a->b.data, b->b.data, a->b.len) != 0)
		abort();
	buf_free(&b->b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct res whole, part;
	size_t c1, c2;

	if (size < 2)
		return 0;
	c1 = (size_t)data[0] + 1;
	c2 = (size_t)data[1] % 7 + 1;
	data += 2;
	size -= 2;

	run_data(data, size, 0, &whole);
	run_data(data, size, c1, &part);
	same(&whole, &part);
	run_data(data, size, c2, &part);
	same(&whole, &part);
	if (size < 512) {
		run_data(data, size, 1, &part);
		same(&whole, &part);
	}
	/* the end of data is <CRLF>.<CRLF> and nothing else */
	if (whole.done) {
		const uint8_t *e = data + whole.used;
		if (whole.used < 3 || memcmp(e - 3, ".\r\n", 3) != 0 ||
		    (whole.used > 3 && (whole.used < 5 || memcmp(e - 5, "\r\n", 2) != 0)))
			abort();
	}
	/* output never holds a bare CR/LF unless flagged */
	if (!(whole.flags & SMTP_DATA_BARE)) {
		size_t i;
		for (i = 0; i < whole.b.len; i++) {
			if (whole.b.data[i] == '\n' && (i == 0 || whole.b.data[i - 1] != '\r'))
				abort();
			if (whole.b.data[i] == '\r' && (i + 1 >= whole.b.len || whole.b.data[i + 1] != '\n'))
				abort();
		}
	}
	buf_free(&whole.b);

	run_bdat(data, size, 0, false, &whole);
	run_bdat(data, size, c1, false, &part);
	same(&whole, &part);
	run_bdat(data, size, c2, false, &part);
	same(&whole, &part);
	if (!(whole.flags & SMTP_DATA_TOOBIG) &&
	    (whole.b.len != size || memcmp(whole.b.data, data, size) != 0))
		abort();
	buf_free(&whole.b);
	run_bdat(data, size, c2, true, &part);
	if (part.flags & SMTP_DATA_BARE)
		abort();
	buf_free(&part.b);
	return 0;
}
