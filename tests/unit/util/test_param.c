/* test_param.c - parameter tables: defaults, parsing, bounds, listing. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/err.h"
#include "util/param.h"
#include "../tap.h"

struct conf {
	char *hostname;
	long long max_rcpt;
	bool pipelining;
	unsigned long long max_size;
	long long timeout;
	int tls;
};

static const struct param tab[] = {
	{ "hostname", PARAM_STR, "mx.example", 0, 0, NULL, offsetof(struct conf, hostname), "Name in the greeting." },
	{ "max_rcpt", PARAM_INT, "100", 1, 10000, NULL, offsetof(struct conf, max_rcpt), "Recipients per message." },
	{ "pipelining", PARAM_BOOL, "yes", 0, 0, NULL, offsetof(struct conf, pipelining), "Offer PIPELINING." },
	{ "max_size", PARAM_SIZE, "10m", 1024, 1LL << 34, NULL, offsetof(struct conf, max_size), "Largest message." },
	{ "timeout", PARAM_TIME, "5m", 1, 86400, NULL, offsetof(struct conf, timeout), "Command timeout." },
	{ "tls", PARAM_ENUM, "opportunistic", 0, 0, "none|opportunistic|required", offsetof(struct conf, tls), "TLS policy." },
	PARAM_END
};

int
main(void)
{
	struct conf c;
	char err[256];
	const char *text =
	    "# top\nhostname = top.example\n"
	    "[mx]\n  hostname =  mx2.example  \nmax_rcpt=7\npipelining = off\n"
	    "max_size = 1g\ntimeout = 2h\ntls = required\n"
	    "[other]\nunknown_here = 1\n";
	char *listing = NULL;
	size_t llen = 0;
	FILE *f;

	is_int(param_defaults(tab, &c, err, sizeof(err)), 0, "defaults apply");
	is_str(c.hostname, "mx.example", "string default");
	is_int(c.max_rcpt, 100, "int default");
	ok(c.pipelining, "bool default");
	is_int(c.max_size, 10 * 1024 * 1024, "size default with suffix");
	is_int(c.timeout, 300, "time default with suffix");
	is_int(c.tls, 1, "enum default");

	is_int(param_load_mem(tab, &c, text, strlen(text), "ptt.conf", "mx", err, sizeof(err)), 0,
	    "loads one section: %s", err);
	is_str(c.hostname, "mx2.example", "section value, trimmed");
	is_int(c.max_rcpt, 7, "int value");
	ok(!c.pipelining, "bool value");
	is_int(c.max_size, 1LL << 30, "size in GiB");
	is_int(c.timeout, 7200, "time in hours");
	is_int(c.tls, 2, "enum value");

	f = open_memstream(&listing, &llen);
	param_print(tab, &c, f, true);
	fclose(f);
	ok(strstr(listing, "# Recipients per message.\nmax_rcpt = 7\n") != NULL, "listing has docs and values");
	ok(strstr(listing, "tls = required\n") != NULL, "listing names enum values");
	free(listing);

	is_int(param_set(tab, &c, "max_rcpt", "0", err, sizeof(err)), PTT_ERANGE, "below min: %s", err);
	is_int(param_set(tab, &c, "max_rcpt", "12x", err, sizeof(err)), PTT_EINVAL, "not a number: %s", err);
	is_int(param_set(tab, &c, "max_rcpt", "99999999999999999999", err, sizeof(err)), PTT_EINVAL, "overflow");
	is_int(param_set(tab, &c, "max_size", "99999999999999g", err, sizeof(err)), PTT_ERANGE, "size overflow");
	is_int(param_set(tab, &c, "max_size", "5q", err, sizeof(err)), PTT_EINVAL, "bad unit: %s", err);
	is_int(param_set(tab, &c, "timeout", "", err, sizeof(err)), PTT_EINVAL, "empty time");
	is_int(param_set(tab, &c, "pipelining", "maybe", err, sizeof(err)), PTT_EINVAL, "bad bool: %s", err);
	is_int(param_set(tab, &c, "tls", "verified", err, sizeof(err)), PTT_EINVAL, "bad enum: %s", err);
	is_int(param_set(tab, &c, "nope", "1", err, sizeof(err)), PTT_ENOENT, "unknown name");
	is_int(c.max_rcpt, 7, "failed sets change nothing");

	const char *bad1 = "[mx]\nmax_rcpt = 3\nmax_rcpt = 4\n";
	is_int(param_load_mem(tab, &c, bad1, strlen(bad1), "f", "mx", err, sizeof(err)), PTT_EEXIST, "duplicate");
	is_str(err, "f:3: \"max_rcpt\" is set twice", "duplicate names the line");
	const char *bad2 = "[mx]\ncolour = blue\n";
	is_int(param_load_mem(tab, &c, bad2, strlen(bad2), "f", "mx", err, sizeof(err)), PTT_ENOENT, "unknown in section");
	is_str(err, "f:2: unknown parameter \"colour\"", "unknown names the line");
	const char *bad3 = "[mx\n";
	is_int(param_load_mem(tab, &c, bad3, strlen(bad3), "f", "mx", err, sizeof(err)), PTT_EINVAL, "bad section header");
	const char *bad4 = "[mx]\njust words\n";
	is_int(param_load_mem(tab, &c, bad4, strlen(bad4), "f", "mx", err, sizeof(err)), PTT_EINVAL, "line without =");
	is_int(param_load_mem(tab, &c, "a\0b", 3, "f", "mx", err, sizeof(err)), PTT_EINVAL, "NUL byte");
	const char *bad5 = "[mx]\ntimeout = 2y\n";
	is_int(param_load_mem(tab, &c, bad5, strlen(bad5), "f", "mx", err, sizeof(err)), PTT_EINVAL, "bad value names the line");
	ok(strncmp(err, "f:2: timeout:", 13) == 0, "value error has file:line: %s", err);
	is_int(param_load(tab, &c, "/nonexistent/ptt.conf", "mx", err, sizeof(err)), PTT_EIO, "missing file");
	param_free(tab, &c);
	ok(c.hostname == NULL, "free releases strings");

	/* param_main: file section, then -o overrides; errors exit 2. */
	{
		FILE *cf = fopen("test_param.conf", "w");
		fputs("[mx]\nmax_rcpt = 9\ntimeout = 1m\n", cf);
		fclose(cf);
		char *argv1[] = { "d", "-c", "test_param.conf", "-o", "max_rcpt=42", NULL };
		char *argv2[] = { "d", "-o", "max_rcpt=0", NULL };
		char *argv3[] = { "d", "extra", NULL };
		int st;
		pid_t pid;

		fflush(stdout);
		if ((pid = fork()) == 0) {
			param_main(tab, &c, "mx", 5, argv1);
			_exit(c.max_rcpt == 42 && c.timeout == 60 ? 0 : 1);
		}
		waitpid(pid, &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "param_main: the file, then -o");
		if ((pid = fork()) == 0) {
			if (freopen("/dev/null", "w", stderr) == NULL)
				_exit(3);
			param_main(tab, &c, "mx", 3, argv2);
			_exit(0);
		}
		waitpid(pid, &st, 0);
		is_int(WEXITSTATUS(st), 2, "param_main: a bad value exits 2");
		if ((pid = fork()) == 0) {
			if (freopen("/dev/null", "w", stderr) == NULL)
				_exit(3);
			param_main(tab, &c, "mx", 2, argv3);
			_exit(0);
		}
		waitpid(pid, &st, 0);
		is_int(WEXITSTATUS(st), 2, "param_main: a stray argument exits 2");
		unlink("test_param.conf");
	}
	return tap_done();
}
