/*
 * probe.c - a stand-in for an attacker's code running inside a sandboxed
 * daemon, for tests/interop/sandbox only.
 *
 * Loaded with LD_PRELOAD into an unmodified ptt daemon. On SIGUSR2 (sent
 * by the test after the daemon logged that its sandbox is in place) it
 * tries, in this order, what the environment asks for:
 *   PTT_PROBE_CONNECT=PORT   connect(2) to 127.0.0.1:PORT
 *   PTT_PROBE_OPEN=PATH      open(2) PATH read-only and read one byte
 *   PTT_PROBE_EXEC=PATH      execve(2) PATH (a daemon never runs programs)
 * and writes one line per attempt to stderr:
 *   "probe: connect 25: refused by policy (Permission denied)"
 * A seccomp policy that kills on the call ends the process instead (the
 * test sees SIGSYS), or in the daemon's debug mode names the call.
 * Only async-signal-safe calls are used in the handler.
 * Trusts: nothing; it is test code and never linked into a daemon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char open_path[512];
static int connect_port;
static char exec_path[512];

static void
say(const char *a, const char *b, const char *c)
{
	const char *parts[] = { "probe: ", a, " ", b, ": ", c, "\n" };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (write(2, parts[i], strlen(parts[i])) < 0)
			return;
}

static const char *
why(int e)
{
	switch (e) {
	case EACCES: return "refused by policy (Permission denied)";
	case EPERM: return "refused by policy (Operation not permitted)";
	case ECONNREFUSED: return "allowed (connection refused: nobody listens)";
	case ENOENT: return "allowed (no such file)";
	default: return "failed (other error)";
	}
}

static void
on_usr2(int sig)
{
	int saved = errno;
	(void)sig;
	if (connect_port > 0) {
		char port[16];
		int n = connect_port, i = (int)sizeof(port) - 1;
		port[i] = '\0';
		do { port[--i] = (char)('0' + n % 10); n /= 10; } while (n && i);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			say("socket for", port + i, why(errno));
		} else {
			struct sockaddr_in sa;
			memset(&sa, 0, sizeof(sa));
			sa.sin_family = AF_INET;
			sa.sin_port = htons((uint16_t)connect_port);
			sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
				say("connect", port + i, "allowed (connected)");
			else
				say("connect", port + i, why(errno));
			close(fd);
		}
	}
	if (open_path[0]) {
		int fd = open(open_path, O_RDONLY);
		if (fd < 0) {
			say("open", open_path, why(errno));
		} else {
			char c;
			say("open", open_path, read(fd, &c, 1) == 1 ?
			    "allowed (read a byte)" : "allowed (opened)");
			close(fd);
		}
	}
	if (exec_path[0]) {
		char *const argv[] = { exec_path, NULL };
		char *const envp[] = { NULL };
		execve(exec_path, argv, envp);
		say("exec", exec_path, why(errno));
	}
	say("done", "-", "-");
	errno = saved;
}

__attribute__((constructor)) static void
probe_init(void)
{
	const char *p = getenv("PTT_PROBE_OPEN"), *c = getenv("PTT_PROBE_CONNECT");
	struct sigaction sa;

	if (p && strlen(p) < sizeof(open_path))
		memcpy(open_path, p, strlen(p) + 1);
	if (c)
		connect_port = atoi(c);
	if ((p = getenv("PTT_PROBE_EXEC")) && strlen(p) < sizeof(exec_path))
		memcpy(exec_path, p, strlen(p) + 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr2;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);
}
