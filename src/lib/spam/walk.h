/*
 * walk.h - the spam classifier's view of a message, over the MIME tree of
 * src/lib/mail (RFC 5322 header fields, RFC 2045/2046 MIME entities).
 *
 * The walker hands the classifier what it needs and nothing more: every
 * header field (unfolded), every leaf part with its content type, charset,
 * transfer encoding, file name and, for text parts, the body decoded and
 * converted to UTF-8, and the parser's defects by name. It trusts nothing:
 * lib/mail parses arbitrary bytes without failing; nesting is capped at
 * SPAM_WALK_MAX_DEPTH, parts at SPAM_WALK_MAX_PARTS and decoded text at
 * SPAM_WALK_MAX_DECODED bytes per part.
 *
 * Pointers handed to the callbacks are valid only during the call.
 */
#ifndef PTT_SPAM_WALK_H
#define PTT_SPAM_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPAM_WALK_MAX_DEPTH	12
#define SPAM_WALK_MAX_PARTS	256
#define SPAM_WALK_MAX_DECODED	(512 * 1024)	/* decoded bytes per part */

struct spam_part {
	unsigned depth;		/* 0: the message itself */
	const char *type;	/* lowercased "type/subtype" */
	const char *charset;	/* the charset parameter as given, "" when absent */
	const char *encoding;	/* "7bit", "8bit", "binary", "quoted-printable",
				 * "base64" or "unknown" */
	const char *filename;	/* UTF-8, "" when absent */
	bool attachment;	/* Content-Disposition: attachment, or a file name */
	bool decode_error;	/* bad base64/QP, or bytes invalid in the charset */
	const uint8_t *data;	/* text parts: body as UTF-8; NULL otherwise */
	size_t len;
};

struct spam_walk_ops {
	/* Each header field of each entity; depth 0 is the message header. */
	void (*header)(void *arg, unsigned depth, const char *name, size_t nlen,
	    const char *value, size_t vlen);
	/* Each leaf entity (not multipart, not a descended message/rfc822). */
	void (*part)(void *arg, const struct spam_part *p);
	/* Each kind of defect lib/mail found, by its name (mail/defect.h). */
	void (*anomaly)(void *arg, const char *what);
};

/* Walk msg (a leading mbox "From " line is skipped). Returns 0; the walk
 * never fails on bad input. */
int spam_walk(const uint8_t *msg, size_t len, const struct spam_walk_ops *ops,
    void *arg);

#endif
