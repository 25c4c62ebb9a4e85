/*
 * uconf.h - the unbound.conf that ptt-resolver writes from its [resolver]
 * section of ptt.conf (unbound.conf(5) of Unbound 1.17).
 *
 * Production: recursion from the root hints only (no forward-zone, ever),
 * DNSSEC validation with the root trust anchor kept up to date by Unbound
 * (RFC 5011 auto-trust-anchor-file in the state directory, initialised
 * from Debian's /usr/share/dns/root.key), plain DNS on one loopback
 * address and DNS over TLS (RFC 7858) on another, with the internal CA's
 * certificate for resolver.internal; access-control allows loopback only.
 * Tests and the demo: stub zones to the local primary, their own trust
 * anchors, and "." stubbed to the same primary so no query ever reaches
 * the real roots.
 *
 * Trusts: the parameters, after checking them (no quote, newline or
 * control byte reaches the file; addresses and zone names are parsed).
 */
#ifndef PTT_RESOLVER_UCONF_H
#define PTT_RESOLVER_UCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/param.h"

struct uconf {
	char *state;		/* state directory */
	char *listen;		/* plain DNS, "127.0.0.1:10053" ("" none) */
	char *listen_tls;	/* DNS over TLS, "127.0.0.1:10853" ("" none) */
	char *cert, *key;	/* "" : state/tls/resolver.pem, .key */
	char *root_key;		/* initial root anchor (Debian's root.key) */
	char *root_hints;	/* "" or a file: unbound's built-in hints */
	char *stub;		/* "ZONE@HOST:PORT ..." (tests, demo) */
	char *trust_anchor;	/* one DS/DNSKEY RR (with stub) */
	char *trust_anchor_file; /* zone-file format anchors (with stub) */
	char *domain_insecure;	/* zones validated as insecure */
	char *user;		/* unbound's username ("" : stay root) */
	char *unbound;		/* the daemon's path */
	long long verbosity;
	long long cache_max_ttl;
};

extern const struct param uconf_params[];

/* The resolver's own directory under the state directory. */
#define UCONF_DIR "resolver"

/*
 * Append the unbound.conf for c to out. dir is the resolver's working
 * directory (state/resolver), cert/key the resolved certificate paths.
 * 0, or PTT_EINVAL with the reason in err (a bad stub, address or value).
 */
int uconf_render(const struct uconf *c, const char *dir, const char *cert,
    const char *key, struct buf *out, char *err, size_t errlen);

/*
 * Parse one "ZONE@HOST:PORT" stub item into zone (absolute, with the
 * trailing dot) and addr (unbound's "HOST@PORT"). 0 or PTT_EINVAL.
 */
int uconf_parse_stub(const char *item, size_t len, char *zone,
    size_t zonelen, char *addr, size_t addrlen);

#endif
