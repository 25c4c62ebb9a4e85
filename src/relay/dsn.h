/*
 * dsn.h - delivery status notifications the relay sends to a sender.
 *
 * Implements RFC 3464 (message/delivery-status: per-message fields
 * Reporting-MTA, Original-Envelope-Id, Arrival-Date; per-recipient
 * Original-Recipient, Final-Recipient, Action, Status, Remote-MTA,
 * Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until), RFC 6522 (the
 * multipart/report container with report-type=delivery-status), RFC 3461
 * (RET: the whole message as message/rfc822, or its header section as
 * text/rfc822-headers; ENVID; ORCPT), RFC 3834 (Auto-Submitted) and
 * RFC 5321 4.5.5 (a DSN has the null reverse-path).
 *
 * The generated text is 7-bit ASCII except the returned message: bytes
 * from the network (remote replies, addresses) are reduced to printable
 * ASCII ('?' for anything else) and cut to fit in a line, so nothing
 * from a remote server can inject fields or parts. The returned message
 * is copied as queued (CRLF, as received over SMTP).
 *
 * Trusts: nothing in the message or the replies.
 */
#ifndef PTT_RELAY_DSN_H
#define PTT_RELAY_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "queue/queue.h"
#include "util/buf.h"

enum dsn_kind {
	DSN_FAILED,	/* Action: failed (5xx or expiry) */
	DSN_DELAYED,	/* Action: delayed (still being retried) */
	DSN_RELAYED,	/* Action: relayed (NOTIFY=SUCCESS, handed to an MTA
			 * that does not offer DSN: RFC 3461 5.2.2.2) */
};

struct dsn_params {
	const char *mta;	/* Reporting-MTA name (our HELO name) */
	const char *domain;	/* From: MAILER-DAEMON@domain */
	time_t now;
	time_t retry_until;	/* DSN_DELAYED: Will-Retry-Until (0: none) */
	const char *boundary;	/* NULL: a random one */
	const char *msgid;	/* NULL: made from the queue id and time */
};

/*
 * Write the DSN for the recipients of env with sel[i] true into out: a
 * complete RFC 5322 message with CRLF line ends. msg/len is the queued
 * message (may be NULL/0: then only a note that it is unavailable).
 * Returns 0, PTT_EINVAL (no recipient selected, or the sender is the null
 * reverse-path: never a DSN to <>), or PTT_ENOSPC from out.
 */
int dsn_build(const struct q_env *env, enum dsn_kind kind, const bool *sel,
    const void *msg, size_t len, const struct dsn_params *p, struct buf *out);

/*
 * The envelope of a DSN for env: null sender, one recipient (env's
 * sender) with NOTIFY=NEVER, 8BITMIME when the DSN has 8-bit octets
 * (dsn/dsnlen), SMTPUTF8 when the original needed it. dsn zeroed;
 * caller frees with q_env_free.
 */
void dsn_envelope(const struct q_env *env, const void *dsn, size_t dsnlen,
    struct q_env *out);

#endif
