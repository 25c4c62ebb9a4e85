/*
 * acme.c - ptt-acme: gets and renews the certificate of the submission and
 * mx host names from an ACME CA (RFC 8555) through DNS-01 at ptt-dns, and
 * tells the services to reload it.
 *
 *	ptt-acme -c ptt.conf [-o name=value ...] [--once] [--force]
 *
 * A certificate (certs/<first name>.pem, chain, 0644) and its key
 * (certs/<first name>.key, 0600) in the state directory are renewed when
 * missing, when they do not cover every configured name, and once two
 * thirds of their lifetime have passed; failures are retried with
 * exponential backoff (retry_min doubling up to retry_max, never sooner
 * than the server's Retry-After). Each new certificate gets a new key.
 * SIGUSR1 renews now whatever the age (forced renewal), SIGHUP checks now,
 * SIGTERM/SIGINT stop. --once checks (--force: renews) and exits: 0 when
 * the certificate is good, 1 when it could not be had.
 *
 * Holds: the ACME account key (state/acme/account.key, 0600, created here
 * on first start; it exists in this process only) and the TSIG key used
 * for the challenge records.
 * Talks to: the ACME server (HTTPS, its CA bundle read at start) and the
 * DNS primary (TSIG-signed UPDATE).
 * Sandbox: after start, files only in the certs directory (read-write,
 * reached through a directory fd opened before) and the resolver's files,
 * TCP connections only to the directory URL's port (and the DNS primary's
 * with dns_tcp; the updates go over UDP otherwise), unprivileged uid that
 * owns the certs directory. The directory URL's host is resolved once at
 * start (libcurl would need a socketpair per lookup inside the sandbox). Signalling other services is not possible
 * from inside it (Landlock scopes signals), so when services are to be
 * told, a small helper forked before any secret is loaded stays outside:
 * it reads one byte per new certificate from a pipe and sends SIGHUP to
 * the processes of notify_pidfiles and runs notify_command. It forwards
 * its own signals to the worker and exits with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <pwd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "daemon.h"
#include "acme/jws.h"
#include "conf/state.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/ev.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/param.h"
#include "util/sandbox.h"

#define LE_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"
#define ACCOUNT_KEY "acme/account.key"
#define CHECK_MAX (24 * 3600)	/* look at the certificate at least daily */

#define P(n, t, d, lo, hi, f, doc) { n, t, d, lo, hi, NULL, offsetof(struct config, f), doc }
static const struct param params[] = {
	P("directory", PARAM_STR, LE_STAGING, 0, 0, directory, "ACME directory URL: Let's Encrypt staging (the default), production (https://acme-v02.api.letsencrypt.org/directory) or a test CA."),
	P("ca", PARAM_STR, "/etc/ssl/certs/ca-certificates.crt", 0, 0, ca, "CA bundle (PEM) the ACME server's HTTPS certificate must chain to."),
	P("contact", PARAM_STR, "", 0, 0, contact, "Account contact (mailto:...), empty for none."),
	P("names", PARAM_STR, NULL, 0, 0, names, "DNS names of the certificate: the submission and mx host names (space-separated); the first names the files certs/NAME.pem and .key."),
	P("zone", PARAM_STR, NULL, 0, 0, zone, "Zone at the DNS primary that holds the _acme-challenge records."),
	P("dns_primary", PARAM_STR, "127.0.0.1:53", 0, 0, dns_primary, "DNS primary (host:port) taking the TSIG-signed updates."),
	P("tsig_key", PARAM_STR, NULL, 0, 0, tsig_key, "TSIG key file (name:hmac-sha256:secret, mode 0600) for the updates."),
	P("dns_tcp", PARAM_BOOL, "no", 0, 0, dns_tcp, "Send the updates over TCP (else UDP)."),
	P("txt_ttl", PARAM_TIME, "60", 0, 86400, txt_ttl, "TTL of the challenge records."),
	P("propagation_wait", PARAM_TIME, "2s", 0, 3600, propagation_wait, "Wait after publishing before asking for validation (time for secondaries)."),
	P("state", PARAM_STR, "/var/lib/ptt/state", 0, 0, state, "State directory: acme/account.key and certs/."),
	P("retry_min", PARAM_TIME, "1m", 1, 86400, retry_min, "First wait after a failure; doubled at each further failure."),
	P("retry_max", PARAM_TIME, "1d", 1, 604800, retry_max, "Longest wait between attempts."),
	P("poll_timeout", PARAM_TIME, "5m", 1, 86400, poll_timeout, "How long one order may take (validation and issuance)."),
	P("timeout", PARAM_TIME, "30s", 1, 600, timeout, "Timeout of one HTTPS request."),
	P("notify_pidfiles", PARAM_STR, "", 0, 0, notify_pidfiles, "Pid files (space-separated) of services sent SIGHUP after a new certificate."),
	P("notify_command", PARAM_STR, "", 0, 0, notify_command, "Command (/bin/sh -c) run after a new certificate; empty for none."),
	P("allow_http", PARAM_BOOL, "no", 0, 0, allow_http, "Accept http:// ACME URLs (tests only)."),
	P("sandbox", PARAM_BOOL, "yes", 0, 0, sandbox, "Restrict the process after start (Landlock, seccomp, uid)."),
	P("sandbox_debug", PARAM_BOOL, "no", 0, 0, sandbox_debug, "Name a refused system call instead of dying silently."),
	P("user", PARAM_STR, "nobody", 0, 0, user, "Unprivileged user to become when started as root."),
	PARAM_END
};

struct daemon {
	struct config cfg;
	struct acme_ctx a;
	struct event_base *base;
	struct event *timer, *usr1;
	long backoff;		/* seconds; 0 after a success */
	int notify_fd;		/* to the helper, or -1: notify ourselves */
	bool once, force;
	int status;		/* --once: exit status */
};

/* ---- telling services ---- */

static void
notify_services(const struct config *cfg)
{
	char path[4096];
	const char *p = cfg->notify_pidfiles;

	while (p != NULL && *p) {
		size_t n;
		FILE *f;
		long pid = 0;
		p += strspn(p, " \t,");
		if ((n = strcspn(p, " \t,")) == 0)
			break;
		snprintf(path, sizeof(path), "%.*s", (int)n, p);
		p += n;
		if ((f = fopen(path, "r")) == NULL ||
		    fscanf(f, "%ld", &pid) != 1 || pid <= 1) {
			log_warn(NULL, "notify: no pid in %s", path);
			if (f != NULL)
				fclose(f);
			continue;
		}
		fclose(f);
		if (kill((pid_t)pid, SIGHUP) != 0)
			log_warn(NULL, "notify: SIGHUP to %ld (%s): %s", pid, path,
			    strerror(errno));
		else
			log_info(NULL, "notify: SIGHUP to %ld (%s)", pid, path);
	}
	if (cfg->notify_command != NULL && *cfg->notify_command) {
		pid_t pid = fork();
		int st;
		if (pid == 0) {
			execl("/bin/sh", "sh", "-c", cfg->notify_command,
			    (char *)NULL);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &st, 0) < 0)
			log_warn(NULL, "notify: cannot run the command: %s",
			    strerror(errno));
		else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			log_warn(NULL, "notify: command failed (status %d)", st);
		else
			log_info(NULL, "notify: command done");
	}
}

static volatile sig_atomic_t helper_child;

static void
forward_signal(int sig)
{
	if (helper_child > 0)
		kill(helper_child, sig);
}

/*
 * Fork the helper. Returns in the worker with the pipe's write end; the
 * helper never returns: it serves the pipe until the worker exits.
 */
static int
start_helper(const struct config *cfg)
{
	int fds[2], st;
	pid_t pid;
	char c;
	struct sigaction sa;
	static const int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };

	if (pipe(fds) != 0)
		fatal("pipe: %s", strerror(errno));
	if ((pid = fork()) < 0)
		fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		return fds[1];
	}
	close(fds[1]);
	helper_child = pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		sigaction(fwd[i], &sa, NULL);
	for (;;) {
		ssize_t n = read(fds[0], &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		notify_services(cfg);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

static void
notify(struct daemon *d)
{
	if (d->notify_fd >= 0) {
		if (write(d->notify_fd, "R", 1) != 1)
			log_warn(NULL, "notify: helper gone: %s", strerror(errno));
	} else
		notify_services(&d->cfg);
}

/* ---- the schedule ---- */

static void
fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Seconds until the certificate is due; 0: now. */
static long
due_in(struct daemon *d, struct acme_cert_info *ci, const char **why)
{
	time_t now = time(NULL), due;
	int r = cert_info_read(&d->a, ci);

	if (r == PTT_ENOENT) {
		*why = "no certificate yet";
		return 0;
	}
	if (r != 0) {
		*why = "the certificate does not parse";
		return 0;
	}
	if (!ci->covers) {
		*why = "the certificate lacks configured names";
		return 0;
	}
	due = acme_renew_at(ci);
	if (now >= due) {
		*why = "two thirds of its lifetime have passed";
		return 0;
	}
	*why = NULL;
	return (long)(due - now);
}

static void schedule(struct daemon *d, long secs);

static void
check(struct daemon *d, bool force)
{
	struct acme_cert_info ci;
	const char *why;
	long wait, ra;
	char err[1024], na[32];
	int r;

	wait = due_in(d, &ci, &why);
	if (force)
		why = "renewal forced";
	if (!force && wait > 0) {
		fmt_time(ci.not_after, na, sizeof(na));
		log_info(NULL, "certificate %s serial=%s valid until %s; renewal "
		    "in %lds", d->a.cert_path, ci.serial, na, wait);
		d->status = 0;
		schedule(d, wait < CHECK_MAX ? wait : CHECK_MAX);
		return;
	}
	log_info(NULL, "renewing %s: %s", d->a.cert_path, why);
	r = issue(&d->a, &ci, &ra, err, sizeof(err));
	if (r != 0) {
		long next = d->backoff ? d->backoff * 2 : d->cfg.retry_min;
		if (next > d->cfg.retry_max)
			next = (long)d->cfg.retry_max;
		if (ra > next)
			next = ra;
		d->backoff = next;
		log_err(NULL, "renewal failed (%s), next attempt in %lds: %s",
		    ptt_strerror(r), next, err);
		d->status = 1;
		schedule(d, next);
		return;
	}
	d->backoff = 0;
	d->status = 0;
	fmt_time(ci.not_after, na, sizeof(na));
	log_info(NULL, "issued %s names=%s serial=%s valid until %s",
	    d->a.cert_path, d->cfg.names, ci.serial, na);
	notify(d);
	wait = due_in(d, &ci, &why);
	schedule(d, wait > 0 ? (wait < CHECK_MAX ? wait : CHECK_MAX) :
	    (long)d->cfg.retry_min);
}

static void
on_timer(evutil_socket_t fd, short ev, void *arg)
{
	check(arg, false);
}

static void
schedule(struct daemon *d, long secs)
{
	struct timeval tv = { secs, 0 };

	if (d->timer != NULL)
		evtimer_add(d->timer, &tv);
}

static void
on_usr1(evutil_socket_t fd, short ev, void *arg)
{
	struct daemon *d = arg;

	log_info(NULL, "SIGUSR1: forced renewal");
	evtimer_del(d->timer);
	check(d, true);
}

static void
on_hup(void *arg)
{
	struct daemon *d = arg;

	log_info(NULL, "SIGHUP: checking now");
	evtimer_del(d->timer);
	check(d, false);
}

static void
on_stop(void *arg)
{
	struct daemon *d = arg;

	event_base_loopexit(d->base, NULL);
}

/* ---- start ---- */

static void
split_names(struct daemon *d)
{
	const char *p = d->cfg.names;

	if (p == NULL || *p == '\0')
		fatal("names is required: the submission and mx host names");
	while (*p) {
		size_t n;
		p += strspn(p, " \t,");
		if ((n = strcspn(p, " \t,")) == 0)
			break;
		d->a.names = xreallocarray(d->a.names, d->a.nnames + 1,
		    sizeof(char *));
		if (n > 253)
			fatal("names: a name is longer than 253 bytes");
		d->a.names[d->a.nnames] = xstrndup(p, n);
		for (char *q = d->a.names[d->a.nnames]; *q; q++)
			if (*q >= 'A' && *q <= 'Z')
				*q = (char)(*q - 'A' + 'a');
			else if (!((*q >= 'a' && *q <= 'z') ||
			    (*q >= '0' && *q <= '9') || *q == '-' || *q == '.'))
				fatal("names: \"%.*s\" is not a DNS name", (int)n, p);
		d->a.nnames++;
		p += n;
	}
}

static EVP_PKEY *
account_key(struct daemon *d)
{
	char err[512], *pem = NULL;
	size_t len = 0;
	EVP_PKEY *k;
	struct buf b;

	if (state_exists(d->cfg.state, ACCOUNT_KEY)) {
		if (state_read_secret(d->cfg.state, ACCOUNT_KEY, &pem, &len, err,
		    sizeof(err)) != 0)
			fatal("%s", err);
		k = acme_key_from_pem(pem, len);
		state_free_secret(pem, len);
		if (k == NULL)
			fatal("%s/%s: not an ECDSA P-256 key", d->cfg.state,
			    ACCOUNT_KEY);
		return k;
	}
	if ((k = acme_key_new()) == NULL)
		fatal("cannot generate the account key");
	buf_init(&b, 0);
	if (acme_key_pem(k, &b) != 0 || state_write_secret(d->cfg.state,
	    ACCOUNT_KEY, b.data, b.len, err, sizeof(err)) != 0)
		fatal("cannot store the account key: %s", err);
	ptt_memzero(b.data, b.len);
	buf_free(&b);
	log_info(NULL, "created the ACME account key %s/%s", d->cfg.state,
	    ACCOUNT_KEY);
	return k;
}

static char *
read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "r");
	struct buf b;
	char chunk[8192];
	size_t n;

	if (f == NULL)
		fatal("%s: %s", path, strerror(errno));
	buf_init(&b, max);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	if (buf_error(&b) != 0)
		fatal("%s: larger than %zu bytes", path, max);
	return buf_steal(&b, len);
}

/* dir "/" name ext into out; 0 or PTT_ENOSPC. */
static int
buf_path(char *out, size_t outlen, const char *dir, const char *name,
    const char *ext)
{
	struct buf b;
	int r = 0;

	buf_init(&b, 0);
	buf_addf(&b, "%s/%s%s", dir, name, ext);
	if (ptt_strlcpy(out, b.data, outlen) >= outlen)
		r = PTT_ENOSPC;
	buf_free(&b);
	return r;
}

static uint16_t
port_of_url(const char *url)
{
	const char *h = strstr(url, "://"), *end, *colon;
	bool https = strncmp(url, "https", 5) == 0;

	if (h == NULL)
		return 0;
	h += 3;
	end = h + strcspn(h, "/?#");
	if (*h == '[')
		colon = memchr(h, ']', (size_t)(end - h)) ?
		    strchr(memchr(h, ']', (size_t)(end - h)), ':') : NULL;
	else
		colon = memchr(h, ':', (size_t)(end - h));
	if (colon != NULL && colon < end)
		return (uint16_t)atoi(colon + 1);
	return https ? 443 : 80;
}

static void
enter_sandbox(struct daemon *d)
{
	static const char *const resolver_files[] = { "/etc/hosts",
	    "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/gai.conf",
	    "/etc/host.conf", NULL };
	const char *ro[8], *rw[2] = { d->a.certs_dir, NULL };
	uint16_t ports[3] = { 0, 0, 0 };
	char host[256], port[32], err[512];
	struct sandbox sb;
	size_t nro = 0;
	struct passwd *pw;

	for (size_t i = 0; resolver_files[i] != NULL; i++)
		if (access(resolver_files[i], R_OK) == 0)
			ro[nro++] = resolver_files[i];
	ro[nro] = NULL;
	ports[0] = port_of_url(d->cfg.directory);
	if (d->cfg.dns_tcp && net_split_hostport(d->cfg.dns_primary, host,
	    sizeof(host), port, sizeof(port)) == 0)
		ports[1] = (uint16_t)atoi(port);
	/* the certs directory belongs to the user the process becomes */
	if (geteuid() == 0 && (pw = getpwnam(d->cfg.user)) != NULL &&
	    chown(d->a.certs_dir, pw->pw_uid, pw->pw_gid) != 0)
		fatal("chown %s: %s", d->a.certs_dir, strerror(errno));
	memset(&sb, 0, sizeof(sb));
	sb.name = "acme";
	sb.user = d->cfg.user;
	sb.ro_paths = ro;
	sb.rw_paths = rw;
	sb.connect_ports = ports;
	sb.groups = SB_NET_CONNECT | SB_FS_READ | SB_FS_WRITE | SB_THREADS;
	sb.debug = d->cfg.sandbox_debug;
	if (sandbox_enter(&sb, err, sizeof(err)) != 0)
		fatal("%s", err);
}

int
main(int argc, char **argv)
{
	struct daemon d;
	struct acme_client_opts co;
	char err[512], *ca = NULL;
	size_t ca_len = 0;
	int n = 1;

	log_init(argv[0]);
	memset(&d, 0, sizeof(d));
	d.notify_fd = -1;
	/* our own flags, then the common command line */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			d.once = true;
		else if (strcmp(argv[i], "--force") == 0)
			d.force = true;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	param_main(params, &d.cfg, "acme", n, argv);
	d.a.cfg = &d.cfg;
	split_names(&d);
	if (d.cfg.zone == NULL || *d.cfg.zone == '\0')
		fatal("zone is required: the zone holding _acme-challenge records");
	if (d.cfg.tsig_key == NULL || *d.cfg.tsig_key == '\0')
		fatal("tsig_key is required: the key for the DNS updates");
	if (!acme_url_ok(d.cfg.directory, d.cfg.allow_http))
		fatal("directory: %s is not an https URL", d.cfg.directory);
	snprintf(d.a.zone, sizeof(d.a.zone), "%s%s", d.cfg.zone,
	    d.cfg.zone[strlen(d.cfg.zone) - 1] == '.' ? "" : ".");
	if (state_init(d.cfg.state, err, sizeof(err)) != 0)
		fatal("%s", err);
	if (state_path(d.cfg.state, "certs", d.a.certs_dir,
	    sizeof(d.a.certs_dir)) != 0)
		fatal("state: path too long");
	if (mkdir(d.a.certs_dir, 0755) != 0 && errno != EEXIST)
		fatal("%s: %s", d.a.certs_dir, strerror(errno));
	if ((d.a.certs_fd = open(d.a.certs_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		fatal("%s: %s", d.a.certs_dir, strerror(errno));
	snprintf(d.a.cert_file, sizeof(d.a.cert_file), "%s.pem", d.a.names[0]);
	snprintf(d.a.key_file, sizeof(d.a.key_file), "%s.key", d.a.names[0]);
	if (buf_path(d.a.cert_path, sizeof(d.a.cert_path), d.a.certs_dir,
	    d.a.cert_file, "") != 0)
		fatal("state: path too long");
	ca = read_file(d.cfg.ca, 16 * 1024 * 1024, &ca_len);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatal("cannot initialise libcurl");

	/* the helper that signals services must not see any secret */
	if (d.cfg.sandbox && ((d.cfg.notify_pidfiles && *d.cfg.notify_pidfiles) ||
	    (d.cfg.notify_command && *d.cfg.notify_command)))
		d.notify_fd = start_helper(&d.cfg);

	if (tsig_key_load(&d.a.tsig, d.cfg.tsig_key, err, sizeof(err)) != 0)
		fatal("%s", err);
	d.a.account_key = account_key(&d);
	memset(&co, 0, sizeof(co));
	co.directory = d.cfg.directory;
	co.ca_pem = ca;
	co.ca_len = ca_len;
	co.account_key = d.a.account_key;
	co.contact = d.cfg.contact;
	co.timeout = (long)d.cfg.timeout;
	co.allow_http = d.cfg.allow_http;
	co.pin_resolve = d.cfg.sandbox;
	if ((d.a.client = acme_client_new(&co)) == NULL)
		fatal("cannot set up libcurl");
	ptt_memzero(ca, ca_len);
	free(ca);

	d.base = ev_base_new();
	if (d.cfg.sandbox)
		enter_sandbox(&d);
	if (d.once) {
		check(&d, d.force);
	} else {
		d.timer = evtimer_new(d.base, on_timer, &d);
		d.usr1 = evsignal_new(d.base, SIGUSR1, on_usr1, &d);
		if (d.timer == NULL || d.usr1 == NULL ||
		    evsignal_add(d.usr1, NULL) != 0)
			fatal("cannot set up events");
		ev_on_signals(d.base, on_stop, on_hup, &d);
		log_info(NULL, "certificates for %s from %s; DNS-01 at %s zone %s",
		    d.cfg.names, d.cfg.directory, d.cfg.dns_primary, d.a.zone);
		schedule(&d, 0);
		event_base_dispatch(d.base);
		ev_free_signals();
		event_free(d.timer);
		event_free(d.usr1);
	}

	acme_client_free(d.a.client);
	EVP_PKEY_free(d.a.account_key);
	ptt_memzero(&d.a.tsig, sizeof(d.a.tsig));
	for (size_t i = 0; i < d.a.nnames; i++)
		free(d.a.names[i]);
	free(d.a.names);
	event_base_free(d.base);
	curl_global_cleanup();
	param_free(params, &d.cfg);
	if (d.notify_fd >= 0)
		close(d.notify_fd);
	close(d.a.certs_fd);
	return d.once ? d.status : 0;
}
