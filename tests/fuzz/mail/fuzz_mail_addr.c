/*
 * fuzz_mail_addr.c - libFuzzer harness for address lists (RFC 5322 3.4),
 * MIME field parameters (RFC 2045/2231) and RFC 2047 decoding: the input
 * is fed to each as one unfolded header value.
 */
#include <stdint.h>
#include <string.h>

#include "mail/addr.h"
#include "mail/charset.h"
#include "mail/codec.h"
#include "mail/mime.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct mail_addr_list l;
	struct mail_ctype ct;
	struct mail_cdisp cd;
	struct buf b;
	size_t i, k;

	buf_init(&b, 1u << 22);
	mail_addr_parse(&l, s, size);
	for (i = 0; i < l.n; i++) {
		if (l.a[i].local == NULL)
			panic("mailbox without local part");
		if (l.a[i].display && !mail_utf8_valid(l.a[i].display,
		    strlen(l.a[i].display)))
			panic("display name is not UTF-8");
		buf_reset(&b);
		mail_addr_spec(&l.a[i], &b);
	}
	mail_addr_list_free(&l);

	mail_ctype_parse(&ct, s, size, NULL);
	for (k = 0; k < ct.params.n; k++)
		if (!mail_utf8_valid(ct.params.p[k].value,
		    strlen(ct.params.p[k].value)))
			panic("parameter is not UTF-8");
	mail_ctype_free(&ct);
	mail_cdisp_parse(&cd, s, size, NULL);
	mail_cdisp_free(&cd);
	(void)mail_cte_parse(s, size);

	buf_reset(&b);
	mail_ew_decode(s, size, &b, NULL);
	if (!mail_utf8_valid(b.data, b.len))
		panic("2047 output is not UTF-8");
	buf_reset(&b);
	mail_b64_decode(s, size, &b, NULL);
	buf_reset(&b);
	mail_qp_decode(s, size, &b, false, NULL);
	{
		/* encoders round-trip */
		struct buf e, d;

		buf_init(&e, 0);
		buf_init(&d, 0);
		mail_b64_encode(data, size, &e, 76);
		mail_b64_decode(e.data, e.len, &d, NULL);
		if (d.len != size || (size && memcmp(d.data, data, size) != 0))
			panic("base64 round trip");
		/* quoted-printable: exact for input without line ends */
		if (memchr(data, '\n', size) == NULL) {
			buf_reset(&e);
			buf_reset(&d);
			mail_qp_encode(data, size, &e);
			mail_qp_decode(e.data, e.len, &d, false, NULL);
			if (d.len != size || (size && memcmp(d.data, data, size) != 0))
				panic("quoted-printable round trip");
		}
		buf_free(&e);
		buf_free(&d);
	}
	buf_free(&b);
	return 0;
}
