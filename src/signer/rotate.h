/*
 * rotate.h - DKIM key rotation (RFC 6376 3.6.1 selectors; the rollover
 * practice of M3AAWG's "DKIM Key Rotation" note): the life of each signing
 * key as a small state machine, separate from the signer so it can be
 * tested with an injected clock and injected key and DNS operations.
 *
 * What the operator wants is the list of active selectors per domain and
 * algorithm ("wants"): the config repository's dkim/<domain> file, written
 * by `ptt dkim rotate`, or the signer's selector_* parameters when that
 * file is absent. What the signer has is the list of keys with a state:
 *
 *   PENDING   generated and published; not signing until its record is at
 *             the DNS primary, a query sees it, and publish_wait has
 *             passed since it was created.
 *   ACTIVE    signing (one per domain and algorithm).
 *   RETIRING  replaced; not signing, but still published for the grace
 *             period so mail signed with it still verifies. At `until` its
 *             record is deleted, then its private key file.
 *
 * The very first key of a domain and algorithm becomes ACTIVE at once
 * (there is nothing to fall back on); every later one waits as PENDING.
 * A failed DNS operation is retried after `retry` seconds; the caller
 * only ever sees keys in a consistent state.
 *
 * The state is kept in the state directory, dkim/<domain>/selectors, one
 * line per key: "DOMAIN ALG SELECTOR STATE SINCE UNTIL" (times in seconds
 * since the epoch). dkr_parse reads it back; `ptt dkim status` prints it.
 *
 * Trusts: neither file: the parsers check every field and refuse what
 * does not fit.
 */
#ifndef PTT_SIGNER_ROTATE_H
#define PTT_SIGNER_ROTATE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define DKR_DOMAIN_MAX 254	/* with the NUL */
#define DKR_SEL_MAX 64		/* with the NUL */
#define DKR_FILE_MAX (64 * 1024)
#define DKR_STATE_FILE "selectors"	/* in dkim/<domain>/ of the state dir */

enum dkr_alg { DKR_RSA, DKR_ED25519, DKR_NALG };
enum dkr_state { DKR_PENDING, DKR_ACTIVE, DKR_RETIRING };

struct dkr_key {
	char domain[DKR_DOMAIN_MAX];
	char selector[DKR_SEL_MAX];
	enum dkr_alg alg;
	enum dkr_state state;
	long long since;	/* when it entered its state */
	long long until;	/* RETIRING: its record is removed at; else 0 */
	/* Not persisted: */
	bool published;		/* the primary confirmed its record */
	long long retry_at;	/* no DNS operation before this time */
	void *key;		/* the caller's key (EVP_PKEY *), owned by ops */
};

struct dkr_want {
	char domain[DKR_DOMAIN_MAX];
	enum dkr_alg alg;
	char selector[DKR_SEL_MAX];
};

/*
 * The operations the state machine asks for; each returns 0 on success
 * (anything else: failed, logged by the callee, retried later).
 */
struct dkr_ops {
	void *arg;
	int (*key_open)(void *arg, struct dkr_key *k);	/* load or create k->key */
	void (*key_close)(void *arg, struct dkr_key *k);	/* free k->key */
	int (*key_delete)(void *arg, struct dkr_key *k);	/* delete its file */
	int (*publish)(void *arg, struct dkr_key *k);	/* record at the primary */
	int (*visible)(void *arg, struct dkr_key *k);	/* a query sees it */
	int (*unpublish)(void *arg, struct dkr_key *k);	/* record deleted */
	/* Told of every change of state (may be NULL). */
	void (*changed)(void *arg, const struct dkr_key *k, const char *what);
};

struct dkr_set {
	struct dkr_key *k;	/* owned; dkr_free */
	size_t n;
	long long grace;	/* RETIRING lasts this long */
	long long publish_wait;	/* PENDING lasts at least this long */
	long long retry;	/* seconds between failed DNS attempts */
	struct dkr_ops ops;
};

/*
 * Move the keys toward wants at time now: create and publish wanted keys,
 * activate pending ones that are ready, retire replaced ones, remove those
 * past their grace. Keys of domains absent from wants are retired too.
 * Returns true when anything persisted (a state or a key) changed.
 */
bool dkr_step(struct dkr_set *s, const struct dkr_want *w, size_t nw,
    long long now);

/* Forget every key (key_close on each loaded one) and free the array. */
void dkr_free(struct dkr_set *s);

/* The ACTIVE key of domain and alg, or NULL. */
const struct dkr_key *dkr_active(const struct dkr_set *s, const char *domain,
    enum dkr_alg alg);

const char *dkr_alg_name(enum dkr_alg a);	/* "rsa", "ed25519" */
const char *dkr_state_name(enum dkr_state st);	/* "pending", ... */
int dkr_alg_parse(const char *s, size_t n, enum dkr_alg *a);

/* A selector: dot-separated labels of letters, digits and '-', each 1-63
 * octets, not starting or ending with '-', at most DKR_SEL_MAX - 1 octets. */
bool dkr_selector_valid(const char *s, size_t n);

/* The keys of domain as state file text (appended to out). */
void dkr_format(const struct dkr_set *s, const char *domain, struct buf *out);

/*
 * Parse a state file of domain, appending to *k / *n (realloc'd; caller
 * frees with free()). 0, or PTT_EINVAL with "LINE: reason" in err.
 */
int dkr_parse(const char *text, size_t len, const char *domain,
    struct dkr_key **k, size_t *n, char *err, size_t errlen);

/*
 * Parse the repository's dkim/<domain> file: "# comment" and lines
 * "ALG SELECTOR" (one per algorithm), appended to *w / *n (realloc'd;
 * caller frees). 0, or PTT_EINVAL with "LINE: reason" in err.
 */
int dkr_intent_parse(const char *text, size_t len, const char *domain,
    struct dkr_want **w, size_t *n, char *err, size_t errlen);

#endif
