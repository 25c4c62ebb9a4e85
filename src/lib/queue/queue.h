/*
 * queue.h - the relay's durable mail queue: the only mail at rest in ptt.
 *
 * Layout under the queue directory (0700):
 *   tmp/   files being written
 *   env/   <id>: the stored file: a line "ptt-queue 2 <n>", the envelope
 *          (n octets: sender, DSN parameters, per-recipient state), then
 *          the message exactly as it will be sent; or, once the envelope
 *          changed, the envelope alone
 *          — or a batch of group commit ("ptt-queue 3 <index offset>":
 *          records of envelope and message, then an index of id, offset
 *          and lengths), one file linked under each of its ids
 *   msg/   <id>: the stored file again (a hard link made before the first
 *          envelope change, so the message survives the rewrite), or a
 *          bare message of the first layout (before stored files; still
 *          read, so an old queue needs no migration)
 *   bad/   envelopes that did not parse, moved aside (never deleted)
 * A message is queued from the moment env/<id> exists. queue_store()
 * returns 0 only after the stored file was written to a temp file,
 * fsync'd, renamed into env/ and env/ fsync'd: two fsyncs per message,
 * message and envelope together; only then may the relay answer 250 (RFC
 * 5321 6.1: once accepted, a message must not be lost). Every later change
 * of state rewrites the envelope the same way (temp, fsync, rename, fsync
 * dir; the first change links the stored file into msg/ and fsyncs msg/
 * before). Removal unlinks the envelope first, so a crash leaves at worst
 * a message file without envelope, which queue_recover() deletes (it was
 * never acknowledged or is already done). Removal does not fsync: it
 * becomes durable with the next store's directory fsync or the kernel's
 * writeback, and a power loss before that delivers the message again —
 * at least once, never lost (a killed process loses nothing either way).
 *
 * All file access is relative to the directory's descriptor (openat), so
 * the relay can hold it under Landlock with nothing else writable.
 * Single-threaded use; one process owns a queue directory at a time.
 */
#ifndef PTT_QUEUE_QUEUE_H
#define PTT_QUEUE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "smtp/proto.h"
#include "util/buf.h"

#define QUEUE_ID_LEN 16

enum q_state {
	Q_PENDING,	/* not delivered yet */
	Q_DELIVERED,	/* the next hop said 2xx */
	Q_FAILED,	/* permanent failure or expiry: a DSN is due */
	Q_BOUNCED,	/* failed and the DSN was queued (or none is due) */
};


struct q_rcpt {
	char *addr;		/* recipient address (owned) */
	char *orcpt;		/* ORCPT as received ("rfc822;..."), or NULL */
	unsigned notify;	/* SMTP_NOTIFY_* (smtp/proto.h); 0: not given */
	enum q_state state;
	int attempts;
	time_t next_try;	/* 0: as soon as possible */
	char *reply;		/* last reply or error text, or NULL */
	char *status;		/* RFC 3463 status of the last attempt, or NULL */
	char *remote;		/* host that answered last, or NULL */
};

struct q_env {
	char id[QUEUE_ID_LEN + 1];
	time_t created;
	size_t size;		/* octets in msg/<id> */
	char *sender;		/* "" for the null reverse-path */
	char *envid;		/* ENVID (decoded), or NULL */
	enum smtp_ret ret;	/* SMTP_RET_* (smtp/proto.h) */
	bool require_tls;	/* never deliver in plaintext */
	bool smtputf8;		/* needs SMTPUTF8 at the next hop */
	bool eightbit;		/* BODY=8BITMIME */
	char *origin;		/* who handed it in (for logs), or NULL */
	time_t delay_notified;	/* when a delay DSN was sent, or 0 */
	size_t nrcpt;
	struct q_rcpt *rcpt;
};

struct queue;

/* Open (creating as needed) a queue directory. NULL with err on failure. */
struct queue *queue_open(const char *dir, char *err, size_t errlen);
void queue_close(struct queue *q);

/* Add a recipient to an envelope being built (addr copied). */
struct q_rcpt *q_env_add_rcpt(struct q_env *env, const char *addr);
/* Release what an envelope owns (not env itself). */
void q_env_free(struct q_env *env);

/*
 * Durably store a new message. Assigns env->id and env->size. 0 on
 * success (the message is on disk and will survive a crash), else a
 * negative PTT_E* code with err; nothing is left behind on failure.
 */
int queue_store(struct queue *q, struct q_env *env, const void *msg,
    size_t len, char *err, size_t errlen);
/*
 * Group commit, for a caller that answers its client from the event loop:
 * queue_store_async appends the envelope and message to the current batch
 * file at once and returns; queue_commit, run by the event base given to
 * queue_set_base (in the loop's next iteration), writes the batch's index,
 * fsyncs the file once, links it into env/ under every id of the batch and
 * fsyncs env/ once: two fsyncs for all the stores begun meanwhile. A batch
 * file's space is freed when its last message is removed.
 * Then done(ret, env, arg) is called for each: ret 0 means durable (only
 * then may the caller answer 250), else a PTT_E* code (logged; nothing is
 * left behind). env (its id and size are set at once) must stay valid
 * until done. Without an event base each store commits at once, before
 * queue_store_async returns. 0, or an error (done is then not called).
 */
struct event_base;
typedef void (*queue_done_fn)(int ret, const struct q_env *env, void *arg);
void queue_set_base(struct queue *q, struct event_base *base);
int queue_store_async(struct queue *q, struct q_env *env, const void *msg,
    size_t len, queue_done_fn done, void *arg, char *err, size_t errlen);
/* Commit every pending store now. queue_close drops the stores not yet
 * committed without calling their callbacks (none was acknowledged). */
void queue_commit(struct queue *q);

/* Durably rewrite the envelope of a queued message. */
int queue_update(struct queue *q, const struct q_env *env, char *err,
    size_t errlen);
/* Remove a message for good (delivered, bounced, or deleted by hand). */
int queue_remove(struct queue *q, const char *id);
/* Load an envelope (caller frees with q_env_free). PTT_ENOENT if absent. */
int queue_load(struct queue *q, const char *id, struct q_env *env);
/* Read the message into out (appended). */
int queue_read_msg(struct queue *q, const char *id, struct buf *out);

/*
 * Startup recovery, before accepting anything: empties tmp/, deletes
 * message files without an envelope, moves envelopes that do not parse or
 * whose message is missing to bad/ (logged), and calls cb for every queued
 * envelope (env is freed after cb returns). Returns the count or an error.
 */
int queue_recover(struct queue *q, void (*cb)(const struct q_env *, void *),
    void *arg);
/* Call cb for every queued envelope (for listings). */
int queue_walk(struct queue *q, void (*cb)(const struct q_env *, void *),
    void *arg);

/* Parse/format envelope text (exposed for tests and fuzzing). */
int q_env_parse(const char *text, size_t len, struct q_env *env);
void q_env_format(const struct q_env *env, struct buf *out);

/* Seconds to wait before attempt number `attempts` + 1: doubling from min
 * up to max, like Postfix's minimal/maximal backoff (RFC 5321 4.5.4.1 asks
 * for sensible, growing intervals; the relay's defaults are 5m and 4h). */
long queue_backoff(int attempts, long min, long max);

#endif
