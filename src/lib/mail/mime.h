/*
 * mime.h - MIME structure (RFC 2045, RFC 2046, RFC 2183, RFC 2231).
 *
 * Field parsers: Content-Type (type/subtype lowercased, parameters with
 * quoted values, RFC 2231 continuations and charsets, RFC 2047 words in
 * quoted values as MUAs send them), Content-Transfer-Encoding,
 * Content-Disposition.
 *
 * The tree: mail_mime_parse() reads a whole message into a tree of parts
 * without copying it (parts point into the caller's buffer, which must
 * outlive the tree). every multipart is split at its boundary (RFC 2046
 * 5.1.1), message/rfc822 and message/global descend into the enclosed
 * message; depth and part count are limited. Malformed input never fails
 * the parse: a part that cannot be understood is a text/plain leaf, and
 * what happened is in the MAIL_D_* defects of the part and the tree.
 * Leaves are decoded on demand (mail_part_decode, mail_part_text), so a
 * caller pays only for the parts it reads.
 */
#ifndef PTT_MAIL_MIME_H
#define PTT_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/hdr.h"
#include "util/buf.h"

#define MAIL_PARAMS_MAX 64	/* parameters read from one field */

struct mail_param {
	char *name;	/* lowercased, without RFC 2231 "*" / "*N" */
	char *value;	/* decoded to UTF-8 */
};

struct mail_params {
	struct mail_param *p;
	size_t n;
};

/* Value of parameter name (case-insensitive), or NULL. */
const char *mail_param_get(const struct mail_params *ps, const char *name);

/*
 * Parse parameters "; name=value; name*0*=us-ascii'en'a%20b; ..." from
 * s[0..len). Lenient: missing ';', unquoted values with '=' or '/' (as
 * boundaries often are), comments. Free with mail_params_free().
 */
void mail_params_parse(struct mail_params *ps, const char *s, size_t len,
    unsigned *defects);
void mail_params_free(struct mail_params *ps);

struct mail_ctype {
	char *type;		/* "text", lowercased */
	char *subtype;		/* "plain", lowercased */
	struct mail_params params;
};

/*
 * Parse a Content-Type value. On malformed input it sets the RFC 2045 5.2
 * default text/plain; charset=us-ascii, sets MAIL_D_BAD_CTYPE and returns
 * PTT_EINVAL. ct must be freed with mail_ctype_free() either way.
 */
int mail_ctype_parse(struct mail_ctype *ct, const char *v, size_t len,
    unsigned *defects);
/* Set ct to type/subtype with no parameters. */
void mail_ctype_set(struct mail_ctype *ct, const char *type, const char *subtype);
void mail_ctype_free(struct mail_ctype *ct);
bool mail_ctype_is(const struct mail_ctype *ct, const char *type,
    const char *subtype);	/* subtype NULL matches any */

enum mail_cte {
	MAIL_CTE_7BIT,
	MAIL_CTE_8BIT,
	MAIL_CTE_BINARY,
	MAIL_CTE_QP,
	MAIL_CTE_BASE64,
	MAIL_CTE_UNKNOWN,	/* RFC 2045 6.4: treat as application/octet-stream */
};

/* Parse a Content-Transfer-Encoding value (comments and case ignored). */
enum mail_cte mail_cte_parse(const char *v, size_t len);

struct mail_cdisp {
	char *type;		/* "inline", "attachment", ..., lowercased */
	struct mail_params params;
};

int mail_cdisp_parse(struct mail_cdisp *cd, const char *v, size_t len,
    unsigned *defects);
void mail_cdisp_free(struct mail_cdisp *cd);

struct mail_mime_limits {
	unsigned max_depth;	/* nesting below the root (default 20) */
	size_t max_parts;	/* parts in the whole tree (default 1000) */
	struct mail_hdr_limits hdr;	/* for every part's header section */
};

struct mail_part {
	struct mail_part *parent;
	struct mail_part *child;	/* first child (multipart, message/rfc822) */
	struct mail_part *next;		/* next sibling */
	unsigned depth;			/* 0 for the message itself */
	size_t id;			/* pre-order number, root 0 */

	struct mail_hdr hdr;		/* the part's own header fields */
	struct mail_ctype ct;		/* effective type (defaults applied) */
	enum mail_cte cte;
	bool attachment;		/* Content-Disposition: attachment */
	char *filename;			/* filename or name parameter, UTF-8, or NULL */

	const char *raw;		/* the whole entity in the input */
	size_t raw_len;
	const char *body;		/* its body, still transfer-encoded */
	size_t body_len;
	const char *preamble;		/* multipart only (else NULL, 0) */
	size_t preamble_len;
	const char *epilogue;
	size_t epilogue_len;

	unsigned defects;		/* MAIL_D_* of this part */
};

struct mail_mime {
	struct mail_part *root;
	size_t nparts;
	unsigned defects;		/* union over all parts */
};

/*
 * Parse msg[0..len) into m. lim may be NULL (defaults). Returns 0; the tree
 * always has a root. m must be freed with mail_mime_free().
 */
int mail_mime_parse(struct mail_mime *m, const void *msg, size_t len,
    const struct mail_mime_limits *lim);
void mail_mime_free(struct mail_mime *m);

/* The part's charset parameter, or "us-ascii" for a text type without one, or
 * NULL for other types without one. */
const char *mail_part_charset(const struct mail_part *p);

/* Append the part's body with its transfer encoding undone (7bit, 8bit,
 * binary and unknown encodings are copied). Returns 0 or PTT_ENOSPC. */
int mail_part_decode(const struct mail_part *p, struct buf *out,
    unsigned *defects);

/* Append the part's body decoded and converted to UTF-8 from its charset
 * (for text types and anything a caller wants to read as text). */
int mail_part_text(const struct mail_part *p, struct buf *out,
    unsigned *defects);

#define MAIL_WALK_SKIP 1	/* from a walker: do not visit this part's children */

/* Called for each part, parents before children, in document order.
 * Returns 0 to go on, MAIL_WALK_SKIP, or a negative value to stop. */
typedef int (*mail_walk_fn)(const struct mail_part *p, void *arg);

/* Walk the tree; returns 0 or the walker's negative value. */
int mail_mime_walk(const struct mail_mime *m, mail_walk_fn fn, void *arg);

#endif
