/*
 * test_spam_corpus.c - the shipped spam model on the held-out groups of the
 * SpamAssassin public corpus (easy-ham-2, spam-2): ham flagged <= 0.3% and
 * spam caught >= 90% (issue 6's floor). Also: training is reproducible on
 * real mail (a small set trained twice gives byte-identical models), and
 * the committed model is byte for byte the one the build trained on the
 * -1 groups (src/spamtool/meson.build), so it is reproducible too.
 *
 * usage: test_spam_corpus MODEL BUILT_MODEL CORPUS_SCRIPT
 * The corpus comes from CORPUS_SCRIPT --offline (scripts/spam-corpus.sh
 * prints the directory where `make deps` or a first run fetched it through
 * npm); when it is not there the test is skipped with the reason, and never
 * fetches anything itself.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/tap.h"
#include "spam/model.h"
#include "spam/train.h"
#include "util/buf.h"

static int
corpus_dir(const char *script, char *dir, size_t n)
{
	char cmd[4096];
	FILE *p;
	size_t l;

	snprintf(cmd, sizeof(cmd), "'%s' --offline 2>&1", script);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	l = fread(dir, 1, n - 1, p);
	dir[l] = '\0';
	while (l > 0 && (dir[l - 1] == '\n' || dir[l - 1] == ' '))
		dir[--l] = '\0';
	return pclose(p) == 0 ? 0 : -1;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add the first max .txt messages (by name) of dir to s. */
static void
add_first(struct spam_set *s, const char *dir, int spam, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *names[4096];
	size_t n = 0;
	struct spam_feats f;
	struct buf m;

	while (d != NULL && (e = readdir(d)) != NULL && n < 4096) {
		size_t l = strlen(e->d_name);

		if (l > 4 && strcmp(e->d_name + l - 4, ".txt") == 0)
			names[n++] = strdup(e->d_name);
	}
	if (d != NULL)
		closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	spam_feats_init(&f, s->opts, false);
	buf_init(&m, SPAM_MSG_MAX);
	for (size_t i = 0; i < n; i++) {
		char path[8192];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (i < max && spam_read_file(path, &m) == 0)
			spam_set_add(s, &f, (const uint8_t *)m.data, m.len, spam, path);
		free(names[i]);
	}
	buf_free(&m);
	spam_feats_free(&f);
}

int
main(int argc, char **argv)
{
	char dir[4096], ham[8192], spam[8192];
	struct spam_model m;
	struct spam_set s;
	const char *why;
	size_t added, fp = 0, tp = 0;
	int ret;

	if (argc != 4) {
		fprintf(stderr, "usage: %s MODEL BUILT_MODEL CORPUS_SCRIPT\n", argv[0]);
		return 2;
	}
	if (corpus_dir(argv[3], dir, sizeof(dir)) != 0) {
		for (char *c = dir; *c; c++)
			if (*c == '\n')
				*c = ' ';
		printf("1..0 # SKIP SpamAssassin corpus unavailable: %s\n", dir);
		return 0;
	}
	ret = spam_model_load(&m, argv[1], &why);
	if (!ok(ret == 0, "load %s", argv[1])) {
		printf("#   %s\n", why);
		return tap_done();
	}

	/* the floor, on the held-out groups */
	snprintf(ham, sizeof(ham), "%s/easy-ham-2", dir);
	snprintf(spam, sizeof(spam), "%s/spam-2", dir);
	spam_set_init(&s, m.opts);
	ret = spam_set_add_dir(&s, ham, ".txt", 0, &added);
	ok(ret == 0 && added == 1400, "easy-ham-2: %zu messages", added);
	ret = spam_set_add_dir(&s, spam, ".txt", 1, &added);
	ok(ret == 0 && added == 1396, "spam-2: %zu messages", added);
	for (size_t i = 0; i < s.n; i++) {
		int flagged = spam_model_logodds(&m, s.h[i], s.nh[i]) >= m.threshold;

		if (flagged && s.y[i])
			tp++;
		else if (flagged)
			fp++;
	}
	ok(s.nham > 0 && fp * 1000 <= 3 * s.nham, "ham flagged %zu/%zu (%.2f%%) <= 0.3%%",
	    fp, s.nham, s.nham ? 100.0 * (double)fp / (double)s.nham : 0.0);
	ok(s.nspam > 0 && tp * 100 >= 90 * s.nspam, "spam caught %zu/%zu (%.2f%%) >= 90%%",
	    tp, s.nspam, s.nspam ? 100.0 * (double)tp / (double)s.nspam : 0.0);
	spam_set_free(&s);
	spam_model_free(&m);

	/* reproducible training on real mail: 100 ham, 50 spam of the -1 groups */
	{
		struct spam_train_opts o;
		struct spam_model a, b;
		uint8_t *ia, *ib;
		size_t na, nb;

		spam_train_defaults(&o);
		o.average = 2;		/* what is repeated, not how often: quick */
		o.folds = 3;
		spam_set_init(&s, o.feat_opts);
		snprintf(ham, sizeof(ham), "%s/easy-ham-1", dir);
		snprintf(spam, sizeof(spam), "%s/spam-1", dir);
		add_first(&s, ham, 0, 100);
		add_first(&s, spam, 1, 50);
		ok(s.nham == 100 && s.nspam == 50, "small training set: %zu ham, %zu spam",
		    s.nham, s.nspam);
		spam_train(&s, &o, &a, NULL);
		spam_train(&s, &o, &b, NULL);
		spam_model_image(&a, &ia, &na);
		spam_model_image(&b, &ib, &nb);
		ok(na == nb && memcmp(ia, ib, na) == 0, "trained twice: identical model (%zu bytes)", na);
		free(ia);
		free(ib);
		spam_model_free(&a);
		spam_model_free(&b);
		spam_set_free(&s);
	}

	/* the model the build trained from the -1 groups (src/spamtool) is
	 * byte for byte the committed one */
	{
		struct buf shipped, built;
		bool read;

		buf_init(&shipped, 0);
		buf_init(&built, 0);
		read = spam_read_file(argv[1], &shipped) == 0 &&
		    spam_read_file(argv[2], &built) == 0;
		ok(read && shipped.len == built.len &&
		    memcmp(shipped.data, built.data, built.len) == 0,
		    "%s is what the build trained (%s, %zu bytes); if not, run "
		    "`ninja spam-model` and commit it", argv[1], argv[2], built.len);
		buf_free(&shipped);
		buf_free(&built);
	}
	return tap_done();
}
