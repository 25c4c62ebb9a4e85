/*
 * resolve.c - the resolver interface (resolve.h): query bookkeeping, rdata
 * parsing into results, deferred delivery, and the libunbound backend.
 *
 * Standards: RFC 1035 3.3 (rdata of A, MX, PTR, TXT, CNAME), RFC 3596
 * (AAAA, ip6.arpa), RFC 6698 2.1 (TLSA), RFC 2308 (NXDOMAIN/NODATA),
 * RFC 7208 3.3 (TXT strings joined), RFC 7505 (null MX), RFC 4035 (the
 * validator's secure/insecure/bogus verdict, as libunbound reports it).
 *
 * Trust: every byte of an answer is untrusted. Packets are decoded by ldns
 * (ldns_wire2pkt) and each rdata again through a bounds-checked cursor
 * here; a malformed record is dropped. A bogus answer never reaches a
 * caller as data.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <ldns/ldns.h>
#include <unbound-event.h>
#include <unbound.h>

#include "dns/resolve.h"
#include "util/cursor.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

struct dns_query {
	struct resolver *r;
	char name[DNS_NAME_TEXT_MAX];
	uint16_t type;
	dns_cb *cb;
	void *arg;
	struct dns_result *res;		/* set by resolve_done */
	struct event *ev;		/* deferred delivery */
	void *priv;			/* backend's */
	bool in_backend;		/* started, resolve_done not yet called */
	struct dns_query *prev, *next;	/* in flight */
};

struct resolver {
	struct event_base *base;
	const struct resolver_ops *ops;
	void *backend;
	unsigned long nqueries;
	struct dns_query *queries;
};

/* ---- names ---------------------------------------------------------- */

/* Presentation format to uncompressed wire (RFC 1035 5.1 escapes).
 * Returns the wire length, or 0 for a malformed name. "" and "." give the
 * root. */
static size_t
name_to_wire(const char *s, uint8_t *wire, size_t cap)
{
	size_t w = 0, lab = 0, lablen = 0;

	if (cap < 1)
		return 0;
	if (strcmp(s, ".") == 0 || *s == '\0') {
		wire[0] = 0;
		return 1;
	}
	w = 1;		/* wire[lab] is the length byte of the current label */
	while (*s != '\0') {
		unsigned ch = (unsigned char)*s++;

		if (ch == '.') {
			if (lablen == 0)
				return 0;	/* empty label */
			wire[lab] = (uint8_t)lablen;
			lab = w++;
			lablen = 0;
			if (w > cap)
				return 0;
			if (*s == '\0')
				break;		/* trailing dot */
			continue;
		}
		if (ch == '\\') {
			if (isdigit((unsigned char)s[0]) &&
			    isdigit((unsigned char)s[1]) &&
			    isdigit((unsigned char)s[2])) {
				ch = (unsigned)((s[0] - '0') * 100 +
				    (s[1] - '0') * 10 + (s[2] - '0'));
				if (ch > 255)
					return 0;
				s += 3;
			} else if (*s != '\0') {
				ch = (unsigned char)*s++;
			} else {
				return 0;
			}
		}
		if (w >= cap || ++lablen > 63)
			return 0;
		wire[w++] = (uint8_t)ch;
	}
	if (lablen > 0) {
		wire[lab] = (uint8_t)lablen;
		lab = w++;
	}
	if (w > cap || w > 255)
		return 0;
	wire[lab] = 0;		/* lab == w - 1: the root label */
	return w;
}

static bool
ch_plain(uint8_t c)
{
	return ch_alnum(c) || c == '-' || c == '_' || c == '*' || c == '/';
}

/* Read an uncompressed wire name from c, write presentation format
 * without the trailing dot ("" for the root). */
static void
name_from_wire(struct cur *c, char *out, size_t outlen)
{
	size_t o = 0, total = 0;
	bool first = true;

	out[0] = '\0';
	for (;;) {
		uint8_t len = cur_getc(c);
		const uint8_t *p;

		if (c->err)
			return;
		if (len == 0)
			break;
		if (len > 63) {		/* compression has no place in rdata */
			cur_fail(c, PTT_EINVAL);
			return;
		}
		total += len + 1u;
		if (total > 255) {
			cur_fail(c, PTT_EINVAL);
			return;
		}
		p = cur_take(c, len);
		if (p == NULL)
			return;
		if (!first)
			out[o++] = '.';
		first = false;
		for (size_t i = 0; i < len; i++) {
			if (o + 5 >= outlen) {
				cur_fail(c, PTT_ENOSPC);
				return;
			}
			if (ch_plain(p[i])) {
				out[o++] = (char)p[i];
			} else if (p[i] == '.' || p[i] == '\\') {
				out[o++] = '\\';
				out[o++] = (char)p[i];
			} else {
				o += (size_t)snprintf(out + o, outlen - o,
				    "\\%03u", p[i]);
			}
		}
	}
	out[o] = '\0';
}

int
dns_name_from_wire(const uint8_t *wire, size_t len, char *out, size_t outlen)
{
	struct cur c;

	if (outlen == 0)
		return PTT_EINVAL;
	cur_init(&c, wire, len);
	name_from_wire(&c, out, outlen);
	if (c.err || !cur_eof(&c)) {
		out[0] = '\0';
		return PTT_EINVAL;
	}
	return 0;
}

int
dns_name_normalise(const char *name, char *out, size_t outlen)
{
	uint8_t wire[256];
	size_t n = name_to_wire(name, wire, sizeof(wire));
	struct cur c;

	if (n == 0 || outlen == 0)
		return PTT_EINVAL;
	for (size_t i = 0; i < n; i++)
		wire[i] = (uint8_t)tolower(wire[i]);	/* length bytes < 64 */
	cur_init(&c, wire, n);
	name_from_wire(&c, out, outlen);
	if (c.err) {
		out[0] = '\0';
		return PTT_EINVAL;
	}
	return 0;
}

int
dns_reverse_name(int af, const void *addr, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";

	if (af == AF_INET) {
		const uint8_t *b = addr;

		snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa",
		    b[3], b[2], b[1], b[0]);
		return 0;
	}
	if (af == AF_INET6) {
		const uint8_t *b = addr;
		size_t o = 0;

		if (outlen < 74)
			return PTT_ENOSPC;
		for (int i = 15; i >= 0; i--) {
			out[o++] = hex[b[i] & 15];
			out[o++] = '.';
			out[o++] = hex[b[i] >> 4];
			out[o++] = '.';
		}
		ptt_strlcpy(out + o, "ip6.arpa", outlen - o);
		return 0;
	}
	return PTT_EINVAL;
}

/* ---- results -------------------------------------------------------- */

const char *
dns_status_str(enum dns_status st)
{
	switch (st) {
	case DNS_OK: return "ok";
	case DNS_NXDOMAIN: return "nxdomain";
	case DNS_NODATA: return "nodata";
	case DNS_TEMPFAIL: return "tempfail";
	case DNS_BOGUS: return "bogus";
	}
	return "?";
}

const char *
dns_type_str(uint16_t type)
{
	switch (type) {
	case DNS_T_A: return "A";
	case DNS_T_CNAME: return "CNAME";
	case DNS_T_PTR: return "PTR";
	case DNS_T_NS: return "NS";
	case DNS_T_MX: return "MX";
	case DNS_T_TXT: return "TXT";
	case DNS_T_AAAA: return "AAAA";
	case DNS_T_TLSA: return "TLSA";
	}
	return "TYPE?";
}

void
dns_result_free(struct dns_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->n; i++) {
		if (res->txt)
			free(res->txt[i].s);
		if (res->mx)
			free(res->mx[i].host);
		if (res->ptr)
			free(res->ptr[i]);
		if (res->tlsa)
			free(res->tlsa[i].data);
	}
	free(res->txt);
	free(res->mx);
	free(res->a);
	free(res->aaaa);
	free(res->ptr);
	free(res->tlsa);
	free(res->qname);
	free(res);
}

struct dns_result *
dns_result_dup(const struct dns_result *src)
{
	struct dns_result *d = xcalloc(1, sizeof(*d));
	size_t n = src->n;

	*d = *src;
	d->qname = xstrdup(src->qname ? src->qname : "");
	d->txt = NULL;
	d->mx = NULL;
	d->a = NULL;
	d->aaaa = NULL;
	d->ptr = NULL;
	d->tlsa = NULL;
	if (src->txt) {
		d->txt = xcalloc(n ? n : 1, sizeof(*d->txt));
		for (size_t i = 0; i < n; i++) {
			d->txt[i].s = xmemdup(src->txt[i].s, src->txt[i].len);
			d->txt[i].len = src->txt[i].len;
		}
	}
	if (src->mx) {
		d->mx = xcalloc(n ? n : 1, sizeof(*d->mx));
		for (size_t i = 0; i < n; i++) {
			d->mx[i].pref = src->mx[i].pref;
			d->mx[i].host = xstrdup(src->mx[i].host);
		}
	}
	if (src->a)
		d->a = xmemdup(src->a, (n ? n : 1) * sizeof(*d->a));
	if (src->aaaa)
		d->aaaa = xmemdup(src->aaaa, (n ? n : 1) * sizeof(*d->aaaa));
	if (src->ptr) {
		d->ptr = xcalloc(n ? n : 1, sizeof(*d->ptr));
		for (size_t i = 0; i < n; i++)
			d->ptr[i] = xstrdup(src->ptr[i]);
	}
	if (src->tlsa) {
		d->tlsa = xcalloc(n ? n : 1, sizeof(*d->tlsa));
		for (size_t i = 0; i < n; i++) {
			d->tlsa[i] = src->tlsa[i];
			d->tlsa[i].data = xmemdup(src->tlsa[i].data,
			    src->tlsa[i].len);
		}
	}
	return d;
}

/* Parse one rdata into slot res->n; returns false (nothing added) when it
 * is malformed. */
static bool
add_rdata(struct dns_result *res, const uint8_t *rd, size_t len)
{
	struct cur c;
	size_t i = res->n;
	char name[DNS_NAME_TEXT_MAX];

	cur_init(&c, rd, len);
	switch (res->qtype) {
	case DNS_T_A:
		if (len != 4)
			return false;
		memcpy(&res->a[i], rd, 4);
		break;
	case DNS_T_AAAA:
		if (len != 16)
			return false;
		memcpy(&res->aaaa[i], rd, 16);
		break;
	case DNS_T_TXT: {
		struct { char *p; size_t n; } b = { xmalloc(len + 1), 0 };

		if (len == 0) {		/* at least one string, RFC 1035 */
			free(b.p);
			return false;
		}
		while (!cur_eof(&c)) {
			uint8_t sl = cur_getc(&c);
			const uint8_t *sp = cur_take(&c, sl);

			if (sp == NULL)
				break;
			memcpy(b.p + b.n, sp, sl);
			b.n += sl;
		}
		if (c.err) {
			free(b.p);
			return false;
		}
		b.p[b.n] = '\0';
		res->txt[i].s = b.p;
		res->txt[i].len = b.n;
		break;
	}
	case DNS_T_MX: {
		uint16_t pref;

		pref = (uint16_t)(cur_getc(&c) << 8);
		pref |= cur_getc(&c);
		name_from_wire(&c, name, sizeof(name));
		if (c.err || !cur_eof(&c))
			return false;
		res->mx[i].pref = pref;
		res->mx[i].host = xstrdup(name);
		break;
	}
	case DNS_T_PTR:
	case DNS_T_NS:
	case DNS_T_CNAME:
		name_from_wire(&c, name, sizeof(name));
		if (c.err || !cur_eof(&c))
			return false;
		res->ptr[i] = xstrdup(name);
		break;
	case DNS_T_TLSA:
		if (len < 3)
			return false;
		res->tlsa[i].usage = rd[0];
		res->tlsa[i].selector = rd[1];
		res->tlsa[i].mtype = rd[2];
		res->tlsa[i].len = len - 3;
		res->tlsa[i].data = xmemdup(rd + 3, len - 3);
		break;
	default:
		return false;
	}
	res->n++;
	return true;
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return (int)x->pref - (int)y->pref;
}

/* Stable sort by preference (insertion sort: MX sets are small). */
static void
mx_sort(struct dns_mx *mx, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct dns_mx t = mx[i];
		size_t j = i;

		while (j > 0 && mx_cmp(&mx[j - 1], &t) > 0) {
			mx[j] = mx[j - 1];
			j--;
		}
		mx[j] = t;
	}
}

static struct dns_result *
result_new(const struct dns_query *q, enum dns_status st, enum dns_sec sec,
    uint32_t ttl, const uint8_t *const *rdata, const size_t *rdlen, size_t n,
    const char *why)
{
	struct dns_result *res = xcalloc(1, sizeof(*res));
	size_t cap = n ? n : 1;

	res->qname = xstrdup(q->name);
	res->qtype = q->type;
	res->status = st;
	res->sec = sec;
	res->why = why;
	if (st == DNS_BOGUS || sec == DNS_SEC_BOGUS) {
		res->status = DNS_BOGUS;
		res->sec = DNS_SEC_BOGUS;
		if (res->why == NULL)
			res->why = "DNSSEC validation failed";
		return res;
	}
	switch (q->type) {
	case DNS_T_A: res->a = xcalloc(cap, sizeof(*res->a)); break;
	case DNS_T_AAAA: res->aaaa = xcalloc(cap, sizeof(*res->aaaa)); break;
	case DNS_T_TXT: res->txt = xcalloc(cap, sizeof(*res->txt)); break;
	case DNS_T_MX: res->mx = xcalloc(cap, sizeof(*res->mx)); break;
	case DNS_T_PTR:
	case DNS_T_NS:
	case DNS_T_CNAME: res->ptr = xcalloc(cap, sizeof(*res->ptr)); break;
	case DNS_T_TLSA: res->tlsa = xcalloc(cap, sizeof(*res->tlsa)); break;
	default: break;
	}
	if (st == DNS_OK) {
		for (size_t i = 0; i < n; i++)
			add_rdata(res, rdata[i], rdlen[i]);
		if (res->n == 0)
			res->status = DNS_NODATA;
		else
			res->ttl = ttl;
		if (res->mx)
			mx_sort(res->mx, res->n);
	}
	return res;
}

/* ---- queries -------------------------------------------------------- */

static void
query_unlink(struct dns_query *q)
{
	struct resolver *r = q->r;

	if (q->prev)
		q->prev->next = q->next;
	else
		r->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

static void
query_free(struct dns_query *q)
{
	query_unlink(q);
	if (q->ev)
		event_free(q->ev);
	dns_result_free(q->res);
	free(q);
}

static void
deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	(void)fd;
	(void)what;
	query_unlink(q);
	q->cb(q->res, q->arg);
	query_free(q);
}

void
resolve_done(struct dns_query *q, enum dns_status st, enum dns_sec sec,
    uint32_t ttl, const uint8_t *const *rdata, const size_t *rdlen, size_t n,
    const char *why)
{
	if (q->res != NULL)
		panic("resolve_done called twice for %s", q->name);
	q->in_backend = false;
	q->res = result_new(q, st, sec, ttl, rdata, rdlen, n, why);
	event_active(q->ev, EV_TIMEOUT, 0);
}

struct dns_query *
resolve(struct resolver *r, const char *name, uint16_t type, dns_cb *cb,
    void *arg)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->r = r;
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	q->ev = event_new(r->base, -1, 0, deliver_cb, q);
	if (q->ev == NULL)
		fatal("event_new failed");
	q->next = r->queries;
	if (r->queries)
		r->queries->prev = q;
	r->queries = q;
	r->nqueries++;
	if (dns_name_normalise(name, q->name, sizeof(q->name)) != 0) {
		ptt_strlcpy(q->name, name, sizeof(q->name));
		resolve_done(q, DNS_NXDOMAIN, DNS_SEC_INSECURE, 0, NULL, NULL,
		    0, "malformed name");
		return q;
	}
	q->in_backend = true;
	r->ops->start(r, q);
	return q;
}

struct dns_query *
resolve_txt(struct resolver *r, const char *name, dns_cb *cb, void *arg)
{
	return resolve(r, name, DNS_T_TXT, cb, arg);
}

struct dns_query *
resolve_mx(struct resolver *r, const char *name, dns_cb *cb, void *arg)
{
	return resolve(r, name, DNS_T_MX, cb, arg);
}

struct dns_query *
resolve_a(struct resolver *r, const char *name, dns_cb *cb, void *arg)
{
	return resolve(r, name, DNS_T_A, cb, arg);
}

struct dns_query *
resolve_aaaa(struct resolver *r, const char *name, dns_cb *cb, void *arg)
{
	return resolve(r, name, DNS_T_AAAA, cb, arg);
}

struct dns_query *
resolve_tlsa(struct resolver *r, const char *name, dns_cb *cb, void *arg)
{
	return resolve(r, name, DNS_T_TLSA, cb, arg);
}

struct dns_query *
resolve_ptr(struct resolver *r, int af, const void *addr, dns_cb *cb,
    void *arg)
{
	char name[80];

	if (dns_reverse_name(af, addr, name, sizeof(name)) != 0)
		ptt_strlcpy(name, "..", sizeof(name));	/* malformed: NXDOMAIN */
	return resolve(r, name, DNS_T_PTR, cb, arg);
}

void
resolve_cancel(struct dns_query *q)
{
	if (q == NULL)
		return;
	if (q->in_backend && q->r->ops->cancel)
		q->r->ops->cancel(q->r, q);
	query_free(q);
}

struct resolver *
resolver_new_backend(struct event_base *base, const struct resolver_ops *ops,
    void *backend)
{
	struct resolver *r = xcalloc(1, sizeof(*r));

	r->base = base;
	r->ops = ops;
	r->backend = backend;
	return r;
}

void *
resolver_backend(const struct resolver *r)
{
	return r->backend;
}

struct event_base *
resolver_base(const struct resolver *r)
{
	return r->base;
}

const struct resolver_ops *
resolver_ops(const struct resolver *r)
{
	return r->ops;
}

unsigned long
resolver_nqueries(const struct resolver *r)
{
	return r->nqueries;
}

void
resolver_free(struct resolver *r)
{
	if (r == NULL)
		return;
	while (r->queries)
		resolve_cancel(r->queries);
	if (r->ops->free)
		r->ops->free(r);
	free(r);
}

const char *
dns_query_name(const struct dns_query *q)
{
	return q->name;
}

uint16_t
dns_query_type(const struct dns_query *q)
{
	return q->type;
}

void
dns_query_set_priv(struct dns_query *q, void *priv)
{
	q->priv = priv;
}

void *
dns_query_priv(const struct dns_query *q)
{
	return q->priv;
}

/* ---- libunbound backend ------------------------------------------- */

struct ub_backend {
	struct ub_ctx *ctx;
	struct event_base *base;
	unsigned timeout_ms;
};

struct ub_query {
	struct dns_query *q;
	struct ub_backend *ub;
	int async_id;
	bool in_start;		/* inside ub_resolve_event() */
	bool done;		/* callback ran inline; ub_start frees */
	struct event *timer;
};

static void
ubq_free(struct ub_query *uq)
{
	if (uq->timer)
		event_free(uq->timer);
	free(uq);
}

void
resolve_done_pkt(struct dns_query *q, struct ldns_struct_pkt *pkt,
    enum dns_sec sec)
{
	ldns_rr_list *rrs;
	size_t n = 0;
	const uint8_t **rdata = NULL;
	size_t *rdlen = NULL;
	ldns_buffer **bufs = NULL;
	uint32_t ttl = UINT32_MAX;

	rrs = ldns_pkt_rr_list_by_type(pkt, dns_query_type(q),
	    LDNS_SECTION_ANSWER);
	if (rrs != NULL)
		n = ldns_rr_list_rr_count(rrs);
	if (n > 0) {
		rdata = xcalloc(n, sizeof(*rdata));
		rdlen = xcalloc(n, sizeof(*rdlen));
		bufs = xcalloc(n, sizeof(*bufs));
	}
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(rrs, i);

		bufs[i] = ldns_buffer_new(512);
		if (bufs[i] == NULL)
			fatal("ldns_buffer_new failed");
		if (ldns_rr_rdata2buffer_wire(bufs[i], rr) != LDNS_STATUS_OK)
			continue;	/* rdlen 0: dropped as malformed */
		rdata[i] = ldns_buffer_begin(bufs[i]);
		rdlen[i] = ldns_buffer_position(bufs[i]);
		if (ldns_rr_ttl(rr) < ttl)
			ttl = ldns_rr_ttl(rr);
	}
	resolve_done(q, DNS_OK, sec, n ? ttl : 0, rdata, rdlen, n, NULL);
	for (size_t i = 0; i < n; i++)
		ldns_buffer_free(bufs[i]);
	free(bufs);
	free(rdata);
	free(rdlen);
	if (rrs)
		ldns_rr_list_deep_free(rrs);
}

static void
ub_cb(void *arg, int rcode, void *packet, int packet_len, int sec,
    char *why_bogus, int ratelimited)
{
	struct ub_query *uq = arg;
	struct dns_query *q = uq->q;
	enum dns_sec s = sec == 2 ? DNS_SEC_SECURE :
	    sec == 1 ? DNS_SEC_BOGUS : DNS_SEC_INSECURE;
	ldns_pkt *pkt = NULL;

	(void)why_bogus;
	(void)ratelimited;
	if (uq->timer)
		event_del(uq->timer);
	dns_query_set_priv(q, NULL);
	if (s == DNS_SEC_BOGUS) {
		resolve_done(q, DNS_BOGUS, s, 0, NULL, NULL, 0,
		    "DNSSEC validation failed");
	} else if (rcode == LDNS_RCODE_NXDOMAIN) {
		resolve_done(q, DNS_NXDOMAIN, s, 0, NULL, NULL, 0, NULL);
	} else if (rcode != 0 || packet == NULL || packet_len <= 0 ||
	    ldns_wire2pkt(&pkt, packet, (size_t)packet_len) != LDNS_STATUS_OK) {
		resolve_done(q, DNS_TEMPFAIL, s, 0, NULL, NULL, 0,
		    rcode == LDNS_RCODE_REFUSED ? "refused" : "server failure");
	} else if (ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN) {
		resolve_done(q, DNS_NXDOMAIN, s, 0, NULL, NULL, 0, NULL);
	} else if (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR) {
		resolve_done(q, DNS_TEMPFAIL, s, 0, NULL, NULL, 0,
		    "server failure");
	} else {
		resolve_done_pkt(q, pkt, s);
	}
	if (pkt)
		ldns_pkt_free(pkt);
	if (uq->in_start)
		uq->done = true;	/* answered from cache: ub_start frees */
	else
		ubq_free(uq);
}

static void
ub_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ub_query *uq = arg;
	struct dns_query *q = uq->q;

	(void)fd;
	(void)what;
	ub_cancel(uq->ub->ctx, uq->async_id);
	dns_query_set_priv(q, NULL);
	ubq_free(uq);
	resolve_done(q, DNS_TEMPFAIL, DNS_SEC_INSECURE, 0, NULL, NULL, 0,
	    "timeout");
}

static void
ub_start(struct resolver *r, struct dns_query *q)
{
	struct ub_backend *ub = resolver_backend(r);
	struct ub_query *uq = xcalloc(1, sizeof(*uq));
	struct timeval tv;
	int ret;

	uq->q = q;
	uq->ub = ub;
	dns_query_set_priv(q, uq);
	uq->in_start = true;
	ret = ub_resolve_event(ub->ctx, dns_query_name(q), dns_query_type(q),
	    1, uq, ub_cb, &uq->async_id);
	uq->in_start = false;
	if (uq->done) {		/* answered inline (cache, local data) */
		ubq_free(uq);
		return;
	}
	if (ret != 0) {
		dns_query_set_priv(q, NULL);
		ubq_free(uq);
		resolve_done(q, DNS_TEMPFAIL, DNS_SEC_INSECURE, 0, NULL, NULL,
		    0, "resolver failure");
		return;
	}
	uq->timer = evtimer_new(ub->base, ub_timeout_cb, uq);
	if (uq->timer == NULL)
		fatal("evtimer_new failed");
	tv.tv_sec = ub->timeout_ms / 1000;
	tv.tv_usec = (ub->timeout_ms % 1000) * 1000;
	evtimer_add(uq->timer, &tv);
}

static void
ub_cancel_q(struct resolver *r, struct dns_query *q)
{
	struct ub_backend *ub = resolver_backend(r);
	struct ub_query *uq = dns_query_priv(q);

	if (uq == NULL)
		return;
	ub_cancel(ub->ctx, uq->async_id);
	ubq_free(uq);
	dns_query_set_priv(q, NULL);
}

static void
ub_free(struct resolver *r)
{
	struct ub_backend *ub = resolver_backend(r);

	ub_ctx_delete(ub->ctx);
	free(ub);
}

static const struct resolver_ops ub_ops = {
	.start = ub_start,
	.cancel = ub_cancel_q,
	.free = ub_free,
};

/* "v4:port" and "[v6]:port" to unbound's "addr@port"; others as given. */
static const char *
ub_addr(const char *in, char *out, size_t outlen)
{
	const char *colon = strchr(in, ':');

	if (strchr(in, '@') != NULL)
		return in;
	if (in[0] == '[') {
		const char *end = strchr(in, ']');

		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return in;
		snprintf(out, outlen, "%.*s%s%s", (int)(end - in - 1), in + 1,
		    end[1] ? "@" : "", end[1] ? end + 2 : "");
		return out;
	}
	if (colon != NULL && strchr(colon + 1, ':') == NULL) {
		snprintf(out, outlen, "%.*s@%s", (int)(colon - in), in,
		    colon + 1);
		return out;
	}
	return in;
}

/* A trust anchor must be one DS or DNSKEY record (libunbound itself would
 * only find out at the first query). */
static bool
ta_valid(const char *text)
{
	ldns_rr *rr = NULL;
	bool ok;

	if (ldns_rr_new_frm_str(&rr, text, 3600, NULL, NULL) != LDNS_STATUS_OK)
		return false;
	ok = ldns_rr_get_type(rr) == LDNS_RR_TYPE_DS ||
	    ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY;
	ldns_rr_free(rr);
	return ok;
}

/* Read a file of trust anchors (zone-file lines: DS or DNSKEY, comments
 * after ';') now, and hand each RR to libunbound as text. */
static const char *
add_ta_file(struct ub_ctx *ctx, const char *path)
{
	char line[8192];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (f == NULL)
		return "cannot read the trust anchor file";
	while (fgets(line, sizeof(line), f) != NULL) {
		char *semi = strchr(line, ';'), *s = line;
		size_t len;

		if (semi)
			*semi = '\0';
		len = strlen(s);
		while (len > 0 && isspace((unsigned char)s[len - 1]))
			s[--len] = '\0';
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0' || *s == '$')
			continue;
		if (!ta_valid(s) || ub_ctx_add_ta(ctx, s) != 0) {
			fclose(f);
			return "bad record in the trust anchor file";
		}
		n++;
	}
	fclose(f);
	return n ? NULL : "no trust anchor in the file";
}

void
resolver_opts_dot(struct resolver_opts *o, const char *addr,
    const char *ca_file)
{
	o->forward = addr;
	o->stub = NULL;
	o->stub_zones = NULL;
	o->tls = true;
	o->tls_ca = ca_file;
	o->tls_name = RESOLVER_TLS_NAME;
}

void
resolver_opts_from_cfg(struct resolver_opts *o, const struct resolver_cfg *c,
    const char *tls_ca)
{
	memset(o, 0, sizeof(*o));
	o->forward = c->forward[0] ? c->forward : NULL;
	o->stub = c->stub[0] ? c->stub : NULL;
	o->trust_anchor = c->trust_anchor[0] ? c->trust_anchor : NULL;
	o->config_file = c->config_file[0] ? c->config_file : NULL;
	o->allow_localhost = c->allow_localhost;
	o->tls = c->tls;
	o->tls_ca = tls_ca;
	o->timeout_ms = (unsigned)c->timeout * 1000;
}

uint16_t
resolver_cfg_port(const struct resolver_cfg *c)
{
	const char *s = c->forward[0] ? c->forward : c->stub;
	const char *p = NULL;
	uint16_t def = c->tls ? 853 : 53;
	long v;

	if (s[0] == '\0')
		return def;
	if ((p = strchr(s, '@')) == NULL) {
		if (s[0] == '[')
			p = strstr(s, "]:") ? strstr(s, "]:") + 1 : NULL;
		else if (strchr(s, ':') == strrchr(s, ':'))
			p = strchr(s, ':');	/* one colon: not a bare IPv6 */
	}
	if (p == NULL)
		return def;
	v = strtol(p + 1, NULL, 10);
	return v > 0 && v < 65536 ? (uint16_t)v : def;
}

struct resolver *
resolver_unbound_new(struct event_base *base, const struct resolver_opts *o,
    const char **errp)
{
	static const struct resolver_opts none;
	struct ub_backend *ub;
	struct ub_ctx *ctx;
	const char *err = NULL;
	char abuf[INET6_ADDRSTRLEN + 16];

	if (o == NULL)
		o = &none;
	if (o->tls)	/* Debian's libunbound has no TLS: our own client */
		return resolver_dot_new(base, o, errp);
	ctx = ub_ctx_create_event(base);
	if (ctx == NULL) {
		*errp = "ub_ctx_create_event failed";
		return NULL;
	}
	if (o->allow_localhost &&
	    ub_ctx_set_option(ctx, "do-not-query-localhost:", "no") != 0)
		err = "do-not-query-localhost refused";
	if (err == NULL && o->config_file && ub_ctx_config(ctx, o->config_file) != 0)
		err = "cannot read the unbound config file";
	if (err == NULL && o->forward &&
	    ub_ctx_set_fwd(ctx, ub_addr(o->forward, abuf, sizeof(abuf))) != 0)
		err = "bad forward address";
	if (err == NULL && o->stub && o->stub_zones == NULL &&
	    ub_ctx_set_fwd(ctx, ub_addr(o->stub, abuf, sizeof(abuf))) != 0)
		err = "bad stub address";
	for (const char *const *z = o->stub ? o->stub_zones : NULL;
	    err == NULL && z != NULL && *z != NULL; z++)
		if (ub_ctx_set_stub(ctx, *z, ub_addr(o->stub, abuf,
		    sizeof(abuf)), 0) != 0)
			err = "bad stub zone or address";
	if (err == NULL && o->trust_anchor && (!ta_valid(o->trust_anchor) ||
	    ub_ctx_add_ta(ctx, o->trust_anchor) != 0))
		err = "bad trust anchor";
	if (err == NULL && o->trust_anchor_file)
		err = add_ta_file(ctx, o->trust_anchor_file);
	if (err != NULL) {
		ub_ctx_delete(ctx);
		*errp = err;
		return NULL;
	}
	ub = xcalloc(1, sizeof(*ub));
	ub->ctx = ctx;
	ub->base = base;
	ub->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	return resolver_new_backend(base, &ub_ops, ub);
}
