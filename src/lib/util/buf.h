/*
 * buf.h - growable byte buffer with an optional hard size limit.
 *
 * A buf holds arbitrary bytes and keeps a NUL after the last one, so
 * buf->data can be read as a C string when it holds no NUL of its own.
 * Appending past buf->max sets a sticky error (buf->err = PTT_ENOSPC) and
 * drops the bytes: callers append freely and check once (buf_error()).
 * max == 0 means no limit beyond memory.
 *
 * Ownership: the buf owns data; buf_free() releases it, buf_steal() hands
 * it to the caller (caller frees) and leaves the buf released, as after
 * buf_free(): buf_init() it again before reuse (buf_free() is harmless).
 */
#ifndef PTT_UTIL_BUF_H
#define PTT_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "util/log.h"

struct buf {
	char *data;	/* always NUL-terminated (never NULL after init) */
	size_t len;
	size_t cap;
	size_t max;	/* 0: unlimited */
	int err;	/* sticky: 0 or PTT_ENOSPC */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);		/* len = 0, err = 0; keeps memory */
char *buf_steal(struct buf *b, size_t *lenp);	/* caller frees; b is released */

int buf_add(struct buf *b, const void *p, size_t n);
int buf_addc(struct buf *b, char c);
int buf_adds(struct buf *b, const char *s);
int buf_addf(struct buf *b, const char *fmt, ...) PTT_PRINTF(2, 3);
int buf_vaddf(struct buf *b, const char *fmt, va_list ap) PTT_PRINTF(2, 0);
/* Remove n bytes from the front. */
void buf_consume(struct buf *b, size_t n);
/* Truncate to n bytes (n <= len). */
void buf_truncate(struct buf *b, size_t n);
/* Reserve room for n more bytes; returns a pointer to write into, then
 * call buf_commit(b, written). NULL when that would pass max. */
char *buf_reserve(struct buf *b, size_t n);
void buf_commit(struct buf *b, size_t n);

static inline int buf_error(const struct buf *b) { return b->err; }

#endif
