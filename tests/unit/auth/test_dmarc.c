/*
 * test_dmarc.c - DMARC (RFC 7489): record parsing, organizational domains,
 * alignment, discovery and verdicts through the fake DNS, and agreement
 * with Mail::DMARC on the generated cases of dmarc-cases.txt (made by
 * dmarc_cases_gen.pl from Mail::DMARC::PurePerl's own verdicts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/dmarc.h"
#include "dns/fake.h"
#include "util/err.h"
#include "util/mem.h"
#include "../tap.h"

static struct event_base *base;

struct got {
	bool done;
	struct dmarc_outcome o;
	char problem[128];
};

static void
done_cb(const struct dmarc_outcome *o, void *arg)
{
	struct got *g = arg;

	g->done = true;
	g->o = *o;
	g->o.record = NULL;	/* valid only during the callback */
	g->o.from_domain = g->o.org_domain = g->o.record_domain = NULL;
	snprintf(g->problem, sizeof(g->problem), "%s",
	    o->problem ? o->problem : "");
	g->o.problem = g->problem;
}

static unsigned fixed_rand;
static unsigned
rand_fixed(void *arg)
{
	(void)arg;
	return fixed_rand;
}

static struct got
run(struct resolver *r, const char *from, bool spf_pass, const char *spf_dom,
    const char *const *dkim, size_t ndkim)
{
	struct dmarc_request req = {
		.from_domain = from, .spf_pass = spf_pass,
		.spf_domain = spf_dom, .dkim_pass = dkim, .ndkim_pass = ndkim,
		.rand100 = rand_fixed,
	};
	struct got g;

	memset(&g, 0, sizeof(g));
	dmarc_check(r, &req, done_cb, &g);
	while (!g.done)
		event_base_loop(base, EVLOOP_ONCE);
	return g;
}

static void
test_parse(void)
{
	struct dmarc_record rec;
	char err[96];
	const char *s;

	s = "v=DMARC1; p=reject";
	is_int(dmarc_record_parse(s, strlen(s), &rec, err, sizeof(err)), 0,
	    "minimal record parses");
	ok(rec.p_valid && rec.p == DMARC_P_REJECT && rec.sp == DMARC_P_REJECT,
	    "p=reject, sp defaults to p");
	ok(rec.pct == 100 && !rec.adkim_strict && !rec.aspf_strict &&
	    rec.ri == 86400 && rec.fo == DMARC_FO_0 && rec.rf_afrf,
	    "defaults: pct 100, relaxed, ri 86400, fo 0, rf afrf");
	dmarc_record_free(&rec);

	s = "v=DMARC1 ;p=Quarantine; sp=none;pct=25 ;adkim=s;aspf=S; "
	    "fo=1:d:s; rf=afrf; ri=3600; rua=mailto:a@example.com!10m, "
	    "mailto:b@example.com; ruf=mailto:f@example.com!512;";
	is_int(dmarc_record_parse(s, strlen(s), &rec, err, sizeof(err)), 0,
	    "full record parses");
	ok(rec.p == DMARC_P_QUARANTINE && rec.sp_present &&
	    rec.sp == DMARC_P_NONE, "p and sp (case-insensitive)");
	ok(rec.pct == 25 && rec.pct_present && rec.adkim_strict &&
	    rec.aspf_strict, "pct, adkim, aspf");
	is_int(rec.fo, DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S, "fo=1:d:s");
	is_int(rec.ri, 3600, "ri");
	is_int(rec.nrua, 2, "two rua URIs");
	if (rec.nrua == 2) {
		is_str(rec.rua[0].uri, "mailto:a@example.com", "rua[0]");
		is_int(rec.rua[0].max_bytes, 10u << 20, "rua[0] !10m");
		is_int(rec.rua[1].max_bytes, 0, "rua[1] no limit");
	}
	is_int(rec.nruf, 1, "one ruf");
	if (rec.nruf == 1)
		is_int(rec.ruf[0].max_bytes, 512, "ruf !512");
	is_int(rec.bad_tags, 0, "no bad tags");
	dmarc_record_free(&rec);

	s = "v=DMARC1; p=reject; pct=101; adkim=x; fo=2; rf=iodef; ri=-1; "
	    "rua=notauri; x=y; junk";
	is_int(dmarc_record_parse(s, strlen(s), &rec, err, sizeof(err)), 0,
	    "invalid values are ignored, not fatal (6.3)");
	ok(rec.pct == 100 && !rec.adkim_strict && rec.nrua == 0,
	    "invalid values fall back to defaults");
	is_int(rec.bad_tags, 7, "seven bad tags counted");
	dmarc_record_free(&rec);

	s = "v=DMARC1; p=bogus; rua=mailto:x@example.com";
	dmarc_record_parse(s, strlen(s), &rec, NULL, 0);
	ok(!rec.p_valid && rec.nrua == 1, "invalid p noted, rua kept");
	dmarc_record_free(&rec);
	s = "v=DMARC1; p=none; sp=everything";
	dmarc_record_parse(s, strlen(s), &rec, NULL, 0);
	ok(rec.p_valid && rec.sp_present && !rec.sp_valid, "invalid sp noted");
	dmarc_record_free(&rec);

	ok(dmarc_is_record("v=DMARC1", 8), "bare v=DMARC1 is a record");
	ok(dmarc_is_record("V = dmarc1 ;p=none", 18), "case and spaces");
	ok(!dmarc_is_record("v=DMARC2; p=none", 16), "DMARC2 is not");
	ok(!dmarc_is_record("v=DMARC10; p=none", 17), "DMARC10 is not");
	ok(!dmarc_is_record("p=none; v=DMARC1", 16), "v must come first");
	ok(!dmarc_is_record("", 0), "empty is not");
	is_int(dmarc_record_parse("v=spf1 -all", 11, &rec, err, sizeof(err)),
	    PTT_EINVAL, "an SPF record is not DMARC");
	s = "v=DMARC1; p=none\x01";
	is_int(dmarc_record_parse(s, strlen(s), &rec, err, sizeof(err)),
	    PTT_EINVAL, "control characters are refused");
}

static void
test_org(void)
{
	char out[256];

	dmarc_org_domain("mail.example.com", out, sizeof(out));
	is_str(out, "example.com", "org of mail.example.com");
	dmarc_org_domain("A.B.Example.CO.UK.", out, sizeof(out));
	is_str(out, "example.co.uk", "org of a.b.example.co.uk (case, dot)");
	dmarc_org_domain("co.uk", out, sizeof(out));
	is_str(out, "co.uk", "a public suffix is its own org domain");
	dmarc_org_domain("localhost", out, sizeof(out));
	is_str(out, "localhost", "a single label is its own org domain");
	is_int(dmarc_org_domain("a..b", out, sizeof(out)), PTT_EINVAL,
	    "malformed domain refused");
	ok(dmarc_aligned("mail.example.com", "example.com", false),
	    "relaxed: subdomain aligns");
	ok(!dmarc_aligned("mail.example.com", "example.com", true),
	    "strict: subdomain does not");
	ok(dmarc_aligned("EXAMPLE.com", "example.COM.", true),
	    "strict: case and trailing dot");
	ok(!dmarc_aligned("example.org", "example.com", false),
	    "other org does not align");
	ok(!dmarc_aligned("a.co.uk", "b.co.uk", false),
	    "different registrable domains under co.uk");
	ok(!dmarc_aligned("", "", false), "empty never aligns");
}

static void
test_discovery(void)
{
	struct resolver *r = resolver_fake_new(base);
	struct fake_dns *f = resolver_fake(r);
	const char *d_org[] = { "example.com" };
	const char *d_other[] = { "example.net" };
	struct got g;

	fake_dns_load(f,
	    "_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine; pct=50\"\n"
	    "_dmarc.own.example.com TXT \"v=DMARC1; p=none\"\n"
	    "_dmarc.two.example TXT \"v=DMARC1; p=none\"\n"
	    "_dmarc.two.example TXT \"v=DMARC1; p=reject\"\n"
	    "_dmarc.tmp.example * !tempfail\n"
	    "_dmarc.bogus.example TXT !bogus\n"
	    "_dmarc.mix.example TXT \"v=spf1 -all\"\n"
	    "_dmarc.mix.example TXT \"v=DMARC1; p=quarantine\"\n"
	    "_dmarc.rua.example TXT \"v=DMARC1; p=bogus; rua=mailto:d@rua.example\"\n"
	    "_dmarc.norua.example TXT \"v=DMARC1; p=bogus; rua=nonsense\"\n"
	    "_dmarc.sprua.example TXT \"v=DMARC1; p=reject; sp=x; rua=mailto:d@sprua.example\"\n"
	    "_dmarc.onlyrua.example TXT \"v=DMARC1; rua=mailto:d@onlyrua.example\"\n", NULL);

	fixed_rand = 0;
	g = run(r, "example.com", false, "example.net", NULL, 0);
	ok(g.o.result == DMARC_FAIL && g.o.policy == DMARC_P_REJECT &&
	    g.o.disposition == DMARC_P_REJECT, "fail, p=reject, sampled in");
	fixed_rand = 49;
	g = run(r, "example.com", false, NULL, NULL, 0);
	ok(g.o.disposition == DMARC_P_REJECT && !g.o.sampled_out,
	    "pct=50: rand 49 applies the policy");
	fixed_rand = 50;
	g = run(r, "example.com", false, NULL, NULL, 0);
	ok(g.o.disposition == DMARC_P_QUARANTINE && g.o.sampled_out,
	    "pct=50: rand 50 downgrades reject to quarantine");
	fixed_rand = 0;
	g = run(r, "mail.example.com", false, NULL, NULL, 0);
	ok(g.o.result == DMARC_FAIL && g.o.policy == DMARC_P_QUARANTINE,
	    "subdomain without a record: sp= of the org record");
	is_int(fake_dns_count(f, "_dmarc.mail.example.com", DNS_T_TXT), 1,
	    "the From domain was asked first");
	g = run(r, "own.example.com", false, NULL, NULL, 0);
	ok(g.o.result == DMARC_FAIL && g.o.policy == DMARC_P_NONE &&
	    g.o.disposition == DMARC_P_NONE, "subdomain with its own record: its p=");
	g = run(r, "mail.example.com", true, "bounce.example.com", NULL, 0);
	ok(g.o.result == DMARC_PASS && g.o.spf_aligned && !g.o.dkim_aligned &&
	    g.o.disposition == DMARC_P_NONE, "relaxed SPF alignment passes");
	g = run(r, "mail.example.com", false, NULL, d_org, 1);
	ok(g.o.result == DMARC_PASS && g.o.dkim_aligned, "relaxed DKIM alignment passes");
	g = run(r, "mail.example.com", true, "example.net", d_other, 1);
	ok(g.o.result == DMARC_FAIL, "unaligned passes do not count");
	g = run(r, "nothing.example", true, "nothing.example", NULL, 0);
	is_int(g.o.result, DMARC_NONE, "no record: none");
	g = run(r, "two.example", true, "two.example", NULL, 0);
	is_int(g.o.result, DMARC_PERMERROR, "two records: permerror");
	g = run(r, "tmp.example", true, "tmp.example", NULL, 0);
	is_int(g.o.result, DMARC_TEMPERROR, "SERVFAIL/timeout: temperror");
	g = run(r, "bogus.example", true, "bogus.example", NULL, 0);
	is_int(g.o.result, DMARC_TEMPERROR, "DNSSEC bogus: temperror, never data");
	g = run(r, "mix.example", false, NULL, NULL, 0);
	ok(g.o.result == DMARC_FAIL && g.o.policy == DMARC_P_QUARANTINE,
	    "non-DMARC TXT records are discarded");
	g = run(r, "rua.example", false, NULL, NULL, 0);
	ok(g.o.result == DMARC_FAIL && g.o.policy == DMARC_P_NONE,
	    "6.6.3: invalid p= with a valid rua= acts as p=none");
	g = run(r, "norua.example", false, NULL, NULL, 0);
	is_int(g.o.result, DMARC_PERMERROR,
	    "6.6.3: invalid p= and no valid rua=: no DMARC processing");
	g = run(r, "x.sprua.example", false, NULL, NULL, 0);
	ok(g.o.result == DMARC_FAIL && g.o.policy == DMARC_P_NONE &&
	    g.o.disposition == DMARC_P_NONE,
	    "6.6.3: invalid sp= with a valid rua= acts as p=none");
	g = run(r, "onlyrua.example", false, NULL, NULL, 0);
	ok(g.o.result == DMARC_FAIL && g.o.policy == DMARC_P_NONE,
	    "6.6.3: no p= with a valid rua= acts as p=none");
	g = run(r, "a..b", true, "a..b", NULL, 0);
	is_int(g.o.result, DMARC_NONE, "malformed From domain: none");
	resolver_free(r);
}

static char *
field(char **p)
{
	char *s = *p, *t;

	if (s == NULL)
		return (char *)"";
	t = strchr(s, '\t');
	if (t) {
		*t = '\0';
		*p = t + 1;
	} else {
		*p = NULL;
	}
	return s;
}

/* Compare with Mail::DMARC's verdicts. Its "fail" without a usable policy
 * (several records; no valid p= and no valid rua=; nothing published) is
 * ptt's permerror: RFC 7489 6.6.3 applies no DMARC processing. */
static void
test_cases(const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[2048], from[256] = "", spfres[16] = "", spfdom[256] = "";
	char dkim[1024] = "";
	struct resolver *r = NULL;
	int n = 0, agree = 0;

	if (fp == NULL) {
		ok(0, "cannot open %s", path);
		return;
	}
	fixed_rand = 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *p = line, *kind;

		line[strcspn(line, "\n")] = '\0';
		kind = field(&p);
		if (strcmp(kind, "case") == 0) {
			field(&p);
			snprintf(from, sizeof(from), "%s", field(&p));
			snprintf(spfres, sizeof(spfres), "%s", field(&p));
			snprintf(spfdom, sizeof(spfdom), "%s", field(&p));
			snprintf(dkim, sizeof(dkim), "%s", field(&p));
			resolver_free(r);
			r = resolver_fake_new(base);
		} else if (strcmp(kind, "zone") == 0) {
			if (fake_dns_load(resolver_fake(r), p, NULL) != 0)
				printf("# bad zone line %s\n", p);
		} else if (strcmp(kind, "want") == 0) {
			const char *wres = field(&p), *wdisp = field(&p);
			const char *why = field(&p), *want;
			const char *published = field(&p);
			const char *d[8];
			size_t nd = 0;
			char *dk = dkim, *tok;
			struct got g;
			bool same;

			while (strcmp(dkim, "-") != 0 && nd < 8 &&
			    (tok = strsep(&dk, ",")) != NULL)
				d[nd++] = tok;
			g = run(r, from, strcmp(spfres, "pass") == 0, spfdom,
			    d, nd);
			want = wres;
			if (strcmp(wres, "fail") == 0 &&
			    (strcmp(published, "unpublished") == 0 ||
			    strcmp(why, "too many policies") == 0 ||
			    strcmp(why, "no valid rua") == 0))
				want = "permerror";
			same = strcmp(want, dmarc_result_str(g.o.result)) == 0 &&
			    strcmp(wdisp, dmarc_policy_str(g.o.disposition)) == 0;
			n++;
			agree += same;
			if (!ok(same, "case %d: From %s: %s/%s", n, from,
			    dmarc_result_str(g.o.result),
			    dmarc_policy_str(g.o.disposition)))
				printf("#   Mail::DMARC: %s/%s (%s); ptt: %s\n",
				    wres, wdisp, why, g.problem);
		}
	}
	fclose(fp);
	resolver_free(r);
	printf("# Mail::DMARC agreement: %d of %d cases\n", agree, n);
	ok(n >= 300, "%d generated cases compared", n);
}

int
main(int argc, char **argv)
{
	base = event_base_new();
	test_parse();
	test_org();
	test_discovery();
	test_cases(argc > 1 ? argv[1] : "dmarc-cases.txt");
	event_base_free(base);
	return tap_done();
}
