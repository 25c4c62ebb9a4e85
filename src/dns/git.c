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
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "util/err.h"

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
	char *const argv[] = { "git", "-C", (char *)dir, "rev-parse",
	    "--is-inside-work-tree", NULL };

	return run(argv) == 0;
}

int
git_commit_file(const char *dir, const char *file, const char *message,
    char *err, size_t errlen)
{
	char *const add[] = { "git", "-C", (char *)dir, "add", "--",
	    (char *)file, NULL };
	char *const commit[] = { "git", "-C", (char *)dir,
	    "-c", "user.name=ptt-dns", "-c", "user.email=ptt-dns@localhost",
	    "commit", "-q", "-m", (char *)message, "--", (char *)file, NULL };
	char *const has_remote[] = { "git", "-C", (char *)dir, "config",
	    "--get", "remote.origin.url", NULL };
	char *const push[] = { "git", "-C", (char *)dir, "push", "-q",
	    "origin", "HEAD", NULL };
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
