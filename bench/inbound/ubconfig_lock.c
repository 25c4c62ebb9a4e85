/*
 * ubconfig_lock.c - LD_PRELOAD for OpenDKIM 2.11.0~beta2 (Debian 12): it
 * calls ub_ctx_config() for every message, from the milter's threads at
 * once, and libunbound's configuration parser (flex) is not reentrant:
 * under concurrent load OpenDKIM dies with "fatal flex scanner internal
 * error--end of buffer missed". Upstream serialises the call (OpenDKIM
 * issue #14); this does the same with one process-wide mutex.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>

struct ub_ctx;

int ub_ctx_config(struct ub_ctx *ctx, const char *fname);

int
ub_ctx_config(struct ub_ctx *ctx, const char *fname)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int (*real)(struct ub_ctx *, const char *);
	int r;

	pthread_mutex_lock(&lock);
	if (real == NULL)
		real = (int (*)(struct ub_ctx *, const char *))dlsym(RTLD_NEXT, "ub_ctx_config");
	r = real ? real(ctx, fname) : -1;
	pthread_mutex_unlock(&lock);
	return r;
}
