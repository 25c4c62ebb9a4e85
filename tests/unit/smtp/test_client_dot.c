/*
 * test_client_dot.c - the client's message checks and DATA dot-stuffing
 * (RFC 5321 4.5.2): lines starting with '.', bare CR/LF refused, and the
 * same output whatever the chunk boundaries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "smtp/dotstuff.h"
#include "util/err.h"
#include "../tap.h"

/* Encode msg in pieces of `step` bytes (0: one piece); returns the output
 * as a malloc'd string or NULL on error. */
static char *
encode(const char *msg, size_t len, size_t step, int *err)
{
	struct evbuffer *out = evbuffer_new();
	struct smtp_dotenc e;
	size_t off = 0, n, olen;
	char *s;

	smtp_dotenc_init(&e);
	*err = 0;
	while (off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		if ((*err = smtp_dotenc_add(&e, msg + off, n, out)) != 0)
			break;
		off += n;
	}
	if (*err == 0)
		*err = smtp_dotenc_finish(&e, out);
	olen = evbuffer_get_length(out);
	s = malloc(olen + 1);
	evbuffer_remove(out, s, olen);
	s[olen] = '\0';
	evbuffer_free(out);
	return s;
}

static void
check(const char *name, const char *in, const char *want)
{
	size_t len = strlen(in), step, split;
	int err, bad = 0;
	char *got;

	got = encode(in, len, 0, &err);
	is_int(err, 0, "%s: encodes", name);
	is_str(got, want, "%s: output", name);
	free(got);
	/* every chunk size, and a split at every position */
	for (step = 1; step <= len; step++) {
		got = encode(in, len, step, &err);
		if (err != 0 || strcmp(got, want) != 0)
			bad++;
		free(got);
	}
	for (split = 0; split <= len; split++) {
		struct evbuffer *out = evbuffer_new();
		struct smtp_dotenc e;
		size_t olen;
		char *s;

		smtp_dotenc_init(&e);
		smtp_dotenc_add(&e, in, split, out);
		smtp_dotenc_add(&e, in + split, len - split, out);
		smtp_dotenc_finish(&e, out);
		olen = evbuffer_get_length(out);
		s = malloc(olen + 1);
		evbuffer_remove(out, s, olen);
		s[olen] = '\0';
		if (strcmp(s, want) != 0)
			bad++;
		free(s);
		evbuffer_free(out);
	}
	is_int(bad, 0, "%s: same output at every chunk boundary", name);
}

static void
check_bad(const char *name, const char *in, size_t want_off)
{
	struct smtp_msg_info mi;
	size_t off = 99999, step;
	int err, bad = 0;
	char *got;

	is_int(smtp_msg_scan(in, strlen(in), &mi, &off), PTT_EINVAL,
	    "%s: scan refuses", name);
	is_int(off, want_off, "%s: offset of the bad byte", name);
	for (step = 0; step <= strlen(in); step++) {
		got = encode(in, strlen(in), step, &err);
		if (err != PTT_EINVAL)
			bad++;
		free(got);
	}
	is_int(bad, 0, "%s: encoder refuses at every chunk size", name);
}

int
main(void)
{
	struct smtp_msg_info mi;

	check("plain", "Subject: x\r\n\r\nhello\r\n", "Subject: x\r\n\r\nhello\r\n.\r\n");
	check("empty", "", ".\r\n");
	check("leading dot", ".hidden\r\n", "..hidden\r\n.\r\n");
	check("lone dot line", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n");
	check("dots everywhere", ".\r\n..\r\n.a.b.\r\n", "..\r\n...\r\n..a.b.\r\n.\r\n");
	check("dot inside a line", "a.b\r\n x.\r\n", "a.b\r\n x.\r\n.\r\n");
	check("no final CRLF", "abc", "abc\r\n.\r\n");
	check("no final CRLF after dot", "x\r\n.", "x\r\n..\r\n.\r\n");
	check("smuggling attempt stays data", "a\r\n.\r\nMAIL FROM:<x>\r\n",
	    "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n");
	check("8-bit", "caf\xc3\xa9\r\n", "caf\xc3\xa9\r\n.\r\n");

	check_bad("bare LF", "a\nb\r\n", 1);
	check_bad("bare CR", "a\rb\r\n", 1);
	check_bad("CR at the end", "ab\r", 2);
	check_bad("LF first", "\n", 0);
	check_bad("\\n.\\n smuggling", "a\r\n\n.\n\r\n", 3);
	check_bad("CR CR LF", "a\r\r\n", 1);

	is_int(smtp_msg_scan("a\r\nbc\xff\r\n", 8, &mi, NULL), 0, "scan ok");
	ok(mi.has8bit, "8-bit detected");
	ok(mi.ends_crlf, "ends with CRLF");
	is_int(mi.longest_line, 3, "longest line");
	is_int(smtp_msg_scan("abcd", 4, &mi, NULL), 0, "scan, no CRLF");
	ok(!mi.has8bit && !mi.ends_crlf, "7-bit, no final CRLF");
	is_int(mi.longest_line, 4, "unterminated last line counted");
	return tap_done();
}
