/*
 * common.c - helpers shared by the ptt subcommands (cmd.h): messages,
 * opening and committing to the configuration repository, options, and
 * reading a new password from stdin or the terminal without echo, and
 * finding ptt's other programs.
 *
 * Trusts: the operator. A password read here is wiped from memory after
 * use and never printed or logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "conf/repo.h"
#include "conf/state.h"
#include "conf/users.h"
#include "ptt/cmd.h"
#include "util/mem.h"

void
say(const char *fmt, ...)
{
	va_list ap;

	fputs("ptt: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *
opt_value(int argc, char **argv, int *i, const char *opt, bool *missing)
{
	size_t n = strlen(opt);

	*missing = false;
	if (strncmp(argv[*i], opt, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

int
ctx_open_repo(const struct ptt_ctx *ctx, struct conf_repo **r)
{
	struct conf_repo_opts o = { 0 };
	char cache[4096], err[512];

	o.url = ctx->config;
	if (conf_url_is_remote(ctx->config)) {
		if (state_path(ctx->state, "cache/config.git", cache, sizeof(cache)) != 0) {
			say("state directory name too long");
			return PTT_EXIT_FAIL;
		}
		if (ctx->ssh_key == NULL || ctx->host_key == NULL) {
			say("%s: a remote needs --ssh-key FILE and --host-key "
			    "SHA256:... (or PTT_SSH_KEY, PTT_HOST_KEY)", ctx->config);
			return PTT_EXIT_USAGE;
		}
		if (state_init(ctx->state, err, sizeof(err)) != 0) {
			say("%s", err);
			return PTT_EXIT_FAIL;
		}
		o.cache_dir = cache;
		o.ssh_key = ctx->ssh_key;
		o.host_key = ctx->host_key;
	}
	if (conf_repo_open(r, &o, err, sizeof(err)) != 0) {
		say("%s", err);
		return PTT_EXIT_FAIL;
	}
	return PTT_EXIT_OK;
}

/* The operator's name and address for the commit. */
static void
identity(char *name, size_t nlen, char *email, size_t elen)
{
	const char *n = getenv("GIT_AUTHOR_NAME"), *e = getenv("GIT_AUTHOR_EMAIL");
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(getuid());
	const char *login = sudo != NULL && *sudo != '\0' ? sudo :
	    pw != NULL ? pw->pw_name : "ptt";
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		ptt_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	ptt_strlcpy(name, n != NULL && *n != '\0' ? n : login, nlen);
	if (e != NULL && *e != '\0')
		ptt_strlcpy(email, e, elen);
	else
		snprintf(email, elen, "%s@%s", login, host);
}

int
ctx_commit(struct conf_repo *r, const struct conf_change *ch, size_t n,
    const char *message)
{
	char name[256], email[512], id[CONF_COMMIT_HEX], err[512];
	int ret;

	identity(name, sizeof(name), email, sizeof(email));
	ret = conf_repo_commit(r, ch, n, message, name, email, id, err, sizeof(err));
	if (ret != 0) {
		say("commit failed: %s", err);
		return PTT_EXIT_FAIL;
	}
	if (err[0] != '\0')
		say("warning: %s", err);
	printf("%.12s %s\n", id, message);
	return PTT_EXIT_OK;
}

void
password_free(char *pw, size_t len)
{
	if (pw == NULL)
		return;
	ptt_memzero(pw, len);
	free(pw);
}

/* One line from fd into a PASSWORD_MAX + 2 buffer, without the newline. */
static int
read_line(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n')
			break;
		if (n + 1 >= cap) {
			*len = n;
			return PTT_EXIT_USAGE;
		}
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return 0;
}

static int
prompt(int fd, const char *text, char *buf, size_t cap, size_t *len)
{
	struct termios old, quiet;
	int r;

	if (write(fd, text, strlen(text)) < 0)
		return PTT_EXIT_FAIL;
	if (tcgetattr(fd, &old) != 0)
		return PTT_EXIT_FAIL;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
		return PTT_EXIT_FAIL;
	r = read_line(fd, buf, cap, len);
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		r = PTT_EXIT_FAIL;
	return r;
}

int
read_new_password(bool from_stdin, char **pw, size_t *len)
{
	size_t cap = PASSWORD_MAX + 2, len2 = 0;
	char *a = xmalloc(cap), *b = NULL;
	int fd, r;

	*pw = NULL;
	*len = 0;
	if (from_stdin) {
		r = read_line(0, a, cap, len);
	} else {
		fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			say("no terminal to ask for a password: use --password-stdin");
			password_free(a, cap);
			return PTT_EXIT_USAGE;
		}
		b = xmalloc(cap);
		r = prompt(fd, "New password: ", a, cap, len);
		if (r == 0)
			r = prompt(fd, "Again: ", b, cap, &len2);
		close(fd);
		if (r == 0 && (len2 != *len || memcmp(a, b, *len) != 0)) {
			say("the passwords differ");
			r = PTT_EXIT_USAGE;
		}
		password_free(b, cap);
	}
	if (r == PTT_EXIT_USAGE && *len + 2 >= cap)
		say("password longer than %d bytes", PASSWORD_MAX);
	if (r == 0 && *len < PTT_PASSWORD_MIN) {
		say("password shorter than %d characters", PTT_PASSWORD_MIN);
		r = PTT_EXIT_USAGE;
	}
	if (r == 0 && strlen(a) != *len) {
		say("password contains a NUL byte");
		r = PTT_EXIT_USAGE;
	}
	if (r != 0) {
		password_free(a, cap);
		*len = 0;
		return r;
	}
	*pw = a;
	return 0;
}

void
ptt_exe(const char *bindir, const char *subdir, const char *name, char *out,
    size_t len)
{
	char self[PATH_MAX];
	ssize_t n;

	if (bindir == NULL) {
		if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
			n = 1, self[0] = '.';
		self[n] = '\0';
		if (strrchr(self, '/') != NULL)
			*strrchr(self, '/') = '\0';
		bindir = self;
	}
	/* Installed: side by side. Build tree: build/src/ptt/ptt and
	 * build/src/<subdir>/<name>. */
	snprintf(out, len, "%s/%s", bindir, name);
	if (access(out, X_OK) == 0)
		return;
	snprintf(out, len, "%s/../%s/%s", bindir, subdir, name);
}
