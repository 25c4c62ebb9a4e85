/*
 * main.c - ptt-relay: startup, sandbox, signals.
 *
 * Order (DESIGN.md "Least privilege"): read the configuration, create the
 * TLS contexts (certificate, key and CA are read here), open the queue
 * directory, create the libunbound context (it reads its configuration
 * files at creation, so before the sandbox), recover the queue
 * (queue_recover: nothing is accepted before), bind the listener, write
 * the pid file, hand the queue to the unprivileged user when started as
 * root, then sandbox_enter(): read-write beneath the queue directory,
 * read-only on the certificate files, TCP connect only to remote_port and
 * the resolver's port, seccomp groups for files and outgoing sockets
 * (libunbound binds its UDP sockets to random ports, hence SB_NET_LISTEN),
 * and only then the event loop. With local domains (forwarding, expand.c)
 * the users come from the configuration repository (read-only in the
 * sandbox, hot-reloaded every reload_interval) and the SRS secrets are read,
 * or made on first start, before the sandbox.
 *
 * Signals: SIGTERM/SIGINT stop accepting (the server answers 421), let
 * deliveries in flight finish for up to stop_timeout (anything unfinished
 * is simply retried after the next start: its envelope still says
 * pending), and exit 0. SIGUSR1 rereads the envelopes and retries every
 * pending recipient now (`ptt-relay queue retry`).
 *
 * Holds: the queue; the internal listener's private key (in its SSL_CTX).
 * Trusts: its command line and configuration file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/srs.h"
#include "conf/repo.h"
#include "conf/users.h"
#include "dns/resolve.h"
#include "relay/relay.h"
#include "smtp/server.h"
#include "util/err.h"
#include "util/ev.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/sandbox.h"
#include "util/tls.h"

static struct relay R;
static bool srv_done, sched_done;
static struct event *stop_timer;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ptt-relay [-c ptt.conf] [-o name=value]... [-v] [--no-sandbox]\n"
	    "       ptt-relay --defaults\n"
	    "       ptt-relay [-c ptt.conf] [-o name=value]... queue "
	    "list|show ID|retry ID|all|delete ID\n"
	    "  -c FILE  read the [relay] section of FILE (util/param.h syntax)\n"
	    "  -o N=V   set a parameter (after the file)\n");
	exit(2);
}

static void
maybe_exit(void)
{
	if (srv_done && sched_done)
		event_base_loopexit(R.base, NULL);
}

static void
on_server_done(void *arg)
{
	srv_done = true;
	maybe_exit();
}

static void
on_sched_done(void *arg)
{
	sched_done = true;
	maybe_exit();
}

static void
on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	log_info(NULL, "stop timeout: deliveries in flight will be retried");
	event_base_loopexit(R.base, NULL);
}

static void
on_stop(void *arg)
{
	if (R.stopping)
		return;
	R.stopping = true;
	log_info(NULL, "stopping: no new messages");
	stop_timer = ev_timer_once(R.base, (long)R.cfg.stop_timeout * 1000,
	    on_stop_timeout, NULL);
	smtp_server_shutdown(R.srv, on_server_done, NULL);
	sched_stop(R.sched, on_sched_done, NULL);
}

static void
on_usr1(evutil_socket_t fd, short what, void *arg)
{
	if (!R.stopping)
		sched_flush(R.sched);
}

static void
on_reload(evutil_socket_t fd, short what, void *arg)
{
	char err[256];
	bool changed = false;

	if (users_reload_if_changed(&R.users, R.repo, &changed, err,
	    sizeof(err)) != 0)
		log_err(NULL, "users: reload failed: %s (keeping %s)", err,
		    users_version(R.users));
	else if (changed)
		log_info(NULL, "users: now %zu users at %.12s",
		    users_count(R.users), users_version(R.users));
}

/* Forwarding: users, SRS secrets, the reload timer. */
static void
forwarding_init(void)
{
	struct conf_repo_opts ro;
	struct timeval tv = { (time_t)R.cfg.reload_interval, 0 };
	char err[512];

	if (R.cfg.domains[0] == '\0')
		return;
	if (R.cfg.srs_domain[0] == '\0') {
		const char *p = R.cfg.domains + strspn(R.cfg.domains, " \t,");

		free(R.cfg.srs_domain);
		R.cfg.srs_domain = xstrdup(p);
		R.cfg.srs_domain[strcspn(R.cfg.srs_domain, " \t,")] = '\0';
	}
	memset(&ro, 0, sizeof(ro));
	ro.url = R.cfg.config_repo;
	ro.branch = R.cfg.branch;
	if (conf_repo_open(&R.repo, &ro, err, sizeof(err)) != 0)
		fatal("%s", err);
	if (users_load(&R.users, R.repo, NULL, err, sizeof(err)) != 0)
		fatal("users: %s", err);
	R.srs_keys = xcalloc(1, sizeof(*R.srs_keys));
	if (srs_keyfile_load(R.srs_keys, R.cfg.srs_secret, true, err,
	    sizeof(err)) != 0)
		fatal("%s", err);
	R.srs = xcalloc(1, sizeof(*R.srs));
	R.srs->secrets = R.srs_keys->sec;
	R.srs->nsecrets = R.srs_keys->n;
	R.srs->alg = SRS_HMAC_SHA1;
	R.srs->max_age = (unsigned)R.cfg.srs_max_age;
	R.reload_ev = event_new(R.base, -1, EV_PERSIST, on_reload, NULL);
	event_add(R.reload_ev, &tv);
	log_info(NULL, "forwarding for %s: %zu users at %.12s, SRS as "
	    "@%s (%zu secrets)", R.cfg.domains, users_count(R.users),
	    users_version(R.users), R.cfg.srs_domain, R.srs_keys->n);
}

static void
on_recover(const struct q_env *env, void *arg)
{
	log_info(env->id, "recovered from=<%s>, nrcpt=%zu", env->sender,
	    env->nrcpt);
	sched_add(R.sched, env);
}

/* Started as root: the queue belongs to the user the sandbox drops to. */
static void
chown_queue(const char *dir, const char *user)
{
	static const char *const subs[] = { "", "tmp", "msg", "env", "bad" };
	struct passwd *pw;

	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(user ? user : "nobody")) == NULL)
		fatal("no user %s", user ? user : "nobody");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char path[4096];
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if (chown(path, pw->pw_uid, pw->pw_gid) != 0)
			fatal("chown %s: %s", path, strerror(errno));
		if (i == 0 || (d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (fchownat(dirfd(d), de->d_name, pw->pw_uid,
			    pw->pw_gid, AT_SYMLINK_NOFOLLOW) != 0)
				log_warn(NULL, "chown %s/%s: %s", path,
				    de->d_name, strerror(errno));
		}
		closedir(d);
	}
}

static void
write_pid(const char *path)
{
	char line[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd < 0)
		fatal("pid file %s: %s", path, strerror(errno));
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (write(fd, line, (size_t)n) != n)
		fatal("pid file %s: %s", path, strerror(errno));
	close(fd);
}

static void
enter_sandbox(void)
{
	const char *ro[7];
	const char *rw[3];
	uint16_t ports[4];
	size_t nro = 0, nrw = 0, np = 0;
	char err[512];
	const char *pid = relay_pid_file(&R.cfg);

	ro[nro++] = R.cfg.cert;
	ro[nro++] = R.cfg.key;
	ro[nro++] = R.cfg.ca;
	if (R.cfg.dns.config_file[0] != '\0')
		ro[nro++] = R.cfg.dns.config_file;
	if (R.repo != NULL)
		ro[nro++] = R.cfg.config_repo;
	ro[nro] = NULL;
	rw[nrw++] = R.cfg.queue_dir;
	if (R.cfg.pid_file[0] != '\0')
		rw[nrw++] = pid;
	rw[nrw] = NULL;
	ports[np++] = (uint16_t)R.cfg.remote_port;
	ports[np++] = resolver_cfg_port(&R.cfg.dns);
	ports[np] = 0;
	static const uint16_t none[] = { 0 };
	struct sandbox sb = {
		.name = "ptt-relay",
		.ro_paths = ro,
		.rw_paths = rw,
		.bind_ports = none,
		.connect_ports = ports,
		.groups = SB_FS_READ | SB_FS_WRITE | SB_NET_CONNECT |
		    SB_NET_LISTEN,
		.user = R.cfg.user,
		.debug = R.cfg.sandbox_debug,
	};
	if (sandbox_enter(&sb, err, sizeof(err)) != 0)
		fatal("%s", err);
	log_info(NULL, "sandbox entered (connect ports %u, %u)", ports[0],
	    ports[1]);
}

int
main(int argc, char **argv)
{
	enum { O_DEFAULTS = 256, O_NO_SANDBOX, O_CHECK };
	static const struct option longopts[] = {
		{ "defaults", no_argument, NULL, O_DEFAULTS },
		{ "check", no_argument, NULL, O_CHECK },
		{ "no-sandbox", no_argument, NULL, O_NO_SANDBOX },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL;
	char **sets = xcalloc((size_t)argc + 1, sizeof(char *));
	size_t nsets = 0;
	bool defaults = false, no_sandbox = false, verbose = false;
	bool check = false;
	char err[512];
	int ch, fd;

	log_init("ptt-relay");
	if (param_defaults(relay_params, &R.cfg, err, sizeof(err)) != 0)
		panic("%s", err);
	while ((ch = getopt_long(argc, argv, "+c:o:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 'o': sets[nsets++] = optarg; break;
		case 'v': verbose = true; break;
		case O_DEFAULTS: defaults = true; break;
		case O_CHECK: check = true; break;
		case O_NO_SANDBOX: no_sandbox = true; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (defaults) {
		param_print(relay_params, &R.cfg, stdout, true);
		return 0;
	}
	if (conf != NULL && param_load(relay_params, &R.cfg, conf, "relay",
	    err, sizeof(err)) != 0)
		fatal("%s", err);
	for (size_t i = 0; i < nsets; i++) {
		char *eq = strchr(sets[i], '=');

		if (eq == NULL)
			fatal("-o %s: expected name=value", sets[i]);
		*eq = '\0';
		if (param_set(relay_params, &R.cfg, sets[i], eq + 1, err,
		    sizeof(err)) != 0)
			fatal("-o %s: %s", sets[i], err);
		*eq = '=';
	}
	free(sets);
	if (check) {
		printf("ptt-relay: [relay] of %s checks\n", conf ? conf :
		    "(no file)");
		param_free(relay_params, &R.cfg);
		return 0;
	}
	if (verbose)
		log_set_level(LOG_LVL_DEBUG);
	if (no_sandbox)
		R.cfg.sandbox = false;
	if (argc > 0) {
		if (strcmp(argv[0], "queue") != 0)
			usage();
		return relay_queue_cmd(&R.cfg, argc - 1, argv + 1);
	}
	if (R.cfg.cert == NULL || R.cfg.key == NULL || R.cfg.ca == NULL)
		fatal("cert, key and ca are required: the internal listener "
		    "accepts only mutually authenticated TLS");
	if (R.cfg.retry_max < R.cfg.retry_min)
		fatal("retry_max is less than retry_min");

	R.base = ev_base_new();
	struct tls_opts so = { R.cfg.cert, R.cfg.key, R.cfg.ca, true };
	if ((R.srv_ctx = tls_server_ctx(&so, err, sizeof(err))) == NULL)
		fatal("%s", err);
	struct tls_opts co = { NULL, NULL, NULL, false };
	if ((R.cli_ctx = tls_client_ctx(&co, err, sizeof(err))) == NULL)
		fatal("%s", err);
	if ((R.q = queue_open(R.cfg.queue_dir, err, sizeof(err))) == NULL)
		fatal("%s", err);
	queue_set_base(R.q, R.base);

	struct resolver_opts ro;
	resolver_opts_from_cfg(&ro, &R.cfg.dns, R.cfg.ca);
	const char *rerr = NULL;
	if ((R.res = resolver_unbound_new(R.base, &ro, &rerr)) == NULL)
		fatal("resolver: %s", rerr);

	forwarding_init();
	R.sched = sched_new(&R);
	int n = queue_recover(R.q, on_recover, NULL);
	if (n < 0)
		fatal("queue recovery failed: %s", ptt_strerror(n));
	log_info(NULL, "queue %s: %d messages", R.cfg.queue_dir, n);

	if ((fd = net_listen(R.cfg.listen, err, sizeof(err))) < 0)
		fatal("%s", err);
	R.srv = relay_server_new(&R);
	if (smtp_server_listen(R.srv, fd, R.cfg.implicit_tls) != 0)
		fatal("cannot listen on %s", R.cfg.listen);
	log_info(NULL, "listening on %s (%s, clients: %s)", R.cfg.listen,
	    R.cfg.implicit_tls ? "implicit TLS" : "STARTTLS",
	    R.cfg.allowed_peers);

	write_pid(relay_pid_file(&R.cfg));
	ev_on_signals(R.base, on_stop, NULL, NULL);
	struct event *usr1 = evsignal_new(R.base, SIGUSR1, on_usr1, NULL);
	event_add(usr1, NULL);
	if (R.cfg.sandbox && R.repo != NULL &&
	    conf_url_is_remote(R.cfg.config_repo))
		fatal("sandbox: a remote configuration repository needs the "
		    "network; use a local clone or --no-sandbox");
	if (R.cfg.sandbox) {
		chown_queue(R.cfg.queue_dir, R.cfg.user);
		enter_sandbox();
	}

	event_base_dispatch(R.base);

	log_info(NULL, "stopped");
	unlink(relay_pid_file(&R.cfg));
	event_free(usr1);
	if (stop_timer != NULL)
		event_free(stop_timer);
	ev_free_signals();
	smtp_server_free(R.srv);
	sched_free(R.sched);
	if (R.reload_ev != NULL)
		event_free(R.reload_ev);
	users_free(R.users);
	conf_repo_close(R.repo);
	if (R.srs_keys != NULL)
		srs_keyfile_free(R.srs_keys);
	free(R.srs_keys);
	free(R.srs);
	resolver_free(R.res);
	queue_close(R.q);
	SSL_CTX_free(R.srv_ctx);
	SSL_CTX_free(R.cli_ctx);
	event_base_free(R.base);
	param_free(relay_params, &R.cfg);
	return 0;
}
