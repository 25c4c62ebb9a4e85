/*
 * codec.h - MIME content-transfer-encodings (RFC 2045 6.7, 6.8) and the
 * RFC 2047 4.2 "Q" variant used in encoded-words.
 *
 * Decoders read untrusted bytes and append what they decode to a caller's
 * buf (whose max bounds the output); they never fail on bad input but set
 * MAIL_D_* bits in *defects (which may be NULL) and go on. They return 0,
 * or PTT_ENOSPC when the output buf reached its limit (its content is then
 * truncated). Time is linear in the input.
 */
#ifndef PTT_MAIL_CODEC_H
#define PTT_MAIL_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/*
 * Base64 (RFC 2045 6.8): SP, HTAB, CR and LF are skipped silently; any
 * other non-alphabet octet is skipped and reported as MAIL_D_B64_GARBAGE
 * (so a strict caller such as DKIM's b= checks that bit); a quantum cut
 * short by the end of input is MAIL_D_B64_TRUNCATED. Missing padding is
 * accepted. Data after '=' padding is decoded as a new quantum and
 * reported as garbage.
 */
int mail_b64_decode(const void *in, size_t len, struct buf *out, unsigned *defects);

/*
 * Base64 encoding. line_len == 0: one line without line breaks (DKIM b=,
 * bh=); otherwise lines of at most line_len characters (rounded down to a
 * multiple of 4, at least 4) each ending in CRLF, the last one included.
 */
int mail_b64_encode(const void *in, size_t len, struct buf *out, size_t line_len);

/*
 * Quoted-printable (RFC 2045 6.7). Soft line breaks ("=" at the end of a
 * line, trailing whitespace allowed) are removed; line breaks (CRLF or LF)
 * are kept as CRLF; trailing whitespace on a line is removed (rule 3).
 * A bad escape ("=G1", "=" followed by non-hex) is kept literally and
 * reported as MAIL_D_QP_BAD_ESCAPE; lowercase hex is accepted.
 * q_mode: the RFC 2047 "Q" encoding ('_' is a space, no line structure).
 */
int mail_qp_decode(const void *in, size_t len, struct buf *out, bool q_mode,
    unsigned *defects);

/*
 * Quoted-printable encoding of text: CRLF or LF in the input are line
 * breaks (written as CRLF); output lines are at most 76 characters with
 * soft line breaks; '=', controls, octets >= 0x80 and whitespace before a
 * line break are escaped; a "." or "From " at the start of a line is
 * escaped too so the result survives SMTP and mbox unchanged.
 */
int mail_qp_encode(const void *in, size_t len, struct buf *out);

/* Append p[0..n) turning each bare LF into CRLF (CRLF stays as it is).
 * Returns 0 or PTT_ENOSPC. */
int mail_crlf_append(struct buf *out, const void *p, size_t n);

#endif
