/*
 * dotstuff.h - the client's view of a message body: checks before sending
 * and the DATA encoding.
 *
 * Implements RFC 5321 4.5.2 (transparency: a line that starts with '.' gets
 * one more '.') and 4.1.1.4 (the body ends with CRLF "." CRLF), plus the
 * rules ptt sends by: the message must already use CRLF line endings, and
 * a bare CR or a bare LF is refused, never repaired (SMTP smuggling).
 *
 * The encoder is incremental: feed the message in pieces of any size (a
 * CRLF or a line-leading '.' may straddle two pieces) and it appends the
 * encoded bytes to an evbuffer. It trusts nothing about the input.
 */
#ifndef PTT_SMTP_DOTSTUFF_H
#define PTT_SMTP_DOTSTUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

struct smtp_msg_info {
	bool has8bit;		/* a byte >= 0x80 (needs BODY=8BITMIME) */
	bool has_nul;		/* a NUL byte */
	bool ends_crlf;		/* the last two bytes are CRLF (or empty) */
	size_t longest_line;	/* without CRLF (RFC 5321 4.5.3.1.6: 998) */
};

/* Scan a whole message. 0, or PTT_EINVAL at the first bare CR or LF
 * (*bad_off, when not NULL, gets its offset). */
int smtp_msg_scan(const void *msg, size_t len, struct smtp_msg_info *mi,
    size_t *bad_off);

struct smtp_dotenc {
	bool bol;	/* at the beginning of a line */
	bool cr;	/* the last byte fed was CR */
	int err;	/* sticky: 0 or PTT_EINVAL (bare CR/LF seen) */
};

void smtp_dotenc_init(struct smtp_dotenc *e);
/* Encode n more bytes onto out. 0, or PTT_EINVAL (sticky) at a bare CR or
 * LF; nothing past the bad byte is written. */
int smtp_dotenc_add(struct smtp_dotenc *e, const void *p, size_t n,
    struct evbuffer *out);
/* End the body: CRLF when the message did not end with one, then ".\r\n".
 * PTT_EINVAL when an error was seen or the input ended in a bare CR. */
int smtp_dotenc_finish(struct smtp_dotenc *e, struct evbuffer *out);

#endif
