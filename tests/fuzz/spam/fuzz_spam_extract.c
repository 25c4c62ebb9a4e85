/*
 * fuzz_spam_extract.c - libFuzzer harness for the spam classifier's MIME
 * walk (over lib/mail), HTML reduction, URL and header tokenizers and
 * scoring: arbitrary bytes must be scored without a crash, a leak or
 * undefined behaviour, and yield sorted unique features within the cap.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spam/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spam_model m;
	static bool init;
	struct spam_feats f;
	struct spam_verdict v;

	if (!init) {
		spam_model_init(&m, 16, SPAM_F_ALL, SPAM_MODEL_NORM);
		for (size_t i = 0; i < 65536; i++)
			m.w[i] = (int16_t)(i % 199) - 99;
		m.scale = 0.01f;
		init = true;
	}
	spam_feats_init(&f, SPAM_F_ALL, true);
	spam_classify(&m, &f, data, size, &v);
	if (f.n > SPAM_FEATS_MAX || !(v.score >= 0.0 && v.score <= 1.0))
		abort();
	for (size_t i = 1; i < f.n; i++)
		if (f.h[i - 1] >= f.h[i])
			abort();
	spam_feats_free(&f);
	return 0;
}
