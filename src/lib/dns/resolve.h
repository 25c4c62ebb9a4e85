/*
 * resolve.h - asynchronous DNS lookups integrated with libevent.
 *
 * Used by the relay (MX, A/AAAA, TLSA), the mx (SPF/DKIM/DMARC TXT, A/AAAA,
 * MX, PTR) and the tools (ptt dns-check: NS too). Three backends share
 * this interface:
 *   - libunbound (resolver_unbound_new): ub_ctx_create_event() on the
 *     caller's event base, ub_resolve_event(); no thread, no fork, so the
 *     daemons' seccomp lists stay short. DNSSEC validation when a trust
 *     anchor is given.
 *   - DNS over TLS to ptt-resolver (dot.c, resolver_opts_dot): the mode
 *     of relay and mx in production; the validating resolver's AD bit is
 *     trusted over the authenticated channel.
 *   - a scripted fake (dns/fake.h) for unit tests.
 *
 * Results (RFC 1035 rdata, RFC 2308 negative answers):
 *   DNS_OK        at least one record of the asked type
 *   DNS_NXDOMAIN  the name does not exist (RCODE 3)
 *   DNS_NODATA    the name exists, no record of that type
 *   DNS_TEMPFAIL  SERVFAIL, REFUSED, timeout, any local failure
 *   DNS_BOGUS     DNSSEC validation failed. A bogus answer is a failure,
 *                 never data: res->n is 0 and no records are exposed.
 * res->sec says whether the answer was DNSSEC-validated (SECURE), not
 * signed or not validated (INSECURE), or BOGUS.
 *
 * Records are parsed from wire rdata with bounds checks; malformed records
 * are dropped. TXT: each record's character-strings are joined without
 * separators (RFC 7208 3.3, RFC 6376 3.6.2.2); the joined bytes may hold
 * any octet (a NUL too: use len). MX: sorted by preference (RFC 5321 5.1),
 * ties kept in answer order; a null MX (RFC 7505) has host "". Names are
 * in presentation format without the trailing dot, bytes outside
 * [A-Za-z0-9-_*\/] escaped as \DDD, '.' and '\' inside a label as "\."
 * and "\\".
 *
 * Delivery: the callback always runs from the event loop, never from inside
 * resolve_*() itself, exactly once per query unless the query is cancelled
 * first. The result and the query handle belong to the resolver and are
 * valid only during the callback; copy with dns_result_dup() to keep one.
 */
#ifndef PTT_DNS_RESOLVE_H
#define PTT_DNS_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "util/param.h"

struct event_base;

enum dns_type {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_TLSA = 52,
};

enum dns_status {
	DNS_OK,
	DNS_NXDOMAIN,
	DNS_NODATA,
	DNS_TEMPFAIL,
	DNS_BOGUS,
};

enum dns_sec {
	DNS_SEC_INSECURE,
	DNS_SEC_SECURE,
	DNS_SEC_BOGUS,
};

/* Longest name in presentation format: 255 octets, each up to 4 chars. */
#define DNS_NAME_TEXT_MAX 1024

struct dns_txt {
	char *s;	/* joined strings, NUL-terminated (may hold NULs) */
	size_t len;
};

struct dns_mx {
	uint16_t pref;
	char *host;	/* "" for the null MX */
};

struct dns_tlsa {
	uint8_t usage, selector, mtype;
	uint8_t *data;
	size_t len;
};

struct dns_result {
	char *qname;		/* as asked, without a trailing dot */
	uint16_t qtype;
	enum dns_status status;
	enum dns_sec sec;
	uint32_t ttl;		/* smallest TTL of the records (0 if none) */
	const char *why;	/* static text for TEMPFAIL/BOGUS, or NULL */
	size_t n;		/* records in the array of qtype */
	struct dns_txt *txt;	/* DNS_T_TXT */
	struct dns_mx *mx;	/* DNS_T_MX, by preference */
	struct in_addr *a;	/* DNS_T_A */
	struct in6_addr *aaaa;	/* DNS_T_AAAA */
	char **ptr;		/* DNS_T_PTR (also the targets of DNS_T_CNAME
				 * and the servers of DNS_T_NS) */
	struct dns_tlsa *tlsa;	/* DNS_T_TLSA */
};

typedef void dns_cb(const struct dns_result *res, void *arg);

struct resolver;
struct dns_query;

/* Options of the libunbound backend; every field may be zero/NULL. */
struct resolver_opts {
	/* Addresses: "addr", "addr@port", "v4:port" or "[v6]:port". */
	const char *forward;	/* forward all queries there
				 * (a recursive resolver, e.g. the local
				 * Unbound daemon) */
	const char *stub;	/* an authoritative server (tests, demo)
				 * for stub_zones */
	const char *const *stub_zones;	/* NULL-terminated zone names served
				 * by stub, e.g. { "example.test.", "." }
				 * ("." last keeps other names off the real
				 * roots). NULL: every name is sent to stub
				 * as to a forwarder (libunbound cannot use
				 * a stub for "." alone: it primes the root
				 * from it, which an authoritative server
				 * refuses). */
	const char *trust_anchor;	/* a DS or DNSKEY RR in text form */
	const char *trust_anchor_file;	/* zone-file format anchors */
	const char *config_file;	/* an unbound.conf fragment, read with
					 * ub_ctx_config (local-zone and the
					 * options ub_ctx_set_option cannot
					 * set) */
	bool allow_localhost;	/* do-not-query-localhost: no */
	bool tls;		/* DNS over TLS to the forwarder: the DoT
				 * backend (dot.c), which needs tls_ca */
	unsigned timeout_ms;	/* per query; 0: 10000 */
	/* DNS over TLS (RFC 7858) to the forwarder, verified (with tls): */
	const char *tls_ca;	/* CA file its certificate must chain to */
	const char *tls_name;	/* name it must carry (NULL:
				 * RESOLVER_TLS_NAME) */
};

/*
 * The resolver mode of relay and mx: DNS over TLS to ptt-resolver at addr
 * ("127.0.0.1:10853"), whose certificate must come from the internal CA
 * ca_file and name resolver.internal. Sets forward, tls, tls_ca and
 * tls_name; clears stub. (A daemon whose forward and tls come from its
 * parameters needs only tls_ca.) resolver_unbound_new() then returns ptt's own DNS
 * over TLS backend (dot.c; Debian's libunbound is built without TLS),
 * which trusts the validating resolver's AD bit over that authenticated
 * channel (RFC 6840 5.7): trust_anchor, config_file and allow_localhost
 * are not used in this mode. The strings must outlive the call to
 * resolver_unbound_new().
 */
#define RESOLVER_TLS_NAME "resolver.internal"
/*
 * The DNS settings the daemons that resolve (relay, mx) share, as ptt.conf
 * parameters: embed a struct resolver_cfg in the daemon's configuration
 * and RESOLVER_PARAMS(struct config, member) in its parameter table.
 */
struct resolver_cfg {
	char *stub, *forward, *trust_anchor, *config_file;	/* "": none */
	bool allow_localhost, tls;
	long long timeout;	/* seconds */
};
#define RESOLVER_PARAMS(type, m) \
	{ "dns_stub", PARAM_STR, "", 0, 0, NULL, offsetof(type, m.stub), \
	  "addr[@port] of an authoritative server every query goes to " \
	  "(tests, demo); empty: none" }, \
	{ "dns_forward", PARAM_STR, "", 0, 0, NULL, offsetof(type, m.forward), \
	  "addr[@port] of a recursive resolver to forward to (ptt-resolver; " \
	  "with dns_tls its DNS-over-TLS port); empty: libunbound recurses " \
	  "itself" }, \
	{ "dns_trust_anchor", PARAM_STR, "", 0, 0, NULL, \
	  offsetof(type, m.trust_anchor), \
	  "DNSSEC trust anchor (a DS or DNSKEY record); empty: none" }, \
	{ "dns_config_file", PARAM_STR, "", 0, 0, NULL, \
	  offsetof(type, m.config_file), \
	  "unbound.conf fragment for libunbound (e.g. local-zone: \"test.\" " \
	  "nodefault), read at start; empty: none" }, \
	{ "dns_allow_localhost", PARAM_BOOL, "no", 0, 0, NULL, \
	  offsetof(type, m.allow_localhost), "allow DNS servers on loopback" }, \
	{ "dns_tls", PARAM_BOOL, "no", 0, 0, NULL, offsetof(type, m.tls), \
	  "DNS over TLS to dns_forward, verified against the internal CA " \
	  "(resolver.internal)" }, \
	{ "dns_timeout", PARAM_TIME, "10s", 1, 300, NULL, \
	  offsetof(type, m.timeout), "time one DNS query may take" }

/* o from c (tls_ca: the internal CA, for dns_tls). */
void resolver_opts_from_cfg(struct resolver_opts *o,
    const struct resolver_cfg *c, const char *tls_ca);
/* The port the resolver will connect to, for a sandbox's connect list:
 * the one in dns_forward or dns_stub, else 853 with dns_tls, else 53. */
uint16_t resolver_cfg_port(const struct resolver_cfg *c);

void resolver_opts_dot(struct resolver_opts *o, const char *addr,
    const char *ca_file);

/* Create a libunbound resolver on base (with tls: the DNS over TLS
 * backend instead, see resolver_opts_dot). NULL and *errp set (static text)
 * when an option is refused. Free with resolver_free().
 * Sandboxing: config_file and trust_anchor_file are read here (the
 * anchors are handed to libunbound as text, one RR a line), tls_ca too.
 * Queries use UDP and TCP sockets to the configured servers only (the DNS
 * over TLS backend: one TCP connection per query to forward). */
struct resolver *resolver_dot_new(struct event_base *base,
    const struct resolver_opts *opts, const char **errp);
struct resolver *resolver_unbound_new(struct event_base *base,
    const struct resolver_opts *opts, const char **errp);

/* Cancels the queries still in flight (their callbacks never run). The
 * DoT backend's connections are finalized by the event loop (libevent's
 * bufferevent finalizers): run it once (EVLOOP_NONBLOCK) before
 * event_base_free, or their memory is never released. */
void resolver_free(struct resolver *r);

/* The event base the resolver delivers on. */
struct event_base *resolver_base(const struct resolver *r);

/* Queries started since creation (both backends). */
unsigned long resolver_nqueries(const struct resolver *r);

/*
 * Start a lookup. name is a domain in presentation format (a trailing dot
 * is optional). Returns a handle usable with resolve_cancel() until the
 * callback runs; never NULL (a malformed name or a backend failure gives a
 * TEMPFAIL or NXDOMAIN result through the callback).
 */
struct dns_query *resolve(struct resolver *r, const char *name,
    uint16_t type, dns_cb *cb, void *arg);
struct dns_query *resolve_txt(struct resolver *r, const char *name, dns_cb *cb, void *arg);
struct dns_query *resolve_mx(struct resolver *r, const char *name, dns_cb *cb, void *arg);
struct dns_query *resolve_a(struct resolver *r, const char *name, dns_cb *cb, void *arg);
struct dns_query *resolve_aaaa(struct resolver *r, const char *name, dns_cb *cb, void *arg);
struct dns_query *resolve_tlsa(struct resolver *r, const char *name, dns_cb *cb, void *arg);
/* PTR for an address (AF_INET/AF_INET6, addr points to in_addr/in6_addr):
 * asks d.c.b.a.in-addr.arpa or the ip6.arpa nibble name. */
struct dns_query *resolve_ptr(struct resolver *r, int af, const void *addr,
    dns_cb *cb, void *arg);

/* Cancel a query whose callback has not run yet. */
void resolve_cancel(struct dns_query *q);

/* Deep copy (caller frees with dns_result_free). */
struct dns_result *dns_result_dup(const struct dns_result *res);
void dns_result_free(struct dns_result *res);

const char *dns_status_str(enum dns_status st);
const char *dns_type_str(uint16_t type);

/* Write the reverse-lookup name of an address into out (at least 74
 * bytes). Returns 0 or PTT_EINVAL for an unknown family. */
int dns_reverse_name(int af, const void *addr, char *out, size_t outlen);

/* Decode an uncompressed wire name (exactly len bytes) into presentation
 * format as above. Returns 0 or PTT_EINVAL. */
int dns_name_from_wire(const uint8_t *wire, size_t len, char *out,
    size_t outlen);

/* Normalise a presentation-format name into out (lowercase, no trailing
 * dot, labels 1..63 octets, total <= 253 chars). Returns 0 or PTT_EINVAL. */
int dns_name_normalise(const char *name, char *out, size_t outlen);

/*
 * Backend interface (resolve.c, fake.c). A backend starts q and later calls
 * resolve_done() exactly once (possibly from inside start), unless its
 * cancel hook ran first.
 */
struct resolver_ops {
	void (*start)(struct resolver *r, struct dns_query *q);
	void (*cancel)(struct resolver *r, struct dns_query *q);
	void (*free)(struct resolver *r);
};

struct resolver *resolver_new_backend(struct event_base *base,
    const struct resolver_ops *ops, void *backend);
void *resolver_backend(const struct resolver *r);
const struct resolver_ops *resolver_ops(const struct resolver *r);
/* The query's normalised name (no trailing dot) and type. */
const char *dns_query_name(const struct dns_query *q);
uint16_t dns_query_type(const struct dns_query *q);
/* Backend-private slot of a query. */
void dns_query_set_priv(struct dns_query *q, void *priv);
void *dns_query_priv(const struct dns_query *q);
/* Complete q with n wire-format rdata of the query's type (uncompressed
 * names); status is the backend's view, refined here (OK without records
 * becomes NODATA; BOGUS drops the records). Delivery is deferred to the
 * event loop. */
void resolve_done(struct dns_query *q, enum dns_status st, enum dns_sec sec,
    uint32_t ttl, const uint8_t *const *rdata, const size_t *rdlen, size_t n,
    const char *why);
/* Complete q with the records of its type in the answer section of a
 * NOERROR response parsed by ldns (an ldns_pkt; the caller keeps it). */
struct ldns_struct_pkt;
void resolve_done_pkt(struct dns_query *q, struct ldns_struct_pkt *pkt,
    enum dns_sec sec);
/* dot.c: complete q with a DNS over TLS response (the message without its
 * length prefix) to the query sent with this id; any mismatch or malformed
 * byte is a TEMPFAIL. Exposed for the fuzz harness. */
void dot_answer(struct dns_query *q, uint16_t id, const uint8_t *wire,
    size_t len);
/* dot.c: TLS connections a DNS over TLS resolver has opened so far (0 for
 * another backend); queries share them, for tests and metrics. */
unsigned long resolver_dot_connections(const struct resolver *r);

#endif
