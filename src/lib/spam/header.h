/*
 * header.h - what a spam verdict does to a message: the X-Spam-Status and
 * X-Spam-Flag header fields the spamfilter adds (the names SpamAssassin
 * uses, so existing user filters keep working), the removal of such fields
 * arriving from outside (a sender must not be able to pre-label its own
 * mail), and the refusal decision an SMTP server can take before it
 * acknowledges a message (issue 6: "mx can refuse a message scored far
 * above the threshold with 550").
 *
 * Fields are written as RFC 5322 2.2 header fields ending in CRLF, folded
 * below 78 octets where possible; reason names come from the message
 * (words, host names), so they are reduced to printable ASCII without
 * separators and cut short.
 *
 * Ownership: callers own every buffer; nothing here allocates beyond them.
 */
#ifndef PTT_SPAM_HEADER_H
#define PTT_SPAM_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spam/model.h"
#include "util/buf.h"

#define SPAM_FIELD_PREFIX	"X-Spam-"
#define SPAM_HDR_REASONS	3	/* reasons written in tests= */
#define SPAM_HDR_REASON_MAX	40	/* octets of one reason's name */

/*
 * Append "X-Spam-Status: Yes|No, score=P required=T tests=R(+w),..." CRLF
 * and, when spam, "X-Spam-Flag: YES" CRLF to out. P and T are the spam
 * probability and the model's threshold as a probability (4 decimals);
 * tests lists the strongest reasons of v (spam_classify with names
 * wanted), "none" when it has none.
 */
void spam_status_fields(const struct spam_model *m,
    const struct spam_verdict *v, struct buf *out);

/* True for a header field name starting "X-Spam-" (any case): the fields
 * the filter owns and strips from arriving mail. */
bool spam_field_owned(const char *name, size_t len);

/*
 * Copy msg[0..len) to out without the top-level header fields
 * spam_field_owned() names; everything else is copied byte for byte.
 * Returns how many fields were removed. A header section past lib/mail's
 * limits (1,000 fields, 4 MiB) is copied as is from that point on.
 */
size_t spam_strip_fields(const uint8_t *msg, size_t len, struct buf *out);

/*
 * The refusal decision: true when v's log-odds are at least margin above
 * the model's threshold (margin >= 0; a log-odds margin of 4 is a factor
 * of about 55 in the odds). A server that refuses on it answers 550
 * before acknowledging, so nothing is lost silently.
 */
bool spam_refuse(const struct spam_model *m, const struct spam_verdict *v,
    double margin);

#endif
