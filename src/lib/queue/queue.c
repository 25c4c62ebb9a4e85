/*
 * queue.c - the durable queue (see queue.h).
 *
 * Implements: the acceptance rule of RFC 5321 6.1 ("the receiver-SMTP MUST
 * NOT lose the message") as write-temp, fsync, rename, fsync-directory;
 * the DSN envelope fields of RFC 3461 (ENVID, RET, NOTIFY, ORCPT), stored
 * xtext-encoded (RFC 3461 4) so any address survives a round trip.
 * Trusts: nothing in the envelope files it reads back (they are parsed
 * like any input); the filesystem's rename atomicity and fsync.
 */
#include "queue/queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "smtp/proto.h"
#include "util/cursor.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_ENV (1 << 20)	/* an envelope file larger than this is bad */
#define MAX_RCPT 10000
#define V2_MAGIC "ptt-queue 2 "	/* first line of a stored file */
#define V3_MAGIC "ptt-queue 3 "	/* ... of a batch: 16 hex digits follow */
#define V3_HEAD (sizeof(V3_MAGIC) - 1 + 16 + 1)
#define MAX_INDEX (4 << 20)	/* a batch's index, at most */

/* A store waiting for its group commit (queue_store_async). */
struct q_pending {
	struct q_env *env;		/* the caller's, valid until done */
	queue_done_fn done;
	void *arg;
	int ret;
	uint64_t off, envlen, msglen;	/* its record in the batch file */
};

struct queue {
	int dirfd, tmpfd, msgfd, envfd, badfd;
	unsigned seq;
	struct event *commit_ev;	/* runs queue_commit; NULL: none */
	struct q_pending *pend;
	size_t npend, capend;
	int bfd;			/* the batch file being written, or -1 */
	char bname[QUEUE_ID_LEN + 8];	/* its name in tmp/ */
	uint64_t boff;			/* where its next record goes */
};

static int
sub_dir(int dirfd, const char *name, char *err, size_t errlen)
{
	int fd;

	if (mkdirat(dirfd, name, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "queue: mkdir %s: %s", name, strerror(errno));
		return -1;
	}
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		snprintf(err, errlen, "queue: open %s: %s", name, strerror(errno));
	return fd;
}

struct queue *
queue_open(const char *dir, char *err, size_t errlen)
{
	struct queue *q = xcalloc(1, sizeof(*q));

	q->tmpfd = q->msgfd = q->envfd = q->badfd = q->bfd = -1;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "queue: mkdir %s: %s", dir, strerror(errno));
		free(q);
		return NULL;
	}
	q->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->dirfd < 0) {
		snprintf(err, errlen, "queue: open %s: %s", dir, strerror(errno));
		free(q);
		return NULL;
	}
	if ((q->tmpfd = sub_dir(q->dirfd, "tmp", err, errlen)) < 0 ||
	    (q->msgfd = sub_dir(q->dirfd, "msg", err, errlen)) < 0 ||
	    (q->envfd = sub_dir(q->dirfd, "env", err, errlen)) < 0 ||
	    (q->badfd = sub_dir(q->dirfd, "bad", err, errlen)) < 0) {
		queue_close(q);
		return NULL;
	}
	if (fsync(q->dirfd) != 0) {
		snprintf(err, errlen, "queue: fsync %s: %s", dir, strerror(errno));
		queue_close(q);
		return NULL;
	}
	return q;
}

void
queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	/* Stores not committed yet were never acknowledged: dropped, and
	 * their callbacks not called (their sessions may be gone). */
	if (q->bfd >= 0) {
		close(q->bfd);
		unlinkat(q->tmpfd, q->bname, 0);
	}
	free(q->pend);
	if (q->commit_ev != NULL)
		event_free(q->commit_ev);
	if (q->tmpfd >= 0) close(q->tmpfd);
	if (q->msgfd >= 0) close(q->msgfd);
	if (q->envfd >= 0) close(q->envfd);
	if (q->badfd >= 0) close(q->badfd);
	close(q->dirfd);
	free(q);
}

struct q_rcpt *
q_env_add_rcpt(struct q_env *env, const char *addr)
{
	struct q_rcpt *r;

	env->rcpt = xreallocarray(env->rcpt, env->nrcpt + 1, sizeof(*r));
	r = &env->rcpt[env->nrcpt++];
	memset(r, 0, sizeof(*r));
	r->addr = xstrdup(addr);
	return r;
}

void
q_env_free(struct q_env *env)
{
	for (size_t i = 0; i < env->nrcpt; i++) {
		free(env->rcpt[i].addr);
		free(env->rcpt[i].orcpt);
		free(env->rcpt[i].reply);
		free(env->rcpt[i].status);
		free(env->rcpt[i].remote);
	}
	free(env->rcpt);
	free(env->sender);
	free(env->envid);
	free(env->origin);
	memset(env, 0, sizeof(*env));
}

/* xtext (RFC 3461 4); NULL is written as "-" (a lone '-' is no xtext of
 * ours: '-' itself is always written encoded). */
static void
put_xtext(struct buf *b, const char *s)
{
	if (s == NULL) {
		buf_addc(b, '-');
		return;
	}
	if (*s == '\0') {
		buf_adds(b, "+");	/* empty: "+" alone, never valid xtext */
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 33 || c > 126 || c == '+' || c == '=' || c == '-')
			buf_addf(b, "+%02X", c);
		else
			buf_addc(b, (char)c);
	}
}

static const char *const state_name[] = { "pending", "delivered", "failed",
	"bounced" };

void
q_env_format(const struct q_env *env, struct buf *b)
{
	buf_addf(b, "ptt-queue 1\nid %s\ncreated %lld\nsize %zu\nsender ",
	    env->id, (long long)env->created, env->size);
	put_xtext(b, env->sender);
	buf_adds(b, "\nenvid ");
	put_xtext(b, env->envid);
	buf_addf(b, "\nret %d\nrequire_tls %d\nsmtputf8 %d\neightbit %d\norigin ",
	    env->ret, env->require_tls, env->smtputf8, env->eightbit);
	put_xtext(b, env->origin);
	buf_addf(b, "\ndelay_notified %lld\n", (long long)env->delay_notified);
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct q_rcpt *r = &env->rcpt[i];
		buf_adds(b, "rcpt ");
		put_xtext(b, r->addr);
		buf_addf(b, " %s %d %lld %u ", state_name[r->state], r->attempts,
		    (long long)r->next_try, r->notify);
		put_xtext(b, r->orcpt);
		buf_addc(b, ' ');
		put_xtext(b, r->status);
		buf_addc(b, ' ');
		put_xtext(b, r->remote);
		buf_addc(b, ' ');
		put_xtext(b, r->reply);
		buf_addc(b, '\n');
	}
	buf_adds(b, "end\n");
}

static bool
tok_char(uint8_t c)
{
	return c != ' ' && c != '\n';
}

/* One space-free token; NULL at a line end or on error. */
static const char *
token(struct cur *c, size_t *len)
{
	const char *s;

	cur_accept(c, ' ');
	s = (const char *)c->p;
	*len = cur_span(c, tok_char);
	if (*len == 0)
		cur_fail(c, PTT_EINVAL);
	return c->err ? NULL : s;
}

static char *
get_xtext(struct cur *c)
{
	size_t len;
	const char *s = token(c, &len);
	char *out;

	if (s == NULL)
		return NULL;
	if (len == 1 && *s == '-')
		return NULL;
	if (len == 1 && *s == '+')
		return xstrdup("");
	out = xmalloc(len + 1);
	if (smtp_xtext_decode(s, len, out, len + 1) < 0 ||
	    strlen(out) == 0) {
		free(out);
		cur_fail(c, PTT_EINVAL);
		return NULL;
	}
	return out;
}

static long long
get_num(struct cur *c, uint64_t max)
{
	cur_accept(c, ' ');
	return (long long)cur_uint(c, max);
}

static void
end_line(struct cur *c)
{
	cur_expect(c, '\n');
}

static bool
key(struct cur *c, const char *k)
{
	if (!cur_match(c, k) || !cur_accept(c, ' ')) {
		cur_fail(c, PTT_EINVAL);
		return false;
	}
	return true;
}

int
q_env_parse(const char *text, size_t len, struct q_env *env)
{
	struct cur c;
	size_t n;
	const char *s;

	memset(env, 0, sizeof(*env));
	cur_init(&c, text, len);
	if (!cur_match(&c, "ptt-queue 1\n"))
		return PTT_EINVAL;
	if (key(&c, "id") && (s = token(&c, &n)) != NULL) {
		if (n > QUEUE_ID_LEN)
			cur_fail(&c, PTT_EINVAL);
		else {
			memcpy(env->id, s, n);
			env->id[n] = '\0';
		}
	}
	end_line(&c);
	if (key(&c, "created"))
		env->created = (time_t)get_num(&c, INT64_MAX);
	end_line(&c);
	if (key(&c, "size"))
		env->size = (size_t)get_num(&c, SIZE_MAX);
	end_line(&c);
	if (key(&c, "sender"))
		env->sender = get_xtext(&c);
	end_line(&c);
	if (key(&c, "envid"))
		env->envid = get_xtext(&c);
	end_line(&c);
	if (key(&c, "ret"))
		env->ret = (enum smtp_ret)get_num(&c, SMTP_RET_HDRS);
	end_line(&c);
	if (key(&c, "require_tls"))
		env->require_tls = get_num(&c, 1);
	end_line(&c);
	if (key(&c, "smtputf8"))
		env->smtputf8 = get_num(&c, 1);
	end_line(&c);
	if (key(&c, "eightbit"))
		env->eightbit = get_num(&c, 1);
	end_line(&c);
	if (key(&c, "origin"))
		env->origin = get_xtext(&c);
	end_line(&c);
	if (key(&c, "delay_notified"))
		env->delay_notified = (time_t)get_num(&c, INT64_MAX);
	end_line(&c);
	while (!c.err && cur_match(&c, "rcpt ")) {
		char *addr = get_xtext(&c);
		struct q_rcpt *r;
		int st;

		if (addr == NULL || env->nrcpt >= MAX_RCPT) {
			free(addr);
			cur_fail(&c, PTT_EINVAL);
			break;
		}
		r = q_env_add_rcpt(env, addr);
		free(addr);
		s = token(&c, &n);
		for (st = 0; s != NULL && st < 4; st++)
			if (strlen(state_name[st]) == n &&
			    memcmp(state_name[st], s, n) == 0)
				break;
		if (st == 4)
			cur_fail(&c, PTT_EINVAL);
		r->state = (enum q_state)st;
		r->attempts = (int)get_num(&c, 1000000);
		r->next_try = (time_t)get_num(&c, INT64_MAX);
		r->notify = (unsigned)get_num(&c, 15);
		r->orcpt = get_xtext(&c);
		r->status = get_xtext(&c);
		r->remote = get_xtext(&c);
		r->reply = get_xtext(&c);
		end_line(&c);
	}
	if (!c.err && (!cur_match(&c, "end\n") || !cur_eof(&c)))
		cur_fail(&c, PTT_EINVAL);
	if (!c.err && (env->sender == NULL || env->nrcpt == 0 ||
	    env->id[0] == '\0'))
		cur_fail(&c, PTT_EINVAL);
	if (c.err) {
		q_env_free(env);
		return c.err;
	}
	return 0;
}

/* write() all of p. 0 or -1 (errno set; 0 for a short write). */
static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = 0;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Write head then data to a new tmp/name; *fdp stays open (not synced). */
static int
tmp_write(struct queue *q, const char *tmpname, const void *head, size_t hlen,
    const void *data, size_t len, int *fdp, char *err, size_t errlen)
{
	int fd = openat(q->tmpfd, tmpname, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600);

	if (fd < 0) {
		snprintf(err, errlen, "queue: create %s: %s", tmpname, strerror(errno));
		return PTT_EIO;
	}
	if (write_all(fd, head, hlen) != 0 || write_all(fd, data, len) != 0) {
		snprintf(err, errlen, "queue: write %s: %s", tmpname,
		    errno ? strerror(errno) : "short write");
		close(fd);
		unlinkat(q->tmpfd, tmpname, 0);
		return PTT_EIO;
	}
	*fdp = fd;
	return 0;
}

/* fsync and close fd (tmp/name), rename it to dstfd/dst; on failure the
 * temporary file is gone. */
static int
tmp_commit(struct queue *q, const char *tmpname, int fd, int dstfd,
    const char *dst, char *err, size_t errlen)
{
	if (fsync(fd) != 0) {
		snprintf(err, errlen, "queue: fsync %s: %s", tmpname, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "queue: close %s: %s", tmpname, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (renameat(q->tmpfd, tmpname, dstfd, dst) != 0) {
		snprintf(err, errlen, "queue: rename %s: %s", tmpname, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(q->tmpfd, tmpname, 0);
	return PTT_EIO;
}

/* Write head then data to tmp/name, fsync, and rename it to dstfd/dst. */
static int
put_file2(struct queue *q, const char *tmpname, int dstfd, const char *dst,
    const void *head, size_t hlen, const void *data, size_t len, char *err,
    size_t errlen)
{
	int fd, r = tmp_write(q, tmpname, head, hlen, data, len, &fd, err,
	    errlen);

	return r != 0 ? r : tmp_commit(q, tmpname, fd, dstfd, dst, err, errlen);
}

static int
put_file(struct queue *q, const char *tmpname, int dstfd, const char *dst,
    const void *data, size_t len, char *err, size_t errlen)
{
	return put_file2(q, tmpname, dstfd, dst, "", 0, data, len, err, errlen);
}

/*
 * The prefix of a stored file ("ptt-queue 2 <envlen>\n"): 1 with *hlen
 * (the line's length) and *envlen set when p starts with one, 0 when it
 * does not (an envelope or a message of the first layout), PTT_EINVAL
 * when it is malformed.
 */
static int
v2_prefix(const char *p, size_t n, size_t *hlen, size_t *envlen)
{
	size_t m = sizeof(V2_MAGIC) - 1, i, v = 0;

	if (n < m || memcmp(p, V2_MAGIC, m) != 0)
		return 0;
	for (i = m; i < n && i < m + 8 && p[i] >= '0' && p[i] <= '9'; i++)
		v = v * 10 + (size_t)(p[i] - '0');
	if (i == m || i >= n || p[i] != '\n' || v == 0 || v > MAX_ENV)
		return PTT_EINVAL;
	*hlen = i + 1;
	*envlen = v;
	return 1;
}

static int
sync_dir(int fd, const char *name, char *err, size_t errlen)
{
	if (fsync(fd) != 0) {
		snprintf(err, errlen, "queue: fsync %s/: %s", name, strerror(errno));
		return PTT_EIO;
	}
	return 0;
}

/* Write env durably as env/<id> through tmp/<tmpname>. */
static int
put_env(struct queue *q, const struct q_env *env, const char *tmpname,
    char *err, size_t errlen)
{
	struct buf b;
	int r;

	buf_init(&b, MAX_ENV);
	q_env_format(env, &b);
	if (buf_error(&b)) {
		snprintf(err, errlen, "queue: envelope too large");
		r = PTT_ENOSPC;
	} else
		r = put_file(q, tmpname, q->envfd, env->id, b.data, b.len, err,
		    errlen);
	buf_free(&b);
	if (r == 0)
		r = sync_dir(q->envfd, "env", err, errlen);
	return r;
}

static bool
valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > QUEUE_ID_LEN)
		return false;
	for (; *id; id++)
		if (!ch_alnum((uint8_t)*id))
			return false;
	return true;
}

/* Is id waiting for a group commit? */
static bool
pending_id(const struct queue *q, const char *id)
{
	for (size_t i = 0; i < q->npend; i++)
		if (strcmp(q->pend[i].env->id, id) == 0)
			return true;
	return false;
}

/*
 * The first half of a store: a fresh id, then the stored file written to
 * tmp/<id>.q (not yet synced), its fd in *fdp and its name in tmp.
 */
/* Check env and give it a fresh id nobody has: random, checked against
 * msg/, env/ and the stores waiting for their commit. */
static int
new_id(struct queue *q, struct q_env *env, char *err, size_t errlen)
{
	if (env->nrcpt == 0 || env->sender == NULL) {
		snprintf(err, errlen, "queue: envelope without %s",
		    env->nrcpt ? "sender" : "recipients");
		return PTT_EINVAL;
	}
	do {
		log_newid(env->id, 12);
	} while (faccessat(q->msgfd, env->id, F_OK, 0) == 0 ||
	    faccessat(q->envfd, env->id, F_OK, 0) == 0 ||
	    pending_id(q, env->id));
	if (env->created == 0)
		env->created = time(NULL);
	return 0;
}

static int
store_write(struct queue *q, struct q_env *env, const void *msg, size_t len,
    char tmp[QUEUE_ID_LEN + 8], int *fdp, char *err, size_t errlen)
{
	struct buf b, text;
	int r;

	if ((r = new_id(q, env, err, errlen)) != 0)
		return r;
	env->size = len;

	/* One file, envelope then message: one fsync of it, one of env/. */
	buf_init(&text, MAX_ENV);
	buf_init(&b, MAX_ENV + 32);
	q_env_format(env, &text);
	if (buf_error(&text) || text.len > MAX_ENV) {
		snprintf(err, errlen, "queue: envelope too large");
		buf_free(&text);
		buf_free(&b);
		return PTT_ENOSPC;
	}
	buf_addf(&b, V2_MAGIC "%zu\n", text.len);
	buf_add(&b, text.data, text.len);
	buf_free(&text);
	snprintf(tmp, QUEUE_ID_LEN + 8, "%s.q", env->id);
	r = tmp_write(q, tmp, b.data, b.len, msg, len, fdp, err, errlen);
	buf_free(&b);
	return r;
}

int
queue_store(struct queue *q, struct q_env *env, const void *msg, size_t len,
    char *err, size_t errlen)
{
	char tmp[QUEUE_ID_LEN + 8];
	int fd, r;

	if ((r = store_write(q, env, msg, len, tmp, &fd, err, errlen)) != 0)
		return r;
	if ((r = tmp_commit(q, tmp, fd, q->envfd, env->id, err, errlen)) != 0)
		return r;
	if ((r = sync_dir(q->envfd, "env", err, errlen)) == 0)
		return 0;
	unlinkat(q->envfd, env->id, 0);
	return r;
}

/* pwrite() all of p at off. 0 or -1. */
static int
pwrite_all(int fd, const void *data, size_t len, uint64_t off)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/*
 * Group commit: the batch file gets its index and is synced once, each
 * store's name is linked to it in env/, and env/ is synced once; only
 * then is each store told. Two fsyncs for the whole batch.
 */
void
queue_commit(struct queue *q)
{
	struct q_pending *v = q->pend;
	size_t n = q->npend;
	char err[256], head[V3_HEAD + 1];
	struct buf ix;
	int r = 0, linked = 0;

	if (q->bfd < 0)
		return;
	q->pend = NULL;
	q->npend = q->capend = 0;
	buf_init(&ix, MAX_INDEX);
	for (size_t i = 0; i < n; i++)
		buf_addf(&ix, "%s %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
		    v[i].env->id, v[i].off, v[i].envlen, v[i].msglen);
	buf_adds(&ix, "end\n");
	snprintf(head, sizeof(head), V3_MAGIC "%016" PRIx64 "\n", q->boff);
	if (buf_error(&ix) || pwrite_all(q->bfd, ix.data, ix.len, q->boff) != 0 ||
	    pwrite_all(q->bfd, head, V3_HEAD, 0) != 0 || fsync(q->bfd) != 0) {
		log_err(NULL, "queue: writing batch %s: %s", q->bname,
		    buf_error(&ix) ? "index too large" : strerror(errno));
		r = PTT_EIO;
	}
	buf_free(&ix);
	if (close(q->bfd) != 0 && r == 0)
		r = PTT_EIO;
	q->bfd = -1;
	for (size_t i = 0; i < n; i++) {
		v[i].ret = r;
		if (r == 0 && linkat(q->tmpfd, q->bname, q->envfd, v[i].env->id,
		    0) != 0) {
			log_err(v[i].env->id, "queue: link: %s", strerror(errno));
			v[i].ret = PTT_EIO;
		}
		linked += v[i].ret == 0;
	}
	unlinkat(q->tmpfd, q->bname, 0);
	if (linked > 0 && sync_dir(q->envfd, "env", err, sizeof(err)) != 0) {
		log_err(NULL, "%s", err);
		for (size_t i = 0; i < n; i++)
			if (v[i].ret == 0) {
				unlinkat(q->envfd, v[i].env->id, 0);
				v[i].ret = PTT_EIO;
			}
	}
	/* The callbacks may store again: that starts the next batch. */
	for (size_t i = 0; i < n; i++)
		v[i].done(v[i].ret, v[i].env, v[i].arg);
	free(v);
}

static void
commit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	queue_commit(arg);
}

void
queue_set_base(struct queue *q, struct event_base *base)
{
	if (q->commit_ev != NULL)
		event_free(q->commit_ev);
	q->commit_ev = base ? evtimer_new(base, commit_cb, q) : NULL;
}

int
queue_store_async(struct queue *q, struct q_env *env, const void *msg,
    size_t len, queue_done_fn done, void *arg, char *err, size_t errlen)
{
	static const struct timeval now = { 0, 0 };
	struct q_pending *p;
	struct buf text;
	int r = 0;

	if ((r = new_id(q, env, err, errlen)) != 0)
		return r;
	env->size = len;
	buf_init(&text, MAX_ENV);
	q_env_format(env, &text);
	if (buf_error(&text) || text.len > MAX_ENV) {
		snprintf(err, errlen, "queue: envelope too large");
		buf_free(&text);
		return PTT_ENOSPC;
	}
	if (q->bfd < 0) {	/* the first store of a batch */
		char head[V3_HEAD + 1];
		log_newid(q->bname, 12);
		ptt_strlcat(q->bname, ".b", sizeof(q->bname));
		q->bfd = openat(q->tmpfd, q->bname, O_RDWR | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600);
		snprintf(head, sizeof(head), V3_MAGIC "%016x\n", 0);
		if (q->bfd < 0 || pwrite_all(q->bfd, head, V3_HEAD, 0) != 0) {
			snprintf(err, errlen, "queue: create batch %s: %s",
			    q->bname, strerror(errno));
			if (q->bfd >= 0)
				close(q->bfd);
			q->bfd = -1;
			unlinkat(q->tmpfd, q->bname, 0);
			buf_free(&text);
			return PTT_EIO;
		}
		q->boff = V3_HEAD;
	}
	/* A failed write leaves boff where it was: the next record goes
	 * over whatever part of this one landed. */
	if (pwrite_all(q->bfd, text.data, text.len, q->boff) != 0 ||
	    pwrite_all(q->bfd, msg, len, q->boff + text.len) != 0) {
		snprintf(err, errlen, "queue: write batch %s: %s", q->bname,
		    strerror(errno));
		buf_free(&text);
		return PTT_EIO;
	}
	if (q->npend == q->capend) {
		q->capend = q->capend ? 2 * q->capend : 16;
		q->pend = xreallocarray(q->pend, q->capend, sizeof(*q->pend));
	}
	p = &q->pend[q->npend++];
	memset(p, 0, sizeof(*p));
	p->env = env;
	p->done = done;
	p->arg = arg;
	p->off = q->boff;
	p->envlen = text.len;
	p->msglen = len;
	q->boff += text.len + len;
	buf_free(&text);
	/* Without an event base every store is its own batch. */
	if (q->commit_ev == NULL)
		queue_commit(q);
	else if (!evtimer_pending(q->commit_ev, NULL))
		evtimer_add(q->commit_ev, &now);
	return 0;
}

int
queue_update(struct queue *q, const struct q_env *env, char *err,
    size_t errlen)
{
	char tmp[QUEUE_ID_LEN + 16];

	if (!valid_id(env->id)) {
		snprintf(err, errlen, "queue: bad id");
		return PTT_EINVAL;
	}
	/* A message stored with its first envelope keeps its file: a second
	 * name for it in msg/ (made durable) before the envelope is
	 * replaced by one of its own. */
	if (faccessat(q->msgfd, env->id, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
		if (linkat(q->envfd, env->id, q->msgfd, env->id, 0) != 0) {
			snprintf(err, errlen, "queue: link %s to msg/: %s",
			    env->id, strerror(errno));
			return errno == ENOENT ? PTT_ENOENT : PTT_EIO;
		}
		if (sync_dir(q->msgfd, "msg", err, errlen) != 0)
			return PTT_EIO;
	}
	snprintf(tmp, sizeof(tmp), "%s.env.%u", env->id, q->seq++);
	return put_env(q, env, tmp, err, errlen);
}

int
queue_remove(struct queue *q, const char *id)
{
	if (!valid_id(id))
		return PTT_EINVAL;
	if (unlinkat(q->envfd, id, 0) != 0)
		return errno == ENOENT ? PTT_ENOENT : PTT_EIO;
	if (unlinkat(q->msgfd, id, 0) != 0 && errno != ENOENT)
		log_warn(id, "queue: unlink msg: %s", strerror(errno));
	return 0;
}

/* Append up to max bytes from fd's offset off to out. */
static int
read_fd(int fd, off_t off, struct buf *out, size_t max)
{
	char chunk[65536];
	size_t got = 0;

	while (got < max) {
		size_t want = max - got < sizeof(chunk) ? max - got : sizeof(chunk);
		ssize_t n = pread(fd, chunk, want, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return PTT_EIO;
		if (n == 0)
			break;
		buf_add(out, chunk, (size_t)n);
		got += (size_t)n;
	}
	return buf_error(out);
}

/* Where one message's envelope and message are in a file. */
struct loc {
	int fd;			/* open on success */
	bool bare;		/* first layout: the whole file is one of them */
	off_t env_off, msg_off;
	size_t envlen, msglen;
};

/* Parse one index line "<id> <off> <envlen> <msglen>" of a batch file. */
static bool
index_line(struct cur *c, char *id, uint64_t *v)
{
	size_t n;
	const char *s = token(c, &n);

	if (s == NULL || n > QUEUE_ID_LEN)
		return false;
	memcpy(id, s, n);
	id[n] = '\0';
	for (int i = 0; i < 3; i++) {
		cur_accept(c, ' ');
		v[i] = cur_uint(c, INT64_MAX);
	}
	end_line(c);
	return !c->err;
}

/*
 * Open dirfd/id and find id's envelope and message in it: a stored file
 * ("ptt-queue 2 <envlen>": envelope, then message), a batch of group
 * commit ("ptt-queue 3 <index offset>": records, then an index naming
 * each id's offset and lengths), or a bare file of the first layout.
 */
static int
locate(int dirfd, const char *id, struct loc *l)
{
	struct buf h;
	struct stat st;
	size_t hlen = 0, envlen = 0, m3 = sizeof(V3_MAGIC) - 1;
	int fd = openat(dirfd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r;

	memset(l, 0, sizeof(*l));
	if (fd < 0)
		return errno == ENOENT ? PTT_ENOENT : PTT_EIO;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return PTT_EIO;
	}
	buf_init(&h, 0);
	r = read_fd(fd, 0, &h, V3_HEAD);
	if (r == 0 && h.len == V3_HEAD && memcmp(h.data, V3_MAGIC, m3) == 0) {
		/* a batch: the index names every id it holds */
		uint64_t ioff = 0, v[3];
		struct buf ix;
		struct cur c;
		char name[QUEUE_ID_LEN + 1];
		bool found = false;

		r = PTT_EINVAL;
		for (size_t i = m3; i < V3_HEAD - 1; i++) {
			int d = h.data[i];
			d = d >= '0' && d <= '9' ? d - '0' : d >= 'a' && d <= 'f' ?
			    d - 'a' + 10 : -1;
			if (d < 0)
				goto out;
			ioff = ioff * 16 + (uint64_t)d;
		}
		if (h.data[V3_HEAD - 1] != '\n' || ioff < V3_HEAD ||
		    ioff >= (uint64_t)st.st_size ||
		    (uint64_t)st.st_size - ioff > MAX_INDEX)
			goto out;
		buf_init(&ix, 0);
		if (read_fd(fd, (off_t)ioff, &ix, (size_t)st.st_size - ioff) != 0) {
			buf_free(&ix);
			r = PTT_EIO;
			goto out;
		}
		cur_init(&c, ix.data, ix.len);
		while (!c.err && !found && !cur_match(&c, "end\n")) {
			if (!index_line(&c, name, v))
				break;
			if (strcmp(name, id) != 0)
				continue;
			found = true;
			if (v[0] < V3_HEAD || v[1] > MAX_ENV || v[1] == 0 ||
			    v[0] + v[1] + v[2] > ioff)
				break;
			l->env_off = (off_t)v[0];
			l->envlen = (size_t)v[1];
			l->msg_off = (off_t)(v[0] + v[1]);
			l->msglen = (size_t)v[2];
			r = 0;
		}
		buf_free(&ix);
	} else if (r == 0 && (r = v2_prefix(h.data ? h.data : "", h.len,
	    &hlen, &envlen)) == 1) {
		if ((uint64_t)st.st_size < hlen + envlen)
			r = PTT_EINVAL;
		else {
			l->env_off = (off_t)hlen;
			l->envlen = envlen;
			l->msg_off = (off_t)(hlen + envlen);
			l->msglen = (size_t)st.st_size - hlen - envlen;
			r = 0;
		}
	} else if (r == 0) {
		l->bare = true;
		l->envlen = l->msglen = (size_t)st.st_size;
	}
out:
	buf_free(&h);
	if (r != 0) {
		close(fd);
		return r;
	}
	l->fd = fd;
	return 0;
}

int
queue_load(struct queue *q, const char *id, struct q_env *env)
{
	struct buf b;
	struct loc l;
	int r;

	if (!valid_id(id))
		return PTT_EINVAL;
	if ((r = locate(q->envfd, id, &l)) != 0)
		return r;
	buf_init(&b, 0);
	if (l.bare && l.envlen > MAX_ENV)
		r = PTT_ENOSPC;
	else if ((r = read_fd(l.fd, l.env_off, &b, l.envlen)) == 0 &&
	    b.len != l.envlen)
		r = PTT_EINVAL;
	close(l.fd);
	if (r == 0) {
		r = q_env_parse(b.data, b.len, env);
		if (r == 0 && strcmp(env->id, id) != 0) {
			q_env_free(env);
			r = PTT_EINVAL;
		}
	}
	buf_free(&b);
	return r;
}

/*
 * Where id's message is: msg/<id> (a bare message, or a stored file linked
 * there by queue_update), else inside env/<id>. *fdp is open, the message
 * starts at *start and is *len octets long.
 */
static int
find_msg(struct queue *q, const char *id, int *fdp, off_t *start, size_t *len)
{
	struct loc l;
	int r = locate(q->msgfd, id, &l);

	if (r == PTT_ENOENT) {
		r = locate(q->envfd, id, &l);
		if (r == 0 && l.bare) {	/* an envelope without its message */
			close(l.fd);
			return PTT_ENOENT;
		}
	}
	if (r != 0)
		return r;
	*fdp = l.fd;
	*start = l.msg_off;
	*len = l.msglen;
	return 0;
}

int
queue_read_msg(struct queue *q, const char *id, struct buf *out)
{
	off_t start;
	size_t len;
	int fd, r;

	if (!valid_id(id))
		return PTT_EINVAL;
	if ((r = find_msg(q, id, &fd, &start, &len)) != 0)
		return r;
	r = read_fd(fd, start, out, len);
	close(fd);
	return r;
}

/* Names in a directory (caller frees the array and names). */
static char **
list_dir(int fd, size_t *np)
{
	int dfd = dup(fd);
	DIR *d;
	struct dirent *e;
	char **v = NULL;
	size_t n = 0;

	*np = 0;
	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		return NULL;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	*np = n;
	return v;
}

static void
free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
move_bad(struct queue *q, const char *id, const char *why)
{
	log_err(id, "queue: bad envelope (%s): moved to bad/", why);
	if (renameat(q->envfd, id, q->badfd, id) != 0)
		log_err(id, "queue: cannot move to bad/: %s", strerror(errno));
	if (faccessat(q->msgfd, id, F_OK, 0) == 0) {
		char name[QUEUE_ID_LEN + 8];
		snprintf(name, sizeof(name), "%s.msg", id);
		if (renameat(q->msgfd, id, q->badfd, name) != 0)
			log_err(id, "queue: cannot move message to bad/: %s",
			    strerror(errno));
	}
}

static int
walk(struct queue *q, bool recover, void (*cb)(const struct q_env *, void *),
    void *arg)
{
	size_t n, i;
	char **names;
	int count = 0;

	if (recover) {
		names = list_dir(q->tmpfd, &n);
		for (i = 0; i < n; i++)
			unlinkat(q->tmpfd, names[i], 0);
		free_list(names, n);
		/* Message files with no envelope were never acknowledged
		 * (or were already done): they go. */
		names = list_dir(q->msgfd, &n);
		for (i = 0; i < n; i++)
			if (faccessat(q->envfd, names[i], F_OK, 0) != 0) {
				log_info(names[i], "queue: removing message "
				    "without envelope");
				unlinkat(q->msgfd, names[i], 0);
			}
		free_list(names, n);
	}
	names = list_dir(q->envfd, &n);
	for (i = 0; i < n; i++) {
		struct q_env env;
		off_t start;
		size_t mlen;
		int fd, r = queue_load(q, names[i], &env);

		if (r == PTT_ENOENT)
			continue;	/* removed meanwhile */
		if (r != 0) {
			if (recover)
				move_bad(q, names[i], ptt_strerror(r));
			continue;
		}
		if (find_msg(q, names[i], &fd, &start, &mlen) == 0)
			close(fd);
		else
			mlen = SIZE_MAX;
		if (mlen != env.size) {
			if (recover)
				move_bad(q, names[i], "message file missing or "
				    "of the wrong size");
			q_env_free(&env);
			continue;
		}
		if (cb != NULL)
			cb(&env, arg);
		q_env_free(&env);
		count++;
	}
	free_list(names, n);
	if (recover)
		fsync(q->msgfd);
	return count;
}

int
queue_recover(struct queue *q, void (*cb)(const struct q_env *, void *),
    void *arg)
{
	return walk(q, true, cb, arg);
}

int
queue_walk(struct queue *q, void (*cb)(const struct q_env *, void *),
    void *arg)
{
	return walk(q, false, cb, arg);
}

long
queue_backoff(int attempts, long min, long max)
{
	long d = min;

	for (int i = 1; i < attempts && d < max; i++)
		d *= 2;
	return d < max ? d : max;
}
