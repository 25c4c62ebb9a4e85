/*
 * test_dot.c - resolve.c's DNS over TLS backend (dns/dot.c, the resolver
 * mode of relay and mx) against a DNS-over-TLS server run inside this test
 * on 127.0.0.1 with certificates from an internal CA made by conf/ca.h:
 * the AD bit gives SECURE, its absence INSECURE; SERVFAIL with a DNSSEC
 * Extended DNS Error is BOGUS and SERVFAIL without one TEMPFAIL, neither
 * with data; NXDOMAIN; a response with the wrong id or question, a server
 * that never answers, and a certificate for another name are failures.
 * The queries ask for AD and recursion. Queries share one connection; a
 * connection that stopped answering is not used for new queries, nor
 * one whose certificate was refused.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <ldns/ldns.h>

#include "conf/ca.h"
#include "dns/resolve.h"
#include "util/ev.h"
#include "util/log.h"
#include "util/net.h"
#include "util/tls.h"
#include "../tap.h"

static struct event_base *base;
static SSL_CTX *srv_good, *srv_wrong, *srv_cur;
static bool last_ad, last_rd;
static unsigned nconn;

static void
respond(struct bufferevent *bev, const uint8_t *q, size_t len)
{
	ldns_pkt *qp = NULL, *rp;
	char *qname;
	uint8_t *wire = NULL, hdr[2];
	size_t wlen = 0;
	ldns_rr *qr;

	if (ldns_wire2pkt(&qp, q, len) != LDNS_STATUS_OK)
		return;
	last_ad = ldns_pkt_ad(qp);
	last_rd = ldns_pkt_rd(qp);
	qr = ldns_rr_list_rr(ldns_pkt_question(qp), 0);
	qname = qr ? ldns_rdf2str(ldns_rr_owner(qr)) : NULL;
	if (qname == NULL) {
		ldns_pkt_free(qp);
		return;
	}
	if (strcmp(qname, "silent.test.") == 0) {
		free(qname);
		ldns_pkt_free(qp);
		return;
	}
	rp = ldns_pkt_new();
	ldns_pkt_set_id(rp, ldns_pkt_id(qp) + (strcmp(qname, "badid.test.") == 0));
	ldns_pkt_set_qr(rp, true);
	ldns_pkt_set_rd(rp, true);
	ldns_pkt_set_ra(rp, true);
	if (strcmp(qname, "otherq.test.") == 0) {
		ldns_rr *o = ldns_rr_new();
		ldns_rr_set_owner(o, ldns_dname_new_frm_str("evil.test."));
		ldns_rr_set_type(o, ldns_rr_get_type(qr));
		ldns_rr_set_class(o, LDNS_RR_CLASS_IN);
		ldns_rr_set_question(o, true);
		ldns_pkt_push_rr(rp, LDNS_SECTION_QUESTION, o);
	} else {
		ldns_pkt_push_rr(rp, LDNS_SECTION_QUESTION, ldns_rr_clone(qr));
	}
	if (strcmp(qname, "secure.test.") == 0 || strcmp(qname, "plain.test.") == 0 ||
	    strcmp(qname, "badid.test.") == 0 || strcmp(qname, "otherq.test.") == 0) {
		ldns_rr *a = NULL;
		char t[300];
		snprintf(t, sizeof(t), "%s 60 IN A 192.0.2.1", qname);
		ldns_rr_new_frm_str(&a, t, 0, NULL, NULL);
		ldns_pkt_push_rr(rp, LDNS_SECTION_ANSWER, a);
		ldns_pkt_set_ad(rp, strcmp(qname, "plain.test.") != 0);
	} else if (strcmp(qname, "nx.test.") == 0) {
		ldns_pkt_set_rcode(rp, LDNS_RCODE_NXDOMAIN);
		ldns_pkt_set_ad(rp, true);
	} else if (strcmp(qname, "bogus.test.") == 0) {
		/* DNSSEC Bogus (RFC 8914 4.7), with an A that must not leak */
		ldns_edns_option_list *l = ldns_edns_option_list_new();
		uint8_t ede[2] = { 0, 6 };
		ldns_rr *a = NULL;
		ldns_edns_option_list_push(l, ldns_edns_new_from_data(15, 2, ede));
		ldns_pkt_set_edns_option_list(rp, l);
		ldns_pkt_set_edns_udp_size(rp, 4096);
		ldns_pkt_set_rcode(rp, LDNS_RCODE_SERVFAIL);
		ldns_rr_new_frm_str(&a, "bogus.test. 60 IN A 192.0.2.66", 0, NULL, NULL);
		ldns_pkt_push_rr(rp, LDNS_SECTION_ANSWER, a);
	} else {
		ldns_pkt_set_rcode(rp, LDNS_RCODE_SERVFAIL);
	}
	if (ldns_pkt2wire(&wire, rp, &wlen) == LDNS_STATUS_OK) {
		hdr[0] = (uint8_t)(wlen >> 8);
		hdr[1] = (uint8_t)wlen;
		bufferevent_write(bev, hdr, 2);
		bufferevent_write(bev, wire, wlen);
	}
	free(wire);
	free(qname);
	ldns_pkt_free(rp);
	ldns_pkt_free(qp);
}

static void
srv_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[2];
	size_t len;

	(void)arg;
	while (evbuffer_get_length(in) >= 2) {
		evbuffer_copyout(in, hdr, 2);
		len = (size_t)(hdr[0] << 8 | hdr[1]);
		if (evbuffer_get_length(in) < 2 + len)
			return;
		respond(bev, evbuffer_pullup(in, (ev_ssize_t)(2 + len)) + 2, len);
		evbuffer_drain(in, 2 + len);
	}
}

static void
srv_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void
srv_accept(evutil_socket_t lfd, short what, void *arg)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct bufferevent *bev;

	(void)what;
	(void)arg;
	if (fd < 0)
		return;
	nconn++;
	bev = bufferevent_openssl_socket_new(base, fd, SSL_new(srv_cur),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, srv_read, NULL, srv_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

struct got {
	bool done;
	enum dns_status st;
	enum dns_sec sec;
	size_t n;
	char a[INET_ADDRSTRLEN];
};

static void
on_res(const struct dns_result *r, void *arg)
{
	struct got *g = arg;

	g->done = true;
	g->st = r->status;
	g->sec = r->sec;
	g->n = r->n;
	g->a[0] = '\0';
	if (r->n > 0 && r->a)
		inet_ntop(AF_INET, &r->a[0], g->a, sizeof(g->a));
}

static struct got
ask(struct resolver *res, const char *name)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	resolve_a(res, name, on_res, &g);
	while (!g.done)
		event_base_loop(base, EVLOOP_ONCE);
	return g;
}

static SSL_CTX *
server_ctx(const char *dir, const char *service)
{
	char cert[4096], key[4096], err[256];
	struct tls_opts o;
	SSL_CTX *ctx;

	ca_cert_paths(dir, service, cert, sizeof(cert), key, sizeof(key));
	memset(&o, 0, sizeof(o));
	o.cert_file = cert;
	o.key_file = key;
	if ((ctx = tls_server_ctx(&o, err, sizeof(err))) == NULL) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	return ctx;
}

int
main(void)
{
	char dir[] = "/tmp/ptt-dot-XXXXXX", err[256], ca[4200], addr[64];
	struct resolver_opts o;
	struct resolver *res;
	struct event *lev;
	const char *rerr = NULL;
	struct got g;
	int lfd;

	log_init("test_dot");
	log_set_level(LOG_LVL_ERR);
	if (mkdtemp(dir) == NULL || ca_create(dir, "test", err, sizeof(err)) != 0 ||
	    ca_issue(dir, "resolver", NULL, 0, 0, err, sizeof(err)) != 0 ||
	    ca_issue(dir, "relay", NULL, 0, 0, err, sizeof(err)) != 0) {
		printf("Bail out! CA: %s\n", err);
		return 1;
	}
	ca_cafile_path(dir, ca, sizeof(ca));
	base = ev_base_new();
	srv_good = server_ctx(dir, "resolver");
	srv_wrong = server_ctx(dir, "relay");
	srv_cur = srv_good;
	if ((lfd = net_listen("127.0.0.1:0", err, sizeof(err))) < 0) {
		printf("Bail out! listen: %s\n", err);
		return 1;
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", net_local_port(lfd));
	lev = event_new(base, lfd, EV_READ | EV_PERSIST, srv_accept, NULL);
	event_add(lev, NULL);

	memset(&o, 0, sizeof(o));
	o.timeout_ms = 1000;
	resolver_opts_dot(&o, addr, ca);
	ok(o.tls && o.tls_ca == ca && strcmp(o.tls_name, "resolver.internal") == 0,
	    "resolver_opts_dot: TLS, the CA, resolver.internal");
	res = resolver_unbound_new(base, &o, &rerr);
	ok(res != NULL, "DoT resolver created (%s)", rerr ? rerr : "");

	g = ask(res, "secure.test");
	ok(g.st == DNS_OK && g.sec == DNS_SEC_SECURE && g.n == 1 &&
	    strcmp(g.a, "192.0.2.1") == 0, "AD: secure answer (%s %d %zu)",
	    dns_status_str(g.st), g.sec, g.n);
	ok(last_ad && last_rd, "the query asks for AD and recursion");
	g = ask(res, "plain.test");
	ok(g.st == DNS_OK && g.sec == DNS_SEC_INSECURE && g.n == 1,
	    "no AD: insecure answer");
	g = ask(res, "nx.test");
	ok(g.st == DNS_NXDOMAIN && g.sec == DNS_SEC_SECURE, "validated NXDOMAIN");
	g = ask(res, "bogus.test");
	ok(g.st == DNS_BOGUS && g.n == 0 && g.a[0] == '\0',
	    "SERVFAIL with EDE DNSSEC Bogus: BOGUS, no data (%s)", dns_status_str(g.st));
	g = ask(res, "fail.test");
	ok(g.st == DNS_TEMPFAIL && g.n == 0, "SERVFAIL: TEMPFAIL");
	g = ask(res, "badid.test");
	ok(g.st == DNS_TEMPFAIL && g.n == 0, "wrong id: TEMPFAIL, no data");
	g = ask(res, "otherq.test");
	ok(g.st == DNS_TEMPFAIL && g.n == 0, "another question: TEMPFAIL, no data");
	ok(nconn == 1, "nine queries, one after the other: one connection (%u)",
	    nconn);
	g = ask(res, "silent.test");
	ok(g.st == DNS_TEMPFAIL, "no answer: TEMPFAIL (timeout)");
	g = ask(res, "plain.test");
	ok(g.st == DNS_OK && nconn == 2, "nothing came back on that connection "
	    "since: the next query goes to a new one (%u connections)", nconn);
	resolver_free(res);	/* a new resolver: a new connection */
	event_base_loop(base, EVLOOP_NONBLOCK);
	res = resolver_unbound_new(base, &o, &rerr);
	srv_cur = srv_wrong;
	g = ask(res, "secure.test");
	ok(g.st == DNS_TEMPFAIL && g.n == 0,
	    "certificate for relay.internal: TEMPFAIL, no data");
	srv_cur = srv_good;
	g = ask(res, "secure.test");
	ok(g.st == DNS_OK, "the right certificate again: OK");
	ok(resolver_dot_connections(res) == 2, "the refused connection was "
	    "not used again (%lu connections)", resolver_dot_connections(res));

	/* a query cancelled in flight never calls back */
	{
		struct got c;
		struct dns_query *q;
		memset(&c, 0, sizeof(c));
		q = resolve_a(res, "silent.test", on_res, &c);
		resolve_cancel(q);
		g = ask(res, "plain.test");
		ok(!c.done && g.st == DNS_OK, "cancelled query: no callback");
	}
	/* nobody listening: a failure, reported from the event loop */
	{
		int cfd = net_listen("127.0.0.1:0", err, sizeof(err));
		char closed[64];
		struct resolver *r2;
		struct resolver_opts o2;
		memset(&o2, 0, sizeof(o2));
		snprintf(closed, sizeof(closed), "127.0.0.1:%d", net_local_port(cfd));
		close(cfd);
		resolver_opts_dot(&o2, closed, ca);
		r2 = resolver_unbound_new(base, &o2, &rerr);
		g = ask(r2, "secure.test");
		ok(g.st == DNS_TEMPFAIL && g.n == 0, "resolver not listening: TEMPFAIL");
		resolver_free(r2);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	/* a daemon's own forward + tls parameters and the CA: the same mode */
	{
		struct resolver_opts o3;
		struct resolver *r3;
		memset(&o3, 0, sizeof(o3));
		o3.forward = addr;
		o3.tls = true;
		r3 = resolver_unbound_new(base, &o3, &rerr);
		ok(r3 == NULL && strstr(rerr, "tls_ca") != NULL,
		    "tls without tls_ca refused (%s)", rerr);
		o3.tls_ca = ca;
		r3 = resolver_unbound_new(base, &o3, &rerr);
		g = ask(r3, "secure.test");
		ok(g.st == DNS_OK && g.sec == DNS_SEC_SECURE,
		    "forward + tls + tls_ca: DoT, resolver.internal checked");
		resolver_free(r3);
		event_base_loop(base, EVLOOP_NONBLOCK);
		/* dns_forward as the plain mode writes it: IP@PORT */
		char at[64];
		snprintf(at, sizeof(at), "127.0.0.1@%d", net_local_port(lfd));
		o3.forward = at;
		r3 = resolver_unbound_new(base, &o3, &rerr);
		g = ask(r3, "secure.test");
		ok(g.st == DNS_OK && g.sec == DNS_SEC_SECURE,
		    "the forward address written IP@PORT works the same");
		resolver_free(r3);
		event_base_loop(base, EVLOOP_NONBLOCK);
		o3.forward = "127.0.0.1@";
		r3 = resolver_unbound_new(base, &o3, &rerr);
		ok(r3 == NULL && strstr(rerr, "IP@PORT") != NULL,
		    "a forward address without a port is refused (%s)",
		    r3 ? "" : rerr);
		if (r3)
			resolver_free(r3);
	}
	resolve_a(res, "silent.test", on_res, &g);	/* freed in flight */
	resolver_free(res);
	/* bufferevent finalizers, and the server side seeing the closes */
	{
		struct timeval tv = { 0, 200000 };
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	event_free(lev);
	close(lfd);
	SSL_CTX_free(srv_good);
	SSL_CTX_free(srv_wrong);
	event_base_free(base);
	{
		char cmd[200];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return tap_done();
}
