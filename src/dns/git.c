/*
 * git.c - commit a changed zone file with the git command line.
 *
 * Runs git with posix_spawnp (no shell, arguments as a vector, standard
 * input and output on /dev/null), as "git -C DIR ...". The committer is
 * "ptt-dns <ptt-dns@localhost>"; the message names the TSIG key.
 * Trusts: git on PATH.
 */
#include "git.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/err.h"
#include "util/mem.h"

extern char **environ;

static int
run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, ret;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	ret = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret != 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool
git_in_worktree(const char *dir)
{
	char *const argv[] = { "git", "-c", "safe.directory=*", "-C",
	    (char *)dir, "rev-parse", "--is-inside-work-tree", NULL };

	return run(argv) == 0;
}

int
git_commit_file(const char *dir, const char *file, const char *message,
    char *err, size_t errlen)
{
#define GIT "git", "-c", "safe.directory=*", "-C", (char *)dir
	char *const add[] = { GIT, "add", "--", (char *)file, NULL };
	char *const commit[] = { GIT,
	    "-c", "user.name=ptt-dns", "-c", "user.email=ptt-dns@localhost",
	    "commit", "-q", "-m", (char *)message, "--", (char *)file, NULL };
	char *const has_remote[] = { GIT, "config", "--get",
	    "remote.origin.url", NULL };
	char *const push[] = { GIT, "push", "-q", "origin", "HEAD", NULL };
#undef GIT
	int r;

	if ((r = run(add)) != 0) {
		snprintf(err, errlen, "git add %s failed (%d)", file, r);
		return PTT_EIO;
	}
	if ((r = run(commit)) != 0) {
		snprintf(err, errlen, "git commit %s failed (%d)", file, r);
		return PTT_EIO;
	}
	if (run(has_remote) == 0 && (r = run(push)) != 0) {
		snprintf(err, errlen, "committed, but git push failed (%d)", r);
		return PTT_EIO;
	}
	return 0;
}

/* A plain zone file name: no path, no leading dot or dash. */
static bool
plain_zone_file(const char *f)
{
	size_t n = strlen(f);

	if (n <= 5 || n > 255 || f[0] == '.' || f[0] == '-' ||
	    strcmp(f + n - 5, ".zone") != 0)
		return false;
	for (const char *p = f; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_'))
			return false;
	return true;
}

static _Noreturn void
helper_loop(int fd, const char *dir)
{
	char req[8192], err[512];

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	for (;;) {
		ssize_t n = recv(fd, req, sizeof(req) - 1, 0);
		if (n <= 0)
			_exit(0);
		req[n] = '\0';
		const char *file = req;
		size_t fl = strlen(file);
		const char *msg = (size_t)n > fl + 1 ? req + fl + 1 : "";
		char reply[sizeof(err) + 1];
		err[0] = '\0';
		if (!plain_zone_file(file)) {
			snprintf(err, sizeof(err), "refused file name %.64s", file);
			reply[0] = 1;
		} else {
			reply[0] = git_commit_file(dir, file, msg, err,
			    sizeof(err)) == 0 ? 0 : 1;
		}
		size_t el = ptt_strlcpy(reply + 1, err, sizeof(reply) - 1);
		if (el >= sizeof(reply) - 1)
			el = sizeof(reply) - 2;
		send(fd, reply, 1 + el, MSG_NOSIGNAL);
	}
}

int
git_helper_start(const char *dir, char *err, size_t errlen)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGCHLD, SIG_DFL);
		helper_loop(sv[1], dir);
	}
	close(sv[1]);
	return sv[0];
}

int
git_helper_commit(int fd, const char *file, const char *message, char *err,
    size_t errlen)
{
	char req[8192], reply[1024];
	size_t fl = strlen(file), ml = strlen(message);
	ssize_t n;

	if (fl + ml + 2 > sizeof(req)) {
		snprintf(err, errlen, "commit request too long");
		return PTT_EIO;
	}
	memcpy(req, file, fl + 1);
	memcpy(req + fl + 1, message, ml + 1);
	if (send(fd, req, fl + ml + 2, MSG_NOSIGNAL) < 0) {
		snprintf(err, errlen, "git helper: %s", strerror(errno));
		return PTT_EIO;
	}
	do
		n = recv(fd, reply, sizeof(reply) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		snprintf(err, errlen, "git helper is gone");
		return PTT_EIO;
	}
	reply[n] = '\0';
	if (reply[0] != 0) {
		snprintf(err, errlen, "%s", reply + 1);
		return PTT_EIO;
	}
	return 0;
}
