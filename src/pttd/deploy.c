/*
 * deploy.c - zero-downtime redeploy on a new commit of the configuration
 * repository (polled every poll_interval; SIGHUP looks at once).
 *
 * A new head is first validated by `ptt check COMMIT` (the same code users
 * run; its output is kept and shown when it fails). Then each service
 * whose part of ptt.conf changed (the global part or its [section]) is
 * rolled over, one at a time, in the order of `services`:
 *
 *  - a new instance starts beside the old one with the same listening
 *    sockets (both accept from the same kernel queue);
 *  - once it says it is listening, the old instance is paused (SIGSTOP)
 *    for the length of one health check, so the check's connection can
 *    only be accepted by the new one; the old one resumes right after;
 *  - healthy: the old instance gets SIGTERM and finishes its sessions;
 *    unhealthy or exited: the new one is killed, the old one keeps
 *    serving, and the deploy is recorded as failed with the reason.
 *
 * The relay owns the queue directory (one process at a time, see
 * queue.h), so it is rolled over by stopping the old instance first and
 * then starting the new one; pttd keeps the listening socket open
 * meanwhile, so connections wait in its backlog instead of being refused.
 * If the new relay fails, one with the previous configuration is started.
 * A service waiting for its certificate (watch.c) only takes the new
 * configuration, to start with once the certificate exists.
 *
 * A source deploy (source.c built and tested a new commit of the ptt
 * source) goes through the same steps for every service, with the
 * configuration unchanged and the executables of the new build: a
 * service that fails keeps (or, for the relay, restarts with) its
 * previous build, and the services rolled over before it are rolled back
 * to the build every service ran, so the deploy is all or nothing.
 *
 * Trusts: the repository's contents only after `ptt check` passed them;
 * the services' own parsers check their sections again.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/global.h"
#include "conf/state.h"
#include "pttd/pttd.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/proc.h"

enum phase { P_WAIT_OLD_EXIT, P_WAIT_READY, P_CHECK };

struct rollout {
	struct pttd *d;
	char commit[CONF_COMMIT_HEX];
	size_t order[SVC_MAX], n, pos;
	struct service *s;
	struct inst *cand, *old;
	char prev[CONF_COMMIT_HEX];
	enum phase phase;
	struct event *timer;
	time_t phase_at;
	size_t rolled;
	char names[256];
	/* A source deploy: the build, and the one of the service rolled. */
	bool source;
	char src[CONF_COMMIT_HEX];
	char src_root[1024];
	char prev_src[CONF_COMMIT_HEX];
	char prev_root[1024];
	bool rollback;		/* undoing a failed source deploy */
};

static int start_source(struct pttd *d, const char *source, const char *root,
    bool rollback);

/* What a deploy is known by: the configuration or the source commit. */
static const char *
ro_id(const struct rollout *ro)
{
	return ro->source ? ro->src : ro->commit;
}

static void
record(struct pttd *d, const char *kind, const char *commit,
    const char *outcome, const char *fmt, va_list ap) PTT_PRINTF(5, 0);

static void
record(struct pttd *d, const char *kind, const char *commit,
    const char *outcome, const char *fmt, va_list ap)
{
	struct deploy *dp;

	if (d->ndeploys == DEPLOYS_MAX)
		d->ndeploys--;
	memmove(&d->deploys[1], &d->deploys[0],
	    d->ndeploys * sizeof(d->deploys[0]));
	d->ndeploys++;
	dp = &d->deploys[0];
	memset(dp, 0, sizeof(*dp));
	dp->at = time(NULL);
	ptt_strlcpy(dp->commit, commit, sizeof(dp->commit));
	ptt_strlcpy(dp->outcome, outcome, sizeof(dp->outcome));
	ptt_strlcpy(dp->kind, kind, sizeof(dp->kind));
	vsnprintf(dp->detail, sizeof(dp->detail), fmt, ap);
	log_info(NULL, "deploy %s %.12s: %s: %s", kind, commit, outcome,
	    dp->detail);
}

void
deploy_record(struct pttd *d, const char *commit, const char *outcome,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(d, "config", commit, outcome, fmt, ap);
	va_end(ap);
}

void
deploy_record_source(struct pttd *d, const char *source, const char *outcome,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(d, "source", source, outcome, fmt, ap);
	va_end(ap);
}

/* Record under the rollout's kind. */
static void
ro_record(struct rollout *ro, const char *outcome, const char *fmt, ...)
    PTT_PRINTF(3, 4);

static void
ro_record(struct rollout *ro, const char *outcome, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(ro->d, ro->source ? "source" : "config", ro_id(ro), outcome,
	    fmt, ap);
	va_end(ap);
}

int
deploy_write_conf(struct pttd *d, const char *commit, char **text,
    size_t *len, char *err, size_t errlen)
{
	char path[1200];
	int r;

	if ((r = conf_repo_read(d->repo, commit, CONF_FILE, CONF_FILE_MAX,
	    text, len)) != 0) {
		snprintf(err, errlen, "%.12s: cannot read %s", commit, CONF_FILE);
		return -1;
	}
	svc_conf_path(d, commit, path, sizeof(path));
	if (access(path, R_OK) == 0)
		return 0;
	if (atomic_write_file(path, *text, *len, 0644, err, errlen) != 0) {
		free(*text);
		*text = NULL;
		return -1;
	}
	return 0;
}

/* `ptt check COMMIT`: 0 when it passed; its output in out. */
static int
run_check(struct pttd *d, const char *commit, struct buf *out)
{
	char exe[1200];
	const char *av[16];
	int n = 0;

	if (d->cfg.ptt != NULL && d->cfg.ptt[0] != '\0')
		ptt_strlcpy(exe, d->cfg.ptt, sizeof(exe));
	else
		svc_exe_path(d, "ptt", "ptt", exe, sizeof(exe));
	av[n++] = exe;
	av[n++] = "--config";
	av[n++] = d->config_url;
	av[n++] = "--state";
	av[n++] = d->state;
	if (d->ssh_key != NULL) {
		av[n++] = "--ssh-key";
		av[n++] = d->ssh_key;
	}
	if (d->host_key != NULL) {
		av[n++] = "--host-key";
		av[n++] = d->host_key;
	}
	av[n++] = "check";
	av[n++] = commit;
	av[n] = NULL;
	return proc_run_capture((char *const *)av, out, 4000) == 0 ? 0 : -1;
}

static void roll_next(struct rollout *ro);

static void
rollout_free(struct rollout *ro)
{
	if (ro->s != NULL)
		ro->s->rolling = false;
	if (ro->timer != NULL)
		event_free(ro->timer);
	ro->d->ro = NULL;
	free(ro);
}

/* Put a service's listeners and section back to commit's. */
static void
restore_config(struct rollout *ro, struct service *s, const char *commit)
{
	char *text = NULL, err[512];
	size_t len = 0;

	if (deploy_write_conf(ro->d, commit, &text, &len, err, sizeof(err)) == 0) {
		(void)svc_configure(s, text, len, err, sizeof(err));
		free(text);
	}
}

static void
rollout_fail(struct rollout *ro, const char *fmt, ...) PTT_PRINTF(2, 3);

static void
rollout_fail(struct rollout *ro, const char *fmt, ...)
{
	struct pttd *d = ro->d;
	struct service *s = ro->s;
	char why[600], note[800];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	health_cancel(s);
	if (ro->cand != NULL && ro->cand->pid > 0) {
		ro->cand->term_sent = true;
		kill(ro->cand->pid, SIGKILL);
	}
	if (ro->cand != NULL && s->cur == ro->cand)
		s->cur = NULL;
	restore_config(ro, s, ro->prev);
	if (ro->source) {
		ptt_strlcpy(s->src_root, ro->prev_root, sizeof(s->src_root));
		ptt_strlcpy(s->source, ro->prev_src, sizeof(s->source));
	}
	if (ro->old != NULL && ro->old->pid > 0) {
		kill(ro->old->pid, SIGCONT);	/* it keeps serving */
	} else if (s->cur == NULL && !d->stopping) {
		/* The relay (stopped first): back to the previous configuration. */
		ptt_strlcpy(s->commit, ro->prev, sizeof(s->commit));
		svc_start(s);
	}
	snprintf(note, sizeof(note), "pttd: %s deploy %.12s refused: %s",
	    ro->source ? "source" : "config", ro_id(ro), why);
	svc_log_line(s, note);
	bool back = ro->source && !ro->rollback && ro->rolled > 0 &&
	    !d->stopping;
	ro_record(ro, "failed", "%s: %s (%zu of %zu services rolled over "
	    "before%s; %s keeps running %.12s)", s->kind->name, why, ro->rolled,
	    ro->n, back ? ", rolled back" : "", s->kind->name, ro->source ?
	    (ro->prev_src[0] ? ro->prev_src : "pttd's own build") : ro->prev);
	rollout_free(ro);
	/* A source deploy is all or nothing: the services rolled over go
	 * back to the build every service ran (the same rollout again). */
	if (back) {
		char src[CONF_COMMIT_HEX], root[sizeof(d->src_root)];
		ptt_strlcpy(src, d->source, sizeof(src));
		ptt_strlcpy(root, d->src_root, sizeof(root));
		(void)start_source(d, src, root, true);
	}
}

static void
on_checked(struct service *s, bool ok, const char *msg, void *arg)
{
	struct rollout *ro = arg;
	char note[600];

	if (!ok) {
		rollout_fail(ro, "the new instance failed its health check: %s%s%s",
		    msg, ro->cand->last_line[0] ? "; its last line: " : "",
		    ro->cand->last_line);
		return;
	}
	if (ro->old != NULL && ro->old->pid > 0)
		inst_stop(ro->old);	/* SIGTERM, SIGCONT: it drains */
	s->cur = ro->cand;
	ptt_strlcpy(s->commit, ro->commit, sizeof(s->commit));
	s->state = SS_RUNNING;
	s->health_ok = true;
	s->health_known = true;
	s->health_fails = 0;
	s->health_at = time(NULL);
	ptt_strlcpy(s->health_msg, msg, sizeof(s->health_msg));
	snprintf(note, sizeof(note), "pttd: pid %ld serves config %.12s%s%.12s "
	    "(healthy: %s)%s", (long)ro->cand->pid, ro->commit,
	    s->source[0] ? ", source " : "", s->source, msg,
	    ro->old ? "; the old instance drains" : "");
	svc_log_line(s, note);
	health_schedule(s, (long)s->d->cfg.health_interval * 1000);
	ro->rolled++;
	s->rolling = false;
	ro->s = NULL;
	ro->cand = ro->old = NULL;
	ro->pos++;
	roll_next(ro);
}

static void
on_phase_timer(evutil_socket_t fd, short what, void *arg)
{
	struct rollout *ro = arg;
	struct timeval tv = { 0, 100 * 1000 };
	time_t now = time(NULL);

	if (ro->phase != P_WAIT_READY)
		return;
	if (ro->cand->ready || now - ro->phase_at >= 2) {
		ro->phase = P_CHECK;
		/* Only the new instance may accept the check's connection. */
		if (ro->old != NULL && ro->old->pid > 0)
			kill(ro->old->pid, SIGSTOP);
		health_check(ro->s, on_checked, ro);
		return;
	}
	if (now - ro->phase_at > ro->d->cfg.ready_timeout) {
		rollout_fail(ro, "the new instance did not start listening within "
		    "%llds", ro->d->cfg.ready_timeout);
		return;
	}
	evtimer_add(ro->timer, &tv);
}

static void
start_candidate(struct rollout *ro)
{
	struct timeval tv = { 0, 100 * 1000 };
	char err[512];

	ro->cand = svc_spawn(ro->s, ro->commit, err, sizeof(err));
	if (ro->cand == NULL) {
		rollout_fail(ro, "cannot start the new instance: %s", err);
		return;
	}
	if (ro->old == NULL) {
		/* Nothing else serves: it is the current instance already. */
		ro->s->cur = ro->cand;
		ro->s->state = SS_STARTING;
	}
	ro->phase = P_WAIT_READY;
	ro->phase_at = time(NULL);
	evtimer_add(ro->timer, &tv);
}

void
deploy_inst_exited(struct pttd *d, struct inst *in)
{
	struct rollout *ro = d->ro;

	if (ro == NULL || ro->s != in->svc)
		return;
	if (in == ro->old && ro->phase == P_WAIT_OLD_EXIT) {
		ro->old = NULL;
		ro->s->cur = NULL;
		start_candidate(ro);
		return;
	}
	if (in == ro->old) {
		ro->old = NULL;	/* crashed meanwhile: the new one takes over */
		if (ro->s->cur == in)
			ro->s->cur = NULL;
		return;
	}
	if (in == ro->cand) {
		char why[128];
		if (WIFEXITED(in->status))
			snprintf(why, sizeof(why), "exited with status %d",
			    WEXITSTATUS(in->status));
		else
			snprintf(why, sizeof(why), "killed by signal %d",
			    WTERMSIG(in->status));
		in->pid = 0;
		if (ro->phase == P_CHECK)
			health_cancel(ro->s);
		if (ro->s->cur == in)
			ro->s->cur = NULL;
		struct inst *cand = ro->cand;
		ro->cand = NULL;
		/* rollout_fail reads the line through a copy. */
		char last[256];
		ptt_strlcpy(last, cand->last_line, sizeof(last));
		rollout_fail(ro, "the new instance %s%s%s", why,
		    last[0] ? ": " : "", last);
	}
}

void
deploy_stop(struct pttd *d)
{
	if (d->ro != NULL)
		rollout_free(d->ro);
}

static void
roll_next(struct rollout *ro)
{
	struct pttd *d = ro->d;
	char *text = NULL, err[512], note[800];
	const char *missing;
	size_t len = 0;

	if (ro->pos == ro->n) {
		if (ro->source && !ro->rollback) {
			ptt_strlcpy(d->source, ro->src, sizeof(d->source));
			ptt_strlcpy(d->src_root, ro->src_root,
			    sizeof(d->src_root));
			source_save(d);
		} else if (!ro->source) {
			ptt_strlcpy(d->commit, ro->commit, sizeof(d->commit));
		}
		if (ro->rollback)
			ro_record(ro, "deployed", "rolled back after the failed "
			    "deploy: %s%s%s", ro->names, ro->src_root[0] ?
			    "; running " : "; running pttd's own build",
			    ro->src_root);
		else
			ro_record(ro, "deployed", "rolled over: %s%s%s", ro->names,
			    ro->source ? "; now running " : "", ro->source ?
			    ro->src_root : "");
		rollout_free(ro);
		return;
	}
	ro->s = &d->svc[ro->order[ro->pos]];
	ro->s->rolling = true;
	if (ro->source)	/* each service keeps its configuration */
		ptt_strlcpy(ro->commit, ro->s->commit, sizeof(ro->commit));
	ptt_strlcpy(ro->prev, ro->s->commit, sizeof(ro->prev));
	if (ro->source) {
		ptt_strlcpy(ro->prev_root, ro->s->src_root, sizeof(ro->prev_root));
		ptt_strlcpy(ro->prev_src, ro->s->source, sizeof(ro->prev_src));
		ptt_strlcpy(ro->s->src_root, ro->src_root,
		    sizeof(ro->s->src_root));
		ptt_strlcpy(ro->s->source, ro->src, sizeof(ro->s->source));
	}
	health_cancel(ro->s);
	if (deploy_write_conf(d, ro->commit, &text, &len, err, sizeof(err)) != 0 ||
	    svc_configure(ro->s, text, len, err, sizeof(err)) != 0) {
		free(text);
		rollout_fail(ro, "%s", err);
		return;
	}
	free(text);
	ro->old = ro->s->cur;
	if (ro->old == NULL && (missing = watch_missing(ro->s)) != NULL) {
		/* Nothing runs and its certificate is not there yet: it will
		 * start with this configuration once it is (watch.c). */
		if (ro->s->state == SS_RESTARTING)
			evtimer_del(ro->s->restart_ev);
		ptt_strlcpy(ro->s->commit, ro->commit, sizeof(ro->s->commit));
		watch_wait(ro->s, missing);
		snprintf(note, sizeof(note), "pttd: config %.12s applies once "
		    "certificate %s exists", ro->commit, missing);
		svc_log_line(ro->s, note);
		ro->rolled++;
		ro->s->rolling = false;
		ro->s = NULL;
		ro->pos++;
		roll_next(ro);
		return;
	}
	if (ro->old != NULL && ro->s->kind->exclusive) {
		ro->phase = P_WAIT_OLD_EXIT;
		ro->phase_at = time(NULL);
		inst_stop(ro->old);
		return;
	}
	if (ro->old == NULL && ro->s->state == SS_RESTARTING)
		evtimer_del(ro->s->restart_ev);
	start_candidate(ro);
}

void
deploy_poll(struct pttd *d)
{
	char head[CONF_COMMIT_HEX], err[512];
	struct buf out;
	char *text = NULL;
	size_t len = 0;
	struct rollout *ro;

	if (d->ro != NULL || d->stopping)
		return;
	if (conf_repo_fetch(d->repo, err, sizeof(err)) != 0) {
		log_warn(NULL, "config: fetch: %s", err);
		return;
	}
	if (conf_repo_head(d->repo, head) != 0 || strcmp(head, d->seen) == 0)
		return;
	ptt_strlcpy(d->seen, head, sizeof(d->seen));
	buf_init(&out, 8192);
	if (run_check(d, head, &out) != 0) {
		deploy_record(d, head, "rejected", "ptt check: %s", out.data);
		buf_free(&out);
		return;
	}
	buf_free(&out);
	if (deploy_write_conf(d, head, &text, &len, err, sizeof(err)) != 0) {
		deploy_record(d, head, "rejected", "%s", err);
		return;
	}
	{
		struct conf_global g;
		if (conf_global_load(d->repo, head, &g, err, sizeof(err)) == 0) {
			ptt_strlcpy(d->domain, g.domain, sizeof(d->domain));
			conf_global_free(&g);
		}
	}
	ro = xcalloc(1, sizeof(*ro));
	ro->d = d;
	ptt_strlcpy(ro->commit, head, sizeof(ro->commit));
	for (size_t i = 0; i < d->nsvc; i++) {
		char *t = svc_section_text(d->svc[i].kind, text, len);
		if (d->svc[i].section == NULL || strcmp(t, d->svc[i].section) != 0) {
			ro->order[ro->n++] = i;
			if (ro->names[0])
				ptt_strlcat(ro->names, " ", sizeof(ro->names));
			ptt_strlcat(ro->names, d->svc[i].kind->name,
			    sizeof(ro->names));
		}
		free(t);
	}
	free(text);
	if (ro->n == 0) {
		ptt_strlcpy(d->commit, head, sizeof(d->commit));
		for (size_t i = 0; i < d->nsvc; i++)
			ptt_strlcpy(d->svc[i].commit, head, sizeof(d->svc[i].commit));
		deploy_record(d, head, "deployed", "no service's configuration "
		    "changed");
		free(ro);
		return;
	}
	ro->timer = evtimer_new(d->base, on_phase_timer, ro);
	d->ro = ro;
	log_info(NULL, "deploy %.12s: rolling over %s", head, ro->names);
	roll_next(ro);
}

int
deploy_source(struct pttd *d, const char *source, const char *root)
{
	return start_source(d, source, root, false);
}

static int
start_source(struct pttd *d, const char *source, const char *root,
    bool rollback)
{
	struct rollout *ro;

	if (d->ro != NULL || d->stopping)
		return -1;
	ro = xcalloc(1, sizeof(*ro));
	ro->d = d;
	ro->source = true;
	ro->rollback = rollback;
	/* The configuration stays the deployed one. */
	ptt_strlcpy(ro->commit, d->commit, sizeof(ro->commit));
	ptt_strlcpy(ro->src, source, sizeof(ro->src));
	ptt_strlcpy(ro->src_root, root, sizeof(ro->src_root));
	for (size_t i = 0; i < d->nsvc; i++) {
		/* A rollback: only the services on another build. */
		if (rollback && strcmp(d->svc[i].src_root, root) == 0)
			continue;
		ro->order[ro->n++] = i;
		if (ro->names[0])
			ptt_strlcat(ro->names, " ", sizeof(ro->names));
		ptt_strlcat(ro->names, d->svc[i].kind->name, sizeof(ro->names));
	}
	if (ro->n == 0) {
		if (!rollback) {
			ptt_strlcpy(d->source, source, sizeof(d->source));
			ptt_strlcpy(d->src_root, root, sizeof(d->src_root));
			source_save(d);
			deploy_record_source(d, source, "deployed", "no service "
			    "runs; now %s", root);
		}
		free(ro);
		return 0;
	}
	ro->timer = evtimer_new(d->base, on_phase_timer, ro);
	d->ro = ro;
	log_info(NULL, "source deploy %.12s: rolling over %s to %s", source,
	    ro->names, root);
	roll_next(ro);
	return 0;
}
