/*
 * feat.c - feature extraction for the spam classifier (see feat.h).
 *
 * Text is tokenized as bytes: ASCII is lowercased, bytes >= 0x80 are word
 * bytes (so UTF-8 and legacy charsets keep their words whole); no charset
 * conversion. HTML is reduced to text (HTML 5 section 13.2: tags dropped,
 * script/style/comments skipped, character references decoded). URL hosts
 * are lowercased and reduced to registrable domains with libpsl's built-in
 * list. Header fields: RFC 5322 section 3.6, RFC 2047 encoded words, RFC 8601
 * Authentication-Results ("method=result" pairs).
 *
 * Trusts nothing: all input comes from the walk (walk.h) over arbitrary
 * bytes; every loop is bounded by its input and SPAM_FEATS_MAX emissions.
 */
#include "spam/feat.h"

#include <libpsl.h>
#include <stdlib.h>
#include <string.h>

#include "mail/charset.h"
#include "spam/walk.h"
#include "util/mem.h"

#define FNV_OFF		0xcbf29ce484222325ULL
#define FNV_PRIME	0x100000001b3ULL

static inline uint64_t
h_add(uint64_t h, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= FNV_PRIME;
	}
	return h;
}

static inline uint32_t
h_fin(uint64_t h)
{
	/* splitmix64 finalizer: spreads FNV's weak low bits */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (uint32_t)(h >> 32);
}

uint32_t
spam_feat_hash(const char *s, size_t n)
{
	return h_fin(h_add(FNV_OFF, (const uint8_t *)s, n));
}

/* Extraction state for one message. */
struct ex {
	struct spam_feats *f;
	struct buf text;	/* HTML reduced to text */
	struct buf tmp;		/* decoded header values */
	size_t text_used;	/* text bytes tokenized so far */
	int rcv, parts, att, html, plain, urls, to, letterrefs, hdrs, attrs;
	char prevh[40];		/* the previous header field's name */
	unsigned long upper, alpha;
};

static const psl_ctx_t *
psl(void)
{
	static const psl_ctx_t *ctx;
	static bool tried;

	if (!tried) {
		tried = true;
		ctx = psl_builtin();
		if (ctx == NULL)
			ctx = psl_latest(NULL);
	}
	return ctx;
}

void
spam_feats_init(struct spam_feats *f, unsigned opts, bool want_names)
{
	memset(f, 0, sizeof(*f));
	f->opts = opts;
	f->want_names = want_names;
	f->cap = 1024;
	f->h = xreallocarray(NULL, f->cap, sizeof(*f->h));
	if (want_names)
		f->name = xreallocarray(NULL, f->cap, sizeof(*f->name));
	buf_init(&f->names, 0);
}

void
spam_feats_free(struct spam_feats *f)
{
	free(f->h);
	free(f->name);
	buf_free(&f->names);
	memset(f, 0, sizeof(*f));
}

const char *
spam_feats_name(const struct spam_feats *f, size_t i)
{
	if (!f->want_names || i >= f->n)
		return "";
	return f->names.data + f->name[i];
}

static void
push(struct spam_feats *f, uint32_t h, const char *p1, size_t n1,
    const char *p2, size_t n2, const char *p3, size_t n3)
{
	if (f->n >= SPAM_FEATS_MAX) {
		f->capped = true;
		return;
	}
	if (f->n == f->cap) {
		f->cap *= 2;
		f->h = xreallocarray(f->h, f->cap, sizeof(*f->h));
		if (f->want_names)
			f->name = xreallocarray(f->name, f->cap, sizeof(*f->name));
	}
	if (f->want_names) {
		f->name[f->n] = (uint32_t)f->names.len;
		buf_add(&f->names, p1, n1);
		buf_add(&f->names, p2, n2);
		buf_add(&f->names, p3, n3);
		buf_addc(&f->names, '\0');
	}
	f->h[f->n++] = h;
}

/* Emit feature prefix + s[0..n). */
static uint64_t
emit(struct ex *x, const char *prefix, const void *s, size_t n)
{
	size_t pl = strlen(prefix);
	uint64_t h = h_add(h_add(FNV_OFF, (const uint8_t *)prefix, pl), s, n);

	push(x->f, h_fin(h), prefix, pl, s, n, "", 0);
	return h;
}

static void
emits(struct ex *x, const char *prefix, const char *s)
{
	emit(x, prefix, s, strlen(s));
}

/* A small count as a bucket: 0 1 2 3 4-7 8-15 ... */
static void
emit_bucket(struct ex *x, const char *prefix, unsigned long v)
{
	char b[8];
	int k = 0;

	if (v < 4) {
		b[0] = (char)('0' + v);
		b[1] = '\0';
	} else {
		while (v > 1) {
			v >>= 1;
			k++;
		}
		b[0] = 'e';
		b[1] = (char)('0' + k / 10);
		b[2] = (char)('0' + k % 10);
		b[3] = '\0';
	}
	emits(x, prefix, b);
}

static int
lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* ---- words ---- */

static bool
sep(uint8_t c)
{
	static const char s[] = "\"()<>[]{},;=*|\\/`^+~#&";

	return c <= ' ' || c == 0x7f || (c < 0x80 && strchr(s, c) != NULL);
}

static bool
trim_ch(uint8_t c)
{
	return c == '.' || c == ':' || c == '\'' || c == '-' || c == '_' ||
	    c == '!' || c == '?' || c == '@' || c == '%';
}

#define WORD_MAX 24

/*
 * Tokenize text into words with prefix; with bigrams, also "prev cur"
 * pairs. Counts upper/alpha for the caps ratio when stats is set.
 */
static void
words(struct ex *x, const char *prefix, const uint8_t *s, size_t n, bool bigrams,
    bool stats)
{
	size_t i = 0, pl = strlen(prefix);
	uint64_t hp0 = h_add(FNV_OFF, (const uint8_t *)prefix, pl);
	uint64_t prev = 0;
	char w[WORD_MAX + 1], pw[WORD_MAX + 1];
	size_t pwl = 0;

	while (i < n && !x->f->capped) {
		size_t a, b, len;

		while (i < n && sep(s[i]))
			i++;
		a = i;
		while (i < n && !sep(s[i]))
			i++;
		b = i;
		while (a < b && trim_ch(s[a]))
			a++;
		while (b > a && trim_ch(s[b - 1]))
			b--;
		len = b - a;
		if (len < 2 && !(len == 1 && s[a] >= 0x80))
			continue;
		if (len > WORD_MAX) {
			char sk[4] = { 'k', (char)lc(s[a]), (char)('0' + (len > 90 ? 9 : len / 10)), 0 };

			if (sk[1] < ' ' || sk[1] >= 0x7f)
				sk[1] = '8';
			emit(x, "skip:", sk, 3);
			prev = 0;
			continue;
		}
		for (size_t k = 0; k < len; k++) {
			uint8_t c = s[a + k];

			if (stats && c < 0x80) {
				if (c >= 'A' && c <= 'Z')
					x->upper++, x->alpha++;
				else if (c >= 'a' && c <= 'z')
					x->alpha++;
			}
			w[k] = (char)lc(c);
		}
		w[len] = '\0';
		if (x->f->opts & SPAM_F_SHAPES) {
			/* digits generalised: "$250" and "$990" are both "$999" */
			char sh[WORD_MAX + 1];
			bool dig = false;

			for (size_t k = 0; k <= len; k++) {
				sh[k] = w[k] >= '0' && w[k] <= '9' ? '9' : w[k];
				dig |= sh[k] == '9';
			}
			if (dig)
				emit(x, "d:", sh, len);
		}
		{
			uint64_t h = h_add(hp0, (const uint8_t *)w, len);

			push(x->f, h_fin(h), prefix, pl, w, len, "", 0);
			if (bigrams && prev != 0) {
				uint64_t hb = (prev * 0x9e3779b97f4a7c15ULL) ^ h;

				push(x->f, h_fin(hb ^ 0x5bd1e995ULL), pw, pwl, " ", 1, w, len);
			}
			prev = h;
			memcpy(pw, w, len + 1);
			pwl = len;
		}
	}
}

/* ---- URLs ---- */

static bool
host_ch(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c >= 0x80;
}

static void
url_host(struct ex *x, const uint8_t *h, size_t n, bool userinfo)
{
	char host[128];
	size_t l = 0, dots = 0;
	bool numeric = true;
	const char *rd;

	if (++x->urls > 200)
		return;
	for (size_t i = 0; i < n && host_ch(h[i]) && l + 1 < sizeof(host); i++) {
		host[l++] = (char)lc(h[i]);
		if (h[i] == '.')
			dots++;
		else if (!(h[i] >= '0' && h[i] <= '9'))
			numeric = false;
	}
	while (l > 0 && host[l - 1] == '.')
		l--;
	host[l] = '\0';
	if (userinfo)
		emits(x, "u:", "userinfo");
	if (l == 0)
		return;
	if (numeric && dots == 3) {
		emits(x, "u:", "ip");
		return;
	}
	if (numeric) {
		emits(x, "u:", "number");
		return;
	}
	emit(x, "u:", host, l);
	rd = psl() != NULL ? psl_registrable_domain(psl(), host) : NULL;
	if (rd != NULL)
		emits(x, "ud:", rd);
	if (x->f->opts & SPAM_F_URLPARTS) {
		const char *tld = memrchr(host, '.', l);

		emits(x, "ut:", tld != NULL ? tld + 1 : host);
		emit_bucket(x, "u:labels:", (unsigned long)dots + 1);
	}
}

/*
 * The path and query of a URL at s[i..n) (just after its host): words
 * of the path ("up:"), and the marks spam tools leave: a port, a query,
 * %-escapes, a "~user" directory, the depth.
 */
static void
url_path(struct ex *x, const uint8_t *s, size_t n, size_t i)
{
	size_t e = i, depth = 0, nw = 0;
	bool query = false, pct = false, tilde = false;

	while (e < n && e - i < 512 && s[e] > ' ' && s[e] != '"' && s[e] != '\'' &&
	    s[e] != '<' && s[e] != '>' && s[e] != '\\')
		e++;
	if (i < e && s[i] == ':')
		emits(x, "u:", "port");
	for (size_t k = i; k < e; ) {
		size_t a;

		if (s[k] == '/' && !query)
			depth++;
		query |= s[k] == '?';
		pct |= s[k] == '%';
		tilde |= s[k] == '~';
		if (!((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
		    (s[k] >= '0' && s[k] <= '9'))) {
			k++;
			continue;
		}
		a = k;
		while (k < e && ((s[k] >= 'a' && s[k] <= 'z') ||
		    (s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= '0' && s[k] <= '9')))
			k++;
		if (k - a >= 2 && k - a <= 20 && nw++ < 8) {
			char w[21];

			for (size_t j = a; j < k; j++)
				w[j - a] = (char)lc(s[j]);
			emit(x, query ? "uq:" : "up:", w, k - a);
		}
	}
	if (query)
		emits(x, "u:", "query");
	if (pct)
		emits(x, "u:", "pct");
	if (tilde)
		emits(x, "u:", "tilde");
	emit_bucket(x, "u:depth:", (unsigned long)depth);
}

/* Host after "scheme://" at s[i..n): skips userinfo. */
static void
url_at(struct ex *x, const uint8_t *s, size_t n, size_t i)
{
	size_t e = i, at = (size_t)-1;

	while (e < n && e - i < 256 && s[e] > ' ' && s[e] != '/' && s[e] != '?' &&
	    s[e] != '#' && s[e] != '"' && s[e] != '\'' && s[e] != '<' &&
	    s[e] != '>' && s[e] != '\\') {
		if (s[e] == '@')
			at = e;
		e++;
	}
	if (at != (size_t)-1)
		i = at + 1;
	url_host(x, s + i, e - i, at != (size_t)-1);
	if ((x->f->opts & SPAM_F_URLPARTS) && x->urls <= 200) {
		const uint8_t *colon = memchr(s + i, ':', e - i);

		url_path(x, s, n, colon != NULL ? (size_t)(colon - s) : e);
	}
}

static bool
ieq_at(const uint8_t *s, size_t n, size_t i, const char *lit)
{
	size_t l = strlen(lit);

	if (i + l > n)
		return false;
	for (size_t k = 0; k < l; k++)
		if (lc(s[i + k]) != lit[k])
			return false;
	return true;
}

static void
urls(struct ex *x, const uint8_t *s, size_t n)
{
	const uint8_t *p = s, *end = s + n;

	/* "scheme://" */
	while (p < end && (p = memmem(p, (size_t)(end - p), "://", 3)) != NULL) {
		size_t i = (size_t)(p - s);

		if (i >= 5 && ieq_at(s, n, i - 5, "https"))
			emits(x, "u:", "https");
		if ((i >= 4 && ieq_at(s, n, i - 4, "http")) ||
		    (i >= 3 && ieq_at(s, n, i - 3, "ftp")))
			url_at(x, s, n, i + 3);
		p += 3;
	}
	/* bare "www." */
	p = s;
	while (p < end && (p = memmem(p, (size_t)(end - p), "www.", 4)) != NULL) {
		size_t i = (size_t)(p - s);

		if (i == 0 || (!host_ch(s[i - 1]) && s[i - 1] != '/'))
			url_at(x, s, n, i);
		p += 4;
	}
}

/* ---- HTML to text ---- */

static const struct {
	const char *name;
	const char *utf8;
} entities[] = {
	{ "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" },
	{ "apos", "'" }, { "nbsp", " " }, { "copy", "\xc2\xa9" },
	{ "reg", "\xc2\xae" }, { "trade", "\xe2\x84\xa2" },
	{ "euro", "\xe2\x82\xac" }, { "pound", "\xc2\xa3" },
};

static void
put_utf8(struct buf *b, unsigned long cp)
{
	char u[4];

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		buf_addc(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 4);
	}
}

/* A character reference at s[i] == '&'; returns bytes consumed (0: none). */
static size_t
entity(struct ex *x, const uint8_t *s, size_t n, size_t i, struct buf *out)
{
	size_t k = i + 1;

	if (k < n && s[k] == '#') {
		unsigned long cp = 0;
		bool hex = k + 1 < n && (s[k + 1] == 'x' || s[k + 1] == 'X');
		size_t d0;

		k += hex ? 2 : 1;
		d0 = k;
		while (k < n && k - d0 < 8) {
			int v = s[k] >= '0' && s[k] <= '9' ? s[k] - '0' :
			    hex && lc(s[k]) >= 'a' && lc(s[k]) <= 'f' ? lc(s[k]) - 'a' + 10 : -1;

			if (v < 0)
				break;
			cp = cp * (hex ? 16 : 10) + (unsigned long)v;
			k++;
		}
		if (k == d0)
			return 0;
		if (cp < 0x80 && ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z'))
			x->letterrefs++;	/* letters spelled as references */
		put_utf8(out, cp);
		return (k < n && s[k] == ';') ? k + 1 - i : k - i;
	}
	for (size_t e = 0; e < sizeof(entities) / sizeof(entities[0]); e++) {
		size_t l = strlen(entities[e].name);

		if (ieq_at(s, n, k, entities[e].name)) {
			buf_adds(out, entities[e].utf8);
			k += l;
			return (k < n && s[k] == ';') ? k + 1 - i : k - i;
		}
	}
	return 0;
}

/* Skip to just past the case-insensitive literal lit, or to n. */
static size_t
skip_past(const uint8_t *s, size_t n, size_t i, const char *lit)
{
	while (i < n) {
		const uint8_t *q = memchr(s + i, lit[0], n - i);

		if (q == NULL)
			return n;
		i = (size_t)(q - s);
		if (ieq_at(s, n, i, lit))
			return i + strlen(lit);
		i++;
	}
	return n;
}

static bool
inline_tag(const char *t)
{
	static const char *const tags[] = { "a", "b", "i", "u", "em", "strong",
	    "font", "span", "small", "big", "sup", "sub", "s", "strike", "o:p" };

	for (size_t k = 0; k < sizeof(tags) / sizeof(tags[0]); k++)
		if (strcmp(t, tags[k]) == 0)
			return true;
	return false;
}

/*
 * Values of the attributes that style text: "hv:color=#ff0000",
 * "hv:size=+2", and each property of a style attribute,
 * "st:font-size:13.5pt" (lowercased, blanks dropped).
 */
static void
html_value(struct ex *x, const char *a, size_t al, const uint8_t *v, size_t vl)
{
	char t[48];
	size_t l = 0;

	if ((al == 5 && memcmp(a, "color", 5) == 0) ||
	    (al == 7 && memcmp(a, "bgcolor", 7) == 0) ||
	    (al == 4 && memcmp(a, "size", 4) == 0)) {
		memcpy(t, a, al);
		l = al;
		t[l++] = '=';
		for (size_t i = 0; i < vl && l < 28; i++)
			if (v[i] > ' ')
				t[l++] = (char)lc(v[i]);
		emit(x, "hv:", t, l);
		return;
	}
	if (!(al == 5 && memcmp(a, "style", 5) == 0))
		return;
	for (size_t i = 0; i <= vl && x->attrs < 1000; i++) {
		if (i == vl || v[i] == ';') {
			if (l > 0) {
				x->attrs++;
				emit(x, "st:", t, l);
			}
			l = 0;
		} else if (v[i] > ' ' && l < sizeof(t)) {
			t[l++] = (char)lc(v[i]);
		}
	}
}

/*
 * The attribute names of a tag whose name t ends at s[k], up to its '>'
 * at s[e]: "ha:font:color". Values are skipped (quoted or not). Bounded
 * by the tag and 1,000 attributes a message.
 */
static void
html_attrs(struct ex *x, const uint8_t *s, size_t e, size_t k, const char *t,
    size_t tl)
{
	while (k < e && x->attrs < 1000) {
		char a[48];
		size_t al = 0;

		while (k < e && (s[k] <= ' ' || s[k] == '/'))
			k++;
		while (k < e && s[k] > ' ' && s[k] != '=' && s[k] != '/') {
			if (al + 1 < sizeof(a) - tl - 1)
				a[al++] = (char)lc(s[k]);
			k++;
		}
		if (al > 0 && (x->f->opts & SPAM_F_HTMLATTRS)) {
			char ta[64];

			memcpy(ta, t, tl);
			ta[tl] = ':';
			memcpy(ta + tl + 1, a, al);
			x->attrs++;
			emit(x, "ha:", ta, tl + 1 + al);
		}
		while (k < e && s[k] <= ' ')
			k++;
		if (k < e && s[k] == '=') {
			size_t v0, v1;

			k++;
			while (k < e && s[k] <= ' ')
				k++;
			if (k < e && (s[k] == '"' || s[k] == '\'')) {
				const uint8_t *q = memchr(s + k + 1, s[k], e - k - 1);

				v0 = k + 1;
				v1 = q != NULL ? (size_t)(q - s) : e;
				k = q != NULL ? (size_t)(q - s) + 1 : e;
			} else {
				v0 = k;
				while (k < e && s[k] > ' ')
					k++;
				v1 = k;
			}
			if (x->f->opts & SPAM_F_HTMLVALS)
				html_value(x, a, al, s + v0, v1 - v0);
		} else if (al == 0 && k < e) {
			k++;
		}
	}
}

static void
html_text(struct ex *x, const uint8_t *s, size_t n, struct buf *out)
{
	size_t i = 0, a0 = (size_t)-1;
	int comments = 0;

	while (i < n && !buf_error(out)) {
		const uint8_t *lt = memchr(s + i, '<', n - i), *amp;
		size_t stop = lt ? (size_t)(lt - s) : n;

		/* text up to the next tag, with character references */
		while (i < stop) {
			amp = memchr(s + i, '&', stop - i);
			if (amp == NULL) {
				buf_add(out, s + i, stop - i);
				i = stop;
				break;
			}
			buf_add(out, s + i, (size_t)(amp - (s + i)));
			i = (size_t)(amp - s);
			{
				size_t used = entity(x, s, stop, i, out);

				if (used == 0) {
					buf_addc(out, '&');
					used = 1;
				}
				i += used;
			}
		}
		if (i >= n)
			break;
		/* a tag at s[i] == '<' */
		if (ieq_at(s, n, i, "<!--")) {
			if (++comments == 3)
				emits(x, "html:", "comments");
			i = skip_past(s, n, i + 4, "-->");
			continue;
		}
		{
			char t[16];
			size_t k = i + 1, tl = 0;
			bool close = k < n && s[k] == '/';
			const uint8_t *gt;

			if (close)
				k++;
			while (k < n && tl + 1 < sizeof(t) &&
			    ((lc(s[k]) >= 'a' && lc(s[k]) <= 'z') ||
			    (s[k] >= '0' && s[k] <= '9') || s[k] == ':')) {
				t[tl++] = (char)lc(s[k]);
				k++;
			}
			t[tl] = '\0';
			if (tl == 0) {
				/* "<" not opening a tag: keep it as text */
				buf_addc(out, ' ');
				i++;
				continue;
			}
			gt = memchr(s + k, '>', n - k);
			if (!close)
				emit(x, "html:", t, tl);
			if (!close && (x->f->opts & (SPAM_F_HTMLATTRS | SPAM_F_HTMLVALS)))
				html_attrs(x, s, gt ? (size_t)(gt - s) : n, k, t, tl);
			if ((x->f->opts & SPAM_F_ANCHORS) && strcmp(t, "a") == 0) {
				/* the words of a link's text: "a:click", "a:here" */
				if (close && a0 != (size_t)-1 && a0 <= out->len)
					words(x, "a:", (const uint8_t *)out->data + a0,
					    out->len - a0 < 256 ? out->len - a0 : 256,
					    false, false);
				a0 = close ? (size_t)-1 : out->len;
			}
			i = gt ? (size_t)(gt - s) + 1 : n;
			if (!close && (strcmp(t, "script") == 0 || strcmp(t, "style") == 0)) {
				i = skip_past(s, n, i, strcmp(t, "script") == 0 ?
				    "</script" : "</style");
				continue;
			}
			if (!inline_tag(t))
				buf_addc(out, ' ');
		}
	}
}

/* ---- parts ---- */

static bool
looks_html(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n && i < 512 && (s[i] <= ' '))
		i++;
	return ieq_at(s, n, i, "<html") || ieq_at(s, n, i, "<!doctype") ||
	    ieq_at(s, n, i, "<head") || ieq_at(s, n, i, "<body") ||
	    ieq_at(s, n, i, "<table") || ieq_at(s, n, i, "<p>");
}

static const char *const exec_ext[] = { "exe", "scr", "pif", "bat", "com",
    "vbs", "js", "cmd", "cpl", "lnk", "hta", "jar", "msi", "wsf", "vbe",
    "jse", "ps1", "reg", "dll", "iso", "img" };

static void
attachment(struct ex *x, const char *name)
{
	const char *dot;
	char ext[12];
	size_t l;

	x->att++;
	if (name[0] == '\0')
		return;
	dot = strrchr(name, '.');
	if (dot == NULL) {
		emits(x, "att:", "noext");
		return;
	}
	for (l = 0; dot[1 + l] != '\0' && l + 1 < sizeof(ext); l++)
		ext[l] = (char)lc((unsigned char)dot[1 + l]);
	ext[l] = '\0';
	emit(x, "att:ext:", ext, l);
	for (size_t k = 0; k < sizeof(exec_ext) / sizeof(exec_ext[0]); k++)
		if (strcmp(ext, exec_ext[k]) == 0)
			emits(x, "att:", "exec");
}

/*
 * The shape of a value: runs of uppercase, lowercase, digits and non-ASCII
 * become 'A', 'a', '9', '8'; punctuation stays. "<20020822.4F2@mx.example>"
 * is "<9.9A9@a.a>": message generators leave their shape in Message-ID,
 * sender addresses and subjects even as the words change.
 */
static void
emit_shape(struct ex *x, const char *prefix, const char *v, size_t vl)
{
	char sh[32];
	size_t l = 0;

	for (size_t i = 0; i < vl && l + 1 < sizeof(sh); i++) {
		unsigned char c = (unsigned char)v[i];
		char k = c >= 'A' && c <= 'Z' ? 'A' : c >= 'a' && c <= 'z' ? 'a' :
		    c >= '0' && c <= '9' ? '9' : c >= 0x80 ? '8' : c <= ' ' ? '_' : (char)c;

		if (l > 0 && sh[l - 1] == k && strchr("Aa98_", k) != NULL)
			continue;
		sh[l++] = k;
	}
	emit(x, prefix, sh, l);
}

/* Decode RFC 2047 words of v into x->tmp and emit their charsets. */
static void
decode_words(struct ex *x, const char *prefix, const char *v, size_t vl)
{
	const char *p = v, *end = v + vl;

	buf_reset(&x->tmp);
	mail_ew_decode(v, vl, &x->tmp, NULL);
	/* "=?charset?" of each encoded word (RFC 2047 section 2) */
	while (p < end && (p = memmem(p, (size_t)(end - p), "=?", 2)) != NULL) {
		const char *q = p + 2, *cs = q;

		while (q < end && q - cs < 40 && *q != '?' && *q != '*' && *q > ' ')
			q++;
		if (q < end && (*q == '?' || *q == '*') && q > cs)
			emit(x, prefix, cs, (size_t)(q - cs));
		p += 2;
	}
}

static void
on_part(void *arg, const struct spam_part *p)
{
	struct ex *x = arg;
	const uint8_t *s = p->data;
	size_t n = p->len;

	x->parts++;
	emits(x, "mime:", p->type);
	if (p->charset[0])
		emits(x, "mime:cs:", p->charset);
	if (p->encoding[0])
		emits(x, "mime:enc:", p->encoding);
	if (p->decode_error)
		emits(x, "mime:", "baddecode");
	if (p->attachment)
		attachment(x, p->filename);
	if (s == NULL)
		return;
	if (n > SPAM_TEXT_MAX - x->text_used)
		n = SPAM_TEXT_MAX - x->text_used;
	x->text_used += n;
	if (strcmp(p->type, "text/html") == 0 || looks_html(s, n)) {
		x->html++;
		urls(x, s, n);
		buf_reset(&x->text);
		html_text(x, s, n, &x->text);
		words(x, "", (const uint8_t *)x->text.data, x->text.len,
		    x->f->opts & SPAM_F_BIGRAMS, true);
	} else {
		if (strcmp(p->type, "text/plain") == 0)
			x->plain++;
		urls(x, s, n);
		words(x, "", s, n, x->f->opts & SPAM_F_BIGRAMS, true);
	}
}

/* ---- header fields ---- */

static bool
hname(const char *name, size_t nl, const char *lit)
{
	size_t l = strlen(lit);

	if (nl != l)
		return false;
	for (size_t i = 0; i < l; i++)
		if (lc((unsigned char)name[i]) != lit[i])
			return false;
	return true;
}

/* The domain of the first address in v ("x@dom>" or "x@dom"). */
static void
addr_domain(struct ex *x, const char *prefix, const char *rdprefix,
    const char *v, size_t n)
{
	const char *at = memchr(v, '@', n);
	char dom[128];
	size_t l = 0;
	const char *rd;

	if (at == NULL) {
		emits(x, prefix, "none");
		return;
	}
	for (at++; at < v + n && host_ch((uint8_t)*at) && l + 1 < sizeof(dom); at++)
		dom[l++] = (char)lc((unsigned char)*at);
	while (l > 0 && dom[l - 1] == '.')
		l--;
	dom[l] = '\0';
	emit(x, prefix, dom, l);
	rd = psl() != NULL && l > 0 ? psl_registrable_domain(psl(), dom) : NULL;
	if (rd != NULL)
		emits(x, rdprefix, rd);
}

/* Authentication-Results (RFC 8601 section 2.2): "method=result" pairs. */
static void
authres(struct ex *x, const char *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *semi = memchr(v + i, ';', n - i);
		size_t e = semi ? (size_t)(semi - v) : n, k = i, a, b;
		char mr[48];
		size_t l = 0;

		while (k < e && (v[k] == ' ' || v[k] == '\t'))
			k++;
		a = k;
		while (k < e && v[k] != '=' && v[k] > ' ')
			k++;
		if (k < e && v[k] == '=' && k > a) {
			b = k + 1;
			while (b < e && v[b] > ' ' && v[b] != ';' && v[b] != '(')
				b++;
			for (size_t j = a; j < b && l + 1 < sizeof(mr); j++)
				mr[l++] = (char)lc((unsigned char)v[j]);
			emit(x, "ar:", mr, l);
		}
		i = e + 1;
	}
}

/* Offset of the whole word lit (case-insensitive) in v, or vl. */
static size_t
find_word(const char *v, size_t vl, size_t from, const char *lit)
{
	size_t l = strlen(lit);

	for (size_t i = from; i + l <= vl; i++)
		if ((i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t' || v[i - 1] == ')') &&
		    ieq_at((const uint8_t *)v, vl, i, lit) &&
		    (i + l == vl || v[i + l] == ' ' || v[i + l] == '\t' || v[i + l] == '('))
			return i;
	return vl;
}

/*
 * Received (RFC 5321 section 4.4): only the "from" clause (the sending
 * host's name, its reverse DNS and address block) and the "with" protocol.
 * The "by" and "for" clauses name the receiving site and the recipient:
 * they describe the mailbox, not the message, and do not generalise.
 */
static void
received(struct ex *x, const char *v, size_t vl)
{
	size_t by = find_word(v, vl, 0, "by"), with = find_word(v, vl, 0, "with");
	size_t i = ieq_at((const uint8_t *)v, vl, 0, "from ") ? 5 : vl;
	size_t end = by < with ? by : with;
	const char *semi = memchr(v, ';', vl);

	if (semi != NULL && (size_t)(semi - v) < end)
		end = (size_t)(semi - v);
	while (i < end) {
		size_t a, dots = 0;
		bool digits = true;
		char host[128];
		size_t l = 0;

		while (i < end && !host_ch((uint8_t)v[i]))
			i++;
		a = i;
		while (i < end && host_ch((uint8_t)v[i])) {
			dots += v[i] == '.';
			digits = digits && ((v[i] >= '0' && v[i] <= '9') || v[i] == '.');
			i++;
		}
		for (size_t k = a; k < i && l + 1 < sizeof(host); k++)
			host[l++] = (char)lc((unsigned char)v[k]);
		host[l] = '\0';
		if (l == 0)
			continue;
		if (digits && dots == 3) {
			char *d2 = strchr(host, '.');

			d2 = d2 ? strchr(d2 + 1, '.') : NULL;
			if (d2 != NULL)
				*d2 = '\0';
			emits(x, "rcv:ip16:", host);
		} else if (dots == 0) {
			emits(x, "rcv:w:", host);
		} else {
			const char *rd = psl() != NULL ?
			    psl_registrable_domain(psl(), host) : NULL;

			emits(x, "rcv:rd:", rd != NULL ? rd : host);
		}
	}
	if (with < vl) {
		size_t a = with + 5, b;

		while (a < vl && (v[a] == ' ' || v[a] == '\t'))
			a++;
		b = a;
		while (b < vl && b - a < 16 && v[b] > ' ' && v[b] != ';')
			b++;
		words(x, "rcv:with:", (const uint8_t *)v + a, b - a, false, false);
	}
}

/*
 * Character 3-grams of a Subject, lowercased, with every run of
 * separators one space and a space at either end: "free" gives " fr",
 * "fre", "ree", "ee ". They match words spelled apart or with a letter
 * changed ("v1agra", "F R E E"). At most 256 a message.
 */
static void
subject_grams(struct ex *x, const char *v, size_t vl)
{
	char t[258];
	size_t l = 0;

	t[l++] = ' ';
	for (size_t i = 0; i < vl && l < sizeof(t) - 1; i++) {
		uint8_t c = (uint8_t)v[i];

		if (sep(c) || trim_ch(c)) {
			if (t[l - 1] != ' ')
				t[l++] = ' ';
		} else {
			t[l++] = (char)lc(c);
		}
	}
	if (t[l - 1] != ' ')
		t[l++] = ' ';
	for (size_t i = 0; i + 3 <= l; i++)
		emit(x, "s3:", t + i, 3);
}

static void
on_header(void *arg, unsigned depth, const char *name, size_t nl, const char *v,
    size_t vl)
{
	struct ex *x = arg;
	char lname[40];
	size_t l;

	if (depth > 0)
		return;
	for (l = 0; l < nl && l + 1 < sizeof(lname); l++)
		lname[l] = (char)lc((unsigned char)name[l]);
	lname[l] = '\0';
	if (strncmp(lname, "x-spam-", 7) == 0)
		return;		/* our own verdict, or another filter's */
	emit(x, "h:", lname, l);
	if ((x->f->opts & SPAM_F_HDRORDER) && x->hdrs++ < 64) {
		/* which field follows which: the order a generator writes */
		char pair[84];
		size_t pl = strlen(x->prevh);

		memcpy(pair, x->prevh, pl);
		pair[pl] = '>';
		memcpy(pair + pl + 1, lname, l);
		emit(x, "hs:", pair, pl + 1 + l);
		memcpy(x->prevh, lname, l + 1);
		if (strcmp(lname, "date") == 0)
			emit_shape(x, "date:shape:", v, vl);
		else if (strcmp(lname, "x-mailer") == 0)
			emit_shape(x, "xm:shape:", v, vl);
		else if (strcmp(lname, "content-type") == 0) {
			const char *b = vl >= 9 ? memmem(v, vl, "boundary=", 9) : NULL;

			if (b != NULL) {
				const char *be;

				b += 9;
				b += b < v + vl && *b == '"';
				for (be = b; be < v + vl && *be != '"' && *be != ';' &&
				    *be > ' '; be++)
					;
				emit_shape(x, "bnd:shape:", b, (size_t)(be - b));
			}
		}
	}
	if (strcmp(lname, "subject") == 0) {
		decode_words(x, "s:cs:", v, vl);
		words(x, "s:", (const uint8_t *)x->tmp.data, x->tmp.len, false, false);
		emit_shape(x, "s:shape:", x->tmp.data, x->tmp.len);
		if (x->f->opts & SPAM_F_SUBJGRAMS)
			subject_grams(x, x->tmp.data, x->tmp.len);
		if (x->tmp.len == 0)
			emits(x, "s:", "empty");
		if (memchr(x->tmp.data, '!', x->tmp.len) != NULL)
			emits(x, "s:", "bang");
		{
			size_t up = 0, al = 0;

			for (size_t i = 0; i < x->tmp.len; i++) {
				int c = (unsigned char)x->tmp.data[i];

				al += (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
				up += c >= 'A' && c <= 'Z';
			}
			if (al >= 6 && up * 10 >= al * 8)
				emits(x, "s:", "caps");
		}
	} else if (strcmp(lname, "from") == 0) {
		decode_words(x, "f:cs:", v, vl);
		words(x, "f:", (const uint8_t *)x->tmp.data, x->tmp.len, false, false);
		emit_shape(x, "f:shape:", x->tmp.data, x->tmp.len);
		addr_domain(x, "f:dom:", "f:rd:", x->tmp.data, x->tmp.len);
	} else if (strcmp(lname, "reply-to") == 0) {
		addr_domain(x, "rt:dom:", "rt:rd:", v, vl);
	} else if (strcmp(lname, "return-path") == 0) {
		addr_domain(x, "rp:dom:", "rp:rd:", v, vl);
	} else if (strcmp(lname, "message-id") == 0) {
		addr_domain(x, "mid:dom:", "mid:rd:", v, vl);
		emit_shape(x, "mid:shape:", v, vl);
	} else if (strcmp(lname, "to") == 0 || strcmp(lname, "cc") == 0) {
		for (size_t i = 0; i < vl; i++)
			x->to += v[i] == '@';
		if (vl >= 11 && memmem(v, vl, "ndisclosed", 10) != NULL)
			emits(x, "to:", "undisclosed");
	} else if (strcmp(lname, "received") == 0) {
		if (++x->rcv <= 8)
			received(x, v, vl < 1024 ? vl : 1024);
	} else if (strcmp(lname, "x-mailer") == 0 || strcmp(lname, "user-agent") == 0) {
		words(x, "xm:", (const uint8_t *)v, vl < 256 ? vl : 256, false, false);
	} else if (strcmp(lname, "content-type") == 0) {
		size_t k = 0;

		char ct[64];

		while (k < vl && k + 1 < sizeof(ct) && v[k] != ';' && v[k] > ' ') {
			ct[k] = (char)lc((unsigned char)v[k]);
			k++;
		}
		emit(x, "ct:", ct, k);
	} else if (strcmp(lname, "date") == 0) {
		const char *sp = vl ? memrchr(v, ' ', vl) : NULL;

		if (sp != NULL)
			emit(x, "date:tz:", sp + 1, (size_t)(v + vl - (sp + 1)));
	} else if (strcmp(lname, "authentication-results") == 0) {
		authres(x, v, vl);
	} else if (strcmp(lname, "precedence") == 0 ||
	    strcmp(lname, "x-priority") == 0 || strcmp(lname, "importance") == 0 ||
	    strcmp(lname, "x-msmail-priority") == 0) {
		buf_reset(&x->tmp);
		buf_addf(&x->tmp, "%s:", lname);
		words(x, x->tmp.data, (const uint8_t *)v, vl < 64 ? vl : 64, false, false);
	} else if ((x->f->opts & SPAM_F_HDRWORDS) && !hname(name, nl, "delivered-to") &&
	    !hname(name, nl, "content-length") && !hname(name, nl, "lines") &&
	    !hname(name, nl, "status") && !hname(name, nl, "x-uidl") &&
	    !hname(name, nl, "references") && !hname(name, nl, "in-reply-to")) {
		buf_reset(&x->tmp);
		buf_addf(&x->tmp, "hv:%s:", lname);
		words(x, x->tmp.data, (const uint8_t *)v, vl < 256 ? vl : 256, false, false);
	}
}

static void
on_anomaly(void *arg, const char *what)
{
	emits(arg, "anom:", what);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

struct pair {
	uint32_t h, name;
};

static int
cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;
}

/* Sort and drop duplicates (keeping the first-emitted name). */
static void
unique(struct spam_feats *f)
{
	size_t o = 0;

	if (f->n == 0)
		return;
	if (!f->want_names) {
		qsort(f->h, f->n, sizeof(*f->h), cmp_u32);
		for (size_t i = 1; i < f->n; i++)
			if (f->h[i] != f->h[o])
				f->h[++o] = f->h[i];
	} else {
		struct pair *p = xreallocarray(NULL, f->n, sizeof(*p));

		for (size_t i = 0; i < f->n; i++) {
			p[i].h = f->h[i];
			p[i].name = f->name[i];
		}
		qsort(p, f->n, sizeof(*p), cmp_pair);
		f->h[0] = p[0].h;
		f->name[0] = p[0].name;
		for (size_t i = 1; i < f->n; i++) {
			if (p[i].h != f->h[o]) {
				f->h[++o] = p[i].h;
				f->name[o] = p[i].name;
			}
		}
		free(p);
	}
	f->n = o + 1;
}

int
spam_extract(struct spam_feats *f, const uint8_t *msg, size_t len)
{
	static const struct spam_walk_ops ops = { on_header, on_part, on_anomaly };
	struct ex x;

	memset(&x, 0, sizeof(x));
	x.f = f;
	f->n = 0;
	f->capped = false;
	buf_reset(&f->names);
	buf_init(&x.text, SPAM_TEXT_MAX * 2);
	buf_init(&x.tmp, 256 * 1024);
	spam_walk(msg, len, &ops, &x);
	emit_bucket(&x, "rcv:n:", (unsigned long)x.rcv);
	emit_bucket(&x, "mime:parts:", (unsigned long)x.parts);
	emit_bucket(&x, "att:n:", (unsigned long)x.att);
	emit_bucket(&x, "u:n:", (unsigned long)x.urls);
	emit_bucket(&x, "to:n:", (unsigned long)x.to);
	emit_bucket(&x, "txt:len:", (unsigned long)x.text_used);
	if (x.html > 0 && x.plain == 0)
		emits(&x, "mime:", "htmlonly");
	if (x.alpha >= 40)
		emit_bucket(&x, "txt:caps:", x.upper * 10 / x.alpha);
	if (x.letterrefs > 0)
		emit_bucket(&x, "html:letterrefs:", (unsigned long)x.letterrefs);
	if (f->capped) {
		f->capped = false;
		f->n = SPAM_FEATS_MAX - 1;
		emits(&x, "feat:", "capped");
		f->capped = true;
	}
	buf_free(&x.text);
	buf_free(&x.tmp);
	unique(f);
	return 0;
}
