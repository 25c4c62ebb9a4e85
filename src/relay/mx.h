/*
 * mx.h - where mail for a domain goes (RFC 5321 5.1, RFC 7505).
 *
 *   1. MX records of the domain, by preference, in random order among
 *      equal preferences (RFC 5321 5.1: "the sender-SMTP MUST randomize
 *      them to spread the load");
 *   2. no MX records (NODATA): the domain itself is the implicit MX with
 *      preference 0;
 *   3. a null MX (a single MX "." with preference 0, RFC 7505 3) is a
 *      permanent failure, 5.1.10; an NXDOMAIN is 5.1.2; SERVFAIL, timeout
 *      and DNSSEC-bogus answers are temporary (4.4.3);
 *   4. then AAAA and A records of each host (both asked at once, IPv6
 *      addresses first within a host). No address at all: temporary when
 *      a lookup failed temporarily, else permanent (5.4.4, unable to route).
 * An address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]") is used as is.
 * The local host's own preference (RFC 5321 5.1 loop avoidance) is not
 * considered: the relay never lists itself as an MX.
 *
 * Trusts: the resolver's parsed answers (dns/resolve.h checks the wire).
 */
#ifndef PTT_RELAY_MX_H
#define PTT_RELAY_MX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/resolve.h"

#define MX_MAX_HOSTS 10		/* MX hosts tried per domain */
#define MX_MAX_ADDRS 20		/* addresses tried per domain */

enum mx_status { MX_OK, MX_TEMP, MX_PERM };

struct mx_host {
	char *name;		/* owned */
	uint16_t pref;
};

struct mx_addr {
	char host[DNS_NAME_TEXT_MAX];	/* the MX host it belongs to */
	uint16_t pref;
	struct sockaddr_storage ss;	/* with the port set */
	socklen_t len;
};

struct mx_route {
	enum mx_status st;
	char status[16];	/* RFC 3463 code when not MX_OK */
	char why[512];		/* text for logs and DSNs when not MX_OK */
	uint32_t ttl;		/* smallest TTL seen (0: none) */
	struct mx_addr *a;	/* MX_OK: addresses in the order to try */
	size_t n;
};

/* Random number below n (tests pass a deterministic one). */
typedef unsigned mx_rand_fn(unsigned n);

/*
 * Step 1-3 on an MX answer for domain: fills hosts (caller frees with
 * mx_hosts_free) and returns MX_OK, or MX_TEMP/MX_PERM with status/why
 * set in route (whose a/n stay empty). rnd may be NULL (arc4random).
 */
enum mx_status mx_hosts(const struct dns_result *res, const char *domain,
    mx_rand_fn *rnd, struct mx_host **hosts, size_t *nhosts,
    struct mx_route *route);
void mx_hosts_free(struct mx_host *hosts, size_t n);

typedef void mx_cb(struct mx_route *route, void *arg);
struct mx_lookup;

/*
 * The whole lookup for domain, asynchronously. cb runs once from the event
 * loop with a route the caller owns (free with mx_route_free). port is set
 * in every address. Never NULL.
 */
struct mx_lookup *mx_lookup(struct resolver *r, const char *domain,
    uint16_t port, bool ipv6, bool ipv4, mx_rand_fn *rnd, mx_cb *cb,
    void *arg);
/* Cancel a lookup whose callback has not run (it never will). */
void mx_lookup_cancel(struct mx_lookup *l);
void mx_route_free(struct mx_route *route);

#endif
