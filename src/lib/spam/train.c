/*
 * train.c - training the spam model (see train.h).
 *
 * Trusts the messages it reads no more than the classifier does (they go
 * through spam_extract); trusts the directories named by the operator.
 * Determinism: files are read in sorted order, the example order comes
 * from a seeded xorshift generator, and all arithmetic is sequential.
 */
#include "spam/train.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/err.h"
#include "util/mem.h"


void
spam_train_defaults(struct spam_train_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->algo = SPAM_ALGO_LR;
	o->bits = 20;
	o->feat_opts = SPAM_F_SHAPES | SPAM_F_HTMLATTRS;
	o->normalize = true;
	o->epochs = 12;
	o->eta = 1.0;
	o->lambda = 1e-6;
	o->spam_weight = 1.0;
	o->alpha = 1.0;
	o->seed = 0x7074742d7370616dULL;
	o->folds = 5;
	o->target_fp = 0.003;
	o->average = 10;
	o->min_df = 2;
}

void
spam_set_init(struct spam_set *s, unsigned feat_opts)
{
	memset(s, 0, sizeof(*s));
	s->opts = feat_opts;
}

void
spam_set_free(struct spam_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->h[i]);
		free(s->path[i]);
	}
	free(s->h);
	free(s->nh);
	free(s->y);
	free(s->path);
	memset(s, 0, sizeof(*s));
}

void
spam_set_add(struct spam_set *s, struct spam_feats *scratch,
    const uint8_t *msg, size_t len, int spam, const char *path)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->h = xreallocarray(s->h, s->cap, sizeof(*s->h));
		s->nh = xreallocarray(s->nh, s->cap, sizeof(*s->nh));
		s->y = xreallocarray(s->y, s->cap, sizeof(*s->y));
		s->path = xreallocarray(s->path, s->cap, sizeof(*s->path));
	}
	spam_extract(scratch, msg, len);
	s->h[s->n] = xmemdup(scratch->h, scratch->n * sizeof(uint32_t));
	s->nh[s->n] = (uint32_t)scratch->n;
	s->y[s->n] = spam ? 1 : 0;
	s->path[s->n] = xstrdup(path ? path : "");
	if (spam)
		s->nspam++;
	else
		s->nham++;
	s->n++;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
suffix_ok(const char *name, const char *suffix)
{
	size_t nl = strlen(name), sl;

	if (name[0] == '.')
		return false;
	if (suffix == NULL || suffix[0] == '\0')
		return true;
	sl = strlen(suffix);
	return nl >= sl && strcmp(name + nl - sl, suffix) == 0;
}

/* Append the regular files of dir whose names pass suffix_ok, in byte
 * order of names, to *paths. 0 or PTT_EIO (errno set). */
static int
list1(const char *dir, const char *suffix, char ***paths, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t nn = 0, cap = 0;

	if (d == NULL)
		return PTT_EIO;
	while ((e = readdir(d)) != NULL) {
		if (!suffix_ok(e->d_name, suffix))
			continue;
		if (nn == cap) {
			cap = cap ? cap * 2 : 256;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[nn++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (nn > 0)
		qsort(names, nn, sizeof(*names), cmp_str);
	for (size_t i = 0; i < nn; i++) {
		char path[4096];
		struct stat st;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) <
		    sizeof(path) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			*paths = xreallocarray(*paths, *n + 1, sizeof(**paths));
			(*paths)[(*n)++] = xstrdup(path);
		}
		free(names[i]);
	}
	free(names);
	return 0;
}

int
spam_list_dir(const char *dir, const char *suffix, char ***paths, size_t *n)
{
	char sub[4096];
	struct stat st;
	int ret;

	*paths = NULL;
	*n = 0;
	ret = list1(dir, suffix, paths, n);
	/* a maildir keeps its messages in cur/ and new/ */
	for (int k = 0; ret == 0 && k < 2; k++) {
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, k ? "new" : "cur") <
		    sizeof(sub) && stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			ret = list1(sub, suffix, paths, n);
	}
	if (ret != 0) {
		int e = errno;

		spam_paths_free(*paths, *n);
		*paths = NULL;
		*n = 0;
		errno = e;
	}
	return ret;
}

void
spam_paths_free(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

int
spam_set_add_dir(struct spam_set *s, const char *dir, const char *suffix,
    int spam, size_t *added)
{
	struct spam_feats f;
	struct buf msg;
	char **paths;
	size_t n;

	*added = 0;
	if (spam_list_dir(dir, suffix, &paths, &n) != 0)
		return PTT_EIO;
	spam_feats_init(&f, s->opts, false);
	buf_init(&msg, SPAM_MSG_MAX);
	for (size_t i = 0; i < n; i++) {
		if (spam_read_file(paths[i], &msg) == 0) {
			spam_set_add(s, &f, (const uint8_t *)msg.data, msg.len, spam,
			    paths[i]);
			(*added)++;
		}
	}
	buf_free(&msg);
	spam_feats_free(&f);
	spam_paths_free(paths, n);
	return 0;
}

/* xorshift64* : small, fast, and the same everywhere */
static uint64_t
rnd(uint64_t *st)
{
	uint64_t x = *st;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*st = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static void
shuffle(size_t *a, size_t n, uint64_t *st)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(rnd(st) % i), t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

static double
sigmoid(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

static void
quantize(const double *w, size_t nw, struct spam_model *m)
{
	double max = 0;

	for (size_t i = 0; i < nw; i++)
		if (fabs(w[i]) > max)
			max = fabs(w[i]);
	m->scale = max > 0 ? (float)(max / 32767.0) : 1.0f;
	for (size_t i = 0; i < nw; i++)
		m->w[i] = (int16_t)lrint(w[i] / m->scale);
}

/* One AdaGrad run over the examples in a seeded order, into w and *b. */
static void
lr_run(const struct spam_set *s, const size_t *idx, size_t n,
    const struct spam_train_opts *o, uint64_t seed, const uint8_t *rare,
    const double *v, uint32_t mask, double *w, double *g2, double *wa,
    double *bp)
{
	size_t *order = xmemdup(idx, n * sizeof(*idx));
	double b = 0, gb2 = 0, ba = 0, c = 1;
	uint64_t st = seed | 1, dst = (seed ^ 0x64726f706f7574ULL) | 1;
	uint32_t *kept = o->dropout > 0 ? xreallocarray(NULL, SPAM_FEATS_MAX,
	    sizeof(*kept)) : NULL;
	uint32_t cut = (uint32_t)(o->dropout * 4294967295.0);

	for (int ep = 0; ep < o->epochs; ep++) {
		shuffle(order, n, &st);
		for (size_t k = 0; k < n; k++) {
			size_t i = order[k];
			const uint32_t *h = s->h[i];
			uint32_t nh = s->nh[i];
			double x = o->normalize && nh > 0 ? 1.0 / sqrt((double)nh) : 1.0;
			double z = 0, g;

			if (kept != NULL) {
				/* dropout: each feature kept with 1 - p, scaled up */
				uint32_t nk = 0;

				for (uint32_t j = 0; j < nh && nk < SPAM_FEATS_MAX; j++)
					if ((uint32_t)(rnd(&dst) >> 32) >= cut)
						kept[nk++] = h[j];
				h = kept;
				nh = nk;
				x /= 1.0 - o->dropout;
			}

			for (uint32_t j = 0; j < nh; j++)
				z += v != NULL ? w[h[j] & mask] * v[h[j] & mask] :
				    w[h[j] & mask];
			z = z * x + b;
			g = sigmoid(z) - s->y[i];
			if (s->y[i])
				g *= o->spam_weight;
			for (uint32_t j = 0; j < nh; j++) {
				uint32_t a = h[j] & mask;
				double gj;

				if (rare != NULL && rare[a])
					continue;
				gj = g * x * (v != NULL ? v[a] : 1.0) +
				    o->lambda * w[a];
				g2[a] += gj * gj;
				gj = o->eta * gj / (sqrt(g2[a]) + 1e-8);
				w[a] -= gj;
				if (wa != NULL)
					wa[a] -= c * gj;
			}
			gb2 += g * g;
			g = o->eta * g / (sqrt(gb2) + 1e-8);
			b -= g;
			ba -= c * g;
			c++;
		}
	}
	if (wa != NULL) {
		/* the mean of the iterates: w - (sum of c * step) / c */
		for (size_t a = 0; a <= mask; a++)
			w[a] -= wa[a] / c;
		b -= ba / c;
	}
	*bp = b;
	free(kept);
	free(order);
}

/* Per-class document frequency of every hashed feature over idx[0..n),
 * into cs/ch (nw zeroed counters each); *ns, *nhm: messages per class. */
static void
class_counts(const struct spam_set *s, const size_t *idx, size_t n,
    uint32_t mask, uint32_t *cs, uint32_t *ch, double *ns, double *nhm)
{
	*ns = *nhm = 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = idx[k];

		for (uint32_t j = 0; j < s->nh[i]; j++)
			(s->y[i] ? cs : ch)[s->h[i][j] & mask]++;
		if (s->y[i])
			(*ns)++;
		else
			(*nhm)++;
	}
}

/*
 * The naive Bayes log-count ratio of every hashed feature over the training
 * examples, r = log(P(f | spam) / P(f | ham)) with per-class document
 * frequencies smoothed by alpha (Wang and Manning 2012, "Baselines and
 * bigrams"): NB-weighted logistic regression uses r as the feature's value.
 */
static double *
nb_ratios(const struct spam_set *s, const size_t *idx, size_t n,
    const struct spam_train_opts *o, uint32_t mask, size_t nw)
{
	uint32_t *cs = xcalloc(nw, sizeof(*cs)), *ch = xcalloc(nw, sizeof(*ch));
	double *r = xcalloc(nw, sizeof(*r)), ns, nhm;

	class_counts(s, idx, n, mask, cs, ch, &ns, &nhm);
	for (size_t a = 0; a < nw; a++) {
		if (cs[a] == 0 && ch[a] == 0)
			continue;
		r[a] = log(((double)cs[a] + o->alpha) / (ns + 2 * o->alpha)) -
		    log(((double)ch[a] + o->alpha) / (nhm + 2 * o->alpha));
	}
	free(cs);
	free(ch);
	return r;
}

/*
 * Logistic regression: the average of o->average runs in differently
 * seeded example orders (a linear model, so averaging the weights averages
 * the log-odds), ignoring features seen in fewer than o->min_df messages.
 * With SPAM_ALGO_NBLR a feature's value is its NB log-count ratio instead
 * of 1; the model stores weight * ratio, so scoring is unchanged.
 */
static void
fit_lr(const struct spam_set *s, const size_t *idx, size_t n,
    const struct spam_train_opts *o, struct spam_model *m)
{
	size_t nw = (size_t)1 << o->bits;
	double *w = xcalloc(nw, sizeof(*w)), *wr = xcalloc(nw, sizeof(*wr));
	double *g2 = xcalloc(nw, sizeof(*g2)), bsum = 0;
	double *wa = o->iterate_avg ? xcalloc(nw, sizeof(*wa)) : NULL;
	uint8_t *rare = NULL;
	uint32_t mask = m->mask;
	int runs = o->average < 1 ? 1 : o->average;
	double *v = o->algo == SPAM_ALGO_NBLR ? nb_ratios(s, idx, n, o, mask, nw) :
	    NULL;

	if (o->min_df > 1) {
		uint8_t *df = xcalloc(nw, 1);

		for (size_t k = 0; k < n; k++)
			for (uint32_t j = 0; j < s->nh[idx[k]]; j++) {
				uint32_t a = s->h[idx[k]][j] & mask;

				if (df[a] < 255)
					df[a]++;
			}
		rare = df;
		for (size_t a = 0; a < nw; a++)
			rare[a] = df[a] < o->min_df;
	}
	for (int r = 0; r < runs; r++) {
		double b;

		memset(wr, 0, nw * sizeof(*wr));
		memset(g2, 0, nw * sizeof(*g2));
		if (wa != NULL)
			memset(wa, 0, nw * sizeof(*wa));
		lr_run(s, idx, n, o, o->seed + 0x9e3779b97f4a7c15ULL * (uint64_t)r,
		    rare, v, mask, wr, g2, wa, &b);
		for (size_t a = 0; a < nw; a++)
			w[a] += wr[a] / runs;
		bsum += b / runs;
	}
	for (size_t a = 0; v != NULL && a < nw; a++)
		w[a] *= v[a];
	quantize(w, nw, m);
	m->bias = (float)bsum;
	free(v);
	free(rare);
	free(w);
	free(wr);
	free(g2);
	free(wa);
}

static void
fit_nb(const struct spam_set *s, const size_t *idx, size_t n,
    const struct spam_train_opts *o, struct spam_model *m)
{
	size_t nw = (size_t)1 << o->bits;
	uint32_t *cs = xcalloc(nw, sizeof(*cs)), *ch = xcalloc(nw, sizeof(*ch));
	double *w = xcalloc(nw, sizeof(*w)), ns, nhm, b;
	uint32_t mask = m->mask;

	class_counts(s, idx, n, mask, cs, ch, &ns, &nhm);
	/*
	 * Robinson's f(w): the per-class document frequencies normalised by
	 * class size (so the 5:1 ham:spam imbalance does not bias rare
	 * words), shrunk towards 1/2 with strength alpha; summed as log-odds.
	 */
	b = 0;
	for (size_t a = 0; a < nw; a++) {
		double rs, rh, p, cnt, fw;

		if (cs[a] == 0 && ch[a] == 0)
			continue;	/* never seen in training: no evidence */
		rs = fmin(cs[a], ns) / (ns > 0 ? ns : 1);
		rh = fmin(ch[a], nhm) / (nhm > 0 ? nhm : 1);
		p = rs / (rs + rh);
		cnt = (double)cs[a] + ch[a];
		fw = (o->alpha * 0.5 + cnt * p) / (o->alpha + cnt);
		w[a] = log(fw / (1 - fw));
	}
	quantize(w, nw, m);
	m->bias = (float)b;
	free(w);
	free(cs);
	free(ch);
}

void
spam_train_fit(const struct spam_set *s, const size_t *idx, size_t n,
    const struct spam_train_opts *o, struct spam_model *m)
{
	spam_model_init(m, o->bits, s->opts,
	    o->algo != SPAM_ALGO_NB && o->normalize ? SPAM_MODEL_NORM : 0);
	if (o->algo == SPAM_ALGO_NB)
		fit_nb(s, idx, n, o, m);
	else
		fit_lr(s, idx, n, o, m);
}

static bool
same_dir(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	size_t la = sa ? (size_t)(sa - a) : 0, lb = sb ? (size_t)(sb - b) : 0;

	return la == lb && memcmp(a, b, la) == 0;
}

void
spam_train_cv(const struct spam_set *s, const struct spam_train_opts *o,
    double *z)
{
	size_t *all = xreallocarray(NULL, s->n ? s->n : 1, sizeof(size_t));
	size_t *tr = xreallocarray(NULL, s->n ? s->n : 1, sizeof(size_t));
	int *fold = xcalloc(s->n ? s->n : 1, sizeof(int));
	uint64_t st = (o->seed ^ 0x63763a666f6c6473ULL) | 1;
	size_t cnt[2] = { 0, 0 };
	int k = o->folds < 2 ? 2 : o->folds;

	for (size_t i = 0; i < s->n; i++)
		all[i] = i;
	if (o->blocked) {
		/* contiguous blocks of each input directory in file name
		 * order: held-out messages are newer than most training ones */
		size_t g0 = 0;

		while (g0 < s->n) {
			size_t g1 = g0 + 1;

			while (g1 < s->n && same_dir(s->path[g0], s->path[g1]))
				g1++;
			for (size_t i = g0; i < g1; i++)
				fold[i] = (int)((i - g0) * (size_t)k / (g1 - g0));
			g0 = g1;
		}
	} else {
		/* stratified: deal each class round-robin over the folds */
		shuffle(all, s->n, &st);
		for (size_t i = 0; i < s->n; i++) {
			size_t e = all[i];

			fold[e] = (int)(cnt[s->y[e]]++ % (size_t)k);
		}
	}
	for (int f = 0; f < k; f++) {
		struct spam_model m;
		size_t nt = 0;

		for (size_t i = 0; i < s->n; i++)
			if (fold[i] != f)
				tr[nt++] = i;
		spam_train_fit(s, tr, nt, o, &m);
		for (size_t i = 0; i < s->n; i++)
			if (fold[i] == f)
				z[i] = spam_model_logodds(&m, s->h[i], s->nh[i]);
		spam_model_free(&m);
	}
	free(all);
	free(tr);
	free(fold);
}

static int
cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

double
spam_train_threshold(const struct spam_set *s, const double *z,
    double target_fp)
{
	double *hz = xreallocarray(NULL, s->nham ? s->nham : 1, sizeof(double));
	size_t nh = 0, allowed;
	float t;

	for (size_t i = 0; i < s->n; i++)
		if (!s->y[i])
			hz[nh++] = z[i];
	if (nh == 0) {
		free(hz);
		return 0.0;
	}
	qsort(hz, nh, sizeof(*hz), cmp_desc);
	allowed = (size_t)floor(target_fp * (double)nh);
	if (allowed >= nh)
		allowed = nh - 1;
	/* just above the highest ham that must not be flagged */
	t = (float)hz[allowed];
	while ((double)t <= hz[allowed])
		t = nextafterf(t, INFINITY);
	free(hz);
	return t;
}

void
spam_train(const struct spam_set *s, const struct spam_train_opts *o,
    struct spam_model *m, double *z)
{
	double *oof = z ? z : xcalloc(s->n ? s->n : 1, sizeof(double));
	size_t *all = xreallocarray(NULL, s->n ? s->n : 1, sizeof(size_t));
	double t;

	spam_train_cv(s, o, oof);
	t = spam_train_threshold(s, oof, o->target_fp);
	for (size_t i = 0; i < s->n; i++)
		all[i] = i;
	spam_train_fit(s, all, s->n, o, m);
	m->threshold = (float)t;
	free(all);
	if (z == NULL)
		free(oof);
}
