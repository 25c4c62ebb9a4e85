/*
 * test_data.c - the DATA and BDAT decoders (smtp/data.h): dot-unstuffing,
 * the end-of-data rule, every smuggling variant, and chunk boundaries at
 * every position (whole input, every split point, 1-byte pieces).
 */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "smtp/data.h"
#include "smtp/proto.h"

struct result {
	char out[4096];
	size_t outlen;
	size_t used;
	unsigned flags;
	int done;
};

/* Feed in pieces: split at `split` (0: none), or 1 byte at a time. */
static void
run(const char *in, size_t n, size_t split, int bytewise, struct result *r)
{
	struct buf b;
	struct smtp_data d;
	size_t used = 0;

	buf_init(&b, 4000);
	smtp_data_init(&d, &b, SMTP_MAX_TEXTLINE);
	if (bytewise) {
		while (used < n && !d.done)
			used += smtp_data_feed(&d, (const uint8_t *)in + used, 1);
	} else if (split > 0 && split < n) {
		used = smtp_data_feed(&d, (const uint8_t *)in, split);
		if (!d.done)
			used += smtp_data_feed(&d, (const uint8_t *)in + split, n - split);
	} else
		used = smtp_data_feed(&d, (const uint8_t *)in, n);
	memcpy(r->out, b.data, b.len);
	r->outlen = b.len;
	r->out[b.len] = '\0';
	r->used = used;
	r->flags = d.flags;
	r->done = d.done;
	buf_free(&b);
}

/* The same result whatever the chunking. */
static void
check(const char *name, const char *in, int want_done, const char *want_out,
    size_t want_used, unsigned want_bare)
{
	size_t n = strlen(in), k;
	struct result r, r2;
	int same = 1;

	run(in, n, 0, 0, &r);
	is_int(r.done, want_done, "%s: done", name);
	if (want_out != NULL)
		is_str(r.out, want_out, "%s: output", name);
	if (want_done)
		is_int(r.used, want_used, "%s: consumed", name);
	is_int(r.flags & SMTP_DATA_BARE, want_bare, "%s: bare flag", name);
	for (k = 1; k < n; k++) {
		run(in, n, k, 0, &r2);
		if (r2.done != r.done || r2.outlen != r.outlen || r2.used != r.used ||
		    memcmp(r2.out, r.out, r.outlen) != 0 || r2.flags != r.flags)
			same = 0;
	}
	run(in, n, 0, 1, &r2);
	if (r2.done != r.done || r2.outlen != r.outlen || r2.used != r.used ||
	    memcmp(r2.out, r.out, r.outlen) != 0 || r2.flags != r.flags)
		same = 0;
	ok(same, "%s: same result at every split and bytewise", name);
}

static void
data(void)
{
	check("empty message", ".\r\n", 1, "", 3, 0);
	check("simple", "Subject: x\r\n\r\nhi\r\n.\r\n", 1, "Subject: x\r\n\r\nhi\r\n", 21, 0);
	check("rest left over", "a\r\n.\r\nQUIT\r\n", 1, "a\r\n", 6, 0);
	check("dot-stuffing", "..x\r\n..\r\n.\r\n", 1, ".x\r\n.\r\n", 12, 0);
	check("single leading dot dropped", ".x\r\n.\r\n", 1, "x\r\n", 7, 0);
	check("dot mid-line kept", "a.b\r\n a.\r\n.\r\n", 1, "a.b\r\n a.\r\n", 13, 0);
	check("not ended", "a\r\n.", 0, "a\r\n", 0, 0);
	check("not ended 2", "a\r\n.\r", 0, "a\r\n", 0, 0);
	check("no final CRLF yet", "a\r\n", 0, "a\r\n", 0, 0);

	/* smuggling: none of these ends the message; each is marked bare */
	check("LF.LF", "a\n.\nMAIL FROM:<x@y>\r\n", 0, NULL, 0, SMTP_DATA_BARE);
	check("CR.CR", "a\r.\rMAIL FROM:<x@y>\r\n", 0, NULL, 0, SMTP_DATA_BARE);
	check("LF.CRLF", "a\n.\r\nMAIL FROM:<x@y>\r\n", 0, NULL, 0, SMTP_DATA_BARE);
	check("CRLF.LF", "a\r\n.\nMAIL FROM:<x@y>\r\n", 0, NULL, 0, SMTP_DATA_BARE);
	check("CR.CRLF", "a\r.\r\nMAIL FROM:<x@y>\r\n", 0, NULL, 0, SMTP_DATA_BARE);
	check("CRLF.CR", "a\r\n.\rMAIL FROM:<x@y>\r\n", 0, NULL, 0, SMTP_DATA_BARE);
	check("CRLF.CRCRLF", "a\r\n.\r\r\nx\r\n", 0, NULL, 0, SMTP_DATA_BARE);
	check("LF.LF then real end", "a\n.\nb\r\n.\r\n", 1, "a\n.\nb\r\n", 10, SMTP_DATA_BARE);
	check("CRLF.LF then real end", "a\r\n.\nb\r\n.\r\n", 1, "a\r\n\nb\r\n", 11, SMTP_DATA_BARE);
	check("bare LF in text", "a\nb\r\n.\r\n", 1, "a\nb\r\n", 8, SMTP_DATA_BARE);
	check("bare CR in text", "a\rb\r\n.\r\n", 1, "a\rb\r\n", 8, SMTP_DATA_BARE);
	check("CRCRLF", "a\r\r\n.\r\n", 1, "a\r\r\n", 7, SMTP_DATA_BARE);
	check("bare LF first", "\n.\r\n", 0, NULL, 0, SMTP_DATA_BARE);
	check("LF LF", "\n\n.\r\n", 0, NULL, 0, SMTP_DATA_BARE);
	check("nested end: .CR CRLF", ".\r\r\n.\r\n", 1, "\r\r\n", 7, SMTP_DATA_BARE);

	/* line length */
	{
		char big[1200];
		struct result r;
		memset(big, 'x', sizeof(big));
		memcpy(big + 998, "\r\n.\r\n", 6);
		run(big, strlen(big), 0, 0, &r);
		ok(r.done && !(r.flags & SMTP_DATA_LONGLINE), "998 + CRLF is fine");
		memset(big, 'x', sizeof(big));
		memcpy(big + 999, "\r\n.\r\n", 6);
		run(big, strlen(big), 0, 0, &r);
		ok(r.done && (r.flags & SMTP_DATA_LONGLINE), "999 + CRLF is too long");
		memset(big, 'x', sizeof(big));
		big[0] = '.';
		memcpy(big + 999, "\r\n.\r\n", 6);
		run(big, strlen(big), 0, 0, &r);
		ok(r.done && (r.flags & SMTP_DATA_LONGLINE), "stuffed line counts on the wire");
	}
	/* size limit: keeps scanning for the end */
	{
		struct buf b;
		struct smtp_data d;
		char big[300];
		memset(big, 'y', sizeof(big));
		memcpy(big + 290, "\r\n.\r\nNEXT", 9);
		buf_init(&b, 100);
		smtp_data_init(&d, &b, 0);
		size_t u = smtp_data_feed(&d, (const uint8_t *)big, 299);
		ok(d.done && (d.flags & SMTP_DATA_TOOBIG), "too big, still ends");
		is_int(u, 295, "stops after the end");
		ok(b.len <= 100, "stored at most max");
		ok(d.size == 292, "counted size");
		buf_free(&b);
	}
	{
		struct result r;
		run("a\x80\r\n.\r\n", 7, 0, 0, &r);
		ok(r.flags & SMTP_DATA_8BIT, "8-bit noticed");
		run("a\0b\r\n.\r\n", 8, 0, 0, &r);
		ok(r.flags & SMTP_DATA_NUL, "NUL noticed");
	}
}

/* BDAT: the content whatever the chunking. */
static void
bdat_check(const char *name, const char *in, size_t n, int binary,
    const char *want, size_t wantlen, unsigned want_bare)
{
	struct buf b;
	struct smtp_data d;
	size_t k, i;
	int same = 1;

	for (k = 0; k <= n; k++) {
		buf_init(&b, 0);
		smtp_data_init(&d, &b, SMTP_MAX_TEXTLINE);
		if (k == n) {	/* bytewise */
			for (i = 0; i < n; i++)
				smtp_bdat_feed(&d, (const uint8_t *)in + i, 1, binary);
		} else {
			smtp_bdat_feed(&d, (const uint8_t *)in, k, binary);
			smtp_bdat_feed(&d, (const uint8_t *)in + k, n - k, binary);
		}
		smtp_bdat_end(&d);
		if (b.len != wantlen || memcmp(b.data, want, wantlen) != 0 ||
		    (d.flags & SMTP_DATA_BARE) != want_bare)
			same = 0;
		buf_free(&b);
	}
	ok(same, "BDAT %s", name);
}

static void
bdat(void)
{
	bdat_check("clean", "a\r\nb\r\n", 6, 0, "a\r\nb\r\n", 6, 0);
	bdat_check("dots are not stuffed", ".\r\n..\r\n", 7, 0, ".\r\n..\r\n", 7, 0);
	bdat_check("bare LF", "a\nb\r\n", 5, 0, "a\nb\r\n", 5, SMTP_DATA_BARE);
	bdat_check("bare CR", "a\rb\r\n", 5, 0, "a\rb\r\n", 5, SMTP_DATA_BARE);
	bdat_check("trailing CR", "a\r\nb\r", 5, 0, "a\r\nb\r", 5, SMTP_DATA_BARE);
	bdat_check("binary keeps all", "a\nb\r\0", 5, 1, "a\nb\r\0", 5, 0);
}

int
main(void)
{
	data();
	bdat();
	return tap_done();
}
