/*
 * dsn.c - RFC 3464 delivery status notifications in an RFC 6522
 * multipart/report, for RFC 3461 requests (see dsn.h).
 *
 * Trusts nothing in the message or the recorded replies: every such text
 * goes through clean() before it reaches a header or a status field.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/hdr.h"
#include "relay/dsn.h"
#include "util/err.h"
#include "util/mem.h"

/* Longest text taken from the network into one DSN line. */
#define CLEAN_MAX 900

/* Append s as printable ASCII: control and 8-bit octets become '?',
 * line breaks a space; at most max octets. */
static void
clean(struct buf *b, const char *s, size_t max)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n < max; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n' || c == '\r' || c == '\t')
			buf_addc(b, ' ');
		else if (c < 0x20 || c >= 0x7f)
			buf_addc(b, '?');
		else
			buf_addc(b, (char)c);
	}
}

static void
date_str(time_t t, char *out, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(out, len, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		snprintf(out, len, "Thu, 01 Jan 1970 00:00:00 +0000");
}

static bool
has_8bit(const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		if (s[i] >= 0x80)
			return true;
	return false;
}

/* The host part of a recorded remote "host[ip]:port". */
static void
remote_host(struct buf *b, const char *remote)
{
	char host[256];
	size_t n = strcspn(remote, "[");

	if (n >= sizeof(host))
		n = sizeof(host) - 1;
	memcpy(host, remote, n);
	host[n] = '\0';
	clean(b, host, sizeof(host));
}

/* A reply recorded from SMTP starts with its three-digit code. */
static bool
smtp_reply_text(const char *s)
{
	return s != NULL && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' &&
	    s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
	    (s[3] == ' ' || s[3] == '\0');
}

static void
new_boundary(char *out, size_t len, const void *msg, size_t mlen)
{
	for (;;) {
		char delim[80];

		snprintf(out, len, "=_ptt_%08x%08x", arc4random(), arc4random());
		snprintf(delim, sizeof(delim), "--%s", out);
		if (msg == NULL || memmem(msg, mlen, delim, strlen(delim)) == NULL)
			return;
	}
}

/* The delimiter and header of one body part (RFC 2046 5.1.1). */
static void
part_start(struct buf *b, const char *boundary, const char *desc,
    const char *ctype)
{
	buf_addf(b, "\r\n--%s\r\nContent-Description: %s\r\n"
	    "Content-Type: %s\r\n", boundary, desc, ctype);
}

static const char *
action_name(enum dsn_kind kind)
{
	switch (kind) {
	case DSN_FAILED: return "failed";
	case DSN_DELAYED: return "delayed";
	case DSN_RELAYED: return "relayed";
	}
	return "failed";
}

static void
per_recipient(struct buf *b, const struct q_env *env, const struct q_rcpt *r,
    enum dsn_kind kind, const struct dsn_params *p)
{
	char date[64];

	buf_adds(b, "\r\n");
	if (r->orcpt != NULL && r->orcpt[0] != '\0') {
		/* stored as "type;address" (RFC 3461 4.2) */
		buf_adds(b, "Original-Recipient: ");
		clean(b, r->orcpt, CLEAN_MAX);
		buf_adds(b, "\r\n");
	}
	buf_adds(b, "Final-Recipient: rfc822; ");
	clean(b, r->addr, CLEAN_MAX);
	buf_adds(b, "\r\n");
	buf_addf(b, "Action: %s\r\n", action_name(kind));
	buf_adds(b, "Status: ");
	if (r->status != NULL && r->status[0] != '\0')
		clean(b, r->status, 15);
	else
		buf_adds(b, kind == DSN_FAILED ? "5.0.0" : kind == DSN_DELAYED ?
		    "4.0.0" : "2.0.0");
	buf_adds(b, "\r\n");
	if (r->remote != NULL && r->remote[0] != '\0') {
		buf_adds(b, "Remote-MTA: dns; ");
		remote_host(b, r->remote);
		buf_adds(b, "\r\n");
	}
	if (r->reply != NULL && r->reply[0] != '\0') {
		buf_adds(b, smtp_reply_text(r->reply) ? "Diagnostic-Code: smtp; " :
		    "Diagnostic-Code: X-ptt; ");
		clean(b, r->reply, CLEAN_MAX);
		buf_adds(b, "\r\n");
	}
	if (r->attempts > 0) {
		date_str(p->now, date, sizeof(date));
		buf_addf(b, "Last-Attempt-Date: %s\r\n", date);
	}
	if (kind == DSN_DELAYED && p->retry_until != 0) {
		date_str(p->retry_until, date, sizeof(date));
		buf_addf(b, "Will-Retry-Until: %s\r\n", date);
	}
	(void)env;
}

int
dsn_build(const struct q_env *env, enum dsn_kind kind, const bool *sel,
    const void *msg, size_t len, const struct dsn_params *p, struct buf *out)
{
	char bnd[64], date[64];
	const char *boundary;
	size_t nsel = 0;
	bool full;

	if (env->sender == NULL || env->sender[0] == '\0')
		return PTT_EINVAL;
	for (size_t i = 0; i < env->nrcpt; i++)
		if (sel[i])
			nsel++;
	if (nsel == 0)
		return PTT_EINVAL;
	if (p->boundary != NULL) {
		boundary = p->boundary;
	} else {
		new_boundary(bnd, sizeof(bnd), msg, len);
		boundary = bnd;
	}
	/* RFC 3461 4.3: RET=HDRS asks for the headers only; a delay notice
	 * (the message is still queued) and a success report return only
	 * the headers too. */
	full = kind == DSN_FAILED && env->ret != SMTP_RET_HDRS;

	/* The header section. */
	buf_adds(out, "From: Mail Delivery System <MAILER-DAEMON@");
	clean(out, p->domain, 255);
	buf_adds(out, ">\r\nTo: <");
	clean(out, env->sender, CLEAN_MAX);
	buf_adds(out, ">\r\n");
	buf_addf(out, "Subject: %s\r\n", kind == DSN_FAILED ?
	    "Undelivered Mail Returned to Sender" : kind == DSN_DELAYED ?
	    "Delayed Mail (still being retried)" :
	    "Successful Mail Delivery Report");
	date_str(p->now, date, sizeof(date));
	buf_addf(out, "Date: %s\r\n", date);
	if (p->msgid != NULL) {
		buf_adds(out, "Message-ID: <");
		clean(out, p->msgid, 255);
		buf_adds(out, ">\r\n");
	} else {
		buf_addf(out, "Message-ID: <%s.%lld.%s@", env->id,
		    (long long)p->now, action_name(kind));
		clean(out, p->domain, 255);
		buf_adds(out, ">\r\n");
	}
	buf_adds(out, "Auto-Submitted: auto-replied\r\n");
	buf_adds(out, "MIME-Version: 1.0\r\n");
	buf_addf(out, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", boundary);
	buf_adds(out, "\r\nThis is a MIME-encapsulated message.\r\n");

	/* 1: the human-readable part (RFC 6522 4). */
	part_start(out, boundary, "Notification",
	    "text/plain; charset=us-ascii");
	buf_adds(out, "\r\nThis is the mail system at host ");
	clean(out, p->mta, 255);
	buf_adds(out, ".\r\n\r\n");
	if (kind == DSN_FAILED) {
		buf_adds(out, "I'm sorry to have to inform you that your message "
		    "could not\r\nbe delivered to one or more recipients. "
		    "It's attached below.\r\n");
	} else if (kind == DSN_RELAYED) {
		buf_adds(out, "Your message was handed to the mail system of "
		    "the recipients\r\nbelow, which sends no further "
		    "notifications. Its headers are attached.\r\n");
	} else {
		buf_adds(out, "Your message could not be delivered yet to one or "
		    "more\r\nrecipients. The mail system will keep trying");
		if (p->retry_until != 0) {
			date_str(p->retry_until, date, sizeof(date));
			buf_addf(out, " until\r\n%s", date);
		}
		buf_adds(out, "; you need not send it again.\r\n");
	}
	buf_adds(out, "\r\n");
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct q_rcpt *r = &env->rcpt[i];

		if (!sel[i])
			continue;
		/* Two lines, each well under 998 octets (RFC 5322 2.1.1). */
		buf_adds(out, "<");
		clean(out, r->addr, 400);
		buf_adds(out, ">:");
		if (r->remote != NULL && r->remote[0] != '\0') {
			buf_adds(out, " host ");
			clean(out, r->remote, 300);
			buf_adds(out, " said:");
		}
		buf_adds(out, "\r\n    ");
		clean(out, r->reply != NULL ? r->reply : r->status, CLEAN_MAX);
		buf_adds(out, "\r\n\r\n");
	}

	/* 2: message/delivery-status (RFC 3464 2). */
	part_start(out, boundary, "Delivery report", "message/delivery-status");
	buf_adds(out, "\r\nReporting-MTA: dns; ");
	clean(out, p->mta, 255);
	buf_adds(out, "\r\n");
	if (env->envid != NULL && env->envid[0] != '\0') {
		buf_adds(out, "Original-Envelope-Id: ");
		clean(out, env->envid, 100);
		buf_adds(out, "\r\n");
	}
	date_str(env->created, date, sizeof(date));
	buf_addf(out, "Arrival-Date: %s\r\n", date);
	for (size_t i = 0; i < env->nrcpt; i++)
		if (sel[i])
			per_recipient(out, env, &env->rcpt[i], kind, p);

	/* 3: the original message or its header section. */
	if (msg == NULL) {
		part_start(out, boundary, "Notice",
		    "text/plain; charset=us-ascii");
		buf_adds(out, "\r\nThe original message is no longer "
		    "available.\r\n");
	} else {
		size_t plen = len;

		if (!full) {
			struct mail_hdr h;

			mail_hdr_parse(&h, msg, len, NULL);
			plen = h.hdr_len;
			mail_hdr_free(&h);
		}
		part_start(out, boundary, full ? "Undelivered Message" :
		    "Message Headers", full ? "message/rfc822" :
		    "text/rfc822-headers");
		if (has_8bit(msg, plen))
			buf_adds(out, "Content-Transfer-Encoding: 8bit\r\n");
		buf_adds(out, "\r\n");
		buf_add(out, msg, plen);
	}
	buf_addf(out, "\r\n--%s--\r\n", boundary);
	return buf_error(out);
}

void
dsn_envelope(const struct q_env *env, const void *dsn, size_t dsnlen,
    struct q_env *out)
{
	struct q_rcpt *r;

	out->sender = xstrdup("");
	out->ret = SMTP_RET_NONE;
	out->eightbit = has_8bit(dsn, dsnlen);
	out->smtputf8 = env->smtputf8 || has_8bit(env->sender,
	    strlen(env->sender));
	out->origin = xstrdup("dsn");
	r = q_env_add_rcpt(out, env->sender);
	r->notify = SMTP_NOTIFY_NEVER;
}
