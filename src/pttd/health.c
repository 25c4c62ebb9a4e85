/*
 * health.c - pttd's health checks, asynchronous on its event base.
 *
 * SMTP services (RFC 5321): connect to the first listener, read the 220
 * greeting, EHLO, NOOP, QUIT, each answered with its expected code.
 * Implicit-TLS listeners are reached with TLS first: internal hops with
 * pttd's client certificate (pttd.internal, internal CA) and the service's
 * name checked (<service>.internal); public ones without verification.
 * The internal hops admit pttd.internal (HOP_HEALTH_PEER in smtp/hop.h)
 * for exactly this: greeting, EHLO, NOOP and QUIT, with MAIL refused. A
 * service that completes the handshake as <service>.internal and then
 * answers 421 4.7.0 (or closes), as one that does not know the health
 * peer would, still counts as healthy ("TLS only"): its event loop
 * answered with its key and its SMTP engine spoke.
 * DNS services (RFC 1035 4.2.2, over TCP): an SOA query for the domain,
 * answered with NOERROR and an answer (ptt-dns) or any well-formed
 * response with our id (the resolver).
 *
 * Trusts: nothing from the service; replies go through bounded readers
 * (evbuffer_readln with a length cap, ldns's wire parser).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <ldns/ldns.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "pttd/pttd.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/tls.h"

struct hcheck {
	struct service *s;
	health_cb cb;
	void *arg;
	struct bufferevent *bev;
	struct event *timer;
	bool tls, tls_done;
	int step;
	uint16_t qid;
	char why[256];
};

static const char *const smtp_steps[] = { "greeting", "EHLO", "NOOP", "QUIT" };
static const int smtp_want[] = { 220, 250, 250, 221 };
static const char *const smtp_send[] = { "EHLO pttd.internal\r\n",
	"NOOP\r\n", "QUIT\r\n", NULL };

static bool
internal_service(const struct service *s)
{
	const char *n = s->kind->name;

	return strcmp(n, "signer") == 0 || strcmp(n, "relay") == 0 ||
	    strcmp(n, "spamfilter") == 0 || strcmp(n, "resolver") == 0;
}

static void
finish(struct hcheck *h, bool ok, const char *fmt, ...) PTT_PRINTF(3, 4);

static void
finish(struct hcheck *h, bool ok, const char *fmt, ...)
{
	struct service *s = h->s;
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (h->bev != NULL)
		bufferevent_free(h->bev);
	if (h->timer != NULL)
		event_free(h->timer);
	s->hc = NULL;
	health_cb cb = h->cb;
	void *arg = h->arg;
	free(h);
	cb(s, ok, msg, arg);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct hcheck *h = arg;

	finish(h, false, "no answer within %llds (waiting for %s)",
	    h->s->d->cfg.health_timeout, h->s->kind->health == HS_DNS ?
	    "the SOA answer" : smtp_steps[h->step]);
}

static void
smtp_read(struct bufferevent *bev, void *arg)
{
	struct hcheck *h = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	for (;;) {
		/* A line longer than 1000 bytes is not SMTP (RFC 5321 4.5.3.1). */
		if (evbuffer_get_length(in) > 4096 &&
		    evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_CRLF).pos < 0) {
			finish(h, false, "overlong reply line at %s",
			    smtp_steps[h->step]);
			return;
		}
		if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) == NULL)
			return;
		int code = n >= 3 && line[0] >= '2' && line[0] <= '5' ?
		    atoi(line) : 0;
		bool last = n == 3 || (n > 3 && line[3] == ' ');
		if (code == 0 || (n > 3 && line[3] != ' ' && line[3] != '-')) {
			finish(h, false, "not an SMTP reply at %s: %.60s",
			    smtp_steps[h->step], line);
			free(line);
			return;
		}
		if (!last) {
			free(line);
			continue;
		}
		if (code == 421 && h->step == 0 && h->tls && h->tls_done &&
		    internal_service(h->s) && strstr(line, "4.7.0") != NULL) {
			finish(h, true, "TLS handshake as %s.internal, then %.60s "
			    "(pttd.internal is not in its allowed_peers)",
			    h->s->kind->name, line);
			free(line);
			return;
		}
		if (code != smtp_want[h->step]) {
			finish(h, false, "%s answered %.80s", smtp_steps[h->step],
			    line);
			free(line);
			return;
		}
		free(line);
		if (smtp_send[h->step] == NULL) {
			finish(h, true, "%sgreeting, EHLO, NOOP, QUIT answered",
			    h->tls ? "TLS, " : "");
			return;
		}
		bufferevent_write(bev, smtp_send[h->step],
		    strlen(smtp_send[h->step]));
		h->step++;
	}
}

static void
dns_read(struct bufferevent *bev, void *arg)
{
	struct hcheck *h = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char lenb[2];
	ldns_pkt *pkt = NULL;
	size_t len;

	if (evbuffer_copyout(in, lenb, 2) != 2)
		return;
	len = (size_t)lenb[0] << 8 | lenb[1];
	if (evbuffer_get_length(in) < len + 2)
		return;
	unsigned char *b = xmalloc(len + 2);
	evbuffer_remove(in, b, len + 2);
	if (ldns_wire2pkt(&pkt, b + 2, len) != LDNS_STATUS_OK) {
		free(b);
		finish(h, false, "a malformed DNS answer");
		return;
	}
	free(b);
	ldns_pkt_rcode rc = ldns_pkt_get_rcode(pkt);
	uint16_t id = ldns_pkt_id(pkt), an = ldns_pkt_ancount(pkt);
	ldns_pkt_free(pkt);
	if (id != h->qid)
		finish(h, false, "a DNS answer with the wrong id");
	else if (strcmp(h->s->kind->name, "dns") != 0)
		finish(h, true, "SOA query answered (rcode %d)", (int)rc);
	else if (rc != LDNS_RCODE_NOERROR || an == 0)
		finish(h, false, "SOA query answered rcode %d with %u answers",
		    (int)rc, an);
	else
		finish(h, true, "SOA %s answered", h->s->d->domain);
}

static void
dns_send(struct hcheck *h)
{
	ldns_rdf *name = ldns_dname_new_frm_str(h->s->d->domain[0] ?
	    h->s->d->domain : ".");
	ldns_pkt *q;
	uint8_t *wire = NULL;
	size_t len = 0;

	if (name == NULL) {
		finish(h, false, "bad domain %s", h->s->d->domain);
		return;
	}
	q = ldns_pkt_query_new(name, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN,
	    LDNS_RD);
	RAND_bytes((unsigned char *)&h->qid, sizeof(h->qid));
	ldns_pkt_set_id(q, h->qid);
	if (ldns_pkt2wire(&wire, q, &len) != LDNS_STATUS_OK) {
		ldns_pkt_free(q);
		finish(h, false, "cannot make the query");
		return;
	}
	ldns_pkt_free(q);
	unsigned char lenb[2] = { (unsigned char)(len >> 8),
		(unsigned char)len };
	bufferevent_write(h->bev, lenb, 2);
	bufferevent_write(h->bev, wire, len);
	free(wire);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct hcheck *h = arg;

	if (what & BEV_EVENT_CONNECTED) {
		h->tls_done = h->tls;
		if (h->s->kind->health == HS_DNS)
			dns_send(h);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (h->tls && h->tls_done && h->step == 0 &&
		    internal_service(h->s))
			finish(h, true, "TLS handshake as %s.internal (the service "
			    "admits only its allowed_peers past it)",
			    h->s->kind->name);
		else
			finish(h, false, "connection closed at %s",
			    h->s->kind->health == HS_DNS ? "the SOA query" :
			    smtp_steps[h->step]);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char eb[200] = "";
		if (e != 0)
			ERR_error_string_n(e, eb, sizeof(eb));
		int en = EVUTIL_SOCKET_ERROR();
		finish(h, false, "%s%s", e ? "TLS: " : "",
		    e ? eb : en ? strerror(en) : "connection error");
	}
}

void
health_check(struct service *s, health_cb cb, void *arg)
{
	struct pttd *d = s->d;
	struct hcheck *h;
	char err[300];
	int fd;

	if (s->hc != NULL) {
		cb(s, false, "a check is under way", arg);
		return;
	}
	if (s->nls == 0 || s->kind->health == HS_NONE) {
		/* Nothing to ask (acme): running is all there is to know. */
		cb(s, s->cur != NULL, s->cur != NULL ? "running (no listener "
		    "to check)" : "not running", arg);
		return;
	}
	h = xcalloc(1, sizeof(*h));
	h->s = s;
	h->cb = cb;
	h->arg = arg;
	s->hc = h;
	h->timer = evtimer_new(d->base, on_timeout, h);
	struct timeval tv = { (time_t)d->cfg.health_timeout, 0 };
	evtimer_add(h->timer, &tv);
	const struct listener *l = &s->ls[0];
	char addr[140];
	/* A wildcard listener is checked on loopback. */
	if (strncmp(l->addr, "0.0.0.0:", 8) == 0)
		snprintf(addr, sizeof(addr), "127.0.0.1:%s", l->addr + 8);
	else if (strncmp(l->addr, "*:", 2) == 0 || strncmp(l->addr, "[::]:", 5) == 0)
		snprintf(addr, sizeof(addr), "127.0.0.1:%s", strrchr(l->addr, ':') + 1);
	else
		ptt_strlcpy(addr, l->addr, sizeof(addr));
	if ((fd = net_connect(addr, err, sizeof(err))) < 0) {
		finish(h, false, "%s", err);
		return;
	}
	net_set_nodelay(fd);
	h->tls = l->tls && s->kind->health == HS_SMTP;
	if (h->tls) {
		bool internal = internal_service(s);
		SSL_CTX *ctx = internal ? d->tls : d->tls_public;
		char name[64];
		snprintf(name, sizeof(name), "%s.internal", s->kind->name);
		if (ctx == NULL) {
			close(fd);
			finish(h, false, "no TLS client context: %s", d->tls_err);
			return;
		}
		SSL *ssl = tls_client_ssl(ctx, internal ? name : NULL,
		    internal ? name : NULL, NULL);
		h->bev = bufferevent_openssl_socket_new(d->base, fd, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	} else {
		h->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	bufferevent_setcb(h->bev, s->kind->health == HS_DNS ? dns_read :
	    smtp_read, NULL, on_event, h);
	bufferevent_enable(h->bev, EV_READ | EV_WRITE);
	if (!h->tls) {
		/* A plain connect in progress: CONNECTED comes once writable. */
		if (s->kind->health == HS_DNS)
			dns_send(h);
	}
}

void
health_cancel(struct service *s)
{
	if (s->hc != NULL) {
		struct hcheck *h = s->hc;
		if (h->bev != NULL)
			bufferevent_free(h->bev);
		if (h->timer != NULL)
			event_free(h->timer);
		s->hc = NULL;
		free(h);
	}
}

/* ---- periodic checks ---- */

static void
periodic_done(struct service *s, bool ok, const char *msg, void *arg)
{
	struct pttd *d = s->d;

	s->health_at = time(NULL);
	s->health_known = true;
	ptt_strlcpy(s->health_msg, msg, sizeof(s->health_msg));
	if (ok) {
		if (!s->health_ok || s->state != SS_RUNNING) {
			char note[400];
			snprintf(note, sizeof(note), "pttd: healthy: %s", msg);
			svc_log_line(s, note);
		}
		s->health_ok = true;
		s->health_fails = 0;
		if (s->state == SS_STARTING)
			s->state = SS_RUNNING;
	} else {
		s->health_fails++;
		/* A service still starting gets until ready_timeout. */
		if (s->state == SS_RUNNING && s->health_fails >= 2 &&
		    s->health_ok) {
			char note[400];
			snprintf(note, sizeof(note), "pttd: unhealthy: %s", msg);
			svc_log_line(s, note);
			log_warn(s->kind->name, "unhealthy: %s", msg);
			s->health_ok = false;
		}
		if (s->state == SS_STARTING && s->cur != NULL &&
		    time(NULL) - s->cur->started > d->cfg.ready_timeout) {
			s->state = SS_RUNNING;
			s->health_ok = false;
		}
	}
	health_schedule(s, s->state == SS_STARTING ? 300 :
	    (long)d->cfg.health_interval * 1000);
}

static void
on_health_timer(evutil_socket_t fd, short what, void *arg)
{
	struct service *s = arg;

	if (s->cur == NULL || s->d->stopping)
		return;
	if (s->hc != NULL || s->rolling) {
		health_schedule(s, (long)s->d->cfg.health_interval * 1000);
		return;
	}
	health_check(s, periodic_done, NULL);
}

void
health_schedule(struct service *s, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (s->health_ev == NULL)
		s->health_ev = evtimer_new(s->d->base, on_health_timer, s);
	evtimer_del(s->health_ev);
	evtimer_add(s->health_ev, &tv);
}
