/*
 * dns_probe.c - one lookup through src/lib/dns/resolve.c, for the
 * resolver interop test: either the resolver mode of relay and mx (DNS over
 * TLS to ptt-resolver, resolver_opts_dot) or plain forwarding.
 *
 *   dns_probe --dot ADDR --ca FILE [--anchor RR] [--name N] NAME TYPE
 *   dns_probe --forward ADDR [--anchor RR] [--config FILE] NAME TYPE
 *   dns_probe --dot ADDR --ca FILE --repeat N [--rounds R] [--pause-ms P]
 *       NAME TYPE
 *
 * Prints "STATUS SEC" and one line per record; exit 0 when a result came.
 * With --repeat: R rounds (default 1) of N queries in flight at once, P
 * milliseconds apart, then "answers=A ok=O connections=C" (C: TLS
 * connections the DoT backend opened). A "%d" in NAME becomes the query's
 * number J in its round; then " matched=M" counts the A answers whose
 * last octet is J (dot_server.py answers 192.0.2.J for hJ.*), proving
 * each answer reached its own query.
 * Trusts: its arguments; answers go through resolve.c's parsers.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dns/resolve.h"
#include "util/ev.h"
#include "util/log.h"

static int done, answers, oks, matched;
static bool quiet;

static void
on_result(const struct dns_result *r, void *arg)
{
	char a[INET6_ADDRSTRLEN];

	(void)arg;
	answers++;
	oks += r->status == DNS_OK;
	if (quiet && arg != NULL && r->qtype == DNS_T_A && r->n == 1) {
		const uint8_t *b = (const uint8_t *)&r->a[0];
		matched += b[3] == (uint8_t)((intptr_t)arg - 1);
	}
	if (quiet) {
		done++;
		return;
	}
	printf("%s %s\n", dns_status_str(r->status),
	    r->sec == DNS_SEC_SECURE ? "secure" :
	    r->sec == DNS_SEC_BOGUS ? "bogus" : "insecure");
	for (size_t i = 0; i < r->n; i++) {
		switch (r->qtype) {
		case DNS_T_MX:
			printf("MX %u %s\n", r->mx[i].pref, r->mx[i].host);
			break;
		case DNS_T_A:
			printf("A %s\n", inet_ntop(AF_INET, &r->a[i], a, sizeof(a)));
			break;
		case DNS_T_AAAA:
			printf("AAAA %s\n", inet_ntop(AF_INET6, &r->aaaa[i], a,
			    sizeof(a)));
			break;
		case DNS_T_TXT:
			printf("TXT %.*s\n", (int)r->txt[i].len, r->txt[i].s);
			break;
		default:
			printf("%s\n", dns_type_str(r->qtype));
		}
	}
	done++;
}

int
main(int argc, char **argv)
{
	struct resolver_opts o;
	struct event_base *base;
	struct resolver *res;
	const char *dot = NULL, *ca = NULL, *fwd = NULL, *err = NULL;
	const char *name = NULL;
	uint16_t type;
	int i, repeat = 0, rounds = 1, pause_ms = 0;

	log_init("dns_probe");
	memset(&o, 0, sizeof(o));
	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--dot") == 0)
			dot = argv[i + 1];
		else if (strcmp(argv[i], "--ca") == 0)
			ca = argv[i + 1];
		else if (strcmp(argv[i], "--forward") == 0)
			fwd = argv[i + 1];
		else if (strcmp(argv[i], "--anchor") == 0)
			o.trust_anchor = argv[i + 1];
		else if (strcmp(argv[i], "--config") == 0)
			o.config_file = argv[i + 1];
		else if (strcmp(argv[i], "--name") == 0)
			name = argv[i + 1];
		else if (strcmp(argv[i], "--repeat") == 0)
			repeat = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--rounds") == 0)
			rounds = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--pause-ms") == 0)
			pause_ms = atoi(argv[i + 1]);
		else
			break;
	}
	if (argc - i != 2 || (dot == NULL) == (fwd == NULL)) {
		fprintf(stderr, "usage: dns_probe --dot ADDR --ca FILE "
		    "[--anchor RR] [--name N] | --forward ADDR  NAME TYPE\n");
		return 2;
	}
	type = strcmp(argv[i + 1], "MX") == 0 ? DNS_T_MX :
	    strcmp(argv[i + 1], "A") == 0 ? DNS_T_A :
	    strcmp(argv[i + 1], "AAAA") == 0 ? DNS_T_AAAA :
	    strcmp(argv[i + 1], "TLSA") == 0 ? DNS_T_TLSA : DNS_T_TXT;
	if (dot) {
		resolver_opts_dot(&o, dot, ca);
		if (name)
			o.tls_name = name;
	} else {
		o.forward = fwd;
		o.allow_localhost = true;
	}
	o.timeout_ms = 8000;
	base = ev_base_new();
	if ((res = resolver_unbound_new(base, &o, &err)) == NULL) {
		fprintf(stderr, "dns_probe: %s\n", err);
		return 1;
	}
	if (repeat <= 0) {
		resolve(res, argv[i], type, on_result, NULL);
		while (!done)
			event_base_loop(base, EVLOOP_ONCE);
	} else {
		quiet = true;
		for (int k = 0; k < rounds; k++) {
			if (k > 0 && pause_ms > 0) {
				struct timeval tv = { pause_ms / 1000,
				    (pause_ms % 1000) * 1000 };
				event_base_loopexit(base, &tv);
				event_base_dispatch(base);
			}
			done = 0;
			for (int j = 0; j < repeat; j++) {
				char qn[300];
				const char *pct = strstr(argv[i], "%d");
				bool num = pct != NULL;
				if (num)
					snprintf(qn, sizeof(qn), "%.*s%d%s",
					    (int)(pct - argv[i]), argv[i], j,
					    pct + 2);
				resolve(res, num ? qn : argv[i], type, on_result,
				    num ? (void *)(intptr_t)(j + 1) : NULL);
			}
			while (done < repeat)
				event_base_loop(base, EVLOOP_ONCE);
		}
		printf("answers=%d ok=%d connections=%lu", answers, oks,
		    resolver_dot_connections(res));
		if (strstr(argv[i], "%d") != NULL)
			printf(" matched=%d", matched);
		printf("\n");
	}
	resolver_free(res);
	event_base_loop(base, EVLOOP_NONBLOCK);	/* bufferevent finalizers */
	event_base_free(base);
	return 0;
}
