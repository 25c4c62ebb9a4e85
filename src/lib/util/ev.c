/*
 * ev.c - libevent glue: event base, signals, timers.
 */
#include "util/ev.h"

#include <signal.h>

#include "util/log.h"

static struct event *sig_ev[3];
static void (*stop_cb)(void *);
static void (*reload_cb)(void *);
static void *cb_arg;

struct event_base *
ev_base_new(void)
{
	struct event_base *base;

	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		fatal("event_base_new failed");
	return base;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		if (reload_cb != NULL)
			reload_cb(cb_arg);
		return;
	}
	log_info(NULL, "signal %d: stopping", (int)sig);
	if (stop_cb != NULL) {
		void (*cb)(void *) = stop_cb;
		stop_cb = NULL;	/* once: a second signal is ignored */
		cb(cb_arg);
	}
}

void
ev_on_signals(struct event_base *base, void (*stop)(void *),
    void (*reload)(void *), void *arg)
{
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };

	stop_cb = stop;
	reload_cb = reload;
	cb_arg = arg;
	for (int i = 0; i < 3; i++) {
		sig_ev[i] = evsignal_new(base, sigs[i], on_signal, NULL);
		if (sig_ev[i] == NULL || evsignal_add(sig_ev[i], NULL) != 0)
			fatal("cannot watch signal %d", sigs[i]);
	}
}

void
ev_free_signals(void)
{
	for (int i = 0; i < 3; i++) {
		if (sig_ev[i] != NULL)
			event_free(sig_ev[i]);
		sig_ev[i] = NULL;
	}
}

struct event *
ev_timer_once(struct event_base *base, long ms,
    void (*cb)(evutil_socket_t, short, void *), void *arg)
{
	struct event *ev = evtimer_new(base, cb, arg);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ev == NULL || evtimer_add(ev, &tv) != 0)
		fatal("cannot add a timer");
	return ev;
}
