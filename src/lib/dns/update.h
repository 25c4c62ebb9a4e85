/*
 * update.h - a TSIG-signed RFC 2136 UPDATE client.
 *
 * Used by the signer (publishing its DKIM key), acme (DNS-01 tokens),
 * `ptt spf` and the ptt-dns-update tool. One call builds the message
 * (zone, prerequisites, updates), signs it with TSIG (RFC 8945,
 * hmac-sha256), sends it to the primary over UDP or TCP, checks that the
 * response is signed by the same key over our request's MAC, and returns
 * its RCODE.
 *
 * Records are given in presentation form ("name ttl TYPE rdata"); names
 * are absolute or relative to the zone.
 * Trusts: the response only after its TSIG verifies.
 */
#ifndef PTT_DNS_UPDATE_H
#define PTT_DNS_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/tsig.h"

enum dns_update_kind {
	DNSU_ADD,		/* add one RR: rr = "name ttl TYPE rdata" */
	DNSU_REPLACE,		/* delete name's TYPE RRset, then add rr */
	DNSU_DEL_RRSET,		/* delete an RRset: rr = "name TYPE" */
	DNSU_DEL_RR,		/* delete one RR: rr = "name TYPE rdata" */
	DNSU_DEL_NAME,		/* delete every RRset of a name: rr = "name" */
};

/* Prerequisites of RFC 2136 2.4. */
enum dns_prereq_kind {
	DNSP_YXRRSET,		/* RRset exists (value independent): "name TYPE" */
	DNSP_YXRRSET_VALUE,	/* RRset exists with these RRs: "name TYPE rdata" (repeat for each RR) */
	DNSP_NXRRSET,		/* RRset does not exist: "name TYPE" */
	DNSP_YXDOMAIN,		/* name is in use: "name" */
	DNSP_NXDOMAIN,		/* name is not in use: "name" */
};

struct dns_update_op {
	int kind;		/* enum dns_update_kind or dns_prereq_kind */
	const char *rr;
};

struct dns_update_req {
	const char *server;	/* "127.0.0.1:53" */
	const char *zone;	/* "example.test." */
	const struct tsig_key *key;	/* NULL: unsigned (tests only) */
	bool tcp;
	int timeout_ms;		/* 0: 5000 */
	const struct dns_update_op *prereq;
	size_t nprereq;
	const struct dns_update_op *upd;
	size_t nupd;
};

struct dns_update_res {
	int rcode;		/* DNS RCODE of the response (0: NOERROR) */
	int tsig_error;		/* TSIG error in the response, 0 when none */
};

/*
 * Send the update and wait for the answer. 0 with res filled in when a
 * response arrived and (with a key) its TSIG verified; PTT_EINVAL for a bad
 * record text, PTT_EIO/PTT_ETIMEDOUT for network trouble, PTT_ECRYPTO when
 * the response is unsigned or its signature is wrong (res still holds the
 * RCODE and TSIG error the response claims). A reason is written to err.
 */
int dns_update_send(const struct dns_update_req *req,
    struct dns_update_res *res, char *err, size_t errlen);

/*
 * Build the unsigned UPDATE message (for dns_update_send and for tests).
 * *wire is malloc'd, caller frees. 0 or PTT_EINVAL with a reason in err.
 */
int dns_update_build(const struct dns_update_req *req, uint16_t id,
    uint8_t **wire, size_t *len, char *err, size_t errlen);

/* Name of an RCODE ("NOERROR", "NOTAUTH", ...; extended ones too). */
const char *dns_rcode_name(int rcode);
/* Name of a TSIG error ("BADSIG", "BADKEY", "BADTIME", ...). */
const char *dns_tsig_error_name(int error);

#endif
