/*
 * charset.h - conversion to UTF-8 (glibc iconv) and RFC 2047 encoded-words.
 *
 * Everything handed to the rest of ptt is valid UTF-8: invalid or
 * unconvertible octets become U+FFFD and set MAIL_D_CHARSET in *defects
 * (which may be NULL). Functions append to a caller's buf and return 0, or
 * PTT_ENOSPC when the buf reached its limit.
 */
#ifndef PTT_MAIL_CHARSET_H
#define PTT_MAIL_CHARSET_H

#include <stddef.h>

#include "util/buf.h"

/* Longest charset name accepted (IANA names are shorter). */
#define MAIL_CHARSET_MAX 40

/*
 * Append in[0..len) converted from charset to UTF-8. charset == NULL or
 * "us-ascii" or "utf-8" (any case, with RFC 2231 language suffix
 * "*lang" ignored) only validates. An unknown charset, or one outside the
 * families mail uses (EBCDIC, IBM code pages: see cs_allowed()), validates
 * as UTF-8 too (replacing non-UTF-8 octets), and sets MAIL_D_CHARSET.
 */
int mail_charset_to_utf8(const char *charset, const void *in, size_t len,
    struct buf *out, unsigned *defects);

/* Append in as UTF-8, each invalid sequence replaced by U+FFFD. Returns
 * the number of replacements through *nbad (may be NULL). */
int mail_utf8_sanitize(const void *in, size_t len, struct buf *out, size_t *nbad);

/* True when in[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int mail_utf8_valid(const void *in, size_t len);

/*
 * RFC 2047: decode the encoded-words of an unstructured header value (or a
 * phrase) to UTF-8. Text outside encoded-words is copied (sanitized as
 * UTF-8, RFC 6532); linear whitespace between two adjacent encoded-words is
 * dropped (6.2), and adjacent words in the same charset are joined before
 * conversion, so a character split across them survives. A malformed
 * encoded-word is copied literally; one whose text does not decode cleanly
 * sets MAIL_D_ENCODED_WORD. Encoded-words inside quoted strings and not
 * delimited by whitespace are decoded too, as mail clients do. Give it an
 * unfolded value (mail_field.value).
 */
int mail_ew_decode(const char *in, size_t len, struct buf *out, unsigned *defects);

#endif
