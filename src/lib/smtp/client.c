/*
 * client.c - asynchronous SMTP client sessions (see client.h for the RFCs:
 * 5321, 3207, 8314, 4954/4616, 2920, 1870, 6152, 6531, 3030, 3461, 8689,
 * 3463).
 *
 * One state machine per connection. Commands we sent and whose replies we
 * still expect sit in a FIFO (pend[]); each complete reply pops the head
 * and is handled by what that command was, so pipelined replies (RFC 2920)
 * are matched in order. Timeouts follow RFC 5321 4.5.3.2 per awaited reply.
 *
 * Trusts: nothing from the server. Replies are parsed by smtp/reply.c;
 * after the 220 to STARTTLS any byte already buffered is a protocol error
 * (command injection, CVE-2011-0411 style). Trusts the caller's SSL_CTX
 * and addresses.
 */
#include "smtp/client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "smtp/dotstuff.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/tls.h"

enum cmd {
	C_GREETING, C_EHLO, C_HELO, C_STARTTLS, C_AUTH, C_AUTH_USER,
	C_AUTH_PASS, C_RSET, C_MAIL, C_RCPT, C_DATA, C_DOT, C_BDAT,
	C_BDAT_LAST, C_QUIT,
};

enum phase {
	P_NEW,		/* not started */
	P_CONNECTING,	/* TCP connect in progress */
	P_HANDSHAKE,	/* TLS handshake in progress */
	P_SETUP,	/* greeting, EHLO, STARTTLS, AUTH */
	P_READY,	/* idle: can take a message */
	P_TXN,		/* a message in flight */
	P_QUIT,		/* QUIT sent */
	P_DEAD,		/* closed */
};

struct pend {
	enum cmd cmd;
	size_t idx;	/* RCPT: recipient index; C_DOT: 1 when aborting */
};

#define WRITE_HIGH	(256 * 1024)	/* stop feeding the body above this */
#define FEED_STEP	(64 * 1024)
#define ADDR_MAX	1000

struct smtp_client {
	struct event_base *base;
	struct bufferevent *bev;	/* the socket, or a TLS filter over it;
					 * freeing it closes the socket */
	SSL *ssl;		/* owned by bev (BEV_OPT_CLOSE_ON_FREE) */
	enum phase phase;

	/* options (strings copied) */
	char id[24];
	char *helo, *sni, *verify_name, *pin, *cache_key, *user, *pass;
	enum smtp_tls_policy policy;
	unsigned auth_mech;
	bool implicit_tls, want_bdat, no_pipelining;
	SSL_CTX *ssl_ctx;
	size_t chunk_size;
	struct smtp_timeouts tmo;

	struct smtp_caps caps;
	bool tls, authed, starttls_refused, need_rset, esmtp;
	char tlsinfo[160];

	struct smtp_reply cur;	/* the reply being read */
	struct pend *pend;
	size_t pend_head, pend_n, pend_cap;

	smtp_client_cb cb;	/* ready / txn / quit callback */
	void *cbarg;
	struct smtp_result res;
	size_t res_cap;

	/* the message in flight */
	struct smtp_txn txn;
	bool pipelined, mail_sent, mail_ok, mail_failed, rcpt_temp;
	bool use_bdat, feeding, final_done;
	size_t next_rcpt, nreplied, off;
	struct smtp_reply mail_reply;
	struct smtp_dotenc enc;

	struct event *later;	/* deferred callback */
	int depth;		/* nesting of our event callbacks */
	bool zombie;		/* freed inside a callback */
};

static void fail(struct smtp_client *c, enum smtp_outcome out,
    enum smtp_reason why, const char *enh, const char *fmt, ...)
    PTT_PRINTF(5, 6);
static void after_ehlo(struct smtp_client *c);
static void destroy(struct smtp_client *c);

const char *
smtp_outcome_name(enum smtp_outcome o)
{
	switch (o) {
	case SMTP_OUT_OK: return "ok";
	case SMTP_OUT_TEMP: return "temporary failure";
	case SMTP_OUT_PERM: return "permanent failure";
	}
	return "?";
}

const char *
smtp_reason_name(enum smtp_reason r)
{
	static const char *const names[] = { "none", "reply", "network",
	    "timeout", "tls", "protocol", "policy" };

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static unsigned
dflt(unsigned v, unsigned d)
{
	return v != 0 ? v : d;
}

struct smtp_client *
smtp_client_new(struct event_base *base, const struct smtp_client_opts *o)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));

	c->base = base;
	if (o->id != NULL)
		ptt_strlcpy(c->id, o->id, sizeof(c->id));
	else
		log_newid(c->id, 10);
	c->helo = xstrdup(o->helo != NULL ? o->helo : "localhost");
	c->sni = dup_or_null(o->sni);
	c->verify_name = dup_or_null(o->verify_name != NULL ? o->verify_name : o->sni);
	c->pin = dup_or_null(o->pin);
	c->cache_key = dup_or_null(o->tls_cache_key);
	if (o->auth_user != NULL && o->auth_pass != NULL) {
		c->user = xstrdup(o->auth_user);
		c->pass = xstrdup(o->auth_pass);
	}
	c->policy = o->tls;
	c->auth_mech = o->auth_mech;
	c->implicit_tls = o->implicit_tls;
	c->ssl_ctx = o->ssl_ctx;
	c->want_bdat = o->bdat;
	c->no_pipelining = o->no_pipelining;
	c->chunk_size = o->chunk_size != 0 ? o->chunk_size : 256 * 1024;
	c->tmo.connect = dflt(o->tmo.connect, 30);
	c->tmo.greeting = dflt(o->tmo.greeting, 300);
	c->tmo.ehlo = dflt(o->tmo.ehlo, 300);
	c->tmo.mail = dflt(o->tmo.mail, 300);
	c->tmo.rcpt = dflt(o->tmo.rcpt, 300);
	c->tmo.data_init = dflt(o->tmo.data_init, 120);
	c->tmo.data_block = dflt(o->tmo.data_block, 180);
	c->tmo.data_term = dflt(o->tmo.data_term, 600);
	smtp_reply_init(&c->cur);
	smtp_reply_init(&c->mail_reply);
	smtp_reply_init(&c->res.reply);
	c->pend_cap = 16;
	c->pend = xcalloc(c->pend_cap, sizeof(*c->pend));
	c->phase = P_NEW;
	return c;
}

bool
smtp_client_alive(const struct smtp_client *c)
{
	return c->phase == P_READY && !c->zombie;
}

const struct smtp_caps *
smtp_client_caps(const struct smtp_client *c)
{
	return &c->caps;
}

const char *
smtp_client_tls_info(const struct smtp_client *c)
{
	return c->tlsinfo;
}

const char *
smtp_client_id(const struct smtp_client *c)
{
	return c->id;
}

/* ---- the connection ---- */

static void
close_conn(struct smtp_client *c)
{
	/* TLS 1.3 tickets arrive after the handshake: remember the session
	 * again now that they have */
	if (c->ssl != NULL && c->tls && c->cache_key != NULL)
		tls_client_save_session(c->ssl, c->cache_key);
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->ssl = NULL;	/* freed with its bufferevent */
	}
	c->phase = P_DEAD;
	c->pend_n = 0;
	c->feeding = false;
}

/* Enter/leave one of our libevent callbacks (free-safety). */
static void
enter(struct smtp_client *c)
{
	c->depth++;
}

static void
leave(struct smtp_client *c)
{
	if (--c->depth == 0 && c->zombie)
		destroy(c);
}

static unsigned
timeout_for(const struct smtp_client *c, enum cmd cmd)
{
	switch (cmd) {
	case C_GREETING: return c->tmo.greeting;
	case C_MAIL: return c->tmo.mail;
	case C_RCPT: return c->tmo.rcpt;
	case C_DATA: return c->tmo.data_init;
	case C_BDAT:
	case C_DOT:
	case C_BDAT_LAST: return c->tmo.data_term;
	default: return c->tmo.ehlo;
	}
}

/* Read timeout for the reply at the head of the queue; none when idle. */
static void
update_timeouts(struct smtp_client *c)
{
	struct timeval r, w = { c->tmo.data_block, 0 };

	if (c->bev == NULL)
		return;
	if (c->phase == P_CONNECTING || c->phase == P_HANDSHAKE) {
		r.tv_sec = c->phase == P_CONNECTING ? c->tmo.connect : c->tmo.ehlo;
		r.tv_usec = 0;
		bufferevent_set_timeouts(c->bev, &r, &r);
		return;
	}
	if (c->pend_n > 0) {
		r.tv_sec = timeout_for(c, c->pend[c->pend_head].cmd);
		r.tv_usec = 0;
		bufferevent_set_timeouts(c->bev, &r, &w);
	} else {
		bufferevent_set_timeouts(c->bev, NULL, &w);
	}
}

static void
push(struct smtp_client *c, enum cmd cmd, size_t idx)
{
	size_t i;

	if (c->pend_n == c->pend_cap) {
		struct pend *np = xcalloc(c->pend_cap * 2, sizeof(*np));

		for (i = 0; i < c->pend_n; i++)
			np[i] = c->pend[(c->pend_head + i) % c->pend_cap];
		free(c->pend);
		c->pend = np;
		c->pend_head = 0;
		c->pend_cap *= 2;
	}
	c->pend[(c->pend_head + c->pend_n) % c->pend_cap] =
	    (struct pend){ cmd, idx };
	c->pend_n++;
	if (c->pend_n == 1)
		update_timeouts(c);
}

/* Send one command line (CRLF added) and expect a reply for it. */
static void PTT_PRINTF(4, 5)
sendf(struct smtp_client *c, enum cmd cmd, size_t idx, const char *fmt, ...)
{
	va_list ap;
	struct evbuffer *out;

	if (c->bev == NULL)
		return;
	out = bufferevent_get_output(c->bev);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	if (cmd != C_AUTH_USER && cmd != C_AUTH_PASS && cmd != C_AUTH) {
		va_start(ap, fmt);
		if (log_get_level() == LOG_LVL_DEBUG) {
			char line[512];

			vsnprintf(line, sizeof(line), fmt, ap);
			log_debug(c->id, "> %s", line);
		}
		va_end(ap);
	}
	push(c, cmd, idx);
}

/* ---- results ---- */

static void
res_prepare(struct smtp_client *c, size_t nrcpt)
{
	size_t i;

	if (nrcpt > c->res_cap) {
		c->res.rcpt = xreallocarray(c->res.rcpt, nrcpt,
		    sizeof(*c->res.rcpt));
		for (i = c->res_cap; i < nrcpt; i++)
			smtp_reply_init(&c->res.rcpt[i].reply);
		c->res_cap = nrcpt;
	}
	for (i = 0; i < nrcpt; i++) {
		c->res.rcpt[i].outcome = SMTP_OUT_TEMP;
		smtp_reply_reset(&c->res.rcpt[i].reply);
	}
	c->res.nrcpt = nrcpt;
	c->res.naccepted = 0;
	c->res.outcome = SMTP_OUT_OK;
	c->res.reason = SMTP_R_NONE;
	c->res.tls_fallback_ok = false;
	smtp_reply_reset(&c->res.reply);
}

static enum smtp_outcome
outcome_of(const struct smtp_reply *r)
{
	int cls = r->code != 0 ? smtp_reply_class(r) : r->enh[0] - '0';

	if (cls == 2 || cls == 3)
		return SMTP_OUT_OK;
	return cls == 5 ? SMTP_OUT_PERM : SMTP_OUT_TEMP;
}

static void
log_txn(struct smtp_client *c)
{
	char rs[300];
	size_t i;

	for (i = 0; i < c->res.nrcpt; i++) {
		const struct smtp_rcpt_result *rr = &c->res.rcpt[i];

		log_info(c->id, "to=<%s>, tls=%s, status=%s (%s)",
		    c->txn.rcpt[i].addr, c->tls ? "yes" : "no",
		    rr->outcome == SMTP_OUT_OK ? "sent" :
		    rr->outcome == SMTP_OUT_TEMP ? "deferred" : "bounced",
		    smtp_reply_str(&rr->reply, rs, sizeof(rs)));
	}
}

/* Call the pending callback once with c->res. */
static void
callback(struct smtp_client *c)
{
	smtp_client_cb cb = c->cb;
	void *arg = c->cbarg;

	c->cb = NULL;
	c->res.tls = c->tls;
	c->res.auth = c->authed;
	if (cb != NULL && !c->zombie)
		cb(c, &c->res, arg);
}

static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;

	enter(c);
	callback(c);
	leave(c);
}

/* Deliver c->res from the event loop (for results decided synchronously
 * inside a public call). */
static void
callback_later(struct smtp_client *c)
{
	struct timeval zero = { 0, 0 };

	if (c->later == NULL)
		c->later = evtimer_new(c->base, later_cb, c);
	evtimer_add(c->later, &zero);
}

/* The transaction is over: decide every recipient and call back. final is
 * the reply after the message; NULL when no message was sent (MAIL failed
 * or no recipient was accepted). */
static void
txn_done(struct smtp_client *c, const struct smtp_reply *final)
{
	size_t i;
	struct smtp_result *r = &c->res;
	bool any_temp = false;

	if (c->mail_failed) {
		r->outcome = outcome_of(&c->mail_reply);
		r->reason = SMTP_R_REPLY;
		smtp_reply_copy(&r->reply, &c->mail_reply);
		for (i = 0; i < r->nrcpt; i++) {
			r->rcpt[i].outcome = r->outcome;
			smtp_reply_copy(&r->rcpt[i].reply, &c->mail_reply);
		}
		r->naccepted = 0;
	} else if (r->naccepted == 0) {
		for (i = 0; i < r->nrcpt; i++)
			if (r->rcpt[i].outcome == SMTP_OUT_TEMP)
				any_temp = true;
		r->outcome = any_temp ? SMTP_OUT_TEMP : SMTP_OUT_PERM;
		r->reason = SMTP_R_REPLY;
		if (r->nrcpt > 0)
			smtp_reply_copy(&r->reply, &r->rcpt[r->nrcpt - 1].reply);
	} else if (final == NULL) {
		panic("transaction ended without a final reply");
	} else {
		enum smtp_outcome o = outcome_of(final);

		if (final->code / 100 == 3)
			o = SMTP_OUT_TEMP;	/* 3xx is not a final answer */
		smtp_reply_copy(&r->reply, final);
		r->outcome = o;
		r->reason = o == SMTP_OUT_OK ? SMTP_R_NONE : SMTP_R_REPLY;
		for (i = 0; i < r->nrcpt; i++) {
			if (r->rcpt[i].outcome != SMTP_OUT_OK)
				continue;
			r->rcpt[i].outcome = o;
			smtp_reply_copy(&r->rcpt[i].reply, final);
		}
		if (o != SMTP_OUT_OK)
			r->naccepted = 0;
	}
	c->need_rset = r->outcome != SMTP_OUT_OK;
	c->final_done = true;
	log_txn(c);
	if (c->phase == P_TXN)
		c->phase = P_READY;
	callback(c);
}

/* The session failed (network, timeout, TLS, protocol, policy, or a reply
 * that ends it). Closes the connection and reports to whoever waits. */
static void
fail(struct smtp_client *c, enum smtp_outcome out, enum smtp_reason why,
    const char *enh, const char *fmt, ...)
{
	va_list ap;
	char text[300];
	enum phase was = c->phase;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_info(c->id, "session failed: %s: %s", smtp_reason_name(why), text);
	if (why != SMTP_R_REPLY)
		smtp_reply_set(&c->res.reply, 0, enh, text);
	c->res.outcome = out;
	c->res.reason = why;
	if (was == P_TXN && !c->final_done) {
		for (i = 0; i < c->res.nrcpt; i++) {
			struct smtp_rcpt_result *rr = &c->res.rcpt[i];

			/* a recipient the server already refused keeps that
			 * answer; the others share the failure */
			if (rr->reply.code != 0 && rr->outcome != SMTP_OUT_OK &&
			    !c->mail_failed)
				continue;
			rr->outcome = out == SMTP_OUT_OK ? SMTP_OUT_TEMP : out;
			smtp_reply_copy(&rr->reply, &c->res.reply);
		}
		c->res.naccepted = 0;
		c->final_done = true;
		log_txn(c);
	}
	close_conn(c);
	if (was != P_READY && was != P_DEAD)
		callback(c);
}

/* Fail with a reply the server sent (the connection is given up: QUIT is
 * sent politely first). */
static void
fail_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	char s[300];

	smtp_reply_copy(&c->res.reply, r);
	if (c->bev != NULL && r->code != 421) {
		evbuffer_add(bufferevent_get_output(c->bev), "QUIT\r\n", 6);
		bufferevent_flush(c->bev, EV_WRITE, BEV_FLUSH);
	}
	fail(c, outcome_of(r), SMTP_R_REPLY, NULL, "%s",
	    smtp_reply_str(r, s, sizeof(s)));
}

/* ---- TLS ---- */

static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

/* Put a TLS filter over the plain bufferevent (RFC 3207 after the 220, or
 * right after connect for implicit TLS). */
static void
start_tls(struct smtp_client *c)
{
	SSL *ssl;
	struct bufferevent *bev;

	if (c->ssl_ctx == NULL) {
		fail(c, SMTP_OUT_TEMP, SMTP_R_POLICY, "4.7.5",
		    "TLS wanted but no TLS context configured");
		return;
	}
	ssl = tls_client_ssl(c->ssl_ctx, c->sni,
	    c->policy == SMTP_TLS_VERIFIED && c->pin == NULL ? c->verify_name : NULL,
	    c->cache_key);
	if (ssl == NULL) {
		char e[200];

		fail(c, SMTP_OUT_TEMP, SMTP_R_TLS, "4.7.5", "TLS setup: %s",
		    tls_errstr(e, sizeof(e)));
		return;
	}
	/* one context serves every policy: below "verified" a certificate
	 * that does not verify must not stop the handshake */
	if (c->policy != SMTP_TLS_VERIFIED)
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bev = bufferevent_openssl_filter_new(c->base, c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		fail(c, SMTP_OUT_TEMP, SMTP_R_TLS, "4.7.5",
		    "cannot create a TLS bufferevent");
		return;
	}
	c->bev = bev;	/* frees the plain one with it */
	c->ssl = ssl;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(bev, EV_WRITE, FEED_STEP, 0);
	c->phase = P_HANDSHAKE;
	update_timeouts(c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
tls_done(struct smtp_client *c)
{
	char why[256];

	if (c->policy == SMTP_TLS_VERIFIED) {
		int ret;

		if (c->pin != NULL) {
			ret = tls_check_peer(c->ssl, NULL, c->pin, why, sizeof(why));
		} else if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
			snprintf(why, sizeof(why), "certificate: %s",
			    X509_verify_cert_error_string(
			    SSL_get_verify_result(c->ssl)));
			ret = PTT_ETLS;
		} else if (SSL_get0_peer_certificate(c->ssl) == NULL) {
			snprintf(why, sizeof(why), "no peer certificate");
			ret = PTT_ETLS;
		} else {
			ret = tls_check_peer(c->ssl, c->verify_name, NULL, why,
			    sizeof(why));
		}
		if (ret != 0) {
			fail(c, SMTP_OUT_TEMP, SMTP_R_TLS, "4.7.5",
			    "TLS verification failed: %s", why);
			return;
		}
	}
	if (c->cache_key != NULL)
		tls_client_save_session(c->ssl, c->cache_key);
	tls_describe(c->ssl, c->tlsinfo, sizeof(c->tlsinfo));
	log_info(c->id, "TLS established: %s%s", c->tlsinfo,
	    c->policy == SMTP_TLS_VERIFIED ? " verified" : "");
	c->tls = true;
	c->phase = P_SETUP;
	memset(&c->caps, 0, sizeof(c->caps));
	if (c->implicit_tls)
		push(c, C_GREETING, 0);
	else
		sendf(c, C_EHLO, 0, "EHLO %s", c->helo);
	update_timeouts(c);
	/* a greeting decrypted together with the end of the handshake */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		read_cb(c->bev, c);
}

/* ---- session setup ---- */

static void
ready(struct smtp_client *c)
{
	c->phase = P_READY;
	c->res.outcome = SMTP_OUT_OK;
	c->res.reason = SMTP_R_NONE;
	c->res.nrcpt = 0;
	update_timeouts(c);
	log_debug(c->id, "session ready (tls=%s auth=%s caps=0x%x)",
	    c->tls ? "yes" : "no", c->authed ? "yes" : "no", c->caps.flags);
	callback(c);
}

static char *
b64(const void *p, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static void
start_auth(struct smtp_client *c)
{
	unsigned offered = c->caps.auth;

	if (!c->tls) {
		fail(c, SMTP_OUT_PERM, SMTP_R_POLICY, "5.7.11",
		    "refusing to send credentials without TLS");
		return;
	}
	if (c->auth_mech != 0)
		offered &= c->auth_mech;
	if (offered & SMTP_AUTH_PLAIN) {
		size_t ul = strlen(c->user), pl = strlen(c->pass);
		char *raw = xmalloc(ul + pl + 2), *enc;

		raw[0] = '\0';
		memcpy(raw + 1, c->user, ul);
		raw[ul + 1] = '\0';
		memcpy(raw + ul + 2, c->pass, pl);
		enc = b64(raw, ul + pl + 2);
		sendf(c, C_AUTH, 0, "AUTH PLAIN %s", enc);
		log_debug(c->id, "> AUTH PLAIN (credentials)");
		ptt_memzero(raw, ul + pl + 2);
		ptt_memzero(enc, strlen(enc));
		free(raw);
		free(enc);
	} else if (offered & SMTP_AUTH_LOGIN) {
		sendf(c, C_AUTH, 1, "AUTH LOGIN");
	} else {
		fail(c, SMTP_OUT_PERM, SMTP_R_POLICY, "5.7.8",
		    "server offers no AUTH mechanism we speak (PLAIN, LOGIN)");
	}
}

static void
after_ehlo(struct smtp_client *c)
{
	if (!c->tls && c->policy != SMTP_TLS_NONE && !c->starttls_refused &&
	    (c->ssl_ctx != NULL || c->policy != SMTP_TLS_OPPORTUNISTIC)) {
		if (c->caps.flags & SMTP_CAP_STARTTLS) {
			sendf(c, C_STARTTLS, 0, "STARTTLS");
			return;
		}
		if (c->policy != SMTP_TLS_OPPORTUNISTIC) {
			if (c->bev != NULL)
				evbuffer_add(bufferevent_get_output(c->bev),
				    "QUIT\r\n", 6);
			fail(c, SMTP_OUT_TEMP, SMTP_R_POLICY, "4.7.10",
			    "TLS required but the server does not offer STARTTLS");
			return;
		}
	}
	if (c->user != NULL && !c->authed) {
		if (!(c->caps.flags & SMTP_CAP_AUTH)) {
			fail(c, SMTP_OUT_PERM, SMTP_R_POLICY, "5.7.8",
			    "credentials given but the server offers no AUTH");
			return;
		}
		start_auth(c);
		return;
	}
	ready(c);
}

static void
setup_reply(struct smtp_client *c, struct pend p, const struct smtp_reply *r)
{
	int cls = smtp_reply_class(r);
	char *enc;

	switch (p.cmd) {
	case C_GREETING:
		if (cls != 2) {
			fail_reply(c, r);
			return;
		}
		sendf(c, C_EHLO, 0, "EHLO %s", c->helo);
		return;
	case C_EHLO:
		if (cls == 2) {
			c->esmtp = true;
			smtp_caps_parse(&c->caps, r);
			after_ehlo(c);
		} else if ((r->code == 500 || r->code == 502) && !c->tls) {
			sendf(c, C_HELO, 0, "HELO %s", c->helo);
		} else {
			fail_reply(c, r);
		}
		return;
	case C_HELO:
		if (cls != 2) {
			fail_reply(c, r);
			return;
		}
		memset(&c->caps, 0, sizeof(c->caps));
		after_ehlo(c);
		return;
	case C_STARTTLS:
		if (r->code == 220) {
			if (c->pend_n != 0 ||
			    evbuffer_get_length(bufferevent_get_input(c->bev))) {
				fail(c, SMTP_OUT_TEMP, SMTP_R_PROTOCOL, "4.5.0",
				    "data after the 220 to STARTTLS");
				return;
			}
			start_tls(c);
		} else if (c->policy == SMTP_TLS_OPPORTUNISTIC &&
		    (cls == 4 || cls == 5)) {
			/* RFC 3207 4: a refused STARTTLS may continue in
			 * plaintext when the policy allows it */
			c->starttls_refused = true;
			after_ehlo(c);
		} else {
			fail_reply(c, r);
		}
		return;
	case C_AUTH:
		if (r->code == 235) {
			c->authed = true;
			log_info(c->id, "authenticated as %s", c->user);
			after_ehlo(c);
		} else if (r->code == 334 && p.idx == 1) {
			enc = b64(c->user, strlen(c->user));
			sendf(c, C_AUTH_USER, 0, "%s", enc);
			free(enc);
		} else {
			if (r->code == 334) {
				/* a challenge we cannot answer: cancel */
				sendf(c, C_AUTH_PASS, 1, "*");
			}
			fail_reply(c, r);
		}
		return;
	case C_AUTH_USER:
		if (r->code == 334) {
			enc = b64(c->pass, strlen(c->pass));
			sendf(c, C_AUTH_PASS, 0, "%s", enc);
			ptt_memzero(enc, strlen(enc));
			free(enc);
		} else {
			fail_reply(c, r);
		}
		return;
	case C_AUTH_PASS:
		if (r->code == 235) {
			c->authed = true;
			log_info(c->id, "authenticated as %s", c->user);
			after_ehlo(c);
		} else {
			if (r->code == 334)
				sendf(c, C_AUTH_PASS, 1, "*");
			fail_reply(c, r);
		}
		return;
	default:
		fail(c, SMTP_OUT_TEMP, SMTP_R_PROTOCOL, "4.5.0",
		    "unexpected reply state");
		return;
	}
}

/* ---- transactions ---- */

/* xtext (RFC 3461 4): '+', '=' and bytes outside 0x21..0x7e as "+HH". */
static void
add_xtext(struct evbuffer *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == '+' || *p == '=') {
			char e[3] = { '+', hex[*p >> 4], hex[*p & 15] };

			evbuffer_add(out, e, 3);
		} else {
			evbuffer_add(out, p, 1);
		}
	}
}

/* utf-8-addr-xtext (RFC 6533 3): UTF-8 as it is; '+', '=', backslash, SP and
 * controls as "\x{HH}". */
static void
add_utf8_xtext(struct evbuffer *out, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '+' || *p == '=' ||
		    *p == '\\')
			evbuffer_add_printf(out, "\\x{%02X}", *p);
		else
			evbuffer_add(out, p, 1);
	}
}

static bool
has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

static void
send_mail(struct smtp_client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct smtp_msg_info mi;
	const struct smtp_txn *t = &c->txn;

	smtp_msg_scan(t->msg, t->len, &mi, NULL);
	evbuffer_add_printf(out, "MAIL FROM:<%s>", t->from);
	if (c->caps.flags & SMTP_CAP_SIZE)
		evbuffer_add_printf(out, " SIZE=%zu", t->len);
	if (mi.has8bit && (c->caps.flags & SMTP_CAP_8BITMIME))
		evbuffer_add_printf(out, " BODY=8BITMIME");
	if (t->smtputf8 && (c->caps.flags & SMTP_CAP_SMTPUTF8))
		evbuffer_add_printf(out, " SMTPUTF8");
	if (c->caps.flags & SMTP_CAP_DSN) {
		if (t->ret != SMTP_RET_NONE)
			evbuffer_add_printf(out, " RET=%s",
			    t->ret == SMTP_RET_FULL ? "FULL" : "HDRS");
		if (t->envid != NULL) {
			evbuffer_add_printf(out, " ENVID=");
			add_xtext(out, t->envid);
		}
	}
	if (t->requiretls)
		evbuffer_add_printf(out, " REQUIRETLS");
	evbuffer_add(out, "\r\n", 2);
	log_debug(c->id, "> MAIL FROM:<%s> (size=%zu)", t->from, t->len);
	push(c, C_MAIL, 0);
	c->mail_sent = true;
}

static void
send_rcpt(struct smtp_client *c, size_t i)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct smtp_txn_rcpt *rc = &c->txn.rcpt[i];
	unsigned n = rc->notify;

	evbuffer_add_printf(out, "RCPT TO:<%s>", rc->addr);
	if (c->caps.flags & SMTP_CAP_DSN) {
		if (n & SMTP_NOTIFY_NEVER) {
			evbuffer_add_printf(out, " NOTIFY=NEVER");
		} else if (n != 0) {
			const char *sep = " NOTIFY=";

			if (n & SMTP_NOTIFY_SUCCESS) {
				evbuffer_add_printf(out, "%sSUCCESS", sep);
				sep = ",";
			}
			if (n & SMTP_NOTIFY_FAILURE) {
				evbuffer_add_printf(out, "%sFAILURE", sep);
				sep = ",";
			}
			if (n & SMTP_NOTIFY_DELAY)
				evbuffer_add_printf(out, "%sDELAY", sep);
		}
		if (rc->orcpt != NULL && !has_8bit(rc->orcpt)) {
			evbuffer_add_printf(out, " ORCPT=rfc822;");
			add_xtext(out, rc->orcpt);
		} else if (rc->orcpt != NULL &&
		    (c->caps.flags & SMTP_CAP_SMTPUTF8)) {
			evbuffer_add_printf(out, " ORCPT=utf-8;");
			add_utf8_xtext(out, rc->orcpt);
		}
	}
	evbuffer_add(out, "\r\n", 2);
	log_debug(c->id, "> RCPT TO:<%s>", rc->addr);
	push(c, C_RCPT, i);
	c->next_rcpt = i + 1;
}

/* Write more of the body (DATA: dot-stuffed, in steps, while the output
 * buffer is not too full). */
static void
feed(struct smtp_client *c)
{
	struct evbuffer *out;
	size_t n;

	if (!c->feeding || c->bev == NULL)
		return;
	out = bufferevent_get_output(c->bev);
	while (c->off < c->txn.len && evbuffer_get_length(out) < WRITE_HIGH) {
		n = c->txn.len - c->off;
		if (n > FEED_STEP)
			n = FEED_STEP;
		smtp_dotenc_add(&c->enc, (const uint8_t *)c->txn.msg + c->off, n,
		    out);
		c->off += n;
	}
	if (c->off < c->txn.len)
		return;
	c->feeding = false;
	if (smtp_dotenc_finish(&c->enc, out) != 0) {
		/* smtp_client_send scanned the message: cannot happen */
		panic("dot-stuffing a message that passed the scan");
	}
	push(c, C_DOT, 0);
	update_timeouts(c);
}

/* BDAT: one chunk (RFC 3030 2), the last one says LAST. */
static void
send_chunk(struct smtp_client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t n = c->txn.len - c->off;
	bool last;

	if (n > c->chunk_size)
		n = c->chunk_size;
	last = c->off + n == c->txn.len;
	evbuffer_add_printf(out, "BDAT %zu%s\r\n", n, last ? " LAST" : "");
	log_debug(c->id, "> BDAT %zu%s", n, last ? " LAST" : "");
	if (n > 0)
		evbuffer_add(out, (const uint8_t *)c->txn.msg + c->off, n);
	c->off += n;
	push(c, last ? C_BDAT_LAST : C_BDAT, 0);
}

/* After the last RCPT reply: the message, or the end. */
static void
rcpts_done(struct smtp_client *c)
{
	if (c->mail_failed || c->res.naccepted == 0) {
		if (!c->pipelined || c->use_bdat)
			txn_done(c, NULL);
		/* pipelined DATA: its reply is still to come */
		return;
	}
	if (c->use_bdat) {
		c->off = 0;
		send_chunk(c);
	} else if (!c->pipelined) {
		sendf(c, C_DATA, 0, "DATA");
	}
}

static void
txn_reply(struct smtp_client *c, struct pend p, const struct smtp_reply *r)
{
	int cls = smtp_reply_class(r);
	struct smtp_rcpt_result *rr;

	switch (p.cmd) {
	case C_RSET:
		if (cls != 2) {
			/* the server is confused, not the message: defer */
			char rs[300];

			smtp_reply_copy(&c->res.reply, r);
			fail(c, SMTP_OUT_TEMP, SMTP_R_REPLY, NULL, "RSET refused: %s",
			    smtp_reply_str(r, rs, sizeof(rs)));
			return;
		}
		c->need_rset = false;
		if (!c->pipelined)
			send_mail(c);
		return;
	case C_MAIL:
		smtp_reply_copy(&c->mail_reply, r);
		if (cls != 2) {
			c->mail_failed = true;
			if (!c->pipelined)
				txn_done(c, NULL);
			return;
		}
		c->mail_ok = true;
		if (!c->pipelined)
			send_rcpt(c, 0);
		return;
	case C_RCPT:
		rr = &c->res.rcpt[p.idx];
		smtp_reply_copy(&rr->reply, r);
		if (cls == 2 && !c->mail_failed) {
			rr->outcome = SMTP_OUT_OK;
			c->res.naccepted++;
		} else {
			rr->outcome = cls == 5 ? SMTP_OUT_PERM : SMTP_OUT_TEMP;
		}
		c->nreplied++;
		if (c->nreplied < c->txn.nrcpt) {
			if (!c->pipelined)
				send_rcpt(c, c->next_rcpt);
			return;
		}
		rcpts_done(c);
		return;
	case C_DATA:
		if (r->code == 354) {
			if (c->mail_failed || c->res.naccepted == 0) {
				/* RFC 2920 3.1: the DATA went through although
				 * nobody takes the message: send an empty one */
				evbuffer_add(bufferevent_get_output(c->bev),
				    ".\r\n", 3);
				push(c, C_DOT, 1);
				return;
			}
			smtp_dotenc_init(&c->enc);
			c->off = 0;
			c->feeding = true;
			feed(c);
			return;
		}
		txn_done(c, c->mail_failed || c->res.naccepted == 0 ? NULL : r);
		return;
	case C_DOT:
		txn_done(c, p.idx == 1 ? NULL : r);
		return;
	case C_BDAT:
		if (cls != 2) {
			txn_done(c, r);
			return;
		}
		send_chunk(c);
		return;
	case C_BDAT_LAST:
		txn_done(c, r);
		return;
	default:
		fail(c, SMTP_OUT_TEMP, SMTP_R_PROTOCOL, "4.5.0",
		    "unexpected reply state");
		return;
	}
}

static bool
addr_ok(const char *a, bool *utf8)
{
	size_t n = 0;

	for (; *a; a++, n++) {
		unsigned char ch = (unsigned char)*a;

		if (ch < 0x20 || ch == 0x7f || ch == '<' || ch == '>')
			return false;
		if (ch >= 0x80)
			*utf8 = true;
	}
	return n <= ADDR_MAX;
}

/* A result decided before anything is sent (policy). */
static void
txn_refuse(struct smtp_client *c, enum smtp_outcome out, const char *enh,
    const char *text)
{
	size_t i;

	smtp_reply_set(&c->res.reply, 0, enh, text);
	c->res.outcome = out;
	c->res.reason = SMTP_R_POLICY;
	for (i = 0; i < c->res.nrcpt; i++) {
		c->res.rcpt[i].outcome = out;
		smtp_reply_copy(&c->res.rcpt[i].reply, &c->res.reply);
	}
	c->final_done = true;
	log_txn(c);
	callback_later(c);
}

int
smtp_client_send(struct smtp_client *c, const struct smtp_txn *t,
    smtp_client_cb cb, void *arg)
{
	struct smtp_msg_info mi;
	bool utf8 = t->smtputf8;
	size_t i;

	if (c->phase != P_READY || c->cb != NULL || c->zombie)
		return PTT_EAGAIN;
	if (t->nrcpt == 0 || t->from == NULL || (t->msg == NULL && t->len > 0))
		return PTT_EINVAL;
	if (!addr_ok(t->from, &utf8))
		return PTT_EINVAL;
	for (i = 0; i < t->nrcpt; i++)
		if (t->rcpt[i].addr == NULL || !addr_ok(t->rcpt[i].addr, &utf8) ||
		    (t->rcpt[i].orcpt != NULL && !addr_ok(t->rcpt[i].orcpt, &utf8)))
			return PTT_EINVAL;
	if (t->envid != NULL && strlen(t->envid) > 100)
		return PTT_EINVAL;
	if (smtp_msg_scan(t->msg, t->len, &mi, NULL) != 0)
		return PTT_EINVAL;

	c->txn = *t;
	c->txn.smtputf8 = utf8;
	c->cb = cb;
	c->cbarg = arg;
	res_prepare(c, t->nrcpt);
	c->mail_sent = c->mail_ok = c->mail_failed = false;
	c->feeding = c->final_done = false;
	c->next_rcpt = c->nreplied = c->off = 0;
	smtp_reply_reset(&c->mail_reply);

	if ((c->caps.flags & SMTP_CAP_SIZE) && c->caps.size != 0 &&
	    t->len > c->caps.size) {
		txn_refuse(c, SMTP_OUT_PERM, "5.3.4",
		    "message is larger than the server's SIZE limit");
		return 0;
	}
	if (mi.has8bit && !(c->caps.flags & SMTP_CAP_8BITMIME)) {
		txn_refuse(c, SMTP_OUT_PERM, "5.6.3",
		    "message has 8-bit data and the server does not offer 8BITMIME");
		return 0;
	}
	if (utf8 && !(c->caps.flags & SMTP_CAP_SMTPUTF8)) {
		txn_refuse(c, SMTP_OUT_PERM, "5.6.7",
		    "message needs SMTPUTF8 and the server does not offer it");
		return 0;
	}
	if (t->requiretls && (!c->tls || c->policy != SMTP_TLS_VERIFIED ||
	    !(c->caps.flags & SMTP_CAP_REQUIRETLS))) {
		txn_refuse(c, SMTP_OUT_PERM, "5.7.30",
		    "REQUIRETLS needs a verified TLS session with a server that offers REQUIRETLS");
		return 0;
	}

	c->phase = P_TXN;
	c->use_bdat = c->want_bdat && (c->caps.flags & SMTP_CAP_CHUNKING);
	c->pipelined = !c->no_pipelining &&
	    (c->caps.flags & SMTP_CAP_PIPELINING);
	if (c->need_rset) {
		sendf(c, C_RSET, 0, "RSET");
		if (!c->pipelined)
			return 0;
	}
	send_mail(c);
	if (!c->pipelined)
		return 0;
	for (i = 0; i < t->nrcpt; i++)
		send_rcpt(c, i);
	if (!c->use_bdat)
		sendf(c, C_DATA, 0, "DATA");
	return 0;
}

/* ---- QUIT and free ---- */

void
smtp_client_quit(struct smtp_client *c, smtp_client_cb cb, void *arg)
{
	c->cb = cb;
	c->cbarg = arg;
	c->res.outcome = SMTP_OUT_OK;
	c->res.reason = SMTP_R_NONE;
	c->res.nrcpt = 0;
	smtp_reply_reset(&c->res.reply);
	if (c->phase != P_READY || c->bev == NULL) {
		close_conn(c);
		callback_later(c);
		return;
	}
	c->phase = P_QUIT;
	c->tmo.ehlo = c->tmo.ehlo < 10 ? c->tmo.ehlo : 10;
	sendf(c, C_QUIT, 0, "QUIT");
}

static void
destroy(struct smtp_client *c)
{
	size_t i;

	close_conn(c);
	if (c->later != NULL)
		event_free(c->later);
	smtp_reply_free(&c->cur);
	smtp_reply_free(&c->mail_reply);
	smtp_reply_free(&c->res.reply);
	for (i = 0; i < c->res_cap; i++)
		smtp_reply_free(&c->res.rcpt[i].reply);
	free(c->res.rcpt);
	free(c->pend);
	if (c->pass != NULL)
		ptt_memzero(c->pass, strlen(c->pass));
	free(c->helo);
	free(c->sni);
	free(c->verify_name);
	free(c->pin);
	free(c->cache_key);
	free(c->user);
	free(c->pass);
	free(c);
}

void
smtp_client_free(struct smtp_client *c)
{
	if (c == NULL)
		return;
	if (c->depth > 0) {
		close_conn(c);
		if (c->later != NULL)
			evtimer_del(c->later);
		c->zombie = true;
		return;
	}
	destroy(c);
}

/* ---- libevent callbacks ---- */

static void
handle_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	struct pend p;
	char s[300];

	log_debug(c->id, "< %s", smtp_reply_str(r, s, sizeof(s)));
	if (c->pend_n == 0 && c->phase == P_TXN && c->feeding) {
		/* the server answered before the end of the message (a
		 * 552 or 554 mid-DATA): that is the final word; the stream
		 * is out of step, so the connection is given up */
		log_info(c->id, "reply before the end of the message: %s", s);
		c->feeding = false;
		close_conn(c);
		txn_done(c, r);
		return;
	}
	if (c->pend_n == 0) {
		if (r->code == 421) {
			/* the server is going away while we are idle */
			log_info(c->id, "server closing: %s", s);
			close_conn(c);
			return;
		}
		fail(c, SMTP_OUT_TEMP, SMTP_R_PROTOCOL, "4.5.0",
		    "unexpected reply: %s", s);
		return;
	}
	p = c->pend[c->pend_head];
	c->pend_head = (c->pend_head + 1) % c->pend_cap;
	c->pend_n--;
	update_timeouts(c);
	if (p.cmd == C_QUIT) {
		close_conn(c);
		callback(c);
		return;
	}
	if (r->code == 421) {
		/* RFC 5321 3.8: service closing, whatever the command */
		fail_reply(c, r);
		return;
	}
	switch (c->phase) {
	case P_SETUP:
		setup_reply(c, p, r);
		break;
	case P_TXN:
		txn_reply(c, p, r);
		break;
	default:
		fail(c, SMTP_OUT_TEMP, SMTP_R_PROTOCOL, "4.5.0",
		    "reply in the wrong state: %s", s);
		break;
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;
	char line[SMTP_REPLY_LINE_MAX + 2];

	enter(c);
	while (c->bev != NULL && !c->zombie && c->phase != P_HANDSHAKE) {
		struct evbuffer *in = bufferevent_get_input(c->bev);
		struct evbuffer_ptr eol;
		size_t eol_len, len;
		int ret;

		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > SMTP_REPLY_LINE_MAX + 1)
				fail(c, SMTP_OUT_TEMP, SMTP_R_PROTOCOL, "4.5.0",
				    "reply line too long");
			break;
		}
		if ((size_t)eol.pos > SMTP_REPLY_LINE_MAX + 1) {
			fail(c, SMTP_OUT_TEMP, SMTP_R_PROTOCOL, "4.5.0",
			    "reply line too long");
			break;
		}
		len = (size_t)eol.pos;
		evbuffer_remove(in, line, len + 1);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		ret = smtp_reply_feed(&c->cur, line, len);
		if (ret < 0) {
			fail(c, SMTP_OUT_TEMP, SMTP_R_PROTOCOL, "4.5.0",
			    "malformed reply from the server");
			break;
		}
		if (ret == 1) {
			handle_reply(c, &c->cur);
			smtp_reply_reset(&c->cur);
		}
	}
	leave(c);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;

	enter(c);
	feed(c);
	leave(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *c = arg;
	char e[256];
	unsigned long ssl_err;

	enter(c);
	if (what & BEV_EVENT_CONNECTED) {
		if (c->phase == P_HANDSHAKE) {
			tls_done(c);
		} else if (c->implicit_tls) {
			start_tls(c);
		} else {
			c->phase = P_SETUP;
			push(c, C_GREETING, 0);
			update_timeouts(c);
			bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		}
	} else if (what & BEV_EVENT_TIMEOUT) {
		fail(c, SMTP_OUT_TEMP, SMTP_R_TIMEOUT, "4.4.2", "timed out %s",
		    c->phase == P_CONNECTING ? "connecting" :
		    c->phase == P_HANDSHAKE ? "in the TLS handshake" :
		    (what & BEV_EVENT_WRITING) ? "sending" : "waiting for a reply");
	} else if (c->phase == P_HANDSHAKE) {
		ssl_err = bufferevent_get_openssl_error(bev);
		if (ssl_err != 0)
			ERR_error_string_n(ssl_err, e, sizeof(e));
		else
			snprintf(e, sizeof(e), "%s", (what & BEV_EVENT_EOF) ?
			    "connection closed" : strerror(errno));
		c->res.tls_fallback_ok = c->policy == SMTP_TLS_OPPORTUNISTIC &&
		    !c->implicit_tls;
		fail(c, SMTP_OUT_TEMP, SMTP_R_TLS, "4.7.5",
		    "TLS handshake failed: %s", e);
	} else if (what & BEV_EVENT_EOF) {
		if (c->phase == P_QUIT) {
			close_conn(c);
			callback(c);
		} else {
			fail(c, SMTP_OUT_TEMP, SMTP_R_NETWORK, "4.4.2",
			    "connection closed by the server");
		}
	} else if (what & BEV_EVENT_ERROR) {
		int err = EVUTIL_SOCKET_ERROR();

		if (c->ssl != NULL && (ssl_err = bufferevent_get_openssl_error(bev)) != 0) {
			ERR_error_string_n(ssl_err, e, sizeof(e));
			fail(c, SMTP_OUT_TEMP, SMTP_R_TLS, "4.7.5", "TLS: %s", e);
		} else if (c->phase == P_QUIT) {
			close_conn(c);
			callback(c);
		} else {
			fail(c, SMTP_OUT_TEMP, SMTP_R_NETWORK,
			    c->phase == P_CONNECTING ? "4.4.1" : "4.4.2", "%s: %s",
			    c->phase == P_CONNECTING ? "connect" : "connection",
			    evutil_socket_error_to_string(err));
		}
	}
	leave(c);
}

/* TLS wanted by the options needs a context (opportunistic does without). */
static bool
start_ok(const struct smtp_client *c)
{
	if (c->phase != P_NEW)
		return false;
	if (c->ssl_ctx == NULL && (c->implicit_tls ||
	    c->policy == SMTP_TLS_REQUIRED || c->policy == SMTP_TLS_VERIFIED))
		return false;
	return true;
}

static int
start_plain(struct smtp_client *c, int fd, smtp_client_cb cb, void *arg)
{
	c->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		return PTT_EIO;
	c->cb = cb;
	c->cbarg = arg;
	res_prepare(c, 0);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, FEED_STEP, 0);
	return 0;
}

int
smtp_client_connect(struct smtp_client *c, const struct sockaddr *sa,
    socklen_t salen, smtp_client_cb cb, void *arg)
{
	int fd, ret;

	if (!start_ok(c))
		return PTT_EINVAL;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return PTT_EIO;
	net_set_nodelay(fd);
	ret = start_plain(c, fd, cb, arg);
	if (ret != 0) {
		close(fd);
		return ret;
	}
	c->phase = P_CONNECTING;
	update_timeouts(c);
	if (bufferevent_socket_connect(c->bev, sa, (int)salen) != 0) {
		bufferevent_free(c->bev);	/* closes fd */
		c->bev = NULL;
		c->phase = P_NEW;
		return PTT_EIO;
	}
	return 0;
}

int
smtp_client_connect_fd(struct smtp_client *c, int fd, smtp_client_cb cb,
    void *arg)
{
	int ret;

	if (!start_ok(c))
		return PTT_EINVAL;
	evutil_make_socket_nonblocking(fd);
	net_set_nodelay(fd);
	ret = start_plain(c, fd, cb, arg);
	if (ret != 0)
		return ret;
	if (c->implicit_tls) {
		start_tls(c);
		return 0;
	}
	c->phase = P_SETUP;
	push(c, C_GREETING, 0);
	update_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return 0;
}
