/*
 * canon.h - DKIM canonicalisation (RFC 6376 3.4.1 - 3.4.4), also used by
 * ARC (RFC 8617).
 *
 * Header fields: one field at a time, from its raw bytes (mail_field.raw).
 * Body: a streaming canonicaliser that takes the body in chunks of any
 * size (a CRLF split across two chunks is fine) and hands canonical bytes
 * to a sink, typically EVP_DigestUpdate. It removes trailing empty lines,
 * which it can only know at the end, so it holds back line ends (as a
 * count, never as memory) until a non-empty line follows.
 *
 * Line ends: CRLF and bare LF both end a line (bare LF is read as CRLF, as
 * an MTA would have fixed it on the wire); a bare CR is an ordinary octet.
 */
#ifndef PTT_MAIL_CANON_H
#define PTT_MAIL_CANON_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum mail_canon {
	MAIL_CANON_SIMPLE,
	MAIL_CANON_RELAXED,
};

/* Parse "simple" / "relaxed" (case-insensitive); -1 when neither. */
int mail_canon_parse(const char *s, size_t len);

/*
 * Append one canonicalised header field, raw[0..len) as received (name,
 * colon, value, folding, line end), ending in CRLF. simple: unchanged
 * except that bare LF becomes CRLF and a missing final CRLF is added.
 * relaxed: name lowercased, unfolded, WSP runs as one SP, WSP around the
 * colon and at the end removed. DKIM signs its own DKIM-Signature field
 * without the final CRLF: truncate the buf by 2 for that one. Returns 0,
 * PTT_EINVAL when raw has no colon, or PTT_ENOSPC.
 */
int mail_canon_header(enum mail_canon c, const char *raw, size_t len,
    struct buf *out);

/* A sink for canonical body bytes; a non-zero return stops the stream
 * and is returned by update/final. */
typedef int (*mail_canon_sink)(void *arg, const void *p, size_t n);

struct mail_canon_body {
	enum mail_canon mode;
	uint64_t limit;		/* l=: bytes passed to the sink at most */
	uint64_t length;	/* canonical body length so far (all of it) */
	uint64_t emitted;	/* bytes passed to the sink (<= limit) */
	uint64_t crlf;		/* line ends held back */
	int cr;			/* a CR held back (LF may follow) */
	int wsp;		/* relaxed: a WSP run held back */
	int err;		/* sticky sink error */
	mail_canon_sink sink;
	void *arg;
	uint8_t out[4096];	/* staging for the sink */
	size_t outn;
};

/*
 * limit: UINT64_MAX for "no l=", else the l= value. After final, length is
 * the whole canonical body's length (a signer's l= value; a verifier must
 * fail when length < its l=, RFC 6376 6.1.3) and emitted what was hashed.
 */
void mail_canon_body_init(struct mail_canon_body *cb, enum mail_canon mode,
    uint64_t limit, mail_canon_sink sink, void *arg);
int mail_canon_body_update(struct mail_canon_body *cb, const void *p, size_t n);
int mail_canon_body_final(struct mail_canon_body *cb);

#endif
