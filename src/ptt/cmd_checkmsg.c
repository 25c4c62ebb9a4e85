/*
 * cmd_checkmsg.c - `ptt check-message`: print the Authentication-Results
 * field (RFC 8601) the mx would add to the message on stdin, with the
 * same code (auth/check.h): SPF for MAIL FROM and HELO, DKIM, DMARC.
 *
 *	ptt check-message [--ip ADDR] [--helo NAME] [--mail-from ADDR]
 *	    [--dns HOST:PORT] [--dns-config FILE] [--authserv-id ID]
 *	    [--timeout SECONDS] < message
 *
 * --dns sends every query to that server (a recursive resolver or, in
 * tests, the authoritative server of the zones involved); without it
 * libunbound resolves from the roots. --dns-config reads an unbound.conf
 * fragment (e.g. local-zone: "test." nodefault). Bare LF line ends are read as CRLF,
 * as SMTP would carry them. The verdict the mx would give follows on
 * stderr. Exit 0 when checked, 1 when the check could not run, 2 on bad
 * usage.
 *
 * Trusts: its arguments; nothing in the message or DNS.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/check.h"
#include "dns/resolve.h"
#include "ptt/cmd.h"
#include "util/buf.h"
#include "util/ev.h"
#include "util/mem.h"

int cmd_check_message(const struct ptt_ctx *ctx, int argc, char **argv);

#define CHECKMSG_MAX (64u << 20)

struct run {
	bool done;
	int status;
};

static void
done(const struct check_result *r, void *arg)
{
	struct run *run = arg;
	const char *verdict = "accept";

	fwrite(r->ar_field, 1, r->ar_len, stdout);
	fflush(stdout);
	if (r->temporary)
		verdict = "451 4.4.3 (temporary DNS failure)";
	else if (r->dmarc == DMARC_FAIL &&
	    r->dmarc_disposition == DMARC_P_REJECT)
		verdict = r->trusted_arc ? "quarantine (DMARC reject, trusted "
		    "ARC)" : "550 5.7.1 (DMARC reject)";
	else if (r->dmarc == DMARC_FAIL &&
	    r->dmarc_disposition == DMARC_P_QUARANTINE)
		verdict = "quarantine (DMARC)";
	fprintf(stderr, "verdict: %s%s%s\n", verdict,
	    r->temporary ? ": " : "", r->temporary ? r->temp_reason : "");
	run->done = true;
	run->status = PTT_EXIT_OK;
}

/* stdin with bare LF turned into CRLF. */
static int
read_message(struct buf *out)
{
	char chunk[65536];
	size_t n;
	char prev = '\0';

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (chunk[i] == '\n' && prev != '\r')
				buf_addc(out, '\r');
			buf_addc(out, chunk[i]);
			prev = chunk[i];
		}
	}
	if (ferror(stdin)) {
		say("cannot read the message from stdin");
		return PTT_EXIT_FAIL;
	}
	if (buf_error(out)) {
		say("the message is larger than %u bytes", CHECKMSG_MAX);
		return PTT_EXIT_USAGE;
	}
	return PTT_EXIT_OK;
}

int
cmd_check_message(const struct ptt_ctx *ctx, int argc, char **argv)
{
	static const char *const names[] = { "--ip", "--helo", "--mail-from",
		"--dns", "--authserv-id", "--timeout", "--dns-config" };
	const char *val[7] = { "127.0.0.1", "", "", NULL, NULL, "30", NULL };
	char host[256];
	struct check_request q;
	struct resolver_opts ro;
	struct resolver *res;
	struct event_base *base;
	struct run run = { false, PTT_EXIT_FAIL };
	struct buf msg;
	const char *rerr = NULL;
	int ret;

	(void)ctx;
	for (int i = 1; i < argc; i++) {
		bool missing = false, taken = false;
		for (int j = 0; j < 7 && !taken; j++) {
			const char *v = opt_value(argc, argv, &i, names[j],
			    &missing);
			if (missing) {
				say("%s needs a value", names[j]);
				return PTT_EXIT_USAGE;
			}
			if (v != NULL) {
				val[j] = v;
				taken = true;
			}
		}
		if (!taken) {
			say("unknown argument \"%s\"", argv[i]);
			return PTT_EXIT_USAGE;
		}
	}
	if (val[4] == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			ptt_strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		val[4] = host;
	}
	{
		unsigned char a[sizeof(struct in6_addr)];
		if (inet_pton(AF_INET, val[0], a) != 1 &&
		    inet_pton(AF_INET6, val[0], a) != 1) {
			say("--ip needs an IPv4 or IPv6 address");
			return PTT_EXIT_USAGE;
		}
	}
	if (atoi(val[5]) <= 0) {
		say("--timeout needs a positive number of seconds");
		return PTT_EXIT_USAGE;
	}
	buf_init(&msg, CHECKMSG_MAX);
	if ((ret = read_message(&msg)) != PTT_EXIT_OK) {
		buf_free(&msg);
		return ret;
	}

	base = ev_base_new();
	memset(&ro, 0, sizeof(ro));
	ro.stub = val[3];
	ro.allow_localhost = val[3] != NULL;
	ro.config_file = val[6];
	if ((res = resolver_unbound_new(base, &ro, &rerr)) == NULL) {
		say("resolver: %s", rerr);
		buf_free(&msg);
		event_base_free(base);
		return PTT_EXIT_FAIL;
	}
	memset(&q, 0, sizeof(q));
	q.ip = val[0];
	q.helo = val[1];
	q.mail_from = val[2];
	q.receiver = val[4];
	q.authserv_id = val[4];
	q.msg = msg.data;
	q.len = msg.len;
	q.timeout_ms = (unsigned)atoi(val[5]) * 1000;
	check_message(res, &q, done, &run);
	while (!run.done && event_base_loop(base, EVLOOP_ONCE) == 0)
		;
	resolver_free(res);
	event_base_free(base);
	buf_free(&msg);
	return run.status;
}
