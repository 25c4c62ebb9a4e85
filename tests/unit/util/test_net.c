/* test_net.c - host:port parsing, listening and connecting on loopback;
 * listeners inherited by the LISTEN_FDS convention (sd_listen_fds(3)). */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "util/err.h"
#include "util/net.h"
#include "../tap.h"

static int
bound(int type, int *port)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, type, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    (type == SOCK_STREAM && listen(fd, 5) != 0) ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0)
		return -1;
	*port = ntohs(sin.sin_port);
	return fd;
}

/*
 * In a child (the inherited set is read once per process): sockets at 3,
 * 4 and 5 as a supervisor leaves them, LISTEN_PID = the child (or another
 * pid when wrong_pid). The child writes what net_listen returned.
 */
static void
inherit_case(bool wrong_pid, char *out, size_t outlen)
{
	int pa, pb, pu, a = bound(SOCK_STREAM, &pa), b = bound(SOCK_STREAM, &pb);
	int u = bound(SOCK_DGRAM, &pu), pfd[2];
	pid_t pid;
	ssize_t n;

	out[0] = '\0';
	if (a < 0 || b < 0 || u < 0 || pipe(pfd) != 0)
		return;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		char hp[64], e[256], pidbuf[32];
		int r1, r2, r3, r4, r5, fa = fcntl(a, F_DUPFD, 20);
		int fb = fcntl(b, F_DUPFD, 20), fu = fcntl(u, F_DUPFD, 20);
		FILE *f;

		dup2(fa, 3);
		dup2(fb, 4);
		dup2(fu, 5);
		snprintf(pidbuf, sizeof(pidbuf), "%ld",
		    (long)getpid() + (wrong_pid ? 1 : 0));
		setenv("LISTEN_PID", pidbuf, 1);
		setenv("LISTEN_FDS", "3", 1);
		snprintf(hp, sizeof(hp), "127.0.0.1:%d", pb);
		r1 = net_listen(hp, e, sizeof(e));	/* by address: 4 */
		r2 = net_listen(hp, e, sizeof(e));	/* taken: bind fails */
		snprintf(hp, sizeof(hp), "127.0.0.1:%d", pu);
		r3 = net_inherited(hp, SOCK_DGRAM);	/* 5 */
		snprintf(hp, sizeof(hp), "127.0.0.1:%d", pa);
		r4 = net_listen(hp, e, sizeof(e));	/* 3 */
		r5 = (fcntl(3, F_GETFD) & FD_CLOEXEC) != 0 &&
		    (fcntl(4, F_GETFL) & O_NONBLOCK) != 0;
		f = fdopen(pfd[1], "w");
		fprintf(f, "%d %d %d %d %d", r1, r2 < 0 ? -1 : r2, r3, r4, r5);
		fclose(f);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], out, outlen - 1);
	out[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	waitpid(pid, NULL, 0);
	close(a);
	close(b);
	close(u);
}

int
main(void)
{
	char got[64];

	inherit_case(false, got, sizeof(got));
	is_str(got, "4 -1 5 3 1", "inherited sockets are matched by address, "
	    "handed out once, UDP too, made close-on-exec and non-blocking");
	inherit_case(true, got, sizeof(got));
	ok(got[0] == '-',
	    "LISTEN_PID of another process: nothing is inherited (%s)", got);

	char host[64], port[16], err[256], addr[64], hp[64];
	struct sockaddr_in6 s6;
	int lfd, cfd, p;

	is_int(net_split_hostport("127.0.0.1:25", host, sizeof(host), port, sizeof(port)), 0, "v4 host:port");
	is_str(host, "127.0.0.1", "v4 host");
	is_str(port, "25", "v4 port");
	is_int(net_split_hostport("[::1]:587", host, sizeof(host), port, sizeof(port)), 0, "bracketed v6");
	is_str(host, "::1", "v6 host");
	is_int(net_split_hostport("::1:25", host, sizeof(host), port, sizeof(port)), PTT_EINVAL, "bare v6 is ambiguous");
	is_int(net_split_hostport("host", host, sizeof(host), port, sizeof(port)), PTT_EINVAL, "no port");
	is_int(net_split_hostport(":25", host, sizeof(host), port, sizeof(port)), PTT_EINVAL, "no host");
	is_int(net_split_hostport("h:", host, sizeof(host), port, sizeof(port)), PTT_EINVAL, "empty port");
	is_int(net_split_hostport("[::1]25", host, sizeof(host), port, sizeof(port)), PTT_EINVAL, "bad brackets");

	lfd = net_listen("127.0.0.1:0", err, sizeof(err));
	ok(lfd >= 0, "listens on an ephemeral port: %s", lfd < 0 ? err : "");
	p = net_local_port(lfd);
	ok(p > 0, "knows its port");
	snprintf(hp, sizeof(hp), "127.0.0.1:%d", p);
	cfd = net_connect_wait(hp, 2000, err, sizeof(err));
	ok(cfd >= 0, "connects to it");
	close(cfd);
	close(lfd);
	cfd = net_connect_wait(hp, 2000, err, sizeof(err));
	ok(cfd < 0 && strstr(err, "refused") != NULL, "a closed port is refused: %s", err);
	ok(net_listen("256.0.0.1:1", err, sizeof(err)) < 0, "a bad address fails with a reason: %s", err);

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &s6.sin6_addr);
	is_str(net_addr_str((struct sockaddr *)&s6, addr, sizeof(addr)), "192.0.2.7", "v4-mapped shown as v4");
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	is_str(net_addr_str((struct sockaddr *)&s6, addr, sizeof(addr)), "2001:db8::1", "v6 shown as v6");
	return tap_done();
}
