/*
 * retry.c - retry, expiry and delay-notice arithmetic (see retry.h).
 * RFC 5321 4.5.4.1, RFC 3461 4.1, RFC 3463 (4.4.7). Trusts its inputs:
 * the envelope comes from the queue and the results from deliver.c.
 */
#include <stdlib.h>
#include <string.h>

#include "relay/retry.h"
#include "util/mem.h"

static void
set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s != NULL ? xstrdup(s) : NULL;
}

enum rcpt_event
relay_rcpt_result(struct q_rcpt *r, time_t created, enum rcpt_outcome o,
    const char *reply, const char *status, const char *remote, time_t now,
    const struct relay_timing *t)
{
	time_t expiry = created + t->max_lifetime;

	r->attempts++;
	set_str(&r->reply, reply);
	set_str(&r->remote, remote);
	switch (o) {
	case RCPT_OK:
		set_str(&r->status, status ? status : "2.0.0");
		r->state = Q_DELIVERED;
		r->next_try = 0;
		return EV_DELIVERED;
	case RCPT_PERM:
		set_str(&r->status, status ? status : "5.0.0");
		r->state = Q_FAILED;
		r->next_try = 0;
		return EV_BOUNCED;
	case RCPT_TEMP:
		break;
	}
	if (now >= expiry) {
		/* RFC 3463 4.4.7: delivery time expired. */
		set_str(&r->status, "4.4.7");
		r->state = Q_FAILED;
		r->next_try = 0;
		return EV_EXPIRED;
	}
	set_str(&r->status, status ? status : "4.0.0");
	r->next_try = now + queue_backoff(r->attempts, t->retry_min,
	    t->retry_max);
	if (r->next_try > expiry)
		r->next_try = expiry;
	return EV_DEFERRED;
}

unsigned
relay_notify_eff(unsigned notify)
{
	return notify == 0 ? (SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY) : notify;
}

bool
relay_delay_due(const struct q_env *env, time_t now,
    const struct relay_timing *t)
{
	if (t->delay_notice <= 0 || env->delay_notified != 0 ||
	    env->sender[0] == '\0' || now - env->created < t->delay_notice)
		return false;
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct q_rcpt *r = &env->rcpt[i];

		if (r->state == Q_PENDING && r->attempts > 0 &&
		    (relay_notify_eff(r->notify) & SMTP_NOTIFY_DELAY))
			return true;
	}
	return false;
}

bool
relay_env_done(const struct q_env *env)
{
	for (size_t i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].state != Q_DELIVERED &&
		    env->rcpt[i].state != Q_BOUNCED)
			return false;
	return true;
}

time_t
relay_env_next(const struct q_env *env)
{
	time_t best = -1;
	bool any = false;

	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct q_rcpt *r = &env->rcpt[i];

		if (r->state != Q_PENDING)
			continue;
		if (!any || r->next_try < best)
			best = r->next_try;
		any = true;
	}
	return best;
}

const char *
relay_event_name(enum rcpt_event ev)
{
	switch (ev) {
	case EV_DELIVERED: return "sent";
	case EV_DEFERRED: return "deferred";
	case EV_BOUNCED: return "bounced";
	case EV_EXPIRED: return "expired";
	}
	return "?";
}
