/*
 * cli.c - the spam classifier's subcommands (see cli.h).
 *
 * Trusts its arguments (the operator's); messages are untrusted and go
 * through spam_extract; a model file is checked by spam_model_load.
 */
#include "spam/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "spam/model.h"
#include "spam/train.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"

#define MAX_DIRS 16

struct args {
	const char *ham[MAX_DIRS], *spam[MAX_DIRS];
	int nham, nspam;
	const char *out, *model, *suffix, *scores;
	bool reasons;
	struct spam_train_opts o;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ptt spam train --ham DIR --spam DIR [-o MODEL] [options]\n"
	    "       ptt spam classify [-m MODEL] [-r] [--suffix S] FILE|DIR...\n"
	    "       ptt spam eval -m MODEL --ham DIR --spam DIR [--suffix S]\n"
	    "       ptt spam cv --ham DIR --spam DIR [options]\n"
	    "training options: --suffix S (only files ending in S)\n"
	    "  --algo lr|nb|nblr  --bits N (16-24)  --epochs N  --eta X  --lambda X\n"
	    "  --spam-weight X  --alpha X  --seed N  --folds N  --target-fp X\n"
	    "  --average N  --min-df N  --dropout P  --iterate-average\n"
	    "features: --shapes --html-attrs (default; --no-shapes --no-html-attrs)\n"
	    "  --bigrams  --header-words  --html-values  --anchors  --url-parts\n"
	    "  --subject-grams  --header-order  --no-normalize\n"
	    "  --blocked-folds (cv: contiguous folds per directory)\n"
	    "  --scores FILE (cv: each message's out-of-fold log-odds)\n");
}

enum {
	O_HAM = 256, O_SPAM, O_SUFFIX, O_ALGO, O_BITS, O_EPOCHS, O_ETA, O_LAMBDA,
	O_SW, O_ALPHA, O_SEED, O_FOLDS, O_TFP, O_NOBI, O_HW, O_NONORM, O_BLOCKED, O_SCORES, O_AVG, O_MINDF, O_SHAPES,
	O_URLPARTS, O_SUBJGRAMS, O_HDRORDER, O_HTMLATTRS, O_ITERAVG, O_DROPOUT,
	O_HTMLVALS, O_ANCHORS, O_NOHTMLATTRS, O_NOSHAPES
};

static bool
num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		return false;
	*out = v;
	return true;
}

static int
parse(int argc, char **argv, struct args *a)
{
	static const struct option lo[] = {
		{ "ham", required_argument, NULL, O_HAM },
		{ "spam", required_argument, NULL, O_SPAM },
		{ "suffix", required_argument, NULL, O_SUFFIX },
		{ "algo", required_argument, NULL, O_ALGO },
		{ "bits", required_argument, NULL, O_BITS },
		{ "epochs", required_argument, NULL, O_EPOCHS },
		{ "eta", required_argument, NULL, O_ETA },
		{ "lambda", required_argument, NULL, O_LAMBDA },
		{ "spam-weight", required_argument, NULL, O_SW },
		{ "alpha", required_argument, NULL, O_ALPHA },
		{ "seed", required_argument, NULL, O_SEED },
		{ "folds", required_argument, NULL, O_FOLDS },
		{ "target-fp", required_argument, NULL, O_TFP },
		{ "bigrams", no_argument, NULL, O_NOBI },
		{ "header-words", no_argument, NULL, O_HW },
		{ "shapes", no_argument, NULL, O_SHAPES },
		{ "url-parts", no_argument, NULL, O_URLPARTS },
		{ "subject-grams", no_argument, NULL, O_SUBJGRAMS },
		{ "header-order", no_argument, NULL, O_HDRORDER },
		{ "html-attrs", no_argument, NULL, O_HTMLATTRS },
		{ "iterate-average", no_argument, NULL, O_ITERAVG },
		{ "dropout", required_argument, NULL, O_DROPOUT },
		{ "html-values", no_argument, NULL, O_HTMLVALS },
		{ "anchors", no_argument, NULL, O_ANCHORS },
		{ "no-html-attrs", no_argument, NULL, O_NOHTMLATTRS },
		{ "no-shapes", no_argument, NULL, O_NOSHAPES },
		{ "no-normalize", no_argument, NULL, O_NONORM },
		{ "blocked-folds", no_argument, NULL, O_BLOCKED },
		{ "scores", required_argument, NULL, O_SCORES },
		{ "average", required_argument, NULL, O_AVG },
		{ "min-df", required_argument, NULL, O_MINDF },
		{ "model", required_argument, NULL, 'm' },
		{ "output", required_argument, NULL, 'o' },
		{ "reasons", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	double v;

	memset(a, 0, sizeof(*a));
	spam_train_defaults(&a->o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:o:r", lo, NULL)) != -1) {
		bool good = true;

		switch (c) {
		case O_HAM:
			if ((good = a->nham < MAX_DIRS))
				a->ham[a->nham++] = optarg;
			break;
		case O_SPAM:
			if ((good = a->nspam < MAX_DIRS))
				a->spam[a->nspam++] = optarg;
			break;
		case O_SUFFIX: a->suffix = optarg; break;
		case O_ALGO:
			if (strcmp(optarg, "lr") == 0)
				a->o.algo = SPAM_ALGO_LR;
			else if (strcmp(optarg, "nb") == 0)
				a->o.algo = SPAM_ALGO_NB;
			else if (strcmp(optarg, "nblr") == 0)
				a->o.algo = SPAM_ALGO_NBLR;
			else
				good = false;
			break;
		case O_BITS:
			if ((good = num(optarg, 16, 24, &v)))
				a->o.bits = (unsigned)v;
			break;
		case O_EPOCHS:
			if ((good = num(optarg, 1, 1000, &v)))
				a->o.epochs = (int)v;
			break;
		case O_ETA: good = num(optarg, 1e-9, 100, &a->o.eta); break;
		case O_LAMBDA: good = num(optarg, 0, 100, &a->o.lambda); break;
		case O_SW: good = num(optarg, 1e-3, 1e3, &a->o.spam_weight); break;
		case O_ALPHA: good = num(optarg, 1e-9, 1e3, &a->o.alpha); break;
		case O_SEED:
			if ((good = num(optarg, 0, 9e15, &v)))
				a->o.seed = (uint64_t)v;
			break;
		case O_FOLDS:
			if ((good = num(optarg, 2, 50, &v)))
				a->o.folds = (int)v;
			break;
		case O_TFP: good = num(optarg, 0, 0.5, &a->o.target_fp); break;
		case O_NOBI: a->o.feat_opts |= SPAM_F_BIGRAMS; break;
		case O_HW: a->o.feat_opts |= SPAM_F_HDRWORDS; break;
		case O_SHAPES: a->o.feat_opts |= SPAM_F_SHAPES; break;
		case O_URLPARTS: a->o.feat_opts |= SPAM_F_URLPARTS; break;
		case O_SUBJGRAMS: a->o.feat_opts |= SPAM_F_SUBJGRAMS; break;
		case O_HDRORDER: a->o.feat_opts |= SPAM_F_HDRORDER; break;
		case O_HTMLATTRS: a->o.feat_opts |= SPAM_F_HTMLATTRS; break;
		case O_ITERAVG: a->o.iterate_avg = true; break;
		case O_DROPOUT: good = num(optarg, 0, 0.95, &a->o.dropout); break;
		case O_HTMLVALS: a->o.feat_opts |= SPAM_F_HTMLVALS; break;
		case O_ANCHORS: a->o.feat_opts |= SPAM_F_ANCHORS; break;
		case O_NOHTMLATTRS: a->o.feat_opts &= ~(unsigned)SPAM_F_HTMLATTRS; break;
		case O_NOSHAPES: a->o.feat_opts &= ~(unsigned)SPAM_F_SHAPES; break;
		case O_NONORM: a->o.normalize = false; break;
		case O_BLOCKED: a->o.blocked = true; break;
		case O_SCORES: a->scores = optarg; break;
		case O_AVG:
			if ((good = num(optarg, 1, 100, &v)))
				a->o.average = (int)v;
			break;
		case O_MINDF:
			if ((good = num(optarg, 1, 255, &v)))
				a->o.min_df = (unsigned)v;
			break;
		case 'm': a->model = optarg; break;
		case 'o': a->out = optarg; break;
		case 'r': a->reasons = true; break;
		default: good = false; break;
		}
		if (!good) {
			if (c != '?')
				fprintf(stderr, "ptt spam: bad value for option: %s\n",
				    optarg ? optarg : "");
			usage();
			return -1;
		}
	}
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
load_set(const struct args *a, struct spam_set *s)
{
	spam_set_init(s, a->o.feat_opts);
	for (int k = 0; k < 2; k++) {
		int nd = k ? a->nspam : a->nham;

		for (int i = 0; i < nd; i++) {
			const char *d = k ? a->spam[i] : a->ham[i];
			size_t added;

			if (spam_set_add_dir(s, d, a->suffix, k, &added) != 0) {
				fprintf(stderr, "ptt spam: %s: %s\n", d, strerror(errno));
				spam_set_free(s);
				return -1;
			}
			if (added == 0)
				fprintf(stderr, "ptt spam: warning: no messages in %s\n", d);
		}
	}
	if (s->nham == 0 || s->nspam == 0) {
		fprintf(stderr, "ptt spam: need both ham and spam messages (got %zu ham, %zu spam)\n",
		    s->nham, s->nspam);
		spam_set_free(s);
		return -1;
	}
	return 0;
}

/* Out-of-fold recall at the thresholds allowing 0, 0.1%, 0.3% and 1% FP. */
static void
report_cv(const struct spam_set *s, const double *z, const struct spam_train_opts *o)
{
	static const double fps[] = { 0.0, 0.001, 0.003, 0.01 };
	double t0 = spam_train_threshold(s, z, o->target_fp);

	for (size_t k = 0; k <= sizeof(fps) / sizeof(fps[0]); k++) {
		double t = k < sizeof(fps) / sizeof(fps[0]) ?
		    spam_train_threshold(s, z, fps[k]) : t0;
		size_t fp = 0, tp = 0;

		for (size_t i = 0; i < s->n; i++) {
			if (z[i] < t)
				continue;
			if (s->y[i])
				tp++;
			else
				fp++;
		}
		printf("cv %s fp<=%.4f threshold %.3f: ham flagged %zu/%zu (%.2f%%), spam caught %zu/%zu (%.2f%%)\n",
		    k < sizeof(fps) / sizeof(fps[0]) ? "at" : "chosen",
		    k < sizeof(fps) / sizeof(fps[0]) ? fps[k] : o->target_fp, t,
		    fp, s->nham, 100.0 * (double)fp / (double)s->nham,
		    tp, s->nspam, 100.0 * (double)tp / (double)s->nspam);
	}
}

static int
write_scores(const char *path, const struct spam_set *s, const double *z)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%s\t%s\t%.4f\n", s->path[i], s->y[i] ? "spam" : "ham", z[i]);
	return fclose(f) == 0 ? 0 : -1;
}

static const char *
model_path(const struct args *a)
{
	const char *env = getenv("PTT_SPAM_MODEL");

	if (a->model != NULL)
		return a->model;
	return env != NULL && env[0] != '\0' ? env : SPAM_MODEL_PATH;
}

static int
cmd_train(int argc, char **argv, bool cv_only)
{
	struct args a;
	struct spam_set s;
	struct spam_model m;
	double *z, t0;
	int ret = 0;

	if (parse(argc, argv, &a) != 0)
		return 1;
	/* Without -o the model the services read is replaced. */
	if (!cv_only && a.out == NULL)
		a.out = model_path(&a);
	if (a.nham == 0 || a.nspam == 0 || optind != argc) {
		usage();
		return 1;
	}
	t0 = now();
	if (load_set(&a, &s) != 0)
		return 1;
	fprintf(stderr, "ptt spam: %zu ham, %zu spam read and tokenized in %.1f s\n",
	    s.nham, s.nspam, now() - t0);
	z = xcalloc(s.n, sizeof(*z));
	if (cv_only) {
		spam_train_cv(&s, &a.o, z);
		report_cv(&s, z, &a.o);
		if (a.scores != NULL && write_scores(a.scores, &s, z) != 0) {
			fprintf(stderr, "ptt spam: cannot write %s: %s\n", a.scores,
			    strerror(errno));
			ret = 1;
		}
	} else {
		spam_train(&s, &a.o, &m, z);
		report_cv(&s, z, &a.o);
		if (spam_model_save(&m, a.out) != 0) {
			fprintf(stderr, "ptt spam: cannot write %s: %s\n", a.out,
			    strerror(errno));
			ret = 1;
		} else {
			fprintf(stderr, "ptt spam: wrote %s (2^%u weights, threshold %.3f)\n",
			    a.out, m.bits, (double)m.threshold);
		}
		spam_model_free(&m);
	}
	free(z);
	spam_set_free(&s);
	return ret;
}

static int
load_model(const struct args *a, struct spam_model *m)
{
	const char *why, *path = model_path(a);
	int ret = spam_model_load(m, path, &why);

	if (ret == PTT_EIO)
		fprintf(stderr, "ptt spam: cannot read model %s: %s\n", path,
		    strerror(errno));
	else if (ret != 0)
		fprintf(stderr, "ptt spam: bad model %s: %s\n", path, why);
	return ret;
}

/* Classify one file and print its line; 0 or 1 (unreadable). */
static int
classify_one(const struct args *a, const struct spam_model *m,
    struct spam_feats *f, struct buf *msg, const char *path)
{
	struct spam_verdict v;

	if (spam_read_file(path, msg) != 0) {
		fprintf(stderr, "ptt spam: %s: %s\n", path, strerror(errno));
		return 1;
	}
	spam_classify(m, f, (const uint8_t *)msg->data, msg->len, &v);
	printf("%s\t%s\t%.4f", path, v.spam ? "spam" : "ham", v.score);
	for (int k = 0; a->reasons && k < v.nreasons; k++)
		printf("%s%s:%+.2f", k ? " " : "\t", v.reason[k].name,
		    v.reason[k].weight);
	printf("\n");
	return 0;
}

static int
cmd_classify(int argc, char **argv)
{
	struct args a;
	struct spam_model m;
	struct spam_feats f;
	struct buf msg;
	int ret = 0;

	if (parse(argc, argv, &a) != 0)
		return 1;
	if (optind >= argc) {
		usage();
		return 1;
	}
	if (load_model(&a, &m) != 0)
		return 1;
	spam_feats_init(&f, m.opts, a.reasons);
	buf_init(&msg, SPAM_MSG_MAX);
	for (int i = optind; i < argc; i++) {
		struct stat st;
		char **paths;
		size_t n;

		if (stat(argv[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
			ret |= classify_one(&a, &m, &f, &msg, argv[i]);
			continue;
		}
		/* a directory or maildir: every message in it */
		if (spam_list_dir(argv[i], a.suffix, &paths, &n) != 0) {
			fprintf(stderr, "ptt spam: %s: %s\n", argv[i], strerror(errno));
			ret = 1;
			continue;
		}
		for (size_t k = 0; k < n; k++)
			ret |= classify_one(&a, &m, &f, &msg, paths[k]);
		spam_paths_free(paths, n);
	}
	buf_free(&msg);
	spam_feats_free(&f);
	spam_model_free(&m);
	if (fflush(stdout) != 0)
		ret = 1;
	return ret;
}

/* Score every message of the named directories with the model. */
static int
cmd_eval(int argc, char **argv)
{
	struct args a;
	struct spam_model m;
	struct spam_set s;
	double t0, t1;
	size_t fp = 0, tp = 0;

	if (parse(argc, argv, &a) != 0)
		return 1;
	if (a.nham == 0 || a.nspam == 0 || optind != argc) {
		usage();
		return 1;
	}
	if (load_model(&a, &m) != 0)
		return 1;
	a.o.feat_opts = m.opts;
	t0 = now();
	if (load_set(&a, &s) != 0) {
		spam_model_free(&m);
		return 1;
	}
	for (size_t i = 0; i < s.n; i++) {
		bool spam = spam_model_logodds(&m, s.h[i], s.nh[i]) >= m.threshold;

		if (spam && s.y[i])
			tp++;
		else if (spam)
			fp++;
	}
	t1 = now();
	printf("ham %zu flagged %zu (%.3f%%)\nspam %zu caught %zu (%.3f%%)\n"
	    "messages/s %.0f\n",
	    s.nham, fp, 100.0 * (double)fp / (double)s.nham,
	    s.nspam, tp, 100.0 * (double)tp / (double)s.nspam,
	    (double)s.n / (t1 - t0));
	spam_set_free(&s);
	spam_model_free(&m);
	return 0;
}

int
spam_cli(int argc, char **argv)
{
	if (argc < 1) {
		usage();
		return 1;
	}
	if (strcmp(argv[0], "train") == 0)
		return cmd_train(argc, argv, false);
	if (strcmp(argv[0], "cv") == 0)
		return cmd_train(argc, argv, true);
	if (strcmp(argv[0], "classify") == 0)
		return cmd_classify(argc, argv);
	if (strcmp(argv[0], "eval") == 0)
		return cmd_eval(argc, argv);
	usage();
	return 1;
}
