/*
 * err.h - library error codes.
 *
 * Library functions return 0 on success or a negative PTT_E* code; callers
 * write `if (ret != 0) return ret;`. ptt_strerror() names a code. Mapping
 * errors to SMTP replies happens in one place (smtp/reply.h), not here.
 */
#ifndef PTT_UTIL_ERR_H
#define PTT_UTIL_ERR_H

enum {
	PTT_OK = 0,
	PTT_EINVAL = -1,	/* malformed input */
	PTT_ENOSPC = -2,	/* a size limit was reached */
	PTT_ERANGE = -3,	/* a number out of bounds */
	PTT_ENOENT = -4,	/* not found */
	PTT_EIO = -5,		/* system call failed (see errno) */
	PTT_ETLS = -6,		/* TLS failure */
	PTT_EAGAIN = -7,	/* need more input */
	PTT_EPROTO = -8,	/* protocol violation by the peer */
	PTT_ETIMEDOUT = -9,
	PTT_EDEPTH = -10,	/* nesting limit reached */
	PTT_EPERM = -11,	/* refused by policy */
	PTT_EEXIST = -12,
	PTT_ECRYPTO = -13,
	PTT_ETEMP = -14,	/* temporary failure: try again later */
	PTT_ELAST = -15
};

const char *ptt_strerror(int err);

#endif
