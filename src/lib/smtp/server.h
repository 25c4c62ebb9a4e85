/*
 * server.h - the SMTP server engine every ptt daemon embeds.
 *
 * Implements RFC 5321 (the receiver side), RFC 2920 PIPELINING, RFC 6152
 * 8BITMIME, RFC 6531 SMTPUTF8, RFC 1870 SIZE, RFC 2034/3463 enhanced
 * status codes, RFC 3207 STARTTLS (and implicit TLS, RFC 8314), RFC 4954
 * AUTH (PLAIN, LOGIN), RFC 3030 CHUNKING/BINARYMIME, RFC 3461 DSN
 * parameters, RFC 3848 protocol keywords. The engine holds no policy: a
 * daemon decides through hooks.
 *
 * Hooks. Every hook that takes a decision (connect, helo, auth, mail, rcpt,
 * data, message) must answer exactly once with smtp_session_reply(), either
 * before it returns or LATER (from any event callback on the same event
 * base). Until it answers, the session reads nothing more from the peer
 * and executes no further pipelined command, so a hop never says 250
 * before its next hop did. A NULL hook accepts (except auth: a NULL auth
 * hook refuses every login). 2xx (and 3xx for data) accepts; 4xx/5xx
 * refuses with the hook's code, enhanced code and text. When connect,
 * helo, auth or data accept, the engine sends its own reply (greeting,
 * EHLO list, 235, 354); mail, rcpt and message replies carry the hook's
 * text. A 421 answer closes the session after the reply (RFC 5321 3.8).
 * If the peer goes away while a hook is pending, the session stays
 * allocated (smtp_session_closed() turns true) until the hook answers.
 *
 * Pointers passed to a hook (paths, params, envelope, message bytes,
 * user and password) stay valid until the hook answers; copy what you keep.
 *
 * Smuggling: a message with a bare CR or bare LF is read to its real end
 * (<CRLF>.<CRLF> only) and then refused with 554 5.6.0; the session goes
 * on (the peer may RSET and send a clean message). A command line with a
 * bare CR or LF gets 500 5.5.2. Pipelined bytes after STARTTLS are
 * discarded, never executed.
 *
 * Logs: one line per event, keyed by the session id (connect, reject,
 * auth, tls, message, disconnect with per-command counts).
 *
 * The caller ignores SIGPIPE (util/ev.h ev_base_new() does): a peer that
 * goes away must not kill the process.
 *
 * Trusts: nothing from the peer; the hooks and the configuration.
 */
#ifndef PTT_SMTP_SERVER_H
#define PTT_SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "smtp/proto.h"
#include "util/log.h"

struct smtp_server;
struct smtp_session;

struct smtp_server_config {
	const char *hostname;	/* our name in the greeting and EHLO (copied) */
	const char *greeting;	/* text after "220 <hostname> " (copied);
				 * NULL: "ESMTP ptt" */
	SSL_CTX *tls;		/* server context (util/tls.h) or NULL; not
				 * owned, must outlive the server */
	bool starttls;		/* offer STARTTLS (needs tls) */
	bool require_tls;	/* 530 to everything but EHLO/HELO/NOOP/RSET/
				 * QUIT/STARTTLS until TLS is on */
	bool auth;		/* offer AUTH PLAIN LOGIN (after TLS) */
	bool auth_plaintext;	/* also offer AUTH without TLS (tests only) */
	bool require_auth;	/* MAIL needs a successful AUTH first */
	unsigned ext_disable;	/* SMTP_EXT_* not to offer */
	uint64_t max_size;	/* message size limit; 0: 10 MiB */
	unsigned max_rcpts;	/* per message; 0: 100 */
	unsigned max_errors;	/* protocol errors before 421; 0: 20 */
	unsigned max_sessions;	/* concurrent sessions; 0: 1000 */
	unsigned timeout_cmd;	/* s, waiting for a command; 0: 300 */
	unsigned timeout_data;	/* s, waiting for a data block; 0: 180 */
	unsigned timeout_hook;	/* s, for a hook to answer; 0: 600 */
	unsigned timeout_drain;	/* s, a session may stay idle once the
				 * server is shutting down; 0: 5 */
	bool long_lines;	/* accept text lines over 1000 octets */
};

/* One accepted recipient. */
struct smtp_rcpt {
	struct smtp_path path;
	struct smtp_rcpt_params params;
};

/* The transaction handed to the message hook. */
struct smtp_envelope {
	struct smtp_path from;
	struct smtp_mail_params mail;
	const struct smtp_rcpt *rcpt;	/* the accepted recipients */
	size_t nrcpt;
	bool bdat;		/* received with BDAT */
	unsigned data_flags;	/* SMTP_DATA_8BIT, SMTP_DATA_NUL (smtp/data.h) */
};

/* Material for Received: headers (RFC 5321 4.4) and logs. */
struct smtp_session_info {
	const char *id;		/* log/session id */
	const char *hostname;	/* ours */
	const char *peer_addr;	/* "192.0.2.1" or "2001:db8::1" */
	int peer_port;
	const char *helo;	/* "" before HELO/EHLO */
	bool helo_valid;	/* syntactically a domain or address literal */
	bool esmtp;
	const char *auth_user;	/* NULL unless authenticated */
	const char *tls;	/* tls_describe() text, NULL when plaintext */
	const char *proto;	/* RFC 3848 / RFC 6531 keyword: SMTP, ESMTP,
				 * ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP... */
};

struct smtp_hooks {
	void (*connect)(struct smtp_session *s);
	void (*helo)(struct smtp_session *s, const char *name, bool ehlo);
	void (*auth)(struct smtp_session *s, const char *authzid,
	    const char *user, const char *pass);
	void (*mail)(struct smtp_session *s, const struct smtp_path *from,
	    const struct smtp_mail_params *p);
	void (*rcpt)(struct smtp_session *s, const struct smtp_path *to,
	    const struct smtp_rcpt_params *p);
	/* DATA (before the 354) or the first BDAT of a transaction. */
	void (*data)(struct smtp_session *s);
	/* The whole message, un-dot-stuffed, exactly as received. */
	void (*message)(struct smtp_session *s, const struct smtp_envelope *env,
	    const uint8_t *msg, size_t len);
	/* Informative, no answer: */
	/* After a TLS handshake (STARTTLS or implicit); return false to
	 * close the session with 421 (e.g. a client certificate check). */
	bool (*tls)(struct smtp_session *s, SSL *ssl);
	/* The transaction ended (RSET, EHLO, STARTTLS, after the message,
	 * disconnect): free per-message state. */
	void (*reset)(struct smtp_session *s);
	/* Last call; free the session's user data. */
	void (*disconnect)(struct smtp_session *s);
};

/* A server on base with a copy of cfg and hooks. arg: smtp_server_arg(). */
struct smtp_server *smtp_server_new(struct event_base *base,
    const struct smtp_server_config *cfg, const struct smtp_hooks *hooks,
    void *arg);
/*
 * Accept connections on a listening socket (takes the fd). implicit_tls:
 * TLS from the first byte (port 465 style; needs cfg->tls). 0 or PTT_E*.
 */
int smtp_server_listen(struct smtp_server *srv, int fd, bool implicit_tls);
/* Serve one already-connected socket (takes the fd; tests, socket
 * activation). peer may be NULL. 0 or PTT_E*. */
int smtp_server_serve_fd(struct smtp_server *srv, int fd,
    const struct sockaddr *peer, socklen_t peerlen, bool implicit_tls);
/*
 * Graceful stop (a redeploy drains the old instance with it): close the
 * listeners; every open session may finish one more transaction: it is
 * served as usual until its next MAIL after a transaction completed, or
 * until it stays idle for timeout_drain, and then gets 421 4.3.2. So a
 * client that connected just before the stop (and may be between AUTH
 * and MAIL) still gets its message through, and a client reusing its
 * connection moves to the new instance. done(arg) runs once no session
 * is left (possibly before this returns).
 */
void smtp_server_shutdown(struct smtp_server *srv, void (*done)(void *),
    void *done_arg);
/* Free everything now (sessions are dropped without a reply; hooks must
 * not answer afterwards). */
void smtp_server_free(struct smtp_server *srv);
unsigned smtp_server_sessions(const struct smtp_server *srv);
void *smtp_server_arg(const struct smtp_server *srv);

/*
 * Answer the pending hook: code (200..599), enhanced code (NULL: x.0.0 by
 * class) and text (printf format; '\n' separates lines of a multi-line
 * reply; control characters are replaced). Calling it with no hook
 * pending is a bug (panic).
 */
void smtp_session_reply(struct smtp_session *s, int code, const char *ecode,
    const char *fmt, ...) PTT_PRINTF(4, 5);
/* Answer the pending hook with a status from the table (smtp/proto.h). */
void smtp_session_reply_status(struct smtp_session *s, enum smtp_status st);

struct smtp_server *smtp_session_server(const struct smtp_session *s);
const struct smtp_session_info *smtp_session_info(struct smtp_session *s);
const char *smtp_session_id(const struct smtp_session *s);
SSL *smtp_session_ssl(const struct smtp_session *s);	/* NULL: plaintext */
void *smtp_session_data(const struct smtp_session *s);
void smtp_session_set_data(struct smtp_session *s, void *data);
/* The session may greet, EHLO, NOOP, RSET and QUIT, but MAIL gets 550
 * 5.7.1: for a peer that is only allowed to look (a supervisor's health
 * check). */
void smtp_session_forbid_mail(struct smtp_session *s);
/* true once the peer is gone (a pending hook may stop early). */
bool smtp_session_closed(const struct smtp_session *s);

#endif
