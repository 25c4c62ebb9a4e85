/*
 * http.c - pttd's status page, JSON API and Prometheus metrics (libevent
 * evhttp, HTTP/1.1 RFC 9112; Prometheus text exposition format 0.0.4).
 *
 *	/		the page (page.html, built in): plain HTML, CSS and a
 *			little JavaScript that reads /api/status every second
 *	/api/status	JSON: services, queue, deploys (also `ptt status`)
 *	/api/logs?service=NAME&since=N	JSON: the log lines after line N
 *			(also `ptt logs [-f]`)
 *	/metrics	Prometheus text format
 *
 * Off loopback every request needs the token: "Authorization: Bearer T",
 * or ?token=T (the page passes its own on to the API).
 *
 * Trusts: nothing in requests (only the path, one query parameter and the
 * token header are read; the token is compared in constant time).
 */
#include <dirent.h>
#include <sys/queue.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "pttd/page.h"
#include "pttd/pttd.h"
#include "pttd/version.h"
#include "util/mem.h"
#include "util/net.h"

#define QUEUE_DEFAULT "/var/lib/ptt/queue"

void
queue_stats(const char *dir, long *count, long *oldest)
{
	char path[1200];
	DIR *dp;
	struct dirent *de;
	time_t now = time(NULL), first = 0;

	*count = 0;
	*oldest = 0;
	snprintf(path, sizeof(path), "%s/env", dir);
	if ((dp = opendir(path)) == NULL) {
		*count = -1;
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(dp), de->d_name, &st, 0) != 0)
			continue;
		(*count)++;
		if (first == 0 || st.st_mtime < first)
			first = st.st_mtime;
	}
	closedir(dp);
	if (first != 0)
		*oldest = now - first > 0 ? (long)(now - first) : 0;
}

static const char *
relay_queue_dir(struct pttd *d)
{
	for (size_t i = 0; i < d->nsvc; i++)
		if (d->svc[i].kind->queue_param != NULL)
			return d->svc[i].queue_dir ? d->svc[i].queue_dir :
			    QUEUE_DEFAULT;
	return NULL;
}

static bool
authorized(struct pttd *d, struct evhttp_request *req)
{
	const char *h, *given = NULL;
	struct evkeyvalq q;
	bool ok;

	if (d->token == NULL)
		return true;
	h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (h != NULL && strncmp(h, "Bearer ", 7) == 0)
		given = h + 7;
	TAILQ_INIT(&q);
	if (given == NULL) {
		const char *qs = evhttp_uri_get_query(
		    evhttp_request_get_evhttp_uri(req));
		if (qs != NULL && evhttp_parse_query_str(qs, &q) == 0)
			given = evhttp_find_header(&q, "token");
	}
	ok = given != NULL && strlen(given) == strlen(d->token) &&
	    CRYPTO_memcmp(given, d->token, strlen(given)) == 0;
	evhttp_clear_headers(&q);
	return ok;
}

static void
reply(struct evhttp_request *req, int code, const char *type,
    struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Content-Security-Policy", "default-src 'self'; "
	    "style-src 'self' 'unsafe-inline'; script-src 'self' "
	    "'unsafe-inline'; frame-ancestors 'none'");
	evhttp_send_reply(req, code, code == 200 ? "OK" : code == 404 ?
	    "Not Found" : code == 401 ? "Unauthorized" : "Error", body);
}

static void
reply_json(struct evhttp_request *req, json_t *j)
{
	struct evbuffer *b = evbuffer_new();
	char *s = json_dumps(j, JSON_COMPACT);

	evbuffer_add(b, s, strlen(s));
	free(s);
	json_decref(j);
	reply(req, 200, "application/json", b);
	evbuffer_free(b);
}

static json_t *
service_json(struct pttd *d, struct service *s, size_t nlog)
{
	time_t now = time(NULL);
	json_t *log = json_array(), *ls = json_array();
	unsigned long long first = s->nlines > nlog ? s->nlines - nlog : 0;

	if (s->nlines > RING_LINES && first < s->nlines - RING_LINES)
		first = s->nlines - RING_LINES;
	for (unsigned long long i = first; i < s->nlines; i++)
		json_array_append_new(log, json_string(s->ring[i % RING_LINES]));
	for (size_t i = 0; i < s->nls; i++)
		json_array_append_new(ls, json_string(s->ls[i].addr));
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:s, s:s, "
	    "s:I, s:s, s:I, s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:o}",
	    "name", s->kind->name,
	    "state", svc_state_name(s),
	    "waiting", s->state == SS_WAITING ? s->waiting : "",
	    "pid", (json_int_t)(s->cur ? s->cur->pid : 0),
	    "version", s->cur != NULL && s->cur->source[0] ? s->cur->source :
		PTTD_VERSION,
	    "config", s->commit,
	    "uptime", (json_int_t)(s->cur && s->state != SS_RESTARTING ?
		now - s->cur->started : 0),
	    "restarts", (json_int_t)s->restarts,
	    "health", !s->health_known ? "unknown" : s->health_ok ? "ok" :
		"failing",
	    "health_msg", s->health_msg,
	    "health_age", (json_int_t)(s->health_at ? now - s->health_at : -1),
	    "last_exit", s->last_exit_why,
	    "lines", (json_int_t)s->nlines,
	    "rolling", s->rolling ? "yes" : "no",
	    "listen", ls,
	    "messages",
	    "accepted", (json_int_t)s->c.accepted,
	    "rejected", (json_int_t)s->c.rejected,
	    "deferred", (json_int_t)s->c.deferred,
	    "bounced", (json_int_t)s->c.bounced,
	    "delivered", (json_int_t)s->c.delivered,
	    "log", log);
}

static void
api_status(struct pttd *d, struct evhttp_request *req)
{
	json_t *svcs = json_array(), *deps = json_array(), *q, *src;
	const char *qd = relay_queue_dir(d);

	for (size_t i = 0; i < d->nsvc; i++)
		json_array_append_new(svcs, service_json(d, &d->svc[i], 8));
	for (size_t i = 0; i < d->ndeploys; i++) {
		const struct deploy *dp = &d->deploys[i];
		json_array_append_new(deps, json_pack("{s:I, s:s, s:s, s:s, s:s}",
		    "at", (json_int_t)dp->at, "kind", dp->kind[0] ? dp->kind :
			"config", "commit", dp->commit,
		    "outcome", dp->outcome, "detail", dp->detail));
	}
	if (qd != NULL) {
		long n, oldest;
		queue_stats(qd, &n, &oldest);
		q = json_pack("{s:s, s:I, s:I}", "dir", qd, "size", (json_int_t)n,
		    "oldest_age", (json_int_t)oldest);
	} else {
		q = json_null();
	}
	{
		const char *st, *building, *log, *error;
		source_status(d, &st, &building, &log, &error);
		src = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		    "repo", d->cfg.source_repo ? d->cfg.source_repo : "",
		    "branch", d->cfg.source_branch ? d->cfg.source_branch : "",
		    "commit", d->source, "state", st, "building", building,
		    "log", log, "error", error);
	}
	reply_json(req, json_pack("{s:s, s:I, s:I, s:s, s:s, s:o, s:o, s:o, s:o}",
	    "version", PTTD_VERSION,
	    "now", (json_int_t)time(NULL),
	    "uptime", (json_int_t)(time(NULL) - d->started),
	    "config", d->commit,
	    "deploying", d->ro != NULL ? "yes" : "no",
	    "services", svcs, "queue", q, "deploys", deps, "source", src));
}

static void
api_logs(struct pttd *d, struct evhttp_request *req)
{
	struct evkeyvalq q;
	const char *qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	const char *name, *since;
	struct service *s = NULL;
	unsigned long long from = 0;
	json_t *lines;

	TAILQ_INIT(&q);
	if (qs == NULL || evhttp_parse_query_str(qs, &q) != 0 ||
	    (name = evhttp_find_header(&q, "service")) == NULL) {
		evhttp_clear_headers(&q);
		evhttp_send_error(req, 400, "service= is required");
		return;
	}
	for (size_t i = 0; i < d->nsvc; i++)
		if (strcmp(d->svc[i].kind->name, name) == 0)
			s = &d->svc[i];
	if (s == NULL) {
		evhttp_clear_headers(&q);
		evhttp_send_error(req, 404, "no such service");
		return;
	}
	if ((since = evhttp_find_header(&q, "since")) != NULL)
		from = strtoull(since, NULL, 10);
	else
		from = s->nlines > 50 ? s->nlines - 50 : 0;
	evhttp_clear_headers(&q);
	if (s->nlines > RING_LINES && from < s->nlines - RING_LINES)
		from = s->nlines - RING_LINES;
	lines = json_array();
	for (unsigned long long i = from; i < s->nlines; i++)
		json_array_append_new(lines, json_string(s->ring[i % RING_LINES]));
	reply_json(req, json_pack("{s:s, s:I, s:o}", "service", s->kind->name,
	    "next", (json_int_t)s->nlines, "lines", lines));
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void
label_value(struct evbuffer *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

static void
metrics(struct pttd *d, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	static const char *const outc[] = { "accepted", "rejected", "deferred",
		"bounced", "delivered" };
	time_t now = time(NULL);
	const char *qd = relay_queue_dir(d);

	evbuffer_add_printf(b, "# HELP ptt_service_up 1 when the service runs "
	    "and passed its last health check.\n# TYPE ptt_service_up gauge\n");
	for (size_t i = 0; i < d->nsvc; i++)
		evbuffer_add_printf(b, "ptt_service_up{service=\"%s\"} %d\n",
		    d->svc[i].kind->name, d->svc[i].state == SS_RUNNING &&
		    d->svc[i].health_ok);
	evbuffer_add_printf(b, "# HELP ptt_service_waiting 1 when the service "
	    "is not started, waiting for a file (reason).\n"
	    "# TYPE ptt_service_waiting gauge\n");
	for (size_t i = 0; i < d->nsvc; i++) {
		const struct service *s = &d->svc[i];
		bool w = s->state == SS_WAITING;
		evbuffer_add_printf(b, "ptt_service_waiting{service=\"%s\",reason=\"",
		    s->kind->name);
		label_value(b, w ? s->waiting : "");
		evbuffer_add_printf(b, "\"} %d\n", w);
	}
	evbuffer_add_printf(b, "# HELP ptt_service_restarts_total Restarts "
	    "after a crash.\n# TYPE ptt_service_restarts_total counter\n");
	for (size_t i = 0; i < d->nsvc; i++)
		evbuffer_add_printf(b, "ptt_service_restarts_total{service=\"%s\"} "
		    "%u\n", d->svc[i].kind->name, d->svc[i].restarts);
	evbuffer_add_printf(b, "# HELP ptt_service_uptime_seconds Age of the "
	    "serving instance.\n# TYPE ptt_service_uptime_seconds gauge\n");
	for (size_t i = 0; i < d->nsvc; i++)
		evbuffer_add_printf(b, "ptt_service_uptime_seconds{service=\"%s\"} "
		    "%lld\n", d->svc[i].kind->name, d->svc[i].cur ?
		    (long long)(now - d->svc[i].cur->started) : 0LL);
	evbuffer_add_printf(b, "# HELP ptt_messages_total Messages by service "
	    "and outcome, counted from the services' logs.\n"
	    "# TYPE ptt_messages_total counter\n");
	for (size_t i = 0; i < d->nsvc; i++) {
		const struct counters *c = &d->svc[i].c;
		unsigned long long v[] = { c->accepted, c->rejected, c->deferred,
			c->bounced, c->delivered };
		for (size_t k = 0; k < 5; k++)
			evbuffer_add_printf(b, "ptt_messages_total{service=\"%s\","
			    "outcome=\"%s\"} %llu\n", d->svc[i].kind->name,
			    outc[k], v[k]);
	}
	if (qd != NULL) {
		long n, oldest;
		queue_stats(qd, &n, &oldest);
		evbuffer_add_printf(b, "# HELP ptt_queue_messages Messages in the "
		    "relay's queue.\n# TYPE ptt_queue_messages gauge\n"
		    "ptt_queue_messages %ld\n# HELP ptt_queue_oldest_seconds Age "
		    "of the oldest queued message.\n# TYPE "
		    "ptt_queue_oldest_seconds gauge\nptt_queue_oldest_seconds "
		    "%ld\n", n, oldest);
	}
	{
		unsigned long dep = 0, rej = 0, fail = 0;
		for (size_t i = 0; i < d->ndeploys; i++) {
			dep += strcmp(d->deploys[i].outcome, "deployed") == 0;
			rej += strcmp(d->deploys[i].outcome, "rejected") == 0;
			fail += strcmp(d->deploys[i].outcome, "failed") == 0;
		}
		evbuffer_add_printf(b, "# HELP ptt_deploys Deploys pttd remembers, "
		    "by outcome.\n# TYPE ptt_deploys gauge\n"
		    "ptt_deploys{outcome=\"deployed\"} %lu\n"
		    "ptt_deploys{outcome=\"rejected\"} %lu\n"
		    "ptt_deploys{outcome=\"failed\"} %lu\n", dep, rej, fail);
	}
	reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b);
	evbuffer_free(b);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct pttd *d = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

	if (path == NULL)
		path = "/";
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, 405, "GET only");
		return;
	}
	if (!authorized(d, req)) {
		struct evbuffer *b = evbuffer_new();
		evbuffer_add_printf(b, "a token is required (?token= or "
		    "Authorization: Bearer)\n");
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer");
		reply(req, 401, "text/plain", b);
		evbuffer_free(b);
		return;
	}
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
		struct evbuffer *b = evbuffer_new();
		evbuffer_add(b, pttd_page, sizeof(pttd_page) - 1);
		reply(req, 200, "text/html; charset=utf-8", b);
		evbuffer_free(b);
	} else if (strcmp(path, "/api/status") == 0) {
		api_status(d, req);
	} else if (strcmp(path, "/api/logs") == 0) {
		api_logs(d, req);
	} else if (strcmp(path, "/metrics") == 0) {
		metrics(d, req);
	} else {
		evhttp_send_error(req, 404, "not found");
	}
}

int
http_start(struct pttd *d, char *err, size_t errlen)
{
	int fd;

	if (d->cfg.status == NULL || d->cfg.status[0] == '\0')
		return 0;
	if ((fd = net_listen(d->cfg.status, err, errlen)) < 0)
		return -1;
	d->http = evhttp_new(d->base);
	evhttp_set_timeout(d->http, 30);
	evhttp_set_max_headers_size(d->http, 16384);
	evhttp_set_max_body_size(d->http, 0);
	evhttp_set_allowed_methods(d->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(d->http, on_request, d);
	if (evhttp_accept_socket(d->http, fd) != 0) {
		snprintf(err, errlen, "%s: cannot serve HTTP", d->cfg.status);
		close(fd);
		return -1;
	}
	log_info(NULL, "status page on http://%s/%s", d->cfg.status,
	    d->token ? " (token required)" : "");
	return 0;
}

void
http_stop(struct pttd *d)
{
	if (d->http != NULL)
		evhttp_free(d->http);
	d->http = NULL;
}
