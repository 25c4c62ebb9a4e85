/*
 * pttd - the supervisor: runs every service ptt.conf enables, each as its
 * own process, and keeps them running, healthy, current and visible.
 *
 *	pttd [--config DIR|URL] [--state DIR] [--ssh-key FILE]
 *	     [--host-key PIN] [-o name=value]... | --defaults
 *
 * - Sockets: pttd opens every service's listening sockets itself and
 *   passes them to each instance as LISTEN_FDS (sd_listen_fds(3)); the
 *   daemons take them in net_listen (util/net.c), so the same binaries
 *   run under pttd, systemd socket activation, or alone. pttd keeps its
 *   copies: while a service restarts, connections wait in the backlog.
 * - Processes (svc.c): per-service RLIMIT_AS and RLIMIT_NOFILE, output
 *   collected into a log (memory ring + state/pttd/logs/NAME.log),
 *   restart with exponential backoff after a crash.
 * - Certificates (watch.c): a service whose public certificate or key
 *   does not exist yet waits for it instead of crashing; a renewed one
 *   (ptt-acme) is handed to its instances by SIGHUP. Each daemon
 *   sandboxes itself (util/sandbox.h); pttd does not need to.
 * - Health (health.c): SMTP greeting/EHLO/NOOP/QUIT, TLS with pttd's
 *   internal certificate (pttd.internal), or an SOA query for ptt-dns.
 * - Redeploy (deploy.c): a new commit of the configuration repository is
 *   checked with `ptt check` and rolled out service by service without
 *   refusing a connection.
 * - Status (http.c): the page, /api/status, /api/logs, /metrics.
 *
 * Signals: SIGTERM/SIGINT stop every service (SIGTERM: they finish their
 * sessions) and exit; SIGHUP looks at the configuration repository now.
 *
 * Holds: the internal CA's key (to issue its own certificate at start),
 * the status token. Runs as the user that starts it (root in a real
 * deployment: the daemons drop privileges themselves).
 * Trusts: its command line and the state directory; ptt.conf through the
 * parameter tables and `ptt check`.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "conf/ca.h"
#include "conf/global.h"
#include "conf/state.h"
#include "pttd/pttd.h"
#include "pttd/version.h"
#include "util/ev.h"
#include "util/mem.h"
#include "util/tls.h"

static struct pttd D;

static void
usage(void)
{
	fprintf(stderr, "usage: pttd [--config DIR|ssh://URL] [--state DIR] "
	    "[--ssh-key FILE] [--host-key PIN] [-o name=value]...\n"
	    "       pttd --defaults\n"
	    "Defaults: --config /var/lib/ptt/config, --state /var/lib/ptt/state "
	    "(or PTT_CONFIG, PTT_STATE).\n");
	exit(2);
}

static void
maybe_exit(struct pttd *d)
{
	if (d->stopping && d->insts == NULL)
		event_base_loopexit(d->base, NULL);
}

static void
on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	struct pttd *d = arg;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!source_reaped(d, pid, status))
			svc_reaped(d, pid, status);
	maybe_exit(d);
}

static void
on_stop(void *arg)
{
	struct pttd *d = arg;

	if (d->stopping)
		return;
	d->stopping = true;
	log_info(NULL, "stopping every service");
	deploy_stop(d);
	source_stop(d);
	for (size_t i = 0; i < d->nsvc; i++) {
		evtimer_del(d->svc[i].restart_ev);
		watch_stop(&d->svc[i]);
		health_cancel(&d->svc[i]);
		if (d->svc[i].health_ev != NULL)
			evtimer_del(d->svc[i].health_ev);
	}
	for (struct inst *in = d->insts; in != NULL; in = in->next)
		inst_stop(in);
	maybe_exit(d);
}

static void
on_hup(void *arg)
{
	deploy_poll(arg);
	source_poll(arg);
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	deploy_poll(arg);
}

static void
self_dir(char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0) {
		ptt_strlcpy(out, ".", len);
		return;
	}
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) != NULL)
		*slash = '\0';
	ptt_strlcpy(out, exe, len);
}

static void
make_dir(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		fatal("mkdir %s: %s", path, strerror(errno));
}

static void
setup_tls(struct pttd *d)
{
	char cert[1200], key[1200], ca[1200], err[512];
	struct tls_opts o;
	bool issued;

	memset(&o, 0, sizeof(o));
	d->tls_public = tls_client_ctx(&o, err, sizeof(err));
	if (ca_ensure_cert(d->state, "pttd", NULL, 0, 0, &issued, err,
	    sizeof(err)) != 0 || ca_cert_paths(d->state, "pttd", cert,
	    sizeof(cert), key, sizeof(key)) != 0 || ca_cafile_path(d->state, ca,
	    sizeof(ca)) != 0) {
		snprintf(d->tls_err, sizeof(d->tls_err), "pttd.internal: %.200s", err);
		log_warn(NULL, "%s: implicit-TLS health checks will fail",
		    d->tls_err);
		return;
	}
	if (issued)
		log_info(NULL, "issued pttd.internal from the internal CA");
	o.cert_file = cert;
	o.key_file = key;
	o.ca_file = ca;
	o.verify_peer = true;
	if ((d->tls = tls_client_ctx(&o, err, sizeof(err))) == NULL)
		ptt_strlcpy(d->tls_err, err, sizeof(d->tls_err));
}

static void
setup_token(struct pttd *d)
{
	char err[512], *data = NULL;
	size_t len = 0;

	if (d->cfg.status == NULL || d->cfg.status[0] == '\0')
		return;
	/* A configured token is always required; the generated one only
	 * off loopback. */
	if (d->cfg.token != NULL && d->cfg.token[0] != '\0') {
		d->token = xstrdup(d->cfg.token);
		return;
	}
	if (pttd_is_loopback(d->cfg.status))
		return;
	if (state_read_secret(d->state, PTTD_TOKEN_FILE, &data, &len, err,
	    sizeof(err)) == 0) {
		while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
			data[--len] = '\0';
		d->token = xstrdup(data);
		state_free_secret(data, len);
		return;
	}
	unsigned char r[24];
	char hex[64];
	if (RAND_bytes(r, sizeof(r)) != 1)
		fatal("no randomness for the status token");
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	if (state_write_secret(d->state, PTTD_TOKEN_FILE, hex, strlen(hex),
	    err, sizeof(err)) != 0)
		fatal("status token: %s", err);
	d->token = xstrdup(hex);
	log_info(NULL, "status token written to %s/%s", d->state,
	    PTTD_TOKEN_FILE);
}

int
main(int argc, char **argv)
{
	struct pttd *d = &D;
	struct conf_repo_opts ro;
	const char *sets[64];
	size_t nsets = 0;
	char err[1024], head[CONF_COMMIT_HEX], path[1200];
	char *text = NULL;
	size_t len = 0;
	bool defaults = false;

	log_init("pttd");
	memset(d, 0, sizeof(*d));
	d->config_url = getenv("PTT_CONFIG") ? getenv("PTT_CONFIG") :
	    "/var/lib/ptt/config";
	d->state = getenv("PTT_STATE") ? getenv("PTT_STATE") :
	    "/var/lib/ptt/state";
	d->ssh_key = getenv("PTT_SSH_KEY");
	d->host_key = getenv("PTT_HOST_KEY");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		if (strcmp(a, "--config") == 0)
			slot = &d->config_url;
		else if (strcmp(a, "--state") == 0)
			slot = &d->state;
		else if (strcmp(a, "--ssh-key") == 0)
			slot = &d->ssh_key;
		else if (strcmp(a, "--host-key") == 0)
			slot = &d->host_key;
		else if (strcmp(a, "-o") == 0) {
			if (++i == argc || nsets == 64)
				usage();
			sets[nsets++] = argv[i];
			continue;
		} else if (strcmp(a, "--defaults") == 0) {
			defaults = true;
			continue;
		} else
			usage();
		if (++i == argc)
			usage();
		*slot = argv[i];
	}
	if (defaults) {
		if (param_defaults(pttd_params, &d->cfg, err, sizeof(err)) != 0)
			panic("%s", err);
		param_print(pttd_params, &d->cfg, stdout, true);
		param_free(pttd_params, &d->cfg);
		return 0;
	}

	memset(&ro, 0, sizeof(ro));
	ro.url = d->config_url;
	ro.ssh_key = d->ssh_key;
	ro.host_key = d->host_key;
	snprintf(path, sizeof(path), "%s/cache/config.git", d->state);
	ro.cache_dir = path;
	if (conf_repo_open(&d->repo, &ro, err, sizeof(err)) != 0)
		fatal("config %s: %s", d->config_url, err);
	if (conf_repo_head(d->repo, head) != 0)
		fatal("config %s: no commit", d->config_url);
	if (conf_params_load(d->repo, head, pttd_params, &d->cfg, "pttd", err,
	    sizeof(err)) != 0)
		fatal("%s", err);
	for (size_t i = 0; i < nsets; i++) {
		char *eq = strchr(sets[i], '='), name[64];
		if (eq == NULL || (size_t)(eq - sets[i]) >= sizeof(name))
			fatal("-o %s: expected name=value", sets[i]);
		memcpy(name, sets[i], (size_t)(eq - sets[i]));
		name[eq - sets[i]] = '\0';
		if (param_set(pttd_params, &d->cfg, name, eq + 1, err,
		    sizeof(err)) != 0)
			fatal("-o %s: %s", sets[i], err);
	}
	{
		struct conf_global g;
		if (conf_global_load(d->repo, head, &g, err, sizeof(err)) != 0)
			fatal("%s", err);
		ptt_strlcpy(d->domain, g.domain, sizeof(d->domain));
		conf_global_free(&g);
	}
	self_dir(d->self_dir, sizeof(d->self_dir));
	if (state_init(d->state, err, sizeof(err)) != 0)
		fatal("%s", err);
	snprintf(d->statedir_pttd, sizeof(d->statedir_pttd), "%s/%s", d->state,
	    PTTD_DIR);
	make_dir(d->statedir_pttd);
	snprintf(path, sizeof(path), "%s/conf", d->statedir_pttd);
	make_dir(path);
	snprintf(path, sizeof(path), "%s/logs", d->statedir_pttd);
	make_dir(path);
	setup_tls(d);
	setup_token(d);

	d->base = ev_base_new();
	d->started = time(NULL);
	ptt_strlcpy(d->commit, head, sizeof(d->commit));
	ptt_strlcpy(d->seen, head, sizeof(d->seen));
	if (deploy_write_conf(d, head, &text, &len, err, sizeof(err)) != 0)
		fatal("%s", err);
	{
		char copy[512], *save = NULL, *w;
		ptt_strlcpy(copy, d->cfg.services, sizeof(copy));
		for (w = strtok_r(copy, " \t,", &save); w != NULL;
		    w = strtok_r(NULL, " \t,", &save)) {
			const struct svc_kind *k = svc_kind_find(w);
			struct service *s;
			if (k == NULL)
				fatal("services: unknown service \"%s\"", w);
			if (d->nsvc == SVC_MAX)
				fatal("services: too many");
			s = &d->svc[d->nsvc++];
			s->kind = k;
			s->d = d;
			for (size_t j = 0; j < SVC_LISTEN_MAX; j++)
				s->ls[j].fd = s->ls[j].ufd = -1;
			svc_init_events(s);
			ptt_strlcpy(s->commit, head, sizeof(s->commit));
			if (svc_configure(s, text, len, err, sizeof(err)) != 0 ||
			    svc_open_listeners(s, err, sizeof(err)) != 0)
				fatal("%s: %s", k->name, err);
			watch_start(s);
		}
	}
	free(text);

	ev_on_signals(d->base, on_stop, on_hup, d);
	struct event *chld = evsignal_new(d->base, SIGCHLD, on_sigchld, d);
	event_add(chld, NULL);
	if (http_start(d, err, sizeof(err)) != 0)
		fatal("status page: %s", err);
	source_restore(d);
	for (size_t i = 0; i < d->nsvc; i++)
		svc_start(&d->svc[i]);
	deploy_record(d, head, "started", "pttd %s with %s", PTTD_VERSION,
	    d->cfg.services);
	d->poll_ev = event_new(d->base, -1, EV_PERSIST, on_poll, d);
	struct timeval tv = { (time_t)d->cfg.poll_interval, 0 };
	event_add(d->poll_ev, &tv);
	source_start(d);

	event_base_dispatch(d->base);

	log_info(NULL, "stopped");
	http_stop(d);
	event_free(d->poll_ev);
	source_free(d);
	event_free(chld);
	ev_free_signals();
	for (size_t i = 0; i < d->nsvc; i++)
		svc_free(&d->svc[i]);
	if (d->tls != NULL)
		SSL_CTX_free(d->tls);
	if (d->tls_public != NULL)
		SSL_CTX_free(d->tls_public);
	free(d->token);
	conf_repo_close(d->repo);
	param_free(pttd_params, &d->cfg);
	event_base_free(d->base);
	return 0;
}
