/*
 * stack.h - the service sections of ptt.conf for a whole ptt stack on one
 * machine, written by `ptt init` (a deployment: public ports, Let's
 * Encrypt through ptt-acme) and by `ptt demo` (every port on loopback, the
 * internal CA instead of ptt-acme, the resolver stubbed to ptt-dns).
 *
 * One generator for both, so the demo runs the sections a deployment
 * runs: every path comes from the state directory (certificates and keys
 * of docs/internal-tls.md, the TSIG key, the SRS secret, ptt-acme's
 * certificate) or the configuration repository, every internal hop is
 * TLS verified against the internal CA, and the relay and mx resolve
 * through ptt-resolver over DNS over TLS.
 *
 * Trusts: its caller's layout (ptt init checks the domain and host names).
 */
#ifndef PTT_PTT_STACK_H
#define PTT_PTT_STACK_H

#include <stdbool.h>

#include "util/buf.h"

/* The sections, for per-section extra lines. */
enum stack_section { SEC_PTTD, SEC_DNS, SEC_RESOLVER, SEC_ACME, SEC_RELAY,
    SEC_SIGNER, SEC_SPAMFILTER, SEC_MX, SEC_SUBMISSION, SEC_ZONE, SEC_N };

struct stack_layout {
	const char *domain;	/* the mail domain */
	const char *host;	/* the mail host: MX target, submission, HELO */
	const char *config;	/* the configuration repository (local path) */
	const char *state;	/* the state directory */
	const char *queue;	/* the relay's queue directory */
	const char *ipv4;	/* the mail host's IPv4 addresses, or "" */
	const char *ipv6;	/* its IPv6 addresses, or "" */
	/* Listeners the world reaches (host:port). */
	const char *mx, *submission, *smtps, *dns, *status;
	/* Loopback ports of the internal services and of ptt-dns. */
	int signer, relay, spamfilter, resolver, resolver_tls, dns_port;
	/* ptt-acme gets the public certificate (STATE/certs/HOST.pem); else
	 * cert and key name it (the demo's, from the internal CA). */
	bool acme;
	const char *cert, *key;
	const char *acme_directory;	/* ACME directory URL (acme only) */
	/* Lines added at the end of a section (each ending in "\n"), or
	 * NULL: the demo's shorter intervals, stubs and test peers. */
	const char *extra[SEC_N];
};

/* The sections, appended to out (after the global part ptt init wrote). */
void stack_conf(struct buf *out, const struct stack_layout *l);

/* Make the repository readable by the services (they drop to nobody) and
 * its zones/ writable by ptt-dns (it commits accepted updates there);
 * the repository's files keep their owner otherwise. 0, or -1 with a
 * message printed. */
int stack_permissions(const char *config);

#endif
