/*
 * watch.c - the files a service loads at start and again on SIGHUP, as
 * named by its kind's `watch` parameters: the public certificate and key
 * of mx and submission, which ptt-acme obtains and renews in the state
 * directory (certs/NAME.pem and NAME.key, each written to a temporary
 * file and renamed). Under pttd no service writes a pid file for
 * ptt-acme to signal, so pttd does it.
 *
 * Every health_interval pttd stats them (device, inode, mtime, size):
 *  - a service with a file that does not exist is not started: it is
 *    "waiting for certificate PATH" (not a crash, no restart counted)
 *    and starts at the first look that finds every file;
 *  - once a file changed and all exist, every instance of the running
 *    service gets SIGHUP and reloads them (tls_server_reload: new
 *    handshakes get the new certificate, sessions keep theirs). The
 *    certificate and the key are renamed one after the other, so pttd
 *    signals only when all of them changed, or when none changed since
 *    the previous look: an instance never loads the new certificate with
 *    the old key. Instances are signalled only while the service is
 *    steady (passed a health check, no deploy replacing it), when their
 *    SIGHUP handler is in place; a change meanwhile is acted on after.
 *
 * Trusts: the paths of ptt.conf (checked by `ptt check`); pttd only
 * stats the files, the services read them.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pttd/pttd.h"
#include "util/mem.h"

static void
stamp(const char *path, struct fstamp *f)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	if (path[0] == '\0' || stat(path, &st) != 0)
		return;
	f->exists = true;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->mtime = st.st_mtim;
	f->size = st.st_size;
}

static bool
same(const struct fstamp *a, const struct fstamp *b)
{
	return a->exists == b->exists && a->dev == b->dev &&
	    a->ino == b->ino && a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec && a->size == b->size;
}

const char *
watch_missing(const struct service *s)
{
	for (size_t i = 0; i < SVC_WATCH_MAX; i++) {
		struct stat st;
		const char *p = s->watch[i].path;
		if (p[0] != '\0' && stat(p, &st) != 0)
			return p;
	}
	return NULL;
}

void
watch_set(struct service *s, size_t i, const char *path)
{
	struct watch *w = &s->watch[i];

	if (strcmp(w->path, path) == 0)
		return;
	ptt_strlcpy(w->path, path, sizeof(w->path));
	stamp(w->path, &w->told);
	w->seen = w->told;
}

void
watch_loaded(struct service *s)
{
	/* Beside a running instance (a deploy), the versions it loaded
	 * stay what a change is measured against. */
	if (s->cur != NULL && s->cur->pid > 0)
		return;
	for (size_t i = 0; i < SVC_WATCH_MAX; i++) {
		stamp(s->watch[i].path, &s->watch[i].told);
		s->watch[i].seen = s->watch[i].told;
	}
}

void
watch_wait(struct service *s, const char *missing)
{
	char note[700];

	if (s->state == SS_WAITING && strcmp(s->waiting, missing) == 0)
		return;
	s->state = SS_WAITING;
	s->health_known = false;
	s->health_ok = false;
	snprintf(s->waiting, sizeof(s->waiting), "waiting for certificate %s",
	    missing);
	ptt_strlcpy(s->health_msg, s->waiting, sizeof(s->health_msg));
	snprintf(note, sizeof(note), "pttd: %s: not started", s->waiting);
	svc_log_line(s, note);
	log_info(s->kind->name, "%s: not started", s->waiting);
}

static void
signal_all(struct service *s, const char *changed)
{
	char note[700];

	for (struct inst *in = s->d->insts; in != NULL; in = in->next) {
		if (in->svc != s || in->pid <= 0)
			continue;
		kill(in->pid, SIGHUP);
		snprintf(note, sizeof(note), "pttd: certificate %s changed, "
		    "SIGHUP to pid %ld", changed, (long)in->pid);
		svc_log_line(s, note);
		log_info(s->kind->name, "certificate %s changed, SIGHUP to pid "
		    "%ld", changed, (long)in->pid);
	}
}

static void
on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct service *s = arg;
	struct fstamp now[SVC_WATCH_MAX];
	const char *missing = NULL, *changed = NULL;
	bool all = true, steady = true;
	size_t n = 0;

	if (s->d->stopping)
		return;
	for (size_t i = 0; i < SVC_WATCH_MAX; i++) {
		struct watch *w = &s->watch[i];
		if (w->path[0] == '\0')
			continue;
		n++;
		stamp(w->path, &now[i]);
		if (!now[i].exists && missing == NULL)
			missing = w->path;
		if (same(&now[i], &w->told))
			all = false;
		else if (changed == NULL)
			changed = w->path;
		if (!same(&now[i], &w->seen))
			steady = false;
		w->seen = now[i];
	}
	if (n == 0)
		return;
	if (s->state == SS_WAITING) {
		if (missing != NULL) {
			watch_wait(s, missing);	/* another file now, perhaps */
		} else if (!s->rolling) {
			char note[128];
			snprintf(note, sizeof(note), "pttd: certificate files "
			    "present: starting");
			svc_log_line(s, note);
			log_info(s->kind->name, "certificate files present: "
			    "starting");
			svc_start(s);
		}
		return;
	}
	if (missing != NULL || changed == NULL || (!all && !steady) ||
	    s->rolling || s->state != SS_RUNNING)
		return;
	for (size_t i = 0; i < SVC_WATCH_MAX; i++)
		if (s->watch[i].path[0] != '\0')
			s->watch[i].told = now[i];
	signal_all(s, changed);
}

void
watch_start(struct service *s)
{
	struct timeval tv = { (time_t)s->d->cfg.health_interval, 0 };

	if (s->kind->watch[0] == NULL)
		return;
	if (s->watch_ev == NULL)
		s->watch_ev = event_new(s->d->base, -1, EV_PERSIST, on_watch, s);
	event_add(s->watch_ev, &tv);
}

void
watch_stop(struct service *s)
{
	if (s->watch_ev != NULL)
		event_del(s->watch_ev);
}
