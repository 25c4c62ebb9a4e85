/*
 * net.h - sockets: host:port parsing, listening and connecting (IPv4/IPv6).
 *
 * Addresses are written "127.0.0.1:25", "[::1]:25" or "localhost:25"; a
 * listener on "*:25" takes every address. All descriptors returned are
 * non-blocking and close-on-exec (a TLS bufferevent needs non-blocking
 * sockets, or its handshake deadlocks).
 *
 * Inherited sockets (sd_listen_fds(3)): when LISTEN_PID is this process
 * and LISTEN_FDS is N, descriptors 3 .. 3+N-1 are listening sockets made
 * by a supervisor (pttd or systemd socket activation). net_listen and
 * net_inherited take one of them instead of binding when its local
 * address and port (getsockname) are the requested ones ("*" matches the
 * wildcard address). Each is handed out once; all are made close-on-exec
 * (a daemon's helpers do not get them) and the one taken non-blocking.
 * LISTEN_FDNAMES is not used: its names cannot hold a host:port.
 */
#ifndef PTT_UTIL_NET_H
#define PTT_UTIL_NET_H

#include <stddef.h>
#include <sys/socket.h>

/* Split "host:port" / "[v6]:port" into host and port. 0 or PTT_EINVAL. */
int net_split_hostport(const char *s, char *host, size_t hostlen,
    char *port, size_t portlen);
/* Listen on host:port (SO_REUSEADDR, backlog 511); returns an fd or a
 * negative PTT_E* code with a reason in err. */
int net_listen(const char *hostport, char *err, size_t errlen);
/* The same for a UDP socket (bound, non-blocking): an inherited one for
 * hostport, or a new one. */
int net_bind_udp(const char *hostport, char *err, size_t errlen);
/* The inherited socket of type socktype (SOCK_STREAM listening, or
 * SOCK_DGRAM bound) for hostport, or -1 when there is none (see above). */
int net_inherited(const char *hostport, int socktype);
/* Resolve host:port numerically or via getaddrinfo (tests, tools; daemons
 * resolve through libunbound) and start a non-blocking connect; returns the
 * fd (connect may still be in progress) or a negative PTT_E* code. */
int net_connect(const char *hostport, char *err, size_t errlen);
/* Blocking connect with a timeout in milliseconds, for tools and tests. */
int net_connect_wait(const char *hostport, int timeout_ms, char *err, size_t errlen);
/* The printable address of a sockaddr ("192.0.2.1" or "2001:db8::1"). */
const char *net_addr_str(const struct sockaddr *sa, char *buf, size_t len);
/* The port of the local side of a socket, or -1 (for listeners on port 0). */
int net_local_port(int fd);
int net_set_nonblock(int fd);
/* TCP_NODELAY: a request/response protocol that writes whole commands
 * must not wait for Nagle and delayed ACKs (40 ms a round on Linux).
 * Harmless on non-TCP sockets. */
void net_set_nodelay(int fd);

#endif
