/*
 * arc.c - Authenticated Received Chain (RFC 8617): chain validation (5.2)
 * and sealing (5.1), on top of DKIM's canonicalisation and hashing
 * (dkim_body_hash(), dkim_header_data()) and key records (RFC 6376 3.6.1).
 *
 * Trusts: the private key and chain status handed to arc_seal(); nothing
 * in the message or in key records. Every ARC field is parsed and bounded
 * here; field values come unfolded and NUL-terminated from mail_hdr.
 */
#include "auth/arc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509.h>

#include "auth/authres.h"
#include "auth/taglist.h"
#include "mail/codec.h"
#include "mail/defect.h"
#include "util/err.h"
#include "util/mem.h"

#define SIG_MAX_B 1024		/* 8192-bit RSA */
#define N_AAR "ARC-Authentication-Results"
#define N_AMS "ARC-Message-Signature"
#define N_AS "ARC-Seal"

static const char *const default_headers[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "message-id",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "sender", "list-id", "list-post",
	"list-unsubscribe", "dkim-signature", NULL
};

const char *
arc_cv_name(enum arc_cv cv)
{
	static const char *const n[] = { "none", "pass", "fail", "temperror" };

	return (unsigned)cv < sizeof(n) / sizeof(n[0]) ? n[cv] : "fail";
}

/* ---- parsing the chain ---- */

/* An instance number: 1*DIGIT in 1..ARC_MAX_INSTANCES, else 0. */
static unsigned
instance_num(const char *p, size_t len)
{
	unsigned v = 0;

	if (len == 0 || len > 3)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)p[i]))
			return 0;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v >= 1 && v <= ARC_MAX_INSTANCES ? v : 0;
}

/* The i= of an AAR: its value is "i=" instance ";" payload (RFC 8617
 * 4.1.1). Sets *payload to what follows the semicolon. */
static unsigned
aar_instance(const char *v, const char **payload)
{
	const char *p = v, *d;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != 'i' && *p != 'I')
		return 0;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != '=')
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	d = p;
	while (isdigit((unsigned char)*p))
		p++;
	{
		unsigned n = instance_num(d, (size_t)(p - d));
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ';')
			return 0;
		if (payload != NULL)
			*payload = p + 1;
		return n;
	}
}

/* The instance of ARC field f (0: malformed) and which kind it is. */
static unsigned
field_instance(const struct mail_field *f, int *kind)
{
	struct taglist tl;
	const struct tag *t;

	if (mail_field_is(f, N_AAR)) {
		*kind = 0;
		return aar_instance(f->value, NULL);
	}
	*kind = mail_field_is(f, N_AMS) ? 1 : mail_field_is(f, N_AS) ? 2 : -1;
	if (*kind < 0)
		return 0;
	if (taglist_parse(f->value, f->value_len, &tl) != 0 ||
	    (t = taglist_get(&tl, "i")) == NULL)
		return 0;
	return instance_num(t->val, t->len);
}

static bool
is_arc_field(const struct mail_field *f)
{
	return f->name_len > 0 && (mail_field_is(f, N_AAR) ||
	    mail_field_is(f, N_AMS) || mail_field_is(f, N_AS));
}

unsigned
arc_instances(const struct mail_hdr *h)
{
	unsigned max = 0;

	for (size_t i = 0; i < h->n; i++) {
		int kind;
		unsigned n;
		if (!is_arc_field(&h->f[i]))
			continue;
		n = field_instance(&h->f[i], &kind);
		if (n > max)
			max = n;
	}
	return max;
}

/*
 * Sort the chain's fields by instance into aar/ams/as[1..n]. 0, or -1
 * with why when the structure is broken (RFC 8617 4.2.1, 5.2 step 1-2).
 */
static int
collect(const struct mail_hdr *h, size_t *aar, size_t *ams, size_t *as,
    unsigned *n, const char **why)
{
	size_t *slot[3] = { aar, ams, as };
	unsigned max = 0, k;

	for (k = 0; k <= ARC_MAX_INSTANCES; k++)
		aar[k] = ams[k] = as[k] = MAIL_HDR_NONE;
	*n = 0;
	for (size_t i = 0; i < h->n; i++) {
		int kind;
		unsigned inst;
		if (!is_arc_field(&h->f[i]))
			continue;
		inst = field_instance(&h->f[i], &kind);
		if (inst == 0) {
			*why = "ARC field with a malformed or out of range i=";
			return -1;
		}
		if (slot[kind][inst] != MAIL_HDR_NONE) {
			*why = "two ARC fields of one kind in one instance";
			return -1;
		}
		slot[kind][inst] = i;
		if (inst > max)
			max = inst;
	}
	for (k = 1; k <= max; k++)
		if (aar[k] == MAIL_HDR_NONE || ams[k] == MAIL_HDR_NONE ||
		    as[k] == MAIL_HDR_NONE) {
			*why = "ARC sets are not complete and contiguous";
			return -1;
		}
	*n = max;
	return 0;
}

/* Does the colon-separated list in t name name? */
static bool
list_has(const struct tag *t, const char *name)
{
	const char *p = t->val, *e = t->val + t->len;
	size_t nl = strlen(name);

	while (p < e) {
		const char *c = memchr(p, ':', (size_t)(e - p));
		const char *ne = c ? c : e, *ns = p;
		while (ns < ne && isspace((unsigned char)*ns))
			ns++;
		while (ne > ns && isspace((unsigned char)ne[-1]))
			ne--;
		if ((size_t)(ne - ns) == nl && strncasecmp(ns, name, nl) == 0)
			return true;
		p = c ? c + 1 : e;
	}
	return false;
}

/* Parse an AMS or AS into c; -1 with why when malformed. */
static int
parse_check(const struct mail_field *f, struct arc_check *c, const char **why)
{
	struct taglist tl;
	const struct tag *t;

	if (taglist_parse(f->value, f->value_len, &tl) != 0) {
		*why = "ARC signature tag list malformed";
		return -1;
	}
	t = taglist_get(&tl, "a");
	if (tag_is(t, "rsa-sha256", 1))
		c->alg = DKIM_RSA_SHA256;
	else if (tag_is(t, "ed25519-sha256", 1))
		c->alg = DKIM_ED25519_SHA256;
	else {
		*why = "ARC signature a= missing or not accepted";
		return -1;
	}
	if (tag_copy(taglist_get(&tl, "d"), c->domain, sizeof(c->domain), 1) ||
	    tag_copy(taglist_get(&tl, "s"), c->selector, sizeof(c->selector), 0) ||
	    taglist_get(&tl, "b") == NULL) {
		*why = "ARC signature d=, s= or b= missing";
		return -1;
	}
	c->hc = c->bc = MAIL_CANON_RELAXED;
	if (c->seal) {
		if (taglist_get(&tl, "h") != NULL) {
			*why = "ARC-Seal has h= (RFC 8617 4.1.3)";
			return -1;
		}
		if (taglist_get(&tl, "cv") == NULL) {
			*why = "ARC-Seal has no cv=";
			return -1;
		}
		return 0;
	}
	if ((t = taglist_get(&tl, "h")) == NULL ||
	    taglist_get(&tl, "bh") == NULL) {
		*why = "ARC-Message-Signature h= or bh= missing";
		return -1;
	}
	if (list_has(t, N_AS)) {
		*why = "ARC-Message-Signature signs ARC-Seal (RFC 8617 4.1.2)";
		return -1;
	}
	if (taglist_get(&tl, "l") != NULL) {
		*why = "ARC-Message-Signature l= is not accepted";
		return -1;
	}
	if ((t = taglist_get(&tl, "c")) != NULL) {
		const char *slash = memchr(t->val, '/', t->len);
		int hc = mail_canon_parse(t->val, slash ? (size_t)(slash - t->val) : t->len);
		int bc = slash ? mail_canon_parse(slash + 1,
		    t->len - (size_t)(slash + 1 - t->val)) : MAIL_CANON_SIMPLE;
		if (hc < 0 || bc < 0) {
			*why = "ARC-Message-Signature c= unknown";
			return -1;
		}
		c->hc = (enum mail_canon)hc;
		c->bc = (enum mail_canon)bc;
	} else
		c->hc = c->bc = MAIL_CANON_SIMPLE;	/* as DKIM */
	return 0;
}

/* The cv= of AS field f: 0 none, 1 pass, 2 fail, -1 other. */
static int
seal_cv(const struct mail_field *f)
{
	struct taglist tl;
	const struct tag *t;

	if (taglist_parse(f->value, f->value_len, &tl) != 0 ||
	    (t = taglist_get(&tl, "cv")) == NULL)
		return -1;
	return tag_is(t, "none", 1) ? 0 : tag_is(t, "pass", 1) ? 1 :
	    tag_is(t, "fail", 1) ? 2 : -1;
}

static void
decide(struct arc_verify *v, enum arc_cv r, const char *why)
{
	v->result = r;
	v->decided = true;
	snprintf(v->reason, sizeof(v->reason), "%s", why);
}

static void
add_check(struct arc_verify *v, unsigned inst, bool seal, const char **why,
    bool *bad)
{
	struct arc_check *c = &v->chk[v->nchk];

	memset(c, 0, sizeof(*c));
	c->instance = inst;
	c->seal = seal;
	c->field = seal ? v->as[inst] : v->ams[inst];
	c->result = DKIM_PENDING;
	if (parse_check(&v->hdr.f[c->field], c, why) != 0)
		*bad = true;
	else
		v->nchk++;
}

int
arc_verify_begin(struct arc_verify *v, const char *msg, size_t len,
    time_t now, bool oldest_pass)
{
	const char *why = NULL;
	bool bad = false;
	unsigned i;

	memset(v, 0, sizeof(*v));
	v->now = now;
	v->want_oldest = oldest_pass;
	mail_hdr_parse(&v->hdr, msg, len, NULL);
	v->chk = xcalloc(2 * ARC_MAX_INSTANCES, sizeof(*v->chk));
	if (collect(&v->hdr, v->aar, v->ams, v->as, &v->n, &why) != 0) {
		v->n = 0;
		decide(v, ARC_FAIL, why);
		return 0;
	}
	if (v->n == 0) {
		decide(v, ARC_NONE, "no ARC chain");
		return 0;
	}
	/* 5.2 step 2-3: the latest cv= first, then every instance's. */
	if (seal_cv(&v->hdr.f[v->as[v->n]]) == 2) {
		decide(v, ARC_FAIL, "the latest ARC-Seal says cv=fail");
		return 0;
	}
	for (i = 1; i <= v->n; i++) {
		int cv = seal_cv(&v->hdr.f[v->as[i]]);
		if (cv != (i == 1 ? 0 : 1)) {
			decide(v, ARC_FAIL, i == 1 ? "ARC-Seal i=1 is not cv=none" :
			    "an ARC-Seal after i=1 is not cv=pass");
			return 0;
		}
	}
	add_check(v, v->n, false, &why, &bad);
	for (i = v->n - 1; oldest_pass && i >= 1 && !bad; i--)
		add_check(v, i, false, &why, &bad);
	for (i = v->n; i >= 1 && !bad; i--)
		add_check(v, i, true, &why, &bad);
	if (bad) {
		v->nchk = 0;
		decide(v, ARC_FAIL, why);
	}
	return 0;
}

const char *
arc_key_name(const struct arc_verify *v, size_t i, char *buf, size_t len)
{
	snprintf(buf, len, "%s._domainkey.%s", v->chk[i].selector,
	    v->chk[i].domain);
	return buf;
}

/* ---- keys and signatures ---- */

static bool
is_ed25519(EVP_PKEY *k)
{
	return EVP_PKEY_get_id(k) == EVP_PKEY_ED25519;
}

/*
 * The ARC-Seal's signed data (RFC 8617 5.1.1): the sets 1..inst-1 (none
 * when own_only), then this set's AAR and AMS, each relaxed, then the seal
 * itself without its b= value and final CRLF.
 */
static int
seal_data(const struct mail_hdr *h, const size_t *aar, const size_t *ams,
    const size_t *as, unsigned inst, bool own_only, const char *aarraw,
    size_t aarlen, const char *amsraw, size_t amslen, const char *asraw,
    size_t aslen, struct buf *out)
{
	int r = 0;

	for (unsigned j = 1; !own_only && j < inst && r == 0; j++) {
		const struct mail_field *a = &h->f[aar[j]], *m = &h->f[ams[j]],
		    *s = &h->f[as[j]];
		r = mail_canon_header(MAIL_CANON_RELAXED, a->raw, a->raw_len, out);
		if (r == 0)
			r = mail_canon_header(MAIL_CANON_RELAXED, m->raw, m->raw_len, out);
		if (r == 0)
			r = mail_canon_header(MAIL_CANON_RELAXED, s->raw, s->raw_len, out);
	}
	if (r == 0)
		r = mail_canon_header(MAIL_CANON_RELAXED, aarraw, aarlen, out);
	if (r == 0)
		r = mail_canon_header(MAIL_CANON_RELAXED, amsraw, amslen, out);
	if (r == 0)	/* an empty h= list: only the seal, b= removed */
		r = dkim_header_data(h, MAIL_CANON_RELAXED, "", 0, asraw, aslen, out);
	return r;
}

static void
check_result(struct arc_check *c, enum dkim_result r, const char *why)
{
	c->result = r;
	snprintf(c->reason, sizeof(c->reason), "%s", why);
}

void
arc_verify_key(struct arc_verify *v, size_t i, enum dkim_dns st,
    const char *const *txt, size_t ntxt)
{
	struct arc_check *c = &v->chk[i];
	const struct mail_field *f = &v->hdr.f[c->field];
	struct taglist tl;
	unsigned char sig[SIG_MAX_B], bh[64], got[32];
	size_t siglen = 0, bhlen = 0, j;
	const char *why = "no key record";
	const struct tag *t;
	EVP_PKEY *k = NULL;
	struct buf data;
	int r;

	if (i >= v->nchk || c->result != DKIM_PENDING)
		return;
	if (st == DKIM_DNS_TEMPFAIL) {
		check_result(c, DKIM_TEMPERROR, "key lookup failed temporarily");
		return;
	}
	for (j = 0; st == DKIM_DNS_OK && j < ntxt && k == NULL; j++)
		k = dkim_key_from_record(txt[j], c->alg, NULL, NULL, &why);
	if (k == NULL) {
		check_result(c, DKIM_PERMERROR, why);
		return;
	}
	if (!is_ed25519(k) && EVP_PKEY_get_bits(k) < 1024) {
		check_result(c, DKIM_FAIL, "RSA key under 1024 bits (RFC 8301)");
		goto out;
	}
	taglist_parse(f->value, f->value_len, &tl);
	t = taglist_get(&tl, "b");
	if (dkim_b64_strict(t->val, t->len, sig, sizeof(sig), &siglen) != 0 ||
	    siglen == 0) {
		check_result(c, DKIM_PERMERROR, "b= malformed");
		goto out;
	}
	buf_init(&data, 0);
	if (c->seal) {
		r = seal_data(&v->hdr, v->aar, v->ams, v->as, c->instance, false,
		    v->hdr.f[v->aar[c->instance]].raw,
		    v->hdr.f[v->aar[c->instance]].raw_len,
		    v->hdr.f[v->ams[c->instance]].raw,
		    v->hdr.f[v->ams[c->instance]].raw_len, f->raw, f->raw_len,
		    &data);
	} else {
		t = taglist_get(&tl, "bh");
		if (dkim_b64_strict(t->val, t->len, bh, sizeof(bh), &bhlen) != 0 ||
		    bhlen != 32) {
			check_result(c, DKIM_PERMERROR, "bh= malformed");
			buf_free(&data);
			goto out;
		}
		if (v->bh_state[c->bc] == 0)
			v->bh_state[c->bc] = dkim_body_hash(v->hdr.body,
			    v->hdr.body_len, c->bc, UINT64_MAX, v->bh[c->bc],
			    NULL) == 0 ? 1 : -1;
		memcpy(got, v->bh[c->bc], sizeof(got));
		if (v->bh_state[c->bc] < 0) {
			check_result(c, DKIM_TEMPERROR, "body hash failed");
			buf_free(&data);
			goto out;
		}
		if (memcmp(got, bh, 32) != 0) {
			check_result(c, DKIM_FAIL, "body hash did not verify");
			buf_free(&data);
			goto out;
		}
		t = taglist_get(&tl, "h");
		r = dkim_header_data(&v->hdr, c->hc, t->val, t->len, f->raw,
		    f->raw_len, &data);
	}
	if (r != 0)
		check_result(c, DKIM_PERMERROR, "header data too large");
	else if (dkim_crypto(k, 0, (const unsigned char *)data.data, data.len, sig, &siglen) != 0)
		check_result(c, DKIM_FAIL, "signature did not verify");
	else
		check_result(c, DKIM_PASS, "good signature");
	buf_free(&data);
out:
	EVP_PKEY_free(k);
}

enum arc_cv
arc_verify_finish(struct arc_verify *v)
{
	bool temp = false, as_bad = false;
	unsigned oldest = 0, failed_ams = 0;
	char why[128] = "";

	if (v->decided)
		return v->result;
	for (size_t i = 0; i < v->nchk; i++) {
		struct arc_check *c = &v->chk[i];
		if (c->result == DKIM_PENDING)
			check_result(c, DKIM_TEMPERROR, "key not looked up");
		if (c->result == DKIM_PASS)
			continue;
		if (c->result == DKIM_TEMPERROR) {
			temp = true;
			continue;
		}
		if (!c->seal && c->instance == v->n) {
			snprintf(why, sizeof(why), "ARC-Message-Signature i=%u: %s",
			    c->instance, c->reason);
			decide(v, ARC_FAIL, why);
			return v->result;
		}
		if (c->seal && !as_bad) {
			as_bad = true;
			snprintf(why, sizeof(why), "ARC-Seal i=%u: %s",
			    c->instance, c->reason);
		}
		if (!c->seal && c->instance > failed_ams)
			failed_ams = c->instance;
	}
	if (as_bad) {
		decide(v, ARC_FAIL, why);
		return v->result;
	}
	if (temp) {
		decide(v, ARC_TEMPERROR, "a key lookup failed temporarily");
		return v->result;
	}
	if (v->want_oldest && failed_ams != 0)
		oldest = failed_ams + 1;
	v->oldest_pass = oldest;
	snprintf(why, sizeof(why), "chain of %u valid", v->n);
	decide(v, ARC_PASS, why);
	return v->result;
}

void
arc_verify_end(struct arc_verify *v)
{
	mail_hdr_free(&v->hdr);
	free(v->chk);
	v->chk = NULL;
	v->nchk = 0;
}

/* Append s as comment text: no parentheses, backslashes or controls,
 * whitespace runs as one space, at most max octets. */
static void
comment_text(struct buf *out, const char *s, size_t max)
{
	size_t n = 0;
	bool sp = false;

	for (; *s && n < max; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			sp = true;
			continue;
		}
		if (c == '(' || c == ')' || c == '\\' || c < 0x20 || c == 0x7f)
			continue;
		if (sp && n > 0) {
			buf_addc(out, ' ');
			n++;
		}
		sp = false;
		buf_addc(out, (char)c);
		n++;
	}
}

int
arc_ar_result(const struct arc_verify *v, const char *remote_ip,
    struct buf *out)
{
	buf_addf(out, "arc=%s", arc_cv_name(v->result));
	if (v->n > 0 && v->result == ARC_PASS) {
		const char *payload = "";
		const struct arc_check *c = NULL;
		for (size_t i = 0; i < v->nchk; i++)
			if (v->chk[i].seal && v->chk[i].instance == v->n)
				c = &v->chk[i];
		aar_instance(v->hdr.f[v->aar[v->n]].value, &payload);
		buf_addf(out, " (i=%u d=%s; aar: ", v->n, c ? c->domain : "");
		comment_text(out, payload, 400);
		buf_adds(out, ")");
		buf_addf(out, " header.oldest-pass=%u", v->oldest_pass);
	} else if (v->reason[0] != '\0') {
		buf_adds(out, " (");
		comment_text(out, v->reason, sizeof(v->reason));
		buf_adds(out, ")");
	}
	if (remote_ip != NULL && *remote_ip != '\0')
		buf_addf(out, " smtp.remote-ip=%s", remote_ip);
	return buf_error(out);
}

/* ---- Authentication-Results, as far as sealing needs them ---- */

/* Skip whitespace and (nested) comments. */
static const char *
skip_cfws(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		for (int depth = 0; *p; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

/* If AR field f is authserv-id id's (authres.h decides), the payload
 * after its ';' ("" when it has none), else NULL. */
static const char *
ar_payload(const struct mail_field *f, const char *id)
{
	char got[AR_MAX_VALUE + 1];
	const char *p;

	if (ar_authserv_id(f->value, f->value_len, got, sizeof(got)) != 0 ||
	    strcasecmp(got, id) != 0)
		return NULL;
	p = skip_cfws(f->value);
	while (*p && *p != ';' && *p != '(')
		p++;
	p = skip_cfws(p);
	p = strchr(p, ';');
	return p ? p + 1 : "";
}

enum arc_cv
arc_cv_from_ar(const struct mail_hdr *h, const char *id)
{
	enum arc_cv cv = ARC_NONE;

	for (size_t i = mail_hdr_find(h, "Authentication-Results", 0);
	    i != MAIL_HDR_NONE;
	    i = mail_hdr_find(h, "Authentication-Results", i + 1)) {
		const struct ar_result *r;
		struct authres a;
		if (ar_payload(&h->f[i], id) == NULL)
			continue;
		if (ar_parse(&a, h->f[i].value, h->f[i].value_len) != 0)
			cv = ARC_FAIL;	/* ours, yet unreadable */
		else if ((r = ar_find(&a, "arc")) != NULL)
			cv = strcasecmp(r->result, "pass") == 0 ? ARC_PASS :
			    strcasecmp(r->result, "none") == 0 ? ARC_NONE :
			    ARC_FAIL;
		ar_free(&a);
	}
	return cv;
}

/* ---- sealing ---- */

/* Append text (no line breaks), folding before spaces past column 78. */
static void
fold_text(struct buf *b, size_t *col, const char *s)
{
	while (*s) {
		size_t n = strcspn(s + 1, " ") + 1;
		if (*s == ' ' && *col + n > 78 && *col > 1) {
			buf_adds(b, "\r\n");
			*col = 0;
		}
		buf_add(b, s, n);
		*col += n;
		s += n;
	}
}

/* The AAR field for instance inst (RFC 8617 4.1.1). */
static void
build_aar(const struct mail_hdr *h, const char *id, unsigned inst,
    struct buf *out)
{
	size_t col, found = 0;
	char piece[300];

	snprintf(piece, sizeof(piece), N_AAR ": i=%u; %s;", inst, id);
	buf_adds(out, piece);
	col = strlen(piece);
	for (size_t i = mail_hdr_find(h, "Authentication-Results", 0);
	    i != MAIL_HDR_NONE;
	    i = mail_hdr_find(h, "Authentication-Results", i + 1)) {
		const char *p = ar_payload(&h->f[i], id);
		char *copy, *c;
		size_t n;
		if (p == NULL)
			continue;
		p = skip_cfws(p);
		if (*p == '\0' || (strncasecmp(p, "none", 4) == 0 &&
		    *skip_cfws(p + 4) == '\0'))
			continue;
		copy = xstrdup(p);
		for (c = copy; *c; c++)
			if (*c == '\r' || *c == '\n' || *c == '\t')
				*c = ' ';
		n = strlen(copy);
		while (n > 0 && (copy[n - 1] == ' ' || copy[n - 1] == ';'))
			copy[--n] = '\0';
		if (found++ > 0)
			buf_addc(out, ';');
		buf_adds(out, "\r\n\t");
		col = 1;
		fold_text(out, &col, copy);
		free(copy);
	}
	if (found == 0)
		buf_adds(out, " none");
	buf_adds(out, "\r\n");
}

/* The common start of AMS and AS: "Name: i=N; [cv=X; ]a=..; d=..; s=..;". */
static size_t
sig_head(const struct arc_seal *s, const char *name, unsigned inst,
    const char *cv, struct buf *f)
{
	char piece[512];
	size_t col;

	buf_addf(f, "%s: i=%u;", name, inst);
	col = f->len;
	if (cv != NULL) {
		snprintf(piece, sizeof(piece), " cv=%s;", cv);
		dkim_fold_add(f, &col, piece, strlen(piece));
	}
	snprintf(piece, sizeof(piece), " a=%s;",
	    is_ed25519(s->key) ? "ed25519-sha256" : "rsa-sha256");
	dkim_fold_add(f, &col, piece, strlen(piece));
	if (cv == NULL)
		dkim_fold_add(f, &col, " c=relaxed/relaxed;", 19);
	snprintf(piece, sizeof(piece), " d=%s;", s->domain);
	dkim_fold_add(f, &col, piece, strlen(piece));
	snprintf(piece, sizeof(piece), " s=%s;", s->selector);
	dkim_fold_add(f, &col, piece, strlen(piece));
	if (s->now != 0) {
		snprintf(piece, sizeof(piece), " t=%lld;", (long long)s->now);
		dkim_fold_add(f, &col, piece, strlen(piece));
	}
	return col;
}

/* Sign data with s->key and finish field (its b= is open at the end). */
static int
finish_sig(const struct arc_seal *s, struct buf *field, size_t col,
    const struct buf *data)
{
	unsigned char sig[SIG_MAX_B];
	size_t siglen = sizeof(sig);
	int r = dkim_crypto(s->key, 1, (const unsigned char *)data->data,
	    data->len, sig, &siglen);

	if (r == 0)
		dkim_add_b(field, col, sig, siglen);
	return r;
}

static int
fail(char *err, size_t errlen, int r, const char *what)
{
	snprintf(err, errlen, "arc: %s", what);
	return r;
}

int
arc_seal(const struct arc_seal *s, const char *msg, size_t len,
    struct buf *out, char *err, size_t errlen)
{
	const char *const *hdrs = s->headers ? s->headers : default_headers;
	size_t aar[ARC_MAX_INSTANCES + 1], ams[ARC_MAX_INSTANCES + 1],
	    as[ARC_MAX_INSTANCES + 1];
	struct buf faar, fams, fas, hlist, data;
	unsigned char bh[32];
	const char *why = NULL;
	struct mail_hdr h;
	unsigned n = 0, inst;
	bool sealed_fail = s->cv == ARC_FAIL || s->cv == ARC_TEMPERROR;
	size_t col;
	int r;

	if (!is_ed25519(s->key) && (EVP_PKEY_get_id(s->key) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(s->key) < 1024))
		return fail(err, errlen, PTT_EINVAL, "need Ed25519 or RSA >= 1024 bits");
	mail_hdr_parse(&h, msg, len, NULL);
	if (mail_hdr_find(&h, "From", 0) == MAIL_HDR_NONE) {
		mail_hdr_free(&h);
		return fail(err, errlen, PTT_EINVAL, "message has no From field");
	}
	if (h.n > 0 && (h.f[0].flags & MAIL_FIELD_NONAME)) {
		/* It would continue the fields we prepend and change them. */
		mail_hdr_free(&h);
		return fail(err, errlen, PTT_EINVAL,
		    "message starts with a continuation line");
	}
	r = collect(&h, aar, ams, as, &n, &why);
	if (r != 0)
		n = arc_instances(&h);
	if ((s->cv == ARC_NONE) != (n == 0 && r == 0) ||
	    (s->cv == ARC_PASS && r != 0)) {
		mail_hdr_free(&h);
		return fail(err, errlen, PTT_EINVAL, s->cv == ARC_NONE ?
		    "cv=none but the message has a chain" : n == 0 ?
		    "a chain status for a message without a chain" :
		    "cv=pass for a malformed chain");
	}
	if (n >= ARC_MAX_INSTANCES) {
		mail_hdr_free(&h);
		return fail(err, errlen, PTT_ERANGE, "the chain has 50 instances");
	}
	inst = n + 1;
	if ((r = dkim_body_hash(h.body, h.body_len, MAIL_CANON_RELAXED,
	    UINT64_MAX, bh, NULL)) != 0) {
		mail_hdr_free(&h);
		return fail(err, errlen, r, "body hash failed");
	}
	buf_init(&faar, 0);
	buf_init(&fams, 0);
	buf_init(&fas, 0);
	buf_init(&hlist, 0);
	buf_init(&data, 0);
	build_aar(&h, s->authserv_id, inst, &faar);

	/* ARC-Message-Signature: DKIM-like over the message (4.1.2). */
	for (size_t i = 0; hdrs[i]; i++) {
		size_t c = mail_hdr_count(&h, hdrs[i]);
		for (size_t k = 0; k < c; k++)
			buf_addf(&hlist, "%s%s", hlist.len ? ":" : "", hdrs[i]);
	}
	col = sig_head(s, N_AMS, inst, NULL, &fams);
	dkim_fold_add(&fams, &col, " h=", 3);
	for (const char *p = hlist.data; *p;) {
		size_t k = strcspn(p, ":");
		dkim_fold_add(&fams, &col, p, k + (p[k] == ':'));
		p += k + (p[k] == ':');
	}
	dkim_fold_add(&fams, &col, ";", 1);
	{
		struct buf tmp;
		buf_init(&tmp, 0);
		mail_b64_encode(bh, sizeof(bh), &tmp, 0);
		dkim_fold_add(&fams, &col, " bh=", 4);
		dkim_fold_add(&fams, &col, tmp.data, tmp.len);
		dkim_fold_add(&fams, &col, ";", 1);
		buf_free(&tmp);
	}
	dkim_fold_add(&fams, &col, " b=", 3);
	r = dkim_header_data(&h, MAIL_CANON_RELAXED, hlist.data, hlist.len,
	    fams.data, fams.len, &data);
	if (r == 0)
		r = finish_sig(s, &fams, col, &data);
	if (r != 0) {
		fail(err, errlen, r, "signing the ARC-Message-Signature failed");
		goto out;
	}

	/* ARC-Seal over the chain, or over our set alone on a failed one. */
	col = sig_head(s, N_AS, inst, sealed_fail ? "fail" : s->cv == ARC_PASS ?
	    "pass" : "none", &fas);
	dkim_fold_add(&fas, &col, " b=", 3);
	buf_reset(&data);
	r = seal_data(&h, aar, ams, as, inst, sealed_fail, faar.data, faar.len,
	    fams.data, fams.len, fas.data, fas.len, &data);
	if (r == 0)
		r = finish_sig(s, &fas, col, &data);
	if (r != 0) {
		fail(err, errlen, r, "signing the ARC-Seal failed");
		goto out;
	}
	buf_add(out, fas.data, fas.len);
	buf_add(out, fams.data, fams.len);
	buf_add(out, faar.data, faar.len);
	r = buf_error(out);
out:
	buf_free(&faar);
	buf_free(&fams);
	buf_free(&fas);
	buf_free(&hlist);
	buf_free(&data);
	mail_hdr_free(&h);
	return r;
}
