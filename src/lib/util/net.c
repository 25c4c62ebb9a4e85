/*
 * net.c - host:port parsing, listening and connecting sockets.
 *
 * Trusts: its caller's addresses (configuration, not the network).
 * getaddrinfo is used only for listeners and tools; daemons that resolve
 * names from the network do so through libunbound.
 * Inherited listeners follow sd_listen_fds(3) (LISTEN_PID, LISTEN_FDS):
 * the environment is trusted as the supervisor's.
 */
#include "util/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/mem.h"

int
net_split_hostport(const char *s, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *colon, *h = s;
	size_t hl;

	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return PTT_EINVAL;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
			return PTT_EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen || colon[1] == '\0' ||
	    strlen(colon + 1) >= portlen)
		return PTT_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	ptt_strlcpy(port, colon + 1, portlen);
	return 0;
}

void
net_set_nodelay(int fd)
{
	int one = 1;

	/* Fails with EOPNOTSUPP on unix sockets and socketpairs: fine. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int
net_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return PTT_EIO;
	return 0;
}

static struct addrinfo *
resolve(const char *hostport, int passive, int socktype, char *err,
    size_t errlen)
{
	char host[256], port[32];
	struct addrinfo hints, *res = NULL;
	int r;

	if (net_split_hostport(hostport, host, sizeof(host), port,
	    sizeof(port)) != 0) {
		snprintf(err, errlen, "%s: not host:port", hostport);
		return NULL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = socktype;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	hints.ai_flags |= AI_NUMERICSERV;
	r = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, port, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "%s: %s", hostport, gai_strerror(r));
		return NULL;
	}
	return res;
}

/* ---- inherited sockets (sd_listen_fds(3)) ---- */

#define LISTEN_FDS_START 3
#define INHERIT_MAX 64

static struct {
	bool loaded;
	int n;
	bool taken[INHERIT_MAX];
} inh;

static void
inherit_load(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long n;

	if (inh.loaded)
		return;
	inh.loaded = true;
	if (pid == NULL || fds == NULL)
		return;
	errno = 0;
	if (strtol(pid, &end, 10) != (long)getpid() || *end != '\0' || errno)
		return;
	n = strtol(fds, &end, 10);
	if (*end != '\0' || n <= 0 || errno)
		return;
	inh.n = n > INHERIT_MAX ? INHERIT_MAX : (int)n;
	for (int i = 0; i < inh.n; i++) {
		int fd = LISTEN_FDS_START + i;
		int fl = fcntl(fd, F_GETFD);
		if (fl >= 0)
			(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
}

static bool
same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

int
net_inherited(const char *hostport, int socktype)
{
	char host[256], port[32];
	struct addrinfo hints, *res = NULL;
	bool resolved = false;
	int found = -1;

	inherit_load();
	if (inh.n == 0)
		return -1;
	for (int i = 0; i < inh.n && found < 0; i++) {
		int fd = LISTEN_FDS_START + i, type = 0, acc = 0;
		socklen_t tl = sizeof(type), al = sizeof(acc);
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (inh.taken[i] ||
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
		    type != socktype)
			continue;
		if (socktype == SOCK_STREAM && (getsockopt(fd, SOL_SOCKET,
		    SO_ACCEPTCONN, &acc, &al) != 0 || !acc))
			continue;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
			continue;
		if (!resolved) {
			resolved = true;
			if (net_split_hostport(hostport, host, sizeof(host), port,
			    sizeof(port)) != 0)
				break;
			memset(&hints, 0, sizeof(hints));
			hints.ai_socktype = socktype;
			hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
			if (getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, port,
			    &hints, &res) != 0)
				res = NULL;
		}
		for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
			if (same_addr(ai->ai_addr, (struct sockaddr *)&ss)) {
				found = i;
				break;
			}
	}
	if (res != NULL)
		freeaddrinfo(res);
	if (found < 0)
		return -1;
	inh.taken[found] = true;
	(void)net_set_nonblock(LISTEN_FDS_START + found);
	return LISTEN_FDS_START + found;
}

/* An inherited socket of socktype for hostport, or a new one bound to it
 * (and listening, for SOCK_STREAM). */
static int
bind_socket(const char *hostport, int socktype, char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	int fd = -1, one = 1, saved = 0;

	if ((fd = net_inherited(hostport, socktype)) >= 0)
		return fd;
	if ((res = resolve(hostport, 1, socktype, err, errlen)) == NULL)
		return PTT_EINVAL;
	/* With "*", prefer the IPv6 wildcard, which also takes IPv4. */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    (socktype != SOCK_STREAM || listen(fd, 511) == 0))
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "%s %s: %s", socktype == SOCK_STREAM ?
		    "listen" : "udp", hostport, strerror(saved));
		return PTT_EIO;
	}
	return fd;
}

int
net_listen(const char *hostport, char *err, size_t errlen)
{
	return bind_socket(hostport, SOCK_STREAM, err, errlen);
}

int
net_bind_udp(const char *hostport, char *err, size_t errlen)
{
	return bind_socket(hostport, SOCK_DGRAM, err, errlen);
}

int
net_connect(const char *hostport, char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	int fd = -1, saved = 0;

	if ((res = resolve(hostport, 0, SOCK_STREAM, err, errlen)) == NULL)
		return PTT_EINVAL;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "connect %s: %s", hostport, strerror(saved));
		return PTT_EIO;
	}
	return fd;
}

int
net_connect_wait(const char *hostport, int timeout_ms, char *err,
    size_t errlen)
{
	struct pollfd pfd;
	int fd, soerr = 0, r;
	socklen_t sl = sizeof(soerr);

	if ((fd = net_connect(hostport, err, errlen)) < 0)
		return fd;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while ((r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (r == 0) {
		snprintf(err, errlen, "connect %s: timed out", hostport);
		close(fd);
		return PTT_ETIMEDOUT;
	}
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 ||
	    soerr != 0) {
		snprintf(err, errlen, "connect %s: %s", hostport,
		    strerror(soerr ? soerr : errno));
		close(fd);
		return PTT_EIO;
	}
	return fd;
}

const char *
net_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a;

	switch (sa->sa_family) {
	case AF_INET:
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		break;
	case AF_INET6: {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		/* Show v4-mapped addresses as plain IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			if (inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf,
			    (socklen_t)len) == NULL)
				ptt_strlcpy(buf, "?", len);
			return buf;
		}
		a = &s6->sin6_addr;
		break;
	}
	case AF_UNIX:
		ptt_strlcpy(buf, "local", len);
		return buf;
	default:
		ptt_strlcpy(buf, "?", len);
		return buf;
	}
	if (inet_ntop(sa->sa_family, a, buf, (socklen_t)len) == NULL)
		ptt_strlcpy(buf, "?", len);
	return buf;
}

int
net_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}
