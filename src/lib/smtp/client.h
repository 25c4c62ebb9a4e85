/*
 * client.h - asynchronous SMTP client sessions on libevent 2.1.
 *
 * Implements the client side of RFC 5321 (sessions, transactions, 4.5.3.2
 * timeouts), STARTTLS (RFC 3207) and implicit TLS (RFC 8314), AUTH PLAIN /
 * LOGIN (RFC 4954, 4616), PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME
 * (RFC 6152), SMTPUTF8 (RFC 6531), CHUNKING/BDAT (RFC 3030), DSN
 * parameters (RFC 3461), REQUIRETLS (RFC 8689) and enhanced status codes
 * (RFC 3463).
 *
 * A session connects to an address the caller already resolved (or adopts
 * a connected descriptor), reads the greeting, says EHLO (HELO when EHLO
 * is refused with 500/502), applies the TLS policy, authenticates when
 * asked, then runs any number of transactions on the same connection
 * (connection reuse), and QUITs:
 *
 *	c = smtp_client_new(base, &opts);
 *	smtp_client_connect(c, sa, salen, ready_cb, arg);
 *	  ready_cb: res->outcome == SMTP_OUT_OK -> smtp_client_send(c, &txn, done_cb, arg)
 *	  done_cb:  per-recipient results in res->rcpt[]; send again, or
 *	            smtp_client_quit(c, quit_cb, arg) / smtp_client_free(c)
 *
 * Policy: with SMTP_TLS_REQUIRED or SMTP_TLS_VERIFIED no envelope (and no
 * AUTH) is ever sent in plaintext; AUTH is never sent without TLS.
 *
 * Trusts: nothing the server sends (replies go through smtp/reply.h).
 * Trusts the caller's SSL_CTX (certificates, CA) and resolved address.
 *
 * Callbacks run from the event loop. Inside any callback the caller may
 * call smtp_client_send(), smtp_client_quit() or smtp_client_free().
 * The process must ignore SIGPIPE (libevent writes to sockets with
 * writev(); a peer that resets would otherwise kill it).
 */
#ifndef PTT_SMTP_CLIENT_H
#define PTT_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "smtp/proto.h"
#include "smtp/reply.h"

struct event_base;
struct smtp_client;

enum smtp_tls_policy {
	SMTP_TLS_NONE,		/* never STARTTLS */
	SMTP_TLS_OPPORTUNISTIC,	/* STARTTLS when offered; a refused STARTTLS
				 * continues in plaintext; a failed handshake
				 * ends the session (res->reason SMTP_R_TLS,
				 * res->tls_fallback_ok: retry in plaintext) */
	SMTP_TLS_REQUIRED,	/* encrypt, do not verify the certificate */
	SMTP_TLS_VERIFIED,	/* encrypt and verify: chain and name, or pin */
};

/* RFC 5321 4.5.3.2 defaults, in seconds, used for a field left 0. */
struct smtp_timeouts {
	unsigned connect;	/* 30 (not in the RFC; includes TLS for 465) */
	unsigned greeting;	/* 300 */
	unsigned ehlo;		/* 300: EHLO, STARTTLS, TLS handshake, AUTH, RSET, QUIT */
	unsigned mail;		/* 300 */
	unsigned rcpt;		/* 300 */
	unsigned data_init;	/* 120: reply to DATA */
	unsigned data_block;	/* 180: no progress writing the message */
	unsigned data_term;	/* 600: reply after "." or BDAT LAST */
};

struct smtp_client_opts {
	const char *id;		/* log id (copied); NULL: a random one */
	const char *helo;	/* our name for EHLO (copied); NULL: "localhost" */
	enum smtp_tls_policy tls;
	bool implicit_tls;	/* TLS from the first byte (port 465) */
	SSL_CTX *ssl_ctx;	/* needed for any TLS; the caller keeps it alive
				 * for the session's life. One context serves
				 * every policy: below VERIFIED the session does
				 * not verify whatever the context says; for
				 * VERIFIED it needs the CAs (tls_opts.ca_file)
				 * unless pin is set. A client certificate in it
				 * gives mutual TLS */
	const char *sni;	/* server name for SNI and, unless verify_name,
				 * for verification (copied) */
	const char *verify_name; /* name or IP the certificate must carry */
	const char *pin;	/* "sha256:<hex>": accept exactly this cert */
	const char *tls_cache_key; /* "host:port" for session resumption */
	const char *auth_user;	/* AUTH when both are set (copied) */
	const char *auth_pass;	/* (copied; wiped at free) */
	unsigned auth_mech;	/* SMTP_AUTH_PLAIN or SMTP_AUTH_LOGIN to insist
				 * on one; 0: PLAIN when offered, else LOGIN */
	bool bdat;		/* use BDAT when the server offers CHUNKING */
	bool no_pipelining;	/* never pipeline even when offered */
	size_t chunk_size;	/* BDAT chunk; 0: 256 KiB */
	struct smtp_timeouts tmo;
};

enum smtp_outcome {
	SMTP_OUT_OK,		/* accepted */
	SMTP_OUT_TEMP,		/* try again later */
	SMTP_OUT_PERM,		/* will not work: bounce */
};

enum smtp_reason {
	SMTP_R_NONE,		/* success */
	SMTP_R_REPLY,		/* the server's reply said so (see reply) */
	SMTP_R_NETWORK,		/* connect failed, reset, closed early */
	SMTP_R_TIMEOUT,
	SMTP_R_TLS,		/* handshake or verification failed */
	SMTP_R_PROTOCOL,	/* the server sent garbage */
	SMTP_R_POLICY,		/* we refused: TLS not offered, 8-bit or UTF-8
				 * not supported, too big, AUTH failed... */
};

struct smtp_rcpt_result {
	enum smtp_outcome outcome;
	struct smtp_reply reply;	/* the RCPT reply when it refused,
					 * else the final one */
};

struct smtp_result {
	enum smtp_outcome outcome;	/* session or transaction as a whole:
					 * OK when the message was accepted
					 * for at least one recipient */
	enum smtp_reason reason;
	struct smtp_reply reply;	/* the reply that decided, or a local
					 * one (code 0) describing reason */
	bool tls;			/* the session is encrypted */
	bool tls_fallback_ok;		/* opportunistic handshake failed */
	bool auth;			/* we authenticated */
	size_t nrcpt;
	size_t naccepted;		/* recipients with outcome OK */
	struct smtp_rcpt_result *rcpt;	/* nrcpt entries, txn order */
};

/* DSN requests: SMTP_NOTIFY_* and enum smtp_ret come from smtp/proto.h. */

struct smtp_txn_rcpt {
	const char *addr;	/* mailbox without <> */
	unsigned notify;	/* SMTP_NOTIFY_*; 0: no NOTIFY */
	const char *orcpt;	/* original recipient (an address; sent as
				 * ORCPT=rfc822;xtext) or NULL */
};

/* One message. Everything is borrowed: it must stay valid until the done
 * callback. */
struct smtp_txn {
	const char *from;	/* reverse path without <>; "" for <> */
	const struct smtp_txn_rcpt *rcpt;
	size_t nrcpt;
	const void *msg;	/* the message, CRLF line endings */
	size_t len;
	enum smtp_ret ret;	/* DSN RET, when the server offers DSN */
	const char *envid;	/* DSN ENVID or NULL */
	bool smtputf8;		/* the message needs SMTPUTF8 (UTF-8 headers);
				 * also set automatically for non-ASCII
				 * addresses */
	bool requiretls;	/* RFC 8689: needs TLS and REQUIRETLS */
};

typedef void (*smtp_client_cb)(struct smtp_client *c,
    const struct smtp_result *res, void *arg);

/* A new session; copies what it keeps from o. Never NULL. */
struct smtp_client *smtp_client_new(struct event_base *base,
    const struct smtp_client_opts *o);

/*
 * Start the session: connect to sa (non-blocking), or adopt fd (a connected
 * socket; the session closes it). cb runs once, when the session is ready
 * for transactions (outcome OK) or failed (then the session is dead; free
 * it). Returns 0 or a negative PTT_E* code (cb is not called then).
 */
int smtp_client_connect(struct smtp_client *c, const struct sockaddr *sa,
    socklen_t salen, smtp_client_cb cb, void *arg);
int smtp_client_connect_fd(struct smtp_client *c, int fd,
    smtp_client_cb cb, void *arg);

/*
 * Send one message on a ready session. cb runs once with the result; the
 * session can then send again (after a failure it sends RSET first) unless
 * smtp_client_alive() is false. Returns 0, or PTT_EINVAL (bad arguments:
 * no recipients, an address with control bytes or <>, a message with a
 * bare CR or LF), PTT_EAGAIN (not ready, or busy with another message);
 * cb is not called then.
 */
int smtp_client_send(struct smtp_client *c, const struct smtp_txn *t,
    smtp_client_cb cb, void *arg);

/* Say QUIT, wait for the reply (or a short time), close; cb (may be NULL)
 * runs when done. Then free the session. */
void smtp_client_quit(struct smtp_client *c, smtp_client_cb cb, void *arg);

/* Close at once and free (safe inside a callback). */
void smtp_client_free(struct smtp_client *c);

/* The session can take another message (connected, ready, not closing). */
bool smtp_client_alive(const struct smtp_client *c);
/* The capabilities the server announced (after the ready callback). */
const struct smtp_caps *smtp_client_caps(const struct smtp_client *c);
/* "version=TLSv1.3 cipher=..." or "" when not encrypted. */
const char *smtp_client_tls_info(const struct smtp_client *c);
const char *smtp_client_id(const struct smtp_client *c);

const char *smtp_outcome_name(enum smtp_outcome o);
const char *smtp_reason_name(enum smtp_reason r);

#endif
