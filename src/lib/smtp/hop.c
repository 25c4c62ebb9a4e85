/*
 * hop.c - forward to the next hop under the end-to-end acknowledgement
 * rule (see hop.h).
 */
#include "smtp/hop.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/client.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/tls.h"

struct hop {
	struct event_base *base;
	struct sockaddr_storage ss;
	socklen_t sslen;
	char *addr, *name, *helo;
	bool implicit_tls;
	SSL_CTX *tls;
	struct smtp_client **idle;
	unsigned nidle, pool;
};

struct hop_job {
	struct hop *h;
	struct smtp_session *s;
	struct buf msg;
	struct smtp_txn txn;
	struct smtp_txn_rcpt *rcpt;
	char **orcpt;
	char *from, *envid;
	bool pooled;		/* running on a connection from the pool */
};

static void connect_new(struct hop *h, struct hop_job *j);

/*
 * A pooled connection may have been closed by the next hop since it was
 * last used (an instance draining at a redeploy answers 421 to a new
 * transaction, or has gone). When the transaction failed that way before
 * any recipient was accepted, nothing reached the next hop: try once more
 * on a fresh connection instead of answering 451.
 */
static bool
stale_pooled(const struct hop_job *j, const struct smtp_result *res)
{
	if (!j->pooled || res->outcome == SMTP_OUT_OK)
		return false;
	if (res->reason != SMTP_R_NETWORK && !(res->reason == SMTP_R_REPLY &&
	    res->reply.code == 421))
		return false;
	for (size_t i = 0; i < res->nrcpt; i++)
		if (res->rcpt != NULL && res->rcpt[i].reply.code >= 200 &&
		    res->rcpt[i].reply.code < 300)
			return false;
	return true;
}

struct hop *
hop_new(struct event_base *base, const struct hop_opts *o, char *err,
    size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	char host[256], port[32];
	struct hop *h;

	if (net_split_hostport(o->addr, host, sizeof(host), port,
	    sizeof(port)) != 0) {
		snprintf(err, errlen, "%s: not host:port", o->addr);
		return NULL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0) {
		snprintf(err, errlen, "%s: not a numeric address", o->addr);
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	memcpy(&h->ss, ai->ai_addr, ai->ai_addrlen);
	h->sslen = ai->ai_addrlen;
	freeaddrinfo(ai);
	h->base = base;
	h->addr = xstrdup(o->addr);
	h->name = xstrdup(o->name);
	h->helo = xstrdup(o->helo ? o->helo : "localhost");
	h->implicit_tls = o->implicit_tls;
	h->tls = o->tls;
	h->pool = o->pool;
	h->idle = xcalloc(o->pool + 1, sizeof(*h->idle));
	return h;
}

void
hop_drain(struct hop *h)
{
	/* Close at once: a QUIT still in flight when the event loop ends
	 * would leave its session allocated. The next hop sees an orderly
	 * close between transactions, which loses nothing. */
	while (h->nidle > 0)
		smtp_client_free(h->idle[--h->nidle]);
}

void
hop_front_tls(const char *cert, const char *key, const char *icert,
    const char *ikey, const char *ca, SSL_CTX **pub, SSL_CTX **internal)
{
	struct tls_opts to;
	char err[512];

	if (cert == NULL || key == NULL || icert == NULL || ikey == NULL ||
	    ca == NULL)
		fatal("cert, key, internal_cert, internal_key and ca are "
		    "required");
	memset(&to, 0, sizeof(to));
	to.cert_file = cert;
	to.key_file = key;
	if ((*pub = tls_server_ctx(&to, err, sizeof(err))) == NULL)
		fatal("%s", err);
	to.cert_file = icert;
	to.key_file = ikey;
	to.ca_file = ca;
	to.verify_peer = true;
	if ((*internal = tls_client_ctx(&to, err, sizeof(err))) == NULL)
		fatal("%s", err);
}

static void
hop_stopped(void *arg)
{
	event_base_loopexit(arg, NULL);
}

void
hop_stop(struct hop *next, struct smtp_server *srv, struct event_base *base)
{
	hop_drain(next);
	smtp_server_shutdown(srv, hop_stopped, base);
}

void
hop_free(struct hop *h)
{
	if (h == NULL)
		return;
	while (h->nidle > 0)
		smtp_client_free(h->idle[--h->nidle]);
	free(h->idle);
	free(h->addr);
	free(h->name);
	free(h->helo);
	free(h);
}

static void
job_free(struct hop_job *j)
{
	for (size_t i = 0; i < j->txn.nrcpt; i++) {
		free((char *)j->rcpt[i].addr);
		free(j->orcpt[i]);
	}
	free(j->rcpt);
	free(j->orcpt);
	free(j->from);
	free(j->envid);
	buf_free(&j->msg);
	free(j);
}

static void
done(struct smtp_client *c, const struct smtp_result *res, void *arg)
{
	struct hop_job *j = arg;
	struct hop *h = j->h;
	size_t refused = res->nrcpt - res->naccepted;
	const char *text = res->reply.text.len ? res->reply.text.data : "";
	const char *id = smtp_session_id(j->s);

	if (stale_pooled(j, res)) {
		log_info(id, "%s: pooled connection gone (%s %s); trying a new "
		    "one", h->name, smtp_reason_name(res->reason), text);
		smtp_client_quit(c, NULL, NULL);
		j->pooled = false;
		connect_new(h, j);
		return;
	}
	if (res->outcome == SMTP_OUT_OK && refused == 0) {
		smtp_session_reply(j->s, 250, "2.0.0", "%s",
		    *text ? text : "accepted by the next hop");
	} else if (res->outcome == SMTP_OUT_OK) {
		log_warn(id, "%s refused %zu of %zu recipients", h->name,
		    refused, res->nrcpt);
		smtp_session_reply(j->s, 451, "4.3.0", "the next hop refused "
		    "some recipients; try again");
	} else if (res->outcome == SMTP_OUT_PERM && res->reply.code >= 500) {
		log_info(id, "%s refused: %d %s", h->name, res->reply.code, text);
		smtp_session_reply(j->s, res->reply.code,
		    res->reply.enh[0] ? res->reply.enh : NULL, "%s", text);
	} else {
		log_warn(id, "%s: %s %s", h->name, smtp_reason_name(res->reason),
		    text);
		smtp_session_reply(j->s, 451, "4.4.0", "%s unavailable; try "
		    "again later", h->name);
	}
	if (smtp_client_alive(c) && h->nidle < h->pool)
		h->idle[h->nidle++] = c;
	else
		smtp_client_quit(c, NULL, NULL);
	job_free(j);
}

static void
fail(struct hop_job *j, struct smtp_client *c, const char *why)
{
	log_err(smtp_session_id(j->s), "%s %s: %s", j->h->name, j->h->addr, why);
	if (c != NULL)
		smtp_client_free(c);
	smtp_session_reply(j->s, 451, "4.4.1", "%s unavailable; try again later",
	    j->h->name);
	job_free(j);
}

static void
send_on(struct smtp_client *c, struct hop_job *j)
{
	if (smtp_client_send(c, &j->txn, done, j) != 0)
		fail(j, c, "cannot start the transaction");
}

static void
ready(struct smtp_client *c, const struct smtp_result *res, void *arg)
{
	struct hop_job *j = arg;

	if (res->outcome != SMTP_OUT_OK) {
		char why[512];
		snprintf(why, sizeof(why), "%s %s", smtp_reason_name(res->reason),
		    res->reply.text.len ? res->reply.text.data : "");
		fail(j, c, why);
		return;
	}
	send_on(c, j);
}

void
hop_forward(struct hop *h, struct smtp_session *s,
    const struct smtp_envelope *env, struct buf *prefix, const void *msg,
    size_t len)
{
	struct hop_job *j = xcalloc(1, sizeof(*j));
	struct smtp_client *c;

	j->h = h;
	j->s = s;
	if (prefix != NULL) {
		j->msg = *prefix;
		prefix->data = NULL;
		prefix->len = prefix->cap = 0;
	} else
		buf_init(&j->msg, 0);
	buf_add(&j->msg, msg, len);
	j->from = xstrdup(env->from.null ? "" : env->from.addr);
	j->rcpt = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof(*j->rcpt));
	j->orcpt = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof(*j->orcpt));
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct smtp_rcpt_params *rp = &env->rcpt[i].params;
		j->rcpt[i].addr = xstrdup(env->rcpt[i].path.addr);
		j->rcpt[i].notify = rp->notify;
		/* ORCPT travels on as the address it names (the client
		 * encodes it again). */
		if (rp->orcpt_type[0] && rp->orcpt_addr[0]) {
			j->orcpt[i] = xstrdup(rp->orcpt_addr);
			j->rcpt[i].orcpt = j->orcpt[i];
		}
	}
	j->txn.from = j->from;
	j->txn.rcpt = j->rcpt;
	j->txn.nrcpt = env->nrcpt;
	j->txn.msg = j->msg.data;
	j->txn.len = j->msg.len;
	j->txn.ret = env->mail.ret;
	j->envid = env->mail.envid[0] ? xstrdup(env->mail.envid) : NULL;
	j->txn.envid = j->envid;
	j->txn.smtputf8 = env->mail.smtputf8;

	while (h->nidle > 0) {
		c = h->idle[--h->nidle];
		if (smtp_client_alive(c)) {
			j->pooled = true;
			send_on(c, j);
			return;
		}
		smtp_client_free(c);
	}
	connect_new(h, j);
}

static void
connect_new(struct hop *h, struct hop_job *j)
{
	struct smtp_client_opts o;
	struct smtp_client *c;

	memset(&o, 0, sizeof(o));
	o.id = smtp_session_id(j->s);
	o.helo = h->helo;
	o.tls = SMTP_TLS_VERIFIED;
	o.implicit_tls = h->implicit_tls;
	o.ssl_ctx = h->tls;
	o.sni = h->name;
	o.tls_cache_key = h->addr;
	c = smtp_client_new(h->base, &o);
	if (smtp_client_connect(c, (struct sockaddr *)&h->ss, h->sslen, ready,
	    j) != 0)
		fail(j, c, "cannot connect");
}

bool
hop_peer_is(SSL *ssl, const char *list)
{
	char why[256];

	for (const char *p = list; p && *p;) {
		char name[256];
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == 0 || n >= sizeof(name))
			break;
		memcpy(name, p, n);
		name[n] = '\0';
		p += n;
		if (tls_check_peer(ssl, name, NULL, why, sizeof(why)) == 0)
			return true;
	}
	return false;
}

bool
hop_peer_allowed(struct smtp_session *s, SSL *ssl, const char *list)
{
	if (hop_peer_is(ssl, list))
		return true;
	/* the supervisor's health check: it may look, not hand in mail */
	if (hop_peer_is(ssl, HOP_HEALTH_PEER)) {
		smtp_session_forbid_mail(s);
		return true;
	}
	log_warn(smtp_session_id(s), "refused peer %s: not one of %s",
	    smtp_session_info(s)->peer_addr, list ? list : "(none)");
	return false;
}

struct smtp_server *
hop_listen(struct event_base *base, const char *addr, const char *hostname,
    SSL_CTX *tls, uint64_t max_size, unsigned max_rcpts,
    const struct smtp_hooks *hooks, void *arg)
{
	struct smtp_server_config sc;
	struct smtp_server *srv;
	char err[512];
	int fd;

	memset(&sc, 0, sizeof(sc));
	sc.hostname = hostname;
	sc.tls = tls;
	sc.max_size = max_size;
	sc.max_rcpts = max_rcpts;
	srv = smtp_server_new(base, &sc, hooks, arg);
	if ((fd = net_listen(addr, err, sizeof(err))) < 0)
		fatal("%s", err);
	if (smtp_server_listen(srv, fd, true) != 0)
		fatal("cannot serve %s", addr);
	printf("listening %s\n", addr);
	fflush(stdout);
	return srv;
}
