/*
 * sink.c - ptt-sink: the stand-in MX ("somebody else's server") for the
 * demo and the tests, built on the SMTP server engine (smtp/server.h).
 *
 * Listens on one or more addresses (plaintext with optional STARTTLS, or
 * implicit TLS), and writes every accepted message to a directory, one
 * file per message: written to a temporary name, fsync'd, renamed, and
 * the directory fsync'd (so a 250 means the file is on disk). The file
 * starts with an envelope block of X-Ptt-Sink-* header lines, followed by
 * the message exactly as received.
 *
 * Scripted replies (--reply-mail/--reply-rcpt/--reply-data PATTERN=REPLY,
 * PATTERN a shell glob on the address, case-insensitive) let tests make it
 * greylist or refuse. --delay-ms answers every hook later, to exercise the
 * engine's asynchronous hooks. --no-fsync (throughput tests only) skips
 * the fsync calls.
 *
 * Trusts: its command line and the certificate files named there; nothing
 * from the network. It is a test tool: no sandbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "smtp/server.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/ev.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/tls.h"

struct rule {
	char *pattern;
	int code;
	char ecode[16];
	char *text;
};

struct rules {
	struct rule *v;
	size_t n;
};

static struct {
	struct event_base *base;
	struct smtp_server *srv;
	const char *dir;
	int dirfd;
	struct rules mail, rcpt, data;
	const char *auth_user, *auth_pass;
	long delay_ms;
	bool no_fsync;
	unsigned long seq;
	unsigned long messages;
} g = { .dirfd = -1 };

/* A reply answered later (for --delay-ms). */
struct later {
	struct smtp_session *s;
	int code;
	char ecode[16];
	char *text;
	struct event *ev;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ptt-sink [-l host:port]... [-L host:port]... [-d dir]\n"
	    "  [--cert file --key file [--ca file]] [--require-tls]\n"
	    "  [--auth-user u --auth-pass p [--require-auth] [--auth-plaintext]]\n"
	    "  [--reply-mail|--reply-rcpt|--reply-data 'glob=CODE X.Y.Z text']...\n"
	    "  [--max-size bytes] [--max-rcpts n] [--hostname name] [--delay-ms ms]\n"
	    "  [--timeout s] [--max-errors n] [--no-fsync]\n");
	exit(2);
}

/* "glob=451 4.3.0 try later" */
static void
add_rule(struct rules *r, const char *arg)
{
	const char *eq = strrchr(arg, '=');
	struct rule *ru;
	char *end;
	const char *p;

	if (eq == NULL)
		fatal("bad reply rule (want PATTERN=CODE X.Y.Z text): %s", arg);
	r->v = xreallocarray(r->v, r->n + 1, sizeof(*r->v));
	ru = &r->v[r->n++];
	ru->pattern = xstrndup(arg, (size_t)(eq - arg));
	ru->code = (int)strtol(eq + 1, &end, 10);
	if (ru->code < 200 || ru->code > 599)
		fatal("bad reply code in %s", arg);
	p = end;
	while (*p == ' ')
		p++;
	ru->ecode[0] = '\0';
	if (*p >= '2' && *p <= '5' && p[1] == '.') {
		size_t n = strcspn(p, " ");
		if (n < sizeof(ru->ecode)) {
			memcpy(ru->ecode, p, n);
			ru->ecode[n] = '\0';
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	ru->text = xstrdup(*p ? p : "scripted reply");
}

static const struct rule *
match(const struct rules *r, const char *addr)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (fnmatch(r->v[i].pattern, addr, FNM_CASEFOLD) == 0)
			return &r->v[i];
	return NULL;
}

static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;

	(void)fd;
	(void)what;
	smtp_session_reply(l->s, l->code, l->ecode[0] ? l->ecode : NULL, "%s", l->text);
	event_free(l->ev);
	free(l->text);
	free(l);
}

/* Answer now, or after --delay-ms. */
static void
answer(struct smtp_session *s, int code, const char *ecode, const char *text)
{
	struct later *l;

	if (g.delay_ms <= 0) {
		smtp_session_reply(s, code, ecode, "%s", text);
		return;
	}
	l = xcalloc(1, sizeof(*l));
	l->s = s;
	l->code = code;
	ptt_strlcpy(l->ecode, ecode ? ecode : "", sizeof(l->ecode));
	l->text = xstrdup(text);
	l->ev = ev_timer_once(g.base, g.delay_ms, later_cb, l);
}

static void
answer_rule(struct smtp_session *s, const struct rule *r, int code,
    const char *ecode, const char *text)
{
	if (r != NULL)
		answer(s, r->code, r->ecode[0] ? r->ecode : NULL, r->text);
	else
		answer(s, code, ecode, text);
}

static void
hook_connect(struct smtp_session *s)
{
	answer(s, 220, NULL, "ok");
}

static void
hook_helo(struct smtp_session *s, const char *name, bool ehlo)
{
	(void)name;
	(void)ehlo;
	answer(s, 250, NULL, "ok");
}

static void
hook_auth(struct smtp_session *s, const char *authzid, const char *user,
    const char *pass)
{
	bool good = g.auth_user != NULL && g.auth_pass != NULL &&
	    strcmp(user, g.auth_user) == 0 && strcmp(pass, g.auth_pass) == 0 &&
	    (authzid[0] == '\0' || strcmp(authzid, user) == 0);

	if (good)
		answer(s, 235, "2.7.0", "Authentication successful");
	else
		answer(s, 535, "5.7.8", "Authentication credentials invalid");
}

static void
hook_mail(struct smtp_session *s, const struct smtp_path *from,
    const struct smtp_mail_params *p)
{
	(void)p;
	answer_rule(s, match(&g.mail, from->addr), 250, "2.1.0", "Sender OK");
}

static void
hook_rcpt(struct smtp_session *s, const struct smtp_path *to,
    const struct smtp_rcpt_params *p)
{
	(void)p;
	answer_rule(s, match(&g.rcpt, to->addr), 250, "2.1.5", "Recipient OK");
}

static const char *
body_name(enum smtp_body b)
{
	switch (b) {
	case SMTP_BODY_7BIT: return "7BIT";
	case SMTP_BODY_8BITMIME: return "8BITMIME";
	case SMTP_BODY_BINARYMIME: return "BINARYMIME";
	default: return "";
	}
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *q = p;

	while (n > 0) {
		ssize_t w = write(fd, q, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return PTT_EIO;
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write one message file: temp name, fsync, rename, fsync dir. */
static int
store(struct smtp_session *s, const struct smtp_envelope *env,
    const uint8_t *msg, size_t len, char *name, size_t namelen)
{
	const struct smtp_session_info *in = smtp_session_info(s);
	char tmp[128];
	struct buf h;
	size_t i;
	int fd, ret = 0;

	g.seq++;
	snprintf(name, namelen, "%lld.%s.%lu.eml", (long long)time(NULL), in->id, g.seq);
	snprintf(tmp, sizeof(tmp), ".tmp.%s.%lu", in->id, g.seq);
	buf_init(&h, 0);
	buf_addf(&h, "X-Ptt-Sink-Mail-From: <%s>\r\n", env->from.addr);
	for (i = 0; i < env->nrcpt; i++) {
		buf_addf(&h, "X-Ptt-Sink-Rcpt-To: <%s>", env->rcpt[i].path.addr);
		if (env->rcpt[i].params.notify)
			buf_addf(&h, " NOTIFY=%x", env->rcpt[i].params.notify);
		if (env->rcpt[i].params.orcpt[0])
			buf_addf(&h, " ORCPT=%s", env->rcpt[i].params.orcpt);
		buf_adds(&h, "\r\n");
	}
	buf_addf(&h, "X-Ptt-Sink-Helo: %s\r\n", in->helo);
	buf_addf(&h, "X-Ptt-Sink-Peer: %s\r\n", in->peer_addr);
	buf_addf(&h, "X-Ptt-Sink-Proto: %s\r\n", in->proto);
	buf_addf(&h, "X-Ptt-Sink-Id: %s\r\n", in->id);
	if (in->tls != NULL)
		buf_addf(&h, "X-Ptt-Sink-Tls: %s\r\n", in->tls);
	if (in->auth_user != NULL)
		buf_addf(&h, "X-Ptt-Sink-Auth: %s\r\n", in->auth_user);
	if (env->mail.body != SMTP_BODY_NONE)
		buf_addf(&h, "X-Ptt-Sink-Body: %s\r\n", body_name(env->mail.body));
	if (env->mail.smtputf8)
		buf_adds(&h, "X-Ptt-Sink-Smtputf8: yes\r\n");
	if (env->mail.envid[0])
		buf_addf(&h, "X-Ptt-Sink-Envid: %s\r\n", env->mail.envid_raw);
	if (env->mail.ret != SMTP_RET_NONE)
		buf_addf(&h, "X-Ptt-Sink-Ret: %s\r\n", env->mail.ret == SMTP_RET_FULL ? "FULL" : "HDRS");
	if (env->bdat)
		buf_adds(&h, "X-Ptt-Sink-Chunking: yes\r\n");

	fd = openat(g.dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_err(in->id, "open %s/%s: %s", g.dir, tmp, strerror(errno));
		buf_free(&h);
		return PTT_EIO;
	}
	if (write_all(fd, h.data, h.len) != 0 || write_all(fd, msg, len) != 0 ||
	    (!g.no_fsync && fsync(fd) != 0)) {
		log_err(in->id, "write %s/%s: %s", g.dir, tmp, strerror(errno));
		ret = PTT_EIO;
	}
	if (close(fd) != 0)
		ret = PTT_EIO;
	if (ret == 0 && renameat(g.dirfd, tmp, g.dirfd, name) != 0) {
		log_err(in->id, "rename %s: %s", name, strerror(errno));
		ret = PTT_EIO;
	}
	if (ret == 0 && !g.no_fsync && fsync(g.dirfd) != 0)
		ret = PTT_EIO;
	if (ret != 0)
		unlinkat(g.dirfd, tmp, 0);
	buf_free(&h);
	return ret;
}

static void
hook_message(struct smtp_session *s, const struct smtp_envelope *env,
    const uint8_t *msg, size_t len)
{
	const struct rule *r = NULL;
	char name[128] = "";
	size_t i;

	for (i = 0; i < env->nrcpt && r == NULL; i++)
		r = match(&g.data, env->rcpt[i].path.addr);
	if (r != NULL) {
		answer_rule(s, r, 0, NULL, NULL);
		return;
	}
	if (g.dir != NULL && store(s, env, msg, len, name, sizeof(name)) != 0) {
		answer(s, 451, "4.3.0", "Cannot store message");
		return;
	}
	g.messages++;
	{
		char text[200];
		snprintf(text, sizeof(text), "OK stored %s", name[0] ? name : "(discarded)");
		answer(s, 250, "2.0.0", text);
	}
}

static void
stopped(void *arg)
{
	(void)arg;
	log_info(NULL, "stopped after %lu messages", g.messages);
	event_base_loopexit(g.base, NULL);
}

static void
on_stop(void *arg)
{
	(void)arg;
	smtp_server_shutdown(g.srv, stopped, NULL);
}

static void
listen_on(const char *hostport, bool implicit_tls)
{
	char err[256], host[256], port[32];
	int fd;

	fd = net_listen(hostport, err, sizeof(err));
	if (fd < 0)
		fatal("listen %s: %s", hostport, err);
	if (net_split_hostport(hostport, host, sizeof(host), port, sizeof(port)) != 0)
		fatal("bad address %s", hostport);
	printf("listening %s%s%s:%d%s\n", strchr(host, ':') ? "[" : "", host,
	    strchr(host, ':') ? "]" : "", net_local_port(fd),
	    implicit_tls ? " tls" : "");
	fflush(stdout);
	if (smtp_server_listen(g.srv, fd, implicit_tls) != 0)
		fatal("cannot listen on %s", hostport);
}

int
main(int argc, char **argv)
{
	enum { O_CERT = 256, O_KEY, O_CA, O_REQTLS, O_AUSER, O_APASS, O_REQAUTH,
		O_APLAIN, O_RMAIL, O_RRCPT, O_RDATA, O_MAXSIZE, O_MAXRCPT,
		O_HOST, O_DELAY, O_TIMEOUT, O_MAXERR, O_NOFSYNC };
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "listen-tls", required_argument, NULL, 'L' },
		{ "dir", required_argument, NULL, 'd' },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "ca", required_argument, NULL, O_CA },
		{ "require-tls", no_argument, NULL, O_REQTLS },
		{ "auth-user", required_argument, NULL, O_AUSER },
		{ "auth-pass", required_argument, NULL, O_APASS },
		{ "require-auth", no_argument, NULL, O_REQAUTH },
		{ "auth-plaintext", no_argument, NULL, O_APLAIN },
		{ "reply-mail", required_argument, NULL, O_RMAIL },
		{ "reply-rcpt", required_argument, NULL, O_RRCPT },
		{ "reply-data", required_argument, NULL, O_RDATA },
		{ "max-size", required_argument, NULL, O_MAXSIZE },
		{ "max-rcpts", required_argument, NULL, O_MAXRCPT },
		{ "hostname", required_argument, NULL, O_HOST },
		{ "delay-ms", required_argument, NULL, O_DELAY },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "max-errors", required_argument, NULL, O_MAXERR },
		{ "no-fsync", no_argument, NULL, O_NOFSYNC },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *plain[16], *tlsl[16];
	int nplain = 0, ntls = 0, c, i;
	struct tls_opts to = { 0 };
	struct smtp_server_config cfg = { 0 };
	struct smtp_hooks hooks = {
		.connect = hook_connect, .helo = hook_helo, .auth = hook_auth,
		.mail = hook_mail, .rcpt = hook_rcpt, .message = hook_message,
	};
	SSL_CTX *ctx = NULL;
	char err[512];

	log_init(argv[0]);
	cfg.hostname = "sink.example.test";
	while ((c = getopt_long(argc, argv, "l:L:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (nplain == 16)
				fatal("too many listeners");
			plain[nplain++] = optarg;
			break;
		case 'L':
			if (ntls == 16)
				fatal("too many listeners");
			tlsl[ntls++] = optarg;
			break;
		case 'd': g.dir = optarg; break;
		case O_CERT: to.cert_file = optarg; break;
		case O_KEY: to.key_file = optarg; break;
		case O_CA: to.ca_file = optarg; to.verify_peer = true; break;
		case O_REQTLS: cfg.require_tls = true; break;
		case O_AUSER: g.auth_user = optarg; break;
		case O_APASS: g.auth_pass = optarg; break;
		case O_REQAUTH: cfg.require_auth = true; break;
		case O_APLAIN: cfg.auth_plaintext = true; break;
		case O_RMAIL: add_rule(&g.mail, optarg); break;
		case O_RRCPT: add_rule(&g.rcpt, optarg); break;
		case O_RDATA: add_rule(&g.data, optarg); break;
		case O_MAXSIZE: cfg.max_size = strtoull(optarg, NULL, 10); break;
		case O_MAXRCPT: cfg.max_rcpts = (unsigned)strtoul(optarg, NULL, 10); break;
		case O_HOST: cfg.hostname = optarg; break;
		case O_DELAY: g.delay_ms = strtol(optarg, NULL, 10); break;
		case O_TIMEOUT: cfg.timeout_cmd = cfg.timeout_data =
		    (unsigned)strtoul(optarg, NULL, 10); break;
		case O_MAXERR: cfg.max_errors = (unsigned)strtoul(optarg, NULL, 10); break;
		case O_NOFSYNC: g.no_fsync = true; break;
		default: usage();
		}
	}
	if (optind != argc || nplain + ntls == 0)
		usage();
	if ((to.cert_file == NULL) != (to.key_file == NULL))
		fatal("--cert and --key go together");
	if (ntls > 0 && to.cert_file == NULL)
		fatal("-L needs --cert and --key");
	if (to.cert_file != NULL) {
		if ((ctx = tls_server_ctx(&to, err, sizeof(err))) == NULL)
			fatal("TLS: %s", err);
		cfg.tls = ctx;
		cfg.starttls = true;
	}
	if (g.auth_user != NULL)
		cfg.auth = true;
	if (g.dir != NULL &&
	    (g.dirfd = open(g.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		fatal("open %s: %s", g.dir, strerror(errno));

	g.base = ev_base_new();
	g.srv = smtp_server_new(g.base, &cfg, &hooks, NULL);
	for (i = 0; i < nplain; i++)
		listen_on(plain[i], false);
	for (i = 0; i < ntls; i++)
		listen_on(tlsl[i], true);
	ev_on_signals(g.base, on_stop, NULL, NULL);
	event_base_dispatch(g.base);
	smtp_server_free(g.srv);
	ev_free_signals();
	event_base_free(g.base);
	if (ctx != NULL)
		SSL_CTX_free(ctx);
	if (g.dirfd >= 0)
		close(g.dirfd);
	return 0;
}
