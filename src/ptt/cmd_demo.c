/*
 * cmd_demo.c - `ptt demo`: the whole stack on loopback, under pttd, with
 * mail flowing both ways.
 *
 *	ptt demo [--dir DIR] [--once] [--bin DIR]
 *
 * In DIR (default ./demo, recreated; an existing DIR is only removed when
 * it holds a demo.env, i.e. was made by an earlier demo):
 *   - `ptt init demo.test` and a user alice whose real address is
 *     alice@outside.test;
 *   - zones for demo.test (made from [zone] as ptt init makes a domain's:
 *     MX, the mail host, SPF, DMARC; the signer publishes its DKIM keys by
 *     TSIG UPDATE) and for outside.test (MX, SPF, DMARC and a DKIM
 *     key the demo signs outside mail with) in the repository's zones/;
 *   - certificates for mail.demo.test and mx.outside.test from the
 *     internal CA (instead of Let's Encrypt);
 *   - ptt.conf sections for ptt-dns, ptt-resolver (stubbed to ptt-dns, so
 *     the real roots are never asked), submission, signer, relay, mx and
 *     spamfilter, all on free loopback ports; pttd runs them and serves
 *     its status page; ptt-sink stands in for outside.test's MX.
 * Then alice sends to bob@outside.test through submission (465, AUTH),
 * and bob@outside.test sends a DKIM-signed message to alice@demo.test
 * through the mx, which the relay forwards to alice@outside.test with an
 * SRS sender and an ARC set. Each message is shown as it landed, and
 * checked with `ptt check-message` (the mx's own verification code):
 * outbound, both DKIM signatures of demo.test and DMARC; inbound, the
 * Authentication-Results the mx wrote (spf, dkim, dmarc pass) and the
 * ARC chain and DKIM signature still verifying after forwarding.
 * The endpoints are printed as KEY=value lines and written to
 * DIR/demo.env. Without --once the stack keeps running until SIGINT or
 * SIGTERM; with --once everything stops and the exit status is 0 only
 * when both messages arrived and verified.
 *
 * Trusts: its arguments; the programs it starts are ptt's own (found next
 * to this executable, in a build tree or installed, or in --bin).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "auth/dkim.h"
#include "conf/ca.h"
#include "ptt/cmd.h"
#include "ptt/stack.h"
#include "util/buf.h"
#include "util/mem.h"

int cmd_demo(const struct ptt_ctx *ctx, int argc, char **argv);

#define DOMAIN "demo.test"
#define OUTSIDE "outside.test"
#define USER "alice"
#define NPORTS 12

enum { P_DNS, P_RES, P_RES_TLS, P_SUB, P_SMTPS, P_MX, P_SIGNER, P_RELAY,
    P_SPAM, P_STATUS, P_SINK };

struct demo {
	char dir[PATH_MAX / 2], cfg[PATH_MAX / 2], st[PATH_MAX / 2];
	char self[PATH_MAX / 2], bin[PATH_MAX / 2], model[PATH_MAX / 2];
	char password[40], tsig[128];
	int port[NPORTS];
	pid_t pttd, sink;
	bool once;
};

static volatile sig_atomic_t stop_now;

static void
on_signal(int sig)
{
	(void)sig;
	stop_now = 1;
}

/* Print one step of the story. */
static void
step(const char *fmt, ...) PTT_PRINTF(1, 2);
static void
step(const char *fmt, ...)
{
	va_list ap;

	fputs("\n== ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static int
write_text(const char *path, mode_t mode, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text), off = 0;

	if (fd < 0) {
		say("%s: %s", path, strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n <= 0) {
			say("%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, mode) != 0 || close(fd) != 0) {
		say("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* A TCP port on 127.0.0.1 nobody listens on right now, distinct from the
 * n already chosen. */
static int
free_port(const int *taken, size_t n)
{
	for (int tries = 0; tries < 100; tries++) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;
		bool dup = false;

		if (fd < 0)
			return -1;
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
			close(fd);
			return -1;
		}
		close(fd);
		port = ntohs(sa.sin_port);
		for (size_t i = 0; i < n; i++)
			dup |= taken[i] == port;
		if (!dup)
			return port;
	}
	return -1;
}

static bool
port_open(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/*
 * Start argv with stdout and stderr to log (appended) and stdin from
 * input (NULL: /dev/null). Returns the pid, or -1.
 */
static pid_t
spawn(char *const argv[], const char *log, const char *input)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	int in = open(input ? input : "/dev/null", O_RDONLY);
	int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(out, 2) < 0)
		_exit(127);
	setpgid(0, 0);
	execv(argv[0], argv);
	fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Run argv to completion (output to log); its exit status, or -1. */
static int
run(char *const argv[], const char *log, const char *input)
{
	int status;
	pid_t pid = spawn(argv, log, input);

	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Where the programs are: --bin, else next to this ptt. In a build tree
 * (BUILD/src/ptt/ptt) each program is in BUILD/src/<dir>/. */
static void
exe(const struct demo *d, const char *subdir, const char *name, char *out,
    size_t len)
{
	ptt_exe(d->bin, subdir, name, out, len);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
prepare_dir(struct demo *d)
{
	char env[PATH_MAX];
	struct stat sb;

	snprintf(env, sizeof(env), "%s/demo.env", d->dir);
	if (stat(d->dir, &sb) == 0) {
		if (access(env, F_OK) != 0) {
			say("%s exists and was not made by ptt demo (no demo.env): "
			    "not touching it", d->dir);
			return -1;
		}
		if (nftw(d->dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS) != 0) {
			say("cannot remove %s: %s", d->dir, strerror(errno));
			return -1;
		}
	}
	if (mkdir(d->dir, 0755) != 0) {
		say("%s: %s", d->dir, strerror(errno));
		return -1;
	}
	/* A marker at once, so that a demo that fails half-way can be
	 * replaced by the next one. */
	return write_text(env, 0644, "# ptt demo: starting\n");
}

static void
random_text(char *out, size_t len)
{
	static const char al[] = "abcdefghijkmnpqrstuvwxyz23456789";
	unsigned char r[64];

	if (len > sizeof(r))
		len = sizeof(r);
	if (RAND_bytes(r, (int)len) != 1)
		abort();
	for (size_t i = 0; i + 1 < len; i++)
		out[i] = al[r[i] % (sizeof(al) - 1)];
	out[len - 1] = '\0';
}

/* ptt init, ptt adduser: the commands themselves, as a user runs them. */
static int
init_repo(struct demo *d)
{
	char log[PATH_MAX], pwfile[PATH_MAX];
	char *init[] = { d->self, "--config", d->cfg, "--state", d->st, "init",
	    "--bare", DOMAIN, NULL };
	char *add[] = { d->self, "--config", d->cfg, "--state", d->st,
	    "adduser", USER, "--forward", USER "@" OUTSIDE, "--password-stdin",
	    NULL };

	snprintf(log, sizeof(log), "%s/setup.log", d->dir);
	snprintf(pwfile, sizeof(pwfile), "%s/password", d->dir);
	random_text(d->password, 17);
	if (run(init, log, NULL) != 0) {
		say("ptt init failed: see %s", log);
		return -1;
	}
	char line[64];
	snprintf(line, sizeof(line), "%s\n", d->password);
	if (write_text(pwfile, 0600, line) != 0)
		return -1;
	if (run(add, log, pwfile) != 0) {
		say("ptt adduser failed: see %s", log);
		return -1;
	}
	return 0;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[8192];
	size_t n;

	if (f == NULL)
		return NULL;
	buf_init(&b, 64u << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	if (buf_error(&b)) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, len);
}

/* The TSIG key ptt init made (the signer publishes with it; the reader
 * gets it in demo.env): "name:algorithm:secret". */
static int
read_tsig(struct demo *d)
{
	char path[PATH_MAX], *text;
	size_t len;

	snprintf(path, sizeof(path), "%s/tsig/ptt.key", d->st);
	if ((text = slurp(path, &len)) == NULL) {
		say("%s: %s", path, strerror(errno));
		return -1;
	}
	text[strcspn(text, "\r\n")] = '\0';
	snprintf(d->tsig, sizeof(d->tsig), "%s", text);
	ptt_memzero(text, len);
	free(text);
	return 0;
}

/* outside.test's DKIM key: the demo signs bob's message with it. */
static EVP_PKEY *
outside_key(struct demo *d, struct buf *record)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);

	(void)d;
	if (k == NULL || dkim_key_record(k, record) != 0) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* A TXT value split in strings of at most 255 bytes. */
static void
txt_value(struct buf *b, const char *v, size_t len)
{
	for (size_t off = 0; off < len; off += 200)
		buf_addf(b, "%s\"%.*s\"", off ? " " : "", (int)(len - off > 200 ?
		    200 : len - off), v + off);
}

static void
zone_outside(struct buf *z, const struct buf *okey)
{
	buf_addf(z,
	    "$ORIGIN " OUTSIDE ".\n$TTL 60\n"
	    "@        SOA ns1 hostmaster 1 3600 600 86400 60\n"
	    "@        NS  ns1\n"
	    "ns1      A   127.0.0.1\n"
	    "@        MX  10 mx\n"
	    "mx       A   127.0.0.1\n"
	    "@        TXT \"v=spf1 ip4:127.0.0.1 -all\"\n"
	    "_dmarc   TXT \"v=DMARC1; p=reject\"\n"
	    "demo._domainkey TXT ");
	txt_value(z, okey->data, okey->len);
	buf_addf(z, "\n");
}

/* ptt.conf: what ptt init --bare wrote, plus the sections a deployment
 * has (stack.h), with the demo's loopback ports, the internal CA's
 * certificate for mail.demo.test, and what lets it run on one machine
 * without the Internet: the resolver stubbed to ptt-dns, outside.test's
 * MX on a free port, short intervals. */
static char *
conf_text(struct demo *d, const char *base, size_t blen)
{
	struct buf c, x[SEC_N];
	const int *p = d->port;
	char mx[32], sub[32], smtps[32], dns[32], status[32];
	char cert[PATH_MAX], key[PATH_MAX], queue[PATH_MAX];
	struct stack_layout l = {
		.domain = DOMAIN, .host = "mail." DOMAIN, .config = d->cfg,
		.state = d->st, .queue = queue, .ipv4 = "127.0.0.1", .ipv6 = "",
		.mx = mx, .submission = sub, .smtps = smtps, .dns = dns,
		.status = status, .signer = p[P_SIGNER], .relay = p[P_RELAY],
		.spamfilter = p[P_SPAM], .resolver = p[P_RES],
		.resolver_tls = p[P_RES_TLS], .dns_port = p[P_DNS],
		.acme = false, .cert = cert, .key = key,
	};

#define LO(buf, port) snprintf(buf, sizeof(buf), "127.0.0.1:%d", port)
	LO(mx, p[P_MX]);
	LO(sub, p[P_SUB]);
	LO(smtps, p[P_SMTPS]);
	LO(dns, p[P_DNS]);
	LO(status, p[P_STATUS]);
#undef LO
	snprintf(cert, sizeof(cert), "%s/tls/mail.pem", d->st);
	snprintf(key, sizeof(key), "%s/tls/mail.key", d->st);
	snprintf(queue, sizeof(queue), "%s/queue", d->dir);
	for (int i = 0; i < SEC_N; i++)
		buf_init(&x[i], 0);
	buf_addf(&x[SEC_PTTD], "ptt = %s\npoll_interval = 2s\n"
	    "health_interval = 2s\nrestart_max = 10s\nstop_timeout = 10s\n",
	    d->self);
	buf_addf(&x[SEC_DNS], "reload-interval = 1s\n");
	buf_addf(&x[SEC_RESOLVER], "stub = " DOMAIN "@127.0.0.1:%d " OUTSIDE
	    "@127.0.0.1:%d\ndomain_insecure = " DOMAIN " " OUTSIDE "\n",
	    p[P_DNS], p[P_DNS]);
	buf_addf(&x[SEC_RELAY], "dns_config_file = %s/unbound.conf\n"
	    "remote_port = %d\nreload_interval = 1s\npostmaster = " USER "\n"
	    "retry_min = 10s\n", d->dir, p[P_SINK]);
	buf_addf(&x[SEC_SPAMFILTER], "model = %s\n", d->model);
	buf_addf(&x[SEC_MX], "dns_config_file = %s/unbound.conf\n"
	    "reload_interval = 1s\npostmaster = " USER "\n", d->dir);
	buf_addf(&x[SEC_SUBMISSION], "reload_interval = 1s\n");
	buf_addf(&x[SEC_SIGNER], "reload_interval = 1s\n");
	buf_addf(&x[SEC_ZONE], "ttl = 60s\n");
	for (int i = 0; i < SEC_N; i++)
		l.extra[i] = x[i].len ? x[i].data : NULL;

	buf_init(&c, 0);
	buf_add(&c, base, blen);
	stack_conf(&c, &l);
	for (int i = 0; i < SEC_N; i++)
		buf_free(&x[i]);
	return buf_steal(&c, NULL);
}

/* Everything in the repository and the state directory. */
static int
configure(struct demo *d)
{
	struct conf_repo *r = NULL;
	struct buf okey, zdemo, zout;
	char *base = NULL, *conf = NULL, err[512], path[PATH_MAX];
	size_t blen = 0;
	int rc = -1;
	static const char *const mail_names[] = { "mail." DOMAIN, "mx." DOMAIN,
	    "127.0.0.1" };
	static const char *const out_names[] = { "mx." OUTSIDE, "127.0.0.1" };
	EVP_PKEY *k;

	buf_init(&okey, 0);
	if ((k = outside_key(d, &okey)) == NULL) {
		say("cannot make outside.test's DKIM key");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/outside.key", d->dir);
	{
		FILE *f = fopen(path, "w");
		if (f == NULL || !PEM_write_PrivateKey(f, k, NULL, NULL, 0,
		    NULL, NULL)) {
			say("%s: cannot write", path);
			if (f)
				fclose(f);
			EVP_PKEY_free(k);
			goto out;
		}
		fclose(f);
	}
	EVP_PKEY_free(k);
	if (read_tsig(d) != 0)
		goto out;
	if (ca_issue(d->st, "mail", mail_names, 3, 0, err, sizeof(err)) != 0 ||
	    ca_issue(d->st, "outside", out_names, 2, 0, err, sizeof(err)) != 0) {
		say("certificates: %s", err);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/unbound.conf", d->dir);
	if (write_text(path, 0644, "server:\n    local-zone: \"test.\" nodefault\n"
	    "    do-not-query-localhost: no\n") != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/queue", d->dir);
	if (mkdir(path, 0700) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/outside", d->dir);
	if (mkdir(path, 0755) != 0)
		goto out;

	struct ptt_ctx c = { .config = d->cfg, .state = d->st };
	if (ctx_open_repo(&c, &r) != PTT_EXIT_OK)
		goto out;
	if (conf_repo_read(r, NULL, "ptt.conf", 1 << 20, &base, &blen) != 0) {
		say("cannot read ptt.conf from %s", d->cfg);
		goto out;
	}
	conf = conf_text(d, base, blen);
	buf_init(&zdemo, 0);
	buf_init(&zout, 0);
	zone_outside(&zout, &okey);
	struct conf_change ch[] = {
		{ "ptt.conf", conf, strlen(conf) },
		{ "zones/" OUTSIDE ".zone", zout.data, zout.len },
	};
	rc = ctx_commit(r, ch, 2, "ptt demo: every service on loopback, "
	    "the zone of " OUTSIDE) == PTT_EXIT_OK ? 0 : -1;
	/* demo.test's zone as ptt init makes a domain's, from [zone]. */
	if (rc == 0 && dns_records_text(&c, true, &zdemo) == PTT_EXIT_OK) {
		struct conf_change zc = { "zones/" DOMAIN ".zone", zdemo.data,
		    zdemo.len };
		rc = ctx_commit(r, &zc, 1, "ptt demo: the zone of " DOMAIN) ==
		    PTT_EXIT_OK ? 0 : -1;
	} else {
		rc = -1;
	}
	buf_free(&zdemo);
	buf_free(&zout);
out:
	if (r)
		conf_repo_close(r);
	free(base);
	free(conf);
	buf_free(&okey);
	return rc;
}

static int
start_stack(struct demo *d)
{
	char sink[PATH_MAX], pttd[PATH_MAX], log[PATH_MAX], port[64];
	char cert[PATH_MAX], key[PATH_MAX], dir[PATH_MAX];

	exe(d, "sink", "ptt-sink", sink, sizeof(sink));
	exe(d, "pttd", "pttd", pttd, sizeof(pttd));
	snprintf(port, sizeof(port), "127.0.0.1:%d", d->port[P_SINK]);
	snprintf(cert, sizeof(cert), "%s/tls/outside.pem", d->st);
	snprintf(key, sizeof(key), "%s/tls/outside.key", d->st);
	snprintf(dir, sizeof(dir), "%s/outside", d->dir);
	snprintf(log, sizeof(log), "%s/outside-mx.log", d->dir);
	char *sargv[] = { sink, "-l", port, "--cert", cert, "--key", key,
	    "-d", dir, "--hostname", "mx." OUTSIDE, NULL };
	if ((d->sink = spawn(sargv, log, NULL)) < 0)
		return -1;
	snprintf(log, sizeof(log), "%s/pttd.log", d->dir);
	char *pargv[] = { pttd, "--config", d->cfg, "--state", d->st, NULL };
	if ((d->pttd = spawn(pargv, log, NULL)) < 0)
		return -1;
	/* Every listener answers, and the signer has published its keys. */
	static const int wait_for[] = { P_DNS, P_RES, P_SMTPS, P_MX, P_SIGNER,
	    P_RELAY, P_SPAM, P_STATUS, P_SINK };
	for (int tries = 0; tries < 300 && !stop_now; tries++) {
		bool all = true;
		for (size_t i = 0; i < sizeof(wait_for) / sizeof(*wait_for); i++)
			all = all && port_open(d->port[wait_for[i]]);
		if (all)
			return 0;
		if (waitpid(d->pttd, NULL, WNOHANG) == d->pttd) {
			d->pttd = 0;
			say("pttd exited: see %s", log);
			return -1;
		}
		usleep(100000);
	}
	say("the services did not come up in 30 s: see %s and %s/state/pttd/logs",
	    log, d->dir);
	return -1;
}

static void
stop_stack(struct demo *d)
{
	if (d->pttd > 0) {
		kill(d->pttd, SIGTERM);
		for (int i = 0; i < 150 && waitpid(d->pttd, NULL, WNOHANG) == 0; i++)
			usleep(100000);
		kill(-d->pttd, SIGKILL);
		kill(d->pttd, SIGKILL);
		waitpid(d->pttd, NULL, 0);
	}
	if (d->sink > 0) {
		kill(d->sink, SIGTERM);
		waitpid(d->sink, NULL, 0);
	}
}

/* Send file with ptt-smtp-send, retrying while the answer is temporary
 * (services still starting). */
static int
send_mail(struct demo *d, char **args, const char *what)
{
	char sendp[PATH_MAX], log[PATH_MAX];
	char *argv[32];
	size_t n = 0;

	exe(d, "tools", "ptt-smtp-send", sendp, sizeof(sendp));
	snprintf(log, sizeof(log), "%s/send.log", d->dir);
	argv[n++] = sendp;
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	for (int tries = 0; tries < 30 && !stop_now; tries++) {
		int rc = run(argv, log, NULL);
		if (rc == 0) {
			printf("   accepted (%s)\n", what);
			return 0;
		}
		if (rc != 75)
			break;
		sleep(1);
	}
	say("%s was not accepted: see %s", what, log);
	return -1;
}

static int
send_outbound(struct demo *d)
{
	char port[64], ca[PATH_MAX], pw[PATH_MAX], msg[PATH_MAX];

	snprintf(port, sizeof(port), "127.0.0.1:%d", d->port[P_SMTPS]);
	snprintf(ca, sizeof(ca), "%s/ca/ca.pem", d->st);
	snprintf(pw, sizeof(pw), "%s/password.raw", d->dir);
	snprintf(msg, sizeof(msg), "%s/outbound.eml", d->dir);
	if (write_text(pw, 0600, d->password) != 0 ||
	    write_text(msg, 0644,
	    "From: Alice <" USER "@" DOMAIN ">\r\n"
	    "To: Bob <bob@" OUTSIDE ">\r\n"
	    "Subject: Hello from ptt\r\n\r\n"
	    "This went through submission, signer and relay, each in its own "
	    "sandbox.\r\n") != 0)
		return -1;
	char *args[] = { "--server", port, "--implicit-tls", "--tls", "verified",
	    "--ca", ca, "--sni", "mail." DOMAIN, "--auth-user", USER,
	    "--auth-pass-file", pw, "--from", USER "@" DOMAIN, "--to",
	    "bob@" OUTSIDE, msg, NULL };
	return send_mail(d, args, "alice -> bob@" OUTSIDE " over 465 with AUTH");
}

static int
send_inbound(struct demo *d)
{
	char port[64], ca[PATH_MAX], keyp[PATH_MAX], msg[PATH_MAX], err[256];
	char date[64];
	struct buf m, sig;
	time_t now = time(NULL);
	EVP_PKEY *k;
	int rc = -1;

	snprintf(keyp, sizeof(keyp), "%s/outside.key", d->dir);
	if ((k = dkim_load_key(keyp, err, sizeof(err))) == NULL) {
		say("%s", err);
		return -1;
	}
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime(&now));
	buf_init(&m, 0);
	buf_init(&sig, 0);
	buf_addf(&m, "From: Bob <bob@" OUTSIDE ">\r\nTo: Alice <" USER "@"
	    DOMAIN ">\r\nSubject: Hello back from outside\r\nDate: %s\r\n"
	    "Message-ID: <%ld.demo@" OUTSIDE ">\r\n\r\n"
	    "This came in through the mx and the spamfilter, was ARC-sealed by "
	    "the signer and forwarded by the relay.\r\n", date, (long)now);
	struct dkim_sign s = { .domain = OUTSIDE, .selector = "demo", .key = k,
	    .now = now, .hc = MAIL_CANON_RELAXED, .bc = MAIL_CANON_RELAXED };
	if (dkim_sign(&s, m.data, m.len, &sig, err, sizeof(err)) != 0) {
		say("signing as " OUTSIDE ": %s", err);
		goto out;
	}
	buf_add(&sig, m.data, m.len);
	snprintf(msg, sizeof(msg), "%s/inbound.eml", d->dir);
	if (write_text(msg, 0644, sig.data) != 0)
		goto out;
	snprintf(port, sizeof(port), "127.0.0.1:%d", d->port[P_MX]);
	snprintf(ca, sizeof(ca), "%s/ca/ca.pem", d->st);
	char *args[] = { "--server", port, "--tls", "verified", "--ca", ca,
	    "--sni", "mx." DOMAIN, "--helo", "mx." OUTSIDE, "--from",
	    "bob@" OUTSIDE, "--to", USER "@" DOMAIN, msg, NULL };
	rc = send_mail(d, args, "bob@" OUTSIDE " -> alice@" DOMAIN
	    " on port 25 (STARTTLS)");
out:
	EVP_PKEY_free(k);
	buf_free(&m);
	buf_free(&sig);
	return rc;
}

/* The value of the first field name (a folded field unfolded), or NULL.
 * name includes the colon. The caller frees. */
static char *
field(const char *msg, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = msg; *p && !(p[0] == '\r' && p[1] == '\n');) {
		const char *e = p;
		while (*e && !(e[0] == '\n' && e[1] != ' ' && e[1] != '\t'))
			e++;
		if (strncasecmp(p, name, nl) == 0) {
			struct buf v;
			buf_init(&v, 0);
			for (const char *q = p + nl; q < e; q++)
				if (*q != '\r' && *q != '\n')
					buf_addc(&v, *q == '\t' ? ' ' : *q);
			return buf_steal(&v, NULL);
		}
		p = *e ? e + 1 : e;
	}
	return NULL;
}

struct landed {
	char path[PATH_MAX];	/* the sink's file */
	char *raw;		/* as the sink stored it */
	const char *msg;	/* after the sink's envelope block */
	char *mail_from;
};

/* Wait for the stand-in MX's file for rcpt. */
static int
wait_landed(struct demo *d, const char *rcpt, struct landed *l)
{
	char dir[PATH_MAX], want[300];

	snprintf(dir, sizeof(dir), "%s/outside", d->dir);
	snprintf(want, sizeof(want), "X-Ptt-Sink-Rcpt-To: <%s>", rcpt);
	for (int tries = 0; tries < 600 && !stop_now; tries++) {
		DIR *dp = opendir(dir);
		struct dirent *e;
		while (dp && (e = readdir(dp)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			if (snprintf(l->path, sizeof(l->path), "%s/%s", dir,
			    e->d_name) >= (int)sizeof(l->path))
				continue;
			char *raw = slurp(l->path, NULL);
			if (raw == NULL || strstr(raw, want) == NULL) {
				free(raw);
				continue;
			}
			closedir(dp);
			l->raw = raw;
			l->msg = raw;
			while (strncmp(l->msg, "X-Ptt-Sink-", 11) == 0 &&
			    strchr(l->msg, '\n'))
				l->msg = strchr(l->msg, '\n') + 1;
			l->mail_from = field(raw, "X-Ptt-Sink-Mail-From:");
			return 0;
		}
		if (dp)
			closedir(dp);
		usleep(100000);
	}
	return -1;
}

static void
landed_free(struct landed *l)
{
	free(l->raw);
	free(l->mail_from);
}

/* `ptt check-message` on a landed message, as the next provider would
 * check it; its Authentication-Results (unfolded) or NULL. */
static char *
verify(struct demo *d, const struct landed *l, const char *mail_from,
    const char *name)
{
	char in[PATH_MAX], out[PATH_MAX], dns[64], conf[PATH_MAX];
	char *text, *ar;

	snprintf(in, sizeof(in), "%s/%s.landed.eml", d->dir, name);
	snprintf(out, sizeof(out), "%s/%s.check", d->dir, name);
	snprintf(dns, sizeof(dns), "127.0.0.1:%d", d->port[P_DNS]);
	snprintf(conf, sizeof(conf), "%s/unbound.conf", d->dir);
	if (write_text(in, 0644, l->msg) != 0)
		return NULL;
	unlink(out);
	char *argv[] = { d->self, "check-message", "--ip", "127.0.0.1",
	    "--helo", "mail." DOMAIN, "--mail-from", (char *)mail_from,
	    "--dns", dns, "--dns-config", conf, "--authserv-id",
	    "mx." OUTSIDE, NULL };
	if (run(argv, out, in) != 0 || (text = slurp(out, NULL)) == NULL)
		return NULL;
	ar = field(text, "Authentication-Results:");
	free(text);
	return ar;
}

static size_t
count(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

static void
show(const struct landed *l)
{
	const char *p = l->msg;
	puts("----------------------------------------------------------------------");
	for (; *p; p++)
		if (*p != '\r')
			putchar(*p);
	puts("----------------------------------------------------------------------");
}

static void
result(bool *all, bool ok, const char *what, const char *detail)
{
	printf("   %-4s %s%s%s\n", ok ? "ok" : "FAIL", what, detail ? ": " : "",
	    detail ? detail : "");
	*all = *all && ok;
}

static int
write_env(struct demo *d)
{
	struct buf e;
	char path[PATH_MAX];
	int rc;
	const int *p = d->port;

	buf_init(&e, 0);
	buf_addf(&e, "PTT_DEMO_DIR=%s\nPTT_DOMAIN=" DOMAIN "\n"
	    "PTT_OUTSIDE_DOMAIN=" OUTSIDE "\n"
	    "PTT_SUBMISSION=127.0.0.1:%d\nPTT_SUBMISSION_STARTTLS=127.0.0.1:%d\n"
	    "PTT_MX=127.0.0.1:%d\nPTT_DNS=127.0.0.1:%d\nPTT_RESOLVER=127.0.0.1:%d\n"
	    "PTT_CA=%s/ca/ca.pem\nPTT_USER=" USER "@" DOMAIN "\n"
	    "PTT_PASSWORD=%s\nPTT_USER_REAL=" USER "@" OUTSIDE "\n"
	    "PTT_SINK_DIR=%s/outside\nPTT_DASHBOARD=http://127.0.0.1:%d/\n"
	    "PTT_TSIG=%s\nPTT_CONFIG=%s\nPTT_STATE=%s\n",
	    d->dir, p[P_SMTPS], p[P_SUB], p[P_MX], p[P_DNS], p[P_RES], d->st,
	    d->password, d->dir, p[P_STATUS], d->tsig, d->cfg, d->st);
	fputs(e.data, stdout);
	snprintf(path, sizeof(path), "%s/demo.env", d->dir);
	rc = write_text(path, 0600, e.data);
	buf_free(&e);
	return rc;
}

static bool
check_outbound(struct demo *d)
{
	struct landed l = { 0 };
	bool ok = true;
	char *ar;

	step("waiting for alice's message at " OUTSIDE "'s MX");
	if (wait_landed(d, "bob@" OUTSIDE, &l) != 0) {
		result(&ok, false, "alice's message arrived", "not within 60 s");
		return false;
	}
	printf("   landed in %s\n", l.path);
	show(&l);
	/* The signer publishes its keys at start; give DNS a moment. */
	for (int i = 0; i < 20; i++) {
		ar = verify(d, &l, USER "@" DOMAIN, "outbound");
		if (ar && count(ar, "dkim=pass") >= 2)
			break;
		free(ar);
		ar = NULL;
		sleep(1);
	}
	if (ar == NULL)
		ar = verify(d, &l, USER "@" DOMAIN, "outbound");
	printf("   as " OUTSIDE " checks it (ptt check-message):\n   %s\n",
	    ar ? ar : "(no result)");
	result(&ok, ar && count(ar, "dkim=pass") >= 2,
	    "both DKIM signatures of " DOMAIN " (rsa-sha256, ed25519-sha256) verify", NULL);
	result(&ok, ar && strstr(ar, "spf=pass"), "SPF passes for " DOMAIN, NULL);
	result(&ok, ar && strstr(ar, "dmarc=pass"), "DMARC passes", NULL);
	free(ar);
	landed_free(&l);
	return ok;
}

static bool
check_inbound(struct demo *d)
{
	struct landed l = { 0 };
	bool ok = true;
	char *mine, *ar;

	step("waiting for bob's message at alice's real mailbox (" USER "@"
	    OUTSIDE ")");
	if (wait_landed(d, USER "@" OUTSIDE, &l) != 0) {
		result(&ok, false, "bob's message was forwarded", "not within 60 s");
		return false;
	}
	printf("   landed in %s\n", l.path);
	show(&l);
	mine = field(l.msg, "Authentication-Results: mail." DOMAIN ";");
	result(&ok, mine != NULL, "the mx wrote Authentication-Results", NULL);
	result(&ok, mine && strstr(mine, "spf=pass") && strstr(mine, "dkim=pass") &&
	    strstr(mine, "dmarc=pass"), "spf, dkim and dmarc pass in it", NULL);
	result(&ok, l.mail_from && strstr(l.mail_from, "SRS0="),
	    "the envelope sender is rewritten with SRS", l.mail_from);
	result(&ok, strstr(l.msg, "X-Spam-Status:") != NULL,
	    "the spamfilter labelled it (X-Spam-Status)", NULL);
	const char *mf = l.mail_from ? l.mail_from : "";
	char sender[300];
	snprintf(sender, sizeof(sender), "%.*s", (int)strcspn(mf + (*mf == ' ') +
	    (mf[*mf == ' '] == '<'), ">"), mf + (*mf == ' ') + (mf[*mf == ' '] == '<'));
	ar = verify(d, &l, sender, "inbound");
	printf("   as " OUTSIDE " checks it after forwarding:\n   %s\n",
	    ar ? ar : "(no result)");
	result(&ok, ar && strstr(ar, "arc=pass"), "the ARC chain verifies", NULL);
	result(&ok, ar && strstr(ar, "dkim=pass"),
	    "bob's DKIM signature still verifies", NULL);
	result(&ok, ar && strstr(ar, "spf=pass"),
	    "SPF passes for the SRS sender at " DOMAIN, NULL);
	free(ar);
	free(mine);
	landed_free(&l);
	return ok;
}

int
cmd_demo(const struct ptt_ctx *ctx, int argc, char **argv)
{
	struct demo d;
	const char *dir = "demo", *bin = NULL;
	char cwd[PATH_MAX / 4];
	bool missing, ok;
	ssize_t n;

	(void)ctx;
	memset(&d, 0, sizeof(d));
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (strcmp(argv[i], "--once") == 0)
			d.once = true;
		else if ((v = opt_value(argc, argv, &i, "--dir", &missing)))
			dir = v;
		else if ((v = opt_value(argc, argv, &i, "--bin", &missing)))
			bin = v;
		else {
			say("demo: unknown argument %s", argv[i]);
			return PTT_EXIT_USAGE;
		}
		if (missing) {
			say("demo: %s needs a value", argv[i]);
			return PTT_EXIT_USAGE;
		}
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return PTT_EXIT_FAIL;
	if (dir[0] == '/')
		snprintf(d.dir, sizeof(d.dir), "%s", dir);
	else
		snprintf(d.dir, sizeof(d.dir), "%s/%s", cwd, dir);
	if (snprintf(d.cfg, sizeof(d.cfg), "%s/config", d.dir) >=
	    (int)sizeof(d.cfg) || snprintf(d.st, sizeof(d.st), "%s/state",
	    d.dir) >= (int)sizeof(d.st)) {
		say("demo: %s: path too long", d.dir);
		return PTT_EXIT_USAGE;
	}
	if ((n = readlink("/proc/self/exe", d.self, sizeof(d.self) - 1)) <= 0)
		return PTT_EXIT_FAIL;
	d.self[n] = '\0';
	if (bin)
		snprintf(d.bin, sizeof(d.bin), "%s", bin);
	else {
		snprintf(d.bin, sizeof(d.bin), "%s", d.self);
		*strrchr(d.bin, '/') = '\0';
	}
	/* The spam model: in a build tree next to ptt-spam, else installed. */
	if (snprintf(d.model, sizeof(d.model), "%s/../spamtool/spam.model",
	    d.bin) >= (int)sizeof(d.model) || access(d.model, R_OK) != 0)
		snprintf(d.model, sizeof(d.model), "/usr/local/share/ptt/spam.model");
	for (int i = 0; i < NPORTS; i++)
		if ((d.port[i] = free_port(d.port, (size_t)i)) < 0) {
			say("demo: no free port on 127.0.0.1");
			return PTT_EXIT_FAIL;
		}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	step("ptt init " DOMAIN ", ptt adduser " USER " (real address " USER
	    "@" OUTSIDE "), zones, certificates from the internal CA");
	if (prepare_dir(&d) != 0 || init_repo(&d) != 0 || configure(&d) != 0)
		return PTT_EXIT_FAIL;
	if (stack_permissions(d.cfg) != 0)
		return PTT_EXIT_FAIL;
	step("pttd starts dns, resolver, relay, signer, spamfilter, mx and "
	    "submission; ptt-sink plays " OUTSIDE "'s MX");
	ok = start_stack(&d) == 0;
	if (ok) {
		printf("   status page: http://127.0.0.1:%d/\n", d.port[P_STATUS]);
		step("alice sends to bob@" OUTSIDE "; bob sends to alice@" DOMAIN);
		ok = send_outbound(&d) == 0;
		ok = send_inbound(&d) == 0 && ok;
	}
	if (ok) {
		bool out = check_outbound(&d), in = check_inbound(&d);
		ok = out && in;
	}
	step("endpoints (also in %s/demo.env)", d.dir);
	if (write_env(&d) != 0)
		ok = false;
	step("%s", ok ? "mail flowed both ways, signed and verified" :
	    "the demo FAILED: see the logs in the demo directory");
	if (!d.once && ok) {
		printf("   running until interrupted (Ctrl-C)\n");
		fflush(stdout);
		while (!stop_now)
			pause();
	}
	stop_stack(&d);
	printf("demo: stopped; its files are in %s\n", d.dir);
	return ok ? PTT_EXIT_OK : PTT_EXIT_FAIL;
}
