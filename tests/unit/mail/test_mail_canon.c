/*
 * test_mail_canon.c - DKIM canonicalisation: the RFC 6376 3.4.5 example,
 * empty bodies (with their well-known SHA-256 body hashes), chunking, l=.
 */
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#include "../tap.h"
#include "mail/canon.h"
#include "mail/codec.h"
#include "util/err.h"

/* Canonicalise the header field s into b. */
#define CANON(c, s) mail_canon_header((c), (s), strlen(s), &b)

static int
to_buf(void *arg, const void *p, size_t n)
{
	return buf_add(arg, p, n);
}

static const char ex_body[] = " C \r\nD \t E\r\n\r\n\r\n";

/* Canonicalise body in chunks of `chunk` octets (0: all at once). */
static const char *
body(enum mail_canon c, const char *in, size_t len, size_t chunk,
    uint64_t limit, struct buf *out, uint64_t *length)
{
	struct mail_canon_body cb;
	size_t i;

	buf_reset(out);
	mail_canon_body_init(&cb, c, limit, to_buf, out);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (i = 0; i < len; i += chunk)
		mail_canon_body_update(&cb, in + i, len - i < chunk ? len - i : chunk);
	mail_canon_body_final(&cb);
	if (length)
		*length = cb.length;
	return out->data;
}

static int
to_sha(void *arg, const void *p, size_t n)
{
	return EVP_DigestUpdate(arg, p, n) == 1 ? 0 : PTT_ECRYPTO;
}

static const char *
bh(enum mail_canon c, const char *in, size_t len, struct buf *out)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct mail_canon_body cb;
	unsigned char h[32];
	unsigned hl = 0;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	mail_canon_body_init(&cb, c, UINT64_MAX, to_sha, md);
	mail_canon_body_update(&cb, in, len);
	mail_canon_body_final(&cb);
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	buf_reset(out);
	mail_b64_encode(h, hl, out, 0);
	return out->data;
}

static void
test_headers(void)
{
	struct buf b;

	buf_init(&b, 0);
	CANON(MAIL_CANON_RELAXED, "A: X\r\n");
	CANON(MAIL_CANON_RELAXED, "B : Y\t\r\n\tZ  \r\n");
	is_str(b.data, "a:X\r\nb:Y Z\r\n", "RFC 6376 3.4.5 relaxed headers");
	buf_reset(&b);
	CANON(MAIL_CANON_SIMPLE, "A: X\r\n");
	CANON(MAIL_CANON_SIMPLE, "B : Y\t\r\n\tZ  \r\n");
	is_str(b.data, "A: X\r\nB : Y\t\r\n\tZ  \r\n", "RFC 6376 3.4.5 simple headers");
	buf_reset(&b);
	CANON(MAIL_CANON_SIMPLE, "X: a\nb: c");
	is_str(b.data, "X: a\r\nb: c\r\n", "simple: LF to CRLF, CRLF added");
	buf_reset(&b);
	CANON(MAIL_CANON_RELAXED, "Subject:   \r\n");
	is_str(b.data, "subject:\r\n", "relaxed empty value");
	buf_reset(&b);
	CANON(MAIL_CANON_RELAXED, "DKIM-Signature: v=1;\r\n b=;\r\n");
	is_str(b.data, "dkim-signature:v=1; b=;\r\n", "relaxed folded");
	is_int(CANON(MAIL_CANON_RELAXED, "no colon\r\n"),
	    PTT_EINVAL, "no colon");
	is_int(mail_canon_parse("Relaxed", 7), MAIL_CANON_RELAXED, "parse relaxed");
	is_int(mail_canon_parse("simple", 6), MAIL_CANON_SIMPLE, "parse simple");
	is_int(mail_canon_parse("simplex", 7), -1, "parse junk");
	buf_free(&b);
}

static void
test_body(void)
{
	struct buf b, ref;
	uint64_t len;
	size_t chunk;
	int all;
	char *big;
	size_t i;

	buf_init(&b, 0);
	buf_init(&ref, 0);
	is_str(body(MAIL_CANON_RELAXED, ex_body, sizeof(ex_body) - 1, 0,
	    UINT64_MAX, &b, &len), " C\r\nD E\r\n", "RFC 6376 3.4.5 relaxed body");
	is_int(len, 9, "relaxed length");
	is_str(body(MAIL_CANON_SIMPLE, ex_body, sizeof(ex_body) - 1, 0,
	    UINT64_MAX, &b, &len), " C \r\nD \t E\r\n", "RFC 6376 3.4.5 simple body");
	for (chunk = 1, all = 1; chunk <= 7; chunk++) {
		body(MAIL_CANON_RELAXED, ex_body, sizeof(ex_body) - 1, chunk,
		    UINT64_MAX, &b, NULL);
		all &= strcmp(b.data, " C\r\nD E\r\n") == 0;
		body(MAIL_CANON_SIMPLE, ex_body, sizeof(ex_body) - 1, chunk,
		    UINT64_MAX, &b, NULL);
		all &= strcmp(b.data, " C \r\nD \t E\r\n") == 0;
	}
	ok(all, "same result for chunks of 1..7 octets");

	is_str(body(MAIL_CANON_SIMPLE, "", 0, 0, UINT64_MAX, &b, &len), "\r\n",
	    "simple empty body is CRLF");
	is_int(len, 2, "its length");
	is_str(body(MAIL_CANON_RELAXED, "", 0, 0, UINT64_MAX, &b, &len), "",
	    "relaxed empty body is empty");
	is_str(body(MAIL_CANON_RELAXED, " \r\n\t\r\n", 6, 0, UINT64_MAX, &b, &len), "",
	    "relaxed whitespace-only body is empty");
	is_str(body(MAIL_CANON_SIMPLE, "\r\n\r\n", 4, 0, UINT64_MAX, &b, NULL),
	    "\r\n", "simple empty lines only");
	is_str(body(MAIL_CANON_SIMPLE, "abc", 3, 0, UINT64_MAX, &b, NULL),
	    "abc\r\n", "simple adds the last CRLF");
	is_str(body(MAIL_CANON_RELAXED, "abc  ", 5, 0, UINT64_MAX, &b, NULL),
	    "abc\r\n", "relaxed adds the last CRLF");
	is_str(body(MAIL_CANON_SIMPLE, "a\nb\n\n", 5, 0, UINT64_MAX, &b, NULL),
	    "a\r\nb\r\n", "bare LF read as CRLF");
	is_str(body(MAIL_CANON_SIMPLE, "a\rb\r", 4, 1, UINT64_MAX, &b, NULL),
	    "a\rb\r\r\n", "bare CR is data");
	is_str(body(MAIL_CANON_SIMPLE, "\r\nx\r\n", 5, 0, UINT64_MAX, &b, NULL),
	    "\r\nx\r\n", "leading empty line kept");

	is_str(body(MAIL_CANON_SIMPLE, ex_body, sizeof(ex_body) - 1, 0, 5, &b, &len),
	    " C \r\n", "l=5 truncates");
	is_int(len, 12, "length counts everything");
	is_str(body(MAIL_CANON_SIMPLE, "a\r\n\r\n\r\nb", 8, 1, 4, &b, &len),
	    "a\r\n\r", "l= inside held line ends");
	is_int(len, 10, "length after held line ends");
	is_str(body(MAIL_CANON_RELAXED, "x", 1, 0, 0, &b, &len), "", "l=0");
	is_int(len, 3, "l=0 length");

	is_str(bh(MAIL_CANON_SIMPLE, "", 0, &b),
	    "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=",
	    "simple empty body hash (RFC 6376 3.4.3)");
	is_str(bh(MAIL_CANON_RELAXED, "", 0, &b),
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
	    "relaxed empty body hash (RFC 6376 3.4.4)");

	/* A million trailing empty lines cost a counter, not memory. */
	big = malloc(2000003);
	big[0] = 'z';
	for (i = 1; i < 2000001; i += 2)
		memcpy(big + i, "\r\n", 2);
	is_str(body(MAIL_CANON_SIMPLE, big, 2000001, 4096, UINT64_MAX, &b, &len),
	    "z\r\n", "a million trailing empty lines");
	free(big);
	buf_free(&b);
	buf_free(&ref);
}

int
main(void)
{
	test_headers();
	test_body();
	return tap_done();
}
