/*
 * train.h - training the spam model (model.h) from labelled messages.
 *
 * Two learners produce the same linear model over hashed features:
 *   SPAM_ALGO_LR  logistic regression, AdaGrad SGD with L2, a seeded
 *                 deterministic example order, optionally the average of
 *                 several such runs (the default: it measured best, see
 *                 bench/spam/NOTES.md);
 *   SPAM_ALGO_NB  naive Bayes over Robinson's smoothed per-feature
 *                 probabilities f(w), combined as a sum of log-odds;
 *   SPAM_ALGO_NBLR logistic regression whose feature values are the naive
 *                 Bayes log-count ratios (NBSVM-style).
 * The threshold is chosen by k-fold cross-validation on the training set
 * (stratified shuffled folds, or contiguous blocks per directory): the
 * lowest log-odds at which at most target_fp of the ham scored out of fold
 * is flagged (default 0.3%). Same input and options give a
 * byte-identical model.
 *
 * Ownership: a spam_set owns copies of every feature vector and path.
 */
#ifndef PTT_SPAM_TRAIN_H
#define PTT_SPAM_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spam/model.h"

enum { SPAM_ALGO_LR, SPAM_ALGO_NB, SPAM_ALGO_NBLR };

struct spam_set {
	size_t n, cap;
	uint32_t **h;		/* feature hashes of example i */
	uint32_t *nh;
	int8_t *y;		/* 1 spam, 0 ham */
	char **path;
	size_t nspam, nham;
	unsigned opts;		/* SPAM_F_* used for extraction */
};

struct spam_train_opts {
	int algo;		/* SPAM_ALGO_* */
	unsigned bits;		/* hash width, 16..24 */
	unsigned feat_opts;	/* SPAM_F_* */
	bool normalize;		/* scale features by 1/sqrt(n) (LR) */
	int epochs;
	double eta;		/* AdaGrad learning rate */
	double lambda;		/* L2 strength */
	double spam_weight;	/* loss weight of spam examples */
	double alpha;		/* NB smoothing */
	int average;		/* LR: runs averaged (differently seeded orders) */
	unsigned min_df;	/* LR: ignore features in fewer messages */
	bool iterate_avg;	/* LR: each run's weights averaged over its steps
				 * (Polyak-Ruppert) instead of its last ones */
	double dropout;		/* LR: probability a feature is left out of a step */
	uint64_t seed;
	int folds;		/* cross-validation folds for the threshold */
	bool blocked;		/* folds are contiguous blocks, not shuffled */
	double target_fp;	/* ham fraction allowed above the threshold */
};

void spam_train_defaults(struct spam_train_opts *o);

void spam_set_init(struct spam_set *s, unsigned feat_opts);
void spam_set_free(struct spam_set *s);
/* Extract one message and add it with label spam (0/1). */
void spam_set_add(struct spam_set *s, struct spam_feats *scratch,
    const uint8_t *msg, size_t len, int spam, const char *path);
/*
 * Add every regular file of dir (in byte order of names; a maildir's cur/
 * and new/ too) whose name ends in suffix (NULL or "": all, except names
 * starting with '.'). Returns 0 or PTT_EIO (errno set) when dir cannot be
 * read; *added counts the messages.
 */
int spam_set_add_dir(struct spam_set *s, const char *dir, const char *suffix,
    int spam, size_t *added);

/* The regular files of dir as paths "dir/name", selected and ordered as
 * spam_set_add_dir reads them (cur/ and new/ of a maildir too). 0 or
 * PTT_EIO (errno set); free with spam_paths_free(). */
int spam_list_dir(const char *dir, const char *suffix, char ***paths,
    size_t *n);
void spam_paths_free(char **paths, size_t n);

/* Fit on the examples idx[0..n) into m (initialised here). */
void spam_train_fit(const struct spam_set *s, const size_t *idx, size_t n,
    const struct spam_train_opts *o, struct spam_model *m);
/* Out-of-fold log-odds of every example (k = o->folds). */
void spam_train_cv(const struct spam_set *s, const struct spam_train_opts *o,
    double *z);
/* The threshold for target_fp given every example's log-odds. */
double spam_train_threshold(const struct spam_set *s, const double *z,
    double target_fp);
/* Cross-validate for the threshold, then fit on everything. z (may be
 * NULL) receives the out-of-fold log-odds. */
void spam_train(const struct spam_set *s, const struct spam_train_opts *o,
    struct spam_model *m, double *z);

#endif
