/*
 * proc.h - run one of ptt's own programs and collect what it says: `ptt
 * check` running each service's `--check`, pttd running `ptt check`.
 *
 * Trusts: the caller's argv (an absolute path, no shell); the output is
 * kept as bytes, up to a limit.
 */
#ifndef PTT_UTIL_PROC_H
#define PTT_UTIL_PROC_H

#include <stddef.h>

#include "util/buf.h"

/*
 * Run argv[0] (execv, stdin from /dev/null) with stdout and stderr into
 * out, keeping at most max bytes and dropping trailing newlines; wait for
 * it. Its exit status, 128 + the signal that killed it, or -1 when it
 * could not be started (out says why).
 */
int proc_run_capture(char *const argv[], struct buf *out, size_t max);

#endif
