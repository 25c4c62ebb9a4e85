/*
 * dkim.c - DKIM signatures (RFC 6376), RFC 8301 algorithm rules, Ed25519
 * (RFC 8463: PureEdDSA over the SHA-256 hash of the header data).
 *
 * Trusts: the private key handed to dkim_sign(); nothing else. Every field
 * of a DKIM-Signature and of a key record is parsed and bounded here.
 */
#include "auth/dkim.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/taglist.h"
#include "mail/codec.h"
#include "mail/defect.h"
#include "util/err.h"
#include "util/mem.h"

#define SIG_MAX_B 1024		/* 8192-bit RSA */
#define FUTURE_SLACK 300	/* seconds of clock skew we forgive in t= */

static const char *const default_headers[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "message-id",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "sender", "list-id", "list-unsubscribe",
	"list-unsubscribe-post", "autocrypt", NULL
};
static const char *const default_oversign[] = {
	"from", "subject", "to", "date", "message-id", "reply-to", "cc",
	"mime-version", "content-type", NULL
};

const char *
dkim_result_name(enum dkim_result r)
{
	static const char *const n[] = { "none", "pass", "fail", "neutral",
		"policy", "temperror", "permerror" };

	return (unsigned)r < sizeof(n) / sizeof(n[0]) ? n[r] : "none";
}

static int
sha_sink(void *arg, const void *p, size_t n)
{
	return EVP_DigestUpdate(arg, p, n) == 1 ? 0 : PTT_ECRYPTO;
}

int
dkim_body_hash(const char *body, size_t len, enum mail_canon c, uint64_t l,
    unsigned char out[32], uint64_t *length)
{
	struct mail_canon_body cb;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned outlen = 0;
	int r;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return PTT_ECRYPTO;
	}
	mail_canon_body_init(&cb, c, l, sha_sink, md);
	r = mail_canon_body_update(&cb, body, len);
	if (r == 0)
		r = mail_canon_body_final(&cb);
	if (r == 0 && EVP_DigestFinal_ex(md, out, &outlen) != 1)
		r = PTT_ECRYPTO;
	if (length != NULL)
		*length = cb.length;
	EVP_MD_CTX_free(md);
	return r;
}

/* Copy raw with the value of its b= tag removed (RFC 6376 3.7). */
static void
strip_b(const char *raw, size_t len, struct buf *out)
{
	const char *colon = memchr(raw, ':', len), *end = raw + len, *p;

	while (end > raw && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (colon == NULL) {
		buf_add(out, raw, len);
		return;
	}
	p = colon + 1;
	buf_add(out, raw, (size_t)(p - raw));
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *seg_end = semi ? semi : end, *q = p, *eq;

		while (q < seg_end && isspace((unsigned char)*q))
			q++;
		eq = memchr(q, '=', (size_t)(seg_end - q));
		if (eq != NULL && *q == 'b') {
			const char *n = q + 1;
			while (n < eq && isspace((unsigned char)*n))
				n++;
			if (n == eq) {
				buf_add(out, p, (size_t)(eq + 1 - p));
				p = seg_end;
				continue;
			}
		}
		buf_add(out, p, (size_t)(seg_end - p));
		p = seg_end;
		if (semi != NULL) {
			buf_addc(out, ';');
			p++;
		}
	}
	buf_add(out, end, (size_t)(raw + len - end));
}

int
dkim_header_data(const struct mail_hdr *h, enum mail_canon c,
    const char *hlist, size_t hlen, const char *sigraw, size_t siglen,
    struct buf *out)
{
	struct { const char *name; size_t len; size_t before; } seen[64];
	size_t nseen = 0;
	const char *p = hlist, *end = hlist + hlen;
	struct buf tmp;
	int r = 0;

	while (p < end && r == 0) {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		const char *ne = colon ? colon : end, *ns = p;
		char name[128];
		size_t k, i, nl;

		p = colon ? colon + 1 : end;
		while (ns < ne && isspace((unsigned char)*ns))
			ns++;
		while (ne > ns && isspace((unsigned char)ne[-1]))
			ne--;
		nl = (size_t)(ne - ns);
		if (nl == 0 || nl >= sizeof(name))
			continue;
		memcpy(name, ns, nl);
		name[nl] = '\0';
		for (k = 0; k < nseen; k++)
			if (seen[k].len == nl && strncasecmp(seen[k].name, ns, nl) == 0)
				break;
		if (k == nseen) {
			if (nseen == 64)
				return PTT_ENOSPC;
			seen[nseen].name = ns;
			seen[nseen].len = nl;
			seen[nseen].before = h->n;
			nseen++;
		}
		if (seen[k].before == 0)
			continue;
		i = mail_hdr_rfind(h, name, seen[k].before);
		if (i == MAIL_HDR_NONE) {
			seen[k].before = 0;	/* none left: contributes nothing */
			continue;
		}
		seen[k].before = i;
		r = mail_canon_header(c, h->f[i].raw, h->f[i].raw_len, out);
	}
	if (r != 0)
		return r;
	buf_init(&tmp, 0);
	strip_b(sigraw, siglen, &tmp);
	r = mail_canon_header(c, tmp.data, tmp.len, out);
	buf_free(&tmp);
	if (r == 0 && out->len >= 2)
		buf_truncate(out, out->len - 2);	/* no final CRLF */
	return r;
}

static int
is_ed25519(EVP_PKEY *k)
{
	return EVP_PKEY_get_id(k) == EVP_PKEY_ED25519;
}

EVP_PKEY *
dkim_load_key(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open", path);
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		snprintf(err, errlen, "%s: not a PEM private key", path);
	else if (!is_ed25519(k) && EVP_PKEY_get_id(k) != EVP_PKEY_RSA) {
		snprintf(err, errlen, "%s: neither RSA nor Ed25519", path);
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

int
dkim_key_record(EVP_PKEY *key, struct buf *out)
{
	unsigned char *der = NULL, raw[32];
	size_t rawlen = sizeof(raw);
	int n, r;

	if (is_ed25519(key)) {
		if (EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1)
			return PTT_ECRYPTO;
		buf_adds(out, "v=DKIM1; k=ed25519; p=");
		return mail_b64_encode(raw, rawlen, out, 0);
	}
	if ((n = i2d_PUBKEY(key, &der)) <= 0)
		return PTT_ECRYPTO;
	buf_adds(out, "v=DKIM1; k=rsa; p=");
	r = mail_b64_encode(der, (size_t)n, out, 0);
	OPENSSL_free(der);
	return r;
}

int
dkim_crypto(EVP_PKEY *key, int sign, const unsigned char *data, size_t len,
    unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char hash[32];
	const EVP_MD *md = EVP_sha256();
	int ok;

	if (ctx == NULL)
		return PTT_ECRYPTO;
	if (is_ed25519(key)) {
		/* RFC 8463 3: Ed25519 over the SHA-256 hash. */
		if (EVP_Digest(data, len, hash, NULL, EVP_sha256(), NULL) != 1) {
			EVP_MD_CTX_free(ctx);
			return PTT_ECRYPTO;
		}
		data = hash;
		len = sizeof(hash);
		md = NULL;
	}
	if (sign)
		ok = EVP_DigestSignInit(ctx, NULL, md, NULL, key) == 1 &&
		    EVP_DigestSign(ctx, sig, siglen, data, len) == 1;
	else
		ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
		    EVP_DigestVerify(ctx, sig, *siglen, data, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : PTT_ECRYPTO;
}

void
dkim_fold_add(struct buf *b, size_t *col, const char *s, size_t n)
{
	if (*col + n > 78 && *col > 1) {
		buf_adds(b, "\r\n\t");
		*col = 1;
	}
	buf_add(b, s, n);
	*col += n;
}

void
dkim_add_b(struct buf *field, size_t col, const unsigned char *sig,
    size_t siglen)
{
	struct buf tmp;

	buf_init(&tmp, 0);
	mail_b64_encode(sig, siglen, &tmp, 0);
	for (size_t i = 0; i < tmp.len; i += 64) {
		size_t n = tmp.len - i < 64 ? tmp.len - i : 64;
		if (col + n > 78) {
			buf_adds(field, "\r\n\t");
			col = 1;
		}
		buf_add(field, tmp.data + i, n);
		col += n;
	}
	buf_adds(field, "\r\n");
	buf_free(&tmp);
}

static bool
in_list(const char *const *l, const char *name)
{
	for (; *l; l++)
		if (strcasecmp(*l, name) == 0)
			return true;
	return false;
}

int
dkim_sign(const struct dkim_sign *s, const char *msg, size_t len,
    struct buf *out, char *err, size_t errlen)
{
	const char *const *hdrs = s->headers ? s->headers : default_headers;
	const char *const *over = s->oversign ? s->oversign : default_oversign;
	struct mail_hdr h;
	struct buf field, hlist, data, tmp;
	unsigned char bh[32], sig[SIG_MAX_B];
	size_t siglen = sizeof(sig), col, i, k;
	char piece[512];
	int r;

	if (!is_ed25519(s->key) && (EVP_PKEY_get_id(s->key) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(s->key) < 1024)) {
		snprintf(err, errlen, "dkim: need Ed25519 or RSA >= 1024 bits");
		return PTT_EINVAL;
	}
	mail_hdr_parse(&h, msg, len, NULL);
	if (mail_hdr_find(&h, "From", 0) == MAIL_HDR_NONE) {
		snprintf(err, errlen, "dkim: message has no From field");
		mail_hdr_free(&h);
		return PTT_EINVAL;
	}
	if ((r = dkim_body_hash(h.body, h.body_len, s->bc, UINT64_MAX, bh,
	    NULL)) != 0) {
		snprintf(err, errlen, "dkim: body hash failed");
		mail_hdr_free(&h);
		return r;
	}
	buf_init(&hlist, 0);
	for (i = 0; hdrs[i]; i++) {
		size_t n = mail_hdr_count(&h, hdrs[i]) + (in_list(over, hdrs[i]) ? 1 : 0);
		for (k = 0; k < n; k++)
			buf_addf(&hlist, "%s%s", hlist.len ? ":" : "", hdrs[i]);
	}
	for (i = 0; over[i]; i++)	/* oversigned names not in hdrs */
		if (!in_list(hdrs, over[i]))
			buf_addf(&hlist, "%s%s", hlist.len ? ":" : "", over[i]);

	buf_init(&field, 0);
	buf_addf(&field, "DKIM-Signature: v=1; a=%s; c=%s/%s; d=%s; s=%s;",
	    is_ed25519(s->key) ? "ed25519-sha256" : "rsa-sha256",
	    s->hc == MAIL_CANON_RELAXED ? "relaxed" : "simple",
	    s->bc == MAIL_CANON_RELAXED ? "relaxed" : "simple",
	    s->domain, s->selector);
	col = field.len;
	if (s->now != 0) {
		snprintf(piece, sizeof(piece), " t=%lld;", (long long)s->now);
		dkim_fold_add(&field, &col, piece, strlen(piece));
		if (s->expire > 0) {
			snprintf(piece, sizeof(piece), " x=%lld;",
			    (long long)(s->now + s->expire));
			dkim_fold_add(&field, &col, piece, strlen(piece));
		}
	}
	if (s->identity != NULL) {
		snprintf(piece, sizeof(piece), " i=%s;", s->identity);
		dkim_fold_add(&field, &col, piece, strlen(piece));
	}
	dkim_fold_add(&field, &col, " h=", 3);
	for (const char *p = hlist.data; *p;) {
		size_t n = strcspn(p, ":");
		dkim_fold_add(&field, &col, p, n + (p[n] == ':'));
		p += n + (p[n] == ':');
	}
	dkim_fold_add(&field, &col, ";", 1);
	buf_init(&tmp, 0);
	mail_b64_encode(bh, sizeof(bh), &tmp, 0);
	dkim_fold_add(&field, &col, " bh=", 4);
	dkim_fold_add(&field, &col, tmp.data, tmp.len);
	dkim_fold_add(&field, &col, ";", 1);
	dkim_fold_add(&field, &col, " b=", 3);
	buf_adds(&field, "\r\n");

	buf_init(&data, 0);
	r = dkim_header_data(&h, s->hc, hlist.data, hlist.len, field.data,
	    field.len, &data);
	if (r == 0)
		r = dkim_crypto(s->key, 1, (unsigned char *)data.data, data.len,
		    sig, &siglen);
	if (r != 0) {
		snprintf(err, errlen, "dkim: signing failed");
	} else {
		buf_truncate(&field, field.len - 2);
		dkim_add_b(&field, col, sig, siglen);
		r = buf_add(out, field.data, field.len);
	}
	buf_free(&tmp);
	buf_free(&data);
	buf_free(&field);
	buf_free(&hlist);
	mail_hdr_free(&h);
	return r;
}

/* ---- verification ---- */

int
dkim_b64_strict(const char *val, size_t len, unsigned char *out, size_t max,
    size_t *n)
{
	struct buf b;
	unsigned defects = 0;
	int r;

	buf_init(&b, max);
	r = mail_b64_decode(val, len, &b, &defects);
	if (r == 0 && buf_error(&b))
		r = PTT_ENOSPC;
	if (r == 0 && (defects & (MAIL_D_B64_GARBAGE | MAIL_D_B64_TRUNCATED)))
		r = PTT_EINVAL;
	if (r == 0) {
		memcpy(out, b.data, b.len);
		*n = b.len;
	}
	buf_free(&b);
	return r;
}

static int
b64_tag(const struct tag *t, unsigned char *out, size_t max, size_t *n)
{
	return t == NULL ? PTT_EINVAL : dkim_b64_strict(t->val, t->len, out,
	    max, n);
}

static void
set_result(struct dkim_sig *s, enum dkim_result r, const char *why)
{
	s->result = r;
	snprintf(s->reason, sizeof(s->reason), "%s", why);
}

static time_t
tag_time(const struct tag *t, int *bad)
{
	unsigned long long v = 0;

	if (t == NULL)
		return 0;
	if (t->len == 0 || t->len > 12) {
		*bad = 1;
		return 0;
	}
	for (size_t i = 0; i < t->len; i++) {
		if (!isdigit((unsigned char)t->val[i])) {
			*bad = 1;
			return 0;
		}
		v = v * 10 + (unsigned)(t->val[i] - '0');
	}
	return (time_t)v;
}

/* Is dom equal to or a subdomain of parent (case-insensitive)? */
static bool
under(const char *dom, const char *parent)
{
	size_t a = strlen(dom), b = strlen(parent);

	if (a == b)
		return strcasecmp(dom, parent) == 0;
	return a > b && dom[a - b - 1] == '.' &&
	    strcasecmp(dom + a - b, parent) == 0;
}

static void
parse_sig(struct dkim_verify *v, struct dkim_sig *s)
{
	const struct mail_field *f = &v->hdr.f[s->field];
	struct taglist tl;
	const struct tag *t;
	int bad = 0;
	const char *at;

	s->l = UINT64_MAX;
	if (taglist_parse(f->value, f->value_len, &tl) != 0) {
		set_result(s, DKIM_PERMERROR, "signature tag list malformed");
		return;
	}
	if (!tag_is(taglist_get(&tl, "v"), "1", 0)) {
		set_result(s, DKIM_PERMERROR, "v= missing or not 1");
		return;
	}
	t = taglist_get(&tl, "a");
	if (tag_is(t, "rsa-sha256", 1))
		s->alg = DKIM_RSA_SHA256;
	else if (tag_is(t, "ed25519-sha256", 1))
		s->alg = DKIM_ED25519_SHA256;
	else if (tag_is(t, "rsa-sha1", 1)) {
		s->alg = DKIM_RSA_SHA1;
		set_result(s, DKIM_FAIL, "rsa-sha1 is not accepted (RFC 8301)");
		return;
	} else {
		set_result(s, DKIM_PERMERROR, "a= missing or unknown algorithm");
		return;
	}
	if (tag_copy(taglist_get(&tl, "d"), s->domain, sizeof(s->domain), 1) != 0 ||
	    tag_copy(taglist_get(&tl, "s"), s->selector, sizeof(s->selector), 0) != 0) {
		set_result(s, DKIM_PERMERROR, "d= or s= missing or too long");
		return;
	}
	if (taglist_get(&tl, "b") == NULL || taglist_get(&tl, "bh") == NULL ||
	    taglist_get(&tl, "h") == NULL) {
		set_result(s, DKIM_PERMERROR, "b=, bh= or h= missing");
		return;
	}
	t = taglist_get(&tl, "b");
	{
		size_t j = 0;
		for (size_t i = 0; i < t->len && j < 8; i++)
			if (!isspace((unsigned char)t->val[i]))
				s->b_prefix[j++] = t->val[i];
		s->b_prefix[j] = '\0';
	}
	t = taglist_get(&tl, "c");
	s->hc = s->bc = MAIL_CANON_SIMPLE;
	if (t != NULL) {
		const char *slash = memchr(t->val, '/', t->len);
		int hc = mail_canon_parse(t->val, slash ? (size_t)(slash - t->val) : t->len);
		int bc = slash ? mail_canon_parse(slash + 1,
		    t->len - (size_t)(slash + 1 - t->val)) : MAIL_CANON_SIMPLE;
		if (hc < 0 || bc < 0) {
			set_result(s, DKIM_PERMERROR, "c= unknown canonicalization");
			return;
		}
		s->hc = (enum mail_canon)hc;
		s->bc = (enum mail_canon)bc;
	}
	t = taglist_get(&tl, "q");
	if (t != NULL && !tag_is(t, "dns/txt", 1)) {
		set_result(s, DKIM_PERMERROR, "q= has no dns/txt");
		return;
	}
	t = taglist_get(&tl, "i");
	if (t != NULL) {
		if (tag_copy(t, s->identity, sizeof(s->identity), 0) != 0 ||
		    (at = strrchr(s->identity, '@')) == NULL ||
		    !under(at + 1, s->domain)) {
			set_result(s, DKIM_PERMERROR, "i= not within d=");
			return;
		}
	} else
		snprintf(s->identity, sizeof(s->identity), "@%s", s->domain);
	t = taglist_get(&tl, "l");
	if (t != NULL) {
		unsigned long long l = 0;
		if (t->len == 0 || t->len > 18) {
			set_result(s, DKIM_PERMERROR, "l= malformed");
			return;
		}
		for (size_t i = 0; i < t->len; i++) {
			if (!isdigit((unsigned char)t->val[i])) {
				set_result(s, DKIM_PERMERROR, "l= malformed");
				return;
			}
			l = l * 10 + (unsigned)(t->val[i] - '0');
		}
		s->l = l;
	}
	s->t = tag_time(taglist_get(&tl, "t"), &bad);
	s->x = tag_time(taglist_get(&tl, "x"), &bad);
	if (bad) {
		set_result(s, DKIM_PERMERROR, "t= or x= malformed");
		return;
	}
	if (s->x != 0 && s->t != 0 && s->x < s->t) {
		set_result(s, DKIM_PERMERROR, "x= before t=");
		return;
	}
	/* From must be signed (RFC 6376 5.4). */
	t = taglist_get(&tl, "h");
	{
		bool from = false;
		const char *p = t->val, *e = t->val + t->len;
		while (p < e) {
			const char *c = memchr(p, ':', (size_t)(e - p));
			const char *ne = c ? c : e, *ns = p;
			while (ns < ne && isspace((unsigned char)*ns)) ns++;
			while (ne > ns && isspace((unsigned char)ne[-1])) ne--;
			if (ne - ns == 4 && strncasecmp(ns, "from", 4) == 0)
				from = true;
			p = c ? c + 1 : e;
		}
		if (!from) {
			set_result(s, DKIM_PERMERROR, "h= does not include From");
			return;
		}
	}
	if (s->x != 0 && s->x < v->now) {
		set_result(s, DKIM_FAIL, "signature expired");
		return;
	}
	if (s->t != 0 && s->t > v->now + FUTURE_SLACK) {
		set_result(s, DKIM_FAIL, "signature timestamp in the future");
		return;
	}
	s->result = DKIM_PENDING;
}

int
dkim_verify_begin(struct dkim_verify *v, const char *msg, size_t len,
    time_t now, size_t max_sigs)
{
	size_t i, n = 0;

	memset(v, 0, sizeof(*v));
	v->msg = msg;
	v->len = len;
	v->now = now;
	mail_hdr_parse(&v->hdr, msg, len, NULL);
	for (i = mail_hdr_find(&v->hdr, "DKIM-Signature", 0); i != MAIL_HDR_NONE;
	    i = mail_hdr_find(&v->hdr, "DKIM-Signature", i + 1))
		n++;
	v->sig = xcalloc(n ? n : 1, sizeof(*v->sig));
	for (i = mail_hdr_find(&v->hdr, "DKIM-Signature", 0); i != MAIL_HDR_NONE;
	    i = mail_hdr_find(&v->hdr, "DKIM-Signature", i + 1)) {
		struct dkim_sig *s = &v->sig[v->nsig++];
		s->field = i;
		if (v->nsig > max_sigs)
			set_result(s, DKIM_PERMERROR, "too many signatures");
		else
			parse_sig(v, s);
	}
	return 0;
}

const char *
dkim_key_name(const struct dkim_verify *v, size_t i, char *buf, size_t len)
{
	snprintf(buf, len, "%s._domainkey.%s", v->sig[i].selector,
	    v->sig[i].domain);
	return buf;
}

EVP_PKEY *
dkim_key_from_record(const char *txt, enum dkim_alg alg, bool *testing,
    bool *strict, const char **why)
{
	struct taglist tl;
	const struct tag *t;
	unsigned char der[2048];
	const unsigned char *p = der;
	size_t n = 0;
	EVP_PKEY *k = NULL;

	if (taglist_parse(txt, strlen(txt), &tl) != 0) {
		*why = "key record malformed";
		return NULL;
	}
	t = taglist_get(&tl, "v");
	if (t != NULL && (t != &tl.t[0] || !tag_is(t, "DKIM1", 0))) {
		*why = "key record v= is not DKIM1";
		return NULL;
	}
	t = taglist_get(&tl, "k");
	if (alg == DKIM_ED25519_SHA256 ? !tag_is(t, "ed25519", 1) :
	    (t != NULL && !tag_is(t, "rsa", 1))) {
		*why = "key type does not match the signature";
		return NULL;
	}
	if ((t = taglist_get(&tl, "h")) != NULL) {
		bool ok = false;
		for (const char *q = t->val; q < t->val + t->len; q++)
			if (strncasecmp(q, "sha256", 6) == 0)
				ok = true;
		if (!ok) {
			*why = "key h= excludes sha256";
			return NULL;
		}
	}
	if ((t = taglist_get(&tl, "s")) != NULL && !tag_is(t, "*", 0) &&
	    !memmem(t->val, t->len, "email", 5)) {
		*why = "key is not for email";
		return NULL;
	}
	if ((t = taglist_get(&tl, "t")) != NULL) {
		for (size_t i = 0; i < t->len; i++) {
			bool end = i + 1 == t->len || t->val[i + 1] == ':' ||
			    isspace((unsigned char)t->val[i + 1]);
			if (t->val[i] == 'y' && end && testing != NULL)
				*testing = true;
			if (t->val[i] == 's' && end && strict != NULL)
				*strict = true;
		}
	}
	t = taglist_get(&tl, "p");
	if (t == NULL) {
		*why = "key record has no p=";
		return NULL;
	}
	if (t->len == 0) {
		*why = "key revoked (empty p=)";
		return NULL;
	}
	if (dkim_b64_strict(t->val, t->len, der, sizeof(der), &n) != 0) {
		*why = "key p= is not base64";
		return NULL;
	}
	if (alg == DKIM_ED25519_SHA256) {
		if (n == 32)
			k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, n);
	} else {
		k = d2i_PUBKEY(NULL, &p, (long)n);
		if (k == NULL) {
			p = der;
			k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)n);
		}
		if (k != NULL && EVP_PKEY_get_id(k) != EVP_PKEY_RSA) {
			EVP_PKEY_free(k);
			k = NULL;
		}
	}
	if (k == NULL)
		*why = "key p= does not decode";
	return k;
}

void
dkim_verify_key(struct dkim_verify *v, size_t i, enum dkim_dns st,
    const char *const *txt, size_t ntxt)
{
	struct dkim_sig *s = &v->sig[i];
	const struct mail_field *f = &v->hdr.f[s->field];
	struct taglist tl;
	unsigned char bh[64], got[32], sig[SIG_MAX_B];
	size_t bhlen = 0, siglen = 0, j;
	bool testing = false, strict = false;
	const char *why = "no key record";
	EVP_PKEY *k = NULL;
	uint64_t length;
	struct buf data;

	if (s->result != DKIM_PENDING)
		return;
	if (st == DKIM_DNS_TEMPFAIL) {
		set_result(s, DKIM_TEMPERROR, "key lookup failed temporarily");
		return;
	}
	for (j = 0; st == DKIM_DNS_OK && j < ntxt && k == NULL; j++)
		k = dkim_key_from_record(txt[j], s->alg, &testing, &strict, &why);
	if (k == NULL) {
		set_result(s, DKIM_PERMERROR, why);
		return;
	}
	s->testing = testing;
	s->key_bits = is_ed25519(k) ? 256 : EVP_PKEY_get_bits(k);
	if (!is_ed25519(k) && s->key_bits < 1024) {
		set_result(s, DKIM_FAIL, "RSA key under 1024 bits (RFC 8301)");
		goto out;
	}
	if (strict) {
		const char *at = strrchr(s->identity, '@');
		if (at == NULL || strcasecmp(at + 1, s->domain) != 0) {
			set_result(s, DKIM_POLICY, "key t=s: i= must be exactly d=");
			goto out;
		}
	}
	taglist_parse(f->value, f->value_len, &tl);
	if (b64_tag(taglist_get(&tl, "bh"), bh, sizeof(bh), &bhlen) != 0 ||
	    bhlen != 32) {
		set_result(s, DKIM_PERMERROR, "bh= malformed");
		goto out;
	}
	if (b64_tag(taglist_get(&tl, "b"), sig, sizeof(sig), &siglen) != 0 ||
	    siglen == 0) {
		set_result(s, DKIM_PERMERROR, "b= malformed");
		goto out;
	}
	if (dkim_body_hash(v->hdr.body, v->hdr.body_len, s->bc, s->l, got,
	    &length) != 0) {
		set_result(s, DKIM_TEMPERROR, "body hash failed");
		goto out;
	}
	if (s->l != UINT64_MAX && s->l > length) {
		set_result(s, DKIM_PERMERROR, "l= is longer than the body");
		goto out;
	}
	if (memcmp(got, bh, 32) != 0) {
		set_result(s, DKIM_FAIL, "body hash did not verify");
		goto out;
	}
	{
		const struct tag *h = taglist_get(&tl, "h");
		buf_init(&data, 0);
		if (dkim_header_data(&v->hdr, s->hc, h->val, h->len, f->raw,
		    f->raw_len, &data) != 0)
			set_result(s, DKIM_PERMERROR, "header data too large");
		else if (dkim_crypto(k, 0, (unsigned char *)data.data, data.len,
		    sig, &siglen) != 0)
			set_result(s, DKIM_FAIL, "signature did not verify");
		else if (s->l != UINT64_MAX && s->l < length)
			/* Content past l= is unsigned: anyone could have
			 * appended it, so the signature vouches for less
			 * than the message. */
			set_result(s, DKIM_POLICY, "l= leaves part of the body unsigned");
		else
			set_result(s, DKIM_PASS, "good signature");
		buf_free(&data);
	}
out:
	EVP_PKEY_free(k);
}

void
dkim_verify_end(struct dkim_verify *v)
{
	mail_hdr_free(&v->hdr);
	free(v->sig);
	v->sig = NULL;
	v->nsig = 0;
}
