/*
 * mem.h - allocation that never returns NULL.
 *
 * Daemons treat memory exhaustion as a broken environment: the wrappers
 * call fatal() instead of returning NULL, so callers never check.
 */
#ifndef PTT_UTIL_MEM_H
#define PTT_UTIL_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray: overflow-checked nmemb * size. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xmemdup: copies n bytes and appends a NUL the caller may ignore. */
void *xmemdup(const void *p, size_t n);

/* strlcpy/strlcat semantics: return the length they tried to create. */
size_t ptt_strlcpy(char *dst, const char *src, size_t size);
size_t ptt_strlcat(char *dst, const char *src, size_t size);

/* Zero memory in a way the compiler may not elide (for secrets). */
void ptt_memzero(void *p, size_t n);

#endif
