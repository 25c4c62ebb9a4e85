/*
 * test_spf.c - SPF (RFC 7208) beyond the OpenSPF suite: the macro examples
 * of section 7.4, record syntax, the limits of 4.6.4 at their boundaries,
 * identities, IPv6 and v4-mapped clients, DNSSEC-bogus answers, that every
 * DNS question is asked once per check, and cancellation.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/spf.h"
#include "dns/fake.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"
#include "../tap.h"

static struct event_base *base;

static void
req_ip(struct spf_request *req, const char *ip)
{
	memset(&req->ip, 0, sizeof(req->ip));
	if (inet_pton(AF_INET, ip, &req->ip.v4) == 1)
		req->af = AF_INET;
	else if (inet_pton(AF_INET6, ip, &req->ip.v6) == 1)
		req->af = AF_INET6;
}

static void
expand_is(const struct spf_request *req, const char *domain, const char *in,
    bool explain, const char *want)
{
	struct buf b;
	int ret;

	buf_init(&b, 0);
	ret = spf_expand(req, domain, in, strlen(in), explain, &b);
	if (want == NULL)
		is_int(ret, PTT_EINVAL, "'%s' is a syntax error", in);
	else if (ret != 0)
		ok(0, "'%s' expands (got error %d)", in, ret);
	else
		is_str(b.data, want, "'%s'", in);
	buf_free(&b);
}

static void
test_macros(void)
{
	struct spf_request req;
	const char *d = "email.example.com";

	memset(&req, 0, sizeof(req));
	req_ip(&req, "192.0.2.3");
	req.mail_from = "strong-bad@email.example.com";
	req.helo = "mx.example.org";
	req.receiver = "mx.example.net";
	req.now = 1234567890;
	/* RFC 7208 7.4 */
	expand_is(&req, d, "%{s}", false, "strong-bad@email.example.com");
	expand_is(&req, d, "%{o}", false, "email.example.com");
	expand_is(&req, d, "%{d}", false, "email.example.com");
	expand_is(&req, d, "%{d4}", false, "email.example.com");
	expand_is(&req, d, "%{d3}", false, "email.example.com");
	expand_is(&req, d, "%{d2}", false, "example.com");
	expand_is(&req, d, "%{d1}", false, "com");
	expand_is(&req, d, "%{dr}", false, "com.example.email");
	expand_is(&req, d, "%{d2r}", false, "example.email");
	expand_is(&req, d, "%{l}", false, "strong-bad");
	expand_is(&req, d, "%{l-}", false, "strong.bad");
	expand_is(&req, d, "%{lr}", false, "strong-bad");
	expand_is(&req, d, "%{lr-}", false, "bad.strong");
	expand_is(&req, d, "%{l1r-}", false, "strong");
	expand_is(&req, d, "%{ir}.%{v}._spf.%{d2}", false,
	    "3.2.0.192.in-addr._spf.example.com");
	expand_is(&req, d, "%{lr-}.lp._spf.%{d2}", false,
	    "bad.strong.lp._spf.example.com");
	expand_is(&req, d, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", false,
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	expand_is(&req, d, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", false,
	    "3.2.0.192.in-addr.strong.lp._spf.example.com");
	expand_is(&req, d, "%{d2}.trusted-domains.example.net", false,
	    "example.com.trusted-domains.example.net");
	/* the rest of section 7 */
	expand_is(&req, d, "%{h}", false, "mx.example.org");
	expand_is(&req, d, "%{p}", false, "unknown");
	expand_is(&req, d, "%%%_%-", false, "% %20");
	expand_is(&req, d, "%{S}", false, "strong-bad%40email.example.com");
	expand_is(&req, d, "%{l+}", false, "strong-bad");
	expand_is(&req, d, "%{d100}", false, "email.example.com");
	expand_is(&req, d, "%{c} %{r} %{t}", true,
	    "192.0.2.3 mx.example.net 1234567890");
	expand_is(&req, d, "%{c}", false, NULL);
	expand_is(&req, d, "%{r}", false, NULL);
	expand_is(&req, d, "%{t}", false, NULL);
	expand_is(&req, d, "%{x}", false, NULL);
	expand_is(&req, d, "%{d0}", false, NULL);
	expand_is(&req, d, "%{d", false, NULL);
	expand_is(&req, d, "%", false, NULL);
	expand_is(&req, d, "%x", false, NULL);
	expand_is(&req, d, "a b", false, NULL);
	expand_is(&req, d, "a b", true, "a b");
	expand_is(&req, d, "%{d2r-.}", false, "example.email");
	req_ip(&req, "2001:db8::cb01");
	expand_is(&req, d, "%{ir}.%{v}._spf.%{d2}", false,
	    "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2"
	    ".ip6._spf.example.com");
	expand_is(&req, d, "%{c}", true, "2001:db8::cb01");
	req_ip(&req, "::ffff:192.0.2.3");
	expand_is(&req, d, "%{i} %{v}", true, "192.0.2.3 in-addr");
	req.mail_from = "";
	expand_is(&req, d, "%{s}", false, "postmaster@mx.example.org");
}

static void
check_syntax(const char *rec, bool valid)
{
	char err[160];
	int ret = spf_record_check(rec, strlen(rec), err, sizeof(err));

	if (valid)
		is_int(ret, 0, "valid: %s%s%s", rec, ret ? " -- " : "",
		    ret ? err : "");
	else
		ok(ret == PTT_EINVAL && err[0] != '\0', "invalid: %s (%s)", rec,
		    err);
}

static void
test_syntax(void)
{
	check_syntax("v=spf1", true);
	check_syntax("V=SPF1 -ALL", true);
	check_syntax("v=spf1 +a -mx ~ptr ?exists:%{i}.x.example "
	    "include:_spf.example.com ip4:192.0.2.0/24 ip6:2001:db8::/32 "
	    "a:example.com/24//64 mx/30 a//96 redirect=_spf.example.net "
	    "exp=exp.%{d} foo=bar%{d}", true);
	check_syntax("v=spf1 a:example.com/33", false);
	check_syntax("v=spf1 ip4:192.0.2.0/032", false);
	check_syntax("v=spf1 ip4:192.0.02.1", false);
	check_syntax("v=spf1 ip4:192.0.2", false);
	check_syntax("v=spf1 ip6:2001:db8::/129", false);
	check_syntax("v=spf1 ip6:192.0.2.1", false);
	check_syntax("v=spf1 a:1.2.3.4", false);
	check_syntax("v=spf1 a:example.-com", false);
	check_syntax("v=spf1 a:com", false);
	check_syntax("v=spf1 include:", false);
	check_syntax("v=spf1 include", false);
	check_syntax("v=spf1 exists:%{q}.example.com", false);
	check_syntax("v=spf1 all:foo", false);
	check_syntax("v=spf1 -all redirect=a.example redirect=b.example", false);
	check_syntax("v=spf1 exp=a.example exp=b.example", false);
	check_syntax("v=spf1 bogus", false);
	check_syntax("v=spf1 -all\tfoo", false);
	check_syntax("v=spf1 =foo", false);
	check_syntax("v=spf1 foo=%{", false);
	check_syntax("v=spf10 -all", false);
	check_syntax("v=spf1 mx:example.com.", true);
	check_syntax("v=spf1 a:%{d}", true);
	check_syntax("v=spf1 a:%{d}.", false);
	check_syntax("v=spf1 ptr:", false);
	check_syntax("", false);
}

struct got {
	bool done;
	enum spf_result result;
	char expl[256], mech[256], problem[256];
	unsigned terms, voids;
};

static void
done_cb(const struct spf_outcome *o, void *arg)
{
	struct got *g = arg;

	g->done = true;
	g->result = o->result;
	snprintf(g->expl, sizeof(g->expl), "%s", o->explanation ? o->explanation : "");
	snprintf(g->mech, sizeof(g->mech), "%s", o->mechanism ? o->mechanism : "");
	snprintf(g->problem, sizeof(g->problem), "%s", o->problem ? o->problem : "");
	g->terms = o->dns_terms;
	g->voids = o->void_lookups;
}

static struct got
check(struct resolver *r, const char *ip, const char *from, const char *helo,
    bool helo_id)
{
	struct spf_request req;
	struct got g;

	memset(&req, 0, sizeof(req));
	memset(&g, 0, sizeof(g));
	req_ip(&req, ip);
	req.mail_from = from;
	req.helo = helo;
	req.helo_identity = helo_id;
	req.receiver = "mx.example.net";
	spf_check(r, &req, done_cb, &g);
	while (!g.done)
		event_base_loop(base, EVLOOP_ONCE);
	return g;
}

/* A backend whose queries never complete, to cancel checks mid-flight. */
static int stuck_started, stuck_cancelled;
static void stuck_start(struct resolver *r, struct dns_query *q) { stuck_started++; }
static void stuck_cancel(struct resolver *r, struct dns_query *q) { stuck_cancelled++; }
static const struct resolver_ops stuck_ops = {
	.start = stuck_start, .cancel = stuck_cancel, .free = NULL,
};

static void
test_cancel_in_flight(void)
{
	struct resolver *r = resolver_new_backend(base, &stuck_ops, NULL);
	struct spf_request req;
	struct got c;
	struct spf_check *sc;

	memset(&req, 0, sizeof(req));
	memset(&c, 0, sizeof(c));
	req_ip(&req, "192.0.2.1");
	req.mail_from = "a@example.com";
	sc = spf_check(r, &req, done_cb, &c);
	event_base_loop(base, EVLOOP_NONBLOCK);
	is_int(stuck_started, 1, "the check asked its first question");
	spf_check_cancel(sc);
	is_int(stuck_cancelled, 1, "cancelling the check cancels its query");
	event_base_loop(base, EVLOOP_NONBLOCK);
	ok(!c.done, "no callback after cancel");

	/* The whole check's time limit. */
	memset(&c, 0, sizeof(c));
	req.timeout_ms = 50;
	spf_check(r, &req, done_cb, &c);
	while (!c.done)
		event_base_loop(base, EVLOOP_ONCE);
	ok(c.result == SPF_TEMPERROR && strstr(c.problem, "too long") != NULL,
	    "a check past its time limit: temperror (%s)", c.problem);
	is_int(stuck_cancelled, 2, "its query was cancelled");
	resolver_free(r);
}

static void
test_eval(void)
{
	struct resolver *r = resolver_fake_new(base);
	struct fake_dns *f = resolver_fake(r);
	struct buf zone;
	struct got g;

	buf_init(&zone, 0);
	/* include chains: inc0 includes inc1 ... incN ends in +all */
	for (int i = 0; i < 12; i++)
		buf_addf(&zone, "inc%d.example TXT \"v=spf1 include:inc%d.example\"\n",
		    i, i + 1);
	buf_addf(&zone, "inc12.example TXT \"v=spf1 +all\"\n");
	/* void lookups */
	buf_addf(&zone, "void2.example TXT \"v=spf1 a:n1.example a:n2.example ip4:192.0.2.1 -all\"\n");
	buf_addf(&zone, "void3.example TXT \"v=spf1 a:n1.example a:n2.example a:n3.example ip4:192.0.2.1 -all\"\n");
	/* MX limits */
	buf_addf(&zone, "mx10.example TXT \"v=spf1 mx -all\"\n");
	buf_addf(&zone, "mx11.example TXT \"v=spf1 mx -all\"\n");
	for (int i = 0; i < 11; i++) {
		if (i < 10)
			buf_addf(&zone, "mx10.example MX %d m%d.example.\n", i, i);
		buf_addf(&zone, "mx11.example MX %d m%d.example.\n", i, i);
		buf_addf(&zone, "m%d.example A 192.0.2.%d\n", i, 100 + i);
	}
	buf_addf(&zone,
	    "helo.example TXT \"v=spf1 a -all\"\n"
	    "helo.example A 192.0.2.50\n"
	    "from.example TXT \"v=spf1 -all exp=why.from.example\"\n"
	    "why.from.example TXT \"%%{l} from %%{c} is not allowed by %%{d} (%%{r})\"\n"
	    "v6.example TXT \"v=spf1 ip6:2001:db8::/32 ip4:192.0.2.0/24 -all\"\n"
	    "ptr.example TXT \"v=spf1 ptr -all\"\n"
	    "3.2.0.192.in-addr.arpa PTR mail.ptr.example.\n"
	    "3.2.0.192.in-addr.arpa PTR liar.other.example.\n"
	    "mail.ptr.example A 192.0.2.3\n"
	    "liar.other.example A 192.0.2.99\n"
	    "pmacro.example TXT \"v=spf1 exists:%%{p}.ok.pmacro.example -all\"\n"
	    "mail.ptr.example.ok.pmacro.example A 127.0.0.2\n"
	    "tmp.example TXT \"v=spf1 a:down.example -all\"\n"
	    "down.example * !tempfail\n"
	    "bogus.example TXT !bogus\n"
	    "bogusa.example TXT \"v=spf1 a:bogus.example -all\"\n"
	    "bogus.example A !bogus\n"
	    "once.example TXT \"v=spf1 a a mx mx include:once2.example -all\"\n"
	    "once.example A 192.0.2.200\n"
	    "once2.example TXT \"v=spf1 a:once.example ~all\"\n"
	    "redir.example TXT \"v=spf1 redirect=from.example exp=never.example\"\n"
	    "never.example TXT \"wrong explanation\"\n");
	is_int(fake_dns_load(f, zone.data, NULL), 0, "zone loads");
	buf_free(&zone);

	g = check(r, "192.0.2.1", "a@inc3.example", "h", false);
	ok(g.result == SPF_PASS && g.terms == 9, "9 includes + all: pass (%u terms)",
	    g.terms);
	g = check(r, "192.0.2.1", "a@inc2.example", "h", false);
	ok(g.result == SPF_PASS && g.terms == 10, "10 DNS terms: pass");
	g = check(r, "192.0.2.1", "a@inc1.example", "h", false);
	ok(g.result == SPF_PERMERROR, "11 DNS terms: permerror (%s)", g.problem);
	g = check(r, "192.0.2.1", "a@void2.example", "h", false);
	ok(g.result == SPF_PASS && g.voids == 2, "2 void lookups: allowed");
	g = check(r, "192.0.2.1", "a@void3.example", "h", false);
	ok(g.result == SPF_PERMERROR, "3 void lookups: permerror (%s)", g.problem);
	g = check(r, "192.0.2.109", "a@mx10.example", "h", false);
	is_int(g.result, SPF_PASS, "10 MX names: evaluated");
	g = check(r, "192.0.2.1", "a@mx11.example", "h", false);
	ok(g.result == SPF_PERMERROR, "11 MX names: permerror (%s)", g.problem);

	g = check(r, "192.0.2.50", "", "helo.example", false);
	ok(g.result == SPF_PASS, "null MAIL FROM: postmaster@HELO checked");
	g = check(r, "192.0.2.51", "someone@from.example", "helo.example", true);
	ok(g.result == SPF_FAIL, "HELO identity checked, not MAIL FROM");
	g = check(r, "192.0.2.51", "joe@from.example", "helo.example", false);
	ok(g.result == SPF_FAIL && strcmp(g.expl,
	    "joe from 192.0.2.51 is not allowed by from.example (mx.example.net)") == 0,
	    "exp= explanation with l, c, d, r: %s", g.expl);
	is_str(g.mech, "-all", "the deciding mechanism is reported");
	g = check(r, "192.0.2.51", "joe@redir.example", "h", false);
	ok(g.result == SPF_FAIL && strcmp(g.expl,
	    "joe from 192.0.2.51 is not allowed by from.example (mx.example.net)") == 0,
	    "redirect: the target's exp=, not the original's");

	g = check(r, "2001:db8::5", "a@v6.example", "h", false);
	is_int(g.result, SPF_PASS, "IPv6 client in ip6 network");
	g = check(r, "2001:db9::5", "a@v6.example", "h", false);
	is_int(g.result, SPF_FAIL, "IPv6 client outside");
	g = check(r, "::ffff:192.0.2.9", "a@v6.example", "h", false);
	is_int(g.result, SPF_PASS, "v4-mapped client is matched as IPv4");

	g = check(r, "192.0.2.3", "a@ptr.example", "h", false);
	is_int(g.result, SPF_PASS, "ptr: validated name in the domain");
	g = check(r, "192.0.2.4", "a@ptr.example", "h", false);
	is_int(g.result, SPF_FAIL, "ptr: no validated name");
	g = check(r, "192.0.2.3", "a@pmacro.example", "h", false);
	is_int(g.result, SPF_PASS, "%%{p} expands to the validated name");

	g = check(r, "192.0.2.1", "a@tmp.example", "h", false);
	is_int(g.result, SPF_TEMPERROR, "timeout in a mechanism: temperror");
	g = check(r, "192.0.2.1", "a@bogus.example", "h", false);
	is_int(g.result, SPF_TEMPERROR, "bogus record: temperror, never data");
	g = check(r, "192.0.2.1", "a@bogusa.example", "h", false);
	is_int(g.result, SPF_TEMPERROR, "bogus A in a mechanism: temperror");
	g = check(r, "192.0.2.1", "a@nothing.example", "h", false);
	is_int(g.result, SPF_NONE, "no record: none");
	g = check(r, "192.0.2.1", "a@[192.0.2.1]", "h", false);
	is_int(g.result, SPF_NONE, "domain literal: none");

	fake_dns_clear(f);
	fake_dns_load(f,
	    "once.example TXT \"v=spf1 a a mx mx include:once2.example -all\"\n"
	    "once.example A 192.0.2.200\n"
	    "once2.example TXT \"v=spf1 a:once.example ~all\"\n", NULL);
	g = check(r, "192.0.2.1", "a@once.example", "h", false);
	is_int(g.result, SPF_FAIL, "repeated terms evaluate");
	is_int(fake_dns_count(f, "once.example", DNS_T_A), 1,
	    "each DNS question is asked once per check");
	is_int(fake_dns_count(f, NULL, 0), 4, "four distinct questions in all");

	/* Cancel before the first step: no callback. */
	{
		struct spf_request req;
		struct got c;
		struct spf_check *sc;

		memset(&req, 0, sizeof(req));
		memset(&c, 0, sizeof(c));
		req_ip(&req, "192.0.2.1");
		req.mail_from = "a@once.example";
		sc = spf_check(r, &req, done_cb, &c);
		ok(!c.done, "no callback from inside spf_check()");
		spf_check_cancel(sc);
		event_base_loop(base, EVLOOP_NONBLOCK);
		ok(!c.done, "cancelled check never calls back");
	}
	is_str(spf_result_str(SPF_SOFTFAIL), "softfail", "result names");
	is_str(spf_result_str(SPF_TEMPERROR), "temperror", "temperror name");
	resolver_free(r);
}

int
main(void)
{
	base = event_base_new();
	test_macros();
	test_syntax();
	test_eval();
	test_cancel_in_flight();
	event_base_free(base);
	return tap_done();
}
