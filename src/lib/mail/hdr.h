/*
 * hdr.h - the header section of an Internet message (RFC 5322 2.2, 3.6,
 * obsolete syntax 4.5), split from its body, looked up, edited and written
 * back byte for byte.
 *
 * mail_hdr_parse() does not copy the message: each field's raw bytes and
 * the body point into the caller's buffer, which must outlive the
 * mail_hdr (fields added later own their bytes). Each field keeps:
 *   raw   the field exactly as received, folding and line end included
 *         (what DKIM "simple" signs),
 *   name  raw[0..name_len) (without whitespace before the colon),
 *   value the unfolded value: CRLF/LF before WSP removed, leading and
 *         trailing whitespace trimmed, NUL-terminated, owned by the mail_hdr.
 *
 * LF-only line ends are accepted and reported (MAIL_D_LF_ONLY). A line that
 * is neither a field nor a continuation ends the header section: the body
 * starts there (MAIL_D_BAD_LINE | MAIL_D_NO_SEPARATOR), as most MUAs do.
 * A continuation line before any field is kept as a nameless field
 * (name_len == 0) that lookups skip and writing preserves.
 *
 *	struct mail_hdr h;
 *	if (mail_hdr_parse(&h, msg, len, NULL) != 0) ...	(h is valid anyway)
 *	for (i = mail_hdr_find(&h, "Received", 0); i != MAIL_HDR_NONE;
 *	    i = mail_hdr_find(&h, "Received", i + 1)) ... h.f[i].value
 *	for (i = mail_hdr_rfind(&h, "From", h.n); i != MAIL_HDR_NONE;
 *	    i = mail_hdr_rfind(&h, "From", i)) ...		(bottom-up, DKIM h=)
 *	mail_hdr_free(&h);
 */
#ifndef PTT_MAIL_HDR_H
#define PTT_MAIL_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define MAIL_HDR_NONE SIZE_MAX

struct mail_hdr_limits {
	size_t max_fields;	/* fields in the section (default 1000) */
	size_t max_line;	/* octets in one physical line (default 65536) */
	size_t max_field;	/* octets in one field, folded (default 262144) */
	size_t max_bytes;	/* octets in the whole header section (default 4 MiB) */
};

/* Per-field flags. */
enum {
	MAIL_FIELD_LF_ONLY = 1u << 0,	/* some line of it ended in bare LF */
	MAIL_FIELD_OBS_WSP = 1u << 1,	/* whitespace before the colon */
	MAIL_FIELD_8BIT = 1u << 2,	/* octets >= 0x80 */
	MAIL_FIELD_NO_EOL = 1u << 3,	/* message ended inside it, no line end */
	MAIL_FIELD_OWNED = 1u << 4,	/* raw is owned (added by an edit) */
	MAIL_FIELD_NONAME = 1u << 5,	/* leading continuation line(s), no name */
};

struct mail_field {
	const char *raw;	/* field as received, through its line end */
	size_t raw_len;
	size_t name_len;	/* name is raw[0..name_len) */
	char *value;		/* unfolded, trimmed, NUL-terminated (owned) */
	size_t value_len;
	unsigned flags;		/* MAIL_FIELD_* */
};

struct mail_hdr {
	struct mail_field *f;	/* fields in message order */
	size_t n, cap;
	const char *body;	/* body (after the empty line) in the input */
	size_t body_len;
	size_t hdr_len;		/* octets of input before the body */
	const char *sep;	/* the empty line ("\r\n" or "\n"), or "" */
	unsigned defects;	/* MAIL_D_* */
};

/*
 * Split msg[0..len) into fields and body. lim may be NULL (defaults).
 * Returns 0, or PTT_ENOSPC when a limit was reached (MAIL_D_LIMIT is set;
 * h holds the fields before that point and the body is what follows it).
 * h must be freed with mail_hdr_free() whatever the result.
 */
int mail_hdr_parse(struct mail_hdr *h, const void *msg, size_t len,
    const struct mail_hdr_limits *lim);
void mail_hdr_free(struct mail_hdr *h);

/* Name comparison, ASCII case-insensitive. */
bool mail_field_is(const struct mail_field *f, const char *name);

/* Index of the first field named name at index >= from, or MAIL_HDR_NONE. */
size_t mail_hdr_find(const struct mail_hdr *h, const char *name, size_t from);
/* Index of the last field named name at index < before, or MAIL_HDR_NONE
 * (bottom-up order, as RFC 6376 5.4.2 selects repeated fields). */
size_t mail_hdr_rfind(const struct mail_hdr *h, const char *name, size_t before);
/* First field named name, or NULL. */
const struct mail_field *mail_hdr_get(const struct mail_hdr *h, const char *name);
/* How many fields are named name. */
size_t mail_hdr_count(const struct mail_hdr *h, const char *name);

/*
 * Insert a new field "name: value" CRLF before index at (at == h->n
 * appends; at == 0 prepends). value may be folded already (CRLF followed
 * by WSP); any other CR or LF, an invalid name (RFC 5322 ftext) or a value
 * starting with a line break is PTT_EINVAL. A single space separates the
 * colon and value.
 */
int mail_hdr_insert(struct mail_hdr *h, size_t at, const char *name,
    const char *value);
/* Insert a complete field given raw (name, colon, value, optional final
 * CRLF, added when missing): for fields built by a signer byte by byte. */
int mail_hdr_insert_raw(struct mail_hdr *h, size_t at, const char *raw,
    size_t len);
static inline int mail_hdr_prepend(struct mail_hdr *h, const char *name,
    const char *value) { return mail_hdr_insert(h, 0, name, value); }
static inline int mail_hdr_append(struct mail_hdr *h, const char *name,
    const char *value) { return mail_hdr_insert(h, h->n, name, value); }
/* Remove field i (i < h->n). */
void mail_hdr_remove(struct mail_hdr *h, size_t i);

/* Write flags. */
enum {
	MAIL_WRITE_CRLF = 1u << 0,	/* turn bare LF line ends into CRLF */
	MAIL_WRITE_NO_BODY = 1u << 1,	/* header section and separator only */
};

/*
 * Append the message: every field's raw bytes, the empty line, the body.
 * A field without a line end gets CRLF; the empty line is written when
 * the input had one or there is a body (as CRLF, or as it was). Returns 0
 * or PTT_ENOSPC.
 */
int mail_hdr_write(const struct mail_hdr *h, struct buf *out, unsigned flags);

#endif
