/*
 * svc.c - pttd's services: what each kind needs (executable, listeners,
 * health check), starting an instance with its listening sockets passed
 * by the LISTEN_FDS convention (sd_listen_fds(3); util/net.c takes them;
 * ptt-dns gets a UDP socket beside each TCP one),
 * per-service resource limits, collecting its output into a log, and
 * restarting a crashed one with exponential backoff.
 *
 * pttd reads a service's section of ptt.conf only for what it must know
 * before starting it: the listen addresses, the relay's queue directory,
 * and the certificate files it waits for and watches (watch.c). Every
 * daemon parses the file itself, with its own parameter table (-c).
 *
 * Trusts: ptt.conf as committed (validated by `ptt check` before a
 * deploy); a service's output is data (stored and shown, never
 * interpreted beyond counting).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/state.h"
#include "pttd/pttd.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/net.h"

static const struct svc_kind kinds[] = {
	{ .name = "dns", .bin = "ptt-dns", .subdir = "dns",
	  .listen = { "listen" }, .listen_def = { "127.0.0.1:53" },
	  .health = HS_DNS, .udp = true },
	{ .name = "relay", .bin = "ptt-relay", .subdir = "relay",
	  .listen = { "listen" },
	  .listen_def = { "127.0.0.1:10026" }, .tls_param = "implicit_tls",
	  .health = HS_SMTP, .exclusive = true, .queue_param = "queue_dir" },
	{ .name = "signer", .bin = "ptt-signer", .subdir = "signer",
	  .listen = { "listen" },
	  .listen_def = { "127.0.0.1:10025" }, .tls_def = true,
	  .health = HS_SMTP },
	{ .name = "submission", .bin = "ptt-submission", .subdir = "submission",
	  .listen = { "listen_submission", "listen_smtps" },
	  .listen_def = { "0.0.0.0:587", "0.0.0.0:465" },
	  .tls_listen = { false, true }, .health = HS_SMTP,
	  .watch = { "cert", "key" } },
	{ .name = "mx", .bin = "ptt-mx", .subdir = "mx",
	  .listen = { "listen" }, .listen_def = { "0.0.0.0:25" },
	  .health = HS_SMTP, .watch = { "cert", "key" } },
	{ .name = "spamfilter", .bin = "ptt-spamfilter", .subdir = "spamfilter",
	  .listen = { "listen" },
	  .listen_def = { "127.0.0.1:10028" }, .tls_def = true,
	  .health = HS_SMTP },
	/* ptt-resolver becomes Unbound, which binds its own sockets (with
	 * SO_REUSEPORT), so it is rolled over stop-then-start. */
	{ .name = "resolver", .bin = "ptt-resolver", .subdir = "resolver",
	  .listen = { "listen" },
	  .listen_def = { "127.0.0.1:10053" }, .health = HS_DNS,
	  .exclusive = true, .own_sockets = true },
	{ .name = "acme", .bin = "ptt-acme", .subdir = "acme",
	  .health = HS_NONE, .exclusive = true },
	{ .name = NULL }
};

const struct svc_kind *
svc_kind_find(const char *name)
{
	for (const struct svc_kind *k = kinds; k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

/* ---- reading a section (only the values pttd needs; see above) ---- */

struct kv {
	char name[64];
	char value[512];
};

/*
 * Walk the `name = value` lines of section (NULL: the global part) of a
 * ptt.conf text, calling fn for each. Syntax as util/param.h: `#`
 * comments, `[section]` headers, values to the end of the line.
 */
static void
section_walk(const char *text, size_t len, const char *section,
    void (*fn)(const struct kv *, void *), void *arg)
{
	const char *p = text, *end = text + len;
	bool in = section == NULL;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *a = p, *b = le, *eq;
		struct kv kv;

		p = nl ? nl + 1 : end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
			b--;
		if (a == b || *a == '#')
			continue;
		if (*a == '[') {
			size_t n = (size_t)(b - a);
			in = section != NULL && n == strlen(section) + 2 &&
			    b[-1] == ']' && memcmp(a + 1, section, n - 2) == 0;
			continue;
		}
		if (!in || (eq = memchr(a, '=', (size_t)(b - a))) == NULL)
			continue;
		const char *ne = eq, *vs = eq + 1;
		while (ne > a && (ne[-1] == ' ' || ne[-1] == '\t'))
			ne--;
		while (vs < b && (*vs == ' ' || *vs == '\t'))
			vs++;
		if ((size_t)(ne - a) >= sizeof(kv.name) ||
		    (size_t)(b - vs) >= sizeof(kv.value))
			continue;
		memcpy(kv.name, a, (size_t)(ne - a));
		kv.name[ne - a] = '\0';
		memcpy(kv.value, vs, (size_t)(b - vs));
		kv.value[b - vs] = '\0';
		fn(&kv, arg);
	}
}

struct scan {
	struct service *s;
	struct buf text;
	char listen[SVC_LISTEN_MAX][512];
	bool have[SVC_LISTEN_MAX];
	int tls;		/* -1 unset */
	char queue[512];
	char watch[SVC_WATCH_MAX][512];
};

static bool
truthy(const char *v)
{
	return strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	    strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0;
}

static void
scan_kv(const struct kv *kv, void *arg)
{
	struct scan *sc = arg;
	const struct svc_kind *k = sc->s->kind;

	buf_addf(&sc->text, "%s=%s\n", kv->name, kv->value);
	for (int i = 0; i < SVC_LISTEN_MAX && k->listen[i] != NULL; i++)
		if (strcmp(kv->name, k->listen[i]) == 0) {
			ptt_strlcpy(sc->listen[i], kv->value, sizeof(sc->listen[i]));
			sc->have[i] = true;
		}
	if (k->tls_param != NULL && strcmp(kv->name, k->tls_param) == 0)
		sc->tls = truthy(kv->value);
	if (k->queue_param != NULL && strcmp(kv->name, k->queue_param) == 0)
		ptt_strlcpy(sc->queue, kv->value, sizeof(sc->queue));
	for (int i = 0; i < SVC_WATCH_MAX && k->watch[i] != NULL; i++)
		if (strcmp(kv->name, k->watch[i]) == 0)
			ptt_strlcpy(sc->watch[i], kv->value, sizeof(sc->watch[i]));
}

static void
global_kv(const struct kv *kv, void *arg)
{
	struct scan *sc = arg;

	buf_addf(&sc->text, "%s=%s\n", kv->name, kv->value);
}

char *
svc_section_text(const struct svc_kind *k, const char *conf, size_t len)
{
	struct scan sc;

	memset(&sc, 0, sizeof(sc));
	buf_init(&sc.text, 1024 * 1024);
	section_walk(conf, len, NULL, global_kv, &sc);
	buf_adds(&sc.text, "--\n");
	section_walk(conf, len, k->name, global_kv, &sc);
	return buf_steal(&sc.text, NULL);
}

int
svc_configure(struct service *s, const char *conf, size_t len, char *err,
    size_t errlen)
{
	const struct svc_kind *k = s->kind;
	struct scan sc;
	size_t n = 0;

	memset(&sc, 0, sizeof(sc));
	sc.s = s;
	sc.tls = -1;
	buf_init(&sc.text, 1024 * 1024);
	section_walk(conf, len, NULL, global_kv, &sc);
	buf_adds(&sc.text, "--\n");
	section_walk(conf, len, k->name, scan_kv, &sc);
	for (int i = 0; i < SVC_LISTEN_MAX && k->listen[i] != NULL; i++) {
		const char *v = sc.have[i] ? sc.listen[i] : k->listen_def[i];
		/* ptt-dns takes several addresses, space-separated. */
		char copy[512], *save = NULL, *w;
		ptt_strlcpy(copy, v, sizeof(copy));
		for (w = strtok_r(copy, " \t,", &save); w != NULL;
		    w = strtok_r(NULL, " \t,", &save)) {
			if (n == SVC_LISTEN_MAX) {
				snprintf(err, errlen, "%s: too many listeners", k->name);
				buf_free(&sc.text);
				return -1;
			}
			struct listener *l = &s->ls[n];
			if (strcmp(l->addr, w) != 0) {
				/* A new address: its socket is opened anew (a
				 * running instance keeps its own copy of the old). */
				if (l->fd >= 0)
					close(l->fd);
				if (l->ufd >= 0)
					close(l->ufd);
				ptt_strlcpy(l->addr, w, sizeof(l->addr));
				l->fd = l->ufd = -1;
			}
			l->tls = k->tls_listen[i] || (i == 0 &&
			    (sc.tls >= 0 ? sc.tls == 1 : k->tls_def));
			n++;
		}
	}
	/* Listeners no longer configured: closed once no instance needs
	 * them (instances hold their own copies). */
	for (size_t i = n; i < s->nls; i++) {
		if (s->ls[i].fd >= 0)
			close(s->ls[i].fd);
		if (s->ls[i].ufd >= 0)
			close(s->ls[i].ufd);
		s->ls[i].fd = s->ls[i].ufd = -1;
		s->ls[i].addr[0] = '\0';
	}
	s->nls = n;
	for (size_t i = 0; i < SVC_WATCH_MAX; i++)
		watch_set(s, i, sc.watch[i]);
	free(s->queue_dir);
	s->queue_dir = sc.queue[0] ? xstrdup(sc.queue) : NULL;
	free(s->section);
	s->section = buf_steal(&sc.text, NULL);
	return 0;
}

int
svc_open_listeners(struct service *s, char *err, size_t errlen)
{
	if (s->kind->own_sockets)
		return 0;
	for (size_t i = 0; i < s->nls; i++) {
		struct listener *l = &s->ls[i];
		int fd;
		/* pttd itself may run under systemd socket activation. */
		if (l->fd < 0) {
			if ((fd = net_listen(l->addr, err, errlen)) < 0)
				return -1;
			l->fd = fd;
		}
		if (s->kind->udp && l->ufd < 0) {
			if ((fd = net_bind_udp(l->addr, err, errlen)) < 0)
				return -1;
			l->ufd = fd;
		}
	}
	return 0;
}

/* ---- paths ---- */

void
svc_conf_path(struct pttd *d, const char *commit, char *out, size_t len)
{
	snprintf(out, len, "%s/conf/%s.conf", d->statedir_pttd, commit);
}

void
svc_exe_path(struct pttd *d, const char *bin, const char *subdir, char *out,
    size_t len)
{
	if (d->src_root[0] != '\0') {
		snprintf(out, len, "%s/src/%s/%s", d->src_root, subdir, bin);
		return;
	}
	if (d->cfg.bin_dir != NULL && d->cfg.bin_dir[0] != '\0') {
		snprintf(out, len, "%s/%s", d->cfg.bin_dir, bin);
		return;
	}
	/* Installed: next to pttd. Build tree: build/src/pttd/pttd and
	 * build/src/<subdir>/<bin>. */
	snprintf(out, len, "%s/%s", d->self_dir, bin);
	if (access(out, X_OK) == 0)
		return;
	snprintf(out, len, "%s/../%s/%s", d->self_dir, subdir, bin);
}

/* ---- logs ---- */

static void
count_line(struct service *s, const char *l)
{
	/* The daemons' one-line events (see each daemon's log_info calls). */
	if (strstr(l, " received from=") || strstr(l, " signed from=") ||
	    (strstr(l, " message from=") && !strstr(l, "verdict=reject") &&
	    !strstr(l, "verdict=tempfail") && !strstr(l, "verdict=dropped")))
		s->c.accepted++;
	if (strstr(l, " reject: ") || strstr(l, "verdict=reject") ||
	    strstr(l, "refused message:"))
		s->c.rejected++;
	if (strstr(l, "status=deferred") || strstr(l, "verdict=tempfail"))
		s->c.deferred++;
	if (strstr(l, "status=bounced"))
		s->c.bounced++;
	if (strstr(l, "status=sent"))
		s->c.delivered++;
}

static void
log_file_open(struct service *s)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s/logs/%s.log", s->d->statedir_pttd,
	    s->kind->name);
	s->logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->logfd >= 0) {
		struct stat st;
		s->logsize = fstat(s->logfd, &st) == 0 ? (unsigned long long)
		    st.st_size : 0;
	}
}

void
svc_log_line(struct service *s, const char *line)
{
	size_t n = strlen(line);
	char **slot = &s->ring[s->nlines % RING_LINES];

	free(*slot);
	*slot = xstrdup(line);
	s->nlines++;
	count_line(s, line);
	if (s->logfd < 0)
		log_file_open(s);
	if (s->logfd < 0)
		return;
	if (s->logsize + n + 1 > s->d->cfg.log_max) {
		char path[1200], old[1210];
		snprintf(path, sizeof(path), "%s/logs/%s.log",
		    s->d->statedir_pttd, s->kind->name);
		snprintf(old, sizeof(old), "%s.1", path);
		close(s->logfd);
		(void)rename(path, old);
		log_file_open(s);
		if (s->logfd < 0)
			return;
	}
	struct iovec_like { const char *p; size_t n; } parts[2] = {
		{ line, n }, { "\n", 1 } };
	for (int i = 0; i < 2; i++)
		if (write(s->logfd, parts[i].p, parts[i].n) > 0)
			s->logsize += parts[i].n;
}

static void
inst_line(struct inst *in, const char *line)
{
	if (strstr(line, "listening") != NULL) {
		in->ready = true;
		if (in->svc->state == SS_STARTING && in == in->svc->cur &&
		    !in->svc->rolling)
			health_schedule(in->svc, 50);
	}
	ptt_strlcpy(in->last_line, line, sizeof(in->last_line));
	svc_log_line(in->svc, line);
}

static void
on_output(evutil_socket_t fd, short what, void *arg)
{
	struct inst *in = arg;
	char b[4096];
	ssize_t n = read(fd, b, sizeof(b));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (in->partlen > 0) {
			in->part[in->partlen] = '\0';
			inst_line(in, in->part);
			in->partlen = 0;
		}
		event_free(in->out);
		in->out = NULL;
		close(in->outfd);
		in->outfd = -1;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (b[i] == '\n' || in->partlen == sizeof(in->part) - 1) {
			in->part[in->partlen] = '\0';
			inst_line(in, in->part);
			in->partlen = 0;
			if (b[i] == '\n')
				continue;
		}
		/* Control bytes (the daemons escape theirs) shown as '?'. */
		in->part[in->partlen++] = (unsigned char)b[i] < 0x20 &&
		    b[i] != '\t' ? '?' : b[i];
	}
}

/* ---- processes ---- */

/* argv for the service: the executable and -c FILE (its section of the
 * commit's ptt.conf, read through its own parameter table). */
static char **
build_argv(const char *exe, const char *conf_path)
{
	char **av = xcalloc(4, sizeof(*av));

	av[0] = xstrdup(exe);
	av[1] = xstrdup("-c");
	av[2] = xstrdup(conf_path);
	return av;
}

static void
free_argv(char **av)
{
	for (size_t i = 0; av[i] != NULL; i++)
		free(av[i]);
	free(av);
}

/* In the child: listeners to 3.., output to the pipe, limits, exec. */
static _Noreturn void
child(struct service *s, int outw, char **av)
{
	struct pttd *d = s->d;
	int hi[2 * SVC_LISTEN_MAX], devnull;
	char num[32];
	sigset_t none;

	setsid();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* Its listeners (TCP, then UDP for kind->udp) as 3, 4, ... */
	int pass[2 * SVC_LISTEN_MAX];
	size_t npass = 0;
	for (size_t i = 0; !s->kind->own_sockets && i < s->nls; i++) {
		pass[npass++] = s->ls[i].fd;
		if (s->kind->udp)
			pass[npass++] = s->ls[i].ufd;
	}
	/* Move everything above the target range first. */
	int base = 3 + (int)npass + 8;
	for (size_t i = 0; i < npass; i++)
		hi[i] = fcntl(pass[i], F_DUPFD, base);
	outw = fcntl(outw, F_DUPFD, base);
	devnull = open("/dev/null", O_RDONLY);
	dup2(devnull, 0);
	dup2(outw, 1);
	dup2(outw, 2);
	for (size_t i = 0; i < npass; i++)
		dup2(hi[i], 3 + (int)i);	/* dup2 clears close-on-exec */
	/* Nothing else of pttd's reaches the service: not every descriptor
	 * is close-on-exec (evhttp's connections, libgit2's files). */
	close_range(3 + (unsigned)npass, ~0U, 0);
	if (d->cfg.rlimit_nofile > 0) {
		struct rlimit rl = { (rlim_t)d->cfg.rlimit_nofile,
		    (rlim_t)d->cfg.rlimit_nofile };
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
#if !defined(__SANITIZE_ADDRESS__)
	if (d->cfg.rlimit_as > 0) {
		struct rlimit rl = { (rlim_t)d->cfg.rlimit_as,
		    (rlim_t)d->cfg.rlimit_as };
		(void)setrlimit(RLIMIT_AS, &rl);
	}
#endif
	if (npass > 0) {
		snprintf(num, sizeof(num), "%zu", npass);
		setenv("LISTEN_FDS", num, 1);
		snprintf(num, sizeof(num), "%ld", (long)getpid());
		setenv("LISTEN_PID", num, 1);
	} else {
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
	}
	unsetenv("LISTEN_FDNAMES");
	execv(av[0], av);
	dprintf(2, "pttd: exec %s: %s\n", av[0], strerror(errno));
	_exit(127);
}

struct inst *
svc_spawn(struct service *s, const char *commit, char *err, size_t errlen)
{
	struct pttd *d = s->d;
	char exe[1200], conf_path[1200];
	char *text = NULL;
	size_t len = 0;
	struct inst *in;
	int p[2];
	pid_t pid;
	char **av;
	const char *missing;

	if ((missing = watch_missing(s)) != NULL) {
		snprintf(err, errlen, "waiting for certificate %s", missing);
		return NULL;
	}
	/* A service runs its own build: during a source deploy the services
	 * not rolled over yet keep the previous one. */
	if (s->src_root[0] != '\0')
		snprintf(exe, sizeof(exe), "%s/src/%s/%s", s->src_root,
		    s->kind->subdir, s->kind->bin);
	else
		svc_exe_path(d, s->kind->bin, s->kind->subdir, exe, sizeof(exe));
	if (access(exe, X_OK) != 0) {
		snprintf(err, errlen, "%s: %s", exe, strerror(errno));
		return NULL;
	}
	if (deploy_write_conf(d, commit, &text, &len, err, errlen) != 0)
		return NULL;
	if (svc_open_listeners(s, err, errlen) != 0) {
		free(text);
		return NULL;
	}
	svc_conf_path(d, commit, conf_path, sizeof(conf_path));
	av = build_argv(exe, conf_path);
	free(text);
	watch_loaded(s);
	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		free_argv(av);
		return NULL;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		free_argv(av);
		return NULL;
	}
	if (pid == 0)
		child(s, p[1], av);
	close(p[1]);
	free_argv(av);
	in = xcalloc(1, sizeof(*in));
	in->svc = s;
	in->pid = pid;
	in->started = time(NULL);
	ptt_strlcpy(in->commit, commit, sizeof(in->commit));
	ptt_strlcpy(in->source, s->source, sizeof(in->source));
	in->outfd = p[0];
	(void)net_set_nonblock(p[0]);
	in->out = event_new(d->base, p[0], EV_READ | EV_PERSIST, on_output, in);
	event_add(in->out, NULL);
	in->next = d->insts;
	d->insts = in;
	{
		char note[1400];
		snprintf(note, sizeof(note), "pttd: started %s pid %ld "
		    "(config %.12s%s%.12s)", exe, (long)pid, commit,
		    s->source[0] ? ", source " : "", s->source);
		svc_log_line(s, note);
		log_info(s->kind->name, "started pid %ld (config %.12s%s%.12s)",
		    (long)pid, commit, s->source[0] ? ", source " : "", s->source);
	}
	return in;
}

static void
on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
	struct inst *in = arg;

	if (in->pid > 0) {
		log_warn(in->svc->kind->name, "pid %ld did not stop in time: "
		    "SIGKILL", (long)in->pid);
		kill(in->pid, SIGKILL);
	}
}

void
inst_stop(struct inst *in)
{
	struct timeval tv = { (time_t)in->svc->d->cfg.stop_timeout, 0 };

	if (in->pid <= 0 || in->term_sent)
		return;
	in->term_sent = true;
	kill(in->pid, SIGTERM);
	kill(in->pid, SIGCONT);
	in->kill_timer = evtimer_new(in->svc->d->base, on_kill_timer, in);
	evtimer_add(in->kill_timer, &tv);
}

static void
on_restart(evutil_socket_t fd, short what, void *arg)
{
	svc_start(arg);
}

void
svc_start(struct service *s)
{
	char err[512];
	const char *missing;

	if (s->d->stopping)
		return;
	/* Waiting for its certificate is not a crash: watch.c starts it. */
	if ((missing = watch_missing(s)) != NULL) {
		watch_wait(s, missing);
		return;
	}
	if (s->state == SS_WAITING)
		s->health_msg[0] = '\0';
	s->cur = svc_spawn(s, s->commit, err, sizeof(err));
	if (s->cur == NULL) {
		char note[600];
		snprintf(note, sizeof(note), "pttd: cannot start: %s", err);
		svc_log_line(s, note);
		log_err(s->kind->name, "cannot start: %s", err);
		ptt_strlcpy(s->last_exit_why, err, sizeof(s->last_exit_why));
		s->crashes++;
		s->state = SS_RESTARTING;
		long long delay = s->d->cfg.restart_delay << (s->crashes < 16 ?
		    s->crashes - 1 : 15);
		struct timeval tv = { (time_t)(delay > s->d->cfg.restart_max ?
		    s->d->cfg.restart_max : delay), 0 };
		evtimer_add(s->restart_ev, &tv);
		return;
	}
	s->state = SS_STARTING;
	s->health_known = false;
	s->health_fails = 0;
	health_schedule(s, 300);
}

static void
describe_status(int status, char *out, size_t len)
{
	if (WIFEXITED(status))
		snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "stopped (status %#x)", status);
}

static void
inst_free(struct pttd *d, struct inst *in)
{
	for (struct inst **pp = &d->insts; *pp != NULL; pp = &(*pp)->next)
		if (*pp == in) {
			*pp = in->next;
			break;
		}
	if (in->out != NULL) {
		/* Read what is left in the pipe before closing it. */
		on_output(in->outfd, EV_READ, in);
		if (in->out != NULL) {
			event_free(in->out);
			close(in->outfd);
		}
	}
	if (in->kill_timer != NULL)
		event_free(in->kill_timer);
	free(in);
}

void
svc_reaped(struct pttd *d, pid_t pid, int status)
{
	struct inst *in;
	struct service *s;
	char why[128], note[400];

	for (in = d->insts; in != NULL && in->pid != pid; in = in->next)
		;
	if (in == NULL)
		return;
	s = in->svc;
	in->pid = 0;
	in->status = status;
	describe_status(status, why, sizeof(why));
	snprintf(note, sizeof(note), "pttd: pid %ld %s", (long)pid, why);
	/* Drain the pipe first so the log reads in order. */
	if (in->out != NULL)
		on_output(in->outfd, EV_READ, in);
	svc_log_line(s, note);
	log_info(s->kind->name, "pid %ld %s", (long)pid, why);
	deploy_inst_exited(d, in);
	if (in == s->cur) {
		s->cur = NULL;
		s->last_exit = time(NULL);
		snprintf(s->last_exit_why, sizeof(s->last_exit_why), "%.100s%s%.140s",
		    why, in->last_line[0] ? ": " : "", in->last_line);
		health_cancel(s);
		if (!d->stopping && !in->term_sent) {
			long long delay;
			/* A service that ran a while crashed once, not again. */
			if (time(NULL) - in->started > 60)
				s->crashes = 0;
			s->crashes++;
			s->restarts++;
			delay = s->d->cfg.restart_delay << (s->crashes < 16 ?
			    s->crashes - 1 : 15);
			if (delay > d->cfg.restart_max)
				delay = d->cfg.restart_max;
			s->state = SS_RESTARTING;
			snprintf(note, sizeof(note), "pttd: restarting in %llds",
			    delay);
			svc_log_line(s, note);
			struct timeval tv = { (time_t)delay, 0 };
			evtimer_add(s->restart_ev, &tv);
		} else {
			s->state = SS_STOPPED;
		}
	}
	inst_free(d, in);
}

const char *
svc_state_name(const struct service *s)
{
	switch (s->state) {
	case SS_STOPPED: return "stopped";
	case SS_RESTARTING: return "restarting";
	case SS_STARTING: return "starting";
	case SS_WAITING: return "waiting";
	case SS_RUNNING:
		return s->health_ok ? "healthy" : "unhealthy";
	}
	return "?";
}

void
svc_free(struct service *s)
{
	for (size_t i = 0; i < s->nls; i++) {
		if (s->ls[i].fd >= 0)
			close(s->ls[i].fd);
		if (s->ls[i].ufd >= 0)
			close(s->ls[i].ufd);
	}
	for (size_t i = 0; i < RING_LINES; i++)
		free(s->ring[i]);
	if (s->restart_ev != NULL)
		event_free(s->restart_ev);
	if (s->health_ev != NULL)
		event_free(s->health_ev);
	if (s->watch_ev != NULL)
		event_free(s->watch_ev);
	if (s->logfd >= 0)
		close(s->logfd);
	free(s->section);
	free(s->queue_dir);
}

void
svc_init_events(struct service *s)
{
	s->restart_ev = evtimer_new(s->d->base, on_restart, s);
	s->logfd = -1;
}
