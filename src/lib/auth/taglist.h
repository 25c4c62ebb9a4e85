/*
 * taglist.h - DKIM tag=value lists (RFC 6376 3.2), also the syntax of DKIM
 * key records (3.6.1), ARC headers (RFC 8617 4.1) and DMARC records
 * (RFC 7489 6.4).
 *
 * Values point into the caller's string (not copied), with surrounding
 * FWS trimmed; FWS inside a value is kept (callers that must ignore it,
 * like base64 in b= and p=, skip it). A duplicate tag name, a name that is
 * not ALPHA *(ALPHA / DIGIT / "_"), or a value with bytes outside
 * tag-value's set is PTT_EINVAL.
 */
#ifndef PTT_AUTH_TAGLIST_H
#define PTT_AUTH_TAGLIST_H

#include <stddef.h>

#define TAGLIST_MAX 40

struct tag {
	const char *name;
	size_t name_len;
	const char *val;
	size_t len;
};

struct taglist {
	struct tag t[TAGLIST_MAX];
	size_t n;
};

/* 0, PTT_EINVAL (syntax, duplicate) or PTT_ENOSPC (too many tags). */
int taglist_parse(const char *s, size_t len, struct taglist *tl);
/* The tag named name, or NULL. */
const struct tag *taglist_get(const struct taglist *tl, const char *name);
/* Copy t's value to out as a C string (ASCII-lowercased when lower): 0,
 * or -1 when t is NULL, empty or does not fit. */
int tag_copy(const struct tag *t, char *out, size_t outlen, int lower);
/* 1 when tag t's value equals s (case-sensitive unless ci). */
int tag_is(const struct tag *t, const char *s, int ci);

#endif
