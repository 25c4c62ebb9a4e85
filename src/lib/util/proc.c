/*
 * proc.c - run a program and collect its output (proc.h).
 *
 * Trusts: the caller's argv; the child's output is only stored.
 */
#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int
proc_run_capture(char *const argv[], struct buf *out, size_t max)
{
	int p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0) {
		buf_addf(out, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		buf_addf(out, "fork: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		char b[1024];
		ssize_t n = read(p[0], b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out->len < max)
			buf_add(out, b, (size_t)n < max - out->len ?
			    (size_t)n : max - out->len);
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			buf_addf(out, "waitpid: %s", strerror(errno));
			return -1;
		}
	while (out->len > 0 && out->data[out->len - 1] == '\n')
		buf_truncate(out, out->len - 1);
	return WIFEXITED(status) ? WEXITSTATUS(status) :
	    WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}
