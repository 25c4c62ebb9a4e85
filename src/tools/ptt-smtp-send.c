/*
 * ptt-smtp-send - send a message with ptt's SMTP client (smtp/client.h),
 * or a load of them over several reused connections.
 *
 *   ptt-smtp-send --server HOST:PORT [--tls none|opportunistic|required|verified]
 *     [--implicit-tls] [--ca FILE] [--pin sha256:HEX] [--cert FILE --key FILE]
 *     [--sni NAME] [--helo NAME] [--auth-user U --auth-pass-file F [--auth-mech PLAIN|LOGIN]]
 *     [--from ADDR] --to ADDR [--to ADDR...] [--count N --concurrency C]
 *     [--bdat] [--no-pipelining] [--crlf] [--timeout SECS] [-v|-q] [FILE|-]
 *
 * The message is sent as it is (no header is added); it must use CRLF line
 * endings (--crlf converts LF endings first). Without FILE, --count sends a
 * tiny built-in message and otherwise the message is read from stdin.
 * Prints one line per recipient (per message when --count is 1) and a
 * summary. Exit: 0 when every message was accepted for every recipient,
 * 75 (EX_TEMPFAIL) when something failed temporarily, 1 otherwise.
 *
 * Trusts: its command line and files. Talks to the one server named.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "smtp/client.h"
#include "smtp/dotstuff.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/tls.h"

#define EX_TEMP 75
#define MSG_MAX (64u * 1024 * 1024)

static const char default_msg[] =
    "From: ptt-smtp-send <ptt-smtp-send@localhost>\r\n"
    "Subject: ptt-smtp-send test message\r\n"
    "\r\n"
    "This is a test message from ptt-smtp-send.\r\n";

struct conn;

struct load {
	struct event_base *base;
	struct smtp_client_opts opts;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct smtp_txn txn;
	long total;		/* messages to send */
	long started;		/* handed to a connection */
	long finished;
	long ok, temp, perm;	/* messages by outcome */
	long rcpt_ok, rcpt_temp, rcpt_perm;
	long sessions, session_fail, consecutive_fail;
	int active;
	bool verbose_each;	/* print every recipient of every message */
	bool quiet;
	bool tls_seen;
	char last_fail[1024];
	double *lat;		/* seconds per accepted message, in order */
	long nlat;
};

struct conn {
	struct load *L;
	struct smtp_client *c;
	int n;			/* connection number */
	double t0;		/* when the current message was handed over */
};

static void start_conn(struct load *L, int n);

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: ptt-smtp-send --server HOST:PORT [--tls none|opportunistic|required|verified]\n"
	    "  [--implicit-tls] [--ca FILE] [--pin sha256:HEX] [--cert FILE --key FILE] [--sni NAME]\n"
	    "  [--helo NAME] [--auth-user U --auth-pass-file F [--auth-mech PLAIN|LOGIN]]\n"
	    "  [--from ADDR] --to ADDR [--to ADDR...]\n"
	    "  [--count N --concurrency C] [--bdat] [--no-pipelining] [--crlf] [--timeout SECS]\n"
	    "  [-v|-q] [FILE|-]\n");
	exit(2);
}

static double
now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* The buffer's bytes, and the buffer freed (caller frees the bytes). */
static char *
steal(struct buf *b, size_t *lenp)
{
	char *p = buf_steal(b, lenp);

	buf_free(b);
	return p;
}

static char *
read_all(FILE *f, size_t *lenp)
{
	struct buf b;
	char tmp[65536];
	size_t n;

	buf_init(&b, MSG_MAX);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, n);
	if (ferror(f))
		fatal("reading the message: %s", strerror(errno));
	if (buf_error(&b))
		fatal("message larger than %u bytes", MSG_MAX);
	return steal(&b, lenp);
}

/* LF line endings to CRLF (a CRLF stays as it is). */
static char *
to_crlf(const char *m, size_t len, size_t *outlen)
{
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	for (i = 0; i < len; i++) {
		if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))
			buf_addc(&b, '\r');
		buf_addc(&b, m[i]);
	}
	return steal(&b, outlen);
}

static char *
read_secret(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	size_t n;

	if (f == NULL)
		fatal("%s: %s", path, strerror(errno));
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	return xstrdup(line);
}

static void
maybe_done(struct load *L)
{
	if (L->active == 0)
		/* loopexit, not loopbreak: let this iteration finish, so the
		 * frees libevent defers (bufferevents closed in callbacks) run. */
		event_base_loopexit(L->base, NULL);
}

static void
conn_end(struct conn *k)
{
	struct load *L = k->L;

	smtp_client_free(k->c);
	L->active--;
	/* more to send: a new connection, unless they keep failing */
	if (L->started < L->total && L->consecutive_fail < 3)
		start_conn(L, k->n);
	free(k);
	maybe_done(L);
}

static void
quit_cb(struct smtp_client *c, const struct smtp_result *r, void *arg)
{
	conn_end(arg);
}

static void
report(struct load *L, const struct smtp_result *r)
{
	char s[400];
	size_t i;

	for (i = 0; i < r->nrcpt; i++) {
		const struct smtp_rcpt_result *rr = &r->rcpt[i];

		if (rr->outcome == SMTP_OUT_OK)
			L->rcpt_ok++;
		else if (rr->outcome == SMTP_OUT_TEMP)
			L->rcpt_temp++;
		else
			L->rcpt_perm++;
		smtp_reply_str(&rr->reply, s, sizeof(s));
		if (L->verbose_each && !L->quiet)
			printf("to=<%s> %s: %s\n", L->txn.rcpt[i].addr,
			    rr->outcome == SMTP_OUT_OK ? "accepted" :
			    rr->outcome == SMTP_OUT_TEMP ? "deferred" : "refused", s);
		if (rr->outcome != SMTP_OUT_OK)
			snprintf(L->last_fail, sizeof(L->last_fail), "to=<%s> %s",
			    L->txn.rcpt[i].addr, s);
	}
}

static void send_next(struct conn *k);

static void
done_cb(struct smtp_client *c, const struct smtp_result *r, void *arg)
{
	struct conn *k = arg;
	struct load *L = k->L;
	bool all = r->naccepted == r->nrcpt && r->outcome == SMTP_OUT_OK;
	size_t i;
	bool any_temp = false;

	L->finished++;
	report(L, r);
	if (r->tls)
		L->tls_seen = true;
	for (i = 0; i < r->nrcpt; i++)
		if (r->rcpt[i].outcome == SMTP_OUT_TEMP)
			any_temp = true;
	if (all) {
		L->ok++;
		L->consecutive_fail = 0;
		if (L->nlat < L->total)
			L->lat[L->nlat++] = now() - k->t0;
	} else if (any_temp || r->outcome == SMTP_OUT_TEMP) {
		L->temp++;
	} else {
		L->perm++;
	}
	if (r->reason != SMTP_R_NONE && r->reason != SMTP_R_REPLY) {
		char s[400];

		L->consecutive_fail++;
		snprintf(L->last_fail, sizeof(L->last_fail), "%s: %s",
		    smtp_reason_name(r->reason),
		    smtp_reply_str(&r->reply, s, sizeof(s)));
	}
	send_next(k);
}

static void
send_next(struct conn *k)
{
	struct load *L = k->L;
	int ret;

	if (!smtp_client_alive(k->c)) {
		conn_end(k);
		return;
	}
	if (L->started >= L->total) {
		smtp_client_quit(k->c, quit_cb, k);
		return;
	}
	L->started++;
	k->t0 = now();
	ret = smtp_client_send(k->c, &L->txn, done_cb, k);
	if (ret != 0) {
		fprintf(stderr, "ptt-smtp-send: cannot send: %s\n",
		    ptt_strerror(ret));
		/* the message or envelope is unusable: give up on all */
		L->started--;
		L->perm += L->total - L->started;
		L->finished += L->total - L->started;
		L->started = L->total;
		smtp_client_quit(k->c, quit_cb, k);
	}
}

static void
ready_cb(struct smtp_client *c, const struct smtp_result *r, void *arg)
{
	struct conn *k = arg;
	struct load *L = k->L;
	char s[400];

	if (r->outcome == SMTP_OUT_OK) {
		if (r->tls)
			L->tls_seen = true;
		if (L->verbose_each && !L->quiet && r->tls)
			printf("tls: %s\n", smtp_client_tls_info(c));
		send_next(k);
		return;
	}
	/* the session failed before a message: it counts against one */
	L->session_fail++;
	L->consecutive_fail++;
	snprintf(L->last_fail, sizeof(L->last_fail), "session: %s (%s)%s",
	    smtp_reply_str(&r->reply, s, sizeof(s)), smtp_reason_name(r->reason),
	    r->tls_fallback_ok ? "; plaintext retry possible" : "");
	if (!L->quiet)
		fprintf(stderr, "ptt-smtp-send: %s\n", L->last_fail);
	if (L->started < L->total) {
		L->started++;
		L->finished++;
		if (r->outcome == SMTP_OUT_TEMP) {
			L->temp++;
			L->rcpt_temp += (long)L->txn.nrcpt;
		} else {
			L->perm++;
			L->rcpt_perm += (long)L->txn.nrcpt;
		}
	}
	conn_end(k);
}

static void
start_conn(struct load *L, int n)
{
	struct conn *k = xcalloc(1, sizeof(*k));
	char id[24];
	int ret;

	k->L = L;
	k->n = n;
	snprintf(id, sizeof(id), "C%d.%ld", n, L->sessions++);
	L->opts.id = id;
	k->c = smtp_client_new(L->base, &L->opts);
	L->opts.id = NULL;
	L->active++;
	ret = smtp_client_connect(k->c, (struct sockaddr *)&L->ss, L->sslen,
	    ready_cb, k);
	if (ret != 0) {
		fprintf(stderr, "ptt-smtp-send: connect: %s\n", ptt_strerror(ret));
		smtp_client_free(k->c);
		free(k);
		L->active--;
		L->temp += L->total - L->started;
		L->finished += L->total - L->started;
		L->started = L->total;
	}
}

static enum smtp_tls_policy
parse_policy(const char *s)
{
	if (strcmp(s, "none") == 0)
		return SMTP_TLS_NONE;
	if (strcmp(s, "opportunistic") == 0 || strcmp(s, "may") == 0)
		return SMTP_TLS_OPPORTUNISTIC;
	if (strcmp(s, "required") == 0 || strcmp(s, "encrypt") == 0)
		return SMTP_TLS_REQUIRED;
	if (strcmp(s, "verified") == 0 || strcmp(s, "verify") == 0)
		return SMTP_TLS_VERIFIED;
	fprintf(stderr, "ptt-smtp-send: unknown --tls policy %s\n", s);
	usage();
}

static bool
is_ip(const char *s)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST }, *ai;

	if (getaddrinfo(s, NULL, &hints, &ai) != 0)
		return false;
	freeaddrinfo(ai);
	return true;
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "tls", required_argument, NULL, 't' },
		{ "implicit-tls", no_argument, NULL, 'I' },
		{ "ca", required_argument, NULL, 'A' },
		{ "pin", required_argument, NULL, 'P' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "sni", required_argument, NULL, 'N' },
		{ "helo", required_argument, NULL, 'H' },
		{ "auth-user", required_argument, NULL, 'u' },
		{ "auth-pass-file", required_argument, NULL, 'p' },
		{ "auth-mech", required_argument, NULL, 'M' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },
		{ "concurrency", required_argument, NULL, 'C' },
		{ "bdat", no_argument, NULL, 'B' },
		{ "no-pipelining", no_argument, NULL, 'L' },
		{ "crlf", no_argument, NULL, 'R' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct load L;
	const char *server = NULL, *ca = NULL, *pin = NULL, *cert = NULL,
	    *key = NULL, *sni = NULL, *user = NULL, *passfile = NULL;
	char *pass = NULL, *msg;
	struct smtp_txn_rcpt *rcpt = NULL;
	size_t nrcpt = 0, len;
	long concurrency = 1;
	bool count_given = false, crlf = false;
	int ch, i;
	unsigned tmo = 0;
	char host[256], port[32], err[256];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	SSL_CTX *ctx = NULL;
	double t0, dt;

	memset(&L, 0, sizeof(L));
	L.total = 1;
	L.txn.from = "";
	log_init(argv[0]);
	log_set_level(LOG_LVL_WARN);
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt_long(argc, argv, "vqh", lopts, NULL)) != -1) {
		switch (ch) {
		case 's': server = optarg; break;
		case 't': L.opts.tls = parse_policy(optarg); break;
		case 'I': L.opts.implicit_tls = true; break;
		case 'A': ca = optarg; break;
		case 'P': pin = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'N': sni = optarg; break;
		case 'H': L.opts.helo = optarg; break;
		case 'u': user = optarg; break;
		case 'p': passfile = optarg; break;
		case 'M':
			if (strcasecmp(optarg, "PLAIN") == 0)
				L.opts.auth_mech = SMTP_AUTH_PLAIN;
			else if (strcasecmp(optarg, "LOGIN") == 0)
				L.opts.auth_mech = SMTP_AUTH_LOGIN;
			else
				usage();
			break;
		case 'f': L.txn.from = optarg; break;
		case 'r':
			rcpt = xreallocarray(rcpt, nrcpt + 1, sizeof(*rcpt));
			rcpt[nrcpt++] = (struct smtp_txn_rcpt){ optarg, 0, NULL };
			break;
		case 'n':
			L.total = strtol(optarg, NULL, 10);
			count_given = true;
			if (L.total < 1)
				usage();
			break;
		case 'C':
			concurrency = strtol(optarg, NULL, 10);
			if (concurrency < 1 || concurrency > 1000)
				usage();
			break;
		case 'B': L.opts.bdat = true; break;
		case 'L': L.opts.no_pipelining = true; break;
		case 'R': crlf = true; break;
		case 'T': tmo = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		case 'q': L.quiet = true; break;
		default: usage();
		}
	}
	if (server == NULL || nrcpt == 0 || argc - optind > 1)
		usage();
	if ((cert == NULL) != (key == NULL) || (user == NULL) != (passfile == NULL))
		usage();

	/* the message */
	if (optind < argc && strcmp(argv[optind], "-") != 0) {
		FILE *f = fopen(argv[optind], "rb");

		if (f == NULL)
			fatal("%s: %s", argv[optind], strerror(errno));
		msg = read_all(f, &len);
		fclose(f);
	} else if (optind == argc && count_given) {
		msg = xstrdup(default_msg);
		len = strlen(msg);
	} else {
		msg = read_all(stdin, &len);
	}
	if (crlf) {
		char *m2 = to_crlf(msg, len, &len);

		free(msg);
		msg = m2;
	}
	{
		struct smtp_msg_info mi;
		size_t bad;

		if (smtp_msg_scan(msg, len, &mi, &bad) != 0) {
			fprintf(stderr, "ptt-smtp-send: the message has a bare CR "
			    "or LF at offset %zu (it must use CRLF; see --crlf)\n",
			    bad);
			free(msg);
			free(rcpt);
			return 1;
		}
	}
	L.txn.msg = msg;
	L.txn.len = len;
	L.txn.rcpt = rcpt;
	L.txn.nrcpt = nrcpt;

	/* the server */
	if (net_split_hostport(server, host, sizeof(host), port, sizeof(port)) != 0)
		fatal("bad --server %s (want HOST:PORT)", server);
	if ((ch = getaddrinfo(host, port, &hints, &ai)) != 0)
		fatal("%s: %s", server, gai_strerror(ch));
	memcpy(&L.ss, ai->ai_addr, ai->ai_addrlen);
	L.sslen = ai->ai_addrlen;
	freeaddrinfo(ai);

	/* TLS */
	if (L.opts.tls != SMTP_TLS_NONE || L.opts.implicit_tls) {
		struct tls_opts to = {
			.cert_file = cert, .key_file = key, .ca_file = ca,
			.verify_peer = L.opts.tls == SMTP_TLS_VERIFIED && pin == NULL,
		};

		ctx = tls_client_ctx(&to, err, sizeof(err));
		if (ctx == NULL)
			fatal("TLS: %s", err);
		L.opts.ssl_ctx = ctx;
		L.opts.pin = pin;
		if (sni == NULL && !is_ip(host))
			sni = host;
		L.opts.sni = sni;
		L.opts.verify_name = sni != NULL ? sni : host;
		L.opts.tls_cache_key = server;
		if (L.opts.implicit_tls && L.opts.tls == SMTP_TLS_NONE)
			L.opts.tls = SMTP_TLS_REQUIRED;
	}
	if (user != NULL) {
		pass = read_secret(passfile);
		L.opts.auth_user = user;
		L.opts.auth_pass = pass;
	}
	if (tmo != 0) {
		L.opts.tmo = (struct smtp_timeouts){ tmo, tmo, tmo, tmo, tmo,
		    tmo, tmo, tmo };
	}

	L.base = event_base_new();
	if (L.base == NULL)
		fatal("event_base_new failed");
	L.verbose_each = L.total == 1;
	if (concurrency > L.total)
		concurrency = L.total;
	L.lat = xcalloc((size_t)L.total, sizeof(*L.lat));
	t0 = now();
	for (i = 0; i < concurrency; i++)
		start_conn(&L, i);
	if (L.active > 0)
		event_base_dispatch(L.base);
	dt = now() - t0;
	/* messages never tried (the server kept failing) count as deferred */
	if (L.finished < L.total)
		L.temp += L.total - L.finished;

	if (!L.quiet) {
		printf("summary: %ld message%s, %ld accepted, %ld deferred, %ld refused;"
		    " recipients %ld accepted, %ld deferred, %ld refused;"
		    " %ld session%s, tls=%s, %.3fs, %.1f msg/s\n",
		    L.total, L.total == 1 ? "" : "s", L.ok, L.temp, L.perm,
		    L.rcpt_ok, L.rcpt_temp, L.rcpt_perm, L.sessions,
		    L.sessions == 1 ? "" : "s", L.tls_seen ? "yes" : "no", dt,
		    dt > 0 ? (double)L.ok / dt : 0.0);
		if (L.ok != L.total && L.last_fail[0])
			printf("last failure: %s\n", L.last_fail);
		if (L.nlat > 1) {
			qsort(L.lat, (size_t)L.nlat, sizeof(*L.lat), cmp_double);
			printf("latency: p50=%.1fms p99=%.1fms max=%.1fms\n",
			    1000 * L.lat[L.nlat / 2],
			    1000 * L.lat[(L.nlat * 99) / 100],
			    1000 * L.lat[L.nlat - 1]);
		}
	}
	free(L.lat);
	event_base_free(L.base);
	if (ctx != NULL)
		SSL_CTX_free(ctx);
	if (pass != NULL) {
		ptt_memzero(pass, strlen(pass));
		free(pass);
	}
	free(msg);
	free(rcpt);
	if (L.ok == L.total)
		return 0;
	if (L.perm > 0)
		return 1;
	return L.temp > 0 ? EX_TEMP : 1;
}
