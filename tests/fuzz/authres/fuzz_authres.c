/*
 * fuzz_authres.c - Authentication-Results fields (RFC 8601) from outside.
 *
 * The input is an unfolded field value: it is parsed; when it parses, it
 * is written back with ar_format() and that field must parse again to the
 * same methods, results and property values (the formatter quotes what
 * the grammar needs). Then the input becomes a field of a message and
 * ar_remove_ours() runs over it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authres.h"
#include "mail/hdr.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
roundtrip(const struct authres *a)
{
	struct authres b;
	struct mail_hdr h;
	struct buf out;

	buf_init(&out, 0);
	if (ar_format(a, &out) != 0)
		abort();
	mail_hdr_parse(&h, out.data, out.len, NULL);
	if (h.n != 1 || ar_parse(&b, h.f[0].value, h.f[0].value_len) != 0 ||
	    b.n != a->n)
		abort();
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->res[i].method, b.res[i].method) != 0 ||
		    strcmp(a->res[i].result, b.res[i].result) != 0 ||
		    a->res[i].nprop != b.res[i].nprop)
			abort();
	}
	ar_free(&b);
	mail_hdr_free(&h);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authres a;
	struct mail_hdr h;
	struct buf msg;
	char id[64];

	if (size > 65536)
		return 0;
	if (ar_parse(&a, (const char *)data, size) == 0 &&
	    memchr(data, '\0', size) == NULL)
		roundtrip(&a);
	(void)ar_find(&a, "dkim");
	ar_free(&a);
	(void)ar_authserv_id((const char *)data, size, id, sizeof(id));

	buf_init(&msg, 0);
	buf_adds(&msg, "Authentication-Results: ");
	buf_add(&msg, data, size);
	buf_adds(&msg, "\r\nFrom: a@example.com\r\n\r\nbody\r\n");
	mail_hdr_parse(&h, msg.data, msg.len, NULL);
	(void)ar_remove_ours(&h, "example.com");
	mail_hdr_free(&h);
	buf_free(&msg);
	return 0;
}
