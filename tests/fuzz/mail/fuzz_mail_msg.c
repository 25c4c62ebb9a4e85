/*
 * fuzz_mail_msg.c - libFuzzer harness for the message parsers: header
 * section (with edits and writing back), MIME tree with every part
 * decoded to text, RFC 2047 in Subject and From, addresses in From/To/Cc,
 * the author domain, and DKIM canonicalisation of every field and the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/addr.h"
#include "mail/canon.h"
#include "mail/charset.h"
#include "mail/hdr.h"
#include "mail/mime.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
walk(const struct mail_part *p, void *arg)
{
	struct buf *b = arg;
	unsigned d = 0;

	buf_reset(b);
	mail_part_text(p, b, &d);
	if (!mail_utf8_valid(b->data, b->len))
		panic("part text is not UTF-8");
	(void)mail_part_charset(p);
	if (p->child != NULL && p->child->parent != p)
		panic("broken tree");
	return 0;
}

static int
sink(void *arg, const void *p, size_t n)
{
	uint64_t *sum = arg;
	const uint8_t *s = p;
	size_t i;

	for (i = 0; i < n; i++)
		*sum += s[i];
	return 0;
}

static int
to_buf(void *arg, const void *p, size_t n)
{
	return buf_add(arg, p, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ew_fields[] = { "Subject", "From", "To" };
	static const char *const addr_fields[] = { "From", "To", "Cc",
	    "Reply-To", "Sender" };
	struct mail_hdr h;
	struct mail_mime m;
	struct buf b;
	struct mail_canon_body cb;
	uint64_t sum = 0;
	size_t i, k;
	char *dom;
	int hret;

	buf_init(&b, 1u << 24);
	hret = mail_hdr_parse(&h, data, size, NULL);
	for (k = 0; k < sizeof(ew_fields) / sizeof(ew_fields[0]); k++) {
		const struct mail_field *f = mail_hdr_get(&h, ew_fields[k]);

		if (f != NULL) {
			buf_reset(&b);
			mail_ew_decode(f->value, f->value_len, &b, NULL);
			if (!mail_utf8_valid(b.data, b.len))
				panic("2047 output is not UTF-8");
		}
	}
	for (k = 0; k < sizeof(addr_fields) / sizeof(addr_fields[0]); k++) {
		for (i = mail_hdr_find(&h, addr_fields[k], 0); i != MAIL_HDR_NONE;
		    i = mail_hdr_find(&h, addr_fields[k], i + 1)) {
			struct mail_addr_list l;
			size_t j;

			mail_addr_parse(&l, h.f[i].value, h.f[i].value_len);
			for (j = 0; j < l.n; j++) {
				buf_reset(&b);
				mail_addr_spec(&l.a[j], &b);
			}
			mail_addr_list_free(&l);
		}
	}
	if (mail_author_domain(&h, &dom) == 0)
		free(dom);
	for (i = mail_hdr_rfind(&h, "Received", h.n); i != MAIL_HDR_NONE;
	    i = mail_hdr_rfind(&h, "Received", i))
		;
	for (i = 0; i < h.n; i++) {
		struct buf again;

		buf_reset(&b);
		mail_canon_header(MAIL_CANON_SIMPLE, h.f[i].raw, h.f[i].raw_len, &b);
		buf_reset(&b);
		if (mail_canon_header(MAIL_CANON_RELAXED, h.f[i].raw,
		    h.f[i].raw_len, &b) != 0)
			continue;
		/* relaxed is idempotent */
		buf_init(&again, 0);
		mail_canon_header(MAIL_CANON_RELAXED, b.data, b.len, &again);
		if (again.len != b.len || memcmp(again.data, b.data, b.len) != 0)
			panic("relaxed header canonicalisation not idempotent");
		buf_free(&again);
	}
	for (k = 0; k < 2; k++) {
		enum mail_canon mode = k ? MAIL_CANON_RELAXED : MAIL_CANON_SIMPLE;
		struct buf whole, chunked;

		buf_init(&whole, 0);
		buf_init(&chunked, 0);
		mail_canon_body_init(&cb, mode, UINT64_MAX, to_buf, &whole);
		mail_canon_body_update(&cb, h.body, h.body_len);
		mail_canon_body_final(&cb);
		/* Odd chunks, so line ends fall across calls: same bytes. */
		mail_canon_body_init(&cb, mode, UINT64_MAX, to_buf, &chunked);
		for (i = 0; i < h.body_len; i += 7)
			mail_canon_body_update(&cb, h.body + i,
			    h.body_len - i < 7 ? h.body_len - i : 7);
		mail_canon_body_final(&cb);
		if (whole.len != chunked.len || cb.length != whole.len ||
		    memcmp(whole.data, chunked.data, whole.len) != 0)
			panic("body canonicalisation depends on chunking");
		/* l= takes a prefix and counts the rest. */
		mail_canon_body_init(&cb, mode, 100, sink, &sum);
		mail_canon_body_update(&cb, h.body, h.body_len);
		mail_canon_body_final(&cb);
		if (cb.length != whole.len || cb.emitted != (whole.len < 100 ? whole.len : 100))
			panic("l= accounting");
		buf_free(&whole);
		buf_free(&chunked);
	}
	if (hret == 0 && *h.sep != '\0') {
		/* Unedited, the message writes back byte for byte. */
		buf_reset(&b);
		mail_hdr_write(&h, &b, 0);
		if (b.len != size || memcmp(b.data, data, size) != 0)
			panic("header round trip");
	}
	mail_hdr_prepend(&h, "DKIM-Signature", "v=1; a=rsa-sha256; b=");
	if (h.n > 2)
		mail_hdr_remove(&h, h.n / 2);
	buf_reset(&b);
	mail_hdr_write(&h, &b, MAIL_WRITE_CRLF);
	mail_hdr_free(&h);

	mail_mime_parse(&m, data, size, NULL);
	mail_mime_walk(&m, walk, &b);
	mail_mime_free(&m);
	buf_free(&b);
	return 0;
}
