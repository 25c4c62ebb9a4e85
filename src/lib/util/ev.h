/*
 * ev.h - libevent glue shared by the daemons and tools.
 *
 * ev_base_new() makes an event base and ignores SIGPIPE (a peer that goes
 * away must not kill a daemon). ev_on_signals() calls a function once on
 * SIGTERM or SIGINT (graceful stop) and another on SIGHUP (reload).
 */
#ifndef PTT_UTIL_EV_H
#define PTT_UTIL_EV_H

#include <event2/event.h>

struct event_base *ev_base_new(void);
/* stop/reload may be NULL. The events are freed by ev_free_signals(). */
void ev_on_signals(struct event_base *base, void (*stop)(void *),
    void (*reload)(void *), void *arg);
void ev_free_signals(void);
/* A one-shot timer in milliseconds; returns the event (caller frees). */
struct event *ev_timer_once(struct event_base *base, long ms,
    void (*cb)(evutil_socket_t, short, void *), void *arg);

#endif
