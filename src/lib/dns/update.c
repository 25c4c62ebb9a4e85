/*
 * update.c - TSIG-signed RFC 2136 UPDATE client.
 *
 * Implements RFC 2136 2.4 (prerequisite RRs), 2.5 (update RRs) and 3.8
 * (sending), RFC 8945 5.1 (client signing, response verification), RFC
 * 1035 4.2.2 (TCP length framing); a truncated UDP answer is retried over
 * TCP. Message construction uses ldns. Trusts: nothing in the response
 * until its TSIG verifies against our request's MAC.
 */
#include "dns/update.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <openssl/rand.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/net.h"

const char *
dns_rcode_name(int rcode)
{
	static const char *const n[] = { "NOERROR", "FORMERR", "SERVFAIL",
		"NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
		"NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI", "RCODE12",
		"RCODE13", "RCODE14", "RCODE15", "BADVERS/BADSIG", "BADKEY",
		"BADTIME", "BADMODE", "BADNAME", "BADALG", "BADTRUNC",
		"BADCOOKIE" };

	if (rcode >= 0 && (size_t)rcode < sizeof(n) / sizeof(n[0]))
		return n[rcode];
	return "RCODE?";
}

const char *
dns_tsig_error_name(int error)
{
	return error == TSIG_BADSIG ? "BADSIG" : dns_rcode_name(error);
}

/* Split "name TYPE rest": name made absolute against origin. */
static int
split_rr(const char *text, const ldns_rdf *origin, ldns_rdf **owner,
    ldns_rr_type *type, const char **rest, char *err, size_t errlen)
{
	char name[512], tname[32];
	const char *p = text;
	size_t n;

	*owner = NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, " \t");
	if (n == 0 || n >= sizeof(name)) {
		snprintf(err, errlen, "no owner name in \"%s\"", text);
		return PTT_EINVAL;
	}
	memcpy(name, p, n);
	name[n] = '\0';
	p += n;
	while (*p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, " \t");
	if (type != NULL) {
		if (n == 0 || n >= sizeof(tname)) {
			snprintf(err, errlen, "no type in \"%s\"", text);
			return PTT_EINVAL;
		}
		memcpy(tname, p, n);
		tname[n] = '\0';
		*type = ldns_get_rr_type_by_name(tname);
		if (*type == 0) {
			snprintf(err, errlen, "unknown type %s", tname);
			return PTT_EINVAL;
		}
		p += n;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (rest != NULL)
		*rest = p;
	else if (*p != '\0') {
		snprintf(err, errlen, "unexpected \"%s\"", p);
		return PTT_EINVAL;
	}
	if (strcmp(name, "@") == 0) {	/* the zone apex */
		*owner = ldns_rdf_clone(origin);
		return 0;
	}
	*owner = ldns_dname_new_frm_str(name);
	if (*owner == NULL) {
		snprintf(err, errlen, "bad name %s", name);
		return PTT_EINVAL;
	}
	if (!ldns_dname_str_absolute(name) &&
	    ldns_dname_cat(*owner, origin) != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(*owner);
		*owner = NULL;
		snprintf(err, errlen, "name too long: %s", name);
		return PTT_EINVAL;
	}
	return 0;
}

/* An RR without RDATA (RFC 2136 2.4.1, 2.4.3, 2.5.2, 2.5.3). */
static ldns_rr *
empty_rr(ldns_rdf *owner, ldns_rr_type type, ldns_rr_class cls)
{
	ldns_rr *rr = ldns_rr_new();

	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, cls);
	ldns_rr_set_ttl(rr, 0);
	return rr;
}

/* "name TYPE rdata" with a TTL of ttl and class cls. */
static int
rdata_rr(const char *text, const ldns_rdf *origin, uint32_t ttl,
    ldns_rr_class cls, ldns_rr **out, char *err, size_t errlen)
{
	ldns_rdf *owner;
	ldns_rr_type type;
	const char *rest;
	char *owner_s, *full;
	struct buf b;
	ldns_status st;
	int ret;

	if ((ret = split_rr(text, origin, &owner, &type, &rest, err, errlen)) != 0)
		return ret;
	if (*rest == '\0') {
		ldns_rdf_deep_free(owner);
		snprintf(err, errlen, "no rdata in \"%s\"", text);
		return PTT_EINVAL;
	}
	/* type names through ldns so TYPEnnn round-trips */
	char *tn = ldns_rr_type2str(type);
	buf_init(&b, 65536);
	owner_s = ldns_rdf2str(owner);
	buf_addf(&b, "%s %u IN %s %s", owner_s, ttl, tn, rest);
	free(owner_s);
	free(tn);
	ldns_rdf_deep_free(owner);
	full = b.data;
	st = ldns_rr_new_frm_str(out, full, ttl, origin, NULL);
	buf_free(&b);
	if (st != LDNS_STATUS_OK) {
		snprintf(err, errlen, "bad record \"%s\": %s", text,
		    ldns_get_errorstr_by_id(st));
		return PTT_EINVAL;
	}
	ldns_rr_set_class(*out, cls);
	return 0;
}

/* "name ttl TYPE rdata" (TTL optional, default 300). */
static int
add_rr(const char *text, const ldns_rdf *origin, ldns_rr **out, char *err,
    size_t errlen)
{
	ldns_status st = ldns_rr_new_frm_str(out, text, 300, origin, NULL);

	if (st != LDNS_STATUS_OK) {
		snprintf(err, errlen, "bad record \"%s\": %s", text,
		    ldns_get_errorstr_by_id(st));
		return PTT_EINVAL;
	}
	ldns_rr_set_class(*out, LDNS_RR_CLASS_IN);
	return 0;
}

static int
push_op(ldns_pkt *pkt, const ldns_rdf *origin, const struct dns_update_op *op,
    bool prereq, char *err, size_t errlen)
{
	ldns_pkt_section sec = prereq ? LDNS_SECTION_ANSWER :
	    LDNS_SECTION_AUTHORITY;
	ldns_rdf *owner;
	ldns_rr_type type;
	ldns_rr *rr = NULL;
	int ret;

	if (prereq) {
		switch (op->kind) {
		case DNSP_YXRRSET:
		case DNSP_NXRRSET:
			if ((ret = split_rr(op->rr, origin, &owner, &type, NULL,
			    err, errlen)) != 0)
				return ret;
			rr = empty_rr(owner, type, op->kind == DNSP_YXRRSET ?
			    LDNS_RR_CLASS_ANY : LDNS_RR_CLASS_NONE);
			break;
		case DNSP_YXRRSET_VALUE:
			if ((ret = rdata_rr(op->rr, origin, 0, LDNS_RR_CLASS_IN,
			    &rr, err, errlen)) != 0)
				return ret;
			break;
		case DNSP_YXDOMAIN:
		case DNSP_NXDOMAIN:
			if ((ret = split_rr(op->rr, origin, &owner, NULL, NULL,
			    err, errlen)) != 0)
				return ret;
			rr = empty_rr(owner, LDNS_RR_TYPE_ANY,
			    op->kind == DNSP_YXDOMAIN ? LDNS_RR_CLASS_ANY :
			    LDNS_RR_CLASS_NONE);
			break;
		default:
			snprintf(err, errlen, "unknown prerequisite %d", op->kind);
			return PTT_EINVAL;
		}
		ldns_pkt_push_rr(pkt, sec, rr);
		return 0;
	}
	switch (op->kind) {
	case DNSU_ADD:
		if ((ret = add_rr(op->rr, origin, &rr, err, errlen)) != 0)
			return ret;
		break;
	case DNSU_REPLACE:
		if ((ret = add_rr(op->rr, origin, &rr, err, errlen)) != 0)
			return ret;
		ldns_pkt_push_rr(pkt, sec, empty_rr(
		    ldns_rdf_clone(ldns_rr_owner(rr)), ldns_rr_get_type(rr),
		    LDNS_RR_CLASS_ANY));
		break;
	case DNSU_DEL_RRSET:
		if ((ret = split_rr(op->rr, origin, &owner, &type, NULL, err,
		    errlen)) != 0)
			return ret;
		rr = empty_rr(owner, type, LDNS_RR_CLASS_ANY);
		break;
	case DNSU_DEL_RR:
		if ((ret = rdata_rr(op->rr, origin, 0, LDNS_RR_CLASS_NONE, &rr,
		    err, errlen)) != 0)
			return ret;
		break;
	case DNSU_DEL_NAME:
		if ((ret = split_rr(op->rr, origin, &owner, NULL, NULL, err,
		    errlen)) != 0)
			return ret;
		rr = empty_rr(owner, LDNS_RR_TYPE_ANY, LDNS_RR_CLASS_ANY);
		break;
	default:
		snprintf(err, errlen, "unknown update %d", op->kind);
		return PTT_EINVAL;
	}
	ldns_pkt_push_rr(pkt, sec, rr);
	return 0;
}

int
dns_update_build(const struct dns_update_req *req, uint16_t id,
    uint8_t **wire, size_t *len, char *err, size_t errlen)
{
	ldns_rdf *origin;
	ldns_pkt *pkt;
	ldns_rr *q;
	int ret = 0;

	*wire = NULL;
	origin = ldns_dname_new_frm_str(req->zone);
	if (origin == NULL || !ldns_dname_str_absolute(req->zone)) {
		ldns_rdf_deep_free(origin);
		snprintf(err, errlen, "zone must be an absolute name: %s",
		    req->zone);
		return PTT_EINVAL;
	}
	pkt = ldns_pkt_new();
	ldns_pkt_set_id(pkt, id);
	ldns_pkt_set_opcode(pkt, LDNS_PACKET_UPDATE);
	q = ldns_rr_new();
	ldns_rr_set_question(q, true);
	ldns_rr_set_owner(q, ldns_rdf_clone(origin));
	ldns_rr_set_type(q, LDNS_RR_TYPE_SOA);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, q);
	for (size_t i = 0; ret == 0 && i < req->nprereq; i++)
		ret = push_op(pkt, origin, &req->prereq[i], true, err, errlen);
	for (size_t i = 0; ret == 0 && i < req->nupd; i++)
		ret = push_op(pkt, origin, &req->upd[i], false, err, errlen);
	if (ret == 0 && ldns_pkt2wire(wire, pkt, len) != LDNS_STATUS_OK) {
		snprintf(err, errlen, "cannot encode the update");
		ret = PTT_EINVAL;
	}
	ldns_pkt_free(pkt);
	ldns_rdf_deep_free(origin);
	return ret;
}

static long
ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms;
}

static int
wait_fd(int fd, short ev, const struct timespec *deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r;

	do
		r = poll(&p, 1, (int)ms_left(deadline));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return PTT_EIO;
	return r == 0 ? PTT_ETIMEDOUT : 0;
}

static int
io_exact(int fd, uint8_t *p, size_t n, bool wr, const struct timespec *dl)
{
	while (n > 0) {
		int ret = wait_fd(fd, wr ? POLLOUT : POLLIN, dl);
		if (ret != 0)
			return ret;
		ssize_t r = wr ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return PTT_EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
exchange_tcp(const char *server, const struct buf *q, uint8_t **resp,
    size_t *rlen, const struct timespec *dl, char *err, size_t errlen)
{
	uint8_t hdr[2];
	int fd, ret;

	fd = net_connect_wait(server, (int)ms_left(dl), err, errlen);
	if (fd < 0)
		return fd;
	net_set_nonblock(fd);
	hdr[0] = (uint8_t)(q->len >> 8);
	hdr[1] = (uint8_t)q->len;
	if ((ret = io_exact(fd, hdr, 2, true, dl)) == 0 &&
	    (ret = io_exact(fd, (uint8_t *)q->data, q->len, true, dl)) == 0 &&
	    (ret = io_exact(fd, hdr, 2, false, dl)) == 0) {
		*rlen = (size_t)hdr[0] << 8 | hdr[1];
		*resp = xmalloc(*rlen + 1);
		ret = io_exact(fd, *resp, *rlen, false, dl);
		if (ret != 0) {
			free(*resp);
			*resp = NULL;
		}
	}
	if (ret != 0)
		snprintf(err, errlen, "%s: %s", server, ret == PTT_ETIMEDOUT ?
		    "timed out" : "connection failed");
	close(fd);
	return ret;
}

static int
exchange_udp(const char *server, const struct buf *q, uint8_t **resp,
    size_t *rlen, const struct timespec *dl, char *err, size_t errlen)
{
	char host[256], port[32];
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
	    .ai_flags = AI_NUMERICSERV }, *ai;
	uint8_t b[65535];
	int fd, ret;

	if (net_split_hostport(server, host, sizeof(host), port,
	    sizeof(port)) != 0 || getaddrinfo(host, port, &hints, &ai) != 0) {
		snprintf(err, errlen, "bad server address %s", server);
		return PTT_EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    send(fd, q->data, q->len, 0) != (ssize_t)q->len) {
		snprintf(err, errlen, "%s: %s", server, strerror(errno));
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return PTT_EIO;
	}
	freeaddrinfo(ai);
	for (;;) {
		if ((ret = wait_fd(fd, POLLIN, dl)) != 0) {
			snprintf(err, errlen, "%s: timed out", server);
			break;
		}
		ssize_t r = recv(fd, b, sizeof(b), 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", server, strerror(errno));
			ret = PTT_EIO;
			break;
		}
		/* ignore stray datagrams with another id */
		if (r < 12 || memcmp(b, q->data, 2) != 0)
			continue;
		*resp = xmemdup(b, (size_t)r);
		*rlen = (size_t)r;
		ret = 0;
		break;
	}
	close(fd);
	return ret;
}

int
dns_update_send(const struct dns_update_req *req, struct dns_update_res *res,
    char *err, size_t errlen)
{
	uint8_t *wire, *resp = NULL, mac[TSIG_MAC_MAX];
	size_t len, rlen = 0, maclen = 0;
	uint16_t id;
	struct buf q;
	struct timespec dl;
	struct tsig_rr t;
	int ret;

	memset(res, 0, sizeof(*res));
	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
		return PTT_ECRYPTO;
	if ((ret = dns_update_build(req, id, &wire, &len, err, errlen)) != 0)
		return ret;
	buf_init(&q, 65535);
	buf_add(&q, wire, len);
	free(wire);
	if (req->key != NULL && (ret = tsig_sign(&q, req->key,
	    (uint64_t)time(NULL), NULL, 0, 0, NULL, 0, false, mac, &maclen))
	    != 0) {
		snprintf(err, errlen, "cannot sign: %s", ptt_strerror(ret));
		buf_free(&q);
		return ret;
	}
	if (buf_error(&q)) {
		snprintf(err, errlen, "update too large");
		buf_free(&q);
		return PTT_ENOSPC;
	}
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += (req->timeout_ms > 0 ? req->timeout_ms : 5000) / 1000;
	dl.tv_nsec += (long)((req->timeout_ms > 0 ? req->timeout_ms : 5000) %
	    1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	if (!req->tcp) {
		ret = exchange_udp(req->server, &q, &resp, &rlen, &dl, err,
		    errlen);
		if (ret == 0 && (resp[2] & 0x02)) {	/* TC: retry on TCP */
			free(resp);
			resp = NULL;
			ret = exchange_tcp(req->server, &q, &resp, &rlen, &dl,
			    err, errlen);
		}
	} else {
		ret = exchange_tcp(req->server, &q, &resp, &rlen, &dl, err,
		    errlen);
	}
	buf_free(&q);
	if (ret != 0)
		return ret;
	if (rlen < 12 || ((uint16_t)(resp[0] << 8 | resp[1])) != id || !(resp[2] & 0x80)) {
		snprintf(err, errlen, "malformed response");
		free(resp);
		return PTT_EPROTO;
	}
	res->rcode = resp[3] & 0x0f;
	ret = tsig_find(resp, rlen, &t);
	if (ret == 0)
		res->tsig_error = t.error;
	if (req->key == NULL) {
		free(resp);
		return 0;
	}
	if (ret != 0) {
		snprintf(err, errlen, "response is not signed (%s)",
		    dns_rcode_name(res->rcode));
		free(resp);
		return PTT_ECRYPTO;
	}
	int v = tsig_verify(resp, rlen, &t, req->key, mac, maclen,
	    (uint64_t)time(NULL));
	free(resp);
	if (v != TSIG_NOERROR) {
		snprintf(err, errlen, "response TSIG does not verify (%s; "
		    "server says %s, TSIG error %s)", dns_rcode_name(v),
		    dns_rcode_name(res->rcode),
		    res->tsig_error ? dns_tsig_error_name(res->tsig_error) :
		    "none");
		return PTT_ECRYPTO;
	}
	return 0;
}
