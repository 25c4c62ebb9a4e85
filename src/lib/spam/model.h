/*
 * model.h - the spam classifier's model: a linear model over hashed
 * features (feat.h), its file format, and scoring.
 *
 * log-odds z = bias + (sum of weight[hash & mask] over the message's n
 * features) * scale, divided by sqrt(n) when the model normalizes; the
 * score is sigmoid(z). A message is spam when z >= threshold; the
 * threshold is chosen at training time by cross-validation (train.h).
 *
 * File format (little-endian), version 1:
 *	0   8  magic "PTTSPAM\n"
 *	8   4  version (1)
 *	12  4  hash bits (16..24): 2^bits weights
 *	16  4  feature options (SPAM_F_*)
 *	20  4  flags (SPAM_MODEL_NORM)
 *	24  4  float32 weight scale (weight = int16 * scale)
 *	28  4  float32 bias
 *	32  4  float32 threshold (log-odds)
 *	36  4  reserved, 0
 *	40  32 SHA-256 of bytes 0..39 followed by the weights
 *	72  2 * 2^bits  int16 weights
 * A file that is short, long, of another version or whose checksum does
 * not match is rejected with a reason.
 *
 * Ownership: spam_model_free() frees what load/parse/new allocated.
 */
#ifndef PTT_SPAM_MODEL_H
#define PTT_SPAM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spam/feat.h"
#include "util/buf.h"

#define SPAM_MODEL_VERSION	1
#define SPAM_MODEL_HDR		72
#define SPAM_MODEL_NORM		1u	/* features scaled by 1/sqrt(n) */
#define SPAM_REASONS		4
#define SPAM_MSG_MAX		(16 * 1024 * 1024)	/* bytes of a message read */

struct spam_model {
	unsigned bits;
	uint32_t mask;		/* (1 << bits) - 1 */
	unsigned opts;		/* SPAM_F_* used to extract features */
	unsigned flags;		/* SPAM_MODEL_* */
	float scale, bias, threshold;	/* threshold: log-odds */
	int16_t *w;		/* 1 << bits weights */
};

struct spam_verdict {
	double score;		/* probability of spam, 0..1 */
	double logodds;
	bool spam;		/* logodds >= threshold */
	int nreasons;
	struct {
		const char *name;	/* points into the spam_feats used */
		double weight;		/* contribution to the log-odds */
	} reason[SPAM_REASONS];
};

/* An all-zero model of 2^bits weights. */
void spam_model_init(struct spam_model *m, unsigned bits, unsigned opts,
    unsigned flags);
void spam_model_free(struct spam_model *m);

/* Parse a model image. On failure returns PTT_EINVAL and sets *why to a
 * constant description of what is wrong. */
int spam_model_parse(struct spam_model *m, const uint8_t *p, size_t n,
    const char **why);
/* Load from a file: PTT_EIO (errno set, *why = "cannot read") or as parse. */
int spam_model_load(struct spam_model *m, const char *path, const char **why);
/* Serialize: *out (caller frees), *len. */
void spam_model_image(const struct spam_model *m, uint8_t **out, size_t *len);
/* Read a whole file ("-": standard input) into out, at most out->max
 * bytes (the rest is ignored). 0 or PTT_EIO with errno set. */
int spam_read_file(const char *path, struct buf *out);
/* Write atomically (temp file, fsync, rename). 0 or PTT_EIO. */
int spam_model_save(const struct spam_model *m, const char *path);

/* Log-odds and probability of a feature set (hashes sorted, unique). */
double spam_model_logodds(const struct spam_model *m, const uint32_t *h, size_t n);
double spam_model_prob(const struct spam_model *m, const uint32_t *h, size_t n);

/*
 * Classify one message. f is scratch owned by the caller, initialised with
 * the model's options (spam_feats_init(f, m->opts, want_reasons)); with
 * names wanted, the verdict lists the strongest features pushing towards
 * the verdict (names valid until f is reused). Returns 0.
 */
int spam_classify(const struct spam_model *m, struct spam_feats *f,
    const uint8_t *msg, size_t len, struct spam_verdict *v);

/* Classify a small built-in message once, so that what the tokenizer sets
 * up on first use (the public suffix list, charset converters) is loaded
 * before a daemon enters its sandbox. */
void spam_warm_up(const struct spam_model *m, struct spam_feats *f);

#endif
