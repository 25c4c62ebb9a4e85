/*
 * test_rotate.c - the DKIM key rotation state machine (src/signer/rotate.h)
 * driven with a fake clock and fake key and DNS operations: first keys
 * sign at once; a new selector waits for publication, visibility and
 * publish_wait; the old one retires for the grace period, then its record
 * and file go; failed DNS operations are retried; the state and intent
 * files round-trip and bad ones are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "signer/rotate.h"
#include "util/buf.h"

/* The fake world: a DNS zone of selectors and a directory of key files. */
struct world {
	char dns[16][DKR_SEL_MAX];
	int ndns;
	char files[16][DKR_SEL_MAX];
	int nfiles;
	bool dns_down, invisible;
	int opened, closed;
};

static int
find(char (*v)[DKR_SEL_MAX], int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return i;
	return -1;
}

static void
drop(char (*v)[DKR_SEL_MAX], int *n, const char *s)
{
	int i = find(v, *n, s);

	if (i >= 0) {
		memmove(v[i], v[i + 1], (size_t)(*n - i - 1) * DKR_SEL_MAX);
		(*n)--;
	}
}

static int
f_open(void *arg, struct dkr_key *k)
{
	struct world *w = arg;

	if (find(w->files, w->nfiles, k->selector) < 0)
		snprintf(w->files[w->nfiles++], DKR_SEL_MAX, "%s", k->selector);
	k->key = &w->opened;
	w->opened++;
	return 0;
}

static void
f_close(void *arg, struct dkr_key *k)
{
	struct world *w = arg;

	w->closed++;
	k->key = NULL;
}

static int
f_delete(void *arg, struct dkr_key *k)
{
	struct world *w = arg;

	drop(w->files, &w->nfiles, k->selector);
	return 0;
}

static int
f_publish(void *arg, struct dkr_key *k)
{
	struct world *w = arg;

	if (w->dns_down)
		return -1;
	if (find(w->dns, w->ndns, k->selector) < 0)
		snprintf(w->dns[w->ndns++], DKR_SEL_MAX, "%s", k->selector);
	return 0;
}

static int
f_visible(void *arg, struct dkr_key *k)
{
	struct world *w = arg;

	return w->dns_down || w->invisible ||
	    find(w->dns, w->ndns, k->selector) < 0 ? -1 : 0;
}

static int
f_unpublish(void *arg, struct dkr_key *k)
{
	struct world *w = arg;

	if (w->dns_down)
		return -1;
	drop(w->dns, &w->ndns, k->selector);
	return 0;
}

static struct dkr_want
want(const char *dom, enum dkr_alg a, const char *sel)
{
	struct dkr_want w;

	memset(&w, 0, sizeof(w));
	snprintf(w.domain, sizeof(w.domain), "%s", dom);
	snprintf(w.selector, sizeof(w.selector), "%s", sel);
	w.alg = a;
	return w;
}

static const char *
active_sel(const struct dkr_set *s, enum dkr_alg a)
{
	const struct dkr_key *k = dkr_active(s, "example.test", a);

	return k ? k->selector : NULL;
}

static int
state_of(const struct dkr_set *s, const char *sel)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->k[i].selector, sel) == 0)
			return (int)s->k[i].state;
	return -1;
}

static void
test_rotation(void)
{
	struct world w;
	struct dkr_set s;
	struct dkr_want wa[2];
	long long t = 1000000;
	bool ch;

	memset(&w, 0, sizeof(w));
	memset(&s, 0, sizeof(s));
	s.grace = 600;
	s.publish_wait = 60;
	s.retry = 30;
	s.ops = (struct dkr_ops){ &w, f_open, f_close, f_delete, f_publish,
	    f_visible, f_unpublish, NULL };

	wa[0] = want("example.test", DKR_RSA, "r1");
	wa[1] = want("example.test", DKR_ED25519, "e1");
	ch = dkr_step(&s, wa, 2, t);
	ok(ch, "first step changes the state");
	is_str(active_sel(&s, DKR_RSA), "r1", "the first RSA key signs at once");
	is_str(active_sel(&s, DKR_ED25519), "e1", "the first Ed25519 key too");
	is_int(w.ndns, 2, "both are published");
	is_int(w.nfiles, 2, "both key files exist");
	ok(!dkr_step(&s, wa, 2, t + 1), "a step with nothing to do changes nothing");

	/* Rotate RSA only: r2 waits for publish_wait. */
	wa[0] = want("example.test", DKR_RSA, "r2");
	ok(dkr_step(&s, wa, 2, t + 10), "rotation creates the new key");
	is_int(state_of(&s, "r2"), DKR_PENDING, "r2 is pending");
	is_str(active_sel(&s, DKR_RSA), "r1", "r1 still signs");
	ok(find(w.dns, w.ndns, "r2") >= 0, "r2 is published at once");
	dkr_step(&s, wa, 2, t + 69);
	is_int(state_of(&s, "r2"), DKR_PENDING, "still pending before publish_wait");

	/* Not visible yet: stays pending, asks again after retry. */
	w.invisible = true;
	dkr_step(&s, wa, 2, t + 70);
	is_int(state_of(&s, "r2"), DKR_PENDING, "not visible: still pending");
	w.invisible = false;
	dkr_step(&s, wa, 2, t + 80);
	is_int(state_of(&s, "r2"), DKR_PENDING, "visible again, but before the retry time");
	ok(dkr_step(&s, wa, 2, t + 100), "after the retry time it switches");
	is_str(active_sel(&s, DKR_RSA), "r2", "r2 signs now");
	is_int(state_of(&s, "r1"), DKR_RETIRING, "r1 is retiring");
	is_str(active_sel(&s, DKR_ED25519), "e1", "Ed25519 untouched");
	for (size_t i = 0; i < s.n; i++)
		if (strcmp(s.k[i].selector, "r1") == 0)
			is_int(s.k[i].until, t + 100 + 600, "r1 goes after the grace period");
	ok(find(w.dns, w.ndns, "r1") >= 0, "r1 stays published during grace");

	dkr_step(&s, wa, 2, t + 699);
	ok(find(w.dns, w.ndns, "r1") >= 0 && find(w.files, w.nfiles, "r1") >= 0,
	    "one second before the end of grace, r1 is still there");
	/* DNS down at the end of grace: record and key kept, retried. */
	w.dns_down = true;
	ok(!dkr_step(&s, wa, 2, t + 700), "DNS down: nothing removed");
	ok(find(w.files, w.nfiles, "r1") >= 0, "the key file is kept while its record is up");
	w.dns_down = false;
	dkr_step(&s, wa, 2, t + 710);
	ok(find(w.files, w.nfiles, "r1") >= 0, "not retried before the retry time");
	ok(dkr_step(&s, wa, 2, t + 730), "retried: removed");
	ok(find(w.dns, w.ndns, "r1") < 0, "r1's record is gone");
	ok(find(w.files, w.nfiles, "r1") < 0, "r1's key file is gone");
	is_int(state_of(&s, "r1"), -1, "and r1 is forgotten");
	is_int(w.closed, 1, "its in-memory key was freed");

	/* Dropping an algorithm retires its key. */
	ok(dkr_step(&s, wa, 1, t + 800), "Ed25519 no longer wanted");
	is_int(state_of(&s, "e1"), DKR_RETIRING, "e1 retires");
	ok(dkr_active(&s, "example.test", DKR_ED25519) == NULL, "no Ed25519 signer");

	/* Wanted again before it went: pending, then active again. */
	ok(dkr_step(&s, wa, 2, t + 900), "Ed25519 wanted again");
	is_int(state_of(&s, "e1"), DKR_ACTIVE,
	    "with no other Ed25519 key it signs again at once");

	/* A selector replaced before it ever signed goes without grace. */
	wa[0] = want("example.test", DKR_RSA, "r3");
	dkr_step(&s, wa, 2, t + 1000);
	wa[0] = want("example.test", DKR_RSA, "r4");
	dkr_step(&s, wa, 2, t + 1001);
	ok(state_of(&s, "r3") == -1 && find(w.files, w.nfiles, "r3") < 0,
	    "r3 (never signed) is removed at once");
	is_str(active_sel(&s, DKR_RSA), "r2", "r2 still signs meanwhile");
	dkr_step(&s, wa, 2, t + 1061);
	is_str(active_sel(&s, DKR_RSA), "r4", "then r4");

	/* The state file round-trips. */
	{
		struct buf b;
		struct dkr_key *k = NULL;
		size_t n = 0;
		char err[128];
		buf_init(&b, 0);
		dkr_format(&s, "example.test", &b);
		is_int(dkr_parse(b.data, b.len, "example.test", &k, &n, err,
		    sizeof(err)), 0, "the state file parses back");
		is_int(n, s.n, "every key");
		for (size_t i = 0; i < n && i < s.n; i++)
			ok(strcmp(k[i].selector, s.k[i].selector) == 0 &&
			    k[i].state == s.k[i].state && k[i].since == s.k[i].since &&
			    k[i].until == s.k[i].until && k[i].alg == s.k[i].alg,
			    "key %s the same", k[i].selector);
		free(k);
		buf_free(&b);
	}
	dkr_free(&s);
	is_int(w.opened, w.closed, "every opened key is closed");
}

static void
test_dns_down_at_start(void)
{
	struct world w;
	struct dkr_set s;
	struct dkr_want wa = want("example.test", DKR_RSA, "r1");

	memset(&w, 0, sizeof(w));
	memset(&s, 0, sizeof(s));
	s.grace = 10;
	s.retry = 5;
	s.ops = (struct dkr_ops){ &w, f_open, f_close, f_delete, f_publish,
	    f_visible, f_unpublish, NULL };
	w.dns_down = true;
	dkr_step(&s, &wa, 1, 100);
	is_str(active_sel(&s, DKR_RSA), "r1", "DNS down: the first key signs anyway");
	is_int(w.ndns, 0, "not published");
	w.dns_down = false;
	dkr_step(&s, &wa, 1, 102);
	is_int(w.ndns, 0, "publication waits for the retry time");
	dkr_step(&s, &wa, 1, 105);
	is_int(w.ndns, 1, "then it is published");
	dkr_free(&s);
}

static void
test_parsers(void)
{
	struct dkr_want *w = NULL;
	struct dkr_key *k = NULL;
	size_t n = 0;
	char err[128];
	static const char good[] = "# comment\n\nrsa ptt-rsa-20261122\r\ned25519  e.2026\n";
	static const char *const bad_intent[] = {
		"rsa\n", "rsa a b\n", "dsa x\n", "rsa -x\n", "rsa x-\n", "rsa a..b\n",
		"rsa x\nrsa y\n", "rsa a_b\n", "rsa x\0y\n",
		"rsa 0123456789012345678901234567890123456789012345678901234567890123\n",
	};
	static const char *const bad_state[] = {
		"example.test rsa r1 active 1\n",
		"other.test rsa r1 active 1 0\n",
		"example.test rsa r1 sleeping 1 0\n",
		"example.test rsa r1 active -1 0\n",
		"example.test rsa r1 active 1 0\nexample.test rsa r2 active 1 0\n",
		"example.test rsa r1 active 1 0\nexample.test rsa r1 retiring 1 0\n",
		"example.test rsa r1 active 1 0 extra\n",
		"example.test rsa r1 active 99999999999999999999 0\n",
	};

	is_int(dkr_intent_parse(good, sizeof(good) - 1, "example.test", &w, &n,
	    err, sizeof(err)), 0, "a good intent file parses");
	is_int(n, 2, "two selectors");
	if (n == 2) {
		is_str(w[0].selector, "ptt-rsa-20261122", "rsa selector");
		is_int(w[1].alg, DKR_ED25519, "ed25519 line");
		is_str(w[1].selector, "e.2026", "ed25519 selector");
	}
	for (size_t i = 0; i < sizeof(bad_intent) / sizeof(*bad_intent); i++) {
		size_t len = strlen(bad_intent[i]);
		if (i == 8)
			len = 8;	/* past the NUL */
		n = 0;
		ok(dkr_intent_parse(bad_intent[i], len, "example.test", &w, &n,
		    err, sizeof(err)) != 0 && n == 0, "intent %zu refused: %s", i, err);
	}
	free(w);
	for (size_t i = 0; i < sizeof(bad_state) / sizeof(*bad_state); i++) {
		n = 0;
		ok(dkr_parse(bad_state[i], strlen(bad_state[i]), "example.test",
		    &k, &n, err, sizeof(err)) != 0 && n == 0, "state %zu refused: %s",
		    i, err);
	}
	free(k);
	ok(dkr_selector_valid("a", 1) && dkr_selector_valid("2026-01.x", 9),
	    "selectors: plain and dotted");
	ok(!dkr_selector_valid("", 0) && !dkr_selector_valid(".a", 2) &&
	    !dkr_selector_valid("a.", 2), "empty labels refused");
}

int
main(void)
{
	test_rotation();
	test_dns_down_at_start();
	test_parsers();
	return tap_done();
}
