/*
 * dot.c - the resolver backend for relay and mx: DNS over TLS (RFC 7858)
 * to ptt-resolver, the local validating Unbound (resolve.h,
 * resolver_opts_dot).
 *
 * Debian builds libunbound with nettle, without TLS, so libunbound cannot
 * forward over TLS; this backend speaks DNS over TLS itself. Each query is
 * one TLS connection (sessions are resumed, so after the first only an
 * abbreviated handshake) carrying one query with RFC 1035 4.2.2 framing.
 * The server's certificate must chain to the internal CA and name
 * resolver.internal. Over that authenticated channel the validating
 * resolver's AD bit is trusted (RFC 6840 5.7; the query sets AD to ask for
 * it): AD means DNS_SEC_SECURE. A bogus answer never comes back as data:
 * the resolver answers SERVFAIL, which is DNS_TEMPFAIL here, or DNS_BOGUS
 * when it says why with an Extended DNS Error (RFC 8914) of DNSSEC kind.
 *
 * Trusts: the resolver, once its certificate verified; its bytes are still
 * parsed by ldns and resolve.c's bounds-checked rdata parsers, and the
 * response must match the query's id, name, type and class.
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

struct dot_backend {
	struct event_base *base;
	SSL_CTX *ctx;
	struct sockaddr_storage sa;
	socklen_t salen;
	char addr[128];		/* for the session cache and logs */
	char name[256];		/* the name the certificate must carry */
	unsigned timeout_ms;
	unsigned long nfail;	/* connection failures logged so far */
};

struct dot_query {
	struct dns_query *q;
	struct dot_backend *b;
	struct bufferevent *bev;
	SSL *ssl;
	struct event *timer;
	uint16_t id;
};

static void
dq_free(struct dot_query *dq)
{
	if (dq->bev)
		bufferevent_free(dq->bev);	/* frees the SSL too */
	if (dq->timer)
		event_free(dq->timer);
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
	dq_free(dq);		/* wire points into dq's buffer: after */
}

static void
dq_read(struct bufferevent *bev, void *arg)
{
	struct dot_query *dq = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[2], *wire;
	size_t len;

	if (evbuffer_get_length(in) < 2)
		return;
	evbuffer_copyout(in, hdr, 2);
	len = (size_t)(hdr[0] << 8 | hdr[1]);
	if (evbuffer_get_length(in) < 2 + len)
		return;
	if (len < 12) {
		dq_fail(dq, "malformed response");
		return;
	}
	wire = evbuffer_pullup(in, (ev_ssize_t)(2 + len));
	if (wire == NULL) {
		dq_fail(dq, "out of memory");
		return;
	}
	dq_answer(dq, wire + 2, len);
}

static void
dq_event(struct bufferevent *bev, short what, void *arg)
{
	struct dot_query *dq = arg;
	struct dot_backend *b = dq->b;
	char why[256] = "", e[200];
	unsigned long ssl_err;

	if (what & BEV_EVENT_CONNECTED) {
		if (tls_check_peer(dq->ssl, b->name, NULL, why,
		    sizeof(why)) != 0) {
			if (b->nfail++ < 20)
				log_warn(NULL, "resolver %s: %s", b->addr, why);
			dq_fail(dq, "resolver certificate refused");
			return;
		}
		tls_client_save_session(dq->ssl, b->addr);
		bufferevent_enable(bev, EV_READ);
		return;
	}
	ssl_err = bufferevent_get_openssl_error(bev);
	if (ssl_err != 0)
		ERR_error_string_n(ssl_err, e, sizeof(e));
	else
		snprintf(e, sizeof(e), "%s", (what & BEV_EVENT_EOF) ?
		    "connection closed" : "connection failed");
	if (b->nfail++ < 20)
		log_warn(NULL, "resolver %s: %s", b->addr, e);
	dq_fail(dq, ssl_err ? "TLS to the resolver failed" :
	    "resolver unreachable");
}

static void
dq_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dq_fail(arg, "timeout");
}

static void
dot_start(struct resolver *r, struct dns_query *q)
{
	struct dot_backend *b = resolver_backend(r);
	struct dot_query *dq = xcalloc(1, sizeof(*dq));
	ldns_pkt *pkt = NULL;
	uint8_t *wire = NULL, frame[2];
	size_t wlen = 0;
	struct timeval tv;

	dq->q = q;
	dq->b = b;
	dns_query_set_priv(q, dq);
	if (RAND_bytes((unsigned char *)&dq->id, sizeof(dq->id)) != 1 ||
	    ldns_pkt_query_new_frm_str(&pkt, dns_query_name(q)[0] ?
	    dns_query_name(q) : ".", (ldns_rr_type)dns_query_type(q),
	    LDNS_RR_CLASS_IN, LDNS_RD | LDNS_AD) != LDNS_STATUS_OK) {
		dq_fail(dq, "cannot build the query");
		return;
	}
	ldns_pkt_set_id(pkt, dq->id);
	ldns_pkt_set_edns_udp_size(pkt, 4096);	/* an OPT: room for EDE */
	if (ldns_pkt2wire(&wire, pkt, &wlen) != LDNS_STATUS_OK ||
	    wlen > 65535) {
		ldns_pkt_free(pkt);
		free(wire);
		dq_fail(dq, "cannot build the query");
		return;
	}
	ldns_pkt_free(pkt);
	dq->ssl = tls_client_ssl(b->ctx, NULL, b->name, b->addr);
	if (dq->ssl == NULL) {
		free(wire);
		dq_fail(dq, "TLS setup failed");
		return;
	}
	/* Deferred callbacks: a connect that fails at once reports from the
	 * event loop, never from inside bufferevent_socket_connect. */
	dq->bev = bufferevent_openssl_socket_new(b->base, -1, dq->ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (dq->bev == NULL) {
		SSL_free(dq->ssl);
		free(wire);
		dq_fail(dq, "TLS setup failed");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(dq->bev, 1);
	bufferevent_setcb(dq->bev, dq_read, NULL, dq_event, dq);
	frame[0] = (uint8_t)(wlen >> 8);
	frame[1] = (uint8_t)wlen;
	bufferevent_write(dq->bev, frame, 2);	/* sent after the handshake */
	bufferevent_write(dq->bev, wire, wlen);
	free(wire);
	dq->timer = evtimer_new(b->base, dq_timeout, dq);
	if (dq->timer == NULL)
		fatal("evtimer_new failed");
	tv.tv_sec = b->timeout_ms / 1000;
	tv.tv_usec = (b->timeout_ms % 1000) * 1000;
	evtimer_add(dq->timer, &tv);
	/* On failure the error event, or else the timer, finishes dq. */
	(void)bufferevent_socket_connect(dq->bev, (struct sockaddr *)&b->sa,
	    (int)b->salen);
}

static void
dot_cancel(struct resolver *r, struct dns_query *q)
{
	struct dot_query *dq = dns_query_priv(q);

	(void)r;
	if (dq == NULL)
		return;
	dns_query_set_priv(q, NULL);
	dq_free(dq);
}

static void
dot_free(struct resolver *r)
{
	struct dot_backend *b = resolver_backend(r);

	SSL_CTX_free(b->ctx);
	free(b);
}

static const struct resolver_ops dot_ops = {
	.start = dot_start,
	.cancel = dot_cancel,
	.free = dot_free,
};

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
