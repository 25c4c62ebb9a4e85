/*
 * queuecmd.c - `ptt-relay queue list|show ID|retry ID|all|delete ID`, run
 * by an administrator on the queue directory (`ptt queue` wraps it).
 *
 *   list    one block per message: id, age, size, sender, and per
 *           recipient its state, attempts, next try and last reply;
 *   show    the envelope and the message's header section;
 *   retry   next_try = 0 for the pending recipients (queue_update), then
 *           SIGUSR1 to the running relay (pid file), which rereads the
 *           envelopes and tries them now;
 *   delete  queue_remove, then SIGUSR1 so the relay forgets the message
 *           (one in flight is dropped when its attempt ends).
 * A relay that is not running picks the changes up at its next start.
 *
 * Trusts: the queue directory (its envelopes are parsed by queue.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/hdr.h"
#include "relay/relay.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"

static const char *
state_name(enum q_state st)
{
	switch (st) {
	case Q_PENDING: return "pending";
	case Q_DELIVERED: return "delivered";
	case Q_FAILED: return "failed";
	case Q_BOUNCED: return "bounced";
	}
	return "?";
}

static void
print_age(FILE *f, long long s)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		fprintf(f, "%llds", s);
	else if (s < 7200)
		fprintf(f, "%lldm", s / 60);
	else if (s < 172800)
		fprintf(f, "%lldh", s / 3600);
	else
		fprintf(f, "%lldd", s / 86400);
}

static void
list_one(const struct q_env *env, void *arg)
{
	time_t now = time(NULL);
	size_t *n = arg;

	(*n)++;
	printf("%s  ", env->id);
	print_age(stdout, (long long)(now - env->created));
	printf("  %zu  <%s>%s\n", env->size, env->sender,
	    env->require_tls ? "  require_tls" : "");
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct q_rcpt *r = &env->rcpt[i];

		printf("    <%s> %s attempts=%d", r->addr, state_name(r->state),
		    r->attempts);
		if (r->state == Q_PENDING) {
			printf(" next=");
			if (r->next_try <= now)
				printf("now");
			else
				print_age(stdout, (long long)(r->next_try - now));
		}
		if (r->reply != NULL)
			printf(" last=\"%s\"", r->reply);
		printf("\n");
	}
}

/* SIGUSR1 to the running relay, if any. */
static void
poke(const struct relay_config *cfg)
{
	const char *path = relay_pid_file(cfg);
	FILE *f = fopen(path, "r");
	long pid = 0;

	if (f != NULL) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	if (pid <= 1 || kill((pid_t)pid, SIGUSR1) != 0) {
		printf("relay not running (%s): changes apply at its next "
		    "start\n", path);
		return;
	}
	printf("relay %ld notified\n", pid);
}

static int
retry_one(struct queue *q, const char *id)
{
	struct q_env env;
	char err[256];
	int r;

	memset(&env, 0, sizeof(env));
	if ((r = queue_load(q, id, &env)) != 0) {
		fprintf(stderr, "ptt-relay: %s: %s\n", id, ptt_strerror(r));
		return r;
	}
	for (size_t i = 0; i < env.nrcpt; i++)
		if (env.rcpt[i].state == Q_PENDING)
			env.rcpt[i].next_try = 0;
	r = queue_update(q, &env, err, sizeof(err));
	if (r != 0)
		fprintf(stderr, "ptt-relay: %s: %s\n", id, err);
	q_env_free(&env);
	return r;
}

struct ids {
	char **v;
	size_t n;
};

static void
collect(const struct q_env *env, void *arg)
{
	struct ids *ids = arg;

	ids->v = xreallocarray(ids->v, ids->n + 1, sizeof(char *));
	ids->v[ids->n++] = xstrdup(env->id);
}

int
relay_queue_cmd(const struct relay_config *cfg, int argc, char **argv)
{
	struct queue *q;
	char err[512];
	int rc = 0;

	if (argc < 1 || (strcmp(argv[0], "list") != 0 && argc != 2)) {
		fprintf(stderr, "usage: ptt-relay queue list|show ID|retry "
		    "ID|all|delete ID\n");
		return 2;
	}
	if ((q = queue_open(cfg->queue_dir, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ptt-relay: %s\n", err);
		return 1;
	}
	if (strcmp(argv[0], "list") == 0) {
		size_t n = 0;

		if (queue_walk(q, list_one, &n) < 0)
			rc = 1;
		printf("%zu message%s\n", n, n == 1 ? "" : "s");
	} else if (strcmp(argv[0], "show") == 0) {
		struct q_env env;
		struct buf b;

		memset(&env, 0, sizeof(env));
		buf_init(&b, 0);
		if (queue_load(q, argv[1], &env) != 0) {
			fprintf(stderr, "ptt-relay: no message %s\n", argv[1]);
			rc = 1;
		} else {
			struct mail_hdr h;

			q_env_format(&env, &b);
			fwrite(b.data, 1, b.len, stdout);
			buf_reset(&b);
			printf("\n");
			if (queue_read_msg(q, argv[1], &b) == 0) {
				mail_hdr_parse(&h, b.data, b.len, NULL);
				fwrite(b.data, 1, h.hdr_len, stdout);
				mail_hdr_free(&h);
			}
			q_env_free(&env);
		}
		buf_free(&b);
	} else if (strcmp(argv[0], "retry") == 0) {
		if (strcmp(argv[1], "all") == 0) {
			struct ids ids = { NULL, 0 };

			queue_walk(q, collect, &ids);
			for (size_t i = 0; i < ids.n; i++) {
				if (retry_one(q, ids.v[i]) != 0)
					rc = 1;
				free(ids.v[i]);
			}
			free(ids.v);
		} else if (retry_one(q, argv[1]) != 0) {
			rc = 1;
		}
		poke(cfg);
	} else if (strcmp(argv[0], "delete") == 0) {
		int r = queue_remove(q, argv[1]);

		if (r != 0) {
			fprintf(stderr, "ptt-relay: %s: %s\n", argv[1],
			    ptt_strerror(r));
			rc = 1;
		} else {
			printf("%s deleted\n", argv[1]);
			poke(cfg);
		}
	} else {
		fprintf(stderr, "ptt-relay: unknown queue command %s\n",
		    argv[0]);
		rc = 2;
	}
	queue_close(q);
	return rc;
}
