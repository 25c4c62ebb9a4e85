/*
 * test_queue.c - the durable queue: round trips, recovery, corruption, and
 * a child storing (and updating) messages that is SIGKILLed at random
 * moments: every message it was told is stored must be there, whole,
 * afterwards, also with group commit (queue_store_async: reported only
 * from the done callback). Both layouts: stored files (envelope and message in one
 * file, env/<id>) and the first layout's bare msg/<id> + env/<id>.
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

#include "queue/queue.h"
#include "util/err.h"
#include "util/mem.h"
#include <event2/event.h>

#include "../tap.h"

static char dir[64];

static void
rm_rf(const char *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
	if (system(cmd) != 0)
		printf("# rm failed\n");
}

static void
count_cb(const struct q_env *env, void *arg)
{
	(*(int *)arg)++;
}

static int
file_exists(const char *sub, const char *id)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, id);
	return access(p, F_OK) == 0;
}

static void
write_file(const char *sub, const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	if ((f = fopen(p, "w")) != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* Group commit: what the done callbacks saw. */
struct seen {
	int n, failed, restored;
	struct queue *q;
	struct q_env *again;	/* stored from a callback, once */
	int wfd;		/* the killed child: report ids here */
	const char *body;
};

static void
seen_cb(int ret, const struct q_env *env, void *arg)
{
	struct seen *s = arg;

	s->n++;
	if (ret != 0)
		s->failed++;
	if (s->wfd >= 0 && ret == 0) {
		char line[64];
		int n = snprintf(line, sizeof(line), "%s %zu %c\n", env->id,
		    env->size, s->body[0]);
		if (write(s->wfd, line, (size_t)n) != n)
			_exit(3);
	}
	if (s->again != NULL) {	/* a callback may start the next batch */
		char err[256];
		struct q_env *e = s->again;
		s->again = NULL;
		if (queue_store_async(s->q, e, "again", 5, seen_cb, s, err,
		    sizeof(err)) == 0)
			s->restored++;
	}
}

/* The child, group commit: batches of 1 to 8 messages per loop turn,
 * each id reported only from its done callback. */
static void
storer_async(int wfd)
{
	char err[256], body[4096];
	struct queue *q = queue_open(dir, err, sizeof(err));
	struct event_base *base = event_base_new();
	struct q_env env[8];
	struct seen s;

	if (q == NULL || base == NULL)
		_exit(2);
	queue_set_base(q, base);
	memset(&s, 0, sizeof(s));
	s.q = q;
	s.wfd = wfd;
	s.body = body;
	for (unsigned i = 0;; i++) {
		int k = 1 + (int)(i % 8);
		memset(body, 'a' + (int)(i % 26), sizeof(body));
		for (int j = 0; j < k; j++) {
			memset(&env[j], 0, sizeof(env[j]));
			env[j].sender = strdup("a@example.test");
			q_env_add_rcpt(&env[j], "b@example.test");
			if (queue_store_async(q, &env[j], body, 100 + (size_t)j * 300,
			    seen_cb, &s, err, sizeof(err)) != 0)
				_exit(4);
		}
		event_base_loop(base, EVLOOP_ONCE);
		for (int j = 0; j < k; j++)
			q_env_free(&env[j]);
	}
}

/* The child: store messages forever, reporting each stored id. */
static void
storer(int wfd)
{
	char err[256], body[4096];
	struct queue *q = queue_open(dir, err, sizeof(err));
	unsigned i;

	if (q == NULL)
		_exit(2);
	for (i = 0;; i++) {
		struct q_env env;
		size_t len = 100 + (i * 37) % 3000;
		memset(&env, 0, sizeof(env));
		env.sender = strdup("a@example.test");
		q_env_add_rcpt(&env, "b@example.test");
		memset(body, 'a' + (int)(i % 26), len);
		if (queue_store(q, &env, body, len, err, sizeof(err)) == 0) {
			char line[64];
			int n = snprintf(line, sizeof(line), "%s %zu %c\n",
			    env.id, len, body[0]);
			if (write(wfd, line, (size_t)n) != n)
				_exit(3);
			/* Every other message changes state once or twice
			 * (a link to msg/, then envelope rewrites). */
			for (unsigned u = 0; u < i % 3; u++) {
				env.rcpt[0].attempts++;
				if (queue_update(q, &env, err, sizeof(err)) != 0)
					_exit(4);
			}
		}
		q_env_free(&env);
	}
}

int
main(void)
{
	struct queue *q;
	struct q_env env, got;
	struct q_rcpt *r;
	struct buf b;
	char err[256], id[QUEUE_ID_LEN + 1];
	int n;

	snprintf(dir, sizeof(dir), "/tmp/ptt-queue.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	q = queue_open(dir, err, sizeof(err));
	ok(q != NULL, "opens a queue directory: %s", q ? "" : err);

	memset(&env, 0, sizeof(env));
	env.sender = strdup("");
	env.envid = strdup("QQ 314159+x=y-z");
	env.ret = SMTP_RET_HDRS;
	env.require_tls = true;
	env.origin = strdup("submission alice");
	r = q_env_add_rcpt(&env, "\"odd local\"@example.test");
	r->notify = SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY;
	r->orcpt = strdup("rfc822;odd+20local@example.test");
	r = q_env_add_rcpt(&env, "jos\xc3\xa9@example.test");
	is_int(queue_store(q, &env, "Subject: x\r\n\r\nhello\r\n", 21, err, sizeof(err)), 0, "stores a message");
	is_int(strlen(env.id), 12, "assigns an id");
	ptt_strlcpy(id, env.id, sizeof(id));
	ok(file_exists("env", id) && !file_exists("msg", id),
	    "envelope and message are in place: one file, env/<id>");
	{
		char p[256], head[16] = "";
		FILE *f;
		snprintf(p, sizeof(p), "%s/env/%s", dir, id);
		if ((f = fopen(p, "r")) != NULL) {
			if (fgets(head, sizeof(head), f) == NULL)
				head[0] = '\0';
			fclose(f);
		}
		ok(strncmp(head, "ptt-queue 2 ", 12) == 0, "it starts with the stored-file line");
	}

	is_int(queue_load(q, id, &got), 0, "loads the envelope back");
	is_str(got.sender, "", "null sender survives");
	is_str(got.envid, "QQ 314159+x=y-z", "ENVID with spaces and xtext specials survives");
	is_int(got.ret, SMTP_RET_HDRS, "RET");
	ok(got.require_tls, "require_tls");
	is_int(got.nrcpt, 2, "two recipients");
	is_str(got.rcpt[0].addr, "\"odd local\"@example.test", "quoted local part survives");
	is_str(got.rcpt[0].orcpt, "rfc822;odd+20local@example.test", "ORCPT survives");
	is_int(got.rcpt[0].notify, SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY, "NOTIFY");
	is_str(got.rcpt[1].addr, "jos\xc3\xa9@example.test", "UTF-8 address survives");
	ok(got.rcpt[1].orcpt == NULL && got.rcpt[1].reply == NULL, "absent fields stay absent");
	is_int(got.size, 21, "size recorded");

	got.rcpt[0].state = Q_DELIVERED;
	got.rcpt[1].attempts = 3;
	got.rcpt[1].next_try = 1234567890;
	got.rcpt[1].reply = strdup("451 4.7.1 greylisted, try again\r\n in 5 min");
	got.rcpt[1].status = strdup("4.7.1");
	is_int(queue_update(q, &got, err, sizeof(err)), 0, "updates the envelope");
	q_env_free(&got);
	is_int(queue_load(q, id, &got), 0, "reloads");
	is_int(got.rcpt[0].state, Q_DELIVERED, "state persisted");
	is_int(got.rcpt[1].attempts, 3, "attempts persisted");
	is_str(got.rcpt[1].reply, "451 4.7.1 greylisted, try again\r\n in 5 min", "reply text with CRLF persisted");
	q_env_free(&got);

	buf_init(&b, 0);
	is_int(queue_read_msg(q, id, &b), 0, "reads the message");
	is_str(b.data, "Subject: x\r\n\r\nhello\r\n", "message bytes intact");
	buf_free(&b);
	ok(file_exists("msg", id), "after an update the stored file is also msg/<id>");
	is_int(queue_update(q, &env, err, sizeof(err)), 0, "a second update");
	buf_init(&b, 0);
	is_int(queue_read_msg(q, id, &b), 0, "reads the message again");
	is_str(b.data, "Subject: x\r\n\r\nhello\r\n", "still intact");
	buf_free(&b);
	q_env_free(&env);

	is_int(queue_load(q, "../../etc/passwd", &got), PTT_EINVAL, "ids are checked before use");
	is_int(queue_load(q, "NOSUCHID", &got), PTT_ENOENT, "unknown id");

	memset(&env, 0, sizeof(env));
	env.sender = strdup("a@b");
	is_int(queue_store(q, &env, "x", 1, err, sizeof(err)), PTT_EINVAL, "no recipients, no store");
	q_env_free(&env);

	/* The first layout (bare msg/<id> and env/<id>) is still read. */
	{
		struct q_env old;
		struct buf t;
		memset(&old, 0, sizeof(old));
		snprintf(old.id, sizeof(old.id), "OLDLAYOUT1");
		old.sender = strdup("a@b");
		old.created = 1;
		old.size = 12;
		q_env_add_rcpt(&old, "c@d");
		buf_init(&t, 0);
		q_env_format(&old, &t);
		write_file("env", "OLDLAYOUT1", t.data);
		write_file("msg", "OLDLAYOUT1", "Subject: o\r\n");
		buf_free(&t);
		is_int(queue_load(q, "OLDLAYOUT1", &got), 0, "an envelope of the first layout loads");
		q_env_free(&got);
		buf_init(&b, 0);
		is_int(queue_read_msg(q, "OLDLAYOUT1", &b), 0, "its bare message reads");
		is_str(b.data, "Subject: o\r\n", "whole");
		buf_free(&b);
		old.rcpt[0].attempts = 2;
		is_int(queue_update(q, &old, err, sizeof(err)), 0, "and updates");
		q_env_free(&old);
	}
	/* A stored file whose prefix line is broken. */
	write_file("env", "BADPFX1", "ptt-queue 2 x\nptt-queue 1\n");
	is_int(queue_load(q, "BADPFX1", &got), PTT_EINVAL, "a broken prefix line is refused");

	/* Recovery: orphan message, truncated envelope, missing message. */
	write_file("msg", "ORPHAN1", "never acknowledged");
	write_file("tmp", "HALF.msg", "half written");
	write_file("env", "TRUNC1", "ptt-queue 1\nid TRUNC1\ncreated 1\n");
	write_file("env", "NOMSG1", "ptt-queue 1\nid NOMSG1\ncreated 1\nsize 5\nsender a@b\nenvid -\nret 0\nrequire_tls 0\nsmtputf8 0\neightbit 0\norigin -\ndelay_notified 0\nrcpt c@d pending 0 0 0 - - - -\nend\n");
	n = 0;
	is_int(queue_recover(q, count_cb, &n), 2, "recovery finds the two good messages");
	is_int(n, 2, "callback called twice");
	ok(file_exists("bad", "BADPFX1"), "the broken stored file moved to bad/");
	is_int(queue_remove(q, "OLDLAYOUT1"), 0, "a message of the first layout is removed");
	ok(!file_exists("env", "OLDLAYOUT1") && !file_exists("msg", "OLDLAYOUT1"), "both its files");
	ok(!file_exists("msg", "ORPHAN1"), "message without envelope removed");
	ok(!file_exists("tmp", "HALF.msg"), "tmp emptied");
	ok(file_exists("bad", "TRUNC1") && !file_exists("env", "TRUNC1"), "truncated envelope moved to bad/");
	ok(file_exists("bad", "NOMSG1"), "envelope without message moved to bad/");
	ok(file_exists("env", id), "good message kept");

	is_int(queue_remove(q, id), 0, "removes a message");
	ok(!file_exists("env", id) && !file_exists("msg", id), "both files gone");
	is_int(queue_remove(q, id), PTT_ENOENT, "removing twice says not found");

	/* Group commit. */
	{
		struct event_base *base = event_base_new();
		struct q_env e[10], more;
		struct seen sn;
		int good = 0;

		memset(&sn, 0, sizeof(sn));
		sn.q = q;
		sn.wfd = -1;
		queue_set_base(q, base);
		for (int i = 0; i < 10; i++) {
			memset(&e[i], 0, sizeof(e[i]));
			e[i].sender = strdup("a@b");
			q_env_add_rcpt(&e[i], "c@d");
			if (queue_store_async(q, &e[i], "Subject: g\r\n\r\nbatch\r\n",
			    21, seen_cb, &sn, err, sizeof(err)) != 0)
				printf("# %s\n", err);
		}
		memset(&more, 0, sizeof(more));
		more.sender = strdup("a@b");
		q_env_add_rcpt(&more, "c@d");
		sn.again = &more;
		is_int(sn.n, 0, "group commit: nobody is told before the loop runs");
		ok(strlen(e[9].id) == 12 && !file_exists("env", e[0].id),
		    "ids assigned at once, nothing in env/ yet");
		event_base_loop(base, EVLOOP_ONCE);
		is_int(sn.n, 10, "one loop turn commits the whole batch");
		is_int(sn.failed, 0, "all of it durably");
		for (int i = 0; i < 10; i++) {
			buf_init(&b, 0);
			if (queue_load(q, e[i].id, &got) == 0) {
				if (queue_read_msg(q, e[i].id, &b) == 0 && b.len == 21)
					good++;
				q_env_free(&got);
			}
			buf_free(&b);
		}
		is_int(good, 10, "every message of the batch loads and reads whole");
		{
			char pth[256];
			struct stat st;
			snprintf(pth, sizeof(pth), "%s/env/%s", dir, e[0].id);
			ok(stat(pth, &st) == 0 && st.st_nlink == 10,
			    "one batch file, ten names in env/ (2 fsyncs for all)");
		}
		e[3].rcpt[0].attempts = 1;
		is_int(queue_update(q, &e[3], err, sizeof(err)), 0, "a batch member's envelope changes");
		buf_init(&b, 0);
		ok(queue_read_msg(q, e[3].id, &b) == 0 && b.len == 21 &&
		    memcmp(b.data, "Subject: g", 10) == 0, "its message still reads whole");
		buf_free(&b);
		for (int i = 0; i < 5; i++)
			queue_remove(q, e[i].id);
		buf_init(&b, 0);
		ok(queue_read_msg(q, e[9].id, &b) == 0 && b.len == 21,
		    "removing half the batch leaves the rest readable");
		buf_free(&b);
		is_int(sn.restored, 1, "a callback started the next batch");
		event_base_loop(base, EVLOOP_ONCE);
		is_int(sn.n, 11, "which the next turn committed");
		ok(file_exists("env", more.id), "its file is in env/");
		for (int i = 0; i < 10; i++) {
			queue_remove(q, e[i].id);
			q_env_free(&e[i]);
		}
		queue_remove(q, more.id);
		q_env_free(&more);
		queue_set_base(q, NULL);
		{
			/* Closed before its commit: dropped, nobody told. */
			struct queue *q2 = queue_open(dir, err, sizeof(err));
			struct q_env lone;
			int before = sn.n;
			memset(&lone, 0, sizeof(lone));
			lone.sender = strdup("a@b");
			q_env_add_rcpt(&lone, "c@d");
			queue_set_base(q2, base);
			is_int(queue_store_async(q2, &lone, "x", 1, seen_cb, &sn, err,
			    sizeof(err)), 0, "a store begun");
			queue_close(q2);
			ok(sn.n == before && !file_exists("env", lone.id),
			    "queue_close drops an uncommitted store without a callback");
			q_env_free(&lone);
		}
		event_base_free(base);
	}

	is_int(queue_backoff(1, 300, 14400), 300, "first retry after min");
	is_int(queue_backoff(3, 300, 14400), 1200, "doubles");
	is_int(queue_backoff(50, 300, 14400), 14400, "capped at max");
	queue_close(q);

	/* kill -9 at random moments loses nothing that was acknowledged. */
	{
		int rounds, lost = 0, stored = 0, bad = 0;
		srand((unsigned)time(NULL));
		for (rounds = 0; rounds < 20; rounds++) {
			int p[2], st, have;
			pid_t pid;
			FILE *f;
			char line[128];

			if (pipe(p) != 0)
				break;
			fflush(stdout);
			if ((pid = fork()) == 0) {
				close(p[0]);
				if (rounds % 2)
					storer_async(p[1]);
				storer(p[1]);
			}
			close(p[1]);
			f = fdopen(p[0], "r");
			if (f == NULL)
				break;
			/* Kill at a random moment once it is storing (the
			 * first report may take long under a sanitizer). */
			have = fgets(line, sizeof(line), f) != NULL;
			usleep(2000 + (useconds_t)(rand() % 20000));
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			q = queue_open(dir, err, sizeof(err));
			queue_recover(q, NULL, NULL);
			for (; have; have = fgets(line, sizeof(line), f) != NULL) {
				char qid[32], c;
				size_t len;
				if (sscanf(line, "%31s %zu %c", qid, &len, &c) != 3)
					continue;
				stored++;
				buf_init(&b, 0);
				if (queue_load(q, qid, &got) != 0 ||
				    queue_read_msg(q, qid, &b) != 0) {
					lost++;
				} else {
					if (b.len != len || b.data[0] != c ||
					    b.data[len - 1] != c || got.size != len)
						bad++;
					q_env_free(&got);
				}
				buf_free(&b);
				queue_remove(q, qid);
			}
			fclose(f);
			queue_close(q);
		}
		ok(stored >= 20, "the killed writer stored %d messages in 20 rounds "
		    "(every other one with group commit)", stored);
		is_int(lost, 0, "no acknowledged message lost after kill -9");
		is_int(bad, 0, "every recovered message is whole");
		q = queue_open(dir, err, sizeof(err));
		n = 0;
		queue_recover(q, count_cb, &n);
		printf("# %d unacknowledged leftovers recovered as queued\n", n);
		queue_close(q);
	}
	rm_rf(dir);
	return tap_done();
}
