/*
 * header.c - the X-Spam-* header fields and the refusal decision (see
 * header.h).
 *
 * Trusts: the model and verdict (built by this library); the message only
 * as lib/mail's header parser does (any bytes, bounded).
 */
#include "spam/header.h"

#include <math.h>
#include <strings.h>

#include "mail/hdr.h"

static double
prob(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

/* A reason's name, reduced to header-safe printable ASCII. */
static void
add_reason(struct buf *out, const char *name, double w)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)name;
	    *p != '\0' && n < SPAM_HDR_REASON_MAX; p++, n++) {
		unsigned char c = *p;

		if (c <= ' ' || c >= 0x7f || c == ',' || c == '(' || c == ')' ||
		    c == ';' || c == '"' || c == '\\')
			c = '_';
		buf_addc(out, (char)c);
	}
	buf_addf(out, "(%+.2f)", w);
}

void
spam_status_fields(const struct spam_model *m, const struct spam_verdict *v,
    struct buf *out)
{
	int n = v->nreasons < SPAM_HDR_REASONS ? v->nreasons : SPAM_HDR_REASONS;

	buf_addf(out, "X-Spam-Status: %s, score=%.4f required=%.4f\r\n\ttests=",
	    v->spam ? "Yes" : "No", v->score, prob((double)m->threshold));
	if (n == 0)
		buf_adds(out, "none");
	for (int k = 0; k < n; k++) {
		if (k > 0)
			buf_adds(out, ",\r\n\t");
		add_reason(out, v->reason[k].name ? v->reason[k].name : "",
		    v->reason[k].weight);
	}
	buf_adds(out, "\r\n");
	if (v->spam)
		buf_adds(out, "X-Spam-Flag: YES\r\n");
}

bool
spam_field_owned(const char *name, size_t len)
{
	size_t pl = sizeof(SPAM_FIELD_PREFIX) - 1;

	return len >= pl && strncasecmp(name, SPAM_FIELD_PREFIX, pl) == 0;
}

size_t
spam_strip_fields(const uint8_t *msg, size_t len, struct buf *out)
{
	struct mail_hdr h;
	size_t removed = 0, used = 0;

	mail_hdr_parse(&h, msg, len, NULL);
	/* the fields are contiguous from the start of msg */
	for (size_t i = 0; i < h.n; i++) {
		const struct mail_field *f = &h.f[i];

		used += f->raw_len;
		if (spam_field_owned(f->raw, f->name_len))
			removed++;
		else
			buf_add(out, f->raw, f->raw_len);
	}
	/* the empty line (if any) and the body, as received */
	if (used < len)
		buf_add(out, msg + used, len - used);
	mail_hdr_free(&h);
	return removed;
}

bool
spam_refuse(const struct spam_model *m, const struct spam_verdict *v,
    double margin)
{
	return v->logodds >= (double)m->threshold + (margin > 0 ? margin : 0);
}
