/*
 * test_client.c - the SMTP client state machine against a scripted fake
 * server over a socketpair: pipelining order, per-recipient 4xx/5xx, 421 in
 * the middle of a session, the server closing, a timeout, STARTTLS required
 * but not offered (no MAIL sent), HELO fallback, connection reuse with RSET,
 * BDAT, and local refusals (8-bit, SIZE).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "smtp/client.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "../tap.h"

/* ---- the fake server ---- */

struct fake {
	struct bufferevent *bev;
	struct buf log;		/* command lines received, '\n'-joined */
	struct buf data;	/* DATA/BDAT bytes received (raw) */
	struct buf held;	/* replies held back in batch mode */
	const char *ehlo;	/* EHLO reply; NULL: 502 (then HELO works) */
	const char *mail;	/* MAIL reply (default 250) */
	const char *data_reply;	/* DATA reply (default 354) */
	const char *dot;	/* reply after "." / BDAT LAST */
	const char *kill_at;	/* at this command: 421 and close */
	const char *close_at;	/* at this command: close silently */
	const char *mute_at;	/* at this command: never answer */
	bool batch;		/* hold MAIL/RCPT replies until DATA */
	bool in_data;
	size_t bdat_left;
	bool bdat_last;
	int nmail, ndata;
	bool closed;
	bool shut_pending;	/* half-close once the output is written */
	const char *starttls;	/* STARTTLS reply (default 454), sent as is */
	bool no_tls;		/* after STARTTLS, answer the handshake with
				 * plaintext */
	bool tls_started;
	const char *data_abort;	/* reply to the first DATA line, stop reading */
};

static void
fake_reply(struct fake *f, const char *r)
{
	struct evbuffer *out = bufferevent_get_output(f->bev);

	if (f->batch) {
		buf_adds(&f->held, r);
		buf_adds(&f->held, "\r\n");
		return;
	}
	evbuffer_add_printf(out, "%s\r\n", r);
}

static void
fake_flush(struct fake *f)
{
	evbuffer_add(bufferevent_get_output(f->bev), f->held.data, f->held.len);
	buf_reset(&f->held);
}

static void
fake_close(struct fake *f)
{
	if (f->bev != NULL)
		bufferevent_free(f->bev);
	f->bev = NULL;
	f->closed = true;
}

/* Write what is queued now, then half-close: the client reads the last
 * reply, then EOF. */
static void
fake_shut(struct fake *f)
{
	f->shut_pending = true;
}

static void
fake_write(struct bufferevent *bev, void *arg)
{
	struct fake *f = arg;

	if (f->shut_pending && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		f->shut_pending = false;
	}
}

static bool
starts(const char *line, const char *p)
{
	return p != NULL && strncasecmp(line, p, strlen(p)) == 0;
}

/* One command line; returns false when the connection went away. */
static bool
fake_cmd(struct fake *f, const char *line)
{
	if (f->log.len > 0)
		buf_addc(&f->log, '\n');
	buf_adds(&f->log, line);
	if (starts(line, f->kill_at)) {
		fake_flush(f);
		evbuffer_add_printf(bufferevent_get_output(f->bev),
		    "421 4.3.2 shutting down\r\n");
		fake_shut(f);
		return true;
	}
	if (starts(line, f->close_at)) {
		fake_close(f);
		return false;
	}
	if (starts(line, f->mute_at))
		return true;
	if (starts(line, "EHLO")) {
		if (f->ehlo != NULL)
			evbuffer_add(bufferevent_get_output(f->bev), f->ehlo,
			    strlen(f->ehlo));
		else
			fake_reply(f, "502 5.5.2 Error: command not recognized");
	} else if (starts(line, "HELO")) {
		fake_reply(f, "250 fake.test");
	} else if (starts(line, "MAIL")) {
		f->nmail++;
		fake_reply(f, f->mail ? f->mail : "250 2.1.0 Ok");
	} else if (starts(line, "RCPT")) {
		if (strstr(line, "temp") != NULL)
			fake_reply(f, "450 4.2.0 <temp@x>: Recipient address rejected: greylisted");
		else if (strstr(line, "perm") != NULL)
			fake_reply(f, "550-5.1.1 <perm@x>: Recipient address rejected:\r\n550 5.1.1 User unknown");
		else
			fake_reply(f, "250 2.1.5 Ok");
	} else if (starts(line, "DATA")) {
		const char *r = f->data_reply ? f->data_reply : "354 End data with <CR><LF>.<CR><LF>";

		f->batch = false;
		fake_flush(f);
		fake_reply(f, r);
		if (r[0] == '3')
			f->in_data = true;
	} else if (starts(line, "BDAT")) {
		f->bdat_left = strtoul(line + 5, NULL, 10);
		f->bdat_last = strstr(line, "LAST") != NULL;
		f->batch = false;
		fake_flush(f);
		if (f->bdat_left == 0) {
			f->ndata++;
			fake_reply(f, f->bdat_last ? (f->dot ? f->dot : "250 2.0.0 Ok: queued") : "250 2.0.0 chunk");
		}
	} else if (starts(line, "RSET")) {
		fake_reply(f, "250 2.0.0 Ok");
	} else if (starts(line, "QUIT")) {
		fake_reply(f, "221 2.0.0 Bye");
		fake_shut(f);
	} else if (starts(line, "STARTTLS")) {
		if (f->starttls != NULL) {
			evbuffer_add(bufferevent_get_output(f->bev), f->starttls,
			    strlen(f->starttls));
			f->tls_started = f->no_tls;
		}
		else
			fake_reply(f, "454 4.7.0 TLS not available");
	} else {
		fake_reply(f, "502 5.5.2 Error: command not recognized");
	}
	return true;
}

static void
fake_read(struct bufferevent *bev, void *arg)
{
	struct fake *f = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	while (f->bev != NULL) {
		if (f->tls_started) {
			/* a ClientHello: answer in plaintext */
			if (evbuffer_get_length(in) == 0)
				return;
			evbuffer_drain(in, evbuffer_get_length(in));
			if (f->log.len > 0)
				buf_addc(&f->log, '\n');
			buf_adds(&f->log, "(handshake)");
			evbuffer_add_printf(bufferevent_get_output(bev),
			    "500 5.5.1 this is not TLS\r\n");
			return;
		}
		if (f->bdat_left > 0) {
			size_t have = evbuffer_get_length(in);
			char tmp[4096];

			if (have == 0)
				return;
			n = have < f->bdat_left ? have : f->bdat_left;
			n = n < sizeof(tmp) ? n : sizeof(tmp);
			evbuffer_remove(in, tmp, n);
			buf_add(&f->data, tmp, n);
			f->bdat_left -= n;
			if (f->bdat_left == 0) {
				if (f->bdat_last)
					f->ndata++;
				fake_reply(f, f->bdat_last ? (f->dot ? f->dot :
				    "250 2.0.0 Ok: queued") : "250 2.0.0 chunk");
			}
			continue;
		}
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT);
		if (line == NULL)
			return;
		if (f->in_data && f->data_abort != NULL) {
			fake_reply(f, f->data_abort);
			bufferevent_disable(bev, EV_READ);
			free(line);
			return;
		}
		if (f->in_data) {
			if (strcmp(line, ".") == 0) {
				f->in_data = false;
				f->ndata++;
				fake_reply(f, f->dot ? f->dot : "250 2.0.0 Ok: queued as 4F2A1C");
			} else {
				buf_add(&f->data, line, n);
				buf_adds(&f->data, "\r\n");
			}
			free(line);
			continue;
		}
		if (!fake_cmd(f, line)) {
			free(line);
			return;
		}
		free(line);
	}
}

static void
fake_event(struct bufferevent *bev, short what, void *arg)
{
	fake_close(arg);
}

static const char EHLO_FULL[] = "250-fake.test\r\n250-PIPELINING\r\n"
    "250-SIZE 1000000\r\n250-8BITMIME\r\n250-DSN\r\n250-CHUNKING\r\n"
    "250 ENHANCEDSTATUSCODES\r\n";
static const char EHLO_PLAIN[] = "250-fake.test\r\n250 8BITMIME\r\n";

/* ---- the driver ---- */

#define MAXT 3
#define MAXR 4

struct run {
	struct event_base *base;
	struct smtp_client *c;
	const struct smtp_txn *txn;
	int ntxn, cur;
	int ready_out, ready_reason;
	char ready_text[300];
	int out[MAXT], reason[MAXT], code[MAXT];
	int rout[MAXT][MAXR], rcode[MAXT][MAXR];
	char renh[MAXT][MAXR][16];
	int nres;
	bool quit_done, tls_fallback;
};

static void quit_cb(struct smtp_client *c, const struct smtp_result *r, void *arg);

static void
done_cb(struct smtp_client *c, const struct smtp_result *r, void *arg)
{
	struct run *run = arg;
	int i = run->nres++;
	size_t j;

	run->out[i] = r->outcome;
	run->reason[i] = r->reason;
	run->code[i] = r->reply.code;
	for (j = 0; j < r->nrcpt && j < MAXR; j++) {
		run->rout[i][j] = r->rcpt[j].outcome;
		run->rcode[i][j] = r->rcpt[j].reply.code;
		snprintf(run->renh[i][j], 16, "%s", r->rcpt[j].reply.enh);
	}
	if (run->cur < run->ntxn && smtp_client_alive(c)) {
		smtp_client_send(c, &run->txn[run->cur++], done_cb, run);
		return;
	}
	if (smtp_client_alive(c))
		smtp_client_quit(c, quit_cb, run);
	else
		event_base_loopbreak(run->base);
}

static void
quit_cb(struct smtp_client *c, const struct smtp_result *r, void *arg)
{
	struct run *run = arg;

	run->quit_done = true;
	event_base_loopbreak(run->base);
}

static void
ready_cb(struct smtp_client *c, const struct smtp_result *r, void *arg)
{
	struct run *run = arg;
	char s[300];

	run->ready_out = r->outcome;
	run->ready_reason = r->reason;
	run->tls_fallback = r->tls_fallback_ok;
	snprintf(run->ready_text, sizeof(run->ready_text), "%s",
	    smtp_reply_str(&r->reply, s, sizeof(s)));
	if (r->outcome != SMTP_OUT_OK) {
		event_base_loopbreak(run->base);
		return;
	}
	if (run->ntxn == 0) {
		smtp_client_quit(c, quit_cb, run);
		return;
	}
	if (smtp_client_send(c, &run->txn[run->cur++], done_cb, run) != 0)
		event_base_loopbreak(run->base);
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;

	ok(0, "guard timer fired (test hung)");
	event_base_loopbreak(run->base);
}

static void
fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	buf_init(&f->log, 0);
	buf_init(&f->data, 0);
	buf_init(&f->held, 0);
	f->ehlo = EHLO_FULL;
}

static void
fake_free(struct fake *f)
{
	if (f->bev != NULL)
		bufferevent_free(f->bev);
	buf_free(&f->log);
	buf_free(&f->data);
	buf_free(&f->held);
}

/* Run a session: greeting, then the transactions, then QUIT. */
static void
run_session(struct fake *f, struct smtp_client_opts *o, const struct smtp_txn *t,
    int ntxn, struct run *run, const char *greeting)
{
	int sv[2];
	struct event *guard;
	struct timeval tv = { 10, 0 };

	memset(run, 0, sizeof(*run));
	run->base = event_base_new();
	run->txn = t;
	run->ntxn = ntxn;
	run->ready_out = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		fatal("socketpair");
	evutil_make_socket_nonblocking(sv[1]);
	f->bev = bufferevent_socket_new(run->base, sv[1], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(f->bev, fake_read, fake_write, fake_event, f);
	bufferevent_enable(f->bev, EV_READ | EV_WRITE);
	evbuffer_add_printf(bufferevent_get_output(f->bev), "%s\r\n",
	    greeting ? greeting : "220 fake.test ESMTP");
	run->c = smtp_client_new(run->base, o);
	if (smtp_client_connect_fd(run->c, sv[0], ready_cb, run) != 0)
		fatal("connect_fd");
	guard = evtimer_new(run->base, guard_cb, run);
	evtimer_add(guard, &tv);
	event_base_dispatch(run->base);
	event_free(guard);
	smtp_client_free(run->c);
	if (f->bev != NULL) {
		bufferevent_free(f->bev);
		f->bev = NULL;
	}
	event_base_free(run->base);
}

static const char MSG[] = "Subject: test\r\n\r\nhello\r\n.dot line\r\n";

static void
test_pipelining(void)
{
	struct fake f;
	struct smtp_client_opts o = { .id = "T1", .helo = "client.test" };
	struct smtp_txn_rcpt rc[3] = { { "a@x", 0, NULL },
	    { "temp@x", SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY, "orig+1@x" },
	    { "perm@x", 0, NULL } };
	struct smtp_txn t = { .from = "s@x", .rcpt = rc, .nrcpt = 3,
	    .msg = MSG, .len = sizeof(MSG) - 1, .ret = SMTP_RET_HDRS,
	    .envid = "id=1" };
	struct run run;

	fake_init(&f);
	f.batch = true;	/* no reply before DATA: only a pipelining client
			 * gets through */
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.ready_out, SMTP_OUT_OK, "pipelining: session ready");
	is_int(run.nres, 1, "pipelining: one result");
	is_int(run.out[0], SMTP_OUT_OK, "pipelining: accepted");
	is_int(run.rout[0][0], SMTP_OUT_OK, "rcpt 1 accepted");
	is_int(run.rcode[0][0], 250, "rcpt 1 final reply is the DATA one");
	is_int(run.rout[0][1], SMTP_OUT_TEMP, "rcpt 2 4xx: temporary");
	is_int(run.rcode[0][1], 450, "rcpt 2 reply code");
	is_str(run.renh[0][1], "4.2.0", "rcpt 2 enhanced code");
	is_int(run.rout[0][2], SMTP_OUT_PERM, "rcpt 3 5xx: permanent");
	is_str(run.renh[0][2], "5.1.1", "rcpt 3 enhanced code");
	is_str(f.log.data, "EHLO client.test\n"
	    "MAIL FROM:<s@x> SIZE=35 RET=HDRS ENVID=id+3D1\n"
	    "RCPT TO:<a@x>\n"
	    "RCPT TO:<temp@x> NOTIFY=FAILURE,DELAY ORCPT=rfc822;orig+2B1@x\n"
	    "RCPT TO:<perm@x>\nDATA\nQUIT",
	    "pipelining: commands in order, DSN parameters");
	is_str(f.data.data, "Subject: test\r\n\r\nhello\r\n..dot line\r\n",
	    "message dot-stuffed");
	ok(run.quit_done, "QUIT answered");
	fake_free(&f);
}

static void
test_reuse_and_rset(void)
{
	struct fake f;
	struct smtp_client_opts o = { .id = "T2", .no_pipelining = true };
	struct smtp_txn_rcpt ok1 = { "a@x", 0, NULL }, bad = { "perm@x", 0, NULL };
	struct smtp_txn t[3] = {
		{ .from = "s@x", .rcpt = &ok1, .nrcpt = 1, .msg = MSG, .len = sizeof(MSG) - 1 },
		{ .from = "s@x", .rcpt = &bad, .nrcpt = 1, .msg = MSG, .len = sizeof(MSG) - 1 },
		{ .from = "", .rcpt = &ok1, .nrcpt = 1, .msg = "x\r\n", .len = 3 },
	};
	struct run run;

	fake_init(&f);
	f.ehlo = EHLO_PLAIN;
	run_session(&f, &o, t, 3, &run, NULL);
	is_int(run.nres, 3, "reuse: three transactions on one connection");
	is_int(run.out[0], SMTP_OUT_OK, "reuse: first accepted");
	is_int(run.out[1], SMTP_OUT_PERM, "reuse: second refused (only rcpt 550)");
	is_int(run.out[2], SMTP_OUT_OK, "reuse: third accepted");
	is_int(f.nmail, 3, "three MAIL commands");
	is_int(f.ndata, 2, "two messages");
	is_str(f.log.data, "EHLO localhost\nMAIL FROM:<s@x>\nRCPT TO:<a@x>\nDATA\n"
	    "MAIL FROM:<s@x>\nRCPT TO:<perm@x>\n"
	    "RSET\nMAIL FROM:<>\nRCPT TO:<a@x>\nDATA\nQUIT",
	    "no pipelining: one at a time, no DATA without recipients, RSET after a failure");
	fake_free(&f);
}

static void
test_421(void)
{
	struct fake f;
	struct smtp_client_opts o = { .id = "T3" };
	struct smtp_txn_rcpt rc[2] = { { "a@x", 0, NULL }, { "b@x", 0, NULL } };
	struct smtp_txn t = { .from = "s@x", .rcpt = rc, .nrcpt = 2, .msg = MSG,
	    .len = sizeof(MSG) - 1 };
	struct run run;

	fake_init(&f);
	f.ehlo = EHLO_PLAIN;
	f.kill_at = "RCPT TO:<b@x>";
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.nres, 1, "421: one result");
	is_int(run.out[0], SMTP_OUT_TEMP, "421 mid-session: temporary");
	is_int(run.reason[0], SMTP_R_REPLY, "421: reason is the reply");
	is_int(run.code[0], 421, "421: the reply");
	is_int(run.rout[0][0], SMTP_OUT_TEMP, "421: accepted rcpt is deferred");
	is_int(run.rout[0][1], SMTP_OUT_TEMP, "421: other rcpt deferred");
	is_int(f.ndata, 0, "421: no message");
	fake_free(&f);

	fake_init(&f);
	run_session(&f, &o, &t, 1, &run, "421 4.3.2 busy");
	is_int(run.ready_out, SMTP_OUT_TEMP, "421 greeting: temporary");
	is_int(run.ready_reason, SMTP_R_REPLY, "421 greeting: reply");
	fake_free(&f);

	fake_init(&f);
	run_session(&f, &o, &t, 1, &run, "554 5.7.1 go away");
	is_int(run.ready_out, SMTP_OUT_PERM, "554 greeting: permanent");
	fake_free(&f);
}

static void
test_close_and_timeout(void)
{
	struct fake f;
	struct smtp_client_opts o = { .id = "T4" };
	struct smtp_txn_rcpt rc = { "a@x", 0, NULL };
	struct smtp_txn t = { .from = "s@x", .rcpt = &rc, .nrcpt = 1, .msg = MSG,
	    .len = sizeof(MSG) - 1 };
	struct run run;

	fake_init(&f);
	f.close_at = "MAIL";
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.nres, 1, "close: one result");
	is_int(run.out[0], SMTP_OUT_TEMP, "server closes: temporary");
	is_int(run.reason[0], SMTP_R_NETWORK, "server closes: network");
	is_int(run.rout[0][0], SMTP_OUT_TEMP, "server closes: rcpt deferred");
	fake_free(&f);

	fake_init(&f);
	f.close_at = "EHLO";
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.ready_reason, SMTP_R_NETWORK, "close during setup: network");
	fake_free(&f);

	fake_init(&f);
	f.ehlo = EHLO_PLAIN;
	f.mute_at = "MAIL";
	o.tmo.mail = 1;
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.out[0], SMTP_OUT_TEMP, "timeout: temporary");
	is_int(run.reason[0], SMTP_R_TIMEOUT, "timeout: reason");
	fake_free(&f);

	fake_init(&f);
	o.tmo.mail = 0;
	o.tmo.greeting = 1;
	run_session(&f, &o, &t, 1, &run, "220-no end");
	is_int(run.ready_reason, SMTP_R_TIMEOUT, "greeting never ends: timeout");
	fake_free(&f);

	fake_init(&f);
	o.tmo.greeting = 0;
	run_session(&f, &o, &t, 1, &run, "220 ok\r\nxyz");
	is_int(run.ready_reason, SMTP_R_PROTOCOL, "garbage instead of the EHLO reply: protocol error");
	fake_free(&f);

	fake_init(&f);
	run_session(&f, &o, &t, 1, &run, "hello there");
	is_int(run.ready_reason, SMTP_R_PROTOCOL, "garbage greeting: protocol error");
	fake_free(&f);
}

static void
test_starttls_policy(void)
{
	struct fake f;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct smtp_client_opts o = { .id = "T5", .tls = SMTP_TLS_REQUIRED,
	    .ssl_ctx = ctx };
	struct smtp_txn_rcpt rc = { "a@x", 0, NULL };
	struct smtp_txn t = { .from = "s@x", .rcpt = &rc, .nrcpt = 1, .msg = MSG,
	    .len = sizeof(MSG) - 1 };
	struct run run;

	fake_init(&f);
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.ready_out, SMTP_OUT_TEMP, "TLS required, not offered: temporary");
	is_int(run.ready_reason, SMTP_R_POLICY, "TLS required, not offered: policy");
	ok(strstr(f.log.data, "MAIL") == NULL, "no MAIL sent in plaintext");
	is_int(run.nres, 0, "no transaction");
	fake_free(&f);

	fake_init(&f);
	o.tls = SMTP_TLS_VERIFIED;
	f.ehlo = "250-fake\r\n250 STARTTLS\r\n";
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.ready_reason, SMTP_R_REPLY, "STARTTLS refused, verified policy: fails");
	ok(strstr(f.log.data, "MAIL") == NULL, "no MAIL sent after refused STARTTLS");
	fake_free(&f);

	fake_init(&f);
	o.tls = SMTP_TLS_OPPORTUNISTIC;
	f.ehlo = "250-fake\r\n250 STARTTLS\r\n";
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.out[0], SMTP_OUT_OK, "opportunistic: STARTTLS refused, plaintext delivery");
	fake_free(&f);

	/* the handshake fails (the server speaks plaintext after its 220):
	 * opportunistic reports that a plaintext retry is possible */
	fake_init(&f);
	f.ehlo = "250-fake\r\n250 STARTTLS\r\n";
	f.starttls = "220 2.0.0 go ahead\r\n";
	f.no_tls = true;
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.ready_reason, SMTP_R_TLS, "opportunistic, handshake fails: TLS failure");
	ok(run.tls_fallback, "opportunistic: plaintext retry allowed");
	ok(strstr(f.log.data, "MAIL") == NULL, "handshake failure: no MAIL");
	fake_free(&f);

	fake_init(&f);
	o.tls = SMTP_TLS_REQUIRED;
	f.ehlo = "250-fake\r\n250 STARTTLS\r\n";
	f.starttls = "220 2.0.0 go ahead\r\n";
	f.no_tls = true;
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.ready_reason, SMTP_R_TLS, "required, handshake fails: TLS failure");
	ok(!run.tls_fallback, "required: no plaintext retry");
	fake_free(&f);

	/* STARTTLS response injection: bytes after the 220 in the same
	 * packet are refused before TLS starts */
	fake_init(&f);
	f.ehlo = "250-fake\r\n250 STARTTLS\r\n";
	f.starttls = "220 2.0.0 go ahead\r\n250-injected\r\n250 PIPELINING\r\n";
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.ready_reason, SMTP_R_PROTOCOL, "bytes after the 220 to STARTTLS: protocol error");
	ok(strstr(f.log.data, "(handshake)") == NULL, "no handshake started");
	fake_free(&f);

	fake_init(&f);
	o.tls = SMTP_TLS_NONE;
	o.auth_user = "u";
	o.auth_pass = "p";
	f.ehlo = "250-fake\r\n250 AUTH PLAIN\r\n";
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.ready_reason, SMTP_R_POLICY, "no AUTH without TLS");
	ok(strstr(f.log.data, "AUTH") == NULL, "credentials never sent");
	fake_free(&f);
	SSL_CTX_free(ctx);
}

static void
test_helo_bdat_local(void)
{
	struct fake f;
	struct smtp_client_opts o = { .id = "T6", .bdat = true, .chunk_size = 10 };
	struct smtp_txn_rcpt rc[2] = { { "a@x", 0, NULL }, { "b@x", 0, NULL } };
	struct smtp_txn t = { .from = "s@x", .rcpt = rc, .nrcpt = 2, .msg = MSG,
	    .len = sizeof(MSG) - 1 };
	struct smtp_txn t8 = { .from = "s@x", .rcpt = rc, .nrcpt = 1,
	    .msg = "caf\xc3\xa9\r\n", .len = 7 };
	struct smtp_txn tu = { .from = "j\xc3\xb6rg@x", .rcpt = rc, .nrcpt = 1,
	    .msg = "x\r\n", .len = 3 };
	struct run run;
	char big[2000];

	fake_init(&f);
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.out[0], SMTP_OUT_OK, "BDAT: accepted");
	is_str(f.data.data, MSG, "BDAT: message unchanged (no dot-stuffing)");
	ok(strstr(f.log.data, "BDAT 10\n") != NULL && strstr(f.log.data, "BDAT 5 LAST") != NULL,
	    "BDAT: chunks of 10, the last one LAST");
	ok(strstr(f.log.data, "DATA") == NULL, "BDAT: no DATA");
	fake_free(&f);

	fake_init(&f);
	f.ehlo = NULL;
	o.bdat = false;
	run_session(&f, &o, &t8, 1, &run, NULL);
	is_int(run.ready_out, SMTP_OUT_OK, "HELO fallback after 502");
	is_int(run.out[0], SMTP_OUT_PERM, "8-bit message to a HELO server: refused");
	is_int(run.reason[0], SMTP_R_POLICY, "8-bit: policy");
	ok(strstr(f.log.data, "MAIL") == NULL, "8-bit: nothing sent");
	ok(strstr(f.log.data, "HELO localhost") != NULL, "HELO sent");
	fake_free(&f);

	fake_init(&f);
	f.ehlo = EHLO_PLAIN;
	run_session(&f, &o, &t8, 1, &run, NULL);
	is_int(run.out[0], SMTP_OUT_OK, "8-bit with 8BITMIME: sent");
	ok(strstr(f.log.data, "BODY=8BITMIME") != NULL, "BODY=8BITMIME");
	fake_free(&f);

	fake_init(&f);
	run_session(&f, &o, &tu, 1, &run, NULL);
	is_int(run.out[0], SMTP_OUT_PERM, "UTF-8 address without SMTPUTF8: refused");
	fake_free(&f);

	fake_init(&f);
	f.ehlo = "250-x\r\n250 SMTPUTF8\r\n";
	run_session(&f, &o, &tu, 1, &run, NULL);
	is_int(run.out[0], SMTP_OUT_OK, "UTF-8 address with SMTPUTF8: sent");
	ok(strstr(f.log.data, "MAIL FROM:<j\xc3\xb6rg@x> SMTPUTF8") != NULL,
	    "MAIL carries SMTPUTF8");
	fake_free(&f);

	{
		struct smtp_txn_rcpt ur = { "b@x", SMTP_NOTIFY_NEVER, "j\xc3\xb6rg+1@x" };
		struct smtp_txn tx = { .from = "s@x", .rcpt = &ur, .nrcpt = 1,
		    .msg = "x\r\n", .len = 3 };

		fake_init(&f);
		f.ehlo = "250-x\r\n250-DSN\r\n250 SMTPUTF8\r\n";
		run_session(&f, &o, &tx, 1, &run, NULL);
		ok(strstr(f.log.data, "RCPT TO:<b@x> NOTIFY=NEVER ORCPT=utf-8;j\xc3\xb6rg\\x{2B}1@x") != NULL,
		    "UTF-8 ORCPT as utf-8-addr-xtext");
		fake_free(&f);
	}

	fake_init(&f);
	f.ehlo = "250-x\r\n250 REQUIRETLS\r\n";
	tu.from = "s@x";
	tu.requiretls = true;
	run_session(&f, &o, &tu, 1, &run, NULL);
	is_int(run.out[0], SMTP_OUT_PERM, "REQUIRETLS without TLS: refused");
	ok(strstr(f.log.data, "MAIL") == NULL, "REQUIRETLS: nothing sent");
	fake_free(&f);

	fake_init(&f);
	f.ehlo = "250-x\r\n250 SIZE 1000\r\n";
	memset(big, 'a', sizeof(big));
	t.msg = big;
	t.len = sizeof(big);
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.out[0], SMTP_OUT_PERM, "too big for SIZE: refused");
	ok(strstr(f.log.data, "MAIL") == NULL, "SIZE: nothing sent");
	fake_free(&f);

	fake_init(&f);
	f.mail = "452 4.3.1 Insufficient system storage";
	t.msg = MSG;
	t.len = sizeof(MSG) - 1;
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.out[0], SMTP_OUT_TEMP, "MAIL 452: temporary");
	is_int(run.rcode[0][1], 452, "MAIL reply given to every recipient");
	is_int(f.data.len, 0, "MAIL refused: no message content sent");
	fake_free(&f);

	fake_init(&f);
	f.dot = "554 5.7.1 rejected: spam";
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.out[0], SMTP_OUT_PERM, "final 554: permanent");
	is_int(run.rout[0][0], SMTP_OUT_PERM, "final 554 for each accepted rcpt");
	fake_free(&f);
}

static void
test_early_reply(void)
{
	struct fake f;
	struct smtp_client_opts o = { .id = "T8" };
	struct smtp_txn_rcpt rc = { "a@x", 0, NULL };
	size_t len = 40000 * 100, i;
	char *big = malloc(len);
	struct smtp_txn t = { .from = "s@x", .rcpt = &rc, .nrcpt = 1, .msg = big,
	    .len = len };
	struct run run;

	for (i = 0; i < len; i += 100) {
		memset(big + i, 'x', 98);
		memcpy(big + i + 98, "\r\n", 2);
	}
	fake_init(&f);
	f.ehlo = EHLO_PLAIN;	/* no SIZE: the client must try */
	f.data_abort = "554 5.3.4 Message too big for system";
	run_session(&f, &o, &t, 1, &run, NULL);
	is_int(run.nres, 1, "reply during DATA: one result");
	is_int(run.out[0], SMTP_OUT_PERM, "554 during DATA: permanent");
	is_int(run.code[0], 554, "554 during DATA: the server's reply kept");
	is_int(run.rcode[0][0], 554, "554 during DATA: given to the recipient");
	fake_free(&f);
	free(big);
}

static void
test_args(void)
{
	struct event_base *base = event_base_new();
	struct smtp_client_opts o = { 0 };
	struct smtp_client *c = smtp_client_new(base, &o);
	struct smtp_txn_rcpt rc = { "a@x", 0, NULL };
	struct smtp_txn t = { .from = "s@x", .rcpt = &rc, .nrcpt = 1, .msg = "x\r\n", .len = 3 };

	is_int(smtp_client_send(c, &t, NULL, NULL), PTT_EAGAIN, "send before ready");
	smtp_client_free(c);
	o.tls = SMTP_TLS_VERIFIED;
	c = smtp_client_new(base, &o);
	is_int(smtp_client_connect_fd(c, -1, NULL, NULL), PTT_EINVAL,
	    "verified policy without an SSL_CTX");
	smtp_client_free(c);
	event_base_free(base);
}

static void
ready_stop_cb(struct smtp_client *c, const struct smtp_result *r, void *arg)
{
	struct run *run = arg;

	run->ready_out = r->outcome;
	event_base_loopbreak(run->base);
}

static void
test_bad_txn(void)
{
	struct fake f;
	struct smtp_client_opts o = { .id = "T7" };
	struct run run;
	int sv[2], r1, r2, r3;
	struct smtp_txn_rcpt inj = { "a@x>\r\nRCPT TO:<b@y", 0, NULL };
	struct smtp_txn_rcpt rc = { "a@x", 0, NULL };
	struct smtp_txn t1 = { .from = "s@x", .rcpt = &inj, .nrcpt = 1, .msg = "x\r\n", .len = 3 };
	struct smtp_txn t2 = { .from = "s@x", .rcpt = &rc, .nrcpt = 1, .msg = "a\nb\r\n", .len = 5 };
	struct smtp_txn t3 = { .from = "s@x", .rcpt = &rc, .nrcpt = 0, .msg = "x\r\n", .len = 3 };

	/* a session that is ready: then try invalid transactions */
	fake_init(&f);
	memset(&run, 0, sizeof(run));
	run.base = event_base_new();
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	evutil_make_socket_nonblocking(sv[1]);
	f.bev = bufferevent_socket_new(run.base, sv[1], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(f.bev, fake_read, fake_write, fake_event, &f);
	bufferevent_enable(f.bev, EV_READ | EV_WRITE);
	evbuffer_add_printf(bufferevent_get_output(f.bev), "220 x\r\n");
	run.c = smtp_client_new(run.base, &o);
	smtp_client_connect_fd(run.c, sv[0], ready_stop_cb, &run);
	event_base_dispatch(run.base);
	ok(smtp_client_alive(run.c), "session ready");
	r1 = smtp_client_send(run.c, &t1, done_cb, &run);
	r2 = smtp_client_send(run.c, &t2, done_cb, &run);
	r3 = smtp_client_send(run.c, &t3, done_cb, &run);
	is_int(r1, PTT_EINVAL, "address with CRLF refused (no injection)");
	is_int(r2, PTT_EINVAL, "message with a bare LF refused");
	is_int(r3, PTT_EINVAL, "no recipients refused");
	smtp_client_free(run.c);
	fake_free(&f);
	event_base_free(run.base);
}

int
main(void)
{
	log_init("test_client");
	signal(SIGPIPE, SIG_IGN);
	if (getenv("PTT_DEBUG") == NULL)
		log_set_level(LOG_LVL_WARN);
	test_pipelining();
	test_reuse_and_rset();
	test_421();
	test_close_and_timeout();
	test_starttls_policy();
	test_helo_bdat_local();
	test_early_reply();
	test_args();
	test_bad_txn();
	return tap_done();
}
