/*
 * dnsd.h - the message engine of ptt-dns, independent of sockets.
 *
 * dnsd_handle() takes one DNS message as received and produces the reply:
 * standard queries (query.h), RFC 2136 UPDATE (ddns.c), AXFR/IXFR (xfr.c),
 * with TSIG (RFC 8945) checked and applied, EDNS0 (RFC 6891) and UDP
 * truncation. The daemon (main.c), the unit tests and the fuzz harness all
 * drive it the same way.
 *
 * Policy file (--policy FILE), one rule per line, '#' starts a comment:
 *
 *   key NAME may update GLOB [TYPE ...]
 *       updates signed with key NAME may change names matching GLOB (a
 *       shell pattern, fnmatch(3) without flags, over the lowercase
 *       absolute name: "_acme-challenge.*" or "*.example.test."), only the
 *       listed types (none: any type). SOA and DNSSEC types are never
 *       updatable; the serial is ours.
 *   key NAME may transfer ZONE        AXFR/IXFR signed with key NAME
 *   address IP may transfer ZONE      AXFR/IXFR from that address
 *   notify ZONE IP:PORT [key NAME]    send NOTIFY there after each change,
 *                                     TSIG-signed with key NAME if given
 *
 * Trusts: nothing in a message; keys and policy come from files the
 * operator owns.
 */
#ifndef PTT_DNSD_DNSD_H
#define PTT_DNSD_DNSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ldns/ldns.h>

#include "dns/tsig.h"
#include "util/buf.h"
#include "zone.h"

#define DNSD_UDP_MAX 1232	/* our EDNS payload size (DNS flag day 2020) */
#define DNSD_TYPES_MAX 16

enum dnsd_rule_kind { RULE_UPDATE, RULE_XFR_KEY, RULE_XFR_ADDR, RULE_NOTIFY };

struct dnsd_rule {
	enum dnsd_rule_kind kind;
	char *key;		/* key name (absolute, lowercase) or NULL */
	char *pattern;		/* UPDATE: name glob; others: zone name */
	uint16_t types[DNSD_TYPES_MAX];
	size_t ntypes;		/* 0: any type */
	char *addr;		/* XFR_ADDR: "127.0.0.1"; NOTIFY: "ip:port" */
};

struct dnsd;

/* Called with an UPDATE's resulting records before they are served: 0
 * when they are stored (the zone file written and fsync'd), else the
 * update is refused with SERVFAIL and nothing changes (RFC 2136 3.6:
 * an update is durable before it is acknowledged). */
typedef int (*dnsd_persist_fn)(struct dnsd *d, struct zone *z,
    const ldns_rr_list *rrs, char *err, size_t errlen, void *arg);
/* Called after a zone changed through an UPDATE (commit, notify). */
typedef void (*dnsd_changed_fn)(struct dnsd *d, struct zone *z,
    const char *keyname, void *arg);

struct dnsd {
	struct zone *zones;		/* owned */
	struct tsig_key *keys;		/* owned array */
	size_t nkeys;
	struct dnsd_rule *rules;	/* owned array */
	size_t nrules;
	uint64_t (*clock)(void);	/* NULL: time(NULL) */
	dnsd_persist_fn persist;	/* NULL: memory only */
	dnsd_changed_fn changed;	/* NULL: nothing */
	void *arg;
};

/* A reply: one message, or (zone transfers over TCP) several messages each
 * already framed with its 2-byte length. */
struct dnsd_reply {
	struct buf msg;
	bool framed;
};

void dnsd_init(struct dnsd *d);
void dnsd_free(struct dnsd *d);

/* Keys: every regular file in dir not starting with '.', each
 * "name:hmac-sha256:base64secret" and mode 0600. */
int dnsd_keys_load(struct dnsd *d, const char *dir, char *err, size_t errlen);
void dnsd_key_add(struct dnsd *d, const struct tsig_key *k);
const struct tsig_key *dnsd_key_find(const struct dnsd *d, const char *name);

/* Policy: one line, or a whole file (errors name file and line). */
int dnsd_policy_line(struct dnsd *d, const char *line, char *err,
    size_t errlen);
int dnsd_policy_load(struct dnsd *d, const char *path, char *err,
    size_t errlen);
/* May key update name (absolute, lowercase text) with type? */
bool dnsd_may_update(const struct dnsd *d, const char *key, const char *name,
    uint16_t type);
/* May a transfer of zone happen for key (or NULL) from addr (or NULL)? */
bool dnsd_may_transfer(const struct dnsd *d, const char *zone,
    const char *key, const char *addr);

/*
 * Handle one message from a client (from: its address, NULL in tests;
 * id: a log id). Returns true with r filled (caller initialised r->msg)
 * when there is something to send back, false to drop it.
 */
bool dnsd_handle(struct dnsd *d, const uint8_t *wire, size_t len, bool tcp,
    const struct sockaddr *from, const char *id, struct dnsd_reply *r);

/* Internal pieces shared by the engine's files. */
uint64_t dnsd_now(const struct dnsd *d);
/* An RCODE for an UPDATE (ddns.c); resp holds the zone section already. */
int ddns_apply(struct dnsd *d, struct zone *z, const ldns_pkt *req,
    const char *keyname, const char *id);
/* Zone transfer messages for query (AXFR, or IXFR from the journal), framed
 * in out; each signed when key is set (req_mac: the request's). */
int xfr_build(const struct zone *z, const ldns_pkt *query,
    const struct tsig_key *key, const uint8_t *req_mac, size_t req_mac_len,
    uint64_t now, struct buf *out);
/* Equal owner, type and RDATA (TTL and class ignored). */
bool rr_same_data(const ldns_rr *a, const ldns_rr *b);

#endif
