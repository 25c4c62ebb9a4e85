/*
 * reply.h - SMTP replies as a client reads them, and EHLO capabilities.
 *
 * Implements RFC 5321 4.2 (reply lines: three-digit code, '-' for a
 * continuation, ' ' or end of line for the last line; every line of one
 * reply carries the same code), RFC 3463 / RFC 2034 (enhanced status codes
 * "class.subject.detail" at the start of each line's text), and the EHLO
 * keywords of RFC 5321 4.1.1.1 with the extensions the client uses: SIZE
 * (RFC 1870), PIPELINING (2920), 8BITMIME (6152), SMTPUTF8 (6531),
 * STARTTLS (3207), AUTH (4954), CHUNKING (3030), DSN (3461),
 * ENHANCEDSTATUSCODES (2034), REQUIRETLS (8689).
 *
 * Trusts nothing: every line comes from the network and goes through a
 * bounds-checked cursor; garbage, an inconsistent code, an over-long line or
 * too many lines is a protocol error (PTT_EPROTO).
 *
 * Ownership: a struct smtp_reply owns its text buffer; smtp_reply_free()
 * releases it.
 */
#ifndef PTT_SMTP_REPLY_H
#define PTT_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* RFC 5321 4.5.3.1.5 says 512 octets per reply line; real servers send
 * longer ones, so a client accepts up to this much (without CRLF). */
#define SMTP_REPLY_LINE_MAX	2000
/* Lines in one reply (an EHLO reply has a couple dozen at most). */
#define SMTP_REPLY_LINES_MAX	100

struct smtp_reply {
	int code;		/* 200..559; 0 while empty or for a reply we
				 * made up locally (see client.h) */
	char enh[16];		/* enhanced code "4.2.1", or "" */
	size_t nlines;
	bool done;		/* the last line was seen */
	struct buf text;	/* each line's text after the code (and after
				 * the enhanced code when it repeats the
				 * first line's), joined by '\n' */
};

void smtp_reply_init(struct smtp_reply *r);
/* Empty the reply for the next one; keeps memory. */
void smtp_reply_reset(struct smtp_reply *r);
void smtp_reply_free(struct smtp_reply *r);
/* dst becomes a copy of src (dst must be initialised). */
void smtp_reply_copy(struct smtp_reply *dst, const struct smtp_reply *src);
/* Set a locally made reply: code (0 allowed), enhanced code (or NULL) and
 * a one-line text. */
void smtp_reply_set(struct smtp_reply *r, int code, const char *enh,
    const char *text);

/*
 * Feed one line without its line ending (the caller splits at LF and
 * removes one CR before it). Returns 1 when the line completed the reply,
 * 0 when more lines follow, PTT_EPROTO for a malformed line, a code that
 * differs from the previous lines' or a reply past the limits. After an
 * error or completion, smtp_reply_reset() before the next reply.
 */
int smtp_reply_feed(struct smtp_reply *r, const void *line, size_t len);

/*
 * Parse one whole reply from the front of a byte buffer: lines end in LF
 * with an optional CR before it. Returns 1 and sets *used to the bytes it
 * took when a reply is complete, 0 when the buffer ends inside the reply
 * (nothing consumed; call again with more), or PTT_EPROTO (an unterminated
 * line longer than SMTP_REPLY_LINE_MAX is also an error). r is reset first.
 */
int smtp_reply_parse(struct smtp_reply *r, const void *p, size_t n,
    size_t *used);

/* First digit of the code: 2, 3, 4, 5 (0 for a local reply). */
static inline int smtp_reply_class(const struct smtp_reply *r) { return r->code / 100; }

/* One line for logs and users: "550 5.1.1 text; next line text".
 * Returns out. */
const char *smtp_reply_str(const struct smtp_reply *r, char *out, size_t len);

/* Capabilities from an EHLO reply. */
enum {
	SMTP_CAP_PIPELINING = 1u << 0,
	SMTP_CAP_SIZE = 1u << 1,
	SMTP_CAP_8BITMIME = 1u << 2,
	SMTP_CAP_SMTPUTF8 = 1u << 3,
	SMTP_CAP_STARTTLS = 1u << 4,
	SMTP_CAP_AUTH = 1u << 5,
	SMTP_CAP_CHUNKING = 1u << 6,
	SMTP_CAP_DSN = 1u << 7,
	SMTP_CAP_ENHANCEDSTATUSCODES = 1u << 8,
	SMTP_CAP_REQUIRETLS = 1u << 9,
	SMTP_CAP_BINARYMIME = 1u << 10,
};

enum {
	SMTP_AUTH_PLAIN = 1u << 0,
	SMTP_AUTH_LOGIN = 1u << 1,
	SMTP_AUTH_CRAM_MD5 = 1u << 2,
	SMTP_AUTH_XOAUTH2 = 1u << 3,
	SMTP_AUTH_OTHER = 1u << 4,
};

struct smtp_caps {
	unsigned flags;		/* SMTP_CAP_* */
	uint64_t size;		/* SIZE limit; 0: none announced or no limit */
	unsigned auth;		/* SMTP_AUTH_* mechanisms offered */
};

/*
 * Capabilities from a 250 reply to EHLO (the first line is the server's
 * name and is skipped). Unknown keywords are ignored; a keyword with a
 * malformed parameter (SIZE with garbage) is ignored too. Returns 0, or
 * PTT_EINVAL when r is not a complete 2xx reply.
 */
int smtp_caps_parse(struct smtp_caps *caps, const struct smtp_reply *r);

#endif
