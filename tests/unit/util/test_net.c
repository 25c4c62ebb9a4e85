/* test_net.c - host:port parsing, listening and connecting on loopback. */
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "util/err.h"
#include "util/net.h"
#include "../tap.h"

int
main(void)
{
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
