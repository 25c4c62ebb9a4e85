/*
 * dot.c - the resolver backend for relay and mx: DNS over TLS (RFC 7858)
 * to ptt-resolver, the local validating Unbound (resolve.h,
 * resolver_opts_dot).
 *
 * Debian builds libunbound with nettle, without TLS, so libunbound cannot
 * forward over TLS; this backend speaks DNS over TLS itself. Queries share
 * one TLS connection (RFC 7858 3.4, RFC 7766 6.2.1): each is written with
 * RFC 1035 4.2.2 framing as soon as it starts (pipelining), and responses
 * are matched to queries by id, in whatever order they come (RFC 7766
 * 6.2.1.1), so no query waits for another. Ids are unique among the
 * queries in flight on a connection. An idle connection is closed after
 * DOT_IDLE_MS; when the resolver closes one that had already answered
 * (its own idle limit), the queries in flight on it are sent once more on
 * a new connection; on a new connection that fails they fail (TEMPFAIL).
 * Sessions are resumed, so a new connection costs an abbreviated
 * handshake. The server's certificate must chain to the internal CA and
 * name resolver.internal. Over that authenticated channel the validating
 * resolver's AD bit is trusted (RFC 6840 5.7; the query sets AD to ask for
 * it): AD means DNS_SEC_SECURE. A bogus answer never comes back as data:
 * the resolver answers SERVFAIL, which is DNS_TEMPFAIL here, or DNS_BOGUS
 * when it says why with an Extended DNS Error (RFC 8914) of DNSSEC kind.
 *
 * Trusts: the resolver, once its certificate verified; its bytes are still
 * parsed by ldns and resolve.c's bounds-checked rdata parsers, and the
 * response must match the query's id, name, type and class. A response
 * whose id matches no query in flight is dropped; a frame too short to be
 * a DNS message ends the connection.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <ldns/ldns.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "dns/resolve.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/tls.h"

#define DOT_IDLE_MS 10000	/* an unused connection is closed after */

struct dot_conn;

struct dot_backend {
	struct event_base *base;
	SSL_CTX *ctx;
	struct sockaddr_storage sa;
	socklen_t salen;
	char addr[128];		/* for the session cache and logs */
	char name[256];		/* the name the certificate must carry */
	unsigned timeout_ms;
	unsigned long nfail;	/* connection failures logged so far */
	struct dot_conn *conn;	/* where new queries go, or NULL */
	struct dot_conn *conns;	/* every open connection (a new one, old
				 * ones finishing their queries) */
	unsigned long connects;	/* connections opened (resolver_dot_stats) */
};

/* One TLS connection and the queries written to it, not yet answered. */
struct dot_conn {
	struct dot_backend *b;
	struct dot_conn *next;		/* b->conns */
	struct bufferevent *bev;
	SSL *ssl;
	struct dot_query *inflight;	/* doubly linked through prev/next */
	size_t n;
	unsigned long answered;		/* responses read on it */
	struct event *idle;
};

struct dot_query {
	struct dns_query *q;
	struct dot_backend *b;
	struct dot_conn *c;		/* the connection it was written to */
	struct dot_query *prev, *next;
	struct event *timer;
	uint8_t *frame;			/* length prefix + query, for a resend */
	size_t flen;
	uint16_t id;
	bool resent;
	unsigned long mark;		/* c->answered when it was written */
};

static void conn_send(struct dot_conn *c, struct dot_query *dq);
static struct dot_conn *conn_get(struct dot_backend *b);

static void
conn_link(struct dot_conn *c, struct dot_query *dq)
{
	dq->c = c;
	dq->prev = NULL;
	dq->next = c->inflight;
	if (c->inflight)
		c->inflight->prev = dq;
	c->inflight = dq;
	c->n++;
}

static void
conn_unlink(struct dot_query *dq)
{
	struct dot_conn *c = dq->c;

	if (c == NULL)
		return;
	if (dq->prev)
		dq->prev->next = dq->next;
	else
		c->inflight = dq->next;
	if (dq->next)
		dq->next->prev = dq->prev;
	dq->c = NULL;
	dq->prev = dq->next = NULL;
	if (--c->n == 0 && c->idle != NULL) {
		struct timeval tv = { DOT_IDLE_MS / 1000,
		    (DOT_IDLE_MS % 1000) * 1000 };
		evtimer_add(c->idle, &tv);
	}
}

static void
conn_free(struct dot_conn *c)
{
	struct dot_conn **pp;

	if (c->b->conn == c)
		c->b->conn = NULL;
	for (pp = &c->b->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->bev)
		bufferevent_free(c->bev);	/* frees the SSL too */
	if (c->idle)
		event_free(c->idle);
	free(c);
}

static void
dq_free(struct dot_query *dq)
{
	conn_unlink(dq);
	if (dq->timer)
		event_free(dq->timer);
	free(dq->frame);
	free(dq);
}

/* Finish dq with a failure and free it. */
static void
dq_fail(struct dot_query *dq, const char *why)
{
	struct dns_query *q = dq->q;

	dns_query_set_priv(q, NULL);
	dq_free(dq);
	resolve_done(q, DNS_TEMPFAIL, DNS_SEC_INSECURE, 0, NULL, NULL, 0, why);
}

/* c is unusable: take it away, then resend (once) or fail what was in
 * flight on it. A connection that had answered before was most likely
 * closed by the resolver between two queries, so its queries go to a new
 * one; on a connection that never answered, they fail. */
static void
conn_broken(struct dot_conn *c, const char *why, bool may_resend)
{
	struct dot_query *list = c->inflight, *dq, *next;
	bool resend = may_resend && c->answered > 0;

	if (c->b->conn == c)
		c->b->conn = NULL;
	for (dq = list; dq != NULL; dq = dq->next)
		dq->c = NULL;
	c->inflight = NULL;
	c->n = 0;
	for (dq = list; dq != NULL; dq = next) {
		next = dq->next;
		dq->prev = dq->next = NULL;
		if (resend && !dq->resent) {
			dq->resent = true;
			conn_send(conn_get(dq->b), dq);
		} else {
			dq_fail(dq, why);
		}
	}
	conn_free(c);
}

/* An Extended DNS Error of the DNSSEC kind (RFC 8914 4.7-4.12: DNSSEC
 * Bogus, Signature Expired, Not Yet Valid, DNSKEY Missing, RRSIGs
 * Missing, No Zone Key Bit Set; also 1, 2: unsupported algorithms). */
static bool
ede_dnssec(ldns_pkt *pkt)
{
	ldns_edns_option_list *l = ldns_pkt_edns_get_option_list(pkt);
	size_t n = l ? ldns_edns_option_list_get_count(l) : 0;

	for (size_t i = 0; i < n; i++) {
		ldns_edns_option *o = ldns_edns_option_list_get_option(l, i);
		uint8_t *d;

		if (o == NULL || ldns_edns_get_code(o) != 15 ||
		    ldns_edns_get_size(o) < 2)
			continue;
		d = ldns_edns_get_data(o);
		unsigned code = (unsigned)(d[0] << 8 | d[1]);
		if ((code >= 6 && code <= 12) || code == 1 || code == 2)
			return true;
	}
	return false;
}

void
dot_answer(struct dns_query *q, uint16_t id, const uint8_t *wire, size_t len)
{
	ldns_pkt *pkt = NULL;
	ldns_rr_list *qs;
	ldns_rr *qr;
	ldns_rdf *want = NULL;
	bool match;
	int rc;

	if (ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK) {
		resolve_done(q, DNS_TEMPFAIL, DNS_SEC_INSECURE, 0, NULL, NULL,
		    0, "malformed response");
		return;
	}
	qs = ldns_pkt_question(pkt);
	qr = qs && ldns_rr_list_rr_count(qs) == 1 ? ldns_rr_list_rr(qs, 0) : NULL;
	if (ldns_str2rdf_dname(&want, dns_query_name(q)[0] ?
	    dns_query_name(q) : ".") != LDNS_STATUS_OK)
		want = NULL;
	match = ldns_pkt_id(pkt) == id && ldns_pkt_qr(pkt) && qr &&
	    want && ldns_dname_compare(ldns_rr_owner(qr), want) == 0 &&
	    ldns_rr_get_type(qr) == dns_query_type(q) &&
	    ldns_rr_get_class(qr) == LDNS_RR_CLASS_IN;
	if (want)
		ldns_rdf_deep_free(want);
	rc = ldns_pkt_get_rcode(pkt);
	if (!match)
		resolve_done(q, DNS_TEMPFAIL, DNS_SEC_INSECURE, 0, NULL, NULL,
		    0, "response does not match the query");
	else if (rc == LDNS_RCODE_NOERROR)
		resolve_done_pkt(q, pkt, ldns_pkt_ad(pkt) ? DNS_SEC_SECURE :
		    DNS_SEC_INSECURE);
	else if (rc == LDNS_RCODE_NXDOMAIN)
		resolve_done(q, DNS_NXDOMAIN, ldns_pkt_ad(pkt) ?
		    DNS_SEC_SECURE : DNS_SEC_INSECURE, 0, NULL, NULL, 0, NULL);
	else if (rc == LDNS_RCODE_SERVFAIL && ede_dnssec(pkt))
		resolve_done(q, DNS_BOGUS, DNS_SEC_BOGUS, 0, NULL, NULL, 0,
		    "DNSSEC validation failed (resolver)");
	else
		resolve_done(q, DNS_TEMPFAIL, DNS_SEC_INSECURE, 0, NULL, NULL,
		    0, rc == LDNS_RCODE_REFUSED ? "refused" : "server failure");
	ldns_pkt_free(pkt);
}

/* Complete dq's query with the response and free dq (the query itself is
 * delivered later, from the event loop). */
static void
dq_answer(struct dot_query *dq, const uint8_t *wire, size_t len)
{
	struct dns_query *q = dq->q;

	dns_query_set_priv(q, NULL);
	dot_answer(q, dq->id, wire, len);
	dq_free(dq);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct dot_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[2], *wire;
	size_t len;

	while (evbuffer_get_length(in) >= 2) {
		struct dot_query *dq;
		uint16_t id;

		evbuffer_copyout(in, hdr, 2);
		len = (size_t)(hdr[0] << 8 | hdr[1]);
		if (evbuffer_get_length(in) < 2 + len)
			return;
		if (len < 12) {
			conn_broken(c, "malformed response", false);
			return;
		}
		if ((wire = evbuffer_pullup(in, (ev_ssize_t)(2 + len))) == NULL) {
			conn_broken(c, "out of memory", false);
			return;
		}
		id = (uint16_t)(wire[2] << 8 | wire[3]);
		for (dq = c->inflight; dq != NULL && dq->id != id; dq = dq->next)
			;
		c->answered++;
		if (dq != NULL)		/* else: a query cancelled or timed out */
			dq_answer(dq, wire + 2, len);
		evbuffer_drain(in, 2 + len);
	}
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct dot_conn *c = arg;
	struct dot_backend *b = c->b;
	char why[256] = "", e[200];
	unsigned long ssl_err;

	if (what & BEV_EVENT_CONNECTED) {
		if (tls_check_peer(c->ssl, b->name, NULL, why,
		    sizeof(why)) != 0) {
			if (b->nfail++ < 20)
				log_warn(NULL, "resolver %s: %s", b->addr, why);
			conn_broken(c, "resolver certificate refused", false);
			return;
		}
		tls_client_save_session(c->ssl, b->addr);
		bufferevent_enable(bev, EV_READ);
		return;
	}
	ssl_err = bufferevent_get_openssl_error(bev);
	if (ssl_err != 0)
		ERR_error_string_n(ssl_err, e, sizeof(e));
	else
		snprintf(e, sizeof(e), "%s", (what & BEV_EVENT_EOF) ?
		    "connection closed" : "connection failed");
	/* The resolver closing a connection that served us is routine. */
	if (!(c->answered > 0 && (what & BEV_EVENT_EOF)) && b->nfail++ < 20)
		log_warn(NULL, "resolver %s: %s", b->addr, e);
	conn_broken(c, ssl_err ? "TLS to the resolver failed" :
	    "resolver unreachable", true);
}

static void
conn_idle(evutil_socket_t fd, short what, void *arg)
{
	struct dot_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->n == 0)
		conn_free(c);
}

/* The connection new queries go to: the current one, or a new one (its
 * handshake runs while the first queries wait in its output buffer). */
static struct dot_conn *
conn_get(struct dot_backend *b)
{
	struct dot_conn *c;

	if (b->conn != NULL)
		return b->conn;
	c = xcalloc(1, sizeof(*c));
	c->b = b;
	c->next = b->conns;
	b->conns = c;
	if ((c->idle = evtimer_new(b->base, conn_idle, c)) == NULL)
		fatal("evtimer_new failed");
	c->ssl = tls_client_ssl(b->ctx, NULL, b->name, b->addr);
	/* Deferred callbacks: a connect that fails at once reports from the
	 * event loop, never from inside bufferevent_socket_connect. */
	c->bev = c->ssl == NULL ? NULL : bufferevent_openssl_socket_new(b->base,
	    -1, c->ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (c->bev == NULL) {
		/* Not b->conn: conn_send fails the query written to it and
		 * frees it; the next query tries again. */
		if (c->ssl != NULL)
			SSL_free(c->ssl);
		c->ssl = NULL;
		log_warn(NULL, "resolver %s: TLS setup failed", b->addr);
		return c;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	b->conn = c;
	b->connects++;
	/* On failure the error event finishes the queries on it. */
	(void)bufferevent_socket_connect(c->bev, (struct sockaddr *)&b->sa,
	    (int)b->salen);
	return c;
}

/* Write dq on c with an id no other query in flight there has. */
static void
conn_send(struct dot_conn *c, struct dot_query *dq)
{
	bool taken;

	do {
		if (RAND_bytes((unsigned char *)&dq->id, sizeof(dq->id)) != 1)
			fatal("RAND_bytes failed");
		taken = false;
		for (struct dot_query *o = c->inflight; o && !taken; o = o->next)
			taken = o->id == dq->id;
	} while (taken);
	dq->frame[2] = (uint8_t)(dq->id >> 8);
	dq->frame[3] = (uint8_t)dq->id;
	conn_link(c, dq);
	dq->mark = c->answered;
	evtimer_del(c->idle);
	if (c->bev != NULL)
		bufferevent_write(c->bev, dq->frame, dq->flen);
	else
		conn_broken(c, "TLS setup failed", false);
}

static void
dq_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dot_query *dq = arg;
	struct dot_conn *c = dq->c;

	(void)fd;
	(void)what;
	/* Nothing came back on c since dq was written: new queries go to a
	 * new connection; c goes once its queries have timed out too. */
	if (c != NULL && c->answered == dq->mark && c->b->conn == c)
		c->b->conn = NULL;
	dq_fail(dq, "timeout");
}

static void
dot_start(struct resolver *r, struct dns_query *q)
{
	struct dot_backend *b = resolver_backend(r);
	struct dot_query *dq = xcalloc(1, sizeof(*dq));
	ldns_pkt *pkt = NULL;
	uint8_t *wire = NULL;
	size_t wlen = 0;
	struct timeval tv;

	dq->q = q;
	dq->b = b;
	dns_query_set_priv(q, dq);
	if ((dq->timer = evtimer_new(b->base, dq_timeout, dq)) == NULL)
		fatal("evtimer_new failed");
	if (ldns_pkt_query_new_frm_str(&pkt, dns_query_name(q)[0] ?
	    dns_query_name(q) : ".", (ldns_rr_type)dns_query_type(q),
	    LDNS_RR_CLASS_IN, LDNS_RD | LDNS_AD) != LDNS_STATUS_OK) {
		dq_fail(dq, "cannot build the query");
		return;
	}
	ldns_pkt_set_edns_udp_size(pkt, 4096);	/* an OPT: room for EDE */
	if (ldns_pkt2wire(&wire, pkt, &wlen) != LDNS_STATUS_OK ||
	    wlen < 12 || wlen > 65535) {
		ldns_pkt_free(pkt);
		free(wire);
		dq_fail(dq, "cannot build the query");
		return;
	}
	ldns_pkt_free(pkt);
	dq->flen = 2 + wlen;
	dq->frame = xmalloc(dq->flen);
	dq->frame[0] = (uint8_t)(wlen >> 8);
	dq->frame[1] = (uint8_t)wlen;
	memcpy(dq->frame + 2, wire, wlen);	/* the id is set by conn_send */
	free(wire);
	tv.tv_sec = b->timeout_ms / 1000;
	tv.tv_usec = (b->timeout_ms % 1000) * 1000;
	evtimer_add(dq->timer, &tv);
	conn_send(conn_get(b), dq);
}

static void
dot_cancel(struct resolver *r, struct dns_query *q)
{
	struct dot_query *dq = dns_query_priv(q);

	(void)r;
	if (dq == NULL)
		return;
	dns_query_set_priv(q, NULL);
	dq_free(dq);		/* a late answer to it is dropped */
}

static void
dot_free(struct resolver *r)
{
	struct dot_backend *b = resolver_backend(r);

	/* resolver_free cancelled every query first. */
	while (b->conns != NULL)
		conn_free(b->conns);
	SSL_CTX_free(b->ctx);
	free(b);
}

static const struct resolver_ops dot_ops = {
	.start = dot_start,
	.cancel = dot_cancel,
	.free = dot_free,
};

unsigned long
resolver_dot_connections(const struct resolver *r)
{
	const struct dot_backend *b;

	if (resolver_ops(r) != &dot_ops)
		return 0;
	b = resolver_backend(r);
	return b->connects;
}

struct resolver *
resolver_dot_new(struct event_base *base, const struct resolver_opts *o,
    const char **errp)
{
	struct dot_backend *b;
	struct tls_opts to;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai = NULL;
	char host[128], port[16], e[256];

	if (o->forward == NULL || o->tls_ca == NULL) {
		*errp = o->forward == NULL ? "DNS over TLS needs a forward "
		    "address (the resolver)" : "DNS over TLS needs tls_ca (the "
		    "internal CA)";
		return NULL;
	}
	/* IP@PORT, as the plain forward address is written (libunbound's
	 * forward-addr syntax), or IP:PORT / [IPv6]:PORT. */
	const char *at = strrchr(o->forward, '@');
	int split;
	if (at != NULL) {
		size_t hl = (size_t)(at - o->forward);
		split = hl < sizeof(host) && at[1] != '\0' &&
		    strlen(at + 1) < sizeof(port) ? 0 : -1;
		if (split == 0) {
			memcpy(host, o->forward, hl);
			host[hl] = '\0';
			ptt_strlcpy(port, at + 1, sizeof(port));
		}
	} else
		split = net_split_hostport(o->forward, host, sizeof(host), port,
		    sizeof(port));
	if (split != 0 || getaddrinfo(host, port, &hints, &ai) != 0) {
		*errp = "bad resolver address (want IP@PORT or IP:PORT)";
		return NULL;
	}
	b = xcalloc(1, sizeof(*b));
	memcpy(&b->sa, ai->ai_addr, ai->ai_addrlen);
	b->salen = ai->ai_addrlen;
	freeaddrinfo(ai);
	memset(&to, 0, sizeof(to));
	to.ca_file = o->tls_ca;
	to.verify_peer = true;
	if ((b->ctx = tls_client_ctx(&to, e, sizeof(e))) == NULL) {
		free(b);
		*errp = "cannot read the CA for the resolver";
		return NULL;
	}
	b->base = base;
	ptt_strlcpy(b->addr, o->forward, sizeof(b->addr));
	ptt_strlcpy(b->name, o->tls_name && o->tls_name[0] ? o->tls_name :
	    RESOLVER_TLS_NAME, sizeof(b->name));
	b->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	return resolver_new_backend(base, &dot_ops, b);
}
