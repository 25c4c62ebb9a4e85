/*
 * dns_probe.c - one lookup through src/lib/dns/resolve.c, for the
 * resolver interop test: either the resolver mode of relay and mx (DNS over
 * TLS to ptt-resolver, resolver_opts_dot) or plain forwarding.
 *
 *   dns_probe --dot ADDR --ca FILE [--anchor RR] [--name N] NAME TYPE
 *   dns_probe --forward ADDR [--anchor RR] [--config FILE] NAME TYPE
 *
 * Prints "STATUS SEC" and one line per record; exit 0 when a result came.
 * Trusts: its arguments; answers go through resolve.c's parsers.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dns/resolve.h"
#include "util/ev.h"
#include "util/log.h"

static int done;

static void
on_result(const struct dns_result *r, void *arg)
{
	char a[INET6_ADDRSTRLEN];

	(void)arg;
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
	done = 1;
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
	int i;

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
	resolve(res, argv[i], type, on_result, NULL);
	while (!done)
		event_base_loop(base, EVLOOP_ONCE);
	resolver_free(res);
	event_base_loop(base, EVLOOP_NONBLOCK);	/* bufferevent finalizers */
	event_base_free(base);
	return 0;
}
