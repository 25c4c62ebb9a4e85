/*
 * test_spam_header.c - the X-Spam-* fields (spam/header.h): what the
 * spamfilter writes, what it strips from arriving mail, and the refusal
 * decision offered to the mx.
 */
#include <stdio.h>
#include <string.h>

#include "../tap.h"
#include "spam/header.h"
#include "util/buf.h"

static bool
strip_is(const char *in, const char *want, size_t nremoved)
{
	struct buf out;
	size_t n;
	bool good;

	buf_init(&out, 0);
	n = spam_strip_fields((const uint8_t *)in, strlen(in), &out);
	good = n == nremoved && out.len == strlen(want) &&
	    memcmp(out.data, want, out.len) == 0;
	if (!good)
		printf("#   got %zu removed: %.*s\n", n, (int)out.len, out.data);
	buf_free(&out);
	return good;
}

int
main(void)
{
	struct spam_model m;
	struct spam_verdict v;
	struct buf b;

	ok(strip_is("From: a@b\r\nX-Spam-Flag: YES\r\nX-SPAM-status: Yes,\r\n\tscore=9\r\nSubject: s\r\n\r\nX-Spam-Flag: body\r\n",
	    "From: a@b\r\nSubject: s\r\n\r\nX-Spam-Flag: body\r\n", 2),
	    "X-Spam-* fields (any case, folded) are removed; the body is untouched");
	ok(strip_is("X-Spam-Flag: YES\nSubject: s\n\nbody\n", "Subject: s\n\nbody\n", 1),
	    "LF-only message");
	ok(strip_is("Subject: s\r\n\r\n", "Subject: s\r\n\r\n", 0), "nothing to remove: same bytes");
	ok(strip_is("", "", 0), "empty message");
	ok(strip_is("X-Spam-Flag: YES", "", 1), "only an unterminated field");
	ok(strip_is("no header line\r\nX-Spam-Flag: YES\r\n", "no header line\r\nX-Spam-Flag: YES\r\n", 0),
	    "no header section: copied as is");
	ok(spam_field_owned("x-spam-level", 12) && !spam_field_owned("X-Spam", 6) &&
	    !spam_field_owned("X-Spamd", 7), "spam_field_owned");

	spam_model_init(&m, 16, 0, SPAM_MODEL_NORM);
	m.threshold = 0.0f;
	memset(&v, 0, sizeof(v));
	v.spam = true;
	v.score = 0.9;
	v.logodds = 2.2;
	v.nreasons = 4;
	v.reason[0].name = "s:free";
	v.reason[0].weight = 0.5;
	v.reason[1].name = "u:evil,(host)\r\nX-Injected: 1";
	v.reason[1].weight = 0.25;
	v.reason[2].name = "caf\xc3\xa9";
	v.reason[2].weight = 0.125;
	v.reason[3].name = "fourth";
	v.reason[3].weight = 0.1;
	buf_init(&b, 0);
	spam_status_fields(&m, &v, &b);
	buf_addc(&b, '\0');
	is_str(b.data, "X-Spam-Status: Yes, score=0.9000 required=0.5000\r\n"
	    "\ttests=s:free(+0.50),\r\n\tu:evil__host___X-Injected:_1(+0.25),\r\n"
	    "\tcaf__(+0.12)\r\nX-Spam-Flag: YES\r\n",
	    "spam: status with three reasons made header-safe, and the flag");
	buf_reset(&b);
	v.spam = false;
	v.score = 0.1;
	v.nreasons = 0;
	spam_status_fields(&m, &v, &b);
	buf_addc(&b, '\0');
	is_str(b.data, "X-Spam-Status: No, score=0.1000 required=0.5000\r\n\ttests=none\r\n",
	    "ham: status only");
	buf_free(&b);

	v.logodds = 3.9;
	ok(!spam_refuse(&m, &v, 4.0), "3.9 is not 4 above the threshold");
	v.logodds = 4.0;
	ok(spam_refuse(&m, &v, 4.0), "4.0 is");
	ok(spam_refuse(&m, &v, -1.0), "a negative margin counts as 0");
	spam_model_free(&m);
	return tap_done();
}
