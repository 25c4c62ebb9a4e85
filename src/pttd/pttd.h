/*
 * pttd.h - the supervisor's shared state: services, their instances
 * (processes), health, logs, deploys. See main.c for the whole picture.
 *
 * Ownership: everything hangs off the one struct pttd (main.c) and is
 * freed by pttd_free at exit; an instance is freed when its process has
 * been reaped and its output pipe is closed.
 */
#ifndef PTT_PTTD_PTTD_H
#define PTT_PTTD_PTTD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "conf/repo.h"
#include "pttd/config.h"
#include "util/log.h"

#define SVC_MAX 8
#define SVC_LISTEN_MAX 4
#define SVC_WATCH_MAX 2		/* files watched per service (watch.c) */
#define RING_LINES 200		/* log lines kept in memory per service */
#define DEPLOYS_MAX 20		/* deploys remembered for the page */

enum hstyle { HS_SMTP, HS_DNS, HS_NONE };

/* What pttd knows about a kind of service (svc.c). */
struct svc_kind {
	const char *name;	/* [section] and service name */
	const char *bin;	/* executable */
	const char *subdir;	/* its directory in a build tree (src/...) */
	const char *listen[SVC_LISTEN_MAX];	/* listen parameters */
	const char *listen_def[SVC_LISTEN_MAX];	/* their defaults */
	const char *tls_param;	/* bool parameter: listener 0 is implicit TLS */
	bool tls_def;		/* its default */
	bool tls_listen[SVC_LISTEN_MAX];	/* fixed implicit-TLS listeners */
	enum hstyle health;
	bool exclusive;		/* owns state: never two instances at once */
	bool own_sockets;	/* binds its listeners itself (Unbound):
				 * pttd only checks them */
	bool udp;		/* each listener is a UDP socket too (DNS) */
	const char *queue_param;	/* relay: the queue directory parameter */
	/* Parameters naming files the service loads at start and again on
	 * SIGHUP (its public certificate and key, which ptt-acme renews):
	 * pttd starts it only once they all exist and sends SIGHUP when they
	 * changed (watch.c). */
	const char *watch[SVC_WATCH_MAX];
};

/* What identifies a version of a file (watch.c). */
struct fstamp {
	bool exists;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
};

struct watch {
	char path[512];		/* empty: the parameter is not set */
	struct fstamp told;	/* as loaded by the instances (start, SIGHUP) */
	struct fstamp seen;	/* at the previous look */
};

struct listener {
	char addr[128];
	int fd;			/* pttd's copy, passed to every instance */
	int ufd;		/* the UDP socket of kind->udp, or -1 */
	bool tls;		/* implicit TLS (else plain/STARTTLS) */
};

struct service;

struct inst {
	struct service *svc;
	pid_t pid;			/* 0 once reaped */
	int status;			/* wait status once reaped */
	char commit[CONF_COMMIT_HEX];	/* configuration it runs */
	char source[CONF_COMMIT_HEX];	/* source commit built (source.c);
					 * empty: pttd's own binaries */
	time_t started;
	struct event *out;		/* its stdout+stderr pipe */
	int outfd;
	char part[1024];		/* a line not yet complete */
	size_t partlen;
	bool term_sent;			/* SIGTERM sent: draining */
	bool ready;			/* said it is listening */
	struct event *kill_timer;	/* SIGKILL when draining too long */
	char last_line[256];
	struct inst *next;		/* all instances (struct pttd) */
};

/* SS_WAITING: not started, a watched file is missing (watch.c). */
enum svc_state { SS_STOPPED, SS_STARTING, SS_RUNNING, SS_RESTARTING,
	SS_WAITING };

struct counters {
	unsigned long long accepted, rejected, deferred, bounced, delivered;
};

struct service {
	const struct svc_kind *kind;
	struct pttd *d;
	struct listener ls[SVC_LISTEN_MAX];
	size_t nls;
	char *section;			/* its section + global part, as read */
	char commit[CONF_COMMIT_HEX];	/* configuration of cur */
	/* The build it starts (source.c): the build tree's root and the
	 * source commit; empty: pttd's own binaries (svc_exe_path). */
	char src_root[1024];
	char source[CONF_COMMIT_HEX];
	char *queue_dir;		/* relay */
	struct inst *cur;		/* the serving instance, or NULL */
	enum svc_state state;
	unsigned restarts, crashes;	/* total; in a row */
	time_t last_exit;
	char last_exit_why[256];
	struct event *restart_ev;
	struct event *health_ev;
	struct hcheck *hc;		/* the check under way */
	bool health_ok;
	bool health_known;
	unsigned health_fails;		/* in a row */
	char health_msg[256];
	time_t health_at;
	bool rolling;			/* a deploy is replacing cur */
	struct watch watch[SVC_WATCH_MAX];	/* kind->watch's files */
	struct event *watch_ev;		/* looks at them (watch.c) */
	char waiting[600];		/* SS_WAITING: why */
	/* logs */
	char *ring[RING_LINES];
	unsigned long long nlines;	/* lines ever seen (ring index) */
	int logfd;
	unsigned long long logsize;
	struct counters c;
};

struct deploy {
	time_t at;
	char kind[8];		/* config, source */
	char commit[CONF_COMMIT_HEX];
	char outcome[16];	/* checking, rolling, deployed, rejected, failed */
	char detail[1024];
};

struct pttd {
	struct event_base *base;
	struct pttd_config cfg;
	const char *config_url, *state, *ssh_key, *host_key;
	struct conf_repo *repo;
	char commit[CONF_COMMIT_HEX];	/* configuration deployed */
	char seen[CONF_COMMIT_HEX];	/* last head looked at */
	char self_dir[1024];		/* directory of the pttd executable */
	struct service svc[SVC_MAX];
	size_t nsvc;
	struct inst *insts;
	SSL_CTX *tls;			/* health checks: pttd.internal */
	SSL_CTX *tls_public;		/* health checks of public listeners */
	char domain[256];		/* ptt.conf's domain (SOA checks) */
	char tls_err[256];
	time_t started;
	bool stopping;
	struct event *poll_ev;
	struct deploy deploys[DEPLOYS_MAX];
	size_t ndeploys;
	struct rollout *ro;		/* the deploy under way */
	struct evhttp *http;
	char *token;
	/* The source build every service runs once a source deploy went
	 * through (empty: pttd's own binaries); see source.c. */
	char src_root[1024];
	char source[CONF_COMMIT_HEX];
	struct source *src;		/* following source_repo, or NULL */
	char src_seen[CONF_COMMIT_HEX];	/* commit last tried, restored */
	char statedir_pttd[1024];
};

/* svc.c */
const struct svc_kind *svc_kind_find(const char *name);
/* Read a service's section of a ptt.conf text: listeners, queue dir,
 * the text it depends on. 0 or -1 with err. */
int svc_configure(struct service *s, const char *conf, size_t len,
    char *err, size_t errlen);
/* The text of conf a service depends on (global part and its section);
 * a deploy rolls a service over when it changed. Caller frees. */
char *svc_section_text(const struct svc_kind *k, const char *conf,
    size_t len);
/* Open the listeners that are not open yet (keeping those with the same
 * address). 0 or -1 with err. */
int svc_open_listeners(struct service *s, char *err, size_t errlen);
/* Start an instance with the configuration file of commit. NULL with err. */
struct inst *svc_spawn(struct service *s, const char *commit, char *err,
    size_t errlen);
/* SIGTERM an instance (it finishes its sessions); SIGKILL after stop_timeout. */
void inst_stop(struct inst *in);
/* A process exited (from main.c's SIGCHLD handler). */
void svc_reaped(struct pttd *d, pid_t pid, int status);
/* Start a service's current instance now. */
void svc_start(struct service *s);
/* The state shown: stopped, starting, healthy, unhealthy, restarting,
 * waiting (for its certificate). */
const char *svc_state_name(const struct service *s);
/* Path of the ptt.conf copy of a commit in the state directory. */
void svc_conf_path(struct pttd *d, const char *commit, char *out, size_t len);
/* Path of an executable (kind's bin, or "ptt"): in the deployed source
 * build when there is one, else bin_dir, next to pttd or the build tree
 * around it. */
void svc_exe_path(struct pttd *d, const char *bin, const char *subdir,
    char *out, size_t len);
/* Append a line of a service's output (svc.c; also used for pttd's own
 * notes about the service). */
void svc_log_line(struct service *s, const char *line);
void svc_free(struct service *s);
/* Set up a service's timers (before its first start). */
void svc_init_events(struct service *s);

/* watch.c: the files named by kind->watch */
/* The watched file that does not exist, or NULL when all do. */
const char *watch_missing(const struct service *s);
/* The value of kind->watch[i] in the section just read (svc_configure;
 * empty: not set). A path that changed is looked at anew. */
void watch_set(struct service *s, size_t i, const char *path);
/* Do not start the service: missing does not exist (SS_WAITING). */
void watch_wait(struct service *s, const char *missing);
/* An instance is about to load the files: remember their versions (when
 * no other instance runs, which would hold older ones). */
void watch_loaded(struct service *s);
/* Look at the files every health_interval: start a waiting service once
 * they exist, SIGHUP the running instances once they changed. */
void watch_start(struct service *s);
void watch_stop(struct service *s);

/* health.c */
typedef void (*health_cb)(struct service *s, bool ok, const char *msg,
    void *arg);
/* Check a service once through its first listener; cb is called exactly
 * once (also on timeout). Only one check per service at a time. */
void health_check(struct service *s, health_cb cb, void *arg);
void health_cancel(struct service *s);
/* The periodic checks: schedule the next one. */
void health_schedule(struct service *s, long ms);

/* deploy.c */
/* Look at the configuration repository's head; roll over when it moved. */
void deploy_poll(struct pttd *d);
void deploy_record(struct pttd *d, const char *commit, const char *outcome,
    const char *fmt, ...) PTT_PRINTF(4, 5);
/* Write the ptt.conf of commit into the state directory; 0 or -1. */
int deploy_write_conf(struct pttd *d, const char *commit, char **text,
    size_t *len, char *err, size_t errlen);
/* Roll every service over to the executables of a source build (root:
 * its build tree, laid out like this one) exactly as a configuration
 * deploy does; recorded as a deploy of kind "source". 0 when started,
 * -1 when another deploy is under way (try again later). */
int deploy_source(struct pttd *d, const char *source, const char *root);
void deploy_record_source(struct pttd *d, const char *source,
    const char *outcome, const char *fmt, ...) PTT_PRINTF(4, 5);
/* pttd stops: drop the deploy under way (its instances are stopped). */
void deploy_stop(struct pttd *d);
/* An instance exited: the rollout may be waiting for it. */
void deploy_inst_exited(struct pttd *d, struct inst *in);

/* source.c: following the ptt source repository (source_repo) */
/* Start following it when configured (after the services started). */
void source_start(struct pttd *d);
/* Before the services start: the build deployed before pttd restarted
 * (its state file), when it is still there. */
void source_restore(struct pttd *d);
/* Remember the build deployed and the commit last tried (state file). */
void source_save(struct pttd *d);
/* Look at the branch now (SIGHUP). */
void source_poll(struct pttd *d);
/* A child exited: true when it was a build step. */
bool source_reaped(struct pttd *d, pid_t pid, int status);
/* pttd stops: kill the step under way. */
void source_stop(struct pttd *d);
void source_free(struct pttd *d);
/* For the status page: state (idle, fetching, cloning, building,
 * testing, waiting), the commit built, the log file, the last error. */
void source_status(struct pttd *d, const char **state, const char **building,
    const char **log, const char **error);

/* http.c */
int http_start(struct pttd *d, char *err, size_t errlen);
void http_stop(struct pttd *d);

/* queue size and oldest age of the relay's queue (http.c) */
void queue_stats(const char *dir, long *count, long *oldest);

#endif
