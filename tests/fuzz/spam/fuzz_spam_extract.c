/*
 * fuzz_spam_extract.c - libFuzzer harness for the spam classifier's MIME
 * walk (over lib/mail), HTML reduction, URL and header tokenizers and
 * scoring: arbitrary bytes must be scored without a crash, a leak or
 * undefined behaviour, and yield sorted unique features within the cap.
 * Then what the spamfilter does with them (spam/header.h): the X-Spam-*
 * fields written from the verdict's reasons must be one header block of
 * printable lines, and stripping X-Spam-* fields must only remove bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spam/header.h"
#include "spam/model.h"
#include "util/buf.h"

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
	{
		struct buf b;
		size_t removed;

		buf_init(&b, 0);
		spam_status_fields(&m, &v, &b);
		for (size_t i = 0; i < b.len; i++) {
			unsigned char c = (unsigned char)b.data[i];

			/* CRLF only as a line end, then a field or a fold */
			if (c == '\r' && !(i + 1 < b.len && b.data[i + 1] == '\n'))
				abort();
			if (c == '\n' && (b.data[i - 1] != '\r' || (i + 1 < b.len &&
			    b.data[i + 1] != '\t' && b.data[i + 1] != 'X')))
				abort();
			if ((c < ' ' && c != '\r' && c != '\n' && c != '\t') || c >= 0x7f)
				abort();
		}
		buf_reset(&b);
		removed = spam_strip_fields(data, size, &b);
		if (b.len > size || (removed == 0 && (b.len != size ||
		    (size > 0 && memcmp(b.data, data, size) != 0))))
			abort();
		buf_free(&b);
	}
	spam_feats_free(&f);
	return 0;
}
