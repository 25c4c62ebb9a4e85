/*
 * relay.h - ptt-relay: the durable queue between ptt's internal hops and the
 * recipients' MXs (RFC 5321 relay; RFC 3461-3464 DSN; RFC 7505 null MX).
 *
 * The daemon is split by concern, one file each:
 *   config.c   the parameter table (util/param.h) and its defaults
 *   accept.c   the internal mTLS listener: envelope -> queue_store -> 250
 *   expand.c   local recipients -> the users' forward addresses, SRS
 *   mx.c       RFC 5321 5.1 route: MX by preference, implicit MX, null MX,
 *              then AAAA and A per host
 *   retry.c    retry/expiry/notice arithmetic on an envelope (pure)
 *   dsn.c      RFC 3464 multipart/report generation (pure)
 *   deliver.c  the scheduler: jobs per domain, connections per destination,
 *              reuse, concurrency limits, TLS policy, results
 *   queuecmd.c `ptt-relay queue list|show|retry|delete`
 *   main.c     startup, sandbox, signals
 *
 * Holds: the queue directory (the only mail at rest), the internal
 * listener's certificate and key. Trusts: its configuration; only peers
 * with a certificate of the internal CA naming one of allowed_peers.
 */
#ifndef PTT_RELAY_RELAY_H
#define PTT_RELAY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "dns/resolve.h"
#include "queue/queue.h"
#include "util/param.h"

struct event_base;
struct resolver;
struct smtp_server;
struct sched;
struct conf_repo;
struct users_db;
struct srs;
struct srs_keyfile;

enum { RELAY_TLS_NONE, RELAY_TLS_OPPORTUNISTIC, RELAY_TLS_REQUIRED };

struct relay_config {
	char *listen;		/* internal listener host:port */
	bool implicit_tls;	/* TLS from the first byte instead of STARTTLS */
	char *cert, *key, *ca;	/* internal listener (mutual TLS) */
	char *allowed_peers;	/* space-separated certificate names */
	char *require_tls_peers; /* peers whose X-Ptt-Require-TLS is honoured */
	char *queue_dir;
	char *pid_file;		/* "": <queue_dir>/relay.pid */
	struct resolver_cfg dns;	/* dns_* */
	long long remote_port;
	char *helo_name;
	char *dsn_domain;	/* "": helo_name */
	int outbound_tls;	/* RELAY_TLS_* */
	bool ipv6, ipv4;
	long long max_conn, max_conn_dest;
	long long retry_min, retry_max, max_lifetime, delay_notice;
	long long reuse_idle, connect_timeout, stop_timeout;
	unsigned long long max_size;
	long long max_rcpts;
	bool sandbox;
	bool sandbox_debug;
	char *user;
	char *domains;		/* local domains: recipients there expanded */
	char *config_repo, *branch;	/* users/ (domains set) */
	long long reload_interval;
	char *postmaster;
	char *srs_secret;	/* file of SRS secrets (domains set) */
	char *srs_domain;	/* "": the first of domains */
	long long srs_max_age;
};

extern const struct param relay_params[];

/* The daemon's state (one per process). */
struct relay {
	struct relay_config cfg;
	struct event_base *base;
	struct queue *q;
	struct resolver *res;
	SSL_CTX *srv_ctx;	/* internal listener, verifies clients */
	SSL_CTX *cli_ctx;	/* outbound STARTTLS (no verification) */
	struct smtp_server *srv;
	struct sched *sched;
	bool stopping;
	/* Forwarding (cfg.domains set): users hot-reloaded, SRS secrets. */
	struct conf_repo *repo;
	struct users_db *users;
	struct event *reload_ev;
	struct srs_keyfile *srs_keys;
	struct srs *srs;
};

/* Is name (ASCII case-insensitively) one of the words of list, separated
 * by spaces, tabs or commas? */
bool relay_word_in(const char *list, const char *name);

/* The text after '@' of a mailbox, lowercased into out ("" if none). */
void relay_domain_of(const char *addr, char *out, size_t outlen);

/* expand.c: see its header comment for the rule. */
struct relay_local {
	const char *domains;		/* local domains (space-separated) */
	const struct users_db *users;	/* NULL: no user is known */
	const char *postmaster;		/* user of postmaster@ (NULL: same) */
	const struct srs *srs;		/* NULL: no SRS either way */
	const char *srs_domain;		/* the domain of SRS addresses */
	time_t now;
};

struct relay_expansion {
	/* [0]: the sender as received (recipients not forwarded, failed
	 * ones with state Q_FAILED, status and reply set); [1]: the sender
	 * rewritten by SRS (forwarded ones). An envelope with nrcpt 0 is
	 * not to be queued. */
	struct q_env env[2];
	char **via[2];		/* per recipient: the local address it
				 * replaces, or NULL */
	size_t nlocal;		/* local recipients that expanded */
	size_t nfailed;		/* local recipients that failed */
	char *fail_reply;	/* the first failure, for the log/reply */
	char fail_status[16];
	int srs_error;		/* SRS_E* when the sender could not be
				 * rewritten (it is then sent as is) */
};

/* Is addr's domain one of l's local domains? */
bool relay_is_local(const struct relay_local *l, const char *addr);
/* Expand in (whose recipients are Q_PENDING as received) into x (caller
 * frees with relay_expansion_free). Always 0. */
int relay_expand(const struct relay_local *l, const struct q_env *in,
    struct relay_expansion *x);
void relay_expansion_clear(struct relay_expansion *x, int g);
/* Move envelope g out of x into out (zeroed by the caller or freed). */
void relay_expansion_take(struct relay_expansion *x, int g,
    struct q_env *out);
void relay_expansion_free(struct relay_expansion *x);
/* l for the relay's current users, secrets and clock. */
void relay_local_of(const struct relay *r, struct relay_local *l);

/* accept.c */
struct smtp_envelope;
/* Build a queue envelope from what the server accepted (sender, DSN
 * parameters, BODY, SMTPUTF8, recipients with NOTIFY/ORCPT). env must be
 * zeroed; caller frees with q_env_free. 0 or PTT_EINVAL with err. */
int relay_env_from_smtp(const struct smtp_envelope *e, struct q_env *env,
    char *err, size_t errlen);
/* Remove every X-Ptt-Require-TLS field from the header section of msg,
 * writing the message to out; *yes is set when one said "yes". 0, or
 * PTT_ENOSPC when out is full. */
int relay_strip_require_tls(const void *msg, size_t len, struct buf *out,
    bool *yes);
/* The internal SMTP server with the relay's hooks (not yet listening). */
struct smtp_server *relay_server_new(struct relay *r);

/* deliver.c */
struct sched *sched_new(struct relay *r);
/* Schedule a queued message (env is copied). */
void sched_add(struct sched *s, const struct q_env *env);
/* SIGUSR1: reread envelopes from disk (drops deleted ones) and try every
 * pending recipient now. */
void sched_flush(struct sched *s);
/* Stop starting deliveries; done(arg) once nothing is in flight. */
void sched_stop(struct sched *s, void (*done)(void *), void *arg);
void sched_free(struct sched *s);
/* Messages held in memory, deliveries in flight (for tests and logs). */
size_t sched_nitems(const struct sched *s);

/* Deep copy of an envelope (dst zeroed; caller frees with q_env_free). */
void relay_env_copy(struct q_env *dst, const struct q_env *src);

/* queuecmd.c: `ptt-relay queue ...`; returns the exit status. */
int relay_queue_cmd(const struct relay_config *cfg, int argc, char **argv);
/* The pid file path for a configuration (static buffer). */
const char *relay_pid_file(const struct relay_config *cfg);

#endif
