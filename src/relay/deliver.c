/*
 * deliver.c - the relay's scheduler: from queued envelopes to remote MXs.
 *
 * RFC 5321 (client side through smtp/client.h; 4.5.4.1 retry strategy;
 * 5.1 routing through mx.c), RFC 3207 STARTTLS, RFC 3461 (NOTIFY, ORCPT,
 * RET, ENVID passed on when the next hop offers DSN), RFC 3464 (DSNs by
 * dsn.c), RFC 3463 status codes.
 *
 * Model:
 *   item  a queued message held in memory (its envelope and, per
 *         recipient, whether a delivery is in flight);
 *   job   the due recipients of one item that share a domain;
 *   dest  a destination domain: its route (mx.c, cached for the DNS TTL
 *         within [10s, 5m]), the jobs waiting for it, its connections;
 *   conn  one SMTP session to one of the route's addresses. It tries the
 *         addresses in order until one is ready (a failed opportunistic
 *         TLS handshake retries the same address in plaintext unless a
 *         message requires TLS), sends its job, then takes the next
 *         waiting job of the same destination (connection reuse), or
 *         idles reuse_idle seconds before QUIT.
 * Limits: max_conn_dest sessions per destination, max_conn in all.
 *
 * After each attempt the recipients' new state is written with
 * queue_update() (temp, fsync, rename), DSNs are queued with queue_store()
 * like any message before the failed recipients are marked bounced, and a
 * message is removed once every recipient is delivered or bounced. A crash
 * at any point repeats at most the last attempt (at-least-once).
 *
 * Trusts: the queue and the configuration; replies from MXs only through
 * the client's parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>

#include "relay/dsn.h"
#include "relay/mx.h"
#include "relay/relay.h"
#include "relay/retry.h"
#include "smtp/client.h"
#include "util/err.h"
#include "util/ev.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"

/* glibc's sys/queue.h has no _SAFE iteration. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST((head));				\
	    (var) && ((tvar) = TAILQ_NEXT((var), field), 1);		\
	    (var) = (tvar))
#endif

#define DOMAIN_BUF 300
#define REMOTE_BUF (DNS_NAME_TEXT_MAX + 128)	/* a domain (255) or an address literal */

struct dest;
struct sched;

struct item {
	struct q_env env;
	bool *busy;		/* per recipient: a job holds it */
	bool *relayed;		/* per recipient: a "relayed" DSN is due */
	unsigned jobs;
	bool gone;		/* removed from the queue; freed at jobs == 0 */
	TAILQ_ENTRY(item) link;
};

struct job {
	struct item *it;
	struct dest *d;
	size_t *idx;		/* recipients of it->env */
	size_t n;
	bool require_tls;
	TAILQ_ENTRY(job) link;
};

struct conn {
	struct sched *s;
	struct dest *d;
	struct smtp_client *c;
	struct mx_addr *addrs;	/* a copy of the route's addresses */
	size_t naddr, ai;
	bool plain;		/* plaintext retry after a failed handshake */
	bool tls_req;		/* the session was opened TLS-only */
	bool ready;
	struct job *job;	/* being sent */
	struct event *idle;
	struct buf msg;
	struct smtp_txn_rcpt *rc;
	char remote[REMOTE_BUF];	/* host[ip]:port */
	char lasterr[REMOTE_BUF + 1100];
	char laststatus[16];
	char lastremote[REMOTE_BUF];
	TAILQ_ENTRY(conn) link;
};

struct dest {
	struct sched *s;
	char *domain;
	struct mx_lookup *lk;
	struct mx_route *route;
	time_t route_exp;
	bool fresh;		/* route just arrived: use it even if expired */
	TAILQ_HEAD(, job) wait;
	TAILQ_HEAD(, conn) conns;
	unsigned nconn;
	TAILQ_ENTRY(dest) link;
};

struct sched {
	struct relay *r;
	struct relay_timing t;
	TAILQ_HEAD(, item) items;
	TAILQ_HEAD(, dest) dests;
	size_t nitems;
	unsigned nconn;		/* sessions, all destinations */
	unsigned inflight;	/* jobs handed to a session */
	struct smtp_client **quitting;	/* sessions whose QUIT is in flight */
	size_t nquitting;
	struct event *tick, *kick;
	bool stopping;
	void (*stop_done)(void *);
	void *stop_arg;
};

static void item_after(struct sched *s, struct item *it);
static void conn_try(struct conn *k);
static void conn_next(struct conn *k);
static void dest_pump(struct dest *d);

void
relay_env_copy(struct q_env *dst, const struct q_env *src)
{
	struct buf b;

	buf_init(&b, 0);
	q_env_format(src, &b);
	memset(dst, 0, sizeof(*dst));
	if (q_env_parse(b.data, b.len, dst) != 0)
		panic("relay: envelope %s does not survive a copy", src->id);
	buf_free(&b);
}

static void
kick(struct sched *s)
{
	event_active(s->kick, EV_TIMEOUT, 0);
}

/* ---- items ---- */

static void
item_free(struct sched *s, struct item *it)
{
	TAILQ_REMOVE(&s->items, it, link);
	s->nitems--;
	q_env_free(&it->env);
	free(it->busy);
	free(it->relayed);
	free(it);
}

void
sched_add(struct sched *s, const struct q_env *env)
{
	struct item *it = xcalloc(1, sizeof(*it));

	relay_env_copy(&it->env, env);
	it->busy = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof(bool));
	it->relayed = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof(bool));
	TAILQ_INSERT_TAIL(&s->items, it, link);
	s->nitems++;
	/* Recipients failed before any attempt (expand.c), or left failed
	 * by a crash before their DSN: notify now. */
	for (size_t i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].state == Q_FAILED) {
			item_after(s, it);
			break;
		}
	kick(s);
}

size_t
sched_nitems(const struct sched *s)
{
	return s->nitems;
}

/*
 * A DSN to a local address goes where mail to it goes (expand.c): to the
 * user's forward addresses, or, for the SRS sender of a forwarded
 * message, to the original sender it encodes - never back through our
 * own MX, and never to the null sender. denv is replaced by the expanded
 * envelope. 0, or PTT_ENOENT when no recipient is left (logged).
 */
static int
dsn_to_local(struct relay *r, const char *id, struct q_env *denv)
{
	struct relay_local l;
	struct relay_expansion x;

	if (r->cfg.domains[0] == '\0' || denv->nrcpt == 0 ||
	    !relay_is_local(&(struct relay_local){ .domains = r->cfg.domains },
	    denv->rcpt[0].addr))
		return 0;
	relay_local_of(r, &l);
	relay_expand(&l, denv, &x);
	if (x.nfailed > 0 || x.env[0].nrcpt == 0) {
		log_info(id, "no notification: its recipient <%s> is refused "
		    "(%s)", denv->rcpt[0].addr, x.fail_reply ? x.fail_reply :
		    "nothing to deliver to");
		relay_expansion_free(&x);
		return PTT_ENOENT;
	}
	for (size_t i = 0; i < x.env[0].nrcpt; i++)
		log_info(id, "notification to <%s> goes to <%s>",
		    denv->rcpt[0].addr, x.env[0].rcpt[i].addr);
	q_env_free(denv);
	relay_expansion_take(&x, 0, denv);
	relay_expansion_free(&x);
	return 0;
}

/* Queue a DSN for the recipients sel of it. 0 or PTT_E*. */
static int
item_dsn(struct sched *s, struct item *it, enum dsn_kind kind, const bool *sel)
{
	struct relay *r = s->r;
	struct buf m, d;
	struct q_env denv;
	char err[256];
	int ret;
	time_t now = time(NULL);
	struct dsn_params p = {
		.mta = r->cfg.helo_name,
		.domain = r->cfg.dsn_domain[0] ? r->cfg.dsn_domain :
		    r->cfg.helo_name,
		.now = now,
		.retry_until = it->env.created + s->t.max_lifetime,
	};

	buf_init(&m, 0);
	buf_init(&d, 0);
	memset(&denv, 0, sizeof(denv));
	if (queue_read_msg(r->q, it->env.id, &m) != 0) {
		log_warn(it->env.id, "message file unreadable: DSN without it");
		ret = dsn_build(&it->env, kind, sel, NULL, 0, &p, &d);
	} else {
		ret = dsn_build(&it->env, kind, sel, m.data, m.len, &p, &d);
	}
	buf_free(&m);
	if (ret == 0) {
		dsn_envelope(&it->env, d.data, d.len, &denv);
		if (dsn_to_local(r, it->env.id, &denv) != 0) {
			/* Nobody left to tell: logged; the failure is final. */
			q_env_free(&denv);
			buf_free(&d);
			return 0;
		}
		ret = queue_store(r->q, &denv, d.data, d.len, err, sizeof(err));
		if (ret != 0)
			log_err(it->env.id, "cannot queue the DSN: %s", err);
	}
	if (ret == 0) {
		log_info(it->env.id, "sender %s notification: %s",
		    kind == DSN_FAILED ? "non-delivery" : kind == DSN_DELAYED ?
		    "delay" : "success", denv.id);
		log_info(denv.id, "received from=<>, size=%zu, nrcpt=1, "
		    "origin=dsn for %s", denv.size, it->env.id);
		sched_add(s, &denv);
	}
	q_env_free(&denv);
	buf_free(&d);
	return ret;
}

/* After an attempt on it: DSNs, delay notice, save or remove. */
static void
item_after(struct sched *s, struct item *it)
{
	struct relay *r = s->r;
	struct q_env *env = &it->env;
	struct q_env disk;
	bool *sel;
	bool any = false;
	char err[256];
	time_t now = time(NULL);

	if (it->gone) {
		if (it->jobs == 0)
			item_free(s, it);
		return;
	}
	/* Deleted by hand (`ptt-relay queue delete`) while in flight? */
	memset(&disk, 0, sizeof(disk));
	if (queue_load(r->q, env->id, &disk) == PTT_ENOENT) {
		log_info(env->id, "removed from the queue by hand");
		it->gone = true;
		if (it->jobs == 0)
			item_free(s, it);
		return;
	}
	q_env_free(&disk);

	sel = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof(bool));
	for (size_t i = 0; i < env->nrcpt; i++) {
		struct q_rcpt *rc = &env->rcpt[i];

		if (rc->state != Q_FAILED)
			continue;
		if (env->sender[0] == '\0') {
			log_info(env->id, "to=<%s>, status=bounced: no DSN to "
			    "the null sender, dropped", rc->addr);
			rc->state = Q_BOUNCED;
		} else if (!(relay_notify_eff(rc->notify) & SMTP_NOTIFY_FAILURE)) {
			log_info(env->id, "to=<%s>: no DSN requested (NOTIFY)",
			    rc->addr);
			rc->state = Q_BOUNCED;
		} else {
			sel[i] = any = true;
		}
	}
	if (any && item_dsn(s, it, DSN_FAILED, sel) == 0)
		for (size_t i = 0; i < env->nrcpt; i++)
			if (sel[i])
				env->rcpt[i].state = Q_BOUNCED;
	/* RFC 3461 5.2.2.2: NOTIFY=SUCCESS through an MTA without DSN. */
	any = false;
	for (size_t i = 0; i < env->nrcpt; i++)
		any = any || it->relayed[i];
	if (any && env->sender[0] != '\0')
		item_dsn(s, it, DSN_RELAYED, it->relayed);
	memset(it->relayed, 0, env->nrcpt * sizeof(bool));
	if (relay_delay_due(env, now, &s->t)) {
		any = false;
		for (size_t i = 0; i < env->nrcpt; i++) {
			const struct q_rcpt *rc = &env->rcpt[i];

			sel[i] = rc->state == Q_PENDING && rc->attempts > 0 &&
			    (relay_notify_eff(rc->notify) & SMTP_NOTIFY_DELAY);
			any = any || sel[i];
		}
		if (any && item_dsn(s, it, DSN_DELAYED, sel) == 0)
			env->delay_notified = now;
	}
	free(sel);
	if (relay_env_done(env) && it->jobs == 0) {
		if (queue_remove(r->q, env->id) != 0)
			log_err(env->id, "cannot remove from the queue");
		else
			log_info(env->id, "removed");
		item_free(s, it);
		return;
	}
	if (queue_update(r->q, env, err, sizeof(err)) != 0)
		log_err(env->id, "cannot save the envelope: %s", err);
}

static void
rcpt_apply(struct sched *s, struct item *it, size_t i, enum rcpt_outcome o,
    const char *reply, const char *status, const char *remote, bool tls)
{
	struct q_rcpt *rc = &it->env.rcpt[i];
	time_t now = time(NULL);
	enum rcpt_event ev;

	ev = relay_rcpt_result(rc, it->env.created, o, reply, status, remote,
	    now, &s->t);
	log_info(it->env.id, "to=<%s>, relay=%s, tls=%s, delay=%llds, "
	    "attempts=%d, dsn=%s, status=%s (%s)%s", rc->addr,
	    remote ? remote : "none", tls ? "yes" : "no",
	    (long long)(now - it->env.created), rc->attempts,
	    rc->status ? rc->status : "", relay_event_name(ev),
	    reply ? reply : "", ev == EV_DEFERRED ? "" :
	    ev == EV_DELIVERED ? "" : ", returned to sender");
}

/* ---- jobs ---- */

static void
job_done(struct sched *s, struct job *j, bool inflight)
{
	struct item *it = j->it;

	for (size_t i = 0; i < j->n; i++)
		it->busy[j->idx[i]] = false;
	it->jobs--;
	if (inflight)
		s->inflight--;
	free(j->idx);
	free(j);
	item_after(s, it);
	if (s->stopping && s->inflight == 0 && s->stop_done != NULL) {
		void (*done)(void *) = s->stop_done;

		s->stop_done = NULL;
		done(s->stop_arg);
	}
}

static void
job_fail_all(struct sched *s, struct job *j, enum rcpt_outcome o,
    const char *reply, const char *status, const char *remote, bool inflight)
{
	for (size_t i = 0; i < j->n; i++)
		rcpt_apply(s, j->it, j->idx[i], o, reply, status, remote, false);
	job_done(s, j, inflight);
}

/* Give a waiting job back untried (shutdown). */
static void
job_release(struct sched *s, struct job *j)
{
	struct item *it = j->it;

	for (size_t i = 0; i < j->n; i++)
		it->busy[j->idx[i]] = false;
	it->jobs--;
	free(j->idx);
	free(j);
	if (it->gone && it->jobs == 0)
		item_free(s, it);
}

/* ---- destinations ---- */

static struct dest *
dest_get(struct sched *s, const char *domain)
{
	struct dest *d;

	TAILQ_FOREACH(d, &s->dests, link)
		if (strcmp(d->domain, domain) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->s = s;
	d->domain = xstrdup(domain);
	TAILQ_INIT(&d->wait);
	TAILQ_INIT(&d->conns);
	if (domain[0] == '\0') {
		/* "postmaster" without a domain or a malformed address. */
		d->route = xcalloc(1, sizeof(*d->route));
		d->route->st = MX_PERM;
		snprintf(d->route->status, sizeof(d->route->status), "5.1.3");
		snprintf(d->route->why, sizeof(d->route->why),
		    "no domain in the recipient address");
		d->route_exp = (time_t)1 << 62;
	}
	TAILQ_INSERT_TAIL(&s->dests, d, link);
	return d;
}

static void
dest_free(struct sched *s, struct dest *d)
{
	struct job *j;

	while ((j = TAILQ_FIRST(&d->wait)) != NULL) {
		TAILQ_REMOVE(&d->wait, j, link);
		job_release(s, j);
	}
	mx_lookup_cancel(d->lk);
	mx_route_free(d->route);
	TAILQ_REMOVE(&s->dests, d, link);
	free(d->domain);
	free(d);
}

static void
on_route(struct mx_route *route, void *arg)
{
	struct dest *d = arg;
	time_t now = time(NULL);
	uint32_t ttl = route->ttl;

	d->lk = NULL;
	mx_route_free(d->route);
	d->route = route;
	if (ttl < 10)
		ttl = 10;
	if (ttl > 300)
		ttl = 300;
	d->route_exp = route->st == MX_OK ? now + ttl : now;
	d->fresh = true;
	if (route->st == MX_OK)
		log_debug(NULL, "route %s: %zu addresses, first %s", d->domain,
		    route->n, route->a[0].host);
	else
		log_info(NULL, "route %s: %s %s", d->domain, route->status,
		    route->why);
	dest_pump(d);
	kick(d->s);
}

/* ---- connections ---- */

static bool
conn_tls(const struct conn *k)
{
	return k->c != NULL && smtp_client_tls_info(k->c)[0] != '\0';
}

static void
on_quit(struct smtp_client *c, const struct smtp_result *res, void *arg)
{
	struct sched *s = arg;

	for (size_t i = 0; i < s->nquitting; i++)
		if (s->quitting[i] == c) {
			s->quitting[i] = s->quitting[--s->nquitting];
			break;
		}
	smtp_client_free(c);
}

static void
conn_close(struct conn *k)
{
	struct sched *s = k->s;
	struct dest *d = k->d;

	TAILQ_REMOVE(&d->conns, k, link);
	d->nconn--;
	s->nconn--;
	if (k->idle != NULL)
		event_free(k->idle);
	if (k->c != NULL) {
		if (k->ready && smtp_client_alive(k->c)) {
			/* Remembered, so sched_free() can end a QUIT that is
			 * still in flight when the loop stops. */
			s->quitting = xreallocarray(s->quitting,
			    s->nquitting + 1, sizeof(*s->quitting));
			s->quitting[s->nquitting++] = k->c;
			smtp_client_quit(k->c, on_quit, s);
		} else
			smtp_client_free(k->c);
	}
	buf_free(&k->msg);
	free(k->rc);
	free(k->addrs);
	free(k);
	kick(s);
}

static void
on_idle(evutil_socket_t fd, short what, void *arg)
{
	conn_close(arg);
}

static const char *
status_of(const struct smtp_reply *rep, enum smtp_outcome o,
    enum smtp_reason why, bool connecting, char *buf, size_t len)
{
	int cls = o == SMTP_OUT_OK ? 2 : o == SMTP_OUT_PERM ? 5 : 4;

	if (rep->code != 0 && rep->enh[0] != '\0' &&
	    rep->enh[0] == '0' + rep->code / 100) {
		snprintf(buf, len, "%s", rep->enh);
	} else if (rep->code == 0 && rep->enh[0] == '0' + cls) {
		/* a local reply that carries its own enhanced code */
		snprintf(buf, len, "%s", rep->enh);
	} else if (rep->code != 0) {
		snprintf(buf, len, "%d.0.0", rep->code / 100);
	} else {
		const char *rest;

		switch (why) {
		case SMTP_R_NETWORK: rest = connecting ? "4.1" : "4.2"; break;
		case SMTP_R_TIMEOUT: rest = "4.2"; break;
		case SMTP_R_TLS: rest = "7.0"; break;
		case SMTP_R_PROTOCOL: rest = "5.0"; break;
		case SMTP_R_POLICY: rest = "7.0"; break;
		default: rest = "0.0"; break;
		}
		snprintf(buf, len, "%d.%s", cls, rest);
	}
	return buf;
}

static void
on_sent(struct smtp_client *c, const struct smtp_result *res, void *arg)
{
	struct conn *k = arg;
	struct sched *s = k->s;
	struct job *j = k->job;
	bool tls = conn_tls(k);

	k->job = NULL;
	for (size_t i = 0; i < j->n; i++) {
		const struct smtp_reply *rep = &res->reply;
		enum smtp_outcome o = res->outcome;
		enum rcpt_outcome ro;
		char text[1024], st[16];

		if (res->nrcpt == j->n && res->rcpt[i].reply.code != 0) {
			rep = &res->rcpt[i].reply;
			o = res->rcpt[i].outcome;
		} else if (res->nrcpt == j->n) {
			o = res->rcpt[i].outcome;
		}
		ro = o == SMTP_OUT_OK ? RCPT_OK : o == SMTP_OUT_PERM ?
		    RCPT_PERM : RCPT_TEMP;
		if (ro == RCPT_OK &&
		    (j->it->env.rcpt[j->idx[i]].notify & SMTP_NOTIFY_SUCCESS) &&
		    !(smtp_client_caps(c)->flags & SMTP_CAP_DSN))
			j->it->relayed[j->idx[i]] = true;
		smtp_reply_str(rep, text, sizeof(text));
		status_of(rep, o, res->reason, false, st, sizeof(st));
		rcpt_apply(s, j->it, j->idx[i], ro, text, st, k->remote, tls);
	}
	job_done(s, j, true);
	conn_next(k);
}

/* Send j on the ready session k. */
static void
conn_send(struct conn *k, struct job *j)
{
	struct sched *s = k->s;
	struct q_env *env = &j->it->env;
	struct smtp_txn t;
	int ret;

	k->job = j;
	if (k->idle != NULL) {
		event_free(k->idle);
		k->idle = NULL;
	}
	buf_reset(&k->msg);
	if (queue_read_msg(s->r->q, env->id, &k->msg) != 0) {
		k->job = NULL;
		log_err(env->id, "cannot read the queued message");
		job_fail_all(s, j, RCPT_TEMP, "cannot read the queued message",
		    "4.3.0", NULL, true);
		conn_next(k);
		return;
	}
	free(k->rc);
	k->rc = xcalloc(j->n, sizeof(*k->rc));
	for (size_t i = 0; i < j->n; i++) {
		const struct q_rcpt *r = &env->rcpt[j->idx[i]];
		const char *semi = r->orcpt ? strchr(r->orcpt, ';') : NULL;

		k->rc[i].addr = r->addr;
		k->rc[i].notify = r->notify;
		/* ORCPT goes on as rfc822;xtext; other types are dropped. */
		if (semi != NULL && semi - r->orcpt == 6 &&
		    strncasecmp(r->orcpt, "rfc822", 6) == 0)
			k->rc[i].orcpt = semi + 1;
	}
	memset(&t, 0, sizeof(t));
	t.from = env->sender;
	t.rcpt = k->rc;
	t.nrcpt = j->n;
	t.msg = k->msg.data;
	t.len = k->msg.len;
	t.ret = env->ret;
	t.envid = env->envid;
	t.smtputf8 = env->smtputf8;
	ret = smtp_client_send(k->c, &t, on_sent, k);
	if (ret == PTT_EAGAIN) {
		/* A reused session that went away: the job goes back to the
		 * head of the line for a fresh session, no attempt counted. */
		k->job = NULL;
		s->inflight--;
		TAILQ_INSERT_HEAD(&k->d->wait, j, link);
		log_debug(env->id, "%s: session not ready, requeued", k->remote);
		conn_close(k);
		return;
	}
	if (ret != 0) {
		k->job = NULL;
		job_fail_all(s, j, ret == PTT_EINVAL ? RCPT_PERM : RCPT_TEMP,
		    ret == PTT_EINVAL ? "the envelope cannot be sent (bad "
		    "address or message)" : ptt_strerror(ret),
		    ret == PTT_EINVAL ? "5.5.0" : "4.3.0", k->remote, true);
		conn_next(k);
	}
}

/* A waiting job of k's destination that k may carry. */
static struct job *
conn_pick(struct conn *k)
{
	struct job *j;

	TAILQ_FOREACH(j, &k->d->wait, link)
		if (!j->require_tls || conn_tls(k)) {
			TAILQ_REMOVE(&k->d->wait, j, link);
			k->s->inflight++;
			return j;
		}
	return NULL;
}

/* The session finished a job: the next one, idle, or close. */
static void
conn_next(struct conn *k)
{
	struct sched *s = k->s;
	struct job *j;

	if (s->stopping || k->c == NULL || !smtp_client_alive(k->c)) {
		conn_close(k);
		return;
	}
	if ((j = conn_pick(k)) != NULL) {
		conn_send(k, j);
		return;
	}
	if (s->r->cfg.reuse_idle <= 0) {
		conn_close(k);
		return;
	}
	k->idle = ev_timer_once(s->r->base, (long)s->r->cfg.reuse_idle * 1000,
	    on_idle, k);
}

static void
on_ready(struct smtp_client *c, const struct smtp_result *res, void *arg)
{
	struct conn *k = arg;
	char text[1024], st[16];

	if (res->outcome == SMTP_OUT_OK) {
		k->ready = true;
		log_debug(k->job->it->env.id, "connected to %s%s", k->remote,
		    res->tls ? " with TLS" : "");
		conn_send(k, k->job);
		return;
	}
	smtp_reply_str(&res->reply, text, sizeof(text));
	status_of(&res->reply, SMTP_OUT_TEMP, res->reason, true, st, sizeof(st));
	log_info(k->job->it->env.id, "%s: %s (%s)", k->remote, text,
	    smtp_reason_name(res->reason));
	ptt_strlcpy(k->lasterr, text, sizeof(k->lasterr));
	ptt_strlcpy(k->laststatus, st, sizeof(k->laststatus));
	ptt_strlcpy(k->lastremote, k->remote, sizeof(k->lastremote));
	smtp_client_free(c);
	k->c = NULL;
	if (res->reason == SMTP_R_TLS && res->tls_fallback_ok && !k->tls_req &&
	    !k->plain) {
		log_info(k->job->it->env.id, "%s: TLS handshake failed, "
		    "retrying in plaintext", k->remote);
		k->plain = true;
	} else {
		k->plain = false;
		k->ai++;
	}
	conn_try(k);
}

/* Open a session to the next address of k, or give up on its job. */
static void
conn_try(struct conn *k)
{
	struct sched *s = k->s;
	struct relay *r = s->r;

	while (k->ai < k->naddr) {
		const struct mx_addr *a = &k->addrs[k->ai];
		struct smtp_client_opts o;
		char ip[64], key[DNS_NAME_TEXT_MAX + 16];

		net_addr_str((const struct sockaddr *)&a->ss, ip, sizeof(ip));
		snprintf(k->remote, sizeof(k->remote), "%s[%s]:%lld", a->host,
		    ip, r->cfg.remote_port);
		snprintf(key, sizeof(key), "%s:%lld", a->host,
		    r->cfg.remote_port);
		memset(&o, 0, sizeof(o));
		o.helo = r->cfg.helo_name;
		if (k->tls_req)
			o.tls = SMTP_TLS_REQUIRED;
		else if (k->plain || r->cfg.outbound_tls == RELAY_TLS_NONE)
			o.tls = SMTP_TLS_NONE;
		else if (r->cfg.outbound_tls == RELAY_TLS_REQUIRED)
			o.tls = SMTP_TLS_REQUIRED;
		else
			o.tls = SMTP_TLS_OPPORTUNISTIC;
		o.ssl_ctx = r->cli_ctx;
		o.sni = a->host;
		o.tls_cache_key = key;
		o.tmo.connect = (unsigned)r->cfg.connect_timeout;
		k->c = smtp_client_new(r->base, &o);
		if (smtp_client_connect(k->c, (const struct sockaddr *)&a->ss,
		    a->len, on_ready, k) == 0)
			return;
		smtp_client_free(k->c);
		k->c = NULL;
		ptt_strlcpy(k->lasterr, "cannot connect to ", sizeof(k->lasterr));
		ptt_strlcat(k->lasterr, k->remote, sizeof(k->lasterr));
		snprintf(k->laststatus, sizeof(k->laststatus), "4.4.1");
		k->ai++;
	}
	/* Every address failed: the job waits for its next try. */
	{
		struct job *j = k->job;
		char why[sizeof(k->lasterr) + 64];

		k->job = NULL;
		snprintf(why, sizeof(why), "%s", k->lasterr[0] ? k->lasterr :
		    "no mail exchanger answered");
		job_fail_all(s, j, RCPT_TEMP, why,
		    k->laststatus[0] ? k->laststatus : "4.4.1",
		    k->lastremote[0] ? k->lastremote : NULL, true);
		conn_close(k);
	}
}

static void
conn_new(struct dest *d, struct job *j)
{
	struct sched *s = d->s;
	struct conn *k = xcalloc(1, sizeof(*k));

	TAILQ_REMOVE(&d->wait, j, link);
	s->inflight++;
	k->s = s;
	k->d = d;
	k->job = j;
	k->tls_req = j->require_tls ||
	    s->r->cfg.outbound_tls == RELAY_TLS_REQUIRED;
	k->naddr = d->route->n;
	k->addrs = xcalloc(k->naddr ? k->naddr : 1, sizeof(*k->addrs));
	memcpy(k->addrs, d->route->a, k->naddr * sizeof(*k->addrs));
	buf_init(&k->msg, 0);
	TAILQ_INSERT_TAIL(&d->conns, k, link);
	d->nconn++;
	s->nconn++;
	conn_try(k);
}

/* Close one idle session of another destination to free a slot. */
static bool
close_one_idle(struct sched *s, struct dest *except)
{
	struct dest *d;
	struct conn *k;

	TAILQ_FOREACH(d, &s->dests, link) {
		if (d == except)
			continue;
		TAILQ_FOREACH(k, &d->conns, link)
			if (k->idle != NULL) {
				conn_close(k);
				return true;
			}
	}
	return false;
}

static void
dest_pump(struct dest *d)
{
	struct sched *s = d->s;
	struct relay *r = s->r;
	struct conn *k, *kn;
	struct job *j;
	time_t now = time(NULL);

	if (TAILQ_EMPTY(&d->wait) || d->lk != NULL || s->stopping)
		return;
	if (d->route == NULL || (now >= d->route_exp && d->nconn == 0 &&
	    !d->fresh)) {
		d->lk = mx_lookup(r->res, d->domain, (uint16_t)r->cfg.remote_port,
		    r->cfg.ipv6, r->cfg.ipv4, NULL, on_route, d);
		return;
	}
	d->fresh = false;
	if (d->route->st != MX_OK) {
		enum rcpt_outcome o = d->route->st == MX_PERM ? RCPT_PERM :
		    RCPT_TEMP;
		char why[sizeof(d->route->why)], st[16];

		snprintf(why, sizeof(why), "%s", d->route->why);
		snprintf(st, sizeof(st), "%s", d->route->status);
		if (d->domain[0] != '\0') {
			mx_route_free(d->route);
			d->route = NULL;
		}
		while ((j = TAILQ_FIRST(&d->wait)) != NULL) {
			TAILQ_REMOVE(&d->wait, j, link);
			job_fail_all(s, j, o, why, st, NULL, false);
		}
		return;
	}
	/* Idle sessions first (connection reuse). */
	TAILQ_FOREACH_SAFE(k, &d->conns, link, kn) {
		if (k->idle == NULL || k->job != NULL)
			continue;
		if ((j = conn_pick(k)) != NULL)
			conn_send(k, j);
		if (TAILQ_EMPTY(&d->wait))
			return;
	}
	while ((j = TAILQ_FIRST(&d->wait)) != NULL &&
	    d->nconn < (unsigned)r->cfg.max_conn_dest) {
		if (s->nconn >= (unsigned)r->cfg.max_conn &&
		    !close_one_idle(s, d))
			break;
		conn_new(d, j);
	}
}

/* ---- the scheduler ---- */

static void
run(struct sched *s)
{
	struct item *it, *itn;
	struct dest *d, *dn;
	time_t now = time(NULL);

	if (s->stopping)
		return;
	TAILQ_FOREACH_SAFE(it, &s->items, link, itn) {
		struct job **jobs;
		size_t njobs = 0;

		if (it->gone)
			continue;
		jobs = xcalloc(it->env.nrcpt ? it->env.nrcpt : 1, sizeof(*jobs));
		for (size_t i = 0; i < it->env.nrcpt; i++) {
			struct q_rcpt *rc = &it->env.rcpt[i];
			char dom[DOMAIN_BUF];
			struct job *j = NULL;

			if (rc->state != Q_PENDING || it->busy[i] ||
			    rc->next_try > now)
				continue;
			relay_domain_of(rc->addr, dom, sizeof(dom));
			for (size_t k = 0; k < njobs; k++)
				if (strcmp(jobs[k]->d->domain, dom) == 0)
					j = jobs[k];
			if (j == NULL) {
				j = xcalloc(1, sizeof(*j));
				j->it = it;
				j->d = dest_get(s, dom);
				j->idx = xcalloc(it->env.nrcpt, sizeof(size_t));
				j->require_tls = it->env.require_tls;
				jobs[njobs++] = j;
				it->jobs++;
			}
			j->idx[j->n++] = i;
			it->busy[i] = true;
		}
		for (size_t k = 0; k < njobs; k++)
			TAILQ_INSERT_TAIL(&jobs[k]->d->wait, jobs[k], link);
		free(jobs);
	}
	TAILQ_FOREACH_SAFE(d, &s->dests, link, dn)
		dest_pump(d);
	TAILQ_FOREACH_SAFE(d, &s->dests, link, dn)
		if (TAILQ_EMPTY(&d->wait) && TAILQ_EMPTY(&d->conns) &&
		    d->lk == NULL && (d->route == NULL || now >= d->route_exp))
			dest_free(s, d);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	run(arg);
}

struct sched *
sched_new(struct relay *r)
{
	struct sched *s = xcalloc(1, sizeof(*s));
	struct timeval one = { 1, 0 };

	s->r = r;
	s->t.retry_min = (long)r->cfg.retry_min;
	s->t.retry_max = (long)r->cfg.retry_max;
	s->t.max_lifetime = (long)r->cfg.max_lifetime;
	s->t.delay_notice = (long)r->cfg.delay_notice;
	TAILQ_INIT(&s->items);
	TAILQ_INIT(&s->dests);
	s->kick = event_new(r->base, -1, 0, on_kick, s);
	s->tick = event_new(r->base, -1, EV_PERSIST, on_kick, s);
	event_add(s->tick, &one);
	return s;
}

void
sched_flush(struct sched *s)
{
	struct item *it, *itn;
	size_t n = 0;

	TAILQ_FOREACH_SAFE(it, &s->items, link, itn) {
		if (it->gone)
			continue;
		if (it->jobs == 0) {
			struct q_env disk;

			memset(&disk, 0, sizeof(disk));
			if (queue_load(s->r->q, it->env.id, &disk) == PTT_ENOENT) {
				log_info(it->env.id, "removed from the queue by hand");
				item_free(s, it);
				continue;
			}
			if (disk.nrcpt == it->env.nrcpt) {
				q_env_free(&it->env);
				it->env = disk;
			} else {
				q_env_free(&disk);
			}
		}
		for (size_t i = 0; i < it->env.nrcpt; i++)
			if (it->env.rcpt[i].state == Q_PENDING && !it->busy[i]) {
				it->env.rcpt[i].next_try = 0;
				n++;
			}
	}
	log_info(NULL, "flush: %zu recipients of %zu messages due now", n,
	    s->nitems);
	kick(s);
}

void
sched_stop(struct sched *s, void (*done)(void *), void *arg)
{
	struct dest *d, *dn;
	struct conn *k, *kn;

	s->stopping = true;
	event_del(s->tick);
	TAILQ_FOREACH_SAFE(d, &s->dests, link, dn) {
		struct job *j;

		while ((j = TAILQ_FIRST(&d->wait)) != NULL) {
			TAILQ_REMOVE(&d->wait, j, link);
			job_release(s, j);
		}
		mx_lookup_cancel(d->lk);
		d->lk = NULL;
		TAILQ_FOREACH_SAFE(k, &d->conns, link, kn)
			if (k->idle != NULL)
				conn_close(k);
	}
	log_info(NULL, "stopping: %u deliveries in flight", s->inflight);
	if (s->inflight == 0) {
		done(arg);
		return;
	}
	s->stop_done = done;
	s->stop_arg = arg;
}

void
sched_free(struct sched *s)
{
	struct dest *d;
	struct item *it;

	while ((d = TAILQ_FIRST(&s->dests)) != NULL) {
		struct conn *k;

		while ((k = TAILQ_FIRST(&d->conns)) != NULL) {
			if (k->job != NULL) {
				job_release(s, k->job);
				k->job = NULL;
			}
			if (k->c != NULL) {
				smtp_client_free(k->c);
				k->c = NULL;
			}
			conn_close(k);
		}
		dest_free(s, d);
	}
	while ((it = TAILQ_FIRST(&s->items)) != NULL)
		item_free(s, it);
	while (s->nquitting > 0)
		smtp_client_free(s->quitting[--s->nquitting]);
	free(s->quitting);
	event_free(s->tick);
	event_free(s->kick);
	free(s);
}
