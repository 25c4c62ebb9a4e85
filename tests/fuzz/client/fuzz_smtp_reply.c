/*
 * fuzz_smtp_reply.c - libFuzzer harness for the SMTP client's reply parser
 * and EHLO capability parser (smtp/reply.h).
 *
 * The input is a server's byte stream: replies are parsed one after the
 * other as the client would, each complete one is also read as an EHLO
 * reply and printed for logs; then the same bytes are fed line by line
 * through smtp_reply_feed() and must give the same replies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply r, f;
	struct smtp_caps caps;
	size_t off = 0, used, n = 0, i, start;
	int ret, codes[64];
	char s[600];

	smtp_reply_init(&r);
	smtp_reply_init(&f);
	while (off < size && n < 64) {
		ret = smtp_reply_parse(&r, data + off, size - off, &used);
		if (ret != 1)
			break;
		if (used == 0 || used > size - off)
			abort();
		if (r.code < 200 || r.code > 559 || r.nlines == 0 ||
		    r.nlines > SMTP_REPLY_LINES_MAX || !r.done)
			abort();
		codes[n++] = r.code;
		smtp_caps_parse(&caps, &r);
		if (caps.size != 0 && !(caps.flags & SMTP_CAP_SIZE))
			abort();
		smtp_reply_str(&r, s, sizeof(s));
		if (strlen(s) >= sizeof(s))
			abort();
		off += used;
	}

	/* the same stream, line by line: the same codes in the same order */
	smtp_reply_reset(&f);
	start = 0;
	i = 0;
	for (off = 0; off < size && i < n; off++) {
		size_t len;

		if (data[off] != '\n')
			continue;
		len = off - start;
		if (len > 0 && data[start + len - 1] == '\r')
			len--;
		ret = smtp_reply_feed(&f, data + start, len);
		start = off + 1;
		if (ret < 0)
			abort();	/* the whole-buffer parse accepted it */
		if (ret == 1) {
			if (f.code != codes[i++])
				abort();
			smtp_reply_reset(&f);
		}
	}
	if (i != n)
		abort();
	smtp_reply_free(&r);
	smtp_reply_free(&f);
	return 0;
}
