/*
 * charset.c - UTF-8 validation, conversion to UTF-8 with glibc iconv, and
 * RFC 2047 encoded-word decoding (sections 2, 4, 5, 6.2; RFC 2231 5 for the
 * "charset*language" form).
 *
 * Trusts nothing: charset names are checked against a conservative
 * alphabet before iconv sees them (no '/', so no "//TRANSLIT" tricks), we
 * only convert *to* UTF-8, and every scan is linear in the input.
 * iconv_open() loads gconv modules on first use of a charset: a sandboxed
 * daemon must allow reading the gconv directory or convert once before
 * sandboxing.
 */
#include "mail/charset.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mail/codec.h"
#include "mail/defect.h"
#include "util/err.h"

static const char utf8_repl[] = "\xef\xbf\xbd";	/* U+FFFD */

/* Length of the valid UTF-8 sequence at p[0..n), or 0 when invalid. */
static size_t
utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

int
mail_utf8_valid(const void *in, size_t len)
{
	const uint8_t *p = in;
	size_t i = 0, k;

	while (i < len) {
		if ((k = utf8_seq(p + i, len - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

int
mail_utf8_sanitize(const void *in, size_t len, struct buf *out, size_t *nbad)
{
	const uint8_t *p = in;
	size_t i = 0, run = 0, bad = 0, k;

	while (i < len) {
		if ((k = utf8_seq(p + i, len - i)) != 0) {
			i += k;
			continue;
		}
		buf_add(out, p + run, i - run);
		buf_add(out, utf8_repl, 3);
		bad++;
		run = ++i;
	}
	buf_add(out, p + run, len - run);
	if (nbad)
		*nbad = bad;
	return buf_error(out) ? PTT_ENOSPC : 0;
}

static int
cs_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'+-^_`{}~.:", c));
}

/* Copy a charset name without its "*language" suffix into dst (size
 * MAIL_CHARSET_MAX + 1); false when it is not a plausible name. */
static int
cs_name(const char *cs, char *dst)
{
	size_t i;

	for (i = 0; cs[i] != '\0' && cs[i] != '*'; i++) {
		if (i >= MAIL_CHARSET_MAX || !cs_char((uint8_t)cs[i]))
			return 0;
		dst[i] = cs[i];
	}
	dst[i] = '\0';
	return i > 0;
}

static int
cs_is_utf8(const char *n)
{
	static const char *const names[] = { "utf-8", "utf8", "us-ascii",
	    "ascii", "ansi_x3.4-1968", "iso-ir-6", "us", "iso646-us", NULL };
	size_t i;

	for (i = 0; names[i]; i++)
		if (strcasecmp(n, names[i]) == 0)
			return 1;
	return 0;
}

/* Write out what a stateful decoder still holds (shift sequences). */
static void
iconv_finish(iconv_t cd, struct buf *out)
{
	char chunk[64], *op = chunk;
	size_t oleft = sizeof(chunk);

	iconv(cd, NULL, NULL, &op, &oleft);
	buf_add(out, chunk, sizeof(chunk) - oleft);
}

/*
 * Charsets handed to iconv: the families mail uses, by name prefix. Others
 * (EBCDIC and IBM code pages, exotic converters, where glibc has had its
 * bugs) are read as UTF-8 and reported, which keeps hostile mail away from
 * the least used converters.
 */
static int
cs_allowed(const char *n)
{
	static const char *const prefixes[] = {
		"iso-8859-", "iso8859-", "iso_8859-", "latin", "l1", "l2",
		"windows-125", "cp125", "cp437", "cp850", "cp852", "cp866",
		"cp874", "cp932", "cp936", "cp949", "cp950", "ms936", "ms932",
		"koi8-", "utf-16", "utf16", "utf-32", "utf32", "ucs-2", "ucs-4",
		"utf-7", "iso-2022-jp", "iso-2022-kr", "iso-2022-cn",
		"euc-jp", "euc-kr", "euc-cn", "euc-tw", "eucjp", "euckr",
		"x-euc-", "gb2312", "gbk", "gb18030", "hz-gb-2312", "big5",
		"shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji",
		"ks_c_5601", "tis-620", "tis620", "macintosh", "mac", "x-mac-",
		"viscii", "armscii-8", "georgian-", "tcvn", "csiso", "iso-ir-",
		"ansi_x3.4", "x-user-defined", "uhc", "johab", "iso-10646",
	};
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncasecmp(n, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

int
mail_charset_to_utf8(const char *charset, const void *in, size_t len,
    struct buf *out, unsigned *defects)
{
	char name[MAIL_CHARSET_MAX + 1], chunk[4096];
	char *ip = (char *)(uintptr_t)in;
	size_t ileft = len, nbad = 0;
	iconv_t cd;
	int r;

	if (charset == NULL || (cs_name(charset, name) && cs_is_utf8(name))) {
		r = mail_utf8_sanitize(in, len, out, &nbad);
		if (nbad && defects)
			*defects |= MAIL_D_CHARSET;
		return r;
	}
	if (!cs_name(charset, name) || !cs_allowed(name) ||
	    (cd = iconv_open("UTF-8", name)) == (iconv_t)-1) {
		r = mail_utf8_sanitize(in, len, out, &nbad);
		if (defects)
			*defects |= MAIL_D_CHARSET;
		return r;
	}
	for (;;) {
		char *op = chunk;
		size_t oleft = sizeof(chunk);
		size_t rc = iconv(cd, ileft ? &ip : NULL, &ileft, &op, &oleft);
		int e = errno;

		buf_add(out, chunk, sizeof(chunk) - oleft);
		if (buf_error(out))
			break;
		if (rc != (size_t)-1) {
			if (ileft == 0) {
				iconv_finish(cd, out);
				break;
			}
			continue;
		}
		if (e == E2BIG)
			continue;
		/* EILSEQ or EINVAL (truncated sequence): replace one octet. */
		buf_add(out, utf8_repl, 3);
		nbad++;
		if (ileft == 0)
			break;
		ip++;
		ileft--;
		if (ileft == 0) {
			iconv_finish(cd, out);
			break;
		}
	}
	iconv_close(cd);
	if (nbad && defects)
		*defects |= MAIL_D_CHARSET;
	return buf_error(out) ? PTT_ENOSPC : 0;
}

/*
 * Recognise "=?charset?X?text?=" at s[0..n). On success fills the parts and
 * returns the encoded-word's length; 0 when there is none. Each scan stops
 * at the next '?' or whitespace, so scanning stays linear overall.
 */
static size_t
ew_match(const char *s, size_t n, const char **cs, size_t *cslen, char *enc,
    const char **text, size_t *textlen)
{
	size_t i = 2, j;

	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	for (j = i; j < n && s[j] != '?'; j++)
		if (!cs_char((uint8_t)s[j]) && s[j] != '*')
			return 0;
	if (j == i || j >= n || j - i > 2 * MAIL_CHARSET_MAX)
		return 0;
	*cs = s + i;
	*cslen = j - i;
	i = j + 1;
	if (i + 2 >= n || s[i + 1] != '?')
		return 0;
	*enc = s[i];
	if (*enc != 'b' && *enc != 'B' && *enc != 'q' && *enc != 'Q')
		return 0;
	i += 2;
	for (j = i; j < n && s[j] != '?'; j++)
		if (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n')
			return 0;
	if (j + 1 >= n || s[j + 1] != '=')
		return 0;
	*text = s + i;
	*textlen = j - i;
	return j + 2;
}

struct ew_state {
	struct buf *out;
	struct buf pend;	/* decoded octets of adjacent words in one charset */
	char cs[2 * MAIL_CHARSET_MAX + 1];
	int have;		/* pend holds a run */
	unsigned d;
};

static void
ew_flush(struct ew_state *st)
{
	if (!st->have)
		return;
	mail_charset_to_utf8(st->cs, st->pend.data, st->pend.len, st->out, &st->d);
	buf_reset(&st->pend);
	st->have = 0;
}

static int
is_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
mail_ew_decode(const char *in, size_t len, struct buf *out, unsigned *defects)
{
	struct ew_state st = { .out = out, .have = 0, .d = 0 };
	size_t i = 0, text = 0;	/* in[text..i) is plain text not yet written */
	int after_ew = 0;	/* in[text..i) is whitespace after an encoded-word */

	buf_init(&st.pend, out->max);
	while (i < len) {
		const char *cs, *t;
		size_t cslen, tlen, n;
		char enc;

		if (in[i] == '=' && (n = ew_match(in + i, len - i, &cs, &cslen,
		    &enc, &t, &tlen)) != 0) {
			unsigned wd = 0;

			/* Whitespace between two encoded-words goes (6.2). */
			if (!after_ew)
				mail_utf8_sanitize(in + text, i - text, out, NULL);
			if (st.have && (cslen != strlen(st.cs) ||
			    strncasecmp(cs, st.cs, cslen) != 0))
				ew_flush(&st);
			if (!st.have) {
				memcpy(st.cs, cs, cslen);
				st.cs[cslen] = '\0';
				st.have = 1;
			}
			if (enc == 'b' || enc == 'B')
				mail_b64_decode(t, tlen, &st.pend, &wd);
			else
				mail_qp_decode(t, tlen, &st.pend, true, &wd);
			if (wd)
				st.d |= MAIL_D_ENCODED_WORD;
			i += n;
			text = i;
			after_ew = 1;
			continue;
		}
		if (after_ew && !is_lwsp(in[i])) {
			/* Text after an encoded-word: the whitespace stays. */
			ew_flush(&st);
			after_ew = 0;
		}
		i++;
	}
	ew_flush(&st);
	mail_utf8_sanitize(in + text, len - text, out, NULL);
	buf_free(&st.pend);
	if (defects)
		*defects |= st.d;
	return buf_error(out) ? PTT_ENOSPC : 0;
}
