/*
 * test_check.c - the mx's verdict (auth/check.h) over the fake resolver:
 * SPF pass/fail/temperror, DKIM pass/fail with messages signed here by
 * dkim_sign, DMARC pass/fail and its disposition, and DNS failures that
 * decide (SERVFAIL, a resolver that never answers) giving a temporary
 * failure, never a verdict.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "auth/arc.h"
#include "auth/authres.h"
#include "auth/check.h"
#include "auth/dkim.h"
#include "dns/fake.h"
#include "mail/hdr.h"
#include "util/buf.h"
#include "util/mem.h"
#include "../tap.h"

static struct event_base *base;
static EVP_PKEY *key;

static const char zone[] =
    "example.org TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
    "mail.example.org TXT \"v=spf1 a -all\"\n"
    "mail.example.org A 192.0.2.1\n"
    "_dmarc.example.org TXT \"v=DMARC1; p=reject\"\n"
    "example.net TXT \"v=spf1 ip4:198.51.100.0/24 ~all\"\n"
    "_dmarc.example.net TXT \"v=DMARC1; p=quarantine; pct=100\"\n"
    "relaxed.example TXT \"v=spf1 -all\"\n"
    "_dmarc.relaxed.example TXT \"v=DMARC1; p=none\"\n"
    "temp.example TXT !tempfail\n"
    "_dmarc.temp.example TXT \"v=DMARC1; p=reject\"\n"
    "tempnone.example TXT !tempfail\n"
    "_dmarc.tempnone.example TXT \"v=DMARC1; p=none\"\n"
    "_dmarc.dmarctemp.example TXT !tempfail\n"
    "dmarctemp.example TXT \"v=spf1 -all\"\n";

struct got {
	bool done;
	struct check_result r;
	char *field;
	struct authres ar;
	bool parsed;
};

static void
done_cb(const struct check_result *r, void *arg)
{
	struct got *g = arg;
	struct mail_hdr h;

	g->done = true;
	g->r = *r;
	g->r.dkim = NULL;
	g->r.ar_field = NULL;
	g->field = xstrdup(r->ar_field);
	mail_hdr_parse(&h, g->field, strlen(g->field), NULL);
	g->parsed = h.n == 1 && ar_parse(&g->ar, h.f[0].value,
	    h.f[0].value_len) == 0;
	mail_hdr_free(&h);
}

static char *
message(const char *from, const char *body)
{
	struct buf b;

	buf_init(&b, 0);
	buf_addf(&b, "From: Alice <alice@%s>\r\nTo: bob@mx.example.test\r\n"
	    "Subject: test\r\nDate: Sun, 22 Nov 2026 06:00:00 +0000\r\n"
	    "Message-ID: <1@%s>\r\n\r\n%s", from, from, body);
	return buf_steal(&b, NULL);
}

/* Prepend a DKIM-Signature by d=domain, s=sel. */
static char *
signed_message(const char *from, const char *domain, const char *body)
{
	char *m = message(from, body);
	struct dkim_sign s;
	struct buf b;
	char err[256];

	memset(&s, 0, sizeof(s));
	s.domain = domain;
	s.selector = "sel";
	s.key = key;
	s.hc = MAIL_CANON_RELAXED;
	s.bc = MAIL_CANON_RELAXED;
	buf_init(&b, 0);
	if (dkim_sign(&s, m, strlen(m), &b, err, sizeof(err)) != 0)
		fprintf(stderr, "# dkim_sign: %s\n", err);
	buf_adds(&b, m);
	free(m);
	return buf_steal(&b, NULL);
}

static const char *arc_trusted;

static void
run(struct resolver *res, const char *ip, const char *helo,
    const char *mail_from, const char *msg, unsigned timeout_ms,
    struct got *g)
{
	struct check_request q;

	memset(g, 0, sizeof(*g));
	memset(&q, 0, sizeof(q));
	q.ip = ip;
	q.helo = helo;
	q.mail_from = mail_from;
	q.receiver = "mx.example.test";
	q.authserv_id = "mx.example.test";
	q.msg = msg;
	q.len = strlen(msg);
	q.timeout_ms = timeout_ms;
	q.arc_trusted = arc_trusted;
	check_message(res, &q, done_cb, g);
	while (!g->done)
		event_base_loop(base, EVLOOP_ONCE);
}

static void
got_free(struct got *g)
{
	free(g->field);
	ar_free(&g->ar);
}

static const char *
ar_result_of(struct got *g, const char *method, size_t nth)
{
	for (size_t i = 0; i < g->ar.n; i++)
		if (strcmp(g->ar.res[i].method, method) == 0 && nth-- == 0)
			return g->ar.res[i].result;
	return NULL;
}

static void
test_pass(struct resolver *res)
{
	char *m = signed_message("example.org", "example.org", "Hello.\r\n");
	struct got g;

	run(res, "192.0.2.7", "mail.example.org", "alice@example.org", m, 0, &g);
	ok(g.parsed, "AR field parses: %s", g.field);
	is_str(ar_result_of(&g, "spf", 0), "pass", "spf=pass (mailfrom)");
	is_str(ar_result_of(&g, "spf", 1), "fail", "spf=fail (helo: not its A)");
	is_str(ar_result_of(&g, "dkim", 0), "pass", "dkim=pass");
	is_str(ar_result_of(&g, "dmarc", 0), "pass", "dmarc=pass");
	is_str(ar_result_of(&g, "arc", 0), "none", "arc=none");
	ok(!g.r.temporary, "not temporary");
	ok(strstr(g.field, "header.d=example.org header.s=sel header.b=") &&
	    strstr(g.field, "header.a=rsa-sha256"), "dkim properties");
	ok(strstr(g.field, "dmarc=pass (p=reject dis=none) "
	    "header.from=example.org") != NULL, "dmarc comment and from");
	ok(strstr(g.field, "smtp.mailfrom=alice@example.org") != NULL,
	    "smtp.mailfrom");
	is_int(g.r.dmarc_disposition, DMARC_P_NONE, "disposition none");
	got_free(&g);
	free(m);
}

static void
test_fail(struct resolver *res)
{
	char *m = signed_message("example.org", "example.org", "Hello.\r\n");
	char *p;
	struct got g;

	/* Altered body: DKIM fails; SPF fails: DMARC fails, p=reject. */
	p = strstr(m, "Hello.");
	p[0] = 'J';
	run(res, "203.0.113.9", "evil.example", "alice@example.org", m, 0, &g);
	ok(g.parsed, "AR field parses");
	is_str(ar_result_of(&g, "spf", 0), "fail", "spf=fail");
	is_str(ar_result_of(&g, "dkim", 0), "fail", "dkim=fail (altered body)");
	is_str(ar_result_of(&g, "dmarc", 0), "fail", "dmarc=fail");
	is_int(g.r.dmarc, DMARC_FAIL, "DMARC fail");
	is_int(g.r.dmarc_disposition, DMARC_P_REJECT, "disposition reject");
	ok(!g.r.temporary, "a verdict, not temporary");
	got_free(&g);
	free(m);

	/* Unsigned, SPF softfail, p=quarantine. */
	m = message("example.net", "Hi.\r\n");
	run(res, "203.0.113.9", "", "bob@example.net", m, 0, &g);
	is_str(ar_result_of(&g, "spf", 0), "softfail", "spf=softfail");
	is_str(ar_result_of(&g, "dkim", 0), "none", "dkim=none (unsigned)");
	is_int(g.r.dmarc_disposition, DMARC_P_QUARANTINE,
	    "disposition quarantine");
	ok(ar_result_of(&g, "spf", 1) == NULL, "no HELO result without HELO");
	got_free(&g);
	free(m);

	/* DKIM by another domain passes but does not align. */
	m = signed_message("example.org", "example.net", "Hi.\r\n");
	run(res, "203.0.113.9", "", "alice@example.org", m, 0, &g);
	is_str(ar_result_of(&g, "dkim", 0), "pass", "foreign signature passes");
	is_str(ar_result_of(&g, "dmarc", 0), "fail", "but DMARC fails");
	got_free(&g);
	free(m);

	/* SPF by the null path: HELO identity aligns. */
	m = message("mail.example.org", "Bounce.\r\n");
	run(res, "192.0.2.1", "mail.example.org", "", m, 0, &g);
	is_str(ar_result_of(&g, "spf", 0), "pass", "null path: postmaster@HELO");
	ok(strstr(g.field, "smtp.mailfrom=postmaster@mail.example.org") != NULL,
	    "smtp.mailfrom=postmaster@HELO");
	is_str(ar_result_of(&g, "dmarc", 0), "pass",
	    "DMARC passes through the HELO identity (relaxed)");
	got_free(&g);
	free(m);
}

static void
test_temporary(struct resolver *res)
{
	struct fake_dns *f = resolver_fake(res);
	char *m;
	struct got g;

	/* SPF temperror under p=reject, nothing else passes: 451. */
	m = message("temp.example", "x\r\n");
	run(res, "192.0.2.7", "", "a@temp.example", m, 0, &g);
	is_str(ar_result_of(&g, "spf", 0), "temperror", "spf=temperror");
	ok(g.r.temporary, "SPF SERVFAIL under p=reject: temporary (%s)",
	    g.r.temp_reason);
	got_free(&g);
	free(m);

	/* The same under p=none decides nothing. */
	m = message("tempnone.example", "x\r\n");
	run(res, "192.0.2.7", "", "a@tempnone.example", m, 0, &g);
	is_str(ar_result_of(&g, "spf", 0), "temperror", "spf=temperror");
	ok(!g.r.temporary, "under p=none: reported, not temporary");
	got_free(&g);
	free(m);

	/* DMARC record lookup fails. */
	m = message("dmarctemp.example", "x\r\n");
	run(res, "192.0.2.7", "", "a@dmarctemp.example", m, 0, &g);
	is_str(ar_result_of(&g, "dmarc", 0), "temperror", "dmarc=temperror");
	ok(g.r.temporary, "DMARC SERVFAIL: temporary");
	got_free(&g);
	free(m);

	/* DKIM key lookup fails, SPF fails, p=reject: temporary. */
	fake_dns_fail(f, "sel._domainkey.example.org", DNS_T_TXT, DNS_TEMPFAIL);
	m = signed_message("example.org", "example.org", "Hello.\r\n");
	run(res, "203.0.113.9", "", "alice@example.org", m, 0, &g);
	is_str(ar_result_of(&g, "dkim", 0), "temperror", "dkim=temperror");
	ok(g.r.temporary, "DKIM key SERVFAIL under p=reject: temporary");
	got_free(&g);
	/* ... but SPF passing and aligning decides: not temporary. */
	run(res, "192.0.2.7", "", "alice@example.org", m, 0, &g);
	is_str(ar_result_of(&g, "dmarc", 0), "pass", "DMARC passes by SPF");
	ok(!g.r.temporary, "the DKIM temperror decides nothing");
	got_free(&g);
	free(m);
}

/* A message failing DMARC p=reject, ARC-sealed by a forwarder. */
static void
test_arc(struct resolver *res)
{
	char *m = message("example.org", "Forwarded.\r\n");
	struct arc_seal as;
	struct buf b;
	char err[256];
	struct got g;

	memset(&as, 0, sizeof(as));
	as.domain = "example.net";
	as.selector = "sel";
	as.key = key;
	as.authserv_id = "lists.example.net";
	as.cv = ARC_NONE;
	buf_init(&b, 0);
	is_int(arc_seal(&as, m, strlen(m), &b, err, sizeof(err)), 0,
	    "sealed by example.net %s", err);
	buf_adds(&b, m);
	free(m);
	run(res, "203.0.113.9", "", "alice@example.org", b.data, 0, &g);
	is_str(ar_result_of(&g, "arc", 0), "pass", "arc=pass");
	is_str(ar_result_of(&g, "dmarc", 0), "fail", "dmarc=fail");
	ok(!g.r.trusted_arc, "example.net is not trusted by default");
	ok(strstr(g.field, "smtp.remote-ip=203.0.113.9") != NULL,
	    "arc result with smtp.remote-ip");
	got_free(&g);
	arc_trusted = "lists.example.com, example.net";
	run(res, "203.0.113.9", "", "alice@example.org", b.data, 0, &g);
	ok(g.r.trusted_arc, "a trusted sealer vouches");
	got_free(&g);
	arc_trusted = "example.com";
	run(res, "203.0.113.9", "", "alice@example.org", b.data, 0, &g);
	ok(!g.r.trusted_arc, "another sealer does not");
	got_free(&g);
	arc_trusted = NULL;
	/* Broken seal: the chain fails. */
	{
		char *p = strstr(b.data, "Forwarded.");
		p[0] = 'X';
	}
	run(res, "203.0.113.9", "", "alice@example.org", b.data, 0, &g);
	is_str(ar_result_of(&g, "arc", 0), "fail", "altered: arc=fail");
	got_free(&g);
	buf_free(&b);
}

/* A resolver that never answers (a DNS server that times out). */
static void silent_start(struct resolver *r, struct dns_query *q) { (void)r; (void)q; }
static void silent_cancel(struct resolver *r, struct dns_query *q) { (void)r; (void)q; }
static void silent_free(struct resolver *r) { (void)r; }

static void
test_timeout(void)
{
	static const struct resolver_ops ops = { silent_start, silent_cancel,
		silent_free };
	struct resolver *res = resolver_new_backend(base, &ops, NULL);
	char *m = signed_message("example.org", "example.org", "Hello.\r\n");
	struct got g;

	run(res, "192.0.2.7", "mail.example.org", "alice@example.org", m, 300,
	    &g);
	ok(g.r.temporary, "DNS never answers: temporary (%s)", g.r.temp_reason);
	ok(g.parsed, "the AR field still parses");
	is_str(ar_result_of(&g, "spf", 0), "temperror", "spf=temperror");
	is_str(ar_result_of(&g, "dkim", 0), "temperror", "dkim=temperror");
	got_free(&g);
	free(m);
	resolver_free(res);
}

int
main(void)
{
	struct resolver *res;
	struct buf rec, w;
	unsigned line = 0;

	base = event_base_new();
	key = EVP_RSA_gen(2048);
	res = resolver_fake_new(base);
	if (fake_dns_load(resolver_fake(res), zone, &line) != 0)
		printf("# zone line %u\n", line);
	buf_init(&rec, 0);
	dkim_key_record(key, &rec);
	/* TXT rdata: character-strings of at most 255 bytes. */
	buf_init(&w, 0);
	for (size_t i = 0; i < rec.len; i += 255) {
		size_t n = rec.len - i < 255 ? rec.len - i : 255;
		buf_addc(&w, (char)n);
		buf_add(&w, rec.data + i, n);
	}
	fake_dns_add_rdata(resolver_fake(res), "sel._domainkey.example.org",
	    DNS_T_TXT, w.data, w.len);
	fake_dns_add_rdata(resolver_fake(res), "sel._domainkey.example.net",
	    DNS_T_TXT, w.data, w.len);
	buf_free(&w);
	buf_free(&rec);

	test_pass(res);
	test_fail(res);
	test_temporary(res);
	test_arc(res);
	test_timeout();
	resolver_free(res);
	EVP_PKEY_free(key);
	event_base_free(base);
	return tap_done();
}
