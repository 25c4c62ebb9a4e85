/*
 * log.h - one line per event, keyed by a session or queue id.
 *
 * Lines go to stderr (pttd or systemd collects them) as
 *   2026-11-22T05:54:03.123Z ptt-sink[4242]: info: 4F2A1C: from=<a@x>, size=2310
 * The id is optional (NULL or "" omits it). Every function is printf-checked.
 * Control characters in the formatted text are escaped (\xNN), so bytes from
 * the network never forge a log line.
 */
#ifndef PTT_UTIL_LOG_H
#define PTT_UTIL_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERR };

#define PTT_PRINTF(f, a) __attribute__((format(printf, f, a)))

void log_init(const char *progname);
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Redirect output to a file descriptor (default 2). */
void log_set_fd(int fd);

void log_msg(enum log_level lvl, const char *id, const char *fmt, ...) PTT_PRINTF(3, 4);
void log_vmsg(enum log_level lvl, const char *id, const char *fmt, va_list ap) PTT_PRINTF(3, 0);

#define log_debug(id, ...) log_msg(LOG_LVL_DEBUG, (id), __VA_ARGS__)
#define log_info(id, ...)  log_msg(LOG_LVL_INFO, (id), __VA_ARGS__)
#define log_warn(id, ...)  log_msg(LOG_LVL_WARN, (id), __VA_ARGS__)
#define log_err(id, ...)   log_msg(LOG_LVL_ERR, (id), __VA_ARGS__)

/* fatal: the environment is broken (no memory, cannot bind). Exits 1. */
_Noreturn void fatal(const char *fmt, ...) PTT_PRINTF(1, 2);
/* panic: an invariant of ours is broken. Aborts (core dump). */
_Noreturn void panic(const char *fmt, ...) PTT_PRINTF(1, 2);

/* Make a short random id (uppercase hex, NUL-terminated) of len chars. */
void log_newid(char *buf, unsigned len);

#endif
