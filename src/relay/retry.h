/*
 * retry.h - the relay's retry arithmetic on one envelope: what a delivery
 * attempt's result does to a recipient, when the next attempt is due,
 * when a message has expired, when a delay notice is due. Pure functions
 * of the envelope and the clock (unit-tested without a network).
 *
 * Policy (RFC 5321 4.5.4.1: retries at growing intervals, give up after
 * several days; RFC 3461 4.1: NOTIFY):
 *   - 2xx: delivered. 5xx: failed (a DSN is due).
 *   - 4xx, network error, timeout: attempts++, next try after
 *     queue_backoff(attempts, retry_min, retry_max), but never later than
 *     the expiry (created + max_lifetime), so the last attempt happens at
 *     expiry; a temporary failure at or after the expiry fails the
 *     recipient with status 4.4.7 (RFC 3463: delivery time expired).
 *   - NOTIFY absent means FAILURE,DELAY (RFC 3461 4.1 lets the MTA choose
 *     FAILURE or FAILURE,DELAY; ptt sends the configured delay notice).
 *     NOTIFY=NEVER suppresses every DSN.
 */
#ifndef PTT_RELAY_RETRY_H
#define PTT_RELAY_RETRY_H

#include <stdbool.h>
#include <time.h>

#include "queue/queue.h"

struct relay_timing {
	long retry_min;		/* s */
	long retry_max;		/* s */
	long max_lifetime;	/* s */
	long delay_notice;	/* s; 0: never */
};

enum rcpt_outcome { RCPT_OK, RCPT_TEMP, RCPT_PERM };

/* What the recipient's final state became (for the log line). */
enum rcpt_event { EV_DELIVERED, EV_DEFERRED, EV_BOUNCED, EV_EXPIRED };

/*
 * Apply one attempt's result to r. reply: the remote reply or local error
 * text (copied); status: RFC 3463 code (copied; NULL: derived from the
 * outcome); remote: "host[ip]:port" or NULL (copied). Returns the event.
 */
enum rcpt_event relay_rcpt_result(struct q_rcpt *r, time_t created,
    enum rcpt_outcome o, const char *reply, const char *status,
    const char *remote, time_t now, const struct relay_timing *t);

/* The NOTIFY bits in effect (absent: FAILURE|DELAY). */
unsigned relay_notify_eff(unsigned notify);

/* Recipients that are pending and should get a delay notice now. */
bool relay_delay_due(const struct q_env *env, time_t now,
    const struct relay_timing *t);

/* Every recipient delivered or bounced: the message can go. */
bool relay_env_done(const struct q_env *env);

/* Earliest next_try of a pending recipient, or -1 when none is pending. */
time_t relay_env_next(const struct q_env *env);

/* Log name of an event ("sent", "deferred", "bounced", "expired"). */
const char *relay_event_name(enum rcpt_event ev);

#endif
