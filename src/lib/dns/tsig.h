/*
 * tsig.h - TSIG (RFC 8945) with HMAC-SHA256, and a walk over DNS messages.
 *
 * Signing appends a TSIG RR to a message held in a struct buf (ARCOUNT is
 * incremented); verification recomputes the MAC over the bytes before the
 * TSIG RR with the original ID and ARCOUNT restored (RFC 8945 4.3.3) and
 * compares in constant time. Responses chain the request's MAC in front
 * (RFC 8945 4.3.2). Only hmac-sha256 is accepted; truncated MACs are not.
 *
 * Trusts nothing in a message: dns_wire_scan() and tsig_find() read it
 * through util/cursor.h and refuse anything that does not add up.
 * Key files: "name:hmac-sha256:base64secret" on one line, mode 0600.
 */
#ifndef PTT_DNS_TSIG_H
#define PTT_DNS_TSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define TSIG_SECRET_MAX 128
#define TSIG_MAC_MAX 64
#define TSIG_FUDGE 300

/* TSIG error values (RFC 8945 3) and the DNS RCODE sent with them. */
enum {
	TSIG_NOERROR = 0,
	TSIG_BADSIG = 16,
	TSIG_BADKEY = 17,
	TSIG_BADTIME = 18,
	TSIG_BADTRUNC = 22,
};

struct tsig_key {
	char name[256];			/* absolute, lowercase: "upd.key." */
	uint8_t secret[TSIG_SECRET_MAX];
	size_t secret_len;
};

/* A TSIG RR found in a message. Pointers point into the message. */
struct tsig_rr {
	size_t offset;			/* where the TSIG RR starts */
	char name[256];			/* key name, absolute, lowercase */
	char alg[256];			/* algorithm name, absolute, lowercase */
	uint64_t time_signed;		/* 48 bits */
	uint16_t fudge;
	const uint8_t *mac;
	uint16_t mac_len;
	uint16_t orig_id;
	uint16_t error;
	const uint8_t *other;
	uint16_t other_len;
};

/* What a walk over a message found (dns_wire_scan). */
struct dns_wire_info {
	uint16_t id, flags;
	uint16_t qd, an, ns, ar;
	unsigned opt_count;		/* OPT RRs in the additional section */
	bool opt_misplaced;		/* OPT outside additional or not at root */
	bool has_tsig;			/* a TSIG RR, wherever it was */
	bool tsig_last;			/* ... and it is the very last RR */
	size_t tsig_offset;
	size_t end;			/* bytes used by the sections */
};

/*
 * Walk a message's header and sections without decompressing names.
 * 0, or PTT_EINVAL when the counts, names or lengths do not fit the bytes.
 */
int dns_wire_scan(const uint8_t *wire, size_t len, struct dns_wire_info *wi);

/* Parse "name:hmac-sha256:base64secret" (white space around ignored).
 * 0 or PTT_EINVAL. */
int tsig_key_parse(struct tsig_key *k, const char *text);
/* Read a key file; refuses files readable by group or others. 0, PTT_EIO,
 * PTT_EPERM or PTT_EINVAL with a reason in err. */
int tsig_key_load(struct tsig_key *k, const char *path, char *err,
    size_t errlen);

/*
 * Find the TSIG RR of a message (it must be the last RR of the additional
 * section). 0, PTT_ENOENT when there is none, PTT_EINVAL when malformed or
 * misplaced.
 */
int tsig_find(const uint8_t *wire, size_t len, struct tsig_rr *t);

/*
 * Verify t (from tsig_find on wire) with key k at time now. req_mac is the
 * request's MAC when wire is a response (else NULL, 0). Returns TSIG_NOERROR,
 * TSIG_BADKEY (name or algorithm differs), TSIG_BADSIG or TSIG_BADTIME
 * (signature good, clock outside the fudge; RFC 8945 5.2.3).
 */
int tsig_verify(const uint8_t *wire, size_t len, const struct tsig_rr *t,
    const struct tsig_key *k, const uint8_t *req_mac, size_t req_mac_len,
    uint64_t now);

/*
 * Append a TSIG RR signed with k to the message in msg (ARCOUNT + 1).
 * req_mac: the request's MAC when signing a response (else NULL, 0);
 * error/other: TSIG error and other data (BADTIME carries the server's
 * time, RFC 8945 5.2.3). With unsigned_mac the MAC is left empty (BADSIG and
 * BADKEY responses, RFC 8945 5.3.2). The MAC is copied to mac_out (at least
 * TSIG_MAC_MAX bytes) when not NULL. 0 or a PTT_E* code.
 */
int tsig_sign(struct buf *msg, const struct tsig_key *k, uint64_t now,
    const uint8_t *req_mac, size_t req_mac_len, uint16_t error,
    const uint8_t *other, size_t other_len, bool unsigned_mac,
    uint8_t *mac_out, size_t *mac_len_out);

/*
 * Sign a later message of a multi-message response (zone transfers, RFC
 * 8945 5.3.1): the MAC covers the previous message's MAC, this message and
 * the timers only. prev_mac is updated with the new MAC (TSIG_MAC_MAX).
 */
int tsig_sign_next(struct buf *msg, const struct tsig_key *k, uint64_t now,
    uint8_t *prev_mac, size_t *prev_len);

/* Like tsig_sign with a key known only by name (for BADKEY answers). */
int tsig_sign_unknown(struct buf *msg, const char *keyname, uint64_t now,
    uint16_t error);

/* Convert an absolute or relative name to wire form (lowercase). 0 or
 * PTT_EINVAL. out holds at least 255 bytes. */
int dns_name_to_wire(const char *name, uint8_t *out, size_t *outlen);

#endif
