/*
 * test_relay.c - unit tests of ptt-relay's pure parts: MX ordering and the
 * whole route lookup against the scripted resolver (RFC 5321 5.1, RFC 7505),
 * DSN generation parsed back with lib/mail (RFC 3464, RFC 6522), retry and
 * expiry arithmetic, the queue envelope built from the server's envelope,
 * and the X-Ptt-Require-TLS field.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "dns/fake.h"
#include "mail/hdr.h"
#include "mail/mime.h"
#include "relay/dsn.h"
#include "relay/mx.h"
#include "relay/relay.h"
#include "relay/retry.h"
#include "smtp/server.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"
#include "../tap.h"

/* ---- MX ordering ---- */

static unsigned rnd_calls;
/* Always the last index: reverses each run of equal preference. */
static unsigned
rnd_last(unsigned n)
{
	rnd_calls++;
	return n - 1;
}

static unsigned
rnd_zero(unsigned n)
{
	rnd_calls++;
	return 0;
}

static void
mx_res(struct dns_result *res, struct dns_mx *mx, size_t n)
{
	memset(res, 0, sizeof(*res));
	res->qname = (char *)"example.com";
	res->qtype = DNS_T_MX;
	res->status = n ? DNS_OK : DNS_NODATA;
	res->mx = mx;
	res->n = n;
	res->ttl = 300;
}

static void
test_mx_hosts(void)
{
	struct dns_mx mx[] = {
		{ 10, (char *)"a.example.com" },
		{ 10, (char *)"b.example.com" },
		{ 20, (char *)"c.example.com" },
		{ 5, (char *)"first.example.com" },
		{ 20, (char *)"C.example.com" },	/* duplicate of c */
	};
	struct dns_result res;
	struct mx_route route;
	struct mx_host *h;
	size_t n;

	memset(&route, 0, sizeof(route));
	mx_res(&res, mx, 5);
	is_int(mx_hosts(&res, "example.com", rnd_zero, &h, &n, &route), MX_OK,
	    "MX answer: OK");
	is_int(n, 4, "duplicate host dropped");
	is_str(h[0].name, "first.example.com", "lowest preference first");
	is_int(h[0].pref, 5, "its preference");
	ok(h[3].pref == 20 && strcmp(h[3].name, "c.example.com") == 0,
	    "highest preference last");
	/* rnd 0 swaps each element with the first of its run. */
	ok((strcmp(h[1].name, "a.example.com") == 0 &&
	    strcmp(h[2].name, "b.example.com") == 0) ||
	    (strcmp(h[1].name, "b.example.com") == 0 &&
	    strcmp(h[2].name, "a.example.com") == 0),
	    "equal preferences stay together");
	mx_hosts_free(h, n);

	/* Randomisation among equal preferences: both orders happen. */
	struct dns_mx eq[] = {
		{ 10, (char *)"x" }, { 10, (char *)"y" }, { 10, (char *)"z" },
	};
	bool first_seen[3] = { false, false, false };
	mx_res(&res, eq, 3);
	for (int i = 0; i < 200; i++) {
		mx_hosts(&res, "example.com", NULL, &h, &n, &route);
		first_seen[h[0].name[0] - 'x'] = true;
		mx_hosts_free(h, n);
	}
	ok(first_seen[0] && first_seen[1] && first_seen[2],
	    "equal preferences are randomised (each host came first)");
	rnd_calls = 0;
	mx_hosts(&res, "example.com", rnd_last, &h, &n, &route);
	ok(rnd_calls == 2 && strcmp(h[0].name, "x") == 0,
	    "the random source is used once per swap");
	mx_hosts_free(h, n);

	/* Implicit MX. */
	mx_res(&res, NULL, 0);
	is_int(mx_hosts(&res, "example.com", NULL, &h, &n, &route), MX_OK,
	    "NODATA: OK");
	ok(n == 1 && strcmp(h[0].name, "example.com") == 0 && h[0].pref == 0,
	    "NODATA: the domain is its own implicit MX");
	mx_hosts_free(h, n);

	/* Null MX. */
	struct dns_mx null[] = { { 0, (char *)"" } };
	mx_res(&res, null, 1);
	is_int(mx_hosts(&res, "example.com", NULL, &h, &n, &route), MX_PERM,
	    "null MX: permanent");
	is_str(route.status, "5.1.10", "null MX: 5.1.10");
	ok(strstr(route.why, "null MX") != NULL, "null MX: said so");
	ok(h == NULL && n == 0, "null MX: no hosts");
	struct dns_mx mixed[] = { { 0, (char *)"" }, { 10, (char *)"mx" } };
	mx_res(&res, mixed, 2);
	is_int(mx_hosts(&res, "example.com", NULL, &h, &n, &route), MX_OK,
	    "a null MX among others is ignored");
	ok(n == 1 && strcmp(h[0].name, "mx") == 0, "the real MX is kept");
	mx_hosts_free(h, n);

	mx_res(&res, NULL, 0);
	res.status = DNS_NXDOMAIN;
	is_int(mx_hosts(&res, "nx.example", NULL, &h, &n, &route), MX_PERM,
	    "NXDOMAIN: permanent");
	is_str(route.status, "5.1.2", "NXDOMAIN: 5.1.2");
	res.status = DNS_TEMPFAIL;
	res.why = "SERVFAIL";
	is_int(mx_hosts(&res, "x.example", NULL, &h, &n, &route), MX_TEMP,
	    "TEMPFAIL: temporary");
	is_str(route.status, "4.4.3", "TEMPFAIL: 4.4.3");
	ok(strstr(route.why, "SERVFAIL") != NULL, "TEMPFAIL: reason kept");
	res.status = DNS_BOGUS;
	is_int(mx_hosts(&res, "x.example", NULL, &h, &n, &route), MX_TEMP,
	    "BOGUS: temporary (retried)");
}

/* ---- the whole lookup against the fake resolver ---- */

struct wait {
	struct event_base *base;
	struct mx_route *route;
	int calls;
};

static void
on_route(struct mx_route *route, void *arg)
{
	struct wait *w = arg;

	w->route = route;
	w->calls++;
	event_base_loopbreak(w->base);
}

static struct mx_route *
lookup(struct event_base *base, struct resolver *r, const char *domain,
    bool v6, bool v4)
{
	struct wait w = { base, NULL, 0 };

	mx_lookup(r, domain, 2525, v6, v4, rnd_zero, on_route, &w);
	event_base_dispatch(base);
	return w.calls == 1 ? w.route : NULL;
}

static const char *
addr_of(const struct mx_addr *a, char *buf, size_t len)
{
	if (a->ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
		    buf, (socklen_t)len);
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr,
		    buf, (socklen_t)len);
	return buf;
}

static int
port_of(const struct mx_addr *a)
{
	return a->ss.ss_family == AF_INET6 ?
	    ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port) :
	    ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

static void
test_mx_lookup(void)
{
	struct event_base *base = event_base_new();
	struct resolver *r = resolver_fake_new(base);
	struct fake_dns *f = resolver_fake(r);
	struct mx_route *rt;
	char ip[64];
	unsigned line = 0;

	is_int(fake_dns_load(f,
	    "example.com MX 20 backup.example.com.\n"
	    "example.com MX 10 mx.example.com.\n"
	    "mx.example.com A 192.0.2.1\n"
	    "mx.example.com AAAA 2001:db8::1\n"
	    "backup.example.com A 192.0.2.2\n"
	    "implicit.example A 192.0.2.3\n"
	    "null.example MX 0 .\n"
	    "noaddr.example MX 10 gone.example.\n"
	    "temp.example MX 10 flaky.example.\n"
	    "flaky.example A !tempfail\n"
	    "flaky.example AAAA !tempfail\n"
	    "down.example MX !tempfail\n"
	    "bare.example TXT \"no mail here\"\n", &line), 0,
	    "fake zone loads");

	rt = lookup(base, r, "example.com", true, true);
	ok(rt != NULL && rt->st == MX_OK && rt->n == 3, "MX: 3 addresses");
	if (rt != NULL && rt->n == 3) {
		is_str(rt->a[0].host, "mx.example.com", "preferred MX first");
		is_str(addr_of(&rt->a[0], ip, sizeof(ip)), "2001:db8::1",
		    "its IPv6 address first");
		is_str(addr_of(&rt->a[1], ip, sizeof(ip)), "192.0.2.1",
		    "then its IPv4 address");
		is_str(rt->a[2].host, "backup.example.com", "backup MX last");
		is_int(port_of(&rt->a[2]), 2525, "the port is set");
	}
	mx_route_free(rt);

	rt = lookup(base, r, "example.com", false, true);
	ok(rt != NULL && rt->n == 2 && rt->a[0].ss.ss_family == AF_INET,
	    "IPv4 only: no AAAA addresses");
	mx_route_free(rt);

	rt = lookup(base, r, "implicit.example", true, true);
	ok(rt != NULL && rt->st == MX_OK && rt->n == 1 &&
	    strcmp(addr_of(&rt->a[0], ip, sizeof(ip)), "192.0.2.3") == 0,
	    "no MX: the domain's A record is the implicit MX");
	mx_route_free(rt);

	rt = lookup(base, r, "null.example", true, true);
	ok(rt != NULL && rt->st == MX_PERM && strcmp(rt->status, "5.1.10") == 0,
	    "null MX: 5.1.10");
	mx_route_free(rt);

	rt = lookup(base, r, "nowhere.example", true, true);
	ok(rt != NULL && rt->st == MX_PERM && strcmp(rt->status, "5.1.2") == 0,
	    "NXDOMAIN: 5.1.2");
	mx_route_free(rt);

	rt = lookup(base, r, "noaddr.example", true, true);
	ok(rt != NULL && rt->st == MX_PERM && strcmp(rt->status, "5.4.4") == 0,
	    "MX host without any address: 5.4.4");
	mx_route_free(rt);

	rt = lookup(base, r, "temp.example", true, true);
	ok(rt != NULL && rt->st == MX_TEMP && strcmp(rt->status, "4.4.3") == 0,
	    "MX host address lookup fails: temporary 4.4.3");
	mx_route_free(rt);

	rt = lookup(base, r, "down.example", true, true);
	ok(rt != NULL && rt->st == MX_TEMP, "MX lookup fails: temporary");
	mx_route_free(rt);

	rt = lookup(base, r, "bare.example", true, true);
	ok(rt != NULL && rt->st == MX_PERM && strcmp(rt->status, "5.4.4") == 0,
	    "no MX and no address: permanent");
	mx_route_free(rt);

	rt = lookup(base, r, "[192.0.2.9]", true, true);
	ok(rt != NULL && rt->st == MX_OK && rt->n == 1 &&
	    strcmp(addr_of(&rt->a[0], ip, sizeof(ip)), "192.0.2.9") == 0,
	    "address literal used as is");
	mx_route_free(rt);
	rt = lookup(base, r, "[IPv6:2001:db8::7]", true, true);
	ok(rt != NULL && rt->st == MX_OK && rt->a[0].ss.ss_family == AF_INET6,
	    "IPv6 address literal");
	mx_route_free(rt);
	rt = lookup(base, r, "[300.1.1.1]", true, true);
	ok(rt != NULL && rt->st == MX_PERM, "bad literal: permanent");
	mx_route_free(rt);

	/* Cancel: the callback never runs. */
	struct wait w = { base, NULL, 0 };
	struct mx_lookup *l = mx_lookup(r, "example.com", 25, true, true, NULL,
	    on_route, &w);
	mx_lookup_cancel(l);
	event_base_loop(base, EVLOOP_NONBLOCK);
	is_int(w.calls, 0, "a cancelled lookup never calls back");

	resolver_free(r);
	event_base_free(base);
}

/* ---- DSN ---- */

static struct q_env *
sample_env(void)
{
	struct q_env *env = xcalloc(1, sizeof(*env));
	struct q_rcpt *r;

	ptt_strlcpy(env->id, "0123456789ABCDEF", sizeof(env->id));
	env->created = 1700000000;
	env->sender = xstrdup("alice@example.org");
	env->envid = xstrdup("env-42");
	env->ret = SMTP_RET_FULL;
	r = q_env_add_rcpt(env, "bob@example.com");
	r->state = Q_FAILED;
	r->attempts = 1;
	r->status = xstrdup("5.1.1");
	r->reply = xstrdup("550 5.1.1 <bob@example.com>: no such user");
	r->remote = xstrdup("mx.example.com[192.0.2.1]:25");
	r->orcpt = xstrdup("rfc822;bob@example.com");
	r = q_env_add_rcpt(env, "carol@example.com");
	r->state = Q_DELIVERED;
	return env;
}

static const char MSG[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.com\r\n"
    "Subject: hello\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "\r\n"
    "The body line.\r\n";

/* Split a message/delivery-status body into its blocks (RFC 3464 2.1). */
static size_t
ds_blocks(const char *body, size_t len, struct mail_hdr *blocks, size_t max)
{
	size_t n = 0;
	const char *p = body, *end = body + len;

	while (p < end && n < max) {
		while (p + 1 < end && p[0] == '\r' && p[1] == '\n')
			p += 2;
		if (p >= end)
			break;
		const char *e = strstr(p, "\r\n\r\n");
		size_t blen = e ? (size_t)(e - p) + 2 : (size_t)(end - p);
		mail_hdr_parse(&blocks[n++], p, blen, NULL);
		p += blen;
	}
	return n;
}

static const char *
field(const struct mail_hdr *h, const char *name)
{
	const struct mail_field *f = mail_hdr_get(h, name);
	return f ? f->value : NULL;
}

static void
test_dsn(void)
{
	struct q_env *env = sample_env();
	bool sel[2] = { true, false };
	struct dsn_params p = { "relay.example.org", "example.org",
	    1700003600, 0, NULL, NULL };
	struct buf out;
	struct mail_mime m;
	const struct mail_part *root, *hum, *ds, *orig;

	buf_init(&out, 0);
	is_int(dsn_build(env, DSN_FAILED, sel, MSG, strlen(MSG), &p, &out), 0,
	    "failure DSN built");
	mail_mime_parse(&m, out.data, out.len, NULL);
	root = m.root;
	ok(mail_ctype_is(&root->ct, "multipart", "report"),
	    "multipart/report (RFC 6522)");
	is_str(mail_param_get(&root->ct.params, "report-type"),
	    "delivery-status", "report-type=delivery-status");
	hum = root->child;
	ds = hum ? hum->next : NULL;
	orig = ds ? ds->next : NULL;
	ok(hum && mail_ctype_is(&hum->ct, "text", "plain"),
	    "part 1: text/plain");
	ok(ds && mail_ctype_is(&ds->ct, "message", "delivery-status"),
	    "part 2: message/delivery-status");
	ok(orig && mail_ctype_is(&orig->ct, "message", "rfc822"),
	    "part 3: message/rfc822 (RET=FULL)");
	ok(orig && orig->next == NULL, "three parts");
	is_str(field(&root->hdr, "From"),
	    "Mail Delivery System <MAILER-DAEMON@example.org>",
	    "From: MAILER-DAEMON@domain");
	is_str(field(&root->hdr, "To"), "<alice@example.org>",
	    "To: the envelope sender");
	is_str(field(&root->hdr, "Auto-Submitted"), "auto-replied",
	    "Auto-Submitted (RFC 3834)");
	if (ds != NULL) {
		struct mail_hdr b[4];
		size_t n = ds_blocks(ds->body, ds->body_len, b, 4);

		is_int(n, 2, "one per-message and one per-recipient block "
		    "(only the selected recipient)");
		if (n >= 2) {
			is_str(field(&b[0], "Reporting-MTA"),
			    "dns; relay.example.org", "Reporting-MTA");
			is_str(field(&b[0], "Original-Envelope-Id"), "env-42",
			    "Original-Envelope-Id (ENVID)");
			ok(field(&b[0], "Arrival-Date") != NULL, "Arrival-Date");
			is_str(field(&b[1], "Final-Recipient"),
			    "rfc822; bob@example.com", "Final-Recipient");
			is_str(field(&b[1], "Original-Recipient"),
			    "rfc822;bob@example.com", "Original-Recipient (ORCPT)");
			is_str(field(&b[1], "Action"), "failed", "Action: failed");
			is_str(field(&b[1], "Status"), "5.1.1", "Status");
			is_str(field(&b[1], "Remote-MTA"), "dns; mx.example.com",
			    "Remote-MTA");
			is_str(field(&b[1], "Diagnostic-Code"),
			    "smtp; 550 5.1.1 <bob@example.com>: no such user",
			    "Diagnostic-Code: smtp; the remote reply");
			ok(field(&b[1], "Will-Retry-Until") == NULL,
			    "no Will-Retry-Until on failure");
		}
		for (size_t i = 0; i < n; i++)
			mail_hdr_free(&b[i]);
	}
	if (orig != NULL && orig->child != NULL)
		is_str(field(&orig->child->hdr, "Subject"), "hello",
		    "the original message is enclosed");
	else
		ok(0, "the original message is enclosed");
	mail_mime_free(&m);

	/* RET=HDRS: text/rfc822-headers, no body. */
	buf_reset(&out);
	env->ret = SMTP_RET_HDRS;
	dsn_build(env, DSN_FAILED, sel, MSG, strlen(MSG), &p, &out);
	mail_mime_parse(&m, out.data, out.len, NULL);
	orig = m.root->child && m.root->child->next ?
	    m.root->child->next->next : NULL;
	ok(orig && mail_ctype_is(&orig->ct, "text", "rfc822-headers"),
	    "RET=HDRS: text/rfc822-headers");
	ok(strstr(out.data, "The body line.") == NULL,
	    "RET=HDRS: the body is not returned");
	ok(strstr(out.data, "Subject: hello") != NULL,
	    "RET=HDRS: the headers are");
	mail_mime_free(&m);

	/* Delay notice. */
	buf_reset(&out);
	env->ret = SMTP_RET_FULL;
	env->rcpt[0].state = Q_PENDING;
	free(env->rcpt[0].status);
	env->rcpt[0].status = xstrdup("4.7.1");
	free(env->rcpt[0].reply);
	env->rcpt[0].reply = xstrdup("451 4.7.1 greylisted");
	p.retry_until = 1700000000 + 5 * 86400;
	is_int(dsn_build(env, DSN_DELAYED, sel, MSG, strlen(MSG), &p, &out), 0,
	    "delay DSN built");
	ok(strstr(out.data, "Action: delayed\r\n") != NULL, "Action: delayed");
	ok(strstr(out.data, "Status: 4.7.1\r\n") != NULL, "Status: 4.7.1");
	ok(strstr(out.data, "Will-Retry-Until: ") != NULL, "Will-Retry-Until");
	ok(strstr(out.data, "text/rfc822-headers") != NULL,
	    "a delay notice returns the headers only");

	/* Success through an MTA without DSN (RFC 3461 5.2.2.2). */
	buf_reset(&out);
	env->rcpt[0].state = Q_DELIVERED;
	free(env->rcpt[0].status);
	env->rcpt[0].status = xstrdup("2.0.0");
	free(env->rcpt[0].reply);
	env->rcpt[0].reply = xstrdup("250 2.0.0 queued");
	is_int(dsn_build(env, DSN_RELAYED, sel, MSG, strlen(MSG), &p, &out), 0,
	    "relayed DSN built");
	ok(strstr(out.data, "Action: relayed\r\n") != NULL, "Action: relayed");
	ok(strstr(out.data, "Status: 2.0.0\r\n") != NULL, "Status: 2.0.0");
	ok(strstr(out.data, "Subject: Successful Mail Delivery Report\r\n")
	    != NULL, "success subject");
	ok(strstr(out.data, "text/rfc822-headers") != NULL &&
	    strstr(out.data, "The body line.") == NULL,
	    "a success report returns the headers only");
	ok(strstr(out.data, "Will-Retry-Until") == NULL,
	    "no Will-Retry-Until on success");

	/* Hostile reply text cannot add fields or parts. */
	buf_reset(&out);
	free(env->rcpt[0].reply);
	env->rcpt[0].reply = xstrdup("550 x\r\nAction: delivered\r\n\r\n--=_ptt\x01\xff");
	p.boundary = "=_test_boundary";
	dsn_build(env, DSN_FAILED, sel, MSG, strlen(MSG), &p, &out);
	ok(strstr(out.data, "\r\nAction: delivered") == NULL,
	    "line breaks in a remote reply do not start a field");
	ok(strstr(out.data, "550 x  Action: delivered    --=_ptt??") != NULL,
	    "control and 8-bit octets are replaced");
	mail_mime_parse(&m, out.data, out.len, NULL);
	ok(m.root->child && m.root->child->next && m.root->child->next->next &&
	    m.root->child->next->next->next == NULL, "still three parts");
	mail_mime_free(&m);

	/* Never a DSN to the null sender, never one without recipients. */
	buf_reset(&out);
	free(env->sender);
	env->sender = xstrdup("");
	is_int(dsn_build(env, DSN_FAILED, sel, MSG, strlen(MSG), &p, &out),
	    PTT_EINVAL, "no DSN to the null sender");
	free(env->sender);
	env->sender = xstrdup("alice@example.org");
	sel[0] = false;
	is_int(dsn_build(env, DSN_FAILED, sel, MSG, strlen(MSG), &p, &out),
	    PTT_EINVAL, "no DSN without a selected recipient");

	/* Its envelope. */
	struct q_env d;
	memset(&d, 0, sizeof(d));
	dsn_envelope(env, "x\xc3\xa9", 3, &d);
	is_str(d.sender, "", "DSN envelope: null reverse-path");
	ok(d.nrcpt == 1 && strcmp(d.rcpt[0].addr, "alice@example.org") == 0,
	    "DSN envelope: to the original sender");
	is_int(d.rcpt[0].notify, SMTP_NOTIFY_NEVER, "DSN envelope: NOTIFY=NEVER");
	ok(d.eightbit, "DSN envelope: 8BITMIME when the DSN has 8-bit octets");
	q_env_free(&d);

	/* The message file is gone: the DSN says so. */
	buf_reset(&out);
	sel[0] = true;
	p.boundary = NULL;
	dsn_build(env, DSN_FAILED, sel, NULL, 0, &p, &out);
	ok(strstr(out.data, "no longer available") != NULL,
	    "without the message file: a note instead");

	buf_free(&out);
	q_env_free(env);
	free(env);
}

/* ---- retry arithmetic ---- */

static void
test_retry(void)
{
	struct relay_timing t = { 300, 4 * 3600, 5 * 86400, 4 * 3600 };
	struct q_env env;
	struct q_rcpt *r;
	time_t c = 1000000, now = c;

	memset(&env, 0, sizeof(env));
	env.created = c;
	env.sender = xstrdup("a@b");
	r = q_env_add_rcpt(&env, "x@y");

	is_int(relay_rcpt_result(r, c, RCPT_TEMP, "451 4.7.1 later", "4.7.1",
	    "mx[1.2.3.4]:25", now, &t), EV_DEFERRED, "4xx: deferred");
	is_int(r->attempts, 1, "attempt counted");
	is_int(r->next_try - now, 300, "first retry after retry_min");
	is_str(r->status, "4.7.1", "status kept");
	is_str(r->reply, "451 4.7.1 later", "reply kept");
	is_str(r->remote, "mx[1.2.3.4]:25", "remote kept");
	relay_rcpt_result(r, c, RCPT_TEMP, "x", NULL, NULL, now, &t);
	is_int(r->next_try - now, 600, "then doubled");
	is_str(r->status, "4.0.0", "status from the class when none given");
	for (int i = 0; i < 10; i++)
		relay_rcpt_result(r, c, RCPT_TEMP, "x", NULL, NULL, now, &t);
	is_int(r->next_try - now, 4 * 3600, "capped at retry_max");
	is_int(relay_env_next(&env), r->next_try, "env_next: the pending one");

	now = c + 5 * 86400 - 100;
	relay_rcpt_result(r, c, RCPT_TEMP, "x", NULL, NULL, now, &t);
	is_int(r->next_try, c + 5 * 86400, "never later than the expiry");
	now = c + 5 * 86400;
	is_int(relay_rcpt_result(r, c, RCPT_TEMP, "451 still", NULL, NULL, now,
	    &t), EV_EXPIRED, "at the expiry: expired");
	is_int(r->state, Q_FAILED, "expired: failed (a DSN is due)");
	is_str(r->status, "4.4.7", "expired: 4.4.7");
	is_str(r->reply, "451 still", "expired: the last reply kept");
	is_int(relay_env_next(&env), -1, "env_next: none pending");
	ok(!relay_env_done(&env), "failed is not done until bounced");
	r->state = Q_BOUNCED;
	ok(relay_env_done(&env), "bounced: done");

	r->state = Q_PENDING;
	is_int(relay_rcpt_result(r, c, RCPT_OK, "250 ok", NULL, NULL, c, &t),
	    EV_DELIVERED, "2xx: delivered");
	is_int(r->state, Q_DELIVERED, "delivered state");
	ok(relay_env_done(&env), "delivered: done");
	r->state = Q_PENDING;
	is_int(relay_rcpt_result(r, c, RCPT_PERM, "550 no", "5.1.1", NULL, c,
	    &t), EV_BOUNCED, "5xx: bounced");
	is_str(r->status, "5.1.1", "5xx status");

	/* NOTIFY and delay notices. */
	is_int(relay_notify_eff(0), SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY,
	    "NOTIFY absent: FAILURE,DELAY");
	is_int(relay_notify_eff(SMTP_NOTIFY_NEVER), SMTP_NOTIFY_NEVER,
	    "NOTIFY=NEVER kept");
	r->state = Q_PENDING;
	r->attempts = 1;
	r->notify = 0;
	ok(!relay_delay_due(&env, c + 4 * 3600 - 1, &t), "no notice before 4h");
	ok(relay_delay_due(&env, c + 4 * 3600, &t), "a notice at 4h");
	env.delay_notified = c + 4 * 3600;
	ok(!relay_delay_due(&env, c + 8 * 3600, &t), "only one notice");
	env.delay_notified = 0;
	r->notify = SMTP_NOTIFY_FAILURE;
	ok(!relay_delay_due(&env, c + 5 * 3600, &t),
	    "NOTIFY=FAILURE: no delay notice");
	r->notify = SMTP_NOTIFY_DELAY;
	free(env.sender);
	env.sender = xstrdup("");
	ok(!relay_delay_due(&env, c + 5 * 3600, &t),
	    "no delay notice to the null sender");
	t.delay_notice = 0;
	free(env.sender);
	env.sender = xstrdup("a@b");
	ok(!relay_delay_due(&env, c + 5 * 3600, &t), "delay_notice 0: never");
	is_int(queue_backoff(1, 300, 14400), 300, "queue_backoff(1)");
	q_env_free(&env);
}

/* ---- the envelope from the server ---- */

static void
test_envelope(void)
{
	struct smtp_rcpt rc[2];
	struct smtp_envelope e;
	struct q_env env;
	char err[128];

	memset(&e, 0, sizeof(e));
	memset(rc, 0, sizeof(rc));
	ptt_strlcpy(e.from.addr, "alice@example.org", sizeof(e.from.addr));
	ptt_strlcpy(e.mail.envid, "ENV1", sizeof(e.mail.envid));
	e.mail.ret = SMTP_RET_HDRS;
	e.mail.body = SMTP_BODY_8BITMIME;
	e.mail.smtputf8 = true;
	ptt_strlcpy(rc[0].path.addr, "bob@example.com", sizeof(rc[0].path.addr));
	rc[0].params.notify = SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY;
	ptt_strlcpy(rc[0].params.orcpt_type, "rfc822", sizeof(rc[0].params.orcpt_type));
	ptt_strlcpy(rc[0].params.orcpt_addr, "bob@old.example.com", sizeof(rc[0].params.orcpt_addr));
	ptt_strlcpy(rc[1].path.addr, "carol@example.net", sizeof(rc[1].path.addr));
	e.rcpt = rc;
	e.nrcpt = 2;
	memset(&env, 0, sizeof(env));
	is_int(relay_env_from_smtp(&e, &env, err, sizeof(err)), 0,
	    "envelope built");
	is_str(env.sender, "alice@example.org", "sender");
	is_str(env.envid, "ENV1", "ENVID");
	is_int(env.ret, SMTP_RET_HDRS, "RET");
	ok(env.eightbit, "BODY=8BITMIME");
	ok(env.smtputf8, "SMTPUTF8");
	ok(!env.require_tls, "require_tls not from the envelope");
	is_int(env.nrcpt, 2, "two recipients");
	is_str(env.rcpt[0].addr, "bob@example.com", "recipient 1");
	is_int(env.rcpt[0].notify, SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY,
	    "NOTIFY");
	is_str(env.rcpt[0].orcpt, "rfc822;bob@old.example.com", "ORCPT");
	ok(env.rcpt[1].orcpt == NULL && env.rcpt[1].notify == 0,
	    "recipient 2 without DSN parameters");
	ok(env.rcpt[0].state == Q_PENDING && env.rcpt[0].next_try == 0,
	    "pending, due now");
	q_env_free(&env);

	memset(&e.from, 0, sizeof(e.from));
	e.from.null = true;
	memset(&env, 0, sizeof(env));
	relay_env_from_smtp(&e, &env, err, sizeof(err));
	is_str(env.sender, "", "null reverse-path kept as \"\"");
	q_env_free(&env);

	e.nrcpt = 0;
	memset(&env, 0, sizeof(env));
	is_int(relay_env_from_smtp(&e, &env, err, sizeof(err)), PTT_EINVAL,
	    "no recipients: refused");
	q_env_free(&env);

	/* The copy used by the scheduler is deep and equal. */
	struct q_env a, b;
	memset(&a, 0, sizeof(a));
	e.nrcpt = 2;
	relay_env_from_smtp(&e, &a, err, sizeof(err));
	ptt_strlcpy(a.id, "AAAABBBBCCCCDDDD", sizeof(a.id));
	relay_env_copy(&b, &a);
	ok(b.nrcpt == 2 && strcmp(b.rcpt[0].orcpt, a.rcpt[0].orcpt) == 0 &&
	    b.rcpt[0].orcpt != a.rcpt[0].orcpt && b.ret == a.ret,
	    "relay_env_copy: a deep, equal copy");
	q_env_free(&a);
	q_env_free(&b);
}

static void
test_require_tls(void)
{
	const char *m1 = "From: a@b\r\nX-Ptt-Require-TLS: yes\r\nSubject: s\r\n"
	    "x-ptt-require-tls: no\r\n\r\nX-Ptt-Require-TLS: body\r\n";
	const char *m2 = "From: a@b\r\nSubject: s\r\n\r\nbody\r\n";
	const char *m3 = "X-Ptt-Require-TLS: No\r\n\r\n";
	struct buf out;
	bool yes;

	buf_init(&out, 0);
	is_int(relay_strip_require_tls(m1, strlen(m1), &out, &yes), 0, "strip");
	ok(yes, "X-Ptt-Require-TLS: yes seen");
	is_str(out.data, "From: a@b\r\nSubject: s\r\n\r\n"
	    "X-Ptt-Require-TLS: body\r\n", "every such field removed, body untouched");
	buf_reset(&out);
	relay_strip_require_tls(m2, strlen(m2), &out, &yes);
	ok(!yes && strcmp(out.data, m2) == 0, "no field: unchanged");
	buf_reset(&out);
	relay_strip_require_tls(m3, strlen(m3), &out, &yes);
	ok(!yes && strcmp(out.data, "\r\n") == 0, "\"No\" is not yes, still removed");
	buf_free(&out);

	char dom[64];
	relay_domain_of("Bob@Example.COM", dom, sizeof(dom));
	is_str(dom, "example.com", "domain lowercased");
	relay_domain_of("postmaster", dom, sizeof(dom));
	is_str(dom, "", "no domain");
	relay_domain_of("\"a@b\"@c.example", dom, sizeof(dom));
	is_str(dom, "c.example", "quoted local part with @");
}

int
main(void)
{
	test_mx_hosts();
	test_mx_lookup();
	test_dsn();
	test_retry();
	test_envelope();
	test_require_tls();
	return tap_done();
}
