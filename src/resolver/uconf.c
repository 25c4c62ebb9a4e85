/*
 * uconf.c - render ptt-resolver's unbound.conf (uconf.h).
 *
 * Standards: unbound.conf(5) (Unbound 1.17), RFC 7858 (DNS over TLS),
 * RFC 5011 (auto-trust-anchor-file), RFC 4035 (validation).
 *
 * Trusts: nothing in the parameters: every value that reaches the file is
 * checked to be a parseable address, a zone name, or a plain path/text
 * without quotes, newlines or control bytes, so a value cannot add
 * directives of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "resolver/uconf.h"
#include "util/err.h"
#include "util/net.h"
#include "util/mem.h"

#define O(f) offsetof(struct uconf, f)
const struct param uconf_params[] = {
	{ "state", PARAM_STR, "/var/lib/ptt/state", 0, 0, NULL, O(state),
	  "State directory: the CA, tls/resolver.*, resolver/ (unbound.conf, the root anchor)." },
	{ "listen", PARAM_STR, "127.0.0.1:10053", 0, 0, NULL, O(listen),
	  "Plain DNS for loopback clients (empty: none)." },
	{ "listen_tls", PARAM_STR, "127.0.0.1:10853", 0, 0, NULL, O(listen_tls),
	  "DNS over TLS (RFC 7858) for relay and mx, certificate resolver.internal (empty: none)." },
	{ "cert", PARAM_STR, "", 0, 0, NULL, O(cert),
	  "Certificate for DNS over TLS (empty: STATE/tls/resolver.pem from the internal CA)." },
	{ "key", PARAM_STR, "", 0, 0, NULL, O(key),
	  "Its private key (empty: STATE/tls/resolver.key)." },
	{ "root_key", PARAM_STR, "/usr/share/dns/root.key", 0, 0, NULL, O(root_key),
	  "Root trust anchor copied into STATE/resolver/root.key when that is missing; Unbound keeps it current (RFC 5011)." },
	{ "root_hints", PARAM_STR, "/usr/share/dns/root.hints", 0, 0, NULL, O(root_hints),
	  "Root hints file (empty or missing: Unbound's built-in hints)." },
	{ "stub", PARAM_STR, "", 0, 0, NULL, O(stub),
	  "Tests and demo: ZONE@HOST:PORT ... served by a local primary; \".\" goes to the first, so the real roots are never asked and the root anchor is not used." },
	{ "trust_anchor", PARAM_STR, "", 0, 0, NULL, O(trust_anchor),
	  "With stub: a DS or DNSKEY record in text form to validate a stub zone." },
	{ "trust_anchor_file", PARAM_STR, "", 0, 0, NULL, O(trust_anchor_file),
	  "With stub: a file of DS/DNSKEY records (zone-file format)." },
	{ "domain_insecure", PARAM_STR, "", 0, 0, NULL, O(domain_insecure),
	  "Zones whose answers are not validated (space-separated)." },
	{ "user", PARAM_STR, "unbound", 0, 0, NULL, O(user),
	  "User Unbound becomes after reading its keys, when started as root (empty: stays root)." },
	{ "unbound", PARAM_STR, "/usr/sbin/unbound", 0, 0, NULL, O(unbound),
	  "The Unbound daemon run with -d -c STATE/resolver/unbound.conf." },
	{ "verbosity", PARAM_INT, "1", 0, 5, NULL, O(verbosity),
	  "Unbound's log verbosity (logs go to standard error)." },
	{ "cache_max_ttl", PARAM_TIME, "1d", 1, 604800, NULL, O(cache_max_ttl),
	  "Longest time an answer is cached." },
	PARAM_END
};

/* A value that may be written between double quotes. */
static bool
plain(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == '"' ||
		    *s == '\\' ||
		    *s == 0x7f)
			return false;
	return true;
}

/* "host:port" / "[v6]:port" to unbound's "host@port". */
static int
addr_at(const char *hp, char *out, size_t outlen, unsigned *portp)
{
	char host[128], port[16];
	unsigned long p;
	char *end;

	if (net_split_hostport(hp, host, sizeof(host), port, sizeof(port)) != 0)
		return PTT_EINVAL;
	p = strtoul(port, &end, 10);
	if (*end != '\0' || p == 0 || p > 65535 || !plain(host) ||
	    strpbrk(host, " \t@#") != NULL || host[0] == '\0')
		return PTT_EINVAL;
	if ((size_t)snprintf(out, outlen, "%s@%lu", host, p) >= outlen)
		return PTT_ENOSPC;
	if (portp)
		*portp = (unsigned)p;
	return 0;
}

/* A zone name: letters, digits, '-', '_', dots; made absolute. */
static int
zone_abs(const char *z, size_t n, char *out, size_t outlen)
{
	if (n == 0 || n + 2 > outlen || n > 253)
		return PTT_EINVAL;
	if (n == 1 && z[0] == '.') {
		ptt_strlcpy(out, ".", outlen);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char c = z[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return PTT_EINVAL;
		if (c == '.' && (i == 0 || z[i - 1] == '.'))
			return PTT_EINVAL;
	}
	memcpy(out, z, n);
	out[n] = '\0';
	if (out[n - 1] != '.')
		ptt_strlcat(out, ".", outlen);
	return 0;
}

int
uconf_parse_stub(const char *item, size_t len, char *zone, size_t zonelen,
    char *addr, size_t addrlen)
{
	const char *at = memchr(item, '@', len);
	char hp[160];

	if (at == NULL || (size_t)(item + len - at - 1) >= sizeof(hp))
		return PTT_EINVAL;
	if (zone_abs(item, (size_t)(at - item), zone, zonelen) != 0)
		return PTT_EINVAL;
	memcpy(hp, at + 1, (size_t)(item + len - at - 1));
	hp[item + len - at - 1] = '\0';
	return addr_at(hp, addr, addrlen, NULL);
}

/* The next space-separated word of *p (length in *n), or NULL. */
static const char *
word(const char **p, size_t *n)
{
	const char *s = *p + strspn(*p, " \t,");

	*n = strcspn(s, " \t,");
	*p = s + *n;
	return *n ? s : NULL;
}

/* RFC 6761 names that Unbound answers itself unless told otherwise. */
static const char *const special_tlds[] = { "test.", "invalid.", "onion.",
	"home.arpa.", NULL };

/* The index in special_tlds of the one zone is under, or -1. */
static int
special_tld(const char *zone)
{
	size_t zl = strlen(zone);

	for (int i = 0; special_tlds[i]; i++) {
		size_t tl = strlen(special_tlds[i]);
		if (zl >= tl && strcasecmp(zone + zl - tl, special_tlds[i]) == 0 &&
		    (zl == tl || zone[zl - tl - 1] == '.'))
			return i;
	}
	return -1;
}

int
uconf_render(const struct uconf *c, const char *dir, const char *cert,
    const char *key, struct buf *b, char *err, size_t errlen)
{
	char a[200], zone[260], first[200] = "";
	const char *p, *w;
	unsigned tls_port = 0;
	bool seen[4] = { false, false, false, false };
	size_t n;
	int t;
	bool stubbed = c->stub && c->stub[0];
	const char *strs[] = { dir, cert, key, c->root_hints, c->user,
		c->trust_anchor, c->trust_anchor_file };

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strs[i] && !plain(strs[i])) {
			snprintf(err, errlen, "a path or value holds a quote, "
			    "backslash or control character");
			return PTT_EINVAL;
		}
	if ((!c->listen || !c->listen[0]) && (!c->listen_tls || !c->listen_tls[0])) {
		snprintf(err, errlen, "listen and listen_tls are both empty");
		return PTT_EINVAL;
	}
	buf_adds(b, "# unbound.conf written by ptt-resolver from ptt.conf "
	    "[resolver]; do not edit.\nserver:\n");
	buf_addf(b, "    directory: \"%s\"\n", dir);
	buf_adds(b, "    chroot: \"\"\n    pidfile: \"\"\n"
	    "    use-syslog: no\n    logfile: \"\"\n    log-time-ascii: yes\n");
	buf_addf(b, "    username: \"%s\"\n", c->user ? c->user : "");
	buf_addf(b, "    verbosity: %lld\n", c->verbosity);
	buf_adds(b, "    do-ip6: yes\n    do-udp: yes\n    do-tcp: yes\n");
	if (c->listen && c->listen[0]) {
		if (addr_at(c->listen, a, sizeof(a), NULL) != 0) {
			snprintf(err, errlen, "listen: bad address \"%s\"", c->listen);
			return PTT_EINVAL;
		}
		buf_addf(b, "    interface: %s\n", a);
	}
	if (c->listen_tls && c->listen_tls[0]) {
		if (addr_at(c->listen_tls, a, sizeof(a), &tls_port) != 0) {
			snprintf(err, errlen, "listen_tls: bad address \"%s\"",
			    c->listen_tls);
			return PTT_EINVAL;
		}
		buf_addf(b, "    interface: %s\n", a);
		buf_addf(b, "    tls-port: %u\n", tls_port);
		buf_addf(b, "    tls-service-pem: \"%s\"\n", cert);
		buf_addf(b, "    tls-service-key: \"%s\"\n", key);
	}
	/* Loopback only: relay and mx run on this machine. */
	buf_adds(b, "    access-control: 0.0.0.0/0 refuse\n"
	    "    access-control: ::0/0 refuse\n"
	    "    access-control: 127.0.0.0/8 allow\n"
	    "    access-control: ::1/128 allow\n");
	buf_adds(b, "    module-config: \"validator iterator\"\n"
	    "    harden-glue: yes\n    harden-dnssec-stripped: yes\n"
	    "    harden-below-nxdomain: yes\n    hide-identity: yes\n"
	    "    hide-version: yes\n    val-log-level: 2\n"
	    "    ede: yes\n");
	buf_addf(b, "    cache-max-ttl: %lld\n", c->cache_max_ttl);
	if (c->root_hints && c->root_hints[0] && !stubbed &&
	    access(c->root_hints, R_OK) == 0)
		buf_addf(b, "    root-hints: \"%s\"\n", c->root_hints);
	if (!stubbed) {
		buf_adds(b, "    qname-minimisation: yes\n");
		buf_adds(b, "    auto-trust-anchor-file: \"root.key\"\n");
	} else {
		/* The primary is on loopback; these names are ours alone. */
		buf_adds(b, "    do-not-query-localhost: no\n"
		    "    qname-minimisation: no\n    aggressive-nsec: no\n");
		if (c->trust_anchor && c->trust_anchor[0])
			buf_addf(b, "    trust-anchor: \"%s\"\n", c->trust_anchor);
		if (c->trust_anchor_file && c->trust_anchor_file[0])
			buf_addf(b, "    trust-anchor-file: \"%s\"\n",
			    c->trust_anchor_file);
		for (p = c->stub; (w = word(&p, &n)) != NULL;) {
			if (uconf_parse_stub(w, n, zone, sizeof(zone), a,
			    sizeof(a)) != 0) {
				snprintf(err, errlen, "stub: bad item \"%.*s\" "
				    "(want ZONE@HOST:PORT)", (int)n, w);
				return PTT_EINVAL;
			}
			if ((t = special_tld(zone)) >= 0 && !seen[t]) {
				seen[t] = true;
				buf_addf(b, "    local-zone: \"%s\" nodefault\n",
				    special_tlds[t]);
			}
		}
	}
	for (p = c->domain_insecure ? c->domain_insecure : "";
	    (w = word(&p, &n)) != NULL;) {
		if (zone_abs(w, n, zone, sizeof(zone)) != 0) {
			snprintf(err, errlen, "domain_insecure: bad zone \"%.*s\"",
			    (int)n, w);
			return PTT_EINVAL;
		}
		buf_addf(b, "    domain-insecure: \"%s\"\n", zone);
	}
	buf_adds(b, "remote-control:\n    control-enable: no\n");
	for (p = stubbed ? c->stub : ""; (w = word(&p, &n)) != NULL;) {
		uconf_parse_stub(w, n, zone, sizeof(zone), a, sizeof(a));
		if (first[0] == '\0')
			ptt_strlcpy(first, a, sizeof(first));
		if (strcmp(zone, ".") == 0)
			continue;
		buf_addf(b, "stub-zone:\n    name: \"%s\"\n    stub-addr: %s\n",
		    zone, a);
	}
	if (stubbed)	/* leak guard: the rest to the primary (REFUSED) */
		buf_addf(b, "stub-zone:\n    name: \".\"\n    stub-addr: %s\n",
		    first);
	if (buf_error(b)) {
		snprintf(err, errlen, "configuration too large");
		return PTT_ENOSPC;
	}
	return 0;
}
