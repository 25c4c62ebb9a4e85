/*
 * test_spam_model.c - the spam model file (round trip, corrupt files
 * rejected with a reason), scoring, and training: reproducible (same
 * messages, same options: byte-identical model), and it learns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "spam/model.h"
#include "spam/train.h"
#include "util/buf.h"
#include "util/err.h"

static uint64_t rs = 42;

static unsigned
rnd(unsigned n)
{
	rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((rs >> 33) % n);
}

static const char *const hamw[] = { "meeting", "patch", "kernel", "review",
    "lunch", "thanks", "build", "release", "commit", "notes", "agenda", "bug" };
static const char *const spamw[] = { "free", "winner", "casino", "pills",
    "cheap", "offer", "click", "mortgage", "viagra", "cash", "prize", "act" };
static const char *const both[] = { "the", "and", "you", "for", "this",
    "today", "please", "with", "from", "more" };

/* A synthetic message of class spam (0/1), number i. */
static void
make_msg(struct buf *b, int spam, int i)
{
	buf_reset(b);
	buf_addf(b, "From: %s%d@%s\nSubject: %s %s\nMessage-ID: <%d.%d@x.test>\n",
	    spam ? "promo" : "dev", i, spam ? "bulk.example" : "lists.example",
	    spam ? spamw[rnd(12)] : hamw[rnd(12)], both[rnd(10)], i, spam);
	if (spam)
		buf_adds(b, "Content-Type: text/html\n\n<html><p>");
	else
		buf_adds(b, "Content-Type: text/plain\n\n");
	for (int k = 0; k < 40; k++) {
		const char *w = rnd(3) == 0 ? both[rnd(10)] :
		    (rnd(10) == 0) != spam ? spamw[rnd(12)] : hamw[rnd(12)];

		buf_addf(b, "%s ", w);
	}
	if (spam)
		buf_adds(b, "<a href=\"http://win.example.com/\">here</a></p></html>\n");
	buf_addc(b, '\n');
}

static void
make_set(struct spam_set *s, unsigned opts, int n)
{
	struct spam_feats f;
	struct buf b;

	rs = 42;
	spam_set_init(s, opts);
	spam_feats_init(&f, opts, false);
	buf_init(&b, 0);
	for (int i = 0; i < n; i++) {
		make_msg(&b, i % 3 == 0, i);
		spam_set_add(s, &f, (const uint8_t *)b.data, b.len, i % 3 == 0, "m");
	}
	buf_free(&b);
	spam_feats_free(&f);
}

static void
test_format(void)
{
	struct spam_model m, m2;
	uint8_t *img;
	size_t n;
	const char *why;
	int ret;

	spam_model_init(&m, 16, SPAM_F_BIGRAMS, SPAM_MODEL_NORM);
	for (size_t i = 0; i < 65536; i++)
		m.w[i] = (int16_t)((i * 7919) % 65536 - 32768);
	m.scale = 0.001f;
	m.bias = -1.5f;
	m.threshold = 0.25f;
	spam_model_image(&m, &img, &n);
	is_int(n, SPAM_MODEL_HDR + 2 * 65536, "image size");
	ret = spam_model_parse(&m2, img, n, &why);
	is_int(ret, 0, "image parses back");
	if (ret == 0) {
		ok(m2.bits == 16 && m2.opts == SPAM_F_BIGRAMS && m2.flags == SPAM_MODEL_NORM &&
		    m2.scale == m.scale && m2.bias == m.bias && m2.threshold == m.threshold,
		    "header fields round trip");
		ok(memcmp(m.w, m2.w, 2 * 65536) == 0, "weights round trip");
		spam_model_free(&m2);
	}

	img[SPAM_MODEL_HDR + 1000] ^= 1;
	ret = spam_model_parse(&m2, img, n, &why);
	ok(ret == PTT_EINVAL && why && strstr(why, "checksum"), "flipped weight bit: %s", why ? why : "");
	img[SPAM_MODEL_HDR + 1000] ^= 1;
	ret = spam_model_parse(&m2, img, n - 1, &why);
	ok(ret == PTT_EINVAL && why && strstr(why, "truncated"), "truncated: %s", why ? why : "");
	ret = spam_model_parse(&m2, img, 10, &why);
	ok(ret == PTT_EINVAL, "truncated header: %s", why ? why : "");
	img[0] = 'X';
	ret = spam_model_parse(&m2, img, n, &why);
	ok(ret == PTT_EINVAL && why && strstr(why, "magic"), "bad magic: %s", why ? why : "");
	img[0] = 'P';
	img[8] = 9;
	ret = spam_model_parse(&m2, img, n, &why);
	ok(ret == PTT_EINVAL && why && strstr(why, "version"), "other version: %s", why ? why : "");
	img[8] = 1;
	img[12] = 30;
	ret = spam_model_parse(&m2, img, n, &why);
	ok(ret == PTT_EINVAL, "hash width out of range: %s", why ? why : "");
	img[12] = 16;
	ret = spam_model_parse(&m2, img, n, &why);
	is_int(ret, 0, "restored image parses");
	if (ret == 0)
		spam_model_free(&m2);
	free(img);

	ret = spam_model_load(&m2, "/nonexistent/spam.model", &why);
	ok(ret == PTT_EIO && errno == ENOENT, "missing file: PTT_EIO/ENOENT");
	ret = spam_model_load(&m2, "/dev/null", &why);
	ok(ret == PTT_EINVAL, "empty file rejected: %s", why ? why : "");
	spam_model_free(&m);
}

static void
test_train(void)
{
	struct spam_set s;
	struct spam_train_opts o;
	struct spam_model a, b;
	uint8_t *ia, *ib;
	size_t na, nb, right = 0;
	char pa[] = "/tmp/test_spam_modelXXXXXX", pb[256];
	struct buf fa, fb;
	int fd;

	make_set(&s, 0, 300);
	is_int(s.n, 300, "synthetic set");
	spam_train_defaults(&o);
	o.bits = 18;
	spam_train(&s, &o, &a, NULL);
	spam_train(&s, &o, &b, NULL);
	spam_model_image(&a, &ia, &na);
	spam_model_image(&b, &ib, &nb);
	ok(na == nb && memcmp(ia, ib, na) == 0, "training twice: identical model images");
	free(ia);
	free(ib);

	/* through files, as `ptt spam train` writes them */
	fd = mkstemp(pa);
	ok(fd >= 0, "temp file");
	close(fd);
	snprintf(pb, sizeof(pb), "%s.b", pa);
	is_int(spam_model_save(&a, pa), 0, "save model a");
	is_int(spam_model_save(&b, pb), 0, "save model b");
	buf_init(&fa, 0);
	buf_init(&fb, 0);
	spam_read_file(pa, &fa);
	spam_read_file(pb, &fb);
	ok(fa.len == na && fa.len == fb.len && memcmp(fa.data, fb.data, fa.len) == 0,
	    "model files byte-identical (%zu bytes)", fa.len);
	buf_free(&fa);
	buf_free(&fb);
	unlink(pa);
	unlink(pb);

	for (size_t i = 0; i < s.n; i++)
		right += (spam_model_logodds(&a, s.h[i], s.nh[i]) >= a.threshold) == (s.y[i] == 1);
	ok(right >= s.n * 95 / 100, "learns the training set (%zu/%zu)", right, s.n);
	spam_model_free(&b);

	/* another seed gives another (but also valid) model */
	o.seed = 7;
	spam_train(&s, &o, &b, NULL);
	ok(memcmp(a.w, b.w, 2u << 18) != 0, "the seed matters");
	spam_model_free(&b);

	/* naive Bayes learns too */
	o.algo = SPAM_ALGO_NB;
	spam_train(&s, &o, &b, NULL);
	right = 0;
	for (size_t i = 0; i < s.n; i++)
		right += (spam_model_logodds(&b, s.h[i], s.nh[i]) >= b.threshold) == (s.y[i] == 1);
	ok(right >= s.n * 90 / 100, "naive Bayes learns the training set (%zu/%zu)", right, s.n);
	spam_model_free(&b);

	/* classify with reasons */
	{
		struct spam_feats f;
		struct spam_verdict v;
		struct buf m;

		buf_init(&m, 0);
		rs = 4242;
		make_msg(&m, 1, 9999);
		spam_feats_init(&f, a.opts, true);
		spam_classify(&a, &f, (const uint8_t *)m.data, m.len, &v);
		ok(v.spam && v.score > 0.5, "a spammy message is spam (%.3f)", v.score);
		ok(v.nreasons > 0 && v.reason[0].name[0] != '\0' && v.reason[0].weight > 0,
		    "with a reason: %s", v.nreasons ? v.reason[0].name : "");
		make_msg(&m, 0, 9998);
		spam_classify(&a, &f, (const uint8_t *)m.data, m.len, &v);
		ok(!v.spam && v.score < 0.5, "a hammy message is ham (%.3f)", v.score);
		ok(v.nreasons > 0 && v.reason[0].weight < 0, "with a ham reason: %s",
		    v.nreasons ? v.reason[0].name : "");
		spam_feats_free(&f);
		buf_free(&m);
	}
	spam_model_free(&a);
	spam_set_free(&s);
}

int
main(void)
{
	test_format();
	test_train();
	return tap_done();
}
