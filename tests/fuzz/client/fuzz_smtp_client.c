/*
 * fuzz_smtp_client.c - libFuzzer harness for the SMTP client state machine
 * (smtp/client.h): the input's first byte picks options (bit 0: BDAT,
 * bit 1: no pipelining, bit 2: opportunistic TLS policy without a context),
 * the rest is everything the "server" ever says. The client runs a session
 * with up to three transactions on it over a socketpair, then QUIT; it must
 * finish (EOF ends every wait) without crashing, leaking or hanging.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "smtp/client.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct event_base *base;
	struct smtp_txn txn;
	int sent;
	bool finished;
};

static void
quit_cb(struct smtp_client *c, const struct smtp_result *r, void *arg)
{
	struct run *run = arg;

	run->finished = true;
	event_base_loopbreak(run->base);
}

static void
done_cb(struct smtp_client *c, const struct smtp_result *r, void *arg)
{
	struct run *run = arg;
	size_t i;

	if (r->nrcpt != run->txn.nrcpt)
		abort();
	for (i = 0; i < r->nrcpt; i++)
		if (r->rcpt[i].outcome == SMTP_OUT_OK && r->outcome != SMTP_OUT_OK)
			abort();	/* a recipient accepted in a failed txn */
	if (run->sent < 3 && smtp_client_alive(c) &&
	    smtp_client_send(c, &run->txn, done_cb, run) == 0) {
		run->sent++;
		return;
	}
	if (smtp_client_alive(c)) {
		smtp_client_quit(c, quit_cb, run);
		return;
	}
	run->finished = true;
	event_base_loopbreak(run->base);
}

static void
ready_cb(struct smtp_client *c, const struct smtp_result *r, void *arg)
{
	struct run *run = arg;

	if (r->outcome == SMTP_OUT_OK &&
	    smtp_client_send(c, &run->txn, done_cb, run) == 0) {
		run->sent++;
		return;
	}
	run->finished = true;
	event_base_loopbreak(run->base);
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	abort();	/* the client hung although the server's stream ended */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct smtp_txn_rcpt rcpt[2] = {
		{ "a@example.test", SMTP_NOTIFY_FAILURE, "a@example.test" },
		{ "b@example.test", 0, NULL },
	};
	static const char msg[] = "Subject: x\r\n\r\n.dot\r\nbody\r\n";
	struct smtp_client_opts o = { .id = "FZ", .chunk_size = 8,
	    .tmo = { 2, 2, 2, 2, 2, 2, 2, 2 } };
	struct run run;
	struct smtp_client *c;
	struct event *guard;
	struct timeval tv = { 10, 0 };
	int sv[2];
	size_t off;
	ssize_t n;
	static bool init;

	if (!init) {
		signal(SIGPIPE, SIG_IGN);
		log_init("fuzz_smtp_client");
		log_set_level(LOG_LVL_ERR);
		init = true;
	}
	if (size < 1 || size > 100000)
		return 0;
	o.bdat = data[0] & 1;
	o.no_pipelining = data[0] & 2;
	o.tls = (data[0] & 4) ? SMTP_TLS_OPPORTUNISTIC : SMTP_TLS_NONE;
	data++;
	size--;

	memset(&run, 0, sizeof(run));
	run.txn = (struct smtp_txn){ .from = "s@example.test", .rcpt = rcpt,
	    .nrcpt = 2, .msg = msg, .len = sizeof(msg) - 1,
	    .ret = SMTP_RET_HDRS, .envid = "e1" };
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	/* the whole server stream, then EOF */
	for (off = 0; off < size; off += (size_t)n) {
		n = write(sv[1], data + off, size - off);
		if (n <= 0)
			break;
	}
	shutdown(sv[1], SHUT_WR);

	run.base = event_base_new();
	c = smtp_client_new(run.base, &o);
	if (smtp_client_connect_fd(c, sv[0], ready_cb, &run) != 0)
		abort();
	guard = evtimer_new(run.base, guard_cb, NULL);
	evtimer_add(guard, &tv);
	event_base_dispatch(run.base);
	if (!run.finished)
		abort();
	event_free(guard);
	smtp_client_free(c);
	event_base_free(run.base);
	close(sv[1]);
	return 0;
}
