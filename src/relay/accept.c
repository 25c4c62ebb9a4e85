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

/* Is name one of the space-separated words of list? */
static bool
in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p != NULL && *p != '\0';) {
		size_t w;

		p += strspn(p, " \t,");
		w = strcspn(p, " \t,");
		if (w == n && w > 0 && strncasecmp(p, name, n) == 0)
			return true;
		p += w;
	}
	return false;
}

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
		if (in_list(r->cfg.require_tls_peers, ss->peer))
			env.require_tls = true;
		else
			log_warn(smtp_session_id(s), "ignored %s from %s (not in "
			    "require_tls_peers)", REQUIRE_TLS_FIELD, ss->peer);
	}
	buf_init(&origin, 0);
	buf_addf(&origin, "%s/%s", ss->peer, smtp_session_id(s));
	env.origin = buf_steal(&origin, NULL);
	ret = queue_store(r->q, &env, b.data, b.len, err, sizeof(err));
	buf_free(&b);
	if (ret != 0) {
		log_err(smtp_session_id(s), "queue_store failed: %s", err);
		smtp_session_reply(s, 451, "4.3.0",
		    "Local error: the message could not be queued");
		q_env_free(&env);
		return;
	}
	log_info(env.id, "received from=<%s>, size=%zu, nrcpt=%zu, peer=%s, "
	    "session=%s%s", env.sender, env.size, env.nrcpt, ss->peer,
	    smtp_session_id(s), env.require_tls ? ", require_tls=yes" : "");
	smtp_session_reply(s, 250, "2.0.0", "Ok: queued as %s", env.id);
	sched_add(r->sched, &env);
	q_env_free(&env);
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
