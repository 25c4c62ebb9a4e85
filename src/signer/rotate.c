/*
 * rotate.c - the DKIM key rotation state machine and its two file formats
 * (see rotate.h). No I/O here: keys, DNS and the clock come from the
 * caller, so tests drive it step by step.
 *
 * Trusts: nothing in the files it parses (every field is checked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "signer/rotate.h"
#include "util/err.h"
#include "util/mem.h"

static const char *const alg_names[DKR_NALG] = { "rsa", "ed25519" };
static const char *const state_names[] = { "pending", "active", "retiring" };

const char *
dkr_alg_name(enum dkr_alg a)
{
	return (unsigned)a < DKR_NALG ? alg_names[a] : "?";
}

const char *
dkr_state_name(enum dkr_state st)
{
	return (unsigned)st <= DKR_RETIRING ? state_names[st] : "?";
}

int
dkr_alg_parse(const char *s, size_t n, enum dkr_alg *a)
{
	for (int i = 0; i < DKR_NALG; i++)
		if (strlen(alg_names[i]) == n && strncasecmp(s, alg_names[i], n) == 0) {
			*a = (enum dkr_alg)i;
			return 0;
		}
	return PTT_EINVAL;
}

bool
dkr_selector_valid(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n >= DKR_SEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

static bool
same(const struct dkr_key *k, const char *domain, enum dkr_alg alg)
{
	return k->alg == alg && strcasecmp(k->domain, domain) == 0;
}

const struct dkr_key *
dkr_active(const struct dkr_set *s, const char *domain, enum dkr_alg alg)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->k[i].state == DKR_ACTIVE && same(&s->k[i], domain, alg))
			return &s->k[i];
	return NULL;
}

static bool
wanted(const struct dkr_key *k, const struct dkr_want *w, size_t nw)
{
	for (size_t i = 0; i < nw; i++)
		if (same(k, w[i].domain, w[i].alg) &&
		    strcmp(k->selector, w[i].selector) == 0)
			return true;
	return false;
}

static bool
alg_wanted(const struct dkr_key *k, const struct dkr_want *w, size_t nw)
{
	for (size_t i = 0; i < nw; i++)
		if (same(k, w[i].domain, w[i].alg))
			return true;
	return false;
}

static void
tell(struct dkr_set *s, const struct dkr_key *k, const char *what)
{
	if (s->ops.changed != NULL)
		s->ops.changed(s->ops.arg, k, what);
}

static void
set_state(struct dkr_set *s, struct dkr_key *k, enum dkr_state st,
    long long now, long long until)
{
	k->state = st;
	k->since = now;
	k->until = until;
	tell(s, k, dkr_state_name(st));
}

static void
remove_at(struct dkr_set *s, size_t i)
{
	memmove(&s->k[i], &s->k[i + 1], (s->n - i - 1) * sizeof(*s->k));
	s->n--;
}

bool
dkr_step(struct dkr_set *s, const struct dkr_want *w, size_t nw, long long now)
{
	bool changed = false;

	/* Wanted keys exist (a retiring one wanted again waits as pending). */
	for (size_t i = 0; i < nw; i++) {
		struct dkr_key *k = NULL;
		for (size_t j = 0; j < s->n && k == NULL; j++)
			if (same(&s->k[j], w[i].domain, w[i].alg) &&
			    strcmp(s->k[j].selector, w[i].selector) == 0)
				k = &s->k[j];
		if (k == NULL) {
			s->k = xreallocarray(s->k, s->n + 1, sizeof(*s->k));
			k = &s->k[s->n];
			memset(k, 0, sizeof(*k));
			ptt_strlcpy(k->domain, w[i].domain, sizeof(k->domain));
			ptt_strlcpy(k->selector, w[i].selector, sizeof(k->selector));
			k->alg = w[i].alg;
			k->state = DKR_PENDING;
			k->since = now;
			if (s->ops.key_open(s->ops.arg, k) != 0)
				continue;	/* not added; tried again next step */
			s->n++;
			tell(s, k, "created");
			changed = true;
		} else if (k->state == DKR_RETIRING) {
			set_state(s, k, DKR_PENDING, now, 0);
			changed = true;
		}
	}

	/* Every key that should be in DNS is, as far as the primary says. */
	for (size_t i = 0; i < s->n; i++) {
		struct dkr_key *k = &s->k[i];
		if (k->published || now < k->retry_at)
			continue;
		if (k->state == DKR_RETIRING && now >= k->until)
			continue;	/* about to go */
		if (s->ops.publish(s->ops.arg, k) == 0)
			k->published = true;
		else
			k->retry_at = now + s->retry;
	}

	/* Pending keys become active; the active key they replace retires. */
	for (size_t i = 0; i < s->n; i++) {
		struct dkr_key *k = &s->k[i];
		struct dkr_key *old = NULL;
		if (k->state != DKR_PENDING)
			continue;
		if (!wanted(k, w, nw)) {	/* replaced before it signed */
			set_state(s, k, DKR_RETIRING, now, now);
			changed = true;
			continue;
		}
		old = (struct dkr_key *)dkr_active(s, k->domain, k->alg);
		if (old != NULL) {
			if (!k->published || now < k->since + s->publish_wait ||
			    now < k->retry_at)
				continue;
			if (s->ops.visible(s->ops.arg, k) != 0) {
				k->retry_at = now + s->retry;
				continue;
			}
			set_state(s, old, DKR_RETIRING, now, now + s->grace);
		}
		set_state(s, k, DKR_ACTIVE, now, 0);
		changed = true;
	}

	/* An active key whose algorithm (or domain) is no longer wanted. */
	for (size_t i = 0; i < s->n; i++) {
		struct dkr_key *k = &s->k[i];
		if (k->state == DKR_ACTIVE && !alg_wanted(k, w, nw)) {
			set_state(s, k, DKR_RETIRING, now, now + s->grace);
			changed = true;
		}
	}

	/* Past the grace period: the record goes, then the key. */
	for (size_t i = 0; i < s->n;) {
		struct dkr_key *k = &s->k[i];
		if (k->state != DKR_RETIRING || now < k->until ||
		    now < k->retry_at) {
			i++;
			continue;
		}
		if (s->ops.unpublish(s->ops.arg, k) != 0 ||
		    s->ops.key_delete(s->ops.arg, k) != 0) {
			k->retry_at = now + s->retry;
			i++;
			continue;
		}
		tell(s, k, "removed");
		s->ops.key_close(s->ops.arg, k);
		remove_at(s, i);
		changed = true;
	}
	return changed;
}

void
dkr_free(struct dkr_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->k[i].key != NULL)
			s->ops.key_close(s->ops.arg, &s->k[i]);
	free(s->k);
	s->k = NULL;
	s->n = 0;
}

void
dkr_format(const struct dkr_set *s, const char *domain, struct buf *out)
{
	buf_adds(out, "# ptt-signer: DKIM keys (domain alg selector state "
	    "since until)\n");
	for (size_t i = 0; i < s->n; i++) {
		const struct dkr_key *k = &s->k[i];
		if (strcasecmp(k->domain, domain) != 0)
			continue;
		buf_addf(out, "%s %s %s %s %lld %lld\n", k->domain,
		    dkr_alg_name(k->alg), k->selector,
		    dkr_state_name(k->state), k->since, k->until);
	}
}

/* ---- parsing ---- */

#define MAXF 8

/* Split one line into at most MAXF fields; returns their count, or -1
 * when there are more. */
static int
fields(const char *p, size_t n, const char **f, size_t *fl)
{
	int nf = 0;
	size_t i = 0;

	while (i < n) {
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == n)
			break;
		if (nf == MAXF)
			return -1;
		f[nf] = p + i;
		while (i < n && p[i] != ' ' && p[i] != '\t')
			i++;
		fl[nf] = (size_t)(p + i - f[nf]);
		nf++;
	}
	return nf;
}

static bool
number(const char *s, size_t n, long long *v)
{
	long long x = 0;

	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return true;
}

/* Call fn for each line (without its end, comments and blank lines
 * skipped); stops at the first non-zero return. */
static int
each_line(const char *text, size_t len, char *err, size_t errlen,
    int (*fn)(void *, const char **, size_t *, int, char *, size_t),
    void *arg)
{
	size_t off = 0;
	int line = 0;

	while (off < len) {
		const char *p = text + off, *f[MAXF];
		const char *e = memchr(p, '\n', len - off);
		size_t n = e ? (size_t)(e - p) : len - off, fl[MAXF];
		char why[160];
		int nf, r;

		off += n + (e != NULL);
		line++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (memchr(p, '\0', n) != NULL) {
			snprintf(err, errlen, "%d: NUL byte", line);
			return PTT_EINVAL;
		}
		nf = fields(p, n, f, fl);
		if (nf == 0 || f[0][0] == '#')
			continue;
		if (nf < 0) {
			snprintf(err, errlen, "%d: too many fields", line);
			return PTT_EINVAL;
		}
		why[0] = '\0';
		if ((r = fn(arg, f, fl, nf, why, sizeof(why))) != 0) {
			snprintf(err, errlen, "%d: %s", line, why);
			return r;
		}
	}
	return 0;
}

struct parse_ctx {
	const char *domain;
	struct dkr_key **k;
	struct dkr_want **w;
	size_t *n;
	size_t first;	/* entries before this call */
};

static int
state_line(void *arg, const char **f, size_t *fl, int nf, char *why,
    size_t wl)
{
	struct parse_ctx *c = arg;
	struct dkr_key k;
	size_t i;
	int st = -1;

	memset(&k, 0, sizeof(k));
	if (nf != 6) {
		snprintf(why, wl, "want DOMAIN ALG SELECTOR STATE SINCE UNTIL");
		return PTT_EINVAL;
	}
	if (fl[0] != strlen(c->domain) || strncasecmp(f[0], c->domain, fl[0]) != 0) {
		snprintf(why, wl, "not a key of %s", c->domain);
		return PTT_EINVAL;
	}
	if (dkr_alg_parse(f[1], fl[1], &k.alg) != 0) {
		snprintf(why, wl, "unknown algorithm");
		return PTT_EINVAL;
	}
	if (!dkr_selector_valid(f[2], fl[2])) {
		snprintf(why, wl, "bad selector");
		return PTT_EINVAL;
	}
	for (int j = 0; j <= DKR_RETIRING; j++)
		if (strlen(state_names[j]) == fl[3] &&
		    strncmp(f[3], state_names[j], fl[3]) == 0)
			st = j;
	if (st < 0) {
		snprintf(why, wl, "unknown state");
		return PTT_EINVAL;
	}
	if (!number(f[4], fl[4], &k.since) || !number(f[5], fl[5], &k.until)) {
		snprintf(why, wl, "bad time");
		return PTT_EINVAL;
	}
	k.state = (enum dkr_state)st;
	ptt_strlcpy(k.domain, c->domain, sizeof(k.domain));
	memcpy(k.selector, f[2], fl[2]);
	k.selector[fl[2]] = '\0';
	for (i = c->first; i < *c->n; i++)
		if ((*c->k)[i].alg == k.alg &&
		    strcmp((*c->k)[i].selector, k.selector) == 0) {
			snprintf(why, wl, "selector listed twice");
			return PTT_EINVAL;
		}
	if (k.state == DKR_ACTIVE)
		for (i = c->first; i < *c->n; i++)
			if ((*c->k)[i].alg == k.alg &&
			    (*c->k)[i].state == DKR_ACTIVE) {
				snprintf(why, wl, "two active %s keys",
				    dkr_alg_name(k.alg));
				return PTT_EINVAL;
			}
	*c->k = xreallocarray(*c->k, *c->n + 1, sizeof(**c->k));
	(*c->k)[(*c->n)++] = k;
	return 0;
}

int
dkr_parse(const char *text, size_t len, const char *domain,
    struct dkr_key **k, size_t *n, char *err, size_t errlen)
{
	struct parse_ctx c = { domain, k, NULL, n, *n };
	int r = each_line(text, len, err, errlen, state_line, &c);

	if (r != 0)
		*n = c.first;	/* nothing half-read */
	return r;
}

static int
intent_line(void *arg, const char **f, size_t *fl, int nf, char *why,
    size_t wl)
{
	struct parse_ctx *c = arg;
	struct dkr_want w;

	memset(&w, 0, sizeof(w));
	if (nf != 2) {
		snprintf(why, wl, "want ALG SELECTOR (rsa or ed25519)");
		return PTT_EINVAL;
	}
	if (dkr_alg_parse(f[0], fl[0], &w.alg) != 0) {
		snprintf(why, wl, "unknown algorithm (rsa or ed25519)");
		return PTT_EINVAL;
	}
	if (!dkr_selector_valid(f[1], fl[1])) {
		snprintf(why, wl, "bad selector");
		return PTT_EINVAL;
	}
	for (size_t i = c->first; i < *c->n; i++)
		if ((*c->w)[i].alg == w.alg) {
			snprintf(why, wl, "a second %s selector",
			    dkr_alg_name(w.alg));
			return PTT_EINVAL;
		}
	ptt_strlcpy(w.domain, c->domain, sizeof(w.domain));
	memcpy(w.selector, f[1], fl[1]);
	w.selector[fl[1]] = '\0';
	*c->w = xreallocarray(*c->w, *c->n + 1, sizeof(**c->w));
	(*c->w)[(*c->n)++] = w;
	return 0;
}

int
dkr_intent_parse(const char *text, size_t len, const char *domain,
    struct dkr_want **w, size_t *n, char *err, size_t errlen)
{
	struct parse_ctx c = { domain, NULL, w, n, *n };
	int r;

	if (strlen(domain) >= DKR_DOMAIN_MAX) {
		snprintf(err, errlen, "domain too long");
		return PTT_EINVAL;
	}
	r = each_line(text, len, err, errlen, intent_line, &c);
	if (r != 0)
		*n = c.first;
	return r;
}
