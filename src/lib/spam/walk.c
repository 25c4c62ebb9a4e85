/*
 * walk.c - the spam classifier's walk over lib/mail's MIME tree (RFC 5322
 * section 2.2, RFC 2045 sections 5-6, RFC 2046 section 5). See walk.h.
 *
 * Trusts nothing in the message: parsing, decoding and charset conversion
 * are lib/mail's bounded, never-failing parsers; this file only adapts
 * their results to the classifier, under the limits of walk.h.
 */
#include "spam/walk.h"

#include <stdio.h>
#include <string.h>

#include "mail/charset.h"
#include "mail/defect.h"
#include "mail/mime.h"
#include "util/buf.h"

struct walker {
	const struct spam_walk_ops *ops;
	void *arg;
	struct buf raw;		/* a text part's body, transfer decoding undone */
	struct buf dec;		/* ... and converted to UTF-8 */
};

static const char *
cte_name(enum mail_cte c)
{
	switch (c) {
	case MAIL_CTE_7BIT: return "7bit";
	case MAIL_CTE_8BIT: return "8bit";
	case MAIL_CTE_BINARY: return "binary";
	case MAIL_CTE_QP: return "quoted-printable";
	case MAIL_CTE_BASE64: return "base64";
	default: return "unknown";
	}
}

static int
visit(const struct mail_part *p, void *arg)
{
	struct walker *w = arg;
	struct spam_part sp;
	char type[96];
	const char *cs;
	unsigned d = 0;

	if (w->ops->header != NULL) {
		for (size_t i = 0; i < p->hdr.n; i++) {
			const struct mail_field *f = &p->hdr.f[i];

			if (f->name_len > 0)
				w->ops->header(w->arg, p->depth, f->raw, f->name_len,
				    f->value, f->value_len);
		}
	}
	if (p->child != NULL)
		return 0;	/* multipart or message/rfc822: its children follow */
	memset(&sp, 0, sizeof(sp));
	snprintf(type, sizeof(type), "%s/%s", p->ct.type, p->ct.subtype);
	cs = mail_param_get(&p->ct.params, "charset");
	sp.depth = p->depth;
	sp.type = type;
	sp.charset = cs != NULL ? cs : "";
	sp.encoding = cte_name(p->cte);
	sp.filename = p->filename != NULL ? p->filename : "";
	sp.attachment = p->attachment || p->filename != NULL;
	if (mail_ctype_is(&p->ct, "text", NULL)) {
		/* decode, then convert even a decoding cut at the size limit
		 * (mail_part_text converts only complete decodings) */
		buf_reset(&w->raw);
		buf_reset(&w->dec);
		if (p->cte == MAIL_CTE_QP || p->cte == MAIL_CTE_BASE64)
			mail_part_decode(p, &w->raw, &d);	/* truncates at max */
		else
			buf_add(&w->raw, p->body, p->body_len < w->raw.max ?
			    p->body_len : w->raw.max);
		w->raw.err = 0;
		mail_charset_to_utf8(mail_part_charset(p), w->raw.data, w->raw.len,
		    &w->dec, &d);
		sp.decode_error = (d & (MAIL_D_B64_GARBAGE | MAIL_D_QP_BAD_ESCAPE |
		    MAIL_D_CHARSET)) != 0;
		sp.data = (const uint8_t *)w->dec.data;
		sp.len = w->dec.len;
	}
	if (w->ops->part != NULL)
		w->ops->part(w->arg, &sp);
	return 0;
}

int
spam_walk(const uint8_t *msg, size_t len, const struct spam_walk_ops *ops,
    void *arg)
{
	static const struct mail_mime_limits lim = {
		.max_depth = SPAM_WALK_MAX_DEPTH,
		.max_parts = SPAM_WALK_MAX_PARTS,
		.hdr = {
			.max_fields = 1000,
			.max_line = 65536,
			.max_field = 65536,
			.max_bytes = 2u << 20,
		},
	};
	struct walker w;
	struct mail_mime m;

	/* an mbox "From " line is not a header field */
	if (len >= 5 && memcmp(msg, "From ", 5) == 0) {
		const uint8_t *nl = memchr(msg, '\n', len);
		size_t skip = nl ? (size_t)(nl - msg) + 1 : len;

		msg += skip;
		len -= skip;
	}
	w.ops = ops;
	w.arg = arg;
	buf_init(&w.raw, SPAM_WALK_MAX_DECODED);
	buf_init(&w.dec, SPAM_WALK_MAX_DECODED * 2);
	mail_mime_parse(&m, msg, len, &lim);
	mail_mime_walk(&m, visit, &w);
	if (ops->anomaly != NULL)
		for (unsigned bit = 1; bit != 0; bit <<= 1)
			if ((m.defects & bit) && bit != MAIL_D_LF_ONLY)
				ops->anomaly(arg, mail_defect_name(bit));
	mail_mime_free(&m);
	buf_free(&w.raw);
	buf_free(&w.dec);
	return 0;
}
