/*
 * server.c - SMTP server engine: listeners, sessions, non-blocking I/O on
 * libevent bufferevents, TLS (RFC 3207 STARTTLS and implicit TLS per
 * RFC 8314 3.3) with bufferevent_openssl, reply formatting (RFC 5321
 * 4.2, RFC 2034 enhanced codes), timeouts (RFC 5321 4.5.3.2), the
 * asynchronous hook protocol and graceful shutdown.
 *
 * The command state machine is in session.c.
 *
 * Lifetime: a session is freed only from the top of one of our own event
 * callbacks (depth 0), never inside a hook, and never while a hook's
 * answer is pending.
 *
 * Trusts: nothing from the peer; the configuration and hooks.
 */
#include "smtp/server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/tls.h"

#define OUTPUT_HIGH	(256 * 1024)	/* stop executing commands above */
#define INPUT_HIGH	(256 * 1024)

static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);
static void maybe_free(struct smtp_session *s);
static void switch_to_tls(struct smtp_session *s);

/* ---- small accessors ---- */

unsigned
session_ext(const struct smtp_session *s)
{
	unsigned ext = SMTP_EXT_ALL & ~s->srv->cfg.ext_disable;

	if (!(ext & SMTP_EXT_CHUNKING))
		ext &= ~SMTP_EXT_BINARYMIME;
	if (!session_tls_offered(s))
		ext &= ~SMTP_EXT_STARTTLS;
	if (!session_auth_offered(s))
		ext &= ~SMTP_EXT_AUTH;
	return ext;
}

bool
session_tls_offered(const struct smtp_session *s)
{
	return s->srv->cfg.tls != NULL && s->srv->cfg.starttls && s->ssl == NULL &&
	    !(s->srv->cfg.ext_disable & SMTP_EXT_STARTTLS);
}

bool
session_auth_offered(const struct smtp_session *s)
{
	return s->srv->cfg.auth && (s->ssl != NULL || s->srv->cfg.auth_plaintext);
}

struct smtp_server *smtp_session_server(const struct smtp_session *s) { return s->srv; }
const char *smtp_session_id(const struct smtp_session *s) { return s->id; }
SSL *smtp_session_ssl(const struct smtp_session *s) { return s->ssl; }
void *smtp_session_data(const struct smtp_session *s) { return s->data; }
void smtp_session_set_data(struct smtp_session *s, void *data) { s->data = data; }
void smtp_session_forbid_mail(struct smtp_session *s) { s->no_mail = true; }
bool smtp_session_closed(const struct smtp_session *s) { return s->phase == PH_CLOSED; }
unsigned smtp_server_sessions(const struct smtp_server *srv) { return srv->nsessions; }
void *smtp_server_arg(const struct smtp_server *srv) { return srv->arg; }

const struct smtp_session_info *
smtp_session_info(struct smtp_session *s)
{
	static const char *const kw[2][4] = {
		{ "ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA" },
		{ "UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA" },
	};
	struct smtp_session_info *i = &s->info;
	int k = (s->authed ? 1 : 0) + (s->ssl != NULL ? 2 : 0);

	i->id = s->id;
	i->hostname = s->srv->hostname;
	i->peer_addr = s->peer;
	i->peer_port = s->peer_port;
	i->helo = s->helo;
	i->helo_valid = s->helo_valid;
	i->esmtp = s->esmtp;
	i->auth_user = s->authed ? s->auth_user : NULL;
	i->tls = s->ssl != NULL && s->tlsdesc[0] ? s->tlsdesc : NULL;
	if (!s->esmtp)
		i->proto = "SMTP";
	else
		i->proto = kw[s->in_mail && s->mail.smtputf8][k];
	return i;
}

/* ---- replies ---- */

void
session_write_reply(struct smtp_session *s, int code, const char *ecode,
    const char *text)
{
	char line[600];
	const char *p = text, *nl;
	bool enh = (session_ext(s) & SMTP_EXT_ENHANCED) && ecode != NULL &&
	    ecode[0] != '\0';

	if (s->phase == PH_CLOSED || s->bev == NULL)
		return;
	do {
		size_t n, i, pos;
		int w;

		nl = strchr(p, '\n');
		n = nl ? (size_t)(nl - p) : strlen(p);
		w = snprintf(line, sizeof(line), "%03d%c%s%s", code,
		    nl ? '-' : ' ', enh ? ecode : "", enh ? " " : "");
		pos = w > 0 ? (size_t)w : 0;
		for (i = 0; i < n && pos < 508; i++) {
			unsigned char c = (unsigned char)p[i];
			line[pos++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
		}
		line[pos++] = '\r';
		line[pos++] = '\n';
		bufferevent_write(s->bev, line, pos);
		p = nl ? nl + 1 : NULL;
	} while (p != NULL);
}

/* ---- hooks ---- */

static void
hook_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	(void)fd;
	(void)what;
	s->depth++;
	log_warn(s->id, "hook did not answer within %us; closing",
	    s->srv->cfg.timeout_hook);
	session_reply_status(s, SMTP_ST_TIMEOUT);
	session_close(s);
	s->depth--;
	/* The session stays until the hook answers (pending is still set). */
	maybe_free(s);
}

void
session_hook_begin(struct smtp_session *s, enum pending p)
{
	struct timeval tv = { s->srv->cfg.timeout_hook, 0 };

	if (s->pending != PEND_NONE)
		panic("smtp: hook started while another is pending");
	s->pending = p;
	if (s->hook_timer == NULL)
		s->hook_timer = evtimer_new(s->srv->base, hook_timeout_cb, s);
	evtimer_add(s->hook_timer, &tv);
	if (s->bev != NULL)
		bufferevent_disable(s->bev, EV_READ);
}

static void
update_read(struct smtp_session *s)
{
	if (s->bev == NULL)
		return;
	if (s->pending == PEND_NONE && s->phase != PH_CLOSING &&
	    s->phase != PH_CLOSED && s->phase != PH_GREETING &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) < OUTPUT_HIGH)
		bufferevent_enable(s->bev, EV_READ);
	else
		bufferevent_disable(s->bev, EV_READ);
}

static void
answer(struct smtp_session *s, int code, const char *ecode, const char *text)
{
	enum pending p = s->pending;

	if (p == PEND_NONE)
		panic("smtp: smtp_session_reply without a pending hook");
	s->pending = PEND_NONE;
	evtimer_del(s->hook_timer);
	if (code < 200 || code > 599) {
		const struct smtp_status_reply *r = smtp_status_reply(SMTP_ST_LOCAL_ERROR);
		log_err(s->id, "hook answered with invalid code %d", code);
		code = r->code;
		ecode = r->ecode;
		text = r->text;
	}
	s->depth++;
	session_hook_answer(s, p, code, ecode, text);
	if (code == 421) {	/* RFC 5321 3.8: 421 closes the channel */
		log_info(s->id, "closing after a 421 from the %s hook",
		    p == PEND_CONNECT ? "connect" : smtp_verb_name(s->cmd.verb));
		session_close(s);
	}
	if (!s->processing && s->phase != PH_CLOSED)
		session_process(s);
	update_read(s);
	s->depth--;
	maybe_free(s);
}

void
smtp_session_reply(struct smtp_session *s, int code, const char *ecode,
    const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	answer(s, code, ecode, text);
}

void
smtp_session_reply_status(struct smtp_session *s, enum smtp_status st)
{
	const struct smtp_status_reply *r = smtp_status_reply(st);

	answer(s, r->code, r->ecode, r->text);
}

/* ---- lifetime ---- */

static void
session_free(struct smtp_session *s)
{
	struct smtp_server *srv = s->srv;
	char counts[512];
	size_t pos = 0;
	int v;

	for (v = 1; v < SMTP_V_COUNT; v++) {
		int w;
		if (s->verb_total[v] == 0)
			continue;
		if (s->verb_ok[v] == s->verb_total[v])
			w = snprintf(counts + pos, sizeof(counts) - pos, "%s=%u ",
			    smtp_verb_name(v), s->verb_ok[v]);
		else
			w = snprintf(counts + pos, sizeof(counts) - pos, "%s=%u/%u ",
			    smtp_verb_name(v), s->verb_ok[v], s->verb_total[v]);
		if (w > 0 && (size_t)w < sizeof(counts) - pos)
			pos += (size_t)w;
	}
	counts[pos] = '\0';
	for (pos = 0; counts[pos]; pos++)
		if (counts[pos] >= 'A' && counts[pos] <= 'Z')
			counts[pos] = (char)(counts[pos] + 32);
	log_info(s->id, "disconnect from %s %scommands=%u", s->peer, counts, s->ncmds);

	session_reset_txn(s);
	if (srv->hooks.disconnect)
		srv->hooks.disconnect(s);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->hook_timer != NULL)
		event_free(s->hook_timer);
	sasl_clear(&s->sasl);
	buf_free(&s->msg);
	free(s->rcpt);
	free(s->stash_text);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->nsessions--;
	ptt_memzero(s, sizeof(*s));
	free(s);
	if (srv->shutting_down && srv->nsessions == 0 && srv->done != NULL) {
		void (*done)(void *) = srv->done;
		srv->done = NULL;
		done(srv->done_arg);
	}
}

/* Drop the connection now. Input the client already sent (pipelined
 * commands after a final reply) is read and discarded first: closing a
 * socket with unread input makes the kernel reset the connection, and the
 * reset can destroy our last reply before the client reads it. */
static void
session_drop(struct smtp_session *s)
{
	if (s->ssl != NULL && s->bev != NULL && s->phase != PH_HANDSHAKE)
		SSL_shutdown(s->ssl);	/* best effort close_notify */
	if (s->bev != NULL) {
		evutil_socket_t fd = bufferevent_getfd(s->bev);
		char junk[4096];
		if (fd >= 0)
			while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
				;
	}
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	s->phase = PH_CLOSED;
}

static void
maybe_free(struct smtp_session *s)
{
	if (s->depth == 0 && s->phase == PH_CLOSED && s->pending == PEND_NONE)
		session_free(s);
}

/* Flush what was written, then drop. */
void
session_close(struct smtp_session *s)
{
	if (s->phase == PH_CLOSED || s->phase == PH_CLOSING)
		return;
	s->phase = PH_CLOSING;
	if (s->bev == NULL ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		session_drop(s);
		return;
	}
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_enable(s->bev, EV_WRITE);
}

void
session_set_timeout(struct smtp_session *s, unsigned secs)
{
	struct timeval rd = { secs, 0 };
	struct timeval wr = { s->srv->cfg.timeout_cmd, 0 };

	if (s->bev != NULL)
		bufferevent_set_timeouts(s->bev, &rd, &wr);
}

/* ---- bufferevent callbacks ---- */

static void
setup_bev(struct smtp_session *s)
{
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, INPUT_HIGH);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	session_set_timeout(s, s->srv->cfg.timeout_cmd);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;

	(void)bev;
	s->depth++;
	session_process(s);
	update_read(s);
	s->depth--;
	maybe_free(s);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;

	(void)bev;
	s->depth++;
	if (s->phase == PH_CLOSING) {
		session_drop(s);
	} else if (s->phase == PH_STARTTLS) {
		switch_to_tls(s);
	} else {
		/* output drained: resume commands held back by OUTPUT_HIGH */
		session_process(s);
		update_read(s);
	}
	s->depth--;
	maybe_free(s);
}

static void
tls_ready(struct smtp_session *s)
{
	bool implicit = s->phase == PH_HANDSHAKE && !s->helo_done && s->ncmds == 0;

	tls_describe(s->ssl, s->tlsdesc, sizeof(s->tlsdesc));
	log_info(s->id, "tls: %s", s->tlsdesc);
	if (s->srv->hooks.tls != NULL && !s->srv->hooks.tls(s, s->ssl)) {
		log_info(s->id, "tls: refused by policy");
		session_reply_status(s, SMTP_ST_TLS_REFUSED);
		session_close(s);
		return;
	}
	if (implicit)
		session_greet(s);
	else
		s->phase = PH_CMD;
	/* records that came with the handshake may hold commands already */
	session_process(s);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;

	(void)bev;
	s->depth++;
	if (what & BEV_EVENT_CONNECTED) {
		if (s->phase == PH_HANDSHAKE)
			tls_ready(s);
	} else if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_READING) && s->phase != PH_CLOSING &&
		    s->shutdown && s->phase == PH_CMD) {
			/* idle while draining */
			session_reply_status(s, SMTP_ST_SHUTDOWN);
			session_close(s);
		} else if ((what & BEV_EVENT_READING) && s->phase != PH_CLOSING) {
			log_info(s->id, "timeout after %s from %s",
			    s->phase == PH_DATA || s->phase == PH_BDAT ?
			    "DATA" : "command", s->peer);
			session_reply_status(s, SMTP_ST_TIMEOUT);
			session_close(s);
		} else
			session_drop(s);
	} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (what & BEV_EVENT_ERROR) {
			char err[256];
			unsigned long e = bufferevent_get_openssl_error(bev);
			if (e != 0) {
				ERR_error_string_n(e, err, sizeof(err));
				log_info(s->id, "%s error from %s: %s",
				    s->phase == PH_HANDSHAKE ? "TLS handshake" : "TLS",
				    s->peer, err);
			} else if (EVUTIL_SOCKET_ERROR() != 0)
				log_info(s->id, "connection error from %s: %s", s->peer,
				    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		}
		if (s->phase != PH_CLOSING && s->phase != PH_CMD)
			log_info(s->id, "lost connection from %s in %s", s->peer,
			    s->phase == PH_DATA || s->phase == PH_BDAT ? "DATA" :
			    s->phase == PH_HANDSHAKE ? "TLS handshake" :
			    s->phase == PH_AUTH ? "AUTH" : "session");
		session_drop(s);
	}
	update_read(s);
	s->depth--;
	maybe_free(s);
}

/* ---- TLS ---- */

static SSL *
new_ssl(struct smtp_session *s)
{
	SSL *ssl = SSL_new(s->srv->cfg.tls);

	if (ssl == NULL) {
		char err[256];
		log_err(s->id, "SSL_new: %s", tls_errstr(err, sizeof(err)));
	}
	return ssl;
}

/*
 * RFC 3207 4.2 / CVE-2011-0411: the 220 is queued and reading stops;
 * everything the client pipelined after STARTTLS is thrown away, and the
 * session forgets all it knew. Once the 220 has left, the plaintext
 * bufferevent is freed (with anything it might still hold) and TLS starts
 * on a duplicate of the socket.
 */
void
session_start_tls(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t junk = evbuffer_get_length(in);

	if (junk > 0) {
		log_warn(s->id, "discarded %zu bytes pipelined after STARTTLS from %s",
		    junk, s->peer);
		evbuffer_drain(in, junk);
	}
	session_reset_all(s);
	s->phase = PH_STARTTLS;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_enable(s->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		switch_to_tls(s);
}

/* The 220 has been written: continue on a TLS bufferevent. */
static void
switch_to_tls(struct smtp_session *s)
{
	int fd = (int)bufferevent_getfd(s->bev);
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	SSL *ssl;

	bufferevent_free(s->bev);	/* closes fd, drops unread plaintext */
	s->bev = NULL;
	if (nfd < 0 || (ssl = new_ssl(s)) == NULL) {
		if (nfd >= 0)
			close(nfd);
		s->phase = PH_CLOSED;
		return;
	}
	s->bev = bufferevent_openssl_socket_new(s->srv->base, nfd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		SSL_free(ssl);
		close(nfd);
		s->phase = PH_CLOSED;
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	s->ssl = ssl;
	s->phase = PH_HANDSHAKE;
	setup_bev(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* ---- sessions ---- */

int
smtp_server_serve_fd(struct smtp_server *srv, int fd,
    const struct sockaddr *peer, socklen_t peerlen, bool implicit_tls)
{
	struct smtp_session *s;

	(void)peerlen;
	if (implicit_tls && srv->cfg.tls == NULL) {
		close(fd);
		return PTT_EINVAL;
	}
	net_set_nonblock(fd);
	net_set_nodelay(fd);
	s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	log_newid(s->id, SMTP_ID_LEN);
	buf_init(&s->msg, 0);
	if (peer != NULL) {
		net_addr_str(peer, s->peer, sizeof(s->peer));
		if (peer->sa_family == AF_INET)
			s->peer_port = ntohs(((const struct sockaddr_in *)(const void *)peer)->sin_port);
		else if (peer->sa_family == AF_INET6)
			s->peer_port = ntohs(((const struct sockaddr_in6 *)(const void *)peer)->sin6_port);
	}
	if (s->peer[0] == '\0')
		ptt_strlcpy(s->peer, "local", sizeof(s->peer));
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	log_info(s->id, "connect from %s%s", s->peer, implicit_tls ? " (tls)" : "");

	if (implicit_tls) {
		if ((s->ssl = new_ssl(s)) == NULL) {
			close(fd);
			s->phase = PH_CLOSED;
			maybe_free(s);
			return PTT_ETLS;
		}
		s->bev = bufferevent_openssl_socket_new(srv->base, fd, s->ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (s->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
		s->phase = PH_HANDSHAKE;
	} else {
		s->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (s->bev == NULL) {
		close(fd);
		s->phase = PH_CLOSED;
		maybe_free(s);
		return PTT_EIO;
	}
	setup_bev(s);
	s->depth++;
	if (srv->shutting_down) {
		session_reply_status(s, SMTP_ST_SHUTDOWN);
		session_close(s);
	} else if (srv->nsessions > srv->cfg.max_sessions) {
		log_warn(s->id, "too many sessions (%u), refusing %s",
		    srv->nsessions - 1, s->peer);
		session_reply_status(s, SMTP_ST_TOO_BUSY);
		session_close(s);
	} else if (!implicit_tls) {
		session_greet(s);
	}
	bufferevent_enable(s->bev, EV_WRITE);
	update_read(s);
	if (implicit_tls && s->phase == PH_HANDSHAKE)
		bufferevent_enable(s->bev, EV_READ);
	s->depth--;
	maybe_free(s);
	return 0;
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;

	(void)lev;
	smtp_server_serve_fd(l->srv, fd, sa, (socklen_t)salen, l->implicit_tls);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(l->lev);
}

/* Out of descriptors (or similar): pause this listener for a second
 * instead of spinning on a socket that stays readable. */
static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct listener *l = arg;
	struct timeval tv = { 1, 0 };

	log_warn(NULL, "smtp: accept: %s; pausing the listener for 1s",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	evconnlistener_disable(lev);
	if (l->resume == NULL)
		l->resume = evtimer_new(l->srv->base, resume_cb, l);
	evtimer_add(l->resume, &tv);
}

int
smtp_server_listen(struct smtp_server *srv, int fd, bool implicit_tls)
{
	struct listener *l;

	if (implicit_tls && srv->cfg.tls == NULL) {
		close(fd);
		return PTT_EINVAL;
	}
	net_set_nonblock(fd);
	l = xcalloc(1, sizeof(*l));
	l->srv = srv;
	l->implicit_tls = implicit_tls;
	l->lev = evconnlistener_new(srv->base, accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l->lev == NULL) {
		close(fd);
		free(l);
		return PTT_EIO;
	}
	evconnlistener_set_error_cb(l->lev, accept_error_cb);
	l->next = srv->listeners;
	srv->listeners = l;
	return 0;
}

struct smtp_server *
smtp_server_new(struct event_base *base, const struct smtp_server_config *cfg,
    const struct smtp_hooks *hooks, void *arg)
{
	struct smtp_server *srv = xcalloc(1, sizeof(*srv));

	srv->base = base;
	srv->cfg = *cfg;
	srv->hostname = xstrdup(cfg->hostname ? cfg->hostname : "localhost");
	srv->greeting = xstrdup(cfg->greeting ? cfg->greeting : "ESMTP ptt");
	srv->cfg.hostname = srv->hostname;
	srv->cfg.greeting = srv->greeting;
	if (srv->cfg.max_size == 0)
		srv->cfg.max_size = 10 * 1024 * 1024;
	if (srv->cfg.max_rcpts == 0)
		srv->cfg.max_rcpts = 100;
	if (srv->cfg.max_errors == 0)
		srv->cfg.max_errors = 20;
	if (srv->cfg.max_sessions == 0)
		srv->cfg.max_sessions = 1000;
	if (srv->cfg.timeout_cmd == 0)
		srv->cfg.timeout_cmd = 300;
	if (srv->cfg.timeout_drain == 0)
		srv->cfg.timeout_drain = 5;
	if (srv->cfg.timeout_data == 0)
		srv->cfg.timeout_data = 180;
	if (srv->cfg.timeout_hook == 0)
		srv->cfg.timeout_hook = 600;
	if (hooks != NULL)
		srv->hooks = *hooks;
	srv->arg = arg;
	return srv;
}

static void
free_listeners(struct smtp_server *srv)
{
	while (srv->listeners != NULL) {
		struct listener *l = srv->listeners;
		srv->listeners = l->next;
		evconnlistener_free(l->lev);
		if (l->resume != NULL)
			event_free(l->resume);
		free(l);
	}
}

void
smtp_server_shutdown(struct smtp_server *srv, void (*done)(void *),
    void *done_arg)
{
	struct smtp_session *s, *next;

	free_listeners(srv);
	srv->shutting_down = true;
	srv->done = done;
	srv->done_arg = done_arg;
	if (srv->nsessions == 0) {
		srv->done = NULL;
		if (done != NULL)
			done(done_arg);
		return;
	}
	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		s->shutdown = true;
		/* one inside a transaction finishes it, then gets 421 */
		s->drain_mail = s->in_mail;
		/* waiting for a command: at most timeout_drain more */
		if (s->phase == PH_CMD || s->phase == PH_GREETING)
			session_set_timeout(s, srv->cfg.timeout_drain);
	}
}

void
smtp_server_free(struct smtp_server *srv)
{
	if (srv == NULL)
		return;
	free_listeners(srv);
	srv->done = NULL;
	while (srv->sessions != NULL) {
		struct smtp_session *s = srv->sessions;
		session_drop(s);
		s->pending = PEND_NONE;
		s->depth = 0;
		session_free(s);
	}
	free(srv->hostname);
	free(srv->greeting);
	free(srv);
}
