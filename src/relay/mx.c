/*
 * mx.c - the route to a domain's mail exchangers: RFC 5321 5.1 (MX order,
 * randomised ties, implicit MX), RFC 7505 (null MX), RFC 3463 codes for
 * failures. See mx.h. Trusts the resolver's parsed records.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "relay/mx.h"
#include "util/ev.h"
#include "util/log.h"
#include "util/mem.h"

static unsigned
default_rand(unsigned n)
{
	return n > 1 ? arc4random_uniform(n) : 0;
}

static void route_fail(struct mx_route *route, enum mx_status st,
    const char *status, const char *fmt, ...) PTT_PRINTF(4, 5);

static void
route_fail(struct mx_route *route, enum mx_status st, const char *status,
    const char *fmt, ...)
{
	va_list ap;

	route->st = st;
	ptt_strlcpy(route->status, status, sizeof(route->status));
	va_start(ap, fmt);
	vsnprintf(route->why, sizeof(route->why), fmt, ap);
	va_end(ap);
}

void
mx_hosts_free(struct mx_host *hosts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(hosts[i].name);
	free(hosts);
}

enum mx_status
mx_hosts(const struct dns_result *res, const char *domain, mx_rand_fn *rnd,
    struct mx_host **hostsp, size_t *nhostsp, struct mx_route *route)
{
	struct mx_host *h = NULL;
	size_t n = 0;

	if (rnd == NULL)
		rnd = default_rand;
	*hostsp = NULL;
	*nhostsp = 0;
	route->ttl = res->ttl;
	switch (res->status) {
	case DNS_NXDOMAIN:
		route_fail(route, MX_PERM, "5.1.2",
		    "domain %s does not exist", domain);
		return MX_PERM;
	case DNS_TEMPFAIL:
	case DNS_BOGUS:
		route_fail(route, MX_TEMP, "4.4.3", "MX lookup for %s failed: %s",
		    domain, res->why ? res->why : dns_status_str(res->status));
		return MX_TEMP;
	case DNS_NODATA:
		/* RFC 5321 5.1: no MX, the domain is its own implicit MX. */
		h = xcalloc(1, sizeof(*h));
		h->name = xstrdup(domain);
		*hostsp = h;
		*nhostsp = 1;
		route->st = MX_OK;
		return MX_OK;
	case DNS_OK:
		break;
	}
	if (res->n == 1 && res->mx[0].host[0] == '\0') {
		/* RFC 7505 3: a null MX, the domain accepts no mail. */
		route_fail(route, MX_PERM, "5.1.10",
		    "domain %s does not accept mail (null MX)", domain);
		return MX_PERM;
	}
	h = xcalloc(res->n ? res->n : 1, sizeof(*h));
	for (size_t i = 0; i < res->n && n < MX_MAX_HOSTS; i++) {
		const struct dns_mx *m = &res->mx[i];
		bool dup = false;

		if (m->host[0] == '\0')	/* a null MX among others: ignored */
			continue;
		for (size_t j = 0; j < n; j++)
			if (strcasecmp(h[j].name, m->host) == 0)
				dup = true;
		if (dup)
			continue;
		/* Insertion keeps the preference order stable. */
		size_t k = n;
		while (k > 0 && h[k - 1].pref > m->pref) {
			h[k] = h[k - 1];
			k--;
		}
		h[k].name = xstrdup(m->host);
		h[k].pref = m->pref;
		n++;
	}
	if (n == 0) {
		free(h);
		route_fail(route, MX_PERM, "5.1.10",
		    "domain %s does not accept mail (null MX)", domain);
		return MX_PERM;
	}
	/* Shuffle each run of equal preference (Fisher-Yates). */
	for (size_t s = 0; s < n;) {
		size_t e = s;
		while (e < n && h[e].pref == h[s].pref)
			e++;
		for (size_t i = e - 1; i > s; i--) {
			size_t j = s + rnd((unsigned)(i - s + 1));
			struct mx_host t = h[i];
			h[i] = h[j];
			h[j] = t;
		}
		s = e;
	}
	*hostsp = h;
	*nhostsp = n;
	route->st = MX_OK;
	return MX_OK;
}

void
mx_route_free(struct mx_route *route)
{
	if (route == NULL)
		return;
	free(route->a);
	free(route);
}

struct hostq {
	struct mx_lookup *l;
	size_t host;
	uint16_t type;
	struct dns_query *q;
	struct dns_result *res;	/* a copy, when done */
};

struct mx_lookup {
	struct resolver *r;
	char *domain;
	uint16_t port;
	bool v6, v4;
	mx_rand_fn *rnd;
	mx_cb *cb;
	void *arg;
	struct dns_query *mxq;
	struct mx_host *hosts;
	size_t nhosts;
	struct hostq *hq;
	size_t nhq, pending;
	struct mx_route *route;
	struct event *ev;	/* deferred delivery (literals, no hosts) */
};

static void
lookup_free(struct mx_lookup *l)
{
	for (size_t i = 0; i < l->nhq; i++) {
		if (l->hq[i].q != NULL)
			resolve_cancel(l->hq[i].q);
		dns_result_free(l->hq[i].res);
	}
	if (l->mxq != NULL)
		resolve_cancel(l->mxq);
	if (l->ev != NULL)
		event_free(l->ev);
	free(l->hq);
	mx_hosts_free(l->hosts, l->nhosts);
	mx_route_free(l->route);
	free(l->domain);
	free(l);
}

static void
deliver(struct mx_lookup *l)
{
	struct mx_route *route = l->route;

	l->route = NULL;
	l->cb(route, l->arg);
	lookup_free(l);
}

static void
on_deferred(evutil_socket_t fd, short what, void *arg)
{
	deliver(arg);
}

static void
defer(struct mx_lookup *l)
{
	l->ev = ev_timer_once(resolver_base(l->r), 0, on_deferred, l);
}

static void
add_addr(struct mx_route *route, const char *host, uint16_t pref, int af,
    const void *addr, uint16_t port)
{
	struct mx_addr *a;

	if (route->n >= MX_MAX_ADDRS)
		return;
	route->a = xreallocarray(route->a, route->n + 1, sizeof(*a));
	a = &route->a[route->n++];
	memset(a, 0, sizeof(*a));
	snprintf(a->host, sizeof(a->host), "%s", host);
	a->pref = pref;
	if (af == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, addr, sizeof(s6->sin6_addr));
		a->len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, addr, sizeof(s4->sin_addr));
		a->len = sizeof(*s4);
	}
}

static void
finish_hosts(struct mx_lookup *l)
{
	struct mx_route *route = l->route;
	bool temp = false;
	const char *why = NULL;

	for (size_t h = 0; h < l->nhosts; h++) {
		for (size_t i = 0; i < l->nhq; i++) {
			const struct dns_result *res = l->hq[i].res;

			if (l->hq[i].host != h || res == NULL)
				continue;
			if (res->status == DNS_TEMPFAIL || res->status == DNS_BOGUS) {
				temp = true;
				why = res->why;
			}
			if (route->ttl == 0 || (res->ttl != 0 && res->ttl < route->ttl))
				route->ttl = res->ttl;
			for (size_t k = 0; k < res->n; k++) {
				if (res->qtype == DNS_T_AAAA)
					add_addr(route, l->hosts[h].name,
					    l->hosts[h].pref, AF_INET6,
					    &res->aaaa[k], l->port);
				else
					add_addr(route, l->hosts[h].name,
					    l->hosts[h].pref, AF_INET,
					    &res->a[k], l->port);
			}
		}
	}
	if (route->n > 0) {
		route->st = MX_OK;
	} else if (temp) {
		route_fail(route, MX_TEMP, "4.4.3",
		    "address lookup for the MX hosts of %s failed: %s",
		    l->domain, why ? why : "temporary failure");
	} else {
		route_fail(route, MX_PERM, "5.4.4",
		    "no address for any mail exchanger of %s", l->domain);
	}
	deliver(l);
}

static void
on_addr(const struct dns_result *res, void *arg)
{
	struct hostq *hq = arg;
	struct mx_lookup *l = hq->l;

	hq->q = NULL;
	hq->res = dns_result_dup(res);
	if (--l->pending == 0)
		finish_hosts(l);
}

static void
on_mx(const struct dns_result *res, void *arg)
{
	struct mx_lookup *l = arg;

	l->mxq = NULL;
	if (mx_hosts(res, l->domain, l->rnd, &l->hosts, &l->nhosts, l->route)
	    != MX_OK) {
		deliver(l);
		return;
	}
	l->hq = xcalloc(2 * l->nhosts, sizeof(*l->hq));
	for (size_t h = 0; h < l->nhosts; h++) {
		if (l->v6)
			l->hq[l->nhq++] = (struct hostq){ l, h, DNS_T_AAAA, NULL, NULL };
		if (l->v4)
			l->hq[l->nhq++] = (struct hostq){ l, h, DNS_T_A, NULL, NULL };
	}
	l->pending = l->nhq;
	if (l->nhq == 0) {
		finish_hosts(l);
		return;
	}
	/* Start them all; each callback comes from the event loop later. */
	for (size_t i = 0; i < l->nhq; i++)
		l->hq[i].q = resolve(l->r, l->hosts[l->hq[i].host].name,
		    l->hq[i].type, on_addr, &l->hq[i]);
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 4.1.3). */
static bool
literal(struct mx_lookup *l)
{
	char buf[64];
	size_t len = strlen(l->domain);
	struct in6_addr a6;
	struct in_addr a4;

	if (len < 3 || l->domain[0] != '[' || l->domain[len - 1] != ']' ||
	    len - 2 >= sizeof(buf))
		return false;
	memcpy(buf, l->domain + 1, len - 2);
	buf[len - 2] = '\0';
	if (strncasecmp(buf, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, buf + 5, &a6) == 1) {
			add_addr(l->route, l->domain, 0, AF_INET6, &a6, l->port);
			l->route->st = MX_OK;
			return true;
		}
	} else if (inet_pton(AF_INET, buf, &a4) == 1) {
		add_addr(l->route, l->domain, 0, AF_INET, &a4, l->port);
		l->route->st = MX_OK;
		return true;
	}
	route_fail(l->route, MX_PERM, "5.1.2", "bad address literal %s",
	    l->domain);
	return true;
}

struct mx_lookup *
mx_lookup(struct resolver *r, const char *domain, uint16_t port, bool ipv6,
    bool ipv4, mx_rand_fn *rnd, mx_cb *cb, void *arg)
{
	struct mx_lookup *l = xcalloc(1, sizeof(*l));

	l->r = r;
	l->domain = xstrdup(domain);
	l->port = port;
	l->v6 = ipv6;
	l->v4 = ipv4;
	l->rnd = rnd;
	l->cb = cb;
	l->arg = arg;
	l->route = xcalloc(1, sizeof(*l->route));
	if (literal(l))
		defer(l);
	else
		l->mxq = resolve_mx(r, domain, on_mx, l);
	return l;
}

void
mx_lookup_cancel(struct mx_lookup *l)
{
	if (l != NULL)
		lookup_free(l);
}
