/*
 * cmd_up.c - `ptt up` (pttd in the foreground), `ptt status` and `ptt logs
 * SERVICE [-f]`: the terminal's view of pttd's status page, read from the
 * same JSON API (/api/status, /api/logs; src/pttd/http.c) over HTTP/1.0
 * (RFC 1945) on the address of ptt.conf's [pttd] status parameter.
 *
 * Trusts: pttd's answers go through jansson's parser; nothing else from
 * the network is read.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "conf/global.h"
#include "conf/state.h"
#include "ptt/cmd.h"
#include "pttd/config.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/net.h"

#define HTTP_MAX (4 * 1024 * 1024)

int
cmd_up(const struct ptt_ctx *ctx, int argc, char **argv)
{
	char exe[PATH_MAX + 32];
	char **av = xcalloc((size_t)argc + 12, sizeof(*av));
	int n = 0;

	ptt_exe(NULL, "pttd", "pttd", exe, sizeof(exe));
	if (access(exe, X_OK) != 0)
		ptt_strlcpy(exe, "pttd", sizeof(exe));	/* on the PATH */
	av[n++] = exe;
	av[n++] = "--config";
	av[n++] = (char *)ctx->config;
	av[n++] = "--state";
	av[n++] = (char *)ctx->state;
	if (ctx->ssh_key != NULL) {
		av[n++] = "--ssh-key";
		av[n++] = (char *)ctx->ssh_key;
	}
	if (ctx->host_key != NULL) {
		av[n++] = "--host-key";
		av[n++] = (char *)ctx->host_key;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") != 0 || i + 1 == argc) {
			free(av);
			return PTT_EXIT_USAGE;
		}
		av[n++] = argv[i++];
		av[n++] = argv[i];
	}
	av[n] = NULL;
	if (strchr(exe, '/') != NULL)
		execv(exe, av);
	else
		execvp(exe, av);
	say("up: cannot run %s: %s", exe, strerror(errno));
	free(av);
	return PTT_EXIT_FAIL;
}

/* ---- the API client ---- */

struct api {
	char addr[300];		/* host:port to connect to */
	char *token;		/* NULL on loopback */
};

static int
api_open(const struct ptt_ctx *ctx, const char *url, const char *token,
    struct api *a)
{
	struct pttd_config cfg;
	struct conf_repo *r = NULL;
	char err[512];
	int ret;

	memset(a, 0, sizeof(*a));
	memset(&cfg, 0, sizeof(cfg));
	if (url != NULL) {
		if (strncmp(url, "http://", 7) == 0)
			url += 7;
		ptt_strlcpy(a->addr, url, sizeof(a->addr));
		a->addr[strcspn(a->addr, "/")] = '\0';
	} else {
		if ((ret = ctx_open_repo(ctx, &r)) != 0)
			return ret;
		if (conf_params_load(r, NULL, pttd_params, &cfg, "pttd", err,
		    sizeof(err)) != 0) {
			say("%s", err);
			conf_repo_close(r);
			return PTT_EXIT_FAIL;
		}
		conf_repo_close(r);
		if (cfg.status == NULL || cfg.status[0] == '\0') {
			say("pttd has no status address ([pttd] status is empty)");
			param_free(pttd_params, &cfg);
			return PTT_EXIT_FAIL;
		}
		ptt_strlcpy(a->addr, cfg.status, sizeof(a->addr));
	}
	bool loopback = pttd_is_loopback(a->addr);
	/* A wildcard listener is reached on loopback. */
	if (strncmp(a->addr, "0.0.0.0:", 8) == 0 || strncmp(a->addr, "*:", 2) == 0) {
		char port[32];
		ptt_strlcpy(port, strrchr(a->addr, ':') + 1, sizeof(port));
		snprintf(a->addr, sizeof(a->addr), "127.0.0.1:%s", port);
	}
	if (token != NULL) {
		a->token = xstrdup(token);
	} else if (cfg.token != NULL && cfg.token[0] != '\0') {
		a->token = xstrdup(cfg.token);
	} else if (!loopback) {
		char *data = NULL;
		size_t len = 0;
		if (state_read_secret(ctx->state, PTTD_TOKEN_FILE, &data,
		    &len, err, sizeof(err)) == 0) {
			data[strcspn(data, "\r\n")] = '\0';
			a->token = xstrdup(data);
			state_free_secret(data, len);
		} else {
			say("status token: %s", err);
		}
	}
	param_free(pttd_params, &cfg);
	return 0;
}

/* GET path; the JSON body on 200, else NULL with the reason printed. */
static json_t *
api_get(const struct api *a, const char *path)
{
	char err[512];
	struct buf b;
	json_t *j;
	json_error_t je;
	int fd;

	if ((fd = net_connect_wait(a->addr, 5000, err, sizeof(err))) < 0) {
		say("pttd at %s: %s (is it running? ptt up)", a->addr, err);
		return NULL;
	}
	buf_init(&b, HTTP_MAX);
	buf_addf(&b, "GET %s HTTP/1.0\r\nHost: %s\r\n", path, a->addr);
	if (a->token != NULL)
		buf_addf(&b, "Authorization: Bearer %s\r\n", a->token);
	buf_adds(&b, "\r\n");
	/* net_connect_wait gives a non-blocking socket: wait in poll. */
	size_t off = 0;
	while (off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			usleep(1000);
			continue;
		}
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	buf_reset(&b);
	for (int idle = 0; idle < 10000;) {
		char *p = buf_reserve(&b, 16384);
		ssize_t r;
		if (p == NULL)
			break;
		r = read(fd, p, 16384);
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			usleep(1000);
			idle++;
			continue;
		}
		if (r <= 0)
			break;
		buf_commit(&b, (size_t)r);
	}
	close(fd);
	char *body = strstr(b.data, "\r\n\r\n");
	if (strncmp(b.data, "HTTP/1.", 7) != 0 || body == NULL) {
		say("pttd at %s: not an HTTP answer", a->addr);
		buf_free(&b);
		return NULL;
	}
	if (strncmp(b.data + 8, " 200", 4) != 0) {
		say("pttd at %s: %.*s%s", a->addr, (int)strcspn(b.data, "\r\n"),
		    b.data, strncmp(b.data + 8, " 401", 4) == 0 ?
		    " (the status token is in the state directory: pttd/token)" :
		    "");
		buf_free(&b);
		return NULL;
	}
	j = json_loads(body + 4, 0, &je);
	if (j == NULL)
		say("pttd at %s: bad JSON: %s", a->addr, je.text);
	buf_free(&b);
	return j;
}

static const char *
dur(long long s, char *buf, size_t len)
{
	if (s < 0)
		ptt_strlcpy(buf, "-", len);
	else if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	return buf;
}

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static long long
jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* pttd's /api/status (url and token as api_open takes them), or NULL with
 * the exit status in *ret and the reason printed. */
static json_t *
status_get(const struct ptt_ctx *ctx, const char *url, const char *token,
    int *ret)
{
	struct api a;
	json_t *j;

	if ((*ret = api_open(ctx, url, token, &a)) != 0)
		return NULL;
	j = api_get(&a, "/api/status");
	free(a.token);
	*ret = j == NULL ? PTT_EXIT_FAIL : PTT_EXIT_OK;
	return j;
}

int
pttd_service_pid(const struct ptt_ctx *ctx, const char *name, long *pid)
{
	json_t *j, *v;
	size_t i;
	int ret;

	*pid = 0;
	if ((j = status_get(ctx, NULL, NULL, &ret)) == NULL)
		return ret;
	json_array_foreach(json_object_get(j, "services"), i, v)
		if (strcmp(jstr(v, "name"), name) == 0)
			*pid = (long)jint(v, "pid");
	json_decref(j);
	if (*pid <= 0) {
		say("pttd runs no %s process now (ptt status)", name);
		return PTT_EXIT_FAIL;
	}
	return PTT_EXIT_OK;
}

int
cmd_status(const struct ptt_ctx *ctx, int argc, char **argv)
{
	const char *url = NULL, *token = NULL;
	json_t *j, *v;
	size_t i;
	char d1[32];
	int ret;

	for (int k = 1; k < argc; k++) {
		bool missing = false;
		const char *u = opt_value(argc, argv, &k, "--url", &missing), *t;
		if (u != NULL && !missing) {
			url = u;
			continue;
		}
		t = opt_value(argc, argv, &k, "--token", &missing);
		if (t == NULL || missing)
			return PTT_EXIT_USAGE;
		token = t;
	}
	if ((j = status_get(ctx, url, token, &ret)) == NULL)
		return ret;
	printf("pttd %s, config %.12s, up %s%s\n", jstr(j, "version"),
	    jstr(j, "config"), dur(jint(j, "uptime"), d1, sizeof(d1)),
	    strcmp(jstr(j, "deploying"), "yes") == 0 ? ", deploying" : "");
	printf("%-11s %-11s %7s %8s %8s  %s\n", "SERVICE", "STATE", "PID",
	    "UPTIME", "RESTARTS", "HEALTH");
	int bad = 0;
	json_array_foreach(json_object_get(j, "services"), i, v) {
		printf("%-11s %-11s %7lld %8s %8lld  %s\n", jstr(v, "name"),
		    jstr(v, "state"), jint(v, "pid"),
		    dur(jint(v, "pid") ? jint(v, "uptime") : -1, d1, sizeof(d1)),
		    jint(v, "restarts"), jstr(v, "health_msg"));
		bad |= strcmp(jstr(v, "state"), "healthy") != 0;
	}
	printf("\n%-11s %9s %9s %9s %9s %9s\n", "MESSAGES", "accepted",
	    "rejected", "deferred", "bounced", "delivered");
	json_array_foreach(json_object_get(j, "services"), i, v) {
		json_t *m = json_object_get(v, "messages");
		printf("%-11s %9lld %9lld %9lld %9lld %9lld\n", jstr(v, "name"),
		    jint(m, "accepted"), jint(m, "rejected"), jint(m, "deferred"),
		    jint(m, "bounced"), jint(m, "delivered"));
	}
	if ((v = json_object_get(j, "queue")) != NULL && json_is_object(v)) {
		if (jint(v, "size") < 0)
			printf("\nqueue %s: unreadable\n", jstr(v, "dir"));
		else
			printf("\nqueue: %lld message%s%s%s\n", jint(v, "size"),
			    jint(v, "size") == 1 ? "" : "s",
			    jint(v, "size") > 0 ? ", oldest " : "",
			    jint(v, "size") > 0 ? dur(jint(v, "oldest_age"), d1,
			    sizeof(d1)) : "");
	}
	printf("\nDEPLOYS\n");
	json_array_foreach(json_object_get(j, "deploys"), i, v) {
		char when[32];
		time_t t = (time_t)jint(v, "at");
		struct tm tm;
		if (i == 5)
			break;
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
		    localtime_r(&t, &tm));
		printf("%s %.12s %-9s %s\n", when, jstr(v, "commit"),
		    jstr(v, "outcome"), jstr(v, "detail"));
	}
	json_decref(j);
	return bad ? PTT_EXIT_FAIL : PTT_EXIT_OK;
}

int
cmd_logs(const struct ptt_ctx *ctx, int argc, char **argv)
{
	const char *svc = NULL, *url = NULL, *token = NULL;
	bool follow = false;
	long long next = -1;
	struct api a;
	int ret;

	for (int k = 1; k < argc; k++) {
		bool missing = false;
		const char *u;
		if (strcmp(argv[k], "-f") == 0 || strcmp(argv[k], "--follow") == 0)
			follow = true;
		else if ((u = opt_value(argc, argv, &k, "--url", &missing)) != NULL)
			url = u;
		else if (!missing &&
		    (u = opt_value(argc, argv, &k, "--token", &missing)) != NULL)
			token = u;
		else if (missing || argv[k][0] == '-' || svc != NULL)
			return PTT_EXIT_USAGE;
		else
			svc = argv[k];
	}
	if (svc == NULL || strspn(svc, "abcdefghijklmnopqrstuvwxyz") !=
	    strlen(svc))
		return PTT_EXIT_USAGE;
	if ((ret = api_open(ctx, url, token, &a)) != 0)
		return ret;
	for (;;) {
		char path[200];
		json_t *j, *l;
		size_t i;
		if (next < 0)
			snprintf(path, sizeof(path), "/api/logs?service=%s", svc);
		else
			snprintf(path, sizeof(path), "/api/logs?service=%s&since=%lld",
			    svc, next);
		if ((j = api_get(&a, path)) == NULL) {
			free(a.token);
			return PTT_EXIT_FAIL;
		}
		json_array_foreach(json_object_get(j, "lines"), i, l)
			printf("%s\n", json_string_value(l));
		fflush(stdout);
		next = jint(j, "next");
		json_decref(j);
		if (!follow)
			break;
		sleep(1);
	}
	free(a.token);
	return PTT_EXIT_OK;
}
