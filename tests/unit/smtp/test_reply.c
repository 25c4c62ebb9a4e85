/*
 * test_reply.c - the client's SMTP reply parser (RFC 5321 4.2, enhanced
 * codes RFC 3463/2034) and EHLO capability parsing.
 */
#include <stdio.h>
#include <string.h>

#include "smtp/reply.h"
#include "util/err.h"
#include "../tap.h"

static int
parse(struct smtp_reply *r, const char *s, size_t *used)
{
	return smtp_reply_parse(r, s, strlen(s), used);
}

static void
test_single(void)
{
	struct smtp_reply r;
	size_t used;
	char s[200];

	smtp_reply_init(&r);
	is_int(parse(&r, "250 2.1.0 Ok\r\n", &used), 1, "single line parses");
	is_int(used, 14, "used the whole line");
	is_int(r.code, 250, "code");
	is_str(r.enh, "2.1.0", "enhanced code");
	is_str(r.text.data, "Ok", "text without the enhanced code");
	is_int(r.nlines, 1, "one line");

	is_int(parse(&r, "220 mx.example.test ESMTP\r\n", &used), 1, "greeting");
	is_str(r.enh, "", "no enhanced code in a greeting");
	is_str(r.text.data, "mx.example.test ESMTP", "greeting text");

	is_int(parse(&r, "354\r\n", &used), 1, "code alone (no text)");
	is_int(r.code, 354, "354");
	is_str(r.text.data, "", "empty text");

	is_int(parse(&r, "250 ok\n", &used), 1, "bare LF line end tolerated");
	is_int(parse(&r, "550 4.1.1 mismatched class\r\n", &used), 1,
	    "enhanced code of another class");
	is_str(r.enh, "", "class mismatch is not an enhanced code");
	is_str(r.text.data, "4.1.1 mismatched class", "kept as text");

	is_int(parse(&r, "451 4.7.1\r\n", &used), 1, "enhanced code, no text");
	is_str(r.enh, "4.7.1", "enh alone");
	is_int(parse(&r, "250 2.0.0queued\r\n", &used), 1, "enh glued to text");
	is_str(r.enh, "", "glued is not an enhanced code");
	is_int(parse(&r, "550 5.1.1000 x\r\n", &used), 1, "4-digit detail");
	is_str(r.enh, "", "too long detail is not an enhanced code");

	is_int(parse(&r, "550 5.1.1 no such user\r\n", &used), 1, "550");
	is_str(smtp_reply_str(&r, s, sizeof(s)), "550 5.1.1 no such user",
	    "reply as a string");
	smtp_reply_free(&r);
}

static void
test_multi(void)
{
	struct smtp_reply r;
	size_t used;
	const char *m = "550-5.1.1 The email account that you tried to reach\r\n"
	    "550-5.1.1 does not exist. Please try\r\n"
	    "550 5.1.1 double-checking.\r\nEXTRA";
	char s[300];

	smtp_reply_init(&r);
	is_int(parse(&r, m, &used), 1, "multi-line reply");
	is_int(used, strlen(m) - 5, "stops after the last line");
	is_int(r.nlines, 3, "three lines");
	is_str(r.enh, "5.1.1", "enh from the first line");
	is_str(r.text.data, "The email account that you tried to reach\n"
	    "does not exist. Please try\ndouble-checking.",
	    "repeated enh stripped from every line");
	is_str(smtp_reply_str(&r, s, sizeof(s)),
	    "550 5.1.1 The email account that you tried to reach; does not exist. Please try; double-checking.",
	    "joined for logs");

	is_int(parse(&r, "250-a\r\n250-b\r\n", &used), 0, "incomplete: need more");
	is_int(used, 0, "nothing consumed");
	is_int(parse(&r, "250-a\r\n250 b", &used), 0, "last line unterminated");
	is_int(parse(&r, "250-a\r\n251 b\r\n", &used), PTT_EPROTO,
	    "code changes between lines");
	is_int(parse(&r, "250-a\r\n250-4.0.0 b\r\n250 c\r\n", &used), 1,
	    "other-class code on a later line");
	smtp_reply_free(&r);
}

static void
test_malformed(void)
{
	static const char *const bad[] = {
		"hello\r\n", "25\r\n", "2500 x\r\n", "250x\r\n", "150 x\r\n",
		"650 x\r\n", "260 x\r\n", "\r\n", "250\tx\r\n", "-250 x\r\n",
		"250 a\rb\r\n", "250 nul\0x\r\n", "250 esc\x1b[0m\r\n",
		" 250 x\r\n", "250_x\r\n",
	};
	static const size_t badlen[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 13,
		0, 0, 0 };
	struct smtp_reply r;
	size_t i, used, n;
	char big[SMTP_REPLY_LINE_MAX + 20];
	struct buf many;

	smtp_reply_init(&r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = badlen[i] ? badlen[i] : strlen(bad[i]);
		is_int(smtp_reply_parse(&r, bad[i], n, &used), PTT_EPROTO,
		    "garbage %zu is a protocol error", i);
	}
	memset(big, 'a', sizeof(big));
	memcpy(big, "250 ", 4);
	is_int(smtp_reply_parse(&r, big, sizeof(big), &used), PTT_EPROTO,
	    "unterminated over-long line");
	is_int(smtp_reply_parse(&r, big, 100, &used), 0,
	    "short unterminated line waits");
	big[SMTP_REPLY_LINE_MAX + 1] = '\n';
	is_int(smtp_reply_parse(&r, big, SMTP_REPLY_LINE_MAX + 2, &used),
	    PTT_EPROTO, "line one byte too long");
	big[SMTP_REPLY_LINE_MAX] = '\n';
	is_int(smtp_reply_parse(&r, big, SMTP_REPLY_LINE_MAX + 1, &used), 1,
	    "line at the limit");

	buf_init(&many, 0);
	for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
		buf_adds(&many, "250-x\r\n");
	buf_adds(&many, "250 x\r\n");
	is_int(smtp_reply_parse(&r, many.data, many.len, &used), PTT_EPROTO,
	    "too many lines");
	buf_reset(&many);
	for (i = 0; i + 1 < SMTP_REPLY_LINES_MAX; i++)
		buf_adds(&many, "250-x\r\n");
	buf_adds(&many, "250 x\r\n");
	is_int(smtp_reply_parse(&r, many.data, many.len, &used), 1,
	    "lines at the limit");
	buf_free(&many);

	smtp_reply_reset(&r);
	is_int(smtp_reply_feed(&r, "250 ok", 6), 1, "feed a line");
	is_int(smtp_reply_feed(&r, "250 ok", 6), PTT_EPROTO,
	    "feeding past the end is an error");
	smtp_reply_free(&r);
}

static void
test_caps(void)
{
	struct smtp_reply r;
	struct smtp_caps caps;
	size_t used;
	const char *e = "250-mx.example.test Hello\r\n"
	    "250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
	    "250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n"
	    "250-AUTH=PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
	    "250-DSN\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250 REQUIRETLS\r\n";

	smtp_reply_init(&r);
	is_int(parse(&r, e, &used), 1, "EHLO reply");
	is_int(smtp_caps_parse(&caps, &r), 0, "caps parse");
	is_int(caps.flags, SMTP_CAP_PIPELINING | SMTP_CAP_SIZE | SMTP_CAP_STARTTLS |
	    SMTP_CAP_AUTH | SMTP_CAP_ENHANCEDSTATUSCODES | SMTP_CAP_8BITMIME |
	    SMTP_CAP_DSN | SMTP_CAP_SMTPUTF8 | SMTP_CAP_CHUNKING |
	    SMTP_CAP_REQUIRETLS, "all keywords");
	is_int(caps.size, 10240000, "SIZE value");
	is_int(caps.auth, SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN | SMTP_AUTH_CRAM_MD5,
	    "AUTH mechanisms");

	is_int(parse(&r, "250-x\r\n250-size\r\n250-pipelining\r\n250 auth xoauth2 foo\r\n",
	    &used), 1, "lower case");
	smtp_caps_parse(&caps, &r);
	is_int(caps.flags, SMTP_CAP_SIZE | SMTP_CAP_PIPELINING | SMTP_CAP_AUTH,
	    "keywords are case-insensitive");
	is_int(caps.size, 0, "SIZE without a number: no limit");
	is_int(caps.auth, SMTP_AUTH_XOAUTH2 | SMTP_AUTH_OTHER, "other mechanisms");

	is_int(parse(&r, "250-x\r\n250-SIZE abc\r\n250-PIPELININGX\r\n"
	    "250-STARTTLSfoo\r\n250-SIZE 99999999999999999999999\r\n250 8BITMIME junk\r\n",
	    &used), 1, "odd keywords");
	smtp_caps_parse(&caps, &r);
	is_int(caps.flags, SMTP_CAP_8BITMIME, "malformed keywords ignored");

	is_int(parse(&r, "250 only.name\r\n", &used), 1, "one-line EHLO reply");
	is_int(smtp_caps_parse(&caps, &r), 0, "parses");
	is_int(caps.flags, 0, "no capabilities");
	is_int(parse(&r, "550 no\r\n", &used), 1, "refused EHLO");
	is_int(smtp_caps_parse(&caps, &r), PTT_EINVAL, "not a 2xx reply");
	smtp_reply_free(&r);
}

int
main(void)
{
	test_single();
	test_multi();
	test_malformed();
	test_caps();
	return tap_done();
}
