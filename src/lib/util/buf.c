/*
 * buf.c - growable byte buffer with a sticky overflow error.
 */
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/mem.h"

void
buf_init(struct buf *b, size_t max)
{
	b->cap = 64;
	b->data = xmalloc(b->cap);
	b->data[0] = '\0';
	b->len = 0;
	b->max = max;
	b->err = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->err = 0;
	b->data[0] = '\0';
}

char *
buf_steal(struct buf *b, size_t *lenp)
{
	char *p = b->data;

	if (lenp)
		*lenp = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

char *
buf_reserve(struct buf *b, size_t n)
{
	size_t need;

	if (b->err)
		return NULL;
	if (n > (size_t)-1 / 2 - b->len ||
	    (b->max != 0 && b->len + n > b->max)) {
		b->err = PTT_ENOSPC;
		return NULL;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		size_t cap = b->cap;
		while (cap < need)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	return b->data + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	if (b->len + n >= b->cap)
		panic("buf_commit past reservation");
	b->len += n;
	b->data[b->len] = '\0';
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	char *w = buf_reserve(b, n);

	if (w == NULL)
		return b->err;
	if (n)
		memcpy(w, p, n);
	buf_commit(b, n);
	return 0;
}

int
buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;
	char *w;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		panic("buf_vaddf: bad format");
	if ((w = buf_reserve(b, (size_t)n)) == NULL)
		return b->err;
	vsnprintf(w, (size_t)n + 1, fmt, ap);
	buf_commit(b, (size_t)n);
	return 0;
}

int
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	b->data[b->len] = '\0';
}

void
buf_truncate(struct buf *b, size_t n)
{
	if (n < b->len) {
		b->len = n;
		b->data[n] = '\0';
	}
}
