/*
 * dmarc.c - DMARC (RFC 7489): records, discovery, alignment, verdicts.
 *
 * Sections: 3.1 identifier alignment, 3.2 organizational domain (Public
 * Suffix List through libpsl), 6.3 general record format and 6.4 ABNF,
 * 6.6.2 determining the handling policy, 6.6.3 policy discovery (the From
 * domain, then the organizational domain; several records or no usable p=
 * without a usable rua= mean no DMARC processing), 6.6.4 message sampling.
 *
 * Trust: TXT records come from the network and are parsed with a
 * bounds-checked cursor; invalid values are counted and ignored (6.3), the
 * URIs are checked for URI syntax only (reports are not sent here). DNS
 * failures during discovery give temperror, never a verdict.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpsl.h>

#include "auth/dmarc.h"
#include "util/cursor.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_URIS 16

const char *
dmarc_result_str(enum dmarc_result r)
{
	switch (r) {
	case DMARC_NONE: return "none";
	case DMARC_PASS: return "pass";
	case DMARC_FAIL: return "fail";
	case DMARC_TEMPERROR: return "temperror";
	case DMARC_PERMERROR: return "permerror";
	}
	return "?";
}

const char *
dmarc_policy_str(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_P_NONE: return "none";
	case DMARC_P_QUARANTINE: return "quarantine";
	case DMARC_P_REJECT: return "reject";
	}
	return "?";
}

/* ---- records -------------------------------------------------------- */

static bool
eq_ci(const uint8_t *p, size_t n, const char *s)
{
	return strlen(s) == n && strncasecmp((const char *)p, s, n) == 0;
}

static bool
parse_policy(const uint8_t *v, size_t n, enum dmarc_policy *p)
{
	if (eq_ci(v, n, "none"))
		*p = DMARC_P_NONE;
	else if (eq_ci(v, n, "quarantine"))
		*p = DMARC_P_QUARANTINE;
	else if (eq_ci(v, n, "reject"))
		*p = DMARC_P_REJECT;
	else
		return false;
	return true;
}

static bool
parse_number(const uint8_t *v, size_t n, uint64_t max, uint64_t *out)
{
	struct cur c;

	cur_init(&c, v, n);
	*out = cur_uint(&c, max);
	return c.err == 0 && cur_eof(&c);
}

static bool
ch_scheme(uint8_t c)
{
	return ch_alnum(c) || c == '+' || c == '-' || c == '.';
}

/* URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] (6.4), URI syntax checked
 * loosely: scheme ":" 1*(VCHAR except "!" and ","). */
static bool
parse_uri(const uint8_t *v, size_t n, struct dmarc_uri *u)
{
	struct cur c;
	const uint8_t *start = v, *bang;
	size_t ulen;
	uint64_t size = 0;

	while (n > 0 && ch_wsp(v[0])) {
		v++;
		n--;
	}
	while (n > 0 && ch_wsp(v[n - 1]))
		n--;
	start = v;
	bang = memchr(v, '!', n);
	ulen = bang ? (size_t)(bang - v) : n;
	cur_init(&c, v, ulen);
	if (!ch_alpha((uint8_t)cur_peek(&c)))
		return false;
	cur_span(&c, ch_scheme);
	if (!cur_expect(&c, ':') || cur_eof(&c))
		return false;
	while (!cur_eof(&c)) {
		uint8_t ch = cur_getc(&c);

		if (!ch_vchar(ch) || ch == ',' || ch == ';')
			return false;
	}
	if (bang) {
		const uint8_t *s = bang + 1;
		size_t sl = n - ulen - 1;
		uint64_t mult = 1;

		if (sl > 0) {
			switch (tolower(s[sl - 1])) {
			case 'k': mult = 1ull << 10; sl--; break;
			case 'm': mult = 1ull << 20; sl--; break;
			case 'g': mult = 1ull << 30; sl--; break;
			case 't': mult = 1ull << 40; sl--; break;
			default: break;
			}
		}
		if (sl == 0 || !parse_number(s, sl, UINT64_MAX >> 41, &size))
			return false;
		size *= mult;
	}
	u->uri = xstrndup((const char *)start, ulen);
	u->max_bytes = size;
	return true;
}

/* A comma-separated list of URIs; invalid ones are skipped. Returns
 * false when none is valid. */
static bool
parse_uris(const uint8_t *v, size_t n, struct dmarc_uri **out, size_t *nout)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		struct dmarc_uri u;

		if (i < n && v[i] != ',')
			continue;
		if (*nout < MAX_URIS && parse_uri(v + start, i - start, &u)) {
			*out = xreallocarray(*out, *nout + 1, sizeof(**out));
			(*out)[(*nout)++] = u;
		}
		start = i + 1;
	}
	return *nout > 0;
}

static bool
parse_fo(const uint8_t *v, size_t n, unsigned *fo)
{
	unsigned bits = 0;

	for (size_t i = 0; i < n; i++) {
		if (i % 2 == 1) {
			if (v[i] != ':')
				return false;
			continue;
		}
		switch (tolower(v[i])) {
		case '0': bits |= DMARC_FO_0; break;
		case '1': bits |= DMARC_FO_1; break;
		case 'd': bits |= DMARC_FO_D; break;
		case 's': bits |= DMARC_FO_S; break;
		default: return false;
		}
	}
	if (n == 0 || n % 2 == 0)
		return false;
	*fo = bits;
	return true;
}

static bool
ch_tagname(uint8_t c)
{
	return ch_alnum(c) || c == '_';
}

bool
dmarc_is_record(const char *txt, size_t len)
{
	struct cur c;

	cur_init(&c, txt, len);
	if (!cur_match_ci(&c, "v"))
		return false;
	cur_skip_ws(&c);
	if (!cur_accept(&c, '='))
		return false;
	cur_skip_ws(&c);
	if (!cur_match_ci(&c, "DMARC1"))
		return false;
	cur_skip_ws(&c);
	return cur_eof(&c) || cur_peek(&c) == ';';
}

void
dmarc_record_free(struct dmarc_record *rec)
{
	for (size_t i = 0; i < rec->nrua; i++)
		free(rec->rua[i].uri);
	for (size_t i = 0; i < rec->nruf; i++)
		free(rec->ruf[i].uri);
	free(rec->rua);
	free(rec->ruf);
	memset(rec, 0, sizeof(*rec));
}

int
dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *rec,
    char *err, size_t errlen)
{
	struct cur c;
	bool first = true, seen_p = false, seen_sp = false;
	unsigned seen = 0;
	enum { S_ADKIM = 1, S_ASPF = 2, S_PCT = 4, S_FO = 8, S_RF = 16,
	    S_RI = 32, S_RUA = 64, S_RUF = 128 };
	char dummy[8];

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	memset(rec, 0, sizeof(*rec));
	rec->pct = 100;
	rec->fo = DMARC_FO_0;
	rec->rf_afrf = true;
	rec->ri = 86400;
	if (!dmarc_is_record(txt, len)) {
		snprintf(err, errlen, "not a v=DMARC1 record");
		return PTT_EINVAL;
	}
	cur_init(&c, txt, len);
	while (!cur_eof(&c)) {
		const uint8_t *name, *val;
		size_t nlen, vlen;
		uint64_t num;

		cur_skip_ws(&c);
		if (cur_accept(&c, ';'))
			continue;		/* empty tag-spec */
		if (cur_eof(&c))
			break;
		name = c.p;
		nlen = cur_span(&c, ch_tagname);
		cur_skip_ws(&c);
		if (nlen == 0 || !cur_accept(&c, '=')) {
			/* a malformed tag-spec: skip to the next ';' */
			rec->bad_tags++;
			while (!cur_eof(&c) && cur_peek(&c) != ';')
				cur_getc(&c);
			first = false;
			continue;
		}
		cur_skip_ws(&c);
		val = c.p;
		while (!cur_eof(&c) && cur_peek(&c) != ';')
			cur_getc(&c);
		vlen = (size_t)(c.p - val);
		while (vlen > 0 && ch_wsp(val[vlen - 1]))
			vlen--;
		for (size_t i = 0; i < vlen; i++) {
			if (val[i] < 0x20 && val[i] != '\t') {
				snprintf(err, errlen, "control character in "
				    "a tag value");
				dmarc_record_free(rec);
				return PTT_EINVAL;
			}
		}
		if (first) {
			first = false;	/* v=DMARC1, checked above */
			continue;
		}
#define TAG(s) (nlen == sizeof(s) - 1 && strncasecmp((const char *)name, s, nlen) == 0)
#define ONCE(bit) ((seen & (bit)) ? false : (seen |= (bit), true))
		if (TAG("p")) {
			if (!seen_p) {
				seen_p = true;
				rec->p_valid = parse_policy(val, vlen, &rec->p);
			}
		} else if (TAG("sp")) {
			if (!seen_sp) {
				seen_sp = true;
				rec->sp_present = true;
				rec->sp_valid = parse_policy(val, vlen,
				    &rec->sp);
			}
		} else if (TAG("adkim") || TAG("aspf")) {
			bool *strict = TAG("adkim") ? &rec->adkim_strict :
			    &rec->aspf_strict;

			if (!ONCE(TAG("adkim") ? S_ADKIM : S_ASPF))
				continue;
			if (eq_ci(val, vlen, "s"))
				*strict = true;
			else if (!eq_ci(val, vlen, "r"))
				rec->bad_tags++;
		} else if (TAG("pct")) {
			if (!ONCE(S_PCT))
				continue;
			if (vlen <= 3 && parse_number(val, vlen, 100, &num)) {
				rec->pct = (unsigned)num;
				rec->pct_present = true;
			} else {
				rec->bad_tags++;
			}
		} else if (TAG("fo")) {
			if (ONCE(S_FO) && !parse_fo(val, vlen, &rec->fo))
				rec->bad_tags++;
		} else if (TAG("rf")) {
			if (ONCE(S_RF) && !eq_ci(val, vlen, "afrf"))
				rec->bad_tags++;
		} else if (TAG("ri")) {
			if (!ONCE(S_RI))
				continue;
			if (vlen <= 10 && parse_number(val, vlen, UINT32_MAX,
			    &num))
				rec->ri = (uint32_t)num;
			else
				rec->bad_tags++;
		} else if (TAG("rua")) {
			if (ONCE(S_RUA) && !parse_uris(val, vlen, &rec->rua,
			    &rec->nrua))
				rec->bad_tags++;
		} else if (TAG("ruf")) {
			if (ONCE(S_RUF) && !parse_uris(val, vlen, &rec->ruf,
			    &rec->nruf))
				rec->bad_tags++;
		}
#undef TAG
#undef ONCE
		/* unknown tags are ignored (6.3) */
	}
	if (!rec->sp_present || !rec->sp_valid)
		rec->sp = rec->p;
	return 0;
}

/* ---- organizational domain ------------------------------------------ */

static psl_ctx_t *psl_custom;
static const psl_ctx_t *psl_default;

int
dmarc_set_psl_file(const char *path)
{
	psl_ctx_t *p = NULL;

	if (path != NULL && (p = psl_load_file(path)) == NULL)
		return PTT_EIO;
	psl_free(psl_custom);
	psl_custom = p;
	return 0;
}

static const psl_ctx_t *
psl(void)
{
	if (psl_custom)
		return psl_custom;
	if (psl_default == NULL)
		psl_default = psl_latest(NULL);
	if (psl_default == NULL)
		psl_default = psl_builtin();
	if (psl_default == NULL)
		fatal("no Public Suffix List (libpsl has none built in and "
		    "none is installed)");
	return psl_default;
}

int
dmarc_org_domain(const char *domain, char *out, size_t outlen)
{
	char norm[DNS_NAME_TEXT_MAX];
	const char *reg;

	if (dns_name_normalise(domain, norm, sizeof(norm)) != 0 ||
	    norm[0] == '\0')
		return PTT_EINVAL;
	reg = psl_registrable_domain(psl(), norm);
	if (reg == NULL)
		reg = norm;	/* a public suffix itself, or one label */
	if (ptt_strlcpy(out, reg, outlen) >= outlen)
		return PTT_EINVAL;
	return 0;
}

bool
dmarc_aligned(const char *a, const char *b, bool strict)
{
	char na[DNS_NAME_TEXT_MAX], nb[DNS_NAME_TEXT_MAX];

	if (a == NULL || b == NULL ||
	    dns_name_normalise(a, na, sizeof(na)) != 0 ||
	    dns_name_normalise(b, nb, sizeof(nb)) != 0 || na[0] == '\0')
		return false;
	if (strcmp(na, nb) == 0)
		return true;
	if (strict)
		return false;
	if (dmarc_org_domain(na, na, sizeof(na)) != 0 ||
	    dmarc_org_domain(nb, nb, sizeof(nb)) != 0)
		return false;
	return strcmp(na, nb) == 0;
}

/* ---- discovery and verdict ------------------------------------------ */

struct dmarc_check {
	struct resolver *r;
	dmarc_cb *cb;
	void *arg;
	char *from;		/* normalised From domain */
	char org[DNS_NAME_TEXT_MAX];
	bool from_ok;
	char *spf_domain;
	bool spf_pass;
	char **dkim;
	size_t ndkim;
	unsigned (*rand100)(void *);
	void *rand_arg;
	struct dns_query *q;
	bool at_org;		/* asking the organizational domain */
};

static void
check_free(struct dmarc_check *c)
{
	if (c->q)
		resolve_cancel(c->q);
	for (size_t i = 0; i < c->ndkim; i++)
		free(c->dkim[i]);
	free(c->dkim);
	free(c->from);
	free(c->spf_domain);
	free(c);
}

static unsigned
default_rand100(void *arg)
{
	(void)arg;
	return arc4random_uniform(100);
}

static void
finish(struct dmarc_check *c, struct dmarc_outcome *o)
{
	o->from_domain = c->from;
	o->org_domain = c->org;
	c->cb(o, c->arg);
	check_free(c);
}

static void
evaluate(struct dmarc_check *c, const char *txt, size_t len,
    const char *at)
{
	struct dmarc_outcome o;
	struct dmarc_record rec;
	enum dmarc_policy pol;
	char err[96];

	memset(&o, 0, sizeof(o));
	o.record_domain = at;
	if (dmarc_record_parse(txt, len, &rec, err, sizeof(err)) != 0) {
		o.result = DMARC_PERMERROR;
		o.problem = "malformed DMARC record";
		finish(c, &o);
		return;
	}
	if (!rec.p_valid || (rec.sp_present && !rec.sp_valid)) {
		/* 6.6.3: with a valid rua=, act as p=none; else no DMARC. */
		if (rec.nrua == 0) {
			o.result = DMARC_PERMERROR;
			o.problem = "no valid p= (or an invalid sp=) and no "
			    "valid rua=";
			dmarc_record_free(&rec);
			finish(c, &o);
			return;
		}
		rec.p = rec.sp = DMARC_P_NONE;
		rec.p_valid = rec.sp_valid = true;
	}
	o.record = &rec;
	o.spf_aligned = c->spf_pass && dmarc_aligned(c->spf_domain, c->from,
	    rec.aspf_strict);
	for (size_t i = 0; i < c->ndkim && !o.dkim_aligned; i++)
		o.dkim_aligned = dmarc_aligned(c->dkim[i], c->from,
		    rec.adkim_strict);
	/* 6.6.2 / 6.3 sp: the record of the organizational domain, found
	 * for a subdomain, applies sp= (p= when sp= is absent). */
	pol = c->at_org ? rec.sp : rec.p;
	o.policy = pol;
	o.disposition = DMARC_P_NONE;
	if (o.spf_aligned || o.dkim_aligned) {
		o.result = DMARC_PASS;
	} else {
		o.result = DMARC_FAIL;
		o.disposition = pol;
		if (pol != DMARC_P_NONE && rec.pct < 100 &&
		    c->rand100(c->rand_arg) >= rec.pct) {
			/* 6.6.4: not sampled: one step less strict */
			o.sampled_out = true;
			o.disposition = pol == DMARC_P_REJECT ?
			    DMARC_P_QUARANTINE : DMARC_P_NONE;
		}
	}
	finish(c, &o);
	dmarc_record_free(&rec);
}

static void lookup(struct dmarc_check *c, const char *domain);

static void
txt_done(const struct dns_result *res, void *arg)
{
	struct dmarc_check *c = arg;
	struct dmarc_outcome o;
	size_t found = 0, which = 0;

	c->q = NULL;
	memset(&o, 0, sizeof(o));
	if (res->status == DNS_TEMPFAIL || res->status == DNS_BOGUS) {
		o.result = DMARC_TEMPERROR;
		o.problem = res->status == DNS_BOGUS ?
		    "DNSSEC-bogus answer for the DMARC record" :
		    "DNS failure looking up the DMARC record";
		finish(c, &o);
		return;
	}
	for (size_t i = 0; i < res->n; i++) {
		if (dmarc_is_record(res->txt[i].s, res->txt[i].len)) {
			found++;
			which = i;
		}
	}
	if (found == 0 && !c->at_org && c->from_ok &&
	    strcmp(c->org, c->from) != 0) {
		c->at_org = true;
		lookup(c, c->org);
		return;
	}
	if (found == 0) {
		o.result = DMARC_NONE;
		o.problem = "no DMARC record";
		finish(c, &o);
		return;
	}
	if (found > 1) {
		o.result = DMARC_PERMERROR;
		o.record_domain = c->at_org ? c->org : c->from;
		o.problem = "more than one DMARC record";
		finish(c, &o);
		return;
	}
	evaluate(c, res->txt[which].s, res->txt[which].len,
	    c->at_org ? c->org : c->from);
}

static void
lookup(struct dmarc_check *c, const char *domain)
{
	char name[DNS_NAME_TEXT_MAX + 8];

	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	c->q = resolve_txt(c->r, name, txt_done, c);
}

struct dmarc_check *
dmarc_check(struct resolver *r, const struct dmarc_request *req,
    dmarc_cb *cb, void *arg)
{
	struct dmarc_check *c = xcalloc(1, sizeof(*c));
	char norm[DNS_NAME_TEXT_MAX];
	const char *from = req->from_domain ? req->from_domain : "";

	c->r = r;
	c->cb = cb;
	c->arg = arg;
	c->from_ok = dns_name_normalise(from, norm, sizeof(norm)) == 0 &&
	    norm[0] != '\0' && dmarc_org_domain(norm, c->org,
	    sizeof(c->org)) == 0;
	c->from = xstrdup(c->from_ok ? norm : from);
	c->spf_pass = req->spf_pass;
	c->spf_domain = xstrdup(req->spf_domain ? req->spf_domain : "");
	c->ndkim = req->ndkim_pass;
	c->dkim = xcalloc(c->ndkim ? c->ndkim : 1, sizeof(*c->dkim));
	for (size_t i = 0; i < c->ndkim; i++)
		c->dkim[i] = xstrdup(req->dkim_pass[i]);
	c->rand100 = req->rand100 ? req->rand100 : default_rand100;
	c->rand_arg = req->rand_arg;
	/* A malformed From domain is looked up as is: the resolver answers
	 * NXDOMAIN for it (from the event loop), giving "none". */
	lookup(c, c->from);
	return c;
}

void
dmarc_check_cancel(struct dmarc_check *c)
{
	if (c != NULL)
		check_free(c);
}
