/*
 * test_mail_codec.c - base64 and quoted-printable (RFC 4648 10 vectors,
 * RFC 2045 6.7/6.8), charset conversion, RFC 2047 section 8 examples.
 */
#include <string.h>

#include "../tap.h"
#include "mail/charset.h"
#include "mail/codec.h"
#include "mail/defect.h"
#include "util/err.h"

static struct buf b;

static const char *
b64d(const char *in, unsigned *d)
{
	buf_reset(&b);
	*d = 0;
	mail_b64_decode(in, strlen(in), &b, d);
	return b.data;
}

static const char *
qpd(const char *in, bool q, unsigned *d)
{
	buf_reset(&b);
	*d = 0;
	mail_qp_decode(in, strlen(in), &b, q, d);
	return b.data;
}

static const char *
ew(const char *in, unsigned *d)
{
	buf_reset(&b);
	*d = 0;
	mail_ew_decode(in, strlen(in), &b, d);
	return b.data;
}

static void
test_b64(void)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob",
	    "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v",
	    "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	unsigned d, i;
	struct buf big;
	char raw[300];

	for (i = 0; i < 7; i++) {
		buf_reset(&b);
		mail_b64_encode(plain[i], strlen(plain[i]), &b, 0);
		is_str(b.data, enc[i], "b64 encode RFC 4648 vector %u", i);
		is_str(b64d(enc[i], &d), plain[i], "b64 decode RFC 4648 vector %u", i);
		is_int(d, 0, "no defects for vector %u", i);
	}
	is_str(b64d("Zm9v\r\nYmFy\r\n", &d), "foobar", "b64 across CRLF");
	is_int(d, 0, "line breaks are not garbage");
	is_str(b64d(" Zm 9v\tYg == ", &d), "foob", "b64 with spaces and tabs");
	is_int(d, 0, "whitespace is not garbage");
	is_str(b64d("Zm9v!YmFy", &d), "foobar", "garbage skipped");
	ok(d & MAIL_D_B64_GARBAGE, "garbage reported");
	is_str(b64d("Zm9vYg", &d), "foob", "missing padding accepted");
	is_int(d, 0, "missing padding is not a defect");
	is_str(b64d("Zm9vY", &d), "foo", "truncated quantum dropped");
	ok(d & MAIL_D_B64_TRUNCATED, "truncated quantum reported");
	is_str(b64d("Zg==Zg==", &d), "ff", "data after padding decoded");
	ok(d & MAIL_D_B64_GARBAGE, "data after padding reported");
	is_str(b64d("=Zm9v", &d), "foo", "leading '=' skipped");
	ok(d & MAIL_D_B64_GARBAGE, "leading '=' reported");

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (char)(i * 7 + 3);
	buf_init(&big, 0);
	buf_reset(&b);
	mail_b64_encode(raw, 57, &b, 76);
	is_int(b.len, 78, "57 octets make one 76-char line + CRLF");
	buf_reset(&b);
	mail_b64_encode(raw, sizeof(raw), &b, 76);
	ok(strstr(b.data, "\r\n") == b.data + 76, "lines wrap at 76");
	ok(b.len >= 2 && memcmp(b.data + b.len - 2, "\r\n", 2) == 0,
	    "last line ends in CRLF");
	d = 0;
	mail_b64_decode(b.data, b.len, &big, &d);
	ok(big.len == sizeof(raw) && memcmp(big.data, raw, sizeof(raw)) == 0,
	    "binary round trip");
	is_int(d, 0, "round trip without defects");
	buf_free(&big);

	/* The output limit. */
	buf_init(&big, 4);
	is_int(mail_b64_decode("Zm9vYmFy", 8, &big, NULL), PTT_ENOSPC,
	    "output limit gives ENOSPC");
	buf_free(&big);
}

static void
test_qp(void)
{
	unsigned d;
	struct buf enc, dec;
	const char *text;
	char longline[201];

	is_str(qpd("a=3Db", false, &d), "a=b", "=3D");
	is_str(qpd("a=3db", false, &d), "a=b", "lowercase hex accepted");
	is_int(d, 0, "no defect for lowercase");
	is_str(qpd("abc=\r\ndef", false, &d), "abcdef", "soft line break");
	is_str(qpd("abc=  \r\ndef", false, &d), "abcdef",
	    "soft line break with trailing whitespace");
	is_str(qpd("abc=\ndef", false, &d), "abcdef", "soft break, LF only");
	is_str(qpd("abc  \r\ndef\r\n", false, &d), "abc\r\ndef\r\n",
	    "trailing whitespace removed (rule 3)");
	is_str(qpd("a\nb", false, &d), "a\r\nb", "LF becomes CRLF");
	is_str(qpd("a=G1b", false, &d), "a=G1b", "bad escape kept");
	ok(d & MAIL_D_QP_BAD_ESCAPE, "bad escape reported");
	is_str(qpd("a=4", false, &d), "a=4", "escape cut by the end kept");
	ok(d & MAIL_D_QP_BAD_ESCAPE, "cut escape reported");
	is_str(qpd("abc=", false, &d), "abc", "'=' at the end is a soft break");
	is_str(qpd("Keld_J=F8rn", true, &d), "Keld J\xf8rn", "Q encoding");
	is_str(qpd("a_b", false, &d), "a_b", "'_' literal outside Q");

	buf_init(&enc, 0);
	buf_init(&dec, 0);
	mail_qp_encode("hello=world", 11, &enc);
	is_str(enc.data, "hello=3Dworld", "encode '='");
	buf_reset(&enc);
	mail_qp_encode("a \r\nb\t\n", 7, &enc);
	is_str(enc.data, "a=20\r\nb=09\r\n", "encode trailing whitespace");
	buf_reset(&enc);
	mail_qp_encode(".x\r\nFrom me\r\n", 13, &enc);
	is_str(enc.data, "=2Ex\r\n=46rom me\r\n", "encode leading '.' and From");
	buf_reset(&enc);
	mail_qp_encode("caf\xc3\xa9", 5, &enc);
	is_str(enc.data, "caf=C3=A9", "encode 8-bit");
	memset(longline, 'x', 200);
	longline[200] = '\0';
	longline[75] = '\xff';
	buf_reset(&enc);
	mail_qp_encode(longline, 200, &enc);
	{
		const char *p = enc.data, *nl;
		int maxl = 0;

		while ((nl = strstr(p, "\r\n")) != NULL) {
			if (nl - p > maxl)
				maxl = (int)(nl - p);
			p = nl + 2;
		}
		if ((int)strlen(p) > maxl)
			maxl = (int)strlen(p);
		ok(maxl <= 76, "encoded lines are at most 76 (got %d)", maxl);
	}
	mail_qp_decode(enc.data, enc.len, &dec, false, &d);
	ok(dec.len == 200 && memcmp(dec.data, longline, 200) == 0,
	    "long line round trip");
	text = "Line one\r\nLine two with = and \t tab \r\n\r\n.\r\nend";
	buf_reset(&enc);
	buf_reset(&dec);
	mail_qp_encode(text, strlen(text), &enc);
	d = 0;
	mail_qp_decode(enc.data, enc.len, &dec, false, &d);
	is_str(dec.data, text, "text round trip");
	is_int(d, 0, "round trip without defects");
	buf_free(&enc);
	buf_free(&dec);
}

static void
test_charset(void)
{
	unsigned d = 0;

	buf_reset(&b);
	mail_charset_to_utf8("ISO-8859-1", "caf\xe9", 4, &b, &d);
	is_str(b.data, "caf\xc3\xa9", "latin-1 to UTF-8");
	is_int(d, 0, "latin-1: no defect");
	buf_reset(&b);
	mail_charset_to_utf8("windows-1252", "\x80", 1, &b, &d);
	is_str(b.data, "\xe2\x82\xac", "cp1252 euro");
	buf_reset(&b);
	d = 0;
	mail_charset_to_utf8("utf-8", "a\xffz\xc3\xa9", 5, &b, &d);
	is_str(b.data, "a\xef\xbf\xbdz\xc3\xa9", "invalid UTF-8 replaced");
	ok(d & MAIL_D_CHARSET, "invalid UTF-8 reported");
	buf_reset(&b);
	d = 0;
	mail_charset_to_utf8("utf-8", "\xed\xa0\x80\xc0\xaf", 5, &b, &d);
	ok(mail_utf8_valid(b.data, b.len), "surrogates and overlongs replaced");
	buf_reset(&b);
	d = 0;
	mail_charset_to_utf8("x-no-such-charset", "abc\xe9", 4, &b, &d);
	is_str(b.data, "abc\xef\xbf\xbd", "unknown charset: ASCII kept");
	ok(d & MAIL_D_CHARSET, "unknown charset reported");
	buf_reset(&b);
	d = 0;
	mail_charset_to_utf8("IBM037", "\xc1", 1, &b, &d);
	is_str(b.data, "\xef\xbf\xbd", "EBCDIC not handed to iconv");
	ok(d & MAIL_D_CHARSET, "EBCDIC reported");
	buf_reset(&b);
	d = 0;
	mail_charset_to_utf8("KOI8-R", "\xc1", 1, &b, &d);
	is_str(b.data, "\xd0\xb0", "KOI8-R");
	buf_reset(&b);
	d = 0;
	mail_charset_to_utf8("Shift_JIS", "\x82\xa0", 2, &b, &d);
	is_str(b.data, "\xe3\x81\x82", "Shift_JIS");
	buf_reset(&b);
	d = 0;
	mail_charset_to_utf8("gb2312", "\xc4\xe3", 2, &b, &d);
	is_str(b.data, "\xe4\xbd\xa0", "GB2312");
	is_int(d, 0, "no defects for known charsets");
	buf_reset(&b);
	d = 0;
	mail_charset_to_utf8("UTF-8//TRANSLIT", "abc", 3, &b, &d);
	ok(d & MAIL_D_CHARSET, "charset with '/' refused");
	buf_reset(&b);
	d = 0;
	mail_charset_to_utf8("UTF-16LE", "a\0b", 3, &b, &d);
	is_str(b.data, "a\xef\xbf\xbd", "truncated UTF-16 replaced");
	ok(d & MAIL_D_CHARSET, "truncated input reported");
	buf_reset(&b);
	d = 0;
	mail_charset_to_utf8("iso-2022-jp", "\x1b$B$3$s\x1b(B", 10, &b, &d);
	is_str(b.data, "\xe3\x81\x93\xe3\x82\x93", "stateful ISO-2022-JP");
	is_int(d, 0, "ISO-2022-JP: no defect");
}

static void
test_ew(void)
{
	unsigned d;

	/* RFC 2047 section 8 */
	is_str(ew("(=?ISO-8859-1?Q?a?=)", &d), "(a)", "8: (a)");
	is_str(ew("(=?ISO-8859-1?Q?a?= b)", &d), "(a b)", "8: (a b)");
	is_str(ew("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", &d), "(ab)",
	    "8: adjacent words joined");
	is_str(ew("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", &d), "(ab)",
	    "8: two spaces between words");
	is_str(ew("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", &d), "(ab)",
	    "8: folding between words");
	is_str(ew("(=?ISO-8859-1?Q?a_b?=)", &d), "(a b)", "8: underscore");
	is_str(ew("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", &d), "(a b)",
	    "8: different charsets");
	is_str(ew("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", &d),
	    "Keith Moore <moore@cs.utk.edu>", "8: Keith Moore");
	is_str(ew("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>", &d),
	    "Keld J\xc3\xb8rn Simonsen <keld@dkuug.dk>", "8: Keld J\\xf8rn");
	is_str(ew("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>", &d),
	    "Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>", "8: Andr\\xe9 Pirard");
	is_str(ew("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= "
	    "=?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=", &d),
	    "If you can read this you understand the example.",
	    "8: B-encoded subject");
	is_int(d, 0, "no defects in the examples");
	is_str(ew("=?US-ASCII*EN?Q?Keith_Moore?=", &d), "Keith Moore",
	    "RFC 2231 5: charset*language");
	is_str(ew("=?utf-8?q?=E2=9C?= =?UTF-8?Q?=88?=", &d), "\xe2\x9c\x88",
	    "character split across two words");
	is_int(d, 0, "split character: no defect");
	is_str(ew("=?utf-8?x?abc?=", &d), "=?utf-8?x?abc?=",
	    "unknown encoding kept literally");
	is_str(ew("=?utf-8?q?abc", &d), "=?utf-8?q?abc", "unterminated kept");
	is_str(ew("=?utf-8?b?Zm9v!?=", &d), "foo", "bad base64 decoded");
	ok(d & MAIL_D_ENCODED_WORD, "bad base64 reported");
	is_str(ew("=?x-unknown?q?abc?=", &d), "abc", "unknown charset");
	ok(d & MAIL_D_CHARSET, "unknown charset reported");
	is_str(ew("=?utf-8?q?a?= b =?utf-8?q?c?=", &d), "a b c",
	    "text between words keeps its spaces");
	is_str(ew("plain \xc3\xa9t\xe9", &d), "plain \xc3\xa9t\xef\xbf\xbd",
	    "raw 8-bit text sanitized");
	is_str(ew("=?utf-8?q?" "?=x", &d), "x", "empty encoded-word");
	is_str(ew("=?=?=?=?utf-8?q?ok?=", &d), "=?=?=?ok", "nested starts");
}

static void
test_names(void)
{
	size_t n = 0;

	is_str(mail_defect_name(MAIL_D_LF_ONLY), "lf-only", "first defect name");
	is_str(mail_defect_name(MAIL_D_BAD_ADDRESS), "bad-address", "last defect name");
	is_str(mail_defect_name(3), "unknown", "not a single bit");
	buf_reset(&b);
	mail_utf8_sanitize("\xc3(\xe2\x82", 4, &b, &n);
	is_int(n, 3, "three bad octets counted");
	ok(mail_utf8_valid(b.data, b.len), "sanitized output is valid");
}

int
main(void)
{
	buf_init(&b, 0);
	test_names();
	test_b64();
	test_qp();
	test_charset();
	test_ew();
	buf_free(&b);
	return tap_done();
}
