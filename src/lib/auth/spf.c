/*
 * spf.c - SPF check_host() (RFC 7208), asynchronous over dns/resolve.h.
 *
 * Sections implemented: 2.3/2.4 identities (HELO, MAIL FROM, postmaster@
 * for the null path), 4.3 initial processing, 4.4 record lookup (TXT only),
 * 4.5 record selection, 4.6 record evaluation and the 4.6.4 limits, 5
 * mechanisms, 6 modifiers, 7 macros, 8 results, 12 (the ABNF, strictly).
 *
 * Trust: records, TXT explanations and PTR/MX names come from the network.
 * Every record is parsed through a bounds-checked cursor before anything is
 * evaluated; expansions are bounded (a domain is cut to 253 chars, 7.3; an
 * explanation to 1000 bytes); the number of distinct DNS queries per check
 * is capped on top of the RFC's term limits.
 *
 * Structure: run() evaluates check_host() from scratch against the answers
 * cached so far. When it needs an answer it lacks it returns E_PENDING
 * with the query it needs; the query is sent and run() starts again when
 * the answer arrives. Evaluation is deterministic given the answers, so the
 * result equals a synchronous evaluation's.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/spf.h"
#include "util/cursor.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

#define E_PENDING	1	/* internal: an answer is missing */
#define MAX_DNS_TERMS	10	/* 4.6.4 */
#define MAX_VOID	2	/* 4.6.4 */
#define MAX_NAMES	10	/* 4.6.4: MX and PTR names per term */
#define DOMAIN_MAX	253	/* 7.3 */
#define EXPLAIN_MAX	1000
#define EXPAND_MAX	65536	/* a domain-spec before the 253 cut */
#define MAX_TERMS	256	/* in one record, far above any real one */

enum term_kind {
	T_ALL, T_INCLUDE, T_A, T_MX, T_PTR, T_IP4, T_IP6, T_EXISTS,
	T_REDIRECT, T_EXP, T_UNKNOWN,
};

struct term {
	enum term_kind kind;
	char qual;		/* '+', '-', '~', '?' */
	const char *spec;	/* domain-spec, NULL if absent */
	size_t speclen;
	int cidr4, cidr6;	/* -1: absent */
	uint8_t addr[16];
	const char *text;	/* the whole term */
	size_t textlen;
};

struct record {
	struct term t[MAX_TERMS];
	size_t n;
	int redirect, exp;	/* index into t or -1 */
};

struct client {
	int af;			/* AF_INET or AF_INET6 */
	uint8_t b[16];
};

struct cached {
	uint16_t type;
	char *name;
	struct dns_result *res;
};

struct spf_check {
	struct resolver *r;
	struct spf_request req;
	char *mail_from, *helo, *receiver;
	struct client ip;
	spf_cb *cb;
	void *arg;
	struct cached *cache;
	size_t ncache;
	struct dns_query *q;
	struct event *ev;	/* deferred first run */
	struct event *timer;	/* the whole check's time limit */
};

/* One evaluation from scratch. */
struct run {
	struct spf_check *c;
	unsigned dns_terms, void_lookups;
	uint16_t need_type;
	char need_name[DNS_NAME_TEXT_MAX];
	char **mem;		/* allocations freed at the end of the run */
	size_t nmem;
	const char *mechanism;
	const char *problem;
	char *explanation;
	const char *domain;	/* top-level domain */
	const char *sender;
};

/* Context of one macro expansion. */
struct mctx {
	const struct spf_request *req;
	const struct client *ip;
	const char *sender;	/* local@domain */
	const char *domain;	/* <domain> */
	const char *helo;
	struct run *run;	/* NULL: no DNS (%{p} is "unknown") */
};

static int check_host(struct run *run, const char *domain,
    const char *sender, int depth, bool in_include, enum spf_result *out);

const char *
spf_result_str(enum spf_result r)
{
	switch (r) {
	case SPF_NONE: return "none";
	case SPF_NEUTRAL: return "neutral";
	case SPF_PASS: return "pass";
	case SPF_FAIL: return "fail";
	case SPF_SOFTFAIL: return "softfail";
	case SPF_TEMPERROR: return "temperror";
	case SPF_PERMERROR: return "permerror";
	}
	return "?";
}

/* ---- small helpers -------------------------------------------------- */

static char *
run_keep(struct run *run, char *s)
{
	run->mem = xreallocarray(run->mem, run->nmem + 1, sizeof(*run->mem));
	run->mem[run->nmem++] = s;
	return s;
}

static void
run_free(struct run *run)
{
	for (size_t i = 0; i < run->nmem; i++)
		free(run->mem[i]);
	free(run->mem);
	free(run->explanation);
	run->mem = NULL;
	run->nmem = 0;
	run->explanation = NULL;
}

static void
client_from_req(const struct spf_request *req, struct client *ip)
{
	static const uint8_t mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

	memset(ip, 0, sizeof(*ip));
	if (req->af == AF_INET6) {
		if (memcmp(req->ip.v6.s6_addr, mapped, 12) == 0) {
			ip->af = AF_INET;
			memcpy(ip->b, req->ip.v6.s6_addr + 12, 4);
		} else {
			ip->af = AF_INET6;
			memcpy(ip->b, req->ip.v6.s6_addr, 16);
		}
	} else {
		ip->af = AF_INET;
		memcpy(ip->b, &req->ip.v4, 4);
	}
}

static bool
prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (0xff << (8 - rest))) == 0;
}

/* ---- record syntax (RFC 7208 12) ------------------------------------ */

static bool
is_delim(uint8_t c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' ||
	    c == '_' || c == '=';
}

static bool
is_macro_literal(uint8_t c)
{
	return (c >= 0x21 && c <= 0x24) || (c >= 0x26 && c <= 0x7e);
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool
is_toplabel(const char *s, size_t n)
{
	bool alpha = false;

	if (n == 0 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (isalpha(ch) || ch == '-')
			alpha = true;
		else if (!isdigit(ch))
			return false;
	}
	return alpha;
}

static void
url_escape(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' ||
		    ch == '~')
			buf_addc(out, (char)ch);
		else
			buf_addf(out, "%%%02X", ch);
	}
}

/* The value of a macro letter (lowercase). Returns 0, E_PENDING. */
static int macro_value(struct mctx *m, char letter, struct buf *v);

/* Apply transformers and delimiters (7.3) to value v. */
static void
transform(const char *v, size_t vlen, unsigned digits, bool reverse,
    const char *delims, size_t ndelims, struct buf *out)
{
	const char *part[256];
	size_t plen[256], np = 0, start = 0;

	for (size_t i = 0; i <= vlen; i++) {
		bool d = i == vlen;

		for (size_t k = 0; !d && k < ndelims; k++)
			d = v[i] == delims[k];
		if (!d)
			continue;
		if (np < 256) {
			part[np] = v + start;
			plen[np] = i - start;
			np++;
		}
		start = i + 1;
	}
	if (reverse) {
		for (size_t i = 0; i < np / 2; i++) {
			const char *tp = part[i];
			size_t tl = plen[i];

			part[i] = part[np - 1 - i];
			plen[i] = plen[np - 1 - i];
			part[np - 1 - i] = tp;
			plen[np - 1 - i] = tl;
		}
	}
	start = 0;
	if (digits > 0 && digits < np)
		start = np - digits;
	for (size_t i = start; i < np; i++) {
		if (i > start)
			buf_addc(out, '.');
		buf_add(out, part[i], plen[i]);
	}
}

/*
 * Expand (or, with out == NULL, only check) a macro-string. explain: an
 * explain-string (SP allowed, c/r/t allowed). *last_macro is set when the
 * string ends with a macro-expand (for the domain-end rule). Returns 0,
 * PTT_EINVAL or E_PENDING.
 */
static int
expand(struct mctx *m, const char *s, size_t len, bool explain,
    struct buf *out, bool *last_macro, size_t *lit_start)
{
	struct cur c;
	struct buf v;
	int ret = 0;

	cur_init(&c, s, len);
	if (last_macro)
		*last_macro = false;
	if (lit_start)
		*lit_start = 0;
	buf_init(&v, 0);
	while (!cur_eof(&c) && ret == 0) {
		uint8_t ch = cur_getc(&c);

		if (ch != '%') {
			if (!is_macro_literal(ch) && !(explain && ch == ' ')) {
				ret = PTT_EINVAL;
				break;
			}
			if (last_macro && *last_macro && lit_start)
				*lit_start = (size_t)(c.p - (const uint8_t *)s) - 1;
			if (last_macro)
				*last_macro = false;
			if (out)
				buf_addc(out, (char)ch);
			continue;
		}
		ch = cur_getc(&c);
		if (c.err) {
			ret = PTT_EINVAL;
			break;
		}
		if (last_macro)
			*last_macro = true;
		if (ch == '%' || ch == '_' || ch == '-') {
			if (out)
				buf_adds(out, ch == '%' ? "%" :
				    ch == '_' ? " " : "%20");
			continue;
		}
		if (ch != '{') {
			ret = PTT_EINVAL;
			break;
		}
		{
			uint8_t letter = cur_getc(&c);
			uint8_t lc = (uint8_t)tolower(letter);
			unsigned digits = 0;
			bool have_digits = false, reverse = false;
			char delims[8];
			size_t nd = 0;

			if (c.err || strchr("slodiphcrtv", lc) == NULL ||
			    lc == '\0') {
				ret = PTT_EINVAL;
				break;
			}
			if (!explain && strchr("crt", lc) != NULL) {
				ret = PTT_EINVAL;
				break;
			}
			while (cur_left(&c) && ch_digit((uint8_t)cur_peek(&c))) {
				have_digits = true;
				if (digits < 1000)
					digits = digits * 10 +
					    (unsigned)(cur_getc(&c) - '0');
				else
					cur_getc(&c);
			}
			if (have_digits && digits == 0) {
				ret = PTT_EINVAL;
				break;
			}
			if (cur_accept(&c, 'r') || cur_accept(&c, 'R'))
				reverse = true;
			while (cur_left(&c) && is_delim((uint8_t)cur_peek(&c))) {
				uint8_t d = cur_getc(&c);

				if (nd < sizeof(delims))
					delims[nd++] = (char)d;
			}
			if (!cur_accept(&c, '}')) {
				ret = PTT_EINVAL;
				break;
			}
			if (out == NULL)
				continue;
			buf_reset(&v);
			ret = macro_value(m, (char)lc, &v);
			if (ret != 0)
				break;
			if (nd == 0)
				delims[nd++] = '.';
			{
				struct buf t;

				buf_init(&t, 0);
				transform(v.data, v.len, digits, reverse,
				    delims, nd, &t);
				if (isupper(letter))
					url_escape(out, t.data, t.len);
				else
					buf_add(out, t.data, t.len);
				buf_free(&t);
			}
		}
	}
	buf_free(&v);
	return ret;
}

/* domain-spec = macro-string domain-end (check only). */
static bool
domain_spec_ok(const char *s, size_t len)
{
	bool last_macro;
	size_t lit;
	const char *t;
	size_t n;

	if (len == 0 || expand(NULL, s, len, false, NULL, &last_macro,
	    &lit) != 0)
		return false;
	if (last_macro)
		return true;
	/* The trailing literal run must end in "." toplabel ["."]. */
	t = s + lit;
	n = len - lit;
	if (n > 0 && t[n - 1] == '.')
		n--;
	for (size_t i = n; i-- > 0;) {
		if (t[i] == '.')
			return is_toplabel(t + i + 1, n - i - 1);
	}
	return false;
}

static bool
name_char(uint8_t c)
{
	return ch_alnum(c) || c == '-' || c == '_' || c == '.';
}

/* ip4-network with no leading zeros; returns false when malformed. */
static bool
parse_ip4(const char *s, size_t n, uint8_t *out)
{
	struct cur c;

	cur_init(&c, s, n);
	for (int i = 0; i < 4; i++) {
		if (i > 0 && !cur_accept(&c, '.'))
			return false;
		if (cur_peek(&c) == '0' && ch_digit((uint8_t)cur_peek_at(&c, 1)))
			return false;
		out[i] = (uint8_t)cur_uint(&c, 255);
		if (c.err)
			return false;
	}
	return cur_eof(&c);
}

/* "/" ("0" / %x31-39 *DIGIT) <= max */
static int
parse_cidr(struct cur *c, int max)
{
	uint64_t v;

	if (!cur_accept(c, '/'))
		return -1;
	if (cur_peek(c) == '0' && ch_digit((uint8_t)cur_peek_at(c, 1))) {
		cur_fail(c, PTT_EINVAL);
		return -1;
	}
	v = cur_uint(c, (uint64_t)max);
	return c->err ? -1 : (int)v;
}

/* dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ], as the
 * whole of p[0..n), at least one of them present. */
static bool
dual_cidr(const uint8_t *p, size_t n, int *c4, int *c6)
{
	struct cur e;

	cur_init(&e, p, n);
	*c4 = *c6 = -1;
	if (cur_peek(&e) == '/' && cur_peek_at(&e, 1) != '/')
		*c4 = parse_cidr(&e, 32);
	if (!e.err && cur_peek(&e) == '/') {
		cur_skip(&e, 1);
		*c6 = parse_cidr(&e, 128);
		if (*c6 < 0)
			return false;
	}
	return !e.err && cur_eof(&e) && (*c4 >= 0 || *c6 >= 0);
}

static int
parse_term(const char *s, size_t n, struct term *t, char *err, size_t errlen)
{
	struct cur c;
	size_t i = 0;
	static const struct { const char *name; enum term_kind k; } mechs[] = {
		{ "all", T_ALL }, { "include", T_INCLUDE }, { "a", T_A },
		{ "mx", T_MX }, { "ptr", T_PTR }, { "ip4", T_IP4 },
		{ "ip6", T_IP6 }, { "exists", T_EXISTS },
	};
	size_t k, nl;

	memset(t, 0, sizeof(*t));
	t->text = s;
	t->textlen = n;
	t->cidr4 = t->cidr6 = -1;
	t->qual = '+';

	/* modifier: name "=" macro-string */
	if (n > 0 && isalpha((unsigned char)s[0])) {
		while (i < n && name_char((uint8_t)s[i]))
			i++;
		if (i < n && s[i] == '=') {
			t->spec = s + i + 1;
			t->speclen = n - i - 1;
			if (i == 8 && strncasecmp(s, "redirect", 8) == 0)
				t->kind = T_REDIRECT;
			else if (i == 3 && strncasecmp(s, "exp", 3) == 0)
				t->kind = T_EXP;
			else
				t->kind = T_UNKNOWN;
			if (t->kind == T_UNKNOWN) {
				if (expand(NULL, t->spec, t->speclen, false,
				    NULL, NULL, NULL) != 0) {
					snprintf(err, errlen, "bad modifier "
					    "value in '%.*s'", (int)n, s);
					return PTT_EINVAL;
				}
			} else if (!domain_spec_ok(t->spec, t->speclen)) {
				snprintf(err, errlen, "bad domain-spec in "
				    "'%.*s'", (int)n, s);
				return PTT_EINVAL;
			}
			return 0;
		}
	}
	/* directive: [qualifier] mechanism */
	i = 0;
	if (n > 0 && strchr("+-~?", s[0]) != NULL) {
		t->qual = s[0];
		i = 1;
	}
	for (nl = i; nl < n && isalnum((unsigned char)s[nl]); nl++)
		;
	for (k = 0; k < sizeof(mechs) / sizeof(mechs[0]); k++) {
		if (strlen(mechs[k].name) == nl - i &&
		    strncasecmp(s + i, mechs[k].name, nl - i) == 0)
			break;
	}
	if (k == sizeof(mechs) / sizeof(mechs[0]) ||
	    (nl < n && s[nl] != ':' && s[nl] != '/')) {
		snprintf(err, errlen, "unknown mechanism '%.*s'", (int)n, s);
		return PTT_EINVAL;
	}
	t->kind = mechs[k].k;
	cur_init(&c, s + nl, n - nl);
	switch (t->kind) {
	case T_ALL:
		if (!cur_eof(&c))
			goto bad;
		break;
	case T_INCLUDE:
	case T_EXISTS:
	case T_PTR:
		if (!cur_accept(&c, ':')) {
			if (t->kind != T_PTR)
				goto bad;
			if (!cur_eof(&c))
				goto bad;
			break;
		}
		t->spec = (const char *)c.p;
		t->speclen = cur_left(&c);
		if (!domain_spec_ok(t->spec, t->speclen))
			goto bad;
		break;
	case T_A:
	case T_MX:
		if (cur_accept(&c, ':')) {
			/* the domain-spec runs to the first "/" from which
			 * the rest is a dual-cidr-length */
			const uint8_t *p = c.p, *end = c.end;
			int c4, c6;

			for (const uint8_t *q = p; q < c.end; q++) {
				if (*q == '/' && dual_cidr(q,
				    (size_t)(c.end - q), &c4, &c6)) {
					end = q;
					break;
				}
			}
			t->spec = (const char *)p;
			t->speclen = (size_t)(end - p);
			if (!domain_spec_ok(t->spec, t->speclen))
				goto bad;
			c.p = end;
		}
		if (!cur_eof(&c) && !dual_cidr(c.p, cur_left(&c), &t->cidr4,
		    &t->cidr6))
			goto bad;
		break;
	case T_IP4: {
		const uint8_t *start, *slash;

		if (!cur_accept(&c, ':'))
			goto bad;
		start = c.p;
		slash = memchr(start, '/', cur_left(&c));
		if (!parse_ip4((const char *)start,
		    (size_t)((slash ? slash : c.end) - start), t->addr))
			goto bad;
		if (slash) {
			c.p = slash;
			t->cidr4 = parse_cidr(&c, 32);
			if (c.err || !cur_eof(&c))
				goto bad;
		}
		break;
	}
	case T_IP6: {
		const uint8_t *start, *slash;
		char tmp[64];
		size_t al;

		if (!cur_accept(&c, ':'))
			goto bad;
		start = c.p;
		slash = memchr(start, '/', cur_left(&c));
		al = (size_t)((slash ? slash : c.end) - start);
		if (al == 0 || al >= sizeof(tmp))
			goto bad;
		memcpy(tmp, start, al);
		tmp[al] = '\0';
		if (inet_pton(AF_INET6, tmp, t->addr) != 1)
			goto bad;
		if (slash) {
			c.p = slash;
			t->cidr6 = parse_cidr(&c, 128);
			if (c.err || !cur_eof(&c))
				goto bad;
		}
		break;
	}
	default:
		goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "syntax error in '%.*s'", (int)n, s);
	return PTT_EINVAL;
}

/* Is the text a v=spf1 record (4.5)? */
static bool
is_spf1(const char *s, size_t n)
{
	return n >= 6 && strncasecmp(s, "v=spf1", 6) == 0 &&
	    (n == 6 || s[6] == ' ');
}

static int
parse_record(const char *s, size_t n, struct record *rec, char *err,
    size_t errlen)
{
	size_t i;

	rec->n = 0;
	rec->redirect = rec->exp = -1;
	if (!is_spf1(s, n)) {
		snprintf(err, errlen, "not a v=spf1 record");
		return PTT_EINVAL;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch > 0x7e) {
			snprintf(err, errlen, "record holds a byte outside "
			    "printable 7-bit ASCII");
			return PTT_EINVAL;
		}
	}
	i = 6;
	while (i < n) {
		size_t start;
		struct term *t;

		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && s[i] != ' ')
			i++;
		if (rec->n == MAX_TERMS) {
			snprintf(err, errlen, "too many terms");
			return PTT_EINVAL;
		}
		t = &rec->t[rec->n];
		if (parse_term(s + start, i - start, t, err, errlen) != 0)
			return PTT_EINVAL;
		if (t->kind == T_REDIRECT || t->kind == T_EXP) {
			int *slot = t->kind == T_REDIRECT ? &rec->redirect :
			    &rec->exp;

			if (*slot >= 0) {
				snprintf(err, errlen, "duplicate %s modifier",
				    t->kind == T_REDIRECT ? "redirect" : "exp");
				return PTT_EINVAL;
			}
			*slot = (int)rec->n;
		}
		rec->n++;
	}
	return 0;
}

int
spf_record_check(const char *rec, size_t len, char *err, size_t errlen)
{
	struct record *r = xmalloc(sizeof(*r));
	char dummy[160];
	int ret;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	ret = parse_record(rec, len, r, err, errlen);
	free(r);
	return ret;
}

/* ---- DNS through the per-check cache ---------------------------------- */

/* Look name/type up. *res is NULL only with E_PENDING. */
static int
lookup(struct run *run, const char *name, uint16_t type,
    const struct dns_result **res)
{
	struct spf_check *c = run->c;
	char n[DNS_NAME_TEXT_MAX];
	unsigned cap = c->req.max_dns_queries ? c->req.max_dns_queries : 256;

	*res = NULL;
	if (dns_name_normalise(name, n, sizeof(n)) != 0) {
		/* A name that cannot exist: answer NXDOMAIN without asking. */
		ptt_strlcpy(n, "\\000invalid", sizeof(n));
	}
	for (size_t i = 0; i < c->ncache; i++) {
		if (c->cache[i].type == type &&
		    strcmp(c->cache[i].name, n) == 0) {
			*res = c->cache[i].res;
			return 0;
		}
	}
	if (strcmp(n, "\\000invalid") == 0 || c->ncache >= cap) {
		static const struct dns_result nx = {
			.status = DNS_NXDOMAIN, .why = "invalid name",
		};
		static const struct dns_result capped = {
			.status = DNS_TEMPFAIL, .why = "too many DNS queries",
		};

		*res = c->ncache >= cap ? &capped : &nx;
		return 0;
	}
	run->need_type = type;
	ptt_strlcpy(run->need_name, n, sizeof(run->need_name));
	return E_PENDING;
}

/* Names from PTR for the client, validated by a forward lookup (5.5),
 * the first MAX_NAMES only. names[] are owned by the cache. */
static int
validated_names(struct run *run, const char **names, size_t *nnames)
{
	const struct client *ip = &run->c->ip;
	const struct dns_result *ptr, *fwd;
	char rev[80];
	int ret;

	*nnames = 0;
	dns_reverse_name(ip->af, ip->b, rev, sizeof(rev));
	if ((ret = lookup(run, rev, DNS_T_PTR, &ptr)) != 0)
		return ret;
	if (ptr->status != DNS_OK)
		return 0;
	for (size_t i = 0; i < ptr->n && i < MAX_NAMES; i++) {
		uint16_t type = ip->af == AF_INET ? DNS_T_A : DNS_T_AAAA;

		if ((ret = lookup(run, ptr->ptr[i], type, &fwd)) != 0)
			return ret;
		if (fwd->status != DNS_OK)
			continue;	/* 5.5: errors skip the name */
		for (size_t k = 0; k < fwd->n; k++) {
			const void *a = type == DNS_T_A ?
			    (const void *)&fwd->a[k] : (const void *)&fwd->aaaa[k];

			if (memcmp(a, ip->b, ip->af == AF_INET ? 4 : 16) == 0) {
				names[(*nnames)++] = ptr->ptr[i];
				break;
			}
		}
	}
	return 0;
}

/* Is name equal to domain or below it? (case-insensitive) */
static bool
in_domain(const char *name, const char *domain)
{
	size_t nl = strlen(name), dl = strlen(domain);

	while (dl > 0 && domain[dl - 1] == '.')
		dl--;
	while (nl > 0 && name[nl - 1] == '.')
		nl--;
	if (nl == dl)
		return strncasecmp(name, domain, nl) == 0;
	return nl > dl && name[nl - dl - 1] == '.' &&
	    strncasecmp(name + nl - dl, domain, dl) == 0;
}

/* ---- macros --------------------------------------------------------- */

static void
ip_dotted(const struct client *ip, struct buf *v, bool nibbles)
{
	char tmp[INET6_ADDRSTRLEN];

	if (ip->af == AF_INET) {
		buf_addf(v, "%u.%u.%u.%u", ip->b[0], ip->b[1], ip->b[2],
		    ip->b[3]);
	} else if (nibbles) {
		/* uppercase, as in the examples of RFC 7208 7.4 */
		static const char hex[] = "0123456789ABCDEF";

		for (int i = 0; i < 16; i++) {
			if (i)
				buf_addc(v, '.');
			buf_addc(v, hex[ip->b[i] >> 4]);
			buf_addc(v, '.');
			buf_addc(v, hex[ip->b[i] & 15]);
		}
	} else {
		inet_ntop(AF_INET6, ip->b, tmp, sizeof(tmp));
		buf_adds(v, tmp);
	}
}

static int
macro_value(struct mctx *m, char letter, struct buf *v)
{
	const char *at = strrchr(m->sender, '@');

	switch (letter) {
	case 's':
		buf_adds(v, m->sender);
		break;
	case 'l':
		if (at)
			buf_add(v, m->sender, (size_t)(at - m->sender));
		else
			buf_adds(v, "postmaster");
		break;
	case 'o':
		buf_adds(v, at ? at + 1 : m->sender);
		break;
	case 'd':
		buf_adds(v, m->domain);
		break;
	case 'i':
		ip_dotted(m->ip, v, true);
		break;
	case 'c':
		ip_dotted(m->ip, v, false);
		break;
	case 'v':
		buf_adds(v, m->ip->af == AF_INET ? "in-addr" : "ip6");
		break;
	case 'h':
		buf_adds(v, m->helo);
		break;
	case 'r':
		buf_adds(v, m->req->receiver ? m->req->receiver : "unknown");
		break;
	case 't':
		buf_addf(v, "%lld", (long long)(m->req->now ? m->req->now :
		    time(NULL)));
		break;
	case 'p': {
		const char *names[MAX_NAMES];
		size_t nn = 0;
		const char *pick = NULL;
		int ret;

		if (m->run != NULL) {
			ret = validated_names(m->run, names, &nn);
			if (ret != 0)
				return ret;
		}
		for (size_t i = 0; i < nn && pick == NULL; i++)
			if (in_domain(names[i], m->domain))
				pick = names[i];
		if (pick == NULL && nn > 0)
			pick = names[0];
		buf_adds(v, pick ? pick : "unknown");
		break;
	}
	default:
		return PTT_EINVAL;
	}
	return 0;
}

/* Expand a domain-spec into a domain name: 0, E_PENDING or PTT_EINVAL.
 * *out is kept in the run. */
static int
expand_domain(struct run *run, const char *domain, const char *sender,
    const char *spec, size_t len, char **out)
{
	struct spf_check *c = run->c;
	struct mctx m = {
		.req = &c->req, .ip = &c->ip, .sender = sender,
		.domain = domain, .helo = c->helo, .run = run,
	};
	struct buf b;
	size_t off = 0;
	int ret;

	buf_init(&b, EXPAND_MAX);
	ret = expand(&m, spec, len, false, &b, NULL, NULL);
	if (ret == 0 && buf_error(&b))
		ret = PTT_EINVAL;	/* absurdly long: a broken record */
	if (ret != 0) {
		buf_free(&b);
		return ret;
	}
	/* 7.3: drop left labels until at most 253 characters remain. */
	while (b.len - off > DOMAIN_MAX) {
		const char *dot = memchr(b.data + off, '.', b.len - off);

		if (dot == NULL)
			break;
		off = (size_t)(dot - b.data) + 1;
	}
	*out = run_keep(run, xstrdup(b.data + off));
	buf_free(&b);
	return 0;
}

/* ---- evaluation ----------------------------------------------------- */

/* Set the run's verdict to r (keeping the first problem noted). */
static int
verdict(struct run *run, enum spf_result *out, enum spf_result r,
    const char *why)
{
	if (run->problem == NULL)
		run->problem = why;
	*out = r;
	return 0;
}

#define permerror(run, out, why) verdict(run, out, SPF_PERMERROR, why)
#define temperror(run, out, why) verdict(run, out, SPF_TEMPERROR, why)

/* Count a DNS-querying term; false when past the limit. */
static bool
count_term(struct run *run)
{
	return ++run->dns_terms <= MAX_DNS_TERMS;
}

/* Count a void answer; false when past the limit. */
static bool
count_void(struct run *run, const struct dns_result *res)
{
	if (res->status == DNS_NXDOMAIN || res->status == DNS_NODATA)
		return ++run->void_lookups <= MAX_VOID;
	return true;
}

static bool
addr_match(const struct client *ip, const struct dns_result *res,
    int cidr4, int cidr6)
{
	for (size_t i = 0; i < res->n; i++) {
		if (ip->af == AF_INET && res->a &&
		    prefix_match(ip->b, (const uint8_t *)&res->a[i],
		    cidr4 < 0 ? 32 : cidr4))
			return true;
		if (ip->af == AF_INET6 && res->aaaa &&
		    prefix_match(ip->b, res->aaaa[i].s6_addr,
		    cidr6 < 0 ? 128 : cidr6))
			return true;
	}
	return false;
}

/* Result codes of one mechanism. */
enum { M_NOMATCH, M_MATCH, M_ERROR };

static int
eval_mech(struct run *run, const struct term *t, const char *domain,
    const char *sender, int depth, int *match, enum spf_result *err)
{
	struct spf_check *c = run->c;
	const struct client *ip = &c->ip;
	uint16_t atype = ip->af == AF_INET ? DNS_T_A : DNS_T_AAAA;
	const struct dns_result *res;
	char *target = (char *)domain;
	int ret;

	*match = M_NOMATCH;
	switch (t->kind) {
	case T_ALL:
		*match = M_MATCH;
		return 0;
	case T_IP4:
		if (ip->af == AF_INET && prefix_match(ip->b, t->addr,
		    t->cidr4 < 0 ? 32 : t->cidr4))
			*match = M_MATCH;
		return 0;
	case T_IP6:
		if (ip->af == AF_INET6 && prefix_match(ip->b, t->addr,
		    t->cidr6 < 0 ? 128 : t->cidr6))
			*match = M_MATCH;
		return 0;
	default:
		break;
	}
	/* The rest query DNS: count the term (4.6.4). */
	if (!count_term(run)) {
		*match = M_ERROR;
		return permerror(run, err, "more than 10 DNS-querying terms");
	}
	if (t->spec != NULL) {
		ret = expand_domain(run, domain, sender, t->spec, t->speclen,
		    &target);
		if (ret == E_PENDING)
			return ret;
		if (ret != 0) {
			*match = M_ERROR;
			return permerror(run, err, "bad macro");
		}
	}
	switch (t->kind) {
	case T_INCLUDE: {
		enum spf_result r;

		ret = check_host(run, target, sender, depth + 1, true, &r);
		if (ret != 0)
			return ret;
		switch (r) {
		case SPF_PASS:
			*match = M_MATCH;
			break;
		case SPF_FAIL:
		case SPF_SOFTFAIL:
		case SPF_NEUTRAL:
			break;
		case SPF_TEMPERROR:
			*match = M_ERROR;
			*err = SPF_TEMPERROR;
			break;
		case SPF_NONE:
			run->problem = "include target has no SPF record";
			/* FALLTHROUGH */
		case SPF_PERMERROR:
			*match = M_ERROR;
			*err = SPF_PERMERROR;
			break;
		}
		return 0;
	}
	case T_A:
	case T_EXISTS:
		if ((ret = lookup(run, target, t->kind == T_EXISTS ?
		    DNS_T_A : atype, &res)) != 0)
			return ret;
		if (res->status == DNS_TEMPFAIL || res->status == DNS_BOGUS) {
			*match = M_ERROR;
			return temperror(run, err, "DNS failure");
		}
		if (!count_void(run, res)) {
			*match = M_ERROR;
			return permerror(run, err, "more than 2 void lookups");
		}
		if (t->kind == T_EXISTS)
			*match = res->n > 0 ? M_MATCH : M_NOMATCH;
		else if (addr_match(ip, res, t->cidr4, t->cidr6))
			*match = M_MATCH;
		return 0;
	case T_MX: {
		if ((ret = lookup(run, target, DNS_T_MX, &res)) != 0)
			return ret;
		if (res->status == DNS_TEMPFAIL || res->status == DNS_BOGUS) {
			*match = M_ERROR;
			return temperror(run, err, "DNS failure");
		}
		if (!count_void(run, res)) {
			*match = M_ERROR;
			return permerror(run, err, "more than 2 void lookups");
		}
		if (res->n > MAX_NAMES) {
			*match = M_ERROR;
			return permerror(run, err, "more than 10 MX names");
		}
		for (size_t i = 0; i < res->n; i++) {
			const struct dns_result *ar;

			if (res->mx[i].host[0] == '\0')
				continue;	/* null MX */
			if ((ret = lookup(run, res->mx[i].host, atype,
			    &ar)) != 0)
				return ret;
			if (ar->status == DNS_TEMPFAIL ||
			    ar->status == DNS_BOGUS) {
				*match = M_ERROR;
				return temperror(run, err, "DNS failure");
			}
			if (addr_match(ip, ar, t->cidr4, t->cidr6)) {
				*match = M_MATCH;
				return 0;
			}
		}
		return 0;
	}
	case T_PTR: {
		const char *names[MAX_NAMES];
		size_t nn;
		char rev[80];

		dns_reverse_name(ip->af, ip->b, rev, sizeof(rev));
		if ((ret = lookup(run, rev, DNS_T_PTR, &res)) != 0)
			return ret;
		if (res->status == DNS_TEMPFAIL || res->status == DNS_BOGUS)
			return 0;	/* 5.5: no match */
		if (!count_void(run, res)) {
			*match = M_ERROR;
			return permerror(run, err, "more than 2 void lookups");
		}
		if ((ret = validated_names(run, names, &nn)) != 0)
			return ret;
		for (size_t i = 0; i < nn; i++)
			if (in_domain(names[i], target))
				*match = M_MATCH;
		return 0;
	}
	default:
		break;
	}
	return 0;
}

/* Explanation (6.2) for a fail from rec; errors leave none. */
static int
explain(struct run *run, const struct record *rec, const char *domain,
    const char *sender)
{
	struct spf_check *c = run->c;
	const struct term *t = &rec->t[rec->exp];
	const struct dns_result *res;
	struct mctx m = {
		.req = &c->req, .ip = &c->ip, .sender = sender,
		.domain = domain, .helo = c->helo, .run = run,
	};
	struct buf b;
	char *target;
	int ret;

	ret = expand_domain(run, domain, sender, t->spec, t->speclen,
	    &target);
	if (ret != 0)
		return ret == E_PENDING ? ret : 0;
	if (target[0] == '\0')
		return 0;
	if ((ret = lookup(run, target, DNS_T_TXT, &res)) != 0)
		return ret;
	if (res->status != DNS_OK || res->n != 1)
		return 0;
	for (size_t i = 0; i < res->txt[0].len; i++) {
		unsigned char ch = (unsigned char)res->txt[0].s[i];

		if (ch < 0x20 || ch > 0x7e)
			return 0;
	}
	buf_init(&b, EXPLAIN_MAX);
	ret = expand(&m, res->txt[0].s, res->txt[0].len, true, &b, NULL,
	    NULL);
	if (ret == 0 && !buf_error(&b)) {
		free(run->explanation);
		run->explanation = buf_steal(&b, NULL);
	}
	buf_free(&b);
	return ret == E_PENDING ? ret : 0;
}

/* 4.3: is the domain usable? (multi-label, labels 1..63, <= 253) */
static bool
domain_ok(const char *d)
{
	size_t n = strlen(d), lab = 0;
	bool dot = false;

	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0 || n > DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (d[i] == '.') {
			if (lab == 0)
				return false;
			lab = 0;
			dot = true;
		} else if (++lab > 63) {
			return false;
		}
	}
	return lab > 0 && dot;
}

static int
check_host(struct run *run, const char *domain, const char *sender,
    int depth, bool in_include, enum spf_result *out)
{
	const struct dns_result *res;
	const char *txt = NULL;
	size_t txtlen = 0, found = 0;
	struct record *rec;
	char err[160];
	int ret;

	if (!domain_ok(domain)) {
		*out = SPF_NONE;
		if (run->problem == NULL)
			run->problem = "malformed domain";
		return 0;
	}
	if ((ret = lookup(run, domain, DNS_T_TXT, &res)) != 0)
		return ret;
	if (res->status == DNS_TEMPFAIL || res->status == DNS_BOGUS)
		return temperror(run, out, "DNS failure looking up the record");
	for (size_t i = 0; i < res->n; i++) {
		if (is_spf1(res->txt[i].s, res->txt[i].len)) {
			txt = res->txt[i].s;
			txtlen = res->txt[i].len;
			found++;
		}
	}
	if (found == 0) {
		*out = SPF_NONE;
		if (run->problem == NULL)
			run->problem = "no SPF record";
		return 0;
	}
	if (found > 1)
		return permerror(run, out, "more than one SPF record");
	rec = xmalloc(sizeof(*rec));
	run_keep(run, (char *)rec);
	if (parse_record(txt, txtlen, rec, err, sizeof(err)) != 0) {
		run->problem = run_keep(run, xstrdup(err));
		*out = SPF_PERMERROR;
		return 0;
	}
	for (size_t i = 0; i < rec->n; i++) {
		const struct term *t = &rec->t[i];
		int match;
		enum spf_result e = SPF_PERMERROR;

		if (t->kind == T_REDIRECT || t->kind == T_EXP ||
		    t->kind == T_UNKNOWN)
			continue;
		ret = eval_mech(run, t, domain, sender, depth, &match, &e);
		if (ret != 0)
			return ret;
		if (match == M_ERROR) {
			*out = e;
			if (run->mechanism == NULL)
				run->mechanism = run_keep(run,
				    xstrndup(t->text, t->textlen));
			return 0;
		}
		if (match == M_NOMATCH)
			continue;
		switch (t->qual) {
		case '-': *out = SPF_FAIL; break;
		case '~': *out = SPF_SOFTFAIL; break;
		case '?': *out = SPF_NEUTRAL; break;
		default: *out = SPF_PASS; break;
		}
		if (!in_include) {
			run->mechanism = run_keep(run,
			    xstrndup(t->text, t->textlen));
			if (*out == SPF_FAIL && rec->exp >= 0)
				return explain(run, rec, domain, sender);
		}
		return 0;
	}
	if (rec->redirect >= 0) {
		const struct term *t = &rec->t[rec->redirect];
		char *target;

		if (!count_term(run))
			return permerror(run, out,
			    "more than 10 DNS-querying terms");
		ret = expand_domain(run, domain, sender, t->spec, t->speclen,
		    &target);
		if (ret == E_PENDING)
			return ret;
		if (ret != 0)
			return permerror(run, out, "bad macro in redirect");
		ret = check_host(run, target, sender, depth + 1, in_include,
		    out);
		if (ret != 0)
			return ret;
		if (*out == SPF_NONE) {
			run->problem = "redirect target has no SPF record";
			*out = SPF_PERMERROR;
		}
		return 0;
	}
	*out = SPF_NEUTRAL;
	return 0;
}

/* ---- the asynchronous driver ------------------------------------------ */

static void step(struct spf_check *c);

static void
check_free(struct spf_check *c)
{
	if (c->q)
		resolve_cancel(c->q);
	if (c->ev)
		event_free(c->ev);
	if (c->timer)
		event_free(c->timer);
	for (size_t i = 0; i < c->ncache; i++) {
		free(c->cache[i].name);
		dns_result_free(c->cache[i].res);
	}
	free(c->cache);
	free(c->mail_from);
	free(c->helo);
	free(c->receiver);
	free(c);
}

static void
dns_done(const struct dns_result *res, void *arg)
{
	struct spf_check *c = arg;

	c->q = NULL;
	c->cache = xreallocarray(c->cache, c->ncache + 1, sizeof(*c->cache));
	c->cache[c->ncache].type = res->qtype;
	c->cache[c->ncache].name = xstrdup(res->qname);
	c->cache[c->ncache].res = dns_result_dup(res);
	c->ncache++;
	step(c);
}

static void
step(struct spf_check *c)
{
	struct run run;
	struct spf_outcome o;
	enum spf_result r = SPF_NONE;
	const char *at;
	char *sender, *domain;
	int ret;

	memset(&run, 0, sizeof(run));
	memset(&o, 0, sizeof(o));
	run.c = c;
	/* 4.3 / 2.4: the identity and <sender>. */
	if (c->req.helo_identity || c->mail_from[0] == '\0') {
		sender = run_keep(&run, xmalloc(strlen(c->helo) + 12));
		snprintf(sender, strlen(c->helo) + 12, "postmaster@%s",
		    c->helo);
		o.identity = c->req.helo_identity ? "helo" : "mailfrom";
	} else {
		at = strrchr(c->mail_from, '@');
		if (at == NULL) {
			sender = run_keep(&run,
			    xmalloc(strlen(c->mail_from) + 12));
			snprintf(sender, strlen(c->mail_from) + 12,
			    "postmaster@%s", c->mail_from);
		} else if (at == c->mail_from) {
			sender = run_keep(&run,
			    xmalloc(strlen(c->mail_from) + 11));
			snprintf(sender, strlen(c->mail_from) + 11,
			    "postmaster%s", c->mail_from);
		} else {
			sender = c->mail_from;
		}
		o.identity = "mailfrom";
	}
	domain = strrchr(sender, '@') + 1;
	run.domain = domain;
	run.sender = sender;
	ret = check_host(&run, domain, sender, 0, false, &r);
	if (ret == E_PENDING) {
		c->q = resolve(c->r, run.need_name, run.need_type, dns_done, c);
		run_free(&run);
		return;
	}
	o.result = r;
	o.domain = domain;
	o.sender = sender;
	o.mechanism = run.mechanism;
	o.problem = (r == SPF_PASS || r == SPF_FAIL || r == SPF_SOFTFAIL ||
	    r == SPF_NEUTRAL) ? NULL : run.problem;
	o.explanation = r == SPF_FAIL ? run.explanation : NULL;
	o.dns_terms = run.dns_terms;
	o.void_lookups = run.void_lookups;
	c->cb(&o, c->arg);
	run_free(&run);
	check_free(c);
}

static void
timed_out(evutil_socket_t fd, short what, void *arg)
{
	struct spf_check *c = arg;
	struct spf_outcome o;

	(void)fd;
	(void)what;
	memset(&o, 0, sizeof(o));
	o.result = SPF_TEMPERROR;
	o.identity = c->req.helo_identity ? "helo" : "mailfrom";
	o.domain = "";
	o.sender = "";
	o.problem = "the SPF check took too long";
	c->cb(&o, c->arg);
	check_free(c);
}

static void
first_step(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	step(arg);
}

struct spf_check *
spf_check(struct resolver *r, const struct spf_request *req, spf_cb *cb,
    void *arg)
{
	struct spf_check *c = xcalloc(1, sizeof(*c));

	c->r = r;
	c->req = *req;
	c->mail_from = xstrdup(req->mail_from ? req->mail_from : "");
	c->helo = xstrdup(req->helo ? req->helo : "");
	c->receiver = xstrdup(req->receiver ? req->receiver : "unknown");
	c->req.mail_from = c->mail_from;
	c->req.helo = c->helo;
	c->req.receiver = c->receiver;
	client_from_req(req, &c->ip);
	c->cb = cb;
	c->arg = arg;
	c->ev = event_new(resolver_base(r), -1, 0, first_step, c);
	if (c->ev == NULL)
		fatal("event_new failed");
	event_active(c->ev, EV_TIMEOUT, 0);
	{
		unsigned ms = req->timeout_ms ? req->timeout_ms : 20000;
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

		c->timer = evtimer_new(resolver_base(r), timed_out, c);
		if (c->timer == NULL)
			fatal("evtimer_new failed");
		evtimer_add(c->timer, &tv);
	}
	return c;
}

void
spf_check_cancel(struct spf_check *c)
{
	if (c != NULL)
		check_free(c);
}

int
spf_expand(const struct spf_request *req, const char *domain, const char *s,
    size_t len, bool explain, struct buf *out)
{
	struct client ip;
	char sender[600];
	const char *mf = req->mail_from ? req->mail_from : "";
	struct mctx m;

	client_from_req(req, &ip);
	if (mf[0] == '\0')
		snprintf(sender, sizeof(sender), "postmaster@%s",
		    req->helo ? req->helo : "");
	else
		ptt_strlcpy(sender, mf, sizeof(sender));
	m.req = req;
	m.ip = &ip;
	m.sender = sender;
	m.domain = domain;
	m.helo = req->helo ? req->helo : "";
	m.run = NULL;
	return expand(&m, s, len, explain, out, NULL, NULL);
}
