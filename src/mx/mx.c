/*
 * mx.c - ptt-mx: the domain's inbound MX on port 25.
 *
 * Implements: SMTP reception (RFC 5321) with opportunistic STARTTLS (RFC
 * 3207); sender authentication through auth/check.h - SPF (RFC 7208) for
 * MAIL FROM and HELO, DKIM (RFC 6376, 8301, 8463), DMARC (RFC 7489) - and
 * the Authentication-Results field (RFC 8601), after removing any such
 * field that arrived claiming our authserv-id (RFC 8601 5); the Received
 * field (RFC 5321 4.4).
 *
 * Policy:
 *   - RCPT only for users of the domain (users/ of the configuration
 *     repository, hot-reloaded), with +detail (RFC 5233): 550 5.1.1
 *     otherwise; any other domain gets 550 5.7.1 (relays for nobody).
 *   - SRS0/SRS1=...@domain (a bounce to the sender of mail the relay
 *     forwarded, auth/srs.h) only when its hash verifies with the secrets
 *     of srs_secret (the file the relay signs with) and it is at most
 *     srs_max_age days old: 550 5.7.1 for a forged hash, 550 5.1.1 for
 *     an expired or malformed one, one log line each. Accepted ones go on
 *     unchanged; the relay decodes them. Without a readable secret (an
 *     error logged at start) they are unknown users.
 *   - postmaster@domain and <postmaster> (RFC 5321 4.5.1) go to the user
 *     named by the postmaster parameter (default: a user called
 *     "postmaster"); the envelope recipient is rewritten to that user. When
 *     no such user exists postmaster is refused with 550 5.1.1 and an
 *     error is logged at start and on each refusal: the operator must
 *     name one.
 *   - DMARC: the verdict is always in Authentication-Results. A fail
 *     whose disposition is reject is refused with 550 5.7.1 (dmarc =
 *     enforce, the default) unless an ARC chain sealed by a domain in
 *     arc_trusted passes; with dmarc = quarantine-header, or when such a
 *     chain vouches, it is marked like quarantine instead; dmarc = off
 *     only records. A disposition of quarantine adds the field
 *     "X-Ptt-Quarantine: dmarc (...)" for the next hops.
 *   - A DNS failure that decides (check.h) gives 451 4.4.3, never a
 *     verdict.
 *   - A message gets 250 only when the spamfilter (next hop, mutual TLS)
 *     said 250 (smtp/hop.h).
 * One log line per message with the verdicts.
 *
 * Holds: the users database (read-only). Talks to: the spamfilter, the
 * resolver. Sandbox: read-only access to the configuration repository,
 * TCP connect to the spamfilter's and the resolver's ports only.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "auth/authres.h"
#include "auth/check.h"
#include "auth/srs.h"
#include "spam/cli.h"
#include "spam/feat.h"
#include "spam/header.h"
#include "spam/model.h"
#include "conf/repo.h"
#include "conf/users.h"
#include "dns/resolve.h"
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

enum { DMARC_ENFORCE, DMARC_QUARANTINE_HEADER, DMARC_OFF };

struct config {
	char *listen;
	char *hostname;
	char *domain;
	char *authserv_id;
	char *cert, *key;
	char *internal_cert, *internal_key, *ca;
	char *spamfilter, *spamfilter_name;
	bool spamfilter_implicit_tls;
	char *config_repo, *branch;
	long long reload_interval;
	char *postmaster;
	char *srs_secret;
	long long srs_max_age;
	int dmarc;
	char *arc_trusted;
	long long spam_refuse;
	char *spam_model;
	unsigned long long max_size;
	long long max_rcpts;
	long long max_sessions;
	long long check_timeout;
	struct resolver_cfg dns;	/* dns_* */
	bool sandbox, sandbox_debug;
	char *user;
};

#define P(n, t, d, lo, hi, ch, f, doc) { n, t, d, lo, hi, ch, offsetof(struct config, f), doc }
static const struct param params[] = {
	P("listen", PARAM_STR, "0.0.0.0:25", 0, 0, NULL, listen, "SMTP from the Internet (STARTTLS offered)."),
	P("hostname", PARAM_STR, "localhost", 0, 0, NULL, hostname, "Our name in the greeting and Received fields."),
	P("domain", PARAM_STR, NULL, 0, 0, NULL, domain, "The mail domain whose users receive here (required)."),
	P("authserv_id", PARAM_STR, "", 0, 0, NULL, authserv_id, "authserv-id of Authentication-Results (empty: hostname)."),
	P("cert", PARAM_STR, NULL, 0, 0, NULL, cert, "Certificate offered with STARTTLS (PEM, chain)."),
	P("key", PARAM_STR, NULL, 0, 0, NULL, key, "Its private key."),
	P("internal_cert", PARAM_STR, NULL, 0, 0, NULL, internal_cert, "This service's internal certificate (mx.internal)."),
	P("internal_key", PARAM_STR, NULL, 0, 0, NULL, internal_key, "Its private key."),
	P("ca", PARAM_STR, NULL, 0, 0, NULL, ca, "The internal CA."),
	P("spamfilter", PARAM_STR, "127.0.0.1:10028", 0, 0, NULL, spamfilter, "The spamfilter's internal address (next hop)."),
	P("spamfilter_name", PARAM_STR, "spamfilter.internal", 0, 0, NULL, spamfilter_name, "The name its certificate must carry."),
	P("spamfilter_implicit_tls", PARAM_BOOL, "yes", 0, 0, NULL, spamfilter_implicit_tls, "TLS from the first byte to the spamfilter."),
	P("config_repo", PARAM_STR, "/var/lib/ptt/config", 0, 0, NULL, config_repo, "The configuration repository (users/)."),
	P("branch", PARAM_STR, NULL, 0, 0, NULL, branch, "Its branch (default: its HEAD)."),
	P("reload_interval", PARAM_TIME, "5s", 1, 3600, NULL, reload_interval, "How often to look for a new commit of users."),
	P("postmaster", PARAM_STR, "postmaster", 0, 0, NULL, postmaster, "The user that receives mail for postmaster@domain."),
	P("srs_secret", PARAM_STR, "/var/lib/ptt/state/srs.key", 0, 0, NULL, srs_secret, "File of SRS secrets shared with the relay (0600, made on first start): bounces to SRS addresses are checked with it."),
	P("srs_max_age", PARAM_INT, "21", 1, 1000, NULL, srs_max_age, "Days an SRS address stays valid for bounces."),
	P("dmarc", PARAM_ENUM, "enforce", 0, 0, "enforce|quarantine-header|off", dmarc, "DMARC p=reject: refuse (550 5.7.1), mark with a header, or only record."),
	P("spam_refuse", PARAM_INT, "0", 0, 50, NULL, spam_refuse, "Refuse (550 5.7.1, before acknowledging) mail the spam model scores this many log-odds above its threshold (4: odds about 55 times the threshold's); 0: never, the spamfilter only labels."),
	P("spam_model", PARAM_STR, SPAM_MODEL_PATH, 0, 0, NULL, spam_model, "The spam model, loaded at start when spam_refuse is set."),
	P("arc_trusted", PARAM_STR, "", 0, 0, NULL, arc_trusted, "Sealer domains whose passing ARC chain lifts a DMARC reject (comma-separated)."),
	P("max_size", PARAM_SIZE, "50m", 1024, 1LL << 31, NULL, max_size, "Largest message."),
	P("max_rcpts", PARAM_INT, "100", 1, 10000, NULL, max_rcpts, "Recipients per message."),
	P("max_sessions", PARAM_INT, "500", 1, 100000, NULL, max_sessions, "Concurrent sessions."),
	P("check_timeout", PARAM_TIME, "30s", 1, 600, NULL, check_timeout, "Time for all SPF/DKIM/DMARC lookups of a message; then 451."),
	RESOLVER_PARAMS(struct config, dns),
	P("sandbox", PARAM_BOOL, "yes", 0, 0, NULL, sandbox, "Restrict the process after start (Landlock, seccomp, uid)."),
	P("sandbox_debug", PARAM_BOOL, "no", 0, 0, NULL, sandbox_debug, "Report a refused system call by name (then exit)."),
	P("user", PARAM_STR, "nobody", 0, 0, NULL, user, "Unprivileged user to become when started as root."),
	PARAM_END
};

struct mx {
	struct event_base *base;
	struct config cfg;
	const char *authserv_id;
	SSL_CTX *pub_tls, *int_tls;
	struct spam_model spam;		/* loaded when spam_refuse > 0 */
	struct spam_feats feats;
	struct smtp_server *srv;
	struct hop *next;
	struct resolver *res;
	struct conf_repo *repo;
	struct users_db *users;
	struct event *reload_ev;
	struct srs_keyfile srs_keys;
	struct srs srs;
};

/* Per session: the message being checked. */
struct sess {
	struct smtp_session *s;
	struct check *chk;
	const struct smtp_envelope *env;
	const uint8_t *msg;
	size_t len;
};

static struct mx M;

/* ---- recipients ---- */

/* The local user for local part lp of our domain, or NULL; with +detail
 * (RFC 5233) removed. name gets the user's name. */
static const struct user *
local_user(const char *lp, char name[USER_NAME_MAX + 1])
{
	size_t n = strcspn(lp, "+");

	if (n == 0 || n > USER_NAME_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = lp[i];
		name[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	name[n] = '\0';
	if (strcmp(name, "postmaster") == 0)
		ptt_strlcpy(name, M.cfg.postmaster, USER_NAME_MAX + 1);
	return user_name_valid(name) ? users_lookup(M.users, name) : NULL;
}

static bool
is_postmaster(const struct smtp_path *to)
{
	size_t n = strcspn(to->local, "+");

	return to->postmaster || (n == 10 &&
	    strncasecmp(to->local, "postmaster", n) == 0);
}

static void
on_rcpt(struct smtp_session *s, const struct smtp_path *to,
    const struct smtp_rcpt_params *p)
{
	char name[USER_NAME_MAX + 1];
	const char *lp = to->postmaster ? "postmaster" : to->local;

	(void)p;
	if (!to->postmaster && (to->literal ||
	    strcasecmp(to->domain, M.cfg.domain) != 0)) {
		log_info(smtp_session_id(s), "reject: relaying to <%s> denied",
		    to->addr);
		smtp_session_reply(s, 550, "5.7.1", "relaying denied");
		return;
	}
	if (!to->postmaster && !to->quoted && !to->utf8 &&
	    M.srs_keys.n > 0 && srs_is_srs(to->addr) &&
	    local_user(lp, name) == NULL) {
		char orig[512];
		int r = srs_reverse(&M.srs, to->addr, time(NULL), orig,
		    sizeof(orig));

		if (r != 0) {
			log_info(smtp_session_id(s), "reject: SRS address <%s>: "
			    "%s", to->addr, srs_strerror(r));
			smtp_session_reply(s, 550, r == SRS_EFORGED ? "5.7.1" :
			    "5.1.1", "%s", srs_strerror(r));
			return;
		}
		log_info(smtp_session_id(s), "SRS address <%s> verified: "
		    "bounce to <%s>", to->addr, orig);
		smtp_session_reply(s, 250, "2.1.5", "recipient ok");
		return;
	}
	if (to->quoted || to->utf8 || local_user(lp, name) == NULL) {
		if (is_postmaster(to))
			log_err(smtp_session_id(s), "postmaster: no user \"%s\" "
			    "(set the postmaster parameter)", M.cfg.postmaster);
		log_info(smtp_session_id(s), "reject: unknown user <%s>",
		    to->addr);
		smtp_session_reply(s, 550, "5.1.1", "no such user here");
		return;
	}
	smtp_session_reply(s, 250, "2.1.5", "recipient ok");
}

/* The envelope handed on: postmaster rewritten to its user. Caller frees
 * the array. */
static struct smtp_rcpt *
next_rcpts(const struct smtp_envelope *env)
{
	struct smtp_rcpt *r = xcalloc(env->nrcpt, sizeof(*r));

	for (size_t i = 0; i < env->nrcpt; i++) {
		r[i] = env->rcpt[i];
		if (!is_postmaster(&r[i].path))
			continue;
		ptt_strlcpy(r[i].path.local, M.cfg.postmaster,
		    sizeof(r[i].path.local));
		ptt_strlcpy(r[i].path.domain, M.cfg.domain,
		    sizeof(r[i].path.domain));
		snprintf(r[i].path.addr, sizeof(r[i].path.addr), "%s@%s",
		    M.cfg.postmaster, M.cfg.domain);
		r[i].path.postmaster = false;
	}
	return r;
}

/* ---- the message ---- */

static bool
arc_sealer_trusted(const struct check_result *r)
{
	return r->trusted_arc;
}

static void
add_received(struct buf *b, struct smtp_session *s,
    const struct smtp_envelope *env)
{
	const struct smtp_session_info *si = smtp_session_info(s);
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_addf(b, "Received: from %s ([%s])\r\n\tby %s (ptt-mx) with %s "
	    "id %s\r\n\t", si->helo[0] ? si->helo : "unknown", si->peer_addr,
	    M.cfg.hostname, si->proto, si->id);
	if (si->tls != NULL)
		buf_addf(b, "(%s)\r\n\t", si->tls);
	buf_addf(b, "for <%s>%s; %s\r\n", env->rcpt[0].path.addr,
	    env->nrcpt > 1 ? " (and others)" : "", date);
}

static void
checked(const struct check_result *r, void *arg)
{
	struct sess *ss = arg;
	struct smtp_session *s = ss->s;
	const struct smtp_envelope *env = ss->env;
	const char *id = smtp_session_id(s);
	char sum[512];
	bool quarantine = false;
	const char *verdict = "accept";
	struct mail_hdr h;
	struct buf pre, body;
	struct smtp_envelope next;
	struct smtp_rcpt *rcpts;
	size_t forged;

	ss->chk = NULL;
	check_summary(r, sum, sizeof(sum));
	if (smtp_session_closed(s)) {
		/* The client left before any answer: it will send again, so
		 * handing this copy on would only make a duplicate. */
		log_info(id, "message from=<%s> nrcpt=%zu size=%zu %s "
		    "verdict=dropped (client gone)", env->from.addr, env->nrcpt,
		    ss->len, sum);
		smtp_session_reply(s, 421, "4.4.2", "connection lost");
		return;
	}
	if (r->temporary) {
		log_info(id, "message from=<%s> nrcpt=%zu size=%zu %s "
		    "verdict=tempfail", env->from.addr, env->nrcpt, ss->len, sum);
		smtp_session_reply(s, 451, "4.4.3", "temporary DNS failure "
		    "checking the sender; try again later");
		return;
	}
	if (r->dmarc == DMARC_FAIL && r->dmarc_disposition == DMARC_P_REJECT &&
	    M.cfg.dmarc != DMARC_OFF) {
		if (M.cfg.dmarc == DMARC_ENFORCE && !arc_sealer_trusted(r)) {
			log_info(id, "message from=<%s> nrcpt=%zu size=%zu %s "
			    "verdict=reject", env->from.addr, env->nrcpt,
			    ss->len, sum);
			smtp_session_reply(s, 550, "5.7.1", "rejected by the "
			    "DMARC policy of %s", r->from_domain);
			return;
		}
		quarantine = true;
	}
	if (r->dmarc == DMARC_FAIL &&
	    r->dmarc_disposition == DMARC_P_QUARANTINE &&
	    M.cfg.dmarc != DMARC_OFF)
		quarantine = true;

	/* Forged results claiming to be ours go (RFC 8601 5). */
	mail_hdr_parse(&h, ss->msg, ss->len, NULL);
	forged = ar_remove_ours(&h, M.authserv_id);
	buf_init(&body, 0);
	mail_hdr_write(&h, &body, 0);
	mail_hdr_free(&h);

	buf_init(&pre, 0);
	buf_add(&pre, r->ar_field, r->ar_len);
	if (quarantine) {
		buf_addf(&pre, "X-Ptt-Quarantine: dmarc (p=%s dis=%s "
		    "header.from=%s)\r\n", dmarc_policy_str(r->dmarc_policy),
		    dmarc_policy_str(r->dmarc_disposition), r->from_domain);
		verdict = "quarantine";
	}
	add_received(&pre, s, env);
	if (M.cfg.spam_refuse > 0) {
		/* Scored as the spamfilter will see it: with our results. */
		struct buf whole;
		struct spam_verdict v;
		buf_init(&whole, 0);
		buf_add(&whole, pre.data, pre.len);
		buf_add(&whole, body.data, body.len);
		spam_classify(&M.spam, &M.feats, (const uint8_t *)whole.data,
		    whole.len, &v);
		buf_free(&whole);
		if (spam_refuse(&M.spam, &v, (double)M.cfg.spam_refuse)) {
			log_info(id, "message from=<%s> nrcpt=%zu size=%zu %s "
			    "spam_logodds=%.2f verdict=reject (spam)",
			    env->from.addr, env->nrcpt, ss->len, sum,
			    v.logodds);
			smtp_session_reply(s, 550, "5.7.1", "message refused "
			    "as spam");
			buf_free(&pre);
			buf_free(&body);
			return;
		}
	}
	log_info(id, "message from=<%s> nrcpt=%zu size=%zu %s verdict=%s%s",
	    env->from.addr, env->nrcpt, ss->len, sum, verdict,
	    forged ? " forged_ar_removed=yes" : "");
	next = *env;
	rcpts = next_rcpts(env);
	next.rcpt = rcpts;
	hop_forward(M.next, s, &next, &pre, body.data, body.len);
	free(rcpts);
	buf_free(&pre);
	buf_free(&body);
}

static void
on_message(struct smtp_session *s, const struct smtp_envelope *env,
    const uint8_t *msg, size_t len)
{
	struct sess *ss = smtp_session_data(s);
	const struct smtp_session_info *si = smtp_session_info(s);
	struct check_request q;

	ss->env = env;
	ss->msg = msg;
	ss->len = len;
	memset(&q, 0, sizeof(q));
	q.ip = si->peer_addr;
	q.helo = si->helo;
	q.mail_from = env->from.null ? "" : env->from.addr;
	q.receiver = M.cfg.hostname;
	q.authserv_id = M.authserv_id;
	q.msg = msg;
	q.len = len;
	q.timeout_ms = (unsigned)M.cfg.check_timeout * 1000;
	q.arc_trusted = M.cfg.arc_trusted;
	ss->chk = check_message(M.res, &q, checked, ss);
}

static void
on_connect(struct smtp_session *s)
{
	struct sess *ss = xcalloc(1, sizeof(*ss));

	ss->s = s;
	smtp_session_set_data(s, ss);
	smtp_session_reply(s, 220, NULL, "ready");
}

static void
on_disconnect(struct smtp_session *s)
{
	struct sess *ss = smtp_session_data(s);

	if (ss->chk != NULL)
		check_cancel(ss->chk);
	free(ss);
}

/* ---- users ---- */

static void
reload(evutil_socket_t fd, short what, void *arg)
{
	char err[256];
	bool changed = false;

	(void)fd;
	(void)what;
	(void)arg;
	if (users_reload_if_changed(&M.users, M.repo, &changed, err,
	    sizeof(err)) != 0)
		log_err(NULL, "users: reload failed: %s (keeping %s)", err,
		    users_version(M.users));
	else if (changed)
		log_info(NULL, "users: now %zu users at %.12s",
		    users_count(M.users), users_version(M.users));
}

/* ---- main ---- */

static void
stopped(void *arg)
{
	(void)arg;
	event_base_loopexit(M.base, NULL);
}

static void
on_stop(void *arg)
{
	(void)arg;
	/* Idle connections to the spamfilter are freed by hop_free() after
	 * the loop: hop_drain()'s QUITs would still be in flight when the
	 * loop ends. */
	smtp_server_shutdown(M.srv, stopped, NULL);
}

/* SIGHUP: the public certificate again (ptt-acme renewed it); sessions
 * under way keep the one they started with. */
static void
on_reload(void *arg)
{
	(void)arg;
	(void)tls_server_reload_logged(M.pub_tls, M.cfg.cert);
}

/* The port of "addr@port" or "host:port", or def. */
static uint16_t
port_of(const char *s, uint16_t def)
{
	char h[256], p[32];
	const char *at;

	if (s == NULL || *s == '\0')
		return def;
	if ((at = strchr(s, '@')) != NULL)
		return (uint16_t)atoi(at + 1);
	if (net_split_hostport(s, h, sizeof(h), p, sizeof(p)) == 0)
		return (uint16_t)atoi(p);
	return def;
}

static void
enter_sandbox(void)
{
	/* The certificate's directories too, for a reload after renewal:
	 * the directory, since a renewal renames a new file into it. */
	char cdir[PATH_MAX], kdir[PATH_MAX];
	const char *ro[16] = { M.cfg.config_repo, cdir, kdir, NULL };
	/* Spam scoring converts charsets (iconv loads gconv modules). */
	if (M.cfg.spam_refuse > 0) {
		const char **g = sandbox_gconv_dirs();
		for (size_t i = 3, j = 0; i + 1 < 16 && g[j] != NULL; i++, j++)
			ro[i] = g[j];
	}
	uint16_t ports[4] = { 0, 0, 0, 0 };
	static const uint16_t no_bind[] = { 0 };
	struct sandbox sbx;
	char err[512];

	ptt_strlcpy(cdir, M.cfg.cert, sizeof(cdir));
	ptt_strlcpy(kdir, M.cfg.key, sizeof(kdir));
	ptt_strlcpy(cdir, dirname(cdir), sizeof(cdir));
	ptt_strlcpy(kdir, dirname(kdir), sizeof(kdir));
	ports[0] = port_of(M.cfg.spamfilter, 0);
	ports[1] = resolver_cfg_port(&M.cfg.dns);
	memset(&sbx, 0, sizeof(sbx));
	sbx.name = "ptt-mx";
	sbx.user = M.cfg.user;
	sbx.ro_paths = ro;
	/* libunbound binds its UDP sockets to random ports: the listen
	 * group, with no TCP port to bind. */
	sbx.groups = SB_FS_READ | SB_NET_CONNECT | SB_NET_LISTEN;
	sbx.connect_ports = ports;
	sbx.bind_ports = no_bind;
	sbx.debug = M.cfg.sandbox_debug;
	if (sandbox_enter(&sbx, err, sizeof(err)) != 0)
		fatal("%s", err);
	log_info(NULL, "sandbox entered (connect ports %u, %u)", ports[0],
	    ports[1]);
}

int
main(int argc, char **argv)
{
	struct smtp_server_config sc;
	struct smtp_hooks hooks;
	struct conf_repo_opts ro;
	struct resolver_opts rs;
	struct hop_opts ho;
	char err[512];
	const char *rerr = NULL;
	struct timeval tv;
	int fd;

	log_init(argv[0]);
	param_main(params, &M.cfg, "mx", argc, argv);
	if (M.cfg.spam_refuse > 0) {
		const char *why;
		if (spam_model_load(&M.spam, M.cfg.spam_model, &why) != 0)
			fatal("spam_model %s: %s", M.cfg.spam_model, why);
		spam_feats_init(&M.feats, M.spam.opts, false);
		spam_warm_up(&M.spam, &M.feats);	/* before the sandbox */
	}
	if (M.cfg.domain == NULL)
		fatal("domain is required");
	M.authserv_id = M.cfg.authserv_id[0] ? M.cfg.authserv_id :
	    M.cfg.hostname;
	M.base = ev_base_new();

	hop_front_tls(M.cfg.cert, M.cfg.key, M.cfg.internal_cert,
	    M.cfg.internal_key, M.cfg.ca, &M.pub_tls, &M.int_tls);
	memset(&ho, 0, sizeof(ho));
	ho.addr = M.cfg.spamfilter;
	ho.name = M.cfg.spamfilter_name;
	ho.helo = M.cfg.hostname;
	ho.implicit_tls = M.cfg.spamfilter_implicit_tls;
	ho.tls = M.int_tls;
	ho.pool = 8;
	if ((M.next = hop_new(M.base, &ho, err, sizeof(err))) == NULL)
		fatal("spamfilter: %s", err);

	resolver_opts_from_cfg(&rs, &M.cfg.dns, M.cfg.ca);
	if ((M.res = resolver_unbound_new(M.base, &rs, &rerr)) == NULL)
		fatal("resolver: %s", rerr);

	memset(&ro, 0, sizeof(ro));
	ro.url = M.cfg.config_repo;
	ro.branch = M.cfg.branch;
	if (conf_repo_open(&M.repo, &ro, err, sizeof(err)) != 0)
		fatal("%s", err);
	if (users_load(&M.users, M.repo, NULL, err, sizeof(err)) != 0)
		fatal("users: %s", err);
	log_info(NULL, "users: %zu users at %.12s", users_count(M.users),
	    users_version(M.users));
	if (users_lookup(M.users, M.cfg.postmaster) == NULL)
		log_err(NULL, "postmaster: no user \"%s\": mail to postmaster@%s "
		    "is refused until there is one", M.cfg.postmaster,
		    M.cfg.domain);

	if (srs_keyfile_load(&M.srs_keys, M.cfg.srs_secret, true, err,
	    sizeof(err)) != 0)
		log_err(NULL, "%s: bounces to SRS addresses are refused until "
		    "the relay's secret can be read (set srs_secret)", err);
	M.srs.secrets = M.srs_keys.sec;
	M.srs.nsecrets = M.srs_keys.n;
	M.srs.alg = SRS_HMAC_SHA1;
	M.srs.max_age = (unsigned)M.cfg.srs_max_age;

	memset(&sc, 0, sizeof(sc));
	sc.hostname = M.cfg.hostname;
	sc.greeting = "ESMTP ptt mx";
	sc.tls = M.pub_tls;
	sc.starttls = true;
	sc.max_size = M.cfg.max_size;
	sc.max_rcpts = (unsigned)M.cfg.max_rcpts;
	sc.max_sessions = (unsigned)M.cfg.max_sessions;
	memset(&hooks, 0, sizeof(hooks));
	hooks.connect = on_connect;
	hooks.rcpt = on_rcpt;
	hooks.message = on_message;
	hooks.disconnect = on_disconnect;
	M.srv = smtp_server_new(M.base, &sc, &hooks, &M);
	if ((fd = net_listen(M.cfg.listen, err, sizeof(err))) < 0)
		fatal("%s", err);
	if (smtp_server_listen(M.srv, fd, false) != 0)
		fatal("cannot serve %s", M.cfg.listen);
	printf("listening mx %s\n", M.cfg.listen);
	fflush(stdout);

	M.reload_ev = event_new(M.base, -1, EV_PERSIST, reload, NULL);
	tv.tv_sec = M.cfg.reload_interval;
	tv.tv_usec = 0;
	event_add(M.reload_ev, &tv);

	if (M.cfg.sandbox && !conf_url_is_remote(M.cfg.config_repo))
		enter_sandbox();
	ev_on_signals(M.base, on_stop, on_reload, NULL);
	event_base_dispatch(M.base);

	ev_free_signals();
	smtp_server_free(M.srv);
	hop_free(M.next);
	resolver_free(M.res);
	event_free(M.reload_ev);
	users_free(M.users);
	conf_repo_close(M.repo);
	srs_keyfile_free(&M.srs_keys);
	SSL_CTX_free(M.pub_tls);
	SSL_CTX_free(M.int_tls);
	if (M.cfg.spam_refuse > 0) {
		spam_feats_free(&M.feats);
		spam_model_free(&M.spam);
	}
	param_free(params, &M.cfg);
	event_base_free(M.base);
	return 0;
}
