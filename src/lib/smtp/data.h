/*
 * data.h - SMTP server side: the message-content decoders for DATA
 * (RFC 5321 4.1.1.4, 4.5.2 dot-stuffing) and BDAT (RFC 3030 2).
 *
 * Both are incremental: feed bytes in pieces of any size (one byte at a
 * time gives the same result as all at once). Both refuse SMTP smuggling:
 * a CR not followed by LF, or an LF not preceded by CR, anywhere in the
 * content marks the message bad (SMTP_DATA_BARE); only <CRLF>.<CRLF> ends
 * DATA, so "<LF>.<LF>", "<CR>.<CR>", "<LF>.<CRLF>", "<CRLF>.<LF>" and the
 * like are ordinary (bad) content and never end or split a message.
 * A bad message is still read to its real end, then refused as a whole.
 *
 * Trusts nothing. The decoder writes into a caller-owned struct buf whose
 * max bounds the stored size; past it the decoder keeps scanning for the
 * end but stores nothing more (SMTP_DATA_TOOBIG).
 */
#ifndef PTT_SMTP_DATA_H
#define PTT_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Problems found in the content (a bit set; 0: clean). */
enum {
	SMTP_DATA_BARE		= 1u << 0,	/* bare CR or bare LF */
	SMTP_DATA_TOOBIG	= 1u << 1,	/* more than max bytes */
	SMTP_DATA_LONGLINE	= 1u << 2,	/* a line over the line limit */
	SMTP_DATA_8BIT		= 1u << 3,	/* saw a byte >= 0x80 (info) */
	SMTP_DATA_NUL		= 1u << 4,	/* saw a NUL byte (info) */
};

struct smtp_data {
	int state;
	unsigned flags;		/* SMTP_DATA_* */
	size_t linelen;		/* bytes on the current line so far */
	size_t maxline;		/* including CRLF; 0: no limit */
	uint64_t size;		/* decoded bytes seen (stored or not) */
	struct buf *out;	/* not owned */
	bool done;
};

/*
 * Start decoding into out (appended to; out->max bounds the stored size).
 * maxline: the line limit including CRLF (SMTP_MAX_TEXTLINE) or 0.
 */
void smtp_data_init(struct smtp_data *d, struct buf *out, size_t maxline);

/*
 * DATA: feed n bytes. Returns how many were consumed: all n, or fewer when
 * the terminating <CRLF>.<CRLF> was reached (then d->done is true and the
 * rest belongs to the next command). The CRLF before the final dot is
 * part of the message; the ".<CRLF>" is not.
 */
size_t smtp_data_feed(struct smtp_data *d, const uint8_t *p, size_t n);

/*
 * BDAT: feed n bytes of chunk content (no dot-unstuffing, no terminator).
 * binary: BODY=BINARYMIME, bytes are stored as they are.
 */
void smtp_bdat_feed(struct smtp_data *d, const uint8_t *p, size_t n, bool binary);
/* BDAT LAST: the content ended; a trailing CR is bare. */
void smtp_bdat_end(struct smtp_data *d);

#endif
