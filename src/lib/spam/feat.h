/*
 * feat.h - feature extraction for the spam classifier.
 *
 * A message becomes a set of 32-bit feature hashes (binary presence): words
 * of every text part (HTML reduced to text), word bigrams, Subject and From
 * tokens, header names and selected header values (X-Mailer, Received,
 * Message-ID and sender domains, Authentication-Results), URL host names and
 * their registrable domains (libpsl), and the message's structure (parts,
 * attachments and executable attachment types, transfer encodings,
 * charsets, HTML-only, anomalies of the MIME tree). Options (SPAM_F_*) add
 * more: digit shapes, HTML tag:attribute names (what the shipped model
 * uses), and others measured and not shipped (bench/spam/NOTES.md). Each
 * feature is a string such as "s:free" or "u:example.com"; its hash
 * indexes the model.
 *
 * Input is untrusted; extraction is bounded by the walk's limits (walk.h)
 * and SPAM_FEATS_MAX emissions per message.
 *
 * Ownership: struct spam_feats owns its arrays; spam_feats_free() frees.
 */
#ifndef PTT_SPAM_FEAT_H
#define PTT_SPAM_FEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SPAM_FEATS_MAX		40000	/* feature emissions per message */
#define SPAM_TEXT_MAX		(256 * 1024)	/* text bytes tokenized per message */

/* Feature-set options, recorded in the model so training and scoring agree. */
enum {
	SPAM_F_BIGRAMS = 1 << 0,	/* word bigrams of body text */
	SPAM_F_HDRWORDS = 1 << 1,	/* words of other header values */
	SPAM_F_SHAPES = 1 << 2,		/* digit shapes of words ("$999") */
	SPAM_F_URLPARTS = 1 << 3,	/* URL top-level domains, path words, marks */
	SPAM_F_SUBJGRAMS = 1 << 4,	/* character 3-grams of the Subject */
	SPAM_F_HDRORDER = 1 << 5,	/* header field name pairs, value shapes */
	SPAM_F_HTMLATTRS = 1 << 6,	/* HTML tag:attribute names */
	SPAM_F_HTMLVALS = 1 << 7,	/* HTML colours, sizes, style properties */
	SPAM_F_ANCHORS = 1 << 8,	/* words of HTML link text */
	SPAM_F_ALL = SPAM_F_BIGRAMS | SPAM_F_HDRWORDS | SPAM_F_SHAPES |
	    SPAM_F_URLPARTS | SPAM_F_SUBJGRAMS | SPAM_F_HDRORDER |
	    SPAM_F_HTMLATTRS | SPAM_F_HTMLVALS | SPAM_F_ANCHORS
};

struct spam_feats {
	uint32_t *h;		/* sorted, unique feature hashes */
	uint32_t *name;		/* with names: offset into names.data per hash */
	size_t n, cap;
	unsigned opts;		/* SPAM_F_* */
	bool want_names;
	bool capped;		/* SPAM_FEATS_MAX was reached */
	struct buf names;	/* NUL-separated feature strings (want_names) */
};

void spam_feats_init(struct spam_feats *f, unsigned opts, bool want_names);
void spam_feats_free(struct spam_feats *f);

/* Extract the features of one message into f (replacing what it held).
 * Returns 0; never fails on bad input. */
int spam_extract(struct spam_feats *f, const uint8_t *msg, size_t len);

/* The name of f->h[i] (only when want_names; "" otherwise). */
const char *spam_feats_name(const struct spam_feats *f, size_t i);

/* The hash of a feature string, as spam_extract computes it. */
uint32_t spam_feat_hash(const char *s, size_t n);

#endif
