/*
 * hop.h - hand a received message to the next ptt hop and answer the
 * sender with that hop's verdict: the end-to-end acknowledgement rule
 * ("a hop says 250 only after the next hop said 250").
 *
 * A hop is a next-hop address reached over TLS (implicit or STARTTLS,
 * always verified against the internal CA and the next hop's service
 * name, with this service's own certificate for mutual TLS). Idle
 * connections are kept for reuse.
 *
 *	hop_forward(h, s, env, msg, len, NULL)  from a server message hook
 * answers s (smtp_session_reply) exactly once: the next hop's 2xx when it
 * took every recipient; 451 when it took only some (the sender retries:
 * duplicates rather than loss); its 5xx when it refused permanently; 451
 * when it could not be reached or failed temporarily.
 *
 * Also: hop_peer_allowed(), the server-side check that a TLS client's
 * certificate names one of the allowed internal services.
 *
 * Trusts: the next hop only as far as TLS verification says.
 */
#ifndef PTT_SMTP_HOP_H
#define PTT_SMTP_HOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "smtp/server.h"
#include "util/buf.h"

struct event_base;
struct hop;

struct hop_opts {
	const char *addr;	/* "host:port" (numeric) of the next hop */
	const char *name;	/* service name its certificate must carry */
	const char *helo;	/* our name */
	bool implicit_tls;	/* TLS from the first byte; else STARTTLS */
	SSL_CTX *tls;		/* client context: verifies, has our cert */
	unsigned pool;		/* idle connections kept (0: none) */
};

/*
 * The TLS of a front door (mx, submission): the public server context from
 * cert and key (what ptt-acme renews) and the internal client context from
 * icert and ikey, verifying the next hop against ca. fatal() when one is
 * not set or does not load.
 */
void hop_front_tls(const char *cert, const char *key, const char *icert,
    const char *ikey, const char *ca, SSL_CTX **pub, SSL_CTX **internal);

/* NULL with err when addr does not parse. Copies what it keeps. */
struct hop *hop_new(struct event_base *base, const struct hop_opts *o,
    char *err, size_t errlen);
/* Close idle connections now (graceful stop); forwarding still works.
 * Call it before the event loop ends so nothing is left allocated. */
void hop_drain(struct hop *h);
void hop_free(struct hop *h);

/*
 * Forward and answer s. The message sent is prefix (may be NULL; e.g.
 * DKIM-Signature fields, taken over and freed) followed by msg[0..len),
 * which is copied. env is the session's envelope (copied).
 */
void hop_forward(struct hop *h, struct smtp_session *s,
    const struct smtp_envelope *env, struct buf *prefix, const void *msg,
    size_t len);

/* True when the TLS peer's certificate names one of the services in list
 * (space- or comma-separated); logs a refusal otherwise. */
bool hop_peer_allowed(struct smtp_session *s, SSL *ssl, const char *list);
/* The supervisor's certificate name: hop_peer_allowed lets it in to check
 * health (greeting, EHLO, NOOP, QUIT), with MAIL refused (550 5.7.1). */
#define HOP_HEALTH_PEER "pttd.internal"
/*
 * The listening side of an internal hop (signer, spamfilter): the server
 * engine as hostname on addr, TLS from the first byte with tls (which
 * verifies client certificates), max_size/max_rcpts, and hooks (whose tls
 * hook should call hop_peer_allowed). Prints "listening ADDR" on stdout
 * for supervisors and tests. Exits through fatal() when it cannot.
 */
struct smtp_server *hop_listen(struct event_base *base, const char *addr,
    const char *hostname, SSL_CTX *tls, uint64_t max_size, unsigned max_rcpts,
    const struct smtp_hooks *hooks, void *arg);
/* The same check without the log line. */
bool hop_peer_is(SSL *ssl, const char *list);
/*
 * SIGTERM for a hop in the middle (signer, spamfilter): close the idle
 * connections to next, let srv's sessions finish (smtp_server_shutdown),
 * then end base's event loop.
 */
void hop_stop(struct hop *next, struct smtp_server *srv,
    struct event_base *base);

#endif
