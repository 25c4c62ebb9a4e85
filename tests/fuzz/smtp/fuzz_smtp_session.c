/*
 * fuzz_smtp_session.c - libFuzzer harness for a whole SMTP server session
 * (smtp/server.h) over a socketpair on an in-process event loop. The input
 * is what a client sends, split into writes at every 0xff byte; hooks
 * accept everything (recipients starting with "no" are refused, "later"
 * ones answered on the next loop turn; every third DATA/BDAT is refused by
 * the data hook). AUTH is offered in plaintext so
 * the SASL path is reachable. The server must never crash, leak or hang.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "smtp/server.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static struct smtp_session *later;

static void
h_rcpt(struct smtp_session *s, const struct smtp_path *to,
    const struct smtp_rcpt_params *p)
{
	(void)p;
	if (strncmp(to->addr, "no", 2) == 0)
		smtp_session_reply(s, 550, "5.1.1", "no");
	else if (strncmp(to->addr, "later", 5) == 0 && later == NULL)
		later = s;
	else
		smtp_session_reply(s, 250, NULL, "ok");
}

static void
h_auth(struct smtp_session *s, const char *z, const char *u, const char *p)
{
	(void)z;
	smtp_session_reply(s, strcmp(u, p) == 0 ? 235 : 535, NULL, "auth");
}

static void
h_data(struct smtp_session *s)
{
	static unsigned n;

	if (++n % 3 == 0)
		smtp_session_reply(s, 451, "4.3.0", "not now");
	else
		smtp_session_reply(s, n % 2 ? 354 : 250, NULL, "go");
}

static void
h_message(struct smtp_session *s, const struct smtp_envelope *env,
    const uint8_t *msg, size_t len)
{
	const struct smtp_session_info *in = smtp_session_info(s);

	if (env->nrcpt == 0 || (len > 0 && msg == NULL) || in->proto == NULL)
		abort();
	smtp_session_reply(s, 250, NULL, "ok %zu", len);
}

static void
turn(int fd)
{
	char sink[65536];

	event_base_loop(base, EVLOOP_NONBLOCK);
	if (later != NULL) {
		struct smtp_session *s = later;
		later = NULL;
		smtp_session_reply(s, 451, "4.3.0", "later");
	}
	while (read(fd, sink, sizeof(sink)) > 0)
		;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_server_config cfg = {
		.hostname = "fuzz.test", .auth = true, .auth_plaintext = true,
		.max_size = 4096, .max_rcpts = 5, .max_errors = 50,
	};
	struct smtp_hooks h = { .rcpt = h_rcpt, .auth = h_auth, .data = h_data,
	    .message = h_message };
	struct smtp_server *srv;
	int sv[2];
	size_t off = 0;
	int i;

	if (base == NULL) {
		signal(SIGPIPE, SIG_IGN);
		log_set_level(LOG_LVL_ERR);
		base = event_base_new();
	}
	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	srv = smtp_server_new(base, &cfg, &h, NULL);
	smtp_server_serve_fd(srv, sv[1], NULL, 0, false);
	turn(sv[0]);
	while (off < size) {
		const uint8_t *ff = memchr(data + off, 0xff, size - off);
		size_t n = ff ? (size_t)(ff - (data + off)) : size - off;
		size_t w = 0;
		while (w < n) {
			ssize_t r = write(sv[0], data + off + w, n - w);
			if (r <= 0)
				break;
			w += (size_t)r;
			turn(sv[0]);
		}
		turn(sv[0]);
		off += n + (ff ? 1 : 0);
	}
	for (i = 0; i < 4; i++)
		turn(sv[0]);
	close(sv[0]);
	for (i = 0; i < 4 && smtp_server_sessions(srv) > 0; i++)
		turn(-1);
	later = NULL;
	smtp_server_free(srv);
	return 0;
}
