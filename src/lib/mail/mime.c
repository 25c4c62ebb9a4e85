/*
 * mime.c - MIME fields and structure: RFC 2045 (5 Content-Type, 6
 * Content-Transfer-Encoding), RFC 2046 (5.1 multipart and its boundary
 * search, 5.2 message/rfc822), RFC 2183 (Content-Disposition), RFC 2231
 * (parameter continuations, charsets and languages), RFC 6532 3.5
 * (message/global).
 *
 * Trusts nothing in the message. Parts point into the caller's buffer;
 * the tree is limited in depth and part count; each multipart body is
 * scanned once per nesting level, so time is at most max_depth times the
 * input size; recursion depth is bounded by max_depth (capped at 64).
 */
#include "mail/mime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/charset.h"
#include "mail/codec.h"
#include "mail/defect.h"
#include "util/err.h"
#include "util/mem.h"

#define DEPTH_CAP 64
#define BOUNDARY_MAX 200	/* RFC 2046 says 70; be generous, not unbounded */
#define SECTION_MAX 999

static int
wsp(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
tspecial(uint8_t c)
{
	return c != 0 && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* RFC 2045 token character. */
static int
tchar(uint8_t c)
{
	return c > 32 && c < 127 && !tspecial(c);
}

/* Skip whitespace and (nested) comments. */
static size_t
skip_cfws(const char *s, size_t i, size_t len)
{
	while (i < len) {
		if (wsp((uint8_t)s[i])) {
			i++;
		} else if (s[i] == '(') {
			size_t depth = 0;

			for (; i < len; i++) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
		} else {
			break;
		}
	}
	return i;
}

static char *
lower_dup(const char *s, size_t n)
{
	char *d = xmemdup(s, n);
	size_t i;

	for (i = 0; i < n; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] + 32);
	return d;
}

/* --- parameters ------------------------------------------------------ */

struct rawparam {
	const char *name;	/* base name, without '*' parts */
	size_t nlen;
	long section;		/* -1: not a continuation */
	int ext;		/* value is RFC 2231 extended (pct-encoded) */
	struct buf val;		/* value, unquoted */
	int used;
};

const char *
mail_param_get(const struct mail_params *ps, const char *name)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (strcasecmp(ps->p[i].name, name) == 0)
			return ps->p[i].value;
	return NULL;
}

void
mail_params_free(struct mail_params *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		free(ps->p[i].name);
		free(ps->p[i].value);
	}
	free(ps->p);
	ps->p = NULL;
	ps->n = 0;
}

/* Split "name*3*" into base, section and ext. */
static void
split_name(struct rawparam *rp, const char *s, size_t n, unsigned *d)
{
	const char *star = memchr(s, '*', n);
	size_t i;

	rp->name = s;
	rp->nlen = n;
	rp->section = -1;
	rp->ext = 0;
	if (star == NULL)
		return;
	rp->nlen = (size_t)(star - s);
	i = rp->nlen + 1;
	if (i == n) {
		rp->ext = 1;	/* name*= */
		return;
	}
	if (s[i] >= '0' && s[i] <= '9') {
		long sec = 0;

		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			sec = sec * 10 + (s[i] - '0');
			if (sec > SECTION_MAX)
				break;
		}
		if (i == n || (i + 1 == n && s[i] == '*')) {
			rp->section = sec;
			rp->ext = i + 1 == n;
			return;
		}
	}
	*d |= MAIL_D_BAD_PARAM;
	rp->nlen = n;	/* keep the odd name whole */
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Undo %XX of an RFC 2231 extended value into out. */
static void
pct_decode(const char *s, size_t n, struct buf *out, unsigned *d)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int hi = -1, lo = -1;

		if (s[i] == '%') {
			hi = i + 1 < n ? hexval((uint8_t)s[i + 1]) : -1;
			lo = i + 2 < n ? hexval((uint8_t)s[i + 2]) : -1;
		}
		if (hi >= 0 && lo >= 0) {
			buf_addc(out, (char)(hi << 4 | lo));
			i += 2;
		} else {
			if (s[i] == '%')
				*d |= MAIL_D_BAD_PARAM;
			buf_addc(out, s[i]);
		}
	}
}

/* Decode "charset'language'pct-value" (section 0 or unsectioned). */
static void
ext_first(const struct buf *v, char *cs, size_t cssize, struct buf *bytes,
    unsigned *d)
{
	const char *q1 = memchr(v->data, '\'', v->len), *q2 = NULL;

	cs[0] = '\0';
	if (q1 != NULL)
		q2 = memchr(q1 + 1, '\'', v->len - (size_t)(q1 + 1 - v->data));
	if (q2 == NULL) {
		*d |= MAIL_D_BAD_PARAM;
		pct_decode(v->data, v->len, bytes, d);
		return;
	}
	if ((size_t)(q1 - v->data) < cssize) {
		memcpy(cs, v->data, (size_t)(q1 - v->data));
		cs[q1 - v->data] = '\0';
	} else {
		*d |= MAIL_D_CHARSET;
	}
	pct_decode(q2 + 1, v->len - (size_t)(q2 + 1 - v->data), bytes, d);
}

/* Plain (not extended) value to UTF-8: RFC 2047 words as MUAs use them in
 * quoted filenames, else raw UTF-8 (RFC 6532). */
static void
plain_value(const struct buf *v, struct buf *out, unsigned *d)
{
	if (memmem(v->data, v->len, "=?", 2) != NULL)
		mail_ew_decode(v->data, v->len, out, d);
	else
		mail_charset_to_utf8(NULL, v->data, v->len, out, d);
}

static void
assemble(struct mail_params *ps, struct rawparam *rp, size_t n, unsigned *d)
{
	size_t i, j;

	ps->p = n ? xcalloc(n, sizeof(*ps->p)) : NULL;
	ps->n = 0;
	for (i = 0; i < n; i++) {
		struct buf bytes, out;
		char cs[MAIL_CHARSET_MAX + 1] = "";
		struct rawparam *ext = NULL, *plain = NULL;
		long maxsec = -1, sec;
		int cs_known = 0;

		if (rp[i].used)
			continue;
		for (j = i; j < n; j++) {
			if (rp[j].used || rp[j].nlen != rp[i].nlen ||
			    strncasecmp(rp[j].name, rp[i].name, rp[i].nlen) != 0)
				continue;
			rp[j].used = 1;
			if (rp[j].section >= 0) {
				if (rp[j].section > maxsec)
					maxsec = rp[j].section;
			} else if (rp[j].ext) {
				if (ext == NULL)
					ext = &rp[j];
			} else if (plain == NULL) {
				plain = &rp[j];
			} else {
				*d |= MAIL_D_BAD_PARAM;	/* repeated */
			}
		}
		buf_init(&bytes, 0);
		buf_init(&out, 0);
		if (ext != NULL) {
			ext_first(&ext->val, cs, sizeof(cs), &bytes, d);
			mail_charset_to_utf8(cs[0] ? cs : NULL, bytes.data,
			    bytes.len, &out, d);
		} else if (maxsec >= 0) {
			/* RFC 2231 3: sections 0, 1, ... up to the first gap */
			for (sec = 0; sec <= maxsec; sec++) {
				struct rawparam *s = NULL;

				for (j = i; j < n; j++) {
					if (rp[j].section == sec &&
					    rp[j].nlen == rp[i].nlen &&
					    strncasecmp(rp[j].name, rp[i].name,
					    rp[i].nlen) == 0) {
						s = &rp[j];
						break;
					}
				}
				if (s == NULL) {
					*d |= MAIL_D_BAD_PARAM;
					break;
				}
				if (s->ext && sec == 0) {
					ext_first(&s->val, cs, sizeof(cs), &bytes, d);
					cs_known = 1;
				} else if (s->ext) {
					pct_decode(s->val.data, s->val.len, &bytes, d);
				} else {
					buf_add(&bytes, s->val.data, s->val.len);
				}
			}
			if (cs_known)
				mail_charset_to_utf8(cs[0] ? cs : NULL,
				    bytes.data, bytes.len, &out, d);
			else
				plain_value(&bytes, &out, d);
		} else {
			plain_value(&plain->val, &out, d);
		}
		ps->p[ps->n].name = lower_dup(rp[i].name, rp[i].nlen);
		ps->p[ps->n].value = buf_steal(&out, NULL);
		ps->n++;
		buf_free(&bytes);
		buf_free(&out);
	}
}

void
mail_params_parse(struct mail_params *ps, const char *s, size_t len,
    unsigned *defects)
{
	struct rawparam rp[MAIL_PARAMS_MAX];
	size_t n = 0, i = 0, k;
	unsigned d = 0;
	int need_semi = 0;

	while (i < len) {
		size_t start;

		i = skip_cfws(s, i, len);
		if (i >= len)
			break;
		if (s[i] == ';') {
			need_semi = 0;
			i++;
			continue;
		}
		start = i;
		while (i < len && !wsp((uint8_t)s[i]) && s[i] != '=' &&
		    s[i] != ';' && s[i] != '"' && s[i] != '(')
			i++;
		if (i == start) {
			d |= MAIL_D_BAD_PARAM;
			i++;
			continue;
		}
		if (need_semi)
			d |= MAIL_D_BAD_PARAM;
		need_semi = 1;
		k = i;
		i = skip_cfws(s, i, len);
		if (i >= len || s[i] != '=') {
			d |= MAIL_D_BAD_PARAM;
			continue;
		}
		i = skip_cfws(s, i + 1, len);
		if (n == MAIL_PARAMS_MAX) {
			d |= MAIL_D_LIMIT;
			break;
		}
		split_name(&rp[n], s + start, k - start, &d);
		rp[n].used = 0;
		buf_init(&rp[n].val, 0);
		if (i < len && s[i] == '"') {
			size_t run = ++i;

			while (i < len && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < len) {
					buf_add(&rp[n].val, s + run, i - run);
					run = ++i;
				}
				i++;
			}
			buf_add(&rp[n].val, s + run, i - run);
			if (i < len)
				i++;
			else
				d |= MAIL_D_BAD_PARAM;
		} else {
			start = i;
			while (i < len && s[i] != ';' && !wsp((uint8_t)s[i]) &&
			    s[i] != '(')
				i++;
			buf_add(&rp[n].val, s + start, i - start);
		}
		if (rp[n].nlen == 0) {
			d |= MAIL_D_BAD_PARAM;
			buf_free(&rp[n].val);
			continue;
		}
		n++;
	}
	assemble(ps, rp, n, &d);
	for (k = 0; k < n; k++)
		buf_free(&rp[k].val);
	if (defects)
		*defects |= d;
}

/* --- Content-Type, Content-Transfer-Encoding, Content-Disposition ---- */

/* A token at s[i..): its length, after skipping CFWS into *i. */
static size_t
token_at(const char *s, size_t len, size_t *i)
{
	size_t j;

	*i = skip_cfws(s, *i, len);
	for (j = *i; j < len && tchar((uint8_t)s[j]); j++)
		;
	return j - *i;
}

void
mail_ctype_set(struct mail_ctype *ct, const char *type, const char *subtype)
{
	ct->type = xstrdup(type);
	ct->subtype = xstrdup(subtype);
	ct->params.p = NULL;
	ct->params.n = 0;
}

int
mail_ctype_parse(struct mail_ctype *ct, const char *v, size_t len,
    unsigned *defects)
{
	size_t i = 0, tl, t0, sl, s0;

	memset(ct, 0, sizeof(*ct));
	tl = token_at(v, len, &i);
	t0 = i;
	i += tl;
	i = skip_cfws(v, i, len);
	if (tl == 0 || i >= len || v[i] != '/')
		goto bad;
	i++;
	sl = token_at(v, len, &i);
	s0 = i;
	i += sl;
	if (sl == 0)
		goto bad;
	i = skip_cfws(v, i, len);
	if (i < len && v[i] != ';' && defects)
		*defects |= MAIL_D_BAD_PARAM;
	ct->type = lower_dup(v + t0, tl);
	ct->subtype = lower_dup(v + s0, sl);
	mail_params_parse(&ct->params, v + i, len - i, defects);
	return 0;
bad:
	if (defects)
		*defects |= MAIL_D_BAD_CTYPE;
	mail_ctype_set(ct, "text", "plain");
	return PTT_EINVAL;
}

void
mail_ctype_free(struct mail_ctype *ct)
{
	free(ct->type);
	free(ct->subtype);
	ct->type = ct->subtype = NULL;
	mail_params_free(&ct->params);
}

bool
mail_ctype_is(const struct mail_ctype *ct, const char *type,
    const char *subtype)
{
	return ct->type != NULL && strcmp(ct->type, type) == 0 &&
	    (subtype == NULL || strcmp(ct->subtype, subtype) == 0);
}

enum mail_cte
mail_cte_parse(const char *v, size_t len)
{
	static const struct { const char *name; enum mail_cte cte; } t[] = {
		{ "7bit", MAIL_CTE_7BIT }, { "8bit", MAIL_CTE_8BIT },
		{ "binary", MAIL_CTE_BINARY },
		{ "quoted-printable", MAIL_CTE_QP }, { "base64", MAIL_CTE_BASE64 },
	};
	size_t i = 0, n, k;

	n = token_at(v, len, &i);
	if (skip_cfws(v, i + n, len) != len)
		return MAIL_CTE_UNKNOWN;
	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++)
		if (strlen(t[k].name) == n && strncasecmp(v + i, t[k].name, n) == 0)
			return t[k].cte;
	return MAIL_CTE_UNKNOWN;
}

int
mail_cdisp_parse(struct mail_cdisp *cd, const char *v, size_t len,
    unsigned *defects)
{
	size_t i = 0, n, t0;
	int ret = 0;

	memset(cd, 0, sizeof(*cd));
	n = token_at(v, len, &i);
	t0 = i;
	i = skip_cfws(v, i + n, len);
	if (n == 0) {
		/* RFC 2183 2.8: an unknown disposition is an attachment. */
		cd->type = xstrdup("attachment");
		ret = PTT_EINVAL;
	} else {
		cd->type = lower_dup(v + t0, n);
	}
	if (ret != 0 || (i < len && v[i] != ';')) {
		if (defects)
			*defects |= MAIL_D_BAD_PARAM;
	}
	mail_params_parse(&cd->params, v + i, len - i, defects);
	return ret;
}

void
mail_cdisp_free(struct mail_cdisp *cd)
{
	free(cd->type);
	cd->type = NULL;
	mail_params_free(&cd->params);
}

/* --- the tree -------------------------------------------------------- */

static const struct mail_mime_limits default_limits = {
	.max_depth = 20,
	.max_parts = 1000,
	.hdr = {
		.max_fields = 1000,
		.max_line = 65536,
		.max_field = 262144,
		.max_bytes = 4u << 20,
	},
};

struct ctx {
	const struct mail_mime_limits *lim;
	struct mail_mime *m;
	unsigned max_depth;
};

static struct mail_part *entity(struct ctx *cx, struct mail_part *parent,
    const char *raw, size_t len, unsigned depth, int digest);

static void
degrade(struct mail_part *p, unsigned defect)
{
	mail_ctype_free(&p->ct);
	mail_ctype_set(&p->ct, "text", "plain");
	p->defects |= defect;
}

/*
 * RFC 2046 5.1.1: split p's body at "--boundary" lines. A delimiter line is
 * "--" boundary ["--"] followed only by spaces/tabs up to its line end;
 * the line end before it belongs to it. Returns whether any was found.
 */
static int
split(struct ctx *cx, struct mail_part *p, const char *b)
{
	const char *s = p->body, *end = s + p->body_len, *ls = s;
	const char *part = NULL;	/* current part's start */
	struct mail_part **tail = &p->child;
	size_t bl = strlen(b);
	int digest = strcmp(p->ct.subtype, "digest") == 0;

	while (ls < end) {
		const char *nl = memchr(ls, '\n', (size_t)(end - ls));
		const char *next = nl ? nl + 1 : end, *q, *cend;
		int close = 0;

		if ((size_t)(next - ls) < 2 + bl || ls[0] != '-' || ls[1] != '-' ||
		    memcmp(ls + 2, b, bl) != 0) {
			ls = next;
			continue;
		}
		q = ls + 2 + bl;
		if (next - q >= 2 && q[0] == '-' && q[1] == '-') {
			close = 1;
			q += 2;
		}
		while (q < next && (*q == ' ' || *q == '\t'))
			q++;
		if (q < next && *q == '\r' && (q + 1 == next || q[1] == '\n'))
			q++;
		if (q < next && *q != '\n') {
			ls = next;	/* "--boundaryX": not ours */
			continue;
		}
		cend = ls;
		if (cend > (part ? part : s) && cend[-1] == '\n') {
			cend--;
			if (cend > (part ? part : s) && cend[-1] == '\r')
				cend--;
		}
		if (part == NULL && p->preamble == NULL) {
			p->preamble = s;
			p->preamble_len = (size_t)(cend - s);
		} else {
			struct mail_part *c = entity(cx, p, part,
			    (size_t)(cend - part), p->depth + 1, digest);

			if (c == NULL)
				return 1;	/* part limit */
			*tail = c;
			tail = &c->next;
		}
		if (close) {
			p->epilogue = next;
			p->epilogue_len = (size_t)(end - next);
			return 1;
		}
		part = next;
		ls = next;
	}
	if (part == NULL && p->preamble == NULL)
		return 0;
	p->defects |= MAIL_D_NO_CLOSE;
	if (part != NULL) {
		struct mail_part *c = entity(cx, p, part, (size_t)(end - part),
		    p->depth + 1, digest);

		if (c != NULL)
			*tail = c;
	}
	return 1;
}

static struct mail_part *
entity(struct ctx *cx, struct mail_part *parent, const char *raw, size_t len,
    unsigned depth, int digest)
{
	struct mail_part *p;
	const struct mail_field *f;
	size_t i;

	if (cx->m->nparts >= cx->lim->max_parts) {
		cx->m->defects |= MAIL_D_LIMIT;
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->parent = parent;
	p->depth = depth;
	p->id = cx->m->nparts++;
	p->raw = raw;
	p->raw_len = len;
	mail_hdr_parse(&p->hdr, raw, len, &cx->lim->hdr);
	p->defects |= p->hdr.defects;
	p->body = p->hdr.body;
	p->body_len = p->hdr.body_len;

	i = mail_hdr_find(&p->hdr, "Content-Type", 0);
	if (i != MAIL_HDR_NONE) {
		f = &p->hdr.f[i];
		mail_ctype_parse(&p->ct, f->value, f->value_len, &p->defects);
		if (mail_hdr_find(&p->hdr, "Content-Type", i + 1) != MAIL_HDR_NONE)
			p->defects |= MAIL_D_BAD_CTYPE;
	} else if (digest) {
		mail_ctype_set(&p->ct, "message", "rfc822");
	} else {
		mail_ctype_set(&p->ct, "text", "plain");
	}
	p->cte = MAIL_CTE_7BIT;
	if ((f = mail_hdr_get(&p->hdr, "Content-Transfer-Encoding")) != NULL) {
		p->cte = mail_cte_parse(f->value, f->value_len);
		if (p->cte == MAIL_CTE_UNKNOWN)
			p->defects |= MAIL_D_BAD_CTE;
	}
	if ((f = mail_hdr_get(&p->hdr, "Content-Disposition")) != NULL) {
		struct mail_cdisp cd;
		const char *fn;

		mail_cdisp_parse(&cd, f->value, f->value_len, &p->defects);
		p->attachment = strcmp(cd.type, "attachment") == 0;
		if ((fn = mail_param_get(&cd.params, "filename")) != NULL)
			p->filename = xstrdup(fn);
		mail_cdisp_free(&cd);
	}
	if (p->filename == NULL) {
		const char *fn = mail_param_get(&p->ct.params, "name");

		if (fn != NULL)
			p->filename = xstrdup(fn);
	}

	if (mail_ctype_is(&p->ct, "multipart", NULL)) {
		const char *b = mail_param_get(&p->ct.params, "boundary");

		if (p->cte != MAIL_CTE_7BIT && p->cte != MAIL_CTE_8BIT &&
		    p->cte != MAIL_CTE_BINARY)
			p->defects |= MAIL_D_BAD_CTE;	/* ignored (RFC 2045 6.4) */
		if (b == NULL || b[0] == '\0' || strlen(b) > BOUNDARY_MAX)
			degrade(p, MAIL_D_NO_BOUNDARY);
		else if (depth >= cx->max_depth)
			p->defects |= MAIL_D_DEPTH;
		else if (!split(cx, p, b))
			degrade(p, MAIL_D_NO_BOUNDARY);
	} else if (mail_ctype_is(&p->ct, "message", "rfc822") ||
	    mail_ctype_is(&p->ct, "message", "global")) {
		if (p->cte == MAIL_CTE_QP || p->cte == MAIL_CTE_BASE64 ||
		    p->cte == MAIL_CTE_UNKNOWN)
			p->defects |= MAIL_D_BAD_CTE;	/* a leaf, not descended */
		else if (depth >= cx->max_depth)
			p->defects |= MAIL_D_DEPTH;
		else
			p->child = entity(cx, p, p->body, p->body_len,
			    depth + 1, 0);
	}
	cx->m->defects |= p->defects;
	return p;
}

int
mail_mime_parse(struct mail_mime *m, const void *msg, size_t len,
    const struct mail_mime_limits *lim)
{
	struct mail_mime_limits l = lim ? *lim : default_limits;
	struct ctx cx;

	memset(m, 0, sizeof(*m));
	if (l.max_parts == 0)
		l.max_parts = 1;	/* the root always exists */
	cx.lim = &l;
	cx.m = m;
	cx.max_depth = l.max_depth < DEPTH_CAP ? l.max_depth : DEPTH_CAP;
	m->root = entity(&cx, NULL, msg, len, 0, 0);
	return 0;
}

static void
part_free(struct mail_part *p)
{
	while (p != NULL) {
		struct mail_part *next = p->next;

		part_free(p->child);
		mail_hdr_free(&p->hdr);
		mail_ctype_free(&p->ct);
		free(p->filename);
		free(p);
		p = next;
	}
}

void
mail_mime_free(struct mail_mime *m)
{
	part_free(m->root);
	m->root = NULL;
	m->nparts = 0;
}

const char *
mail_part_charset(const struct mail_part *p)
{
	const char *cs = mail_param_get(&p->ct.params, "charset");

	if (cs == NULL && mail_ctype_is(&p->ct, "text", NULL))
		cs = "us-ascii";
	return cs;
}

int
mail_part_decode(const struct mail_part *p, struct buf *out, unsigned *defects)
{
	switch (p->cte) {
	case MAIL_CTE_QP:
		return mail_qp_decode(p->body, p->body_len, out, false, defects);
	case MAIL_CTE_BASE64:
		return mail_b64_decode(p->body, p->body_len, out, defects);
	default:
		buf_add(out, p->body, p->body_len);
		return buf_error(out) ? PTT_ENOSPC : 0;
	}
}

int
mail_part_text(const struct mail_part *p, struct buf *out, unsigned *defects)
{
	struct buf raw;
	int ret;

	buf_init(&raw, out->max);
	ret = mail_part_decode(p, &raw, defects);
	if (ret == 0)
		ret = mail_charset_to_utf8(mail_part_charset(p), raw.data,
		    raw.len, out, defects);
	buf_free(&raw);
	return ret;
}

int
mail_mime_walk(const struct mail_mime *m, mail_walk_fn fn, void *arg)
{
	const struct mail_part *p = m->root;

	while (p != NULL) {
		int r = fn(p, arg);

		if (r < 0)
			return r;
		if (r != MAIL_WALK_SKIP && p->child != NULL) {
			p = p->child;
			continue;
		}
		while (p != NULL && p->next == NULL)
			p = p->parent;
		if (p != NULL)
			p = p->next;
	}
	return 0;
}
