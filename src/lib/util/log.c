/*
 * log.c - line-oriented logging to stderr with escaping of control bytes.
 */
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/mem.h"

static char progname[64] = "ptt";
static enum log_level level = LOG_LVL_INFO;
static int logfd = 2;

static const char *const lvlname[] = { "debug", "info", "warning", "error" };

void
log_init(const char *name)
{
	const char *slash = strrchr(name, '/');

	ptt_strlcpy(progname, slash ? slash + 1 : name, sizeof(progname));
	if (getenv("PTT_DEBUG") != NULL)
		level = LOG_LVL_DEBUG;
}

void
log_set_level(enum log_level lvl)
{
	level = lvl;
}

enum log_level
log_get_level(void)
{
	return level;
}

void
log_set_fd(int fd)
{
	logfd = fd;
}

/* Append src to dst (bounded), escaping control and non-ASCII bytes. */
static size_t
escape(char *dst, size_t size, size_t pos, const char *src)
{
	static const char hex[] = "0123456789abcdef";

	for (; *src && pos + 5 < size; src++) {
		unsigned char c = (unsigned char)*src;
		if (c < 0x20 || c == 0x7f) {
			dst[pos++] = '\\';
			dst[pos++] = 'x';
			dst[pos++] = hex[c >> 4];
			dst[pos++] = hex[c & 15];
		} else
			dst[pos++] = (char)c;
	}
	return pos;
}

void
log_vmsg(enum log_level lvl, const char *id, const char *fmt, va_list ap)
{
	char text[2048], line[4096];
	struct timespec ts;
	struct tm tm;
	int n;
	size_t pos;

	if (lvl < level)
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld]: %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, progname,
	    (long)getpid(), lvlname[lvl]);
	pos = n > 0 ? (size_t)n : 0;
	if (id != NULL && *id) {
		pos = escape(line, sizeof(line), pos, id);
		pos = escape(line, sizeof(line), pos, ": ");
	}
	pos = escape(line, sizeof(line), pos, text);
	line[pos++] = '\n';
	/* One write(2) per line so concurrent writers do not interleave. */
	while (write(logfd, line, pos) < 0 && errno == EINTR)
		;
}

void
log_msg(enum log_level lvl, const char *id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, id, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, "fatal", fmt, ap);
	va_end(ap);
	exit(1);
}

void
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, "panic", fmt, ap);
	va_end(ap);
	abort();
}

void
log_newid(char *buf, unsigned len)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char rnd[32];
	unsigned i;

	if (len > sizeof(rnd))
		len = sizeof(rnd);
	if (getrandom(rnd, len, 0) != (ssize_t)len)
		fatal("getrandom: %s", strerror(errno));
	for (i = 0; i < len; i++)
		buf[i] = hex[rnd[i] & 15];
	buf[len] = '\0';
}
