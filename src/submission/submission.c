/*
 * submission.c - ptt-submission: where the domain's users send mail.
 *
 * Implements: message submission (RFC 6409) on port 587 with STARTTLS
 * (RFC 3207) and on port 465 with implicit TLS (RFC 8314); AUTH PLAIN and
 * LOGIN (RFC 4954, 4616) only over TLS; the Received field (RFC 5321
 * 4.4, RFC 3848 keywords) and the Message-ID and Date a submission server
 * adds when missing (RFC 6409 8.2, 8.3).
 *
 * Policy: a user may send only as user@domain (with +detail) or an
 * address listed in their send_as, in the envelope and in From: (550
 * 5.7.1 otherwise). Authentication failures are slowed down per client
 * address and per user name and logged. Passwords are checked against
 * argon2id hashes in worker threads, so a login never stalls other
 * sessions. A message gets 250 only when the signer said 250.
 *
 * Holds: the users database (read-only, from the configuration repository,
 * hot-reloaded when its head commit changes). Talks to: the signer (mutual
 * TLS). Sandbox: read-only access to the configuration repository.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/repo.h"
#include "conf/users.h"
#include "mail/addr.h"
#include "mail/hdr.h"
#include "smtp/hop.h"
#include "smtp/server.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/ev.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/param.h"
#include "util/sandbox.h"
#include "util/tls.h"

enum { RCV_FULL, RCV_HIDE_CLIENT };

struct config {
	char *listen_submission;	/* 587, STARTTLS */
	char *listen_smtps;		/* 465, implicit TLS */
	char *hostname;
	char *domain;
	char *cert, *key;		/* public certificate (ACME) */
	char *internal_cert, *internal_key, *ca;
	char *signer, *signer_name;
	bool signer_implicit_tls;
	char *config_repo, *branch;
	long long reload_interval;
	int received;
	unsigned long long max_size;
	long long max_rcpts;
	long long auth_threads;
	long long fail_window;
	long long fail_max_delay;
	bool sandbox;
	char *user;
};

#define P(n, t, d, lo, hi, ch, f, doc) { n, t, d, lo, hi, ch, offsetof(struct config, f), doc }
static const struct param params[] = {
	P("listen_submission", PARAM_STR, "0.0.0.0:587", 0, 0, NULL, listen_submission, "Submission with STARTTLS (RFC 6409); empty: off."),
	P("listen_smtps", PARAM_STR, "0.0.0.0:465", 0, 0, NULL, listen_smtps, "Submission over implicit TLS (RFC 8314); empty: off."),
	P("hostname", PARAM_STR, "localhost", 0, 0, NULL, hostname, "Our name in greetings and Received fields."),
	P("domain", PARAM_STR, NULL, 0, 0, NULL, domain, "The mail domain users send from (required)."),
	P("cert", PARAM_STR, NULL, 0, 0, NULL, cert, "Certificate shown to mail clients (PEM, chain)."),
	P("key", PARAM_STR, NULL, 0, 0, NULL, key, "Its private key."),
	P("internal_cert", PARAM_STR, NULL, 0, 0, NULL, internal_cert, "This service's internal certificate (submission.internal)."),
	P("internal_key", PARAM_STR, NULL, 0, 0, NULL, internal_key, "Its private key."),
	P("ca", PARAM_STR, NULL, 0, 0, NULL, ca, "The internal CA."),
	P("signer", PARAM_STR, "127.0.0.1:10025", 0, 0, NULL, signer, "The signer's internal address."),
	P("signer_name", PARAM_STR, "signer.internal", 0, 0, NULL, signer_name, "The name the signer's certificate must carry."),
	P("signer_implicit_tls", PARAM_BOOL, "yes", 0, 0, NULL, signer_implicit_tls, "TLS from the first byte to the signer."),
	P("config_repo", PARAM_STR, "/var/lib/ptt/config", 0, 0, NULL, config_repo, "The configuration repository (users/)."),
	P("branch", PARAM_STR, NULL, 0, 0, NULL, branch, "Its branch (default: its HEAD)."),
	P("reload_interval", PARAM_TIME, "5s", 1, 3600, NULL, reload_interval, "How often to look for a new commit of users."),
	P("received", PARAM_ENUM, "full", 0, 0, "full|hide-client", received, "Received field: full, or without the client's address and name."),
	P("max_size", PARAM_SIZE, "50m", 1024, 1LL << 31, NULL, max_size, "Largest message."),
	P("max_rcpts", PARAM_INT, "100", 1, 10000, NULL, max_rcpts, "Recipients per message."),
	P("auth_threads", PARAM_INT, "2", 1, 64, NULL, auth_threads, "Threads checking password hashes."),
	P("fail_window", PARAM_TIME, "15m", 1, 86400, NULL, fail_window, "Authentication failures are remembered this long."),
	P("fail_max_delay", PARAM_TIME, "30s", 0, 600, NULL, fail_max_delay, "Longest delay before answering a client or user that keeps failing."),
	P("sandbox", PARAM_BOOL, "yes", 0, 0, NULL, sandbox, "Restrict the process after start (Landlock, seccomp, uid)."),
	P("user", PARAM_STR, "nobody", 0, 0, NULL, user, "Unprivileged user to become when started as root."),
	PARAM_END
};

/* ---- authentication failures, per client address and per user ---- */

#define FAIL_SLOTS 4096
struct fail {
	char key[80];		/* "ip:192.0.2.1" or "user:alice" */
	unsigned count;
	time_t last;
};

struct sub {
	struct event_base *base;
	struct config cfg;
	SSL_CTX *pub_tls, *int_tls;
	struct smtp_server *srv;
	struct hop *signer;
	struct conf_repo *repo;
	struct users_db *users;
	struct event *reload_ev;
	char *dummy_hash;
	struct fail fails[FAIL_SLOTS];
	/* password workers */
	pthread_t *threads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct auth_job *queue_head, *queue_tail;
	int done_pipe[2];
	struct event *done_ev;
	bool quit;
};

struct auth_job {
	struct sub *sb;
	struct smtp_session *s;
	char user[USER_NAME_MAX + 1];
	char *hash;		/* copied from the db; NULL: unknown user */
	char *pw;
	size_t pwlen;
	bool ok;
	struct event *delay;
	struct auth_job *next;
};

/* Per-session state. */
struct sess {
	char user[USER_NAME_MAX + 1];	/* authenticated user or "" */
};

static struct fail *
fail_slot(struct sub *sb, const char *key, bool create)
{
	unsigned h = 5381;
	time_t now = time(NULL);

	for (const char *p = key; *p; p++)
		h = h * 33 + (unsigned char)*p;
	for (unsigned i = 0; i < 8; i++) {
		struct fail *f = &sb->fails[(h + i) % FAIL_SLOTS];
		if (strcmp(f->key, key) == 0) {
			if (now - f->last > sb->cfg.fail_window)
				f->count = 0;
			return f;
		}
		if (create && (f->key[0] == '\0' ||
		    now - f->last > sb->cfg.fail_window)) {
			ptt_strlcpy(f->key, key, sizeof(f->key));
			f->count = 0;
			f->last = now;
			return f;
		}
	}
	/* All probed slots busy: reuse the oldest. */
	if (create) {
		struct fail *o = &sb->fails[h % FAIL_SLOTS];
		ptt_strlcpy(o->key, key, sizeof(o->key));
		o->count = 0;
		o->last = now;
		return o;
	}
	return NULL;
}

/* Seconds to wait before answering, from the failures so far. */
static long
fail_delay(struct sub *sb, const char *ip, const char *user)
{
	char k[80];
	unsigned n = 0;
	struct fail *f;
	long d;

	snprintf(k, sizeof(k), "ip:%s", ip);
	if ((f = fail_slot(sb, k, false)) != NULL)
		n = f->count;
	snprintf(k, sizeof(k), "user:%s", user);
	if (user[0] && (f = fail_slot(sb, k, false)) != NULL && f->count > n)
		n = f->count;
	if (n == 0)
		return 0;
	d = n >= 6 ? sb->cfg.fail_max_delay : 1L << (n - 1);
	return d < sb->cfg.fail_max_delay ? d : sb->cfg.fail_max_delay;
}

static void
fail_note(struct sub *sb, const char *ip, const char *user, bool success)
{
	char k[80];
	struct fail *f;

	snprintf(k, sizeof(k), "ip:%s", ip);
	if ((f = fail_slot(sb, k, !success)) != NULL) {
		f->count = success ? 0 : f->count + 1;
		f->last = time(NULL);
	}
	if (user[0]) {
		snprintf(k, sizeof(k), "user:%s", user);
		if ((f = fail_slot(sb, k, !success)) != NULL) {
			f->count = success ? 0 : f->count + 1;
			f->last = time(NULL);
		}
	}
}

/* ---- password workers ---- */

static void *
worker(void *arg)
{
	struct sub *sb = arg;

	for (;;) {
		struct auth_job *j;

		pthread_mutex_lock(&sb->mu);
		while (sb->queue_head == NULL && !sb->quit)
			pthread_cond_wait(&sb->cv, &sb->mu);
		if (sb->quit) {
			pthread_mutex_unlock(&sb->mu);
			return NULL;
		}
		j = sb->queue_head;
		sb->queue_head = j->next;
		if (sb->queue_head == NULL)
			sb->queue_tail = NULL;
		pthread_mutex_unlock(&sb->mu);

		/* An unknown user costs the same as a known one. */
		j->ok = password_verify(j->hash ? j->hash : sb->dummy_hash,
		    j->pw, j->pwlen) && j->hash != NULL;
		while (write(sb->done_pipe[1], &j, sizeof(j)) < 0 && errno == EINTR)
			;
	}
}

static void
job_free(struct auth_job *j)
{
	if (j->pw != NULL) {
		ptt_memzero(j->pw, j->pwlen);
		free(j->pw);
	}
	free(j->hash);
	if (j->delay != NULL)
		event_free(j->delay);
	free(j);
}

static void
auth_answer(evutil_socket_t fd, short what, void *arg)
{
	struct auth_job *j = arg;
	struct sess *ss = smtp_session_data(j->s);

	if (j->ok) {
		ptt_strlcpy(ss->user, j->user, sizeof(ss->user));
		smtp_session_reply(j->s, 235, "2.7.0", "Authentication successful");
	} else
		smtp_session_reply(j->s, 535, "5.7.8", "Authentication credentials invalid");
	job_free(j);
}

static void
auth_done(evutil_socket_t fd, short what, void *arg)
{
	struct sub *sb = arg;
	struct auth_job *j;

	while (read(fd, &j, sizeof(j)) == (ssize_t)sizeof(j)) {
		const struct smtp_session_info *si = smtp_session_info(j->s);
		long delay = fail_delay(sb, si->peer_addr, j->user);

		fail_note(sb, si->peer_addr, j->user, j->ok);
		if (j->ok) {
			log_info(smtp_session_id(j->s), "auth: %s logged in from %s",
			    j->user, si->peer_addr);
			auth_answer(-1, 0, j);
			continue;
		}
		log_warn(smtp_session_id(j->s), "auth: failed for %s from %s%s",
		    j->user[0] ? j->user : "(unknown name)", si->peer_addr,
		    delay ? "; answer delayed" : "");
		if (delay > 0 && !smtp_session_closed(j->s)) {
			struct timeval tv = { delay, 0 };
			j->delay = evtimer_new(sb->base, auth_answer, j);
			evtimer_add(j->delay, &tv);
		} else
			auth_answer(-1, 0, j);
	}
}

static void
on_auth(struct smtp_session *s, const char *authzid, const char *login,
    const char *pass)
{
	struct sub *sb = smtp_server_arg(smtp_session_server(s));
	struct auth_job *j = xcalloc(1, sizeof(*j));
	const struct user *u;

	j->sb = sb;
	j->s = s;
	users_login_name(login, strlen(login), sb->cfg.domain, j->user);
	if (authzid != NULL && *authzid) {
		char z[USER_NAME_MAX + 1];
		/* Acting for someone else is not offered. */
		if (users_login_name(authzid, strlen(authzid), sb->cfg.domain,
		    z) != 0 || strcmp(z, j->user) != 0)
			j->user[0] = '\0';
	}
	if (j->user[0] && (u = users_lookup(sb->users, j->user)) != NULL)
		j->hash = xstrdup(u->password);
	j->pwlen = strlen(pass);
	j->pw = xmemdup(pass, j->pwlen);
	pthread_mutex_lock(&sb->mu);
	if (sb->queue_tail)
		sb->queue_tail->next = j;
	else
		sb->queue_head = j;
	sb->queue_tail = j;
	pthread_cond_signal(&sb->cv);
	pthread_mutex_unlock(&sb->mu);
}

/* ---- sender policy ---- */

/* May user send as addr (local@domain)? */
static bool
may_send_as(struct sub *sb, const char *user, const char *addr)
{
	const struct user *u = users_lookup(sb->users, user);
	const char *at = strrchr(addr, '@');
	size_t ul = strlen(user), ll;

	if (u == NULL || at == NULL)
		return false;
	for (size_t i = 0; i < u->n_send_as; i++)
		if (strcasecmp(u->send_as[i], addr) == 0)
			return true;
	if (strcasecmp(at + 1, sb->cfg.domain) != 0)
		return false;
	ll = (size_t)(at - addr);
	/* user@domain or user+detail@domain (RFC 5233 subaddressing). */
	return ll >= ul && strncasecmp(addr, user, ul) == 0 &&
	    (ll == ul || addr[ul] == '+');
}

static void
on_mail(struct smtp_session *s, const struct smtp_path *from,
    const struct smtp_mail_params *p)
{
	struct sub *sb = smtp_server_arg(smtp_session_server(s));
	struct sess *ss = smtp_session_data(s);

	if (from->null) {
		smtp_session_reply(s, 550, "5.7.1", "submission does not take "
		    "the null sender");
		return;
	}
	if (!may_send_as(sb, ss->user, from->addr)) {
		log_warn(smtp_session_id(s), "reject: %s may not send as <%s>",
		    ss->user, from->addr);
		smtp_session_reply(s, 550, "5.7.1", "%s may not send as <%s>",
		    ss->user, from->addr);
		return;
	}
	smtp_session_reply(s, 250, "2.1.0", "sender ok");
}

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
	"Sat" };

/* RFC 5322 3.3 date-time, in UTC. */
static void
add_date(struct buf *b, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	buf_addf(b, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

static void
on_message(struct smtp_session *s, const struct smtp_envelope *env,
    const uint8_t *msg, size_t len)
{
	struct sub *sb = smtp_server_arg(smtp_session_server(s));
	struct sess *ss = smtp_session_data(s);
	const struct smtp_session_info *si = smtp_session_info(s);
	struct mail_hdr h;
	struct buf pre;
	size_t i, nfrom = 0;
	char id[32];

	mail_hdr_parse(&h, msg, len, NULL);
	/* Every From: mailbox must be the user's (RFC 6409 8.1 lets a MSA
	 * check this; ptt always does). */
	for (i = mail_hdr_find(&h, "From", 0); i != MAIL_HDR_NONE;
	    i = mail_hdr_find(&h, "From", i + 1)) {
		struct mail_addr_list l;
		memset(&l, 0, sizeof(l));
		if (mail_addr_parse(&l, h.f[i].value, h.f[i].value_len) != 0 ||
		    l.n == 0) {
			mail_addr_list_free(&l);
			mail_hdr_free(&h);
			smtp_session_reply(s, 550, "5.6.0", "From: does not parse");
			return;
		}
		for (size_t k = 0; k < l.n; k++) {
			struct buf a;
			bool okay;
			buf_init(&a, 1024);
			mail_addr_spec(&l.a[k], &a);
			okay = may_send_as(sb, ss->user, a.data);
			if (!okay) {
				log_warn(smtp_session_id(s), "reject: %s may not "
				    "use From: %s", ss->user, a.data);
				smtp_session_reply(s, 550, "5.7.1", "%s may not "
				    "send as %s (From:)", ss->user, a.data);
			}
			buf_free(&a);
			if (!okay) {
				mail_addr_list_free(&l);
				mail_hdr_free(&h);
				return;
			}
			nfrom++;
		}
		mail_addr_list_free(&l);
	}
	if (nfrom == 0) {
		mail_hdr_free(&h);
		smtp_session_reply(s, 550, "5.6.0", "a message needs a From: field");
		return;
	}
	buf_init(&pre, 0);
	/* Received (RFC 5321 4.4), optionally without the client's address. */
	buf_addf(&pre, "Received: ");
	if (sb->cfg.received == RCV_FULL)
		buf_addf(&pre, "from %s ([%s])\r\n\t", si->helo[0] ? si->helo :
		    "unknown", si->peer_addr);
	buf_addf(&pre, "by %s (ptt) with %s id %s\r\n\tfor <%s>%s; ",
	    sb->cfg.hostname, si->proto, si->id, env->rcpt[0].path.addr,
	    env->nrcpt > 1 ? " (and others)" : "");
	add_date(&pre, time(NULL));
	buf_adds(&pre, "\r\n");
	if (mail_hdr_find(&h, "Message-ID", 0) == MAIL_HDR_NONE) {
		log_newid(id, 24);
		buf_addf(&pre, "Message-ID: <%s@%s>\r\n", id, sb->cfg.domain);
	}
	if (mail_hdr_find(&h, "Date", 0) == MAIL_HDR_NONE) {
		buf_adds(&pre, "Date: ");
		add_date(&pre, time(NULL));
		buf_adds(&pre, "\r\n");
	}
	{
		/* The user's policy that outbound mail must travel over TLS
		 * rides to the relay in a header only internal peers are
		 * trusted to set (the relay strips it). One the client wrote
		 * itself is refused rather than passed on. */
		const struct user *u = users_lookup(sb->users, ss->user);
		if (mail_hdr_find(&h, "X-Ptt-Require-TLS", 0) != MAIL_HDR_NONE) {
			mail_hdr_free(&h);
			buf_free(&pre);
			smtp_session_reply(s, 550, "5.7.1", "X-Ptt-Require-TLS "
			    "is set by ptt, not by clients");
			return;
		}
		if (u != NULL && u->require_tls)
			buf_adds(&pre, "X-Ptt-Require-TLS: yes\r\n");
	}
	mail_hdr_free(&h);
	log_info(smtp_session_id(s), "message from=<%s> user=%s nrcpt=%zu size=%zu",
	    env->from.addr, ss->user, env->nrcpt, len);
	hop_forward(sb->signer, s, env, &pre, msg, len);
	buf_free(&pre);
}

static void
on_connect(struct smtp_session *s)
{
	smtp_session_set_data(s, xcalloc(1, sizeof(struct sess)));
	smtp_session_reply(s, 220, NULL, "ready");
}

static void
on_disconnect(struct smtp_session *s)
{
	free(smtp_session_data(s));
}

/* ---- users ---- */

static void
reload(evutil_socket_t fd, short what, void *arg)
{
	struct sub *sb = arg;
	char err[256];
	bool changed = false;

	if (users_reload_if_changed(&sb->users, sb->repo, &changed, err,
	    sizeof(err)) != 0)
		log_err(NULL, "users: reload failed: %s (keeping %s)", err,
		    users_version(sb->users));
	else if (changed)
		log_info(NULL, "users: now %zu users at %.12s",
		    users_count(sb->users), users_version(sb->users));
}

/* ---- main ---- */

static void
stopped(void *arg)
{
	struct sub *sb = arg;

	event_base_loopexit(sb->base, NULL);
}

/* SIGHUP: the public certificate again (ptt-acme renewed it); sessions
 * under way keep the one they started with. */
static void
on_reload(void *arg)
{
	struct sub *sb = arg;

	(void)tls_server_reload_logged(sb->pub_tls, sb->cfg.cert);
}

static void
on_stop(void *arg)
{
	struct sub *sb = arg;

	hop_drain(sb->signer);
	smtp_server_shutdown(sb->srv, stopped, sb);
}

static void
listen_on(struct sub *sb, const char *addr, bool implicit)
{
	char err[256];
	int fd;

	if (addr == NULL || *addr == '\0')
		return;
	if ((fd = net_listen(addr, err, sizeof(err))) < 0)
		fatal("%s", err);
	if (smtp_server_listen(sb->srv, fd, implicit) != 0)
		fatal("cannot serve %s", addr);
	printf("listening %s %s\n", implicit ? "smtps" : "submission", addr);
}

int
main(int argc, char **argv)
{
	static struct sub sb;	/* large (failure table): not on the stack */
	struct smtp_server_config sc;
	struct smtp_hooks hooks;
	struct conf_repo_opts ro;
	char err[512], rnd[32];
	struct timeval tv;

	log_init(argv[0]);
	param_main(params, &sb.cfg, "submission", argc, argv);
	if (sb.cfg.domain == NULL)
		fatal("domain is required");
	sb.base = ev_base_new();

	hop_front_tls(sb.cfg.cert, sb.cfg.key, sb.cfg.internal_cert,
	    sb.cfg.internal_key, sb.cfg.ca, &sb.pub_tls, &sb.int_tls);
	{
		struct hop_opts ho;
		memset(&ho, 0, sizeof(ho));
		ho.addr = sb.cfg.signer;
		ho.name = sb.cfg.signer_name;
		ho.helo = sb.cfg.hostname;
		ho.implicit_tls = sb.cfg.signer_implicit_tls;
		ho.tls = sb.int_tls;
		ho.pool = 8;
		if ((sb.signer = hop_new(sb.base, &ho, err, sizeof(err))) == NULL)
			fatal("signer: %s", err);
	}

	memset(&ro, 0, sizeof(ro));
	ro.url = sb.cfg.config_repo;
	ro.branch = sb.cfg.branch;
	if (conf_repo_open(&sb.repo, &ro, err, sizeof(err)) != 0)
		fatal("%s", err);
	if (users_load(&sb.users, sb.repo, NULL, err, sizeof(err)) != 0)
		fatal("users: %s", err);
	log_info(NULL, "users: %zu users at %.12s", users_count(sb.users),
	    users_version(sb.users));
	log_newid(rnd, 30);
	if (password_hash(rnd, strlen(rnd), &sb.dummy_hash) != 0)
		fatal("cannot make the dummy hash");

	/* Password workers report through a pipe into the event loop. */
	if (pipe2(sb.done_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		fatal("pipe: %s", strerror(errno));
	pthread_mutex_init(&sb.mu, NULL);
	pthread_cond_init(&sb.cv, NULL);
	sb.done_ev = event_new(sb.base, sb.done_pipe[0], EV_READ | EV_PERSIST,
	    auth_done, &sb);
	event_add(sb.done_ev, NULL);

	memset(&sc, 0, sizeof(sc));
	sc.hostname = sb.cfg.hostname;
	sc.greeting = "ESMTP ptt submission";
	sc.tls = sb.pub_tls;
	sc.starttls = true;
	sc.auth = true;
	sc.require_auth = true;
	sc.max_size = sb.cfg.max_size;
	sc.max_rcpts = (unsigned)sb.cfg.max_rcpts;
	memset(&hooks, 0, sizeof(hooks));
	hooks.connect = on_connect;
	hooks.auth = on_auth;
	hooks.mail = on_mail;
	hooks.message = on_message;
	hooks.disconnect = on_disconnect;
	sb.srv = smtp_server_new(sb.base, &sc, &hooks, &sb);
	listen_on(&sb, sb.cfg.listen_submission, false);
	listen_on(&sb, sb.cfg.listen_smtps, true);
	fflush(stdout);

	sb.reload_ev = event_new(sb.base, -1, EV_PERSIST, reload, &sb);
	tv.tv_sec = sb.cfg.reload_interval;
	tv.tv_usec = 0;
	event_add(sb.reload_ev, &tv);

	if (sb.cfg.sandbox && !conf_url_is_remote(sb.cfg.config_repo)) {
		struct sandbox sbx;
		/* and the certificate's directories, for a reload after a
		 * renewal (a new file is renamed into them) */
		char cdir[4096], kdir[4096];
		ptt_strlcpy(cdir, sb.cfg.cert, sizeof(cdir));
		ptt_strlcpy(kdir, sb.cfg.key, sizeof(kdir));
		ptt_strlcpy(cdir, dirname(cdir), sizeof(cdir));
		ptt_strlcpy(kdir, dirname(kdir), sizeof(kdir));
		const char *ro_paths[4] = { sb.cfg.config_repo, cdir, kdir, NULL };
		char h[256], p[32];
		uint16_t ports[2] = { 0, 0 };
		memset(&sbx, 0, sizeof(sbx));
		if (net_split_hostport(sb.cfg.signer, h, sizeof(h), p, sizeof(p)) == 0)
			ports[0] = (uint16_t)atoi(p);
		sbx.name = "submission";
		sbx.user = sb.cfg.user;
		sbx.ro_paths = ro_paths;
		sbx.groups = SB_FS_READ | SB_NET_CONNECT | SB_THREADS;
		sbx.connect_ports = ports;
		if (sandbox_enter(&sbx, err, sizeof(err)) != 0)
			fatal("%s", err);
	}
	/* After the sandbox, so the workers inherit it. */
	sb.threads = xcalloc((size_t)sb.cfg.auth_threads, sizeof(*sb.threads));
	for (long long i = 0; i < sb.cfg.auth_threads; i++)
		if (pthread_create(&sb.threads[i], NULL, worker, &sb) != 0)
			fatal("cannot start a password worker");
	ev_on_signals(sb.base, on_stop, on_reload, &sb);
	event_base_dispatch(sb.base);

	pthread_mutex_lock(&sb.mu);
	sb.quit = true;
	pthread_cond_broadcast(&sb.cv);
	pthread_mutex_unlock(&sb.mu);
	for (long long i = 0; i < sb.cfg.auth_threads; i++)
		pthread_join(sb.threads[i], NULL);
	ev_free_signals();
	smtp_server_free(sb.srv);
	hop_free(sb.signer);
	event_free(sb.done_ev);
	event_free(sb.reload_ev);
	users_free(sb.users);
	conf_repo_close(sb.repo);
	free(sb.threads);
	free(sb.dummy_hash);
	SSL_CTX_free(sb.pub_tls);
	SSL_CTX_free(sb.int_tls);
	param_free(params, &sb.cfg);
	event_base_free(sb.base);
	return 0;
}
