/*
 * accept.c - the relay's internal listener: mail from ptt's own hops only.
 *
 * RFC 5321 (server side, through smtp/server.h), RFC 3207 STARTTLS with a
 * client certificate (mutual TLS): a peer must present a certificate of
 * the internal CA carrying one of allowed_peers, checked in the tls hook;
 * anyone else gets 421 and a log line, and since the server requires TLS
 * before MAIL, a plaintext client cannot inject anything. The relay is
 * never an open relay.
 *
 * A message is answered 250 only after queue_store() returned 0 (the
 * message and its envelope are fsync'd): DESIGN.md "No lost mail". The
 * envelope keeps the RFC 3461 parameters (NOTIFY, ORCPT, RET, ENVID),
 * BODY=8BITMIME and SMTPUTF8.
 *
 * REQUIRETLS: smtp/proto.h does not parse RFC 8689's REQUIRETLS MAIL
 * parameter, so the TLS-only policy travels in a header field,
 * X-Ptt-Require-TLS: yes, honoured only from require_tls_peers (by default
 * the signer, which sets it from the user's policy) and removed from every
 * message before it is queued, whoever sent it.
 *
 * Trusts: the certificate check; nothing else from the peer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/srs.h"
#include "mail/hdr.h"
#include "relay/relay.h"
#include "smtp/data.h"
#include "smtp/server.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/tls.h"

#define REQUIRE_TLS_FIELD "X-Ptt-Require-TLS"

struct sess {
	char *peer;	/* the allowed name the certificate carries */
};

int
relay_env_from_smtp(const struct smtp_envelope *e, struct q_env *env,
    char *err, size_t errlen)
{
	if (e->nrcpt == 0) {
		snprintf(err, errlen, "no recipients");
		return PTT_EINVAL;
	}
	env->sender = xstrdup(e->from.null ? "" : e->from.addr);
	env->envid = e->mail.envid[0] != '\0' ? xstrdup(e->mail.envid) : NULL;
	env->ret = e->mail.ret;
	env->eightbit = e->mail.body == SMTP_BODY_8BITMIME ||
	    (e->data_flags & SMTP_DATA_8BIT) != 0;
	env->smtputf8 = e->mail.smtputf8;
	for (size_t i = 0; i < e->nrcpt; i++) {
		const struct smtp_rcpt *sr = &e->rcpt[i];
		struct q_rcpt *r = q_env_add_rcpt(env, sr->path.addr);

		r->notify = sr->params.notify;
		if (sr->params.orcpt_type[0] != '\0') {
			struct buf b;

			buf_init(&b, 0);
			buf_addf(&b, "%s;%s", sr->params.orcpt_type,
			    sr->params.orcpt_addr);
			r->orcpt = buf_steal(&b, NULL);
		}
	}
	return 0;
}

int
relay_strip_require_tls(const void *msg, size_t len, struct buf *out,
    bool *yes)
{
	struct mail_hdr h;
	size_t i;
	bool found = false;
	int r;

	*yes = false;
	mail_hdr_parse(&h, msg, len, NULL);
	while ((i = mail_hdr_find(&h, REQUIRE_TLS_FIELD, 0)) != MAIL_HDR_NONE) {
		if (strcasecmp(h.f[i].value, "yes") == 0)
			*yes = true;
		mail_hdr_remove(&h, i);
		found = true;
	}
	if (found)
		r = mail_hdr_write(&h, out, 0);
	else
		r = buf_add(out, msg, len);
	mail_hdr_free(&h);
	return r != 0 ? r : buf_error(out);
}

static struct relay *
relay_of(struct smtp_session *s)
{
	return smtp_server_arg(smtp_session_server(s));
}

static bool
on_tls(struct smtp_session *s, SSL *ssl)
{
	struct relay *r = relay_of(s);
	const char *list = r->cfg.allowed_peers;
	char why[256] = "no certificate name allowed";

	for (const char *p = list; p != NULL && *p != '\0';) {
		char name[256];
		size_t w;

		p += strspn(p, " \t,");
		w = strcspn(p, " \t,");
		if (w == 0 || w >= sizeof(name)) {
			p += w;
			continue;
		}
		memcpy(name, p, w);
		name[w] = '\0';
		p += w;
		if (tls_check_peer(ssl, name, NULL, why, sizeof(why)) == 0) {
			struct sess *ss = xcalloc(1, sizeof(*ss));

			ss->peer = xstrdup(name);
			smtp_session_set_data(s, ss);
			log_info(smtp_session_id(s), "peer %s authenticated", name);
			return true;
		}
	}
	log_warn(smtp_session_id(s), "refused peer %s: certificate names "
	    "none of allowed_peers (%s)", smtp_session_info(s)->peer_addr, why);
	return false;
}

static void
on_mail(struct smtp_session *s, const struct smtp_path *from,
    const struct smtp_mail_params *p)
{
	struct relay *r = relay_of(s);

	if (smtp_session_data(s) == NULL) {
		log_warn(smtp_session_id(s), "MAIL without an authenticated peer");
		smtp_session_reply(s, 530, "5.7.0",
		    "Must present an internal client certificate first");
		return;
	}
	if (r->stopping) {
		smtp_session_reply(s, 421, "4.3.2", "Shutting down");
		return;
	}
	smtp_session_reply(s, 250, "2.1.0", "Ok");
}

void
relay_local_of(const struct relay *r, struct relay_local *l)
{
	memset(l, 0, sizeof(*l));
	l->domains = r->cfg.domains;
	l->users = r->users;
	l->postmaster = r->cfg.postmaster;
	l->srs = r->srs;
	l->srs_domain = r->cfg.srs_domain;
	l->now = time(NULL);
}

static size_t
pending(const struct q_env *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->nrcpt; i++)
		n += e->rcpt[i].state == Q_PENDING;
	return n;
}

/* Log what expansion did to the recipients of a stored envelope. */
static void
log_expansion(const struct relay_expansion *x, int g, const char *id)
{
	const struct q_env *e = &x->env[g];

	for (size_t i = 0; i < e->nrcpt; i++) {
		if (x->via[g][i] != NULL)
			log_info(id, "to=<%s>, forwarded for <%s>%s%s%s",
			    e->rcpt[i].addr, x->via[g][i],
			    g == 1 ? ", from=<" : "", g == 1 ? e->sender : "",
			    g == 1 ? "> (SRS)" : "");
		else if (e->rcpt[i].state == Q_FAILED)
			log_info(id, "to=<%s>, status=%s (%s)", e->rcpt[i].addr,
			    e->rcpt[i].status, e->rcpt[i].reply);
	}
}

static void
log_received(struct smtp_session *s, const struct q_env *env)
{
	log_info(env->id, "received from=<%s>, size=%zu, nrcpt=%zu, peer=%s, "
	    "session=%s%s", env->sender, env->size, env->nrcpt,
	    ((struct sess *)smtp_session_data(s))->peer, smtp_session_id(s),
	    env->require_tls ? ", require_tls=yes" : "");
}

/* One envelope stored with group commit (src/lib/queue: the messages of
 * one event-loop turn share two fsyncs): answered once it is durable. */
struct astore {
	struct relay *r;
	struct smtp_session *s;
	struct relay_expansion x;
	int g;
};

static void
stored_async(int ret, const struct q_env *env, void *arg)
{
	struct astore *a = arg;
	struct smtp_session *s = a->s;

	if (ret != 0)
		smtp_session_reply(s, 451, "4.3.0",
		    "Local error: the message could not be queued");
	else {
		log_received(s, env);
		log_expansion(&a->x, a->g, env->id);
		smtp_session_reply(s, 250, "2.0.0", "Ok: queued as %s", env->id);
		sched_add(a->r->sched, env);
	}
	relay_expansion_free(&a->x);
	free(a);
}

/*
 * Expand env's local recipients (expand.c) and store what results: one
 * envelope, or two when forwarded recipients travel with an SRS sender
 * and others with the original one. Both are on disk before the 250;
 * when the second cannot be stored the first is removed again (nothing
 * was acknowledged). When no recipient is left to deliver to, the
 * message is refused with the first failure's 550 instead. The usual
 * case, one envelope, goes through group commit and is answered from its
 * callback. 0 (answered 250, or will be once durable), PTT_ENOENT
 * (answered 550), or another PTT_E* (not answered).
 */
static int
store_expanded(struct relay *r, struct smtp_session *s, struct q_env *env,
    const void *msg, size_t len)
{
	struct relay_local l;
	struct relay_expansion x;
	char err[256], ids[2 * QUEUE_ID_LEN + 8] = "";
	int ret = 0, stored[2] = { 0, 0 };

	relay_local_of(r, &l);
	relay_expand(&l, env, &x);
	if (x.nfailed > 0 && pending(&x.env[0]) + pending(&x.env[1]) == 0) {
		log_info(smtp_session_id(s), "refused from=<%s>: %s",
		    env->sender, x.fail_reply);
		smtp_session_reply(s, 550, x.fail_status, "%s", x.fail_reply);
		relay_expansion_free(&x);
		return PTT_ENOENT;
	}
	if (x.srs_error != 0)
		log_warn(smtp_session_id(s), "sender <%s> not rewritten: %s",
		    env->sender, srs_strerror(x.srs_error));
	if ((x.env[0].nrcpt == 0) != (x.env[1].nrcpt == 0)) {
		struct astore *a = xcalloc(1, sizeof(*a));
		a->r = r;
		a->s = s;
		a->x = x;
		a->g = x.env[0].nrcpt ? 0 : 1;
		ret = queue_store_async(r->q, &a->x.env[a->g], msg, len,
		    stored_async, a, err, sizeof(err));
		if (ret != 0) {
			log_err(smtp_session_id(s), "queue_store failed: %s", err);
			relay_expansion_free(&a->x);
			free(a);
		}
		return ret;
	}
	for (int g = 0; g < 2 && ret == 0; g++) {
		if (x.env[g].nrcpt == 0)
			continue;
		ret = queue_store(r->q, &x.env[g], msg, len, err, sizeof(err));
		if (ret != 0) {
			log_err(smtp_session_id(s), "queue_store failed: %s", err);
			break;
		}
		stored[g] = 1;
		log_received(s, &x.env[g]);
		log_expansion(&x, g, x.env[g].id);
	}
	if (ret != 0) {
		for (int g = 0; g < 2; g++)
			if (stored[g] && queue_remove(r->q, x.env[g].id) == 0)
				log_info(x.env[g].id, "removed: its other part "
				    "could not be queued");
		relay_expansion_free(&x);
		return ret;
	}
	for (int g = 0; g < 2; g++) {
		if (!stored[g])
			continue;
		if (ids[0] != '\0')
			ptt_strlcat(ids, " ", sizeof(ids));
		ptt_strlcat(ids, x.env[g].id, sizeof(ids));
	}
	smtp_session_reply(s, 250, "2.0.0", "Ok: queued as %s", ids);
	for (int g = 0; g < 2; g++)
		if (stored[g])
			sched_add(r->sched, &x.env[g]);
	relay_expansion_free(&x);
	return 0;
}

static void
on_message(struct smtp_session *s, const struct smtp_envelope *e,
    const uint8_t *msg, size_t len)
{
	struct relay *r = relay_of(s);
	struct sess *ss = smtp_session_data(s);
	struct q_env env;
	struct buf b, origin;
	char err[256];
	bool yes = false;
	int ret;

	memset(&env, 0, sizeof(env));
	if (ss == NULL) {
		smtp_session_reply(s, 530, "5.7.0", "Not authenticated");
		return;
	}
	if (relay_env_from_smtp(e, &env, err, sizeof(err)) != 0) {
		log_warn(smtp_session_id(s), "refused message: %s", err);
		smtp_session_reply(s, 554, "5.5.1", "%s", err);
		q_env_free(&env);
		return;
	}
	buf_init(&b, 0);
	if (relay_strip_require_tls(msg, len, &b, &yes) != 0) {
		smtp_session_reply(s, 451, "4.3.0", "Local error");
		q_env_free(&env);
		buf_free(&b);
		return;
	}
	if (yes) {
		if (relay_word_in(r->cfg.require_tls_peers, ss->peer))
			env.require_tls = true;
		else
			log_warn(smtp_session_id(s), "ignored %s from %s (not in "
			    "require_tls_peers)", REQUIRE_TLS_FIELD, ss->peer);
	}
	buf_init(&origin, 0);
	buf_addf(&origin, "%s/%s", ss->peer, smtp_session_id(s));
	env.origin = buf_steal(&origin, NULL);
	ret = store_expanded(r, s, &env, b.data, b.len);
	buf_free(&b);
	q_env_free(&env);
	if (ret == 0)
		return;
	if (ret == PTT_ENOENT)
		return;		/* refused, answered */
	smtp_session_reply(s, 451, "4.3.0",
	    "Local error: the message could not be queued");
}

static void
on_disconnect(struct smtp_session *s)
{
	struct sess *ss = smtp_session_data(s);

	if (ss != NULL) {
		free(ss->peer);
		free(ss);
		smtp_session_set_data(s, NULL);
	}
}

struct smtp_server *
relay_server_new(struct relay *r)
{
	static const struct smtp_hooks hooks = {
		.mail = on_mail,
		.message = on_message,
		.tls = on_tls,
		.disconnect = on_disconnect,
	};
	struct smtp_server_config sc = {
		.hostname = r->cfg.helo_name,
		.greeting = "ESMTP ptt-relay",
		.tls = r->srv_ctx,
		.starttls = !r->cfg.implicit_tls,
		.require_tls = true,
		.ext_disable = SMTP_EXT_BINARYMIME | SMTP_EXT_AUTH,
		.max_size = r->cfg.max_size,
		.max_rcpts = (unsigned)r->cfg.max_rcpts,
	};

	return smtp_server_new(r->base, &sc, &hooks, r);
}
