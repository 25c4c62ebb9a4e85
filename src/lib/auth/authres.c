/*
 * authres.c - the Authentication-Results header field (RFC 8601 2.2, 5):
 * formatting with folding and quoting, a bounds-checked parser for fields
 * from outside, and the removal of fields that claim our authserv-id.
 *
 * Trusts: nothing in the values it parses.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/authres.h"
#include "util/cursor.h"
#include "util/err.h"
#include "util/mem.h"

#define AR_FIELD "Authentication-Results"
#define AR_FOLD 78
#define AR_COMMENT_DEPTH 8

/* ---- building ---- */

void
ar_init(struct authres *a, const char *authserv_id)
{
	memset(a, 0, sizeof(*a));
	a->authserv_id = xstrdup(authserv_id ? authserv_id : "");
	a->version = 1;
}

static void
result_free(struct ar_result *r)
{
	for (size_t i = 0; i < r->nprop; i++) {
		free(r->prop[i].ptype);
		free(r->prop[i].property);
		free(r->prop[i].value);
	}
	free(r->prop);
	free(r->method);
	free(r->method_version);
	free(r->result);
	free(r->reason);
	free(r->comment);
}

void
ar_free(struct authres *a)
{
	for (size_t i = 0; i < a->n; i++)
		result_free(&a->res[i]);
	free(a->res);
	free(a->authserv_id);
	memset(a, 0, sizeof(*a));
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct ar_result *
ar_add(struct authres *a, const char *method, const char *result,
    const char *reason, const char *comment)
{
	struct ar_result *r;

	a->res = xreallocarray(a->res, a->n + 1, sizeof(*a->res));
	r = &a->res[a->n++];
	memset(r, 0, sizeof(*r));
	r->method = xstrdup(method);
	r->result = xstrdup(result);
	r->reason = dup_or_null(reason);
	r->comment = dup_or_null(comment);
	return r;
}

void
ar_add_prop(struct ar_result *r, const char *ptype, const char *property,
    const char *value)
{
	struct ar_prop *p;

	r->prop = xreallocarray(r->prop, r->nprop + 1, sizeof(*r->prop));
	p = &r->prop[r->nprop++];
	p->ptype = xstrdup(ptype);
	p->property = xstrdup(property);
	p->value = xstrdup(value ? value : "");
}

/* ---- formatting ---- */

/* RFC 2045 token: VCHAR except tspecials. */
static bool
ch_token(uint8_t c)
{
	return ch_vchar(c) && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static bool
ch_atext(uint8_t c)
{
	return ch_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!ch_token((uint8_t)*s))
			return false;
	return true;
}

/* A dot-atom (RFC 5322 3.2.3) of length n. */
static bool
is_dot_atom(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !ch_atext((uint8_t)s[i]))
			return false;
	}
	return true;
}

/* A domain-name of LDH labels (RFC 8601 2.2 refers to RFC 6376's). */
static bool
is_domain(const char *s)
{
	size_t label = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (ch_alnum((uint8_t)*s) || *s == '-' || *s == '_')
			label++;
		else
			return false;
	}
	return label > 0;
}

/* pvalue without quotes: a token, or [local-part] "@" domain-name. */
static bool
is_bare_pvalue(const char *v)
{
	const char *at = strrchr(v, '@');

	if (at == NULL)
		return is_token(v);
	return is_domain(at + 1) && (at == v || is_dot_atom(v, (size_t)(at - v)));
}

/* Printable ASCII only: anything else in a value we write becomes '?'. */
static char
safe(char c)
{
	return (c >= 0x20 && c < 0x7f) || c == '\t' ? c : '?';
}

static void
add_quoted(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_addc(b, '\\');
		buf_addc(b, safe(*s));
	}
	buf_addc(b, '"');
}

static void
add_value(struct buf *b, const char *s, bool pvalue)
{
	if (pvalue ? is_bare_pvalue(s) : is_token(s))
		buf_adds(b, s);
	else
		add_quoted(b, s);
}

/* Add one atom, folding first when it would pass the fold column. */
static void
add_atom(struct buf *out, size_t *col, const struct buf *atom)
{
	if (*col + 1 + atom->len > AR_FOLD && *col > 9) {
		/* Continuing a resinfo: indented one more than its start. */
		buf_adds(out, "\r\n\t ");
		*col = 9;
	} else {
		buf_addc(out, ' ');
		(*col)++;
	}
	buf_add(out, atom->data, atom->len);
	*col += atom->len;
}

int
ar_format(const struct authres *a, struct buf *out)
{
	struct buf atom;
	size_t col;

	buf_init(&atom, 0);
	buf_adds(out, AR_FIELD ":");
	col = strlen(AR_FIELD ":");
	add_value(&atom, a->authserv_id, false);
	buf_addc(&atom, ';');
	add_atom(out, &col, &atom);
	if (a->n == 0) {
		buf_reset(&atom);
		buf_adds(&atom, "none");
		add_atom(out, &col, &atom);
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct ar_result *r = &a->res[i];
		bool last = i + 1 == a->n;

		/* Each resinfo on its own line. */
		buf_adds(out, "\r\n\t");
		col = 8;
		buf_reset(&atom);
		buf_addf(&atom, "%s=%s", r->method, r->result);
		if (r->comment == NULL && r->reason == NULL && r->nprop == 0 &&
		    !last)
			buf_addc(&atom, ';');
		buf_add(out, atom.data, atom.len);
		col += atom.len;
		if (r->comment != NULL) {
			buf_reset(&atom);
			buf_addc(&atom, '(');
			for (const char *p = r->comment; *p; p++) {
				if (*p == '(' || *p == ')' || *p == '\\')
					buf_addc(&atom, '\\');
				buf_addc(&atom, safe(*p));
			}
			buf_addc(&atom, ')');
			if (r->reason == NULL && r->nprop == 0 && !last)
				buf_addc(&atom, ';');
			add_atom(out, &col, &atom);
		}
		if (r->reason != NULL) {
			buf_reset(&atom);
			buf_adds(&atom, "reason=");
			add_quoted(&atom, r->reason);
			if (r->nprop == 0 && !last)
				buf_addc(&atom, ';');
			add_atom(out, &col, &atom);
		}
		for (size_t k = 0; k < r->nprop; k++) {
			buf_reset(&atom);
			buf_addf(&atom, "%s.%s=", r->prop[k].ptype,
			    r->prop[k].property);
			add_value(&atom, r->prop[k].value, true);
			if (k + 1 == r->nprop && !last)
				buf_addc(&atom, ';');
			add_atom(out, &col, &atom);
		}
	}
	buf_adds(out, "\r\n");
	buf_free(&atom);
	return buf_error(out) ? PTT_ENOSPC : 0;
}

/* ---- parsing ---- */

static bool
ch_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
ch_ldh(uint8_t c)
{
	return ch_alnum(c) || c == '-' || c == '_';
}

/* One comment, the '(' already consumed; its text (unescaped) goes to
 * text when not NULL. Nesting is followed to AR_COMMENT_DEPTH. */
static void
comment(struct cur *c, struct buf *text)
{
	unsigned depth = 1;

	while (!c->err && depth > 0) {
		uint8_t ch = cur_getc(c);
		if (c->err)
			break;
		if (ch == '\\')
			ch = cur_getc(c);
		else if (ch == '(') {
			if (++depth > AR_COMMENT_DEPTH)
				cur_fail(c, PTT_EINVAL);
		} else if (ch == ')') {
			if (--depth == 0)
				break;
		}
		if (text != NULL && !c->err)
			buf_addc(text, (char)ch);
	}
}

/* [CFWS]; the first comment's text goes to text (when not NULL and still
 * empty). */
static void
cfws(struct cur *c, struct buf *text)
{
	for (;;) {
		cur_span(c, ch_ws);
		if (!cur_accept(c, '('))
			return;
		comment(c, text != NULL && text->len == 0 ? text : NULL);
		if (c->err)
			return;
	}
}

static void
quoted_string(struct cur *c, struct buf *out)
{
	cur_expect(c, '"');
	while (!c->err) {
		uint8_t ch = cur_getc(c);
		if (ch == '"' || c->err)
			return;
		if (ch == '\\')
			ch = cur_getc(c);
		buf_addc(out, (char)ch);
	}
}

/* value = token / quoted-string (RFC 2045). */
static void
value(struct cur *c, struct buf *out)
{
	if (cur_peek(c) == '"') {
		quoted_string(c, out);
		return;
	}
	const uint8_t *p = c->p;
	size_t n = cur_span(c, ch_token);
	if (n == 0)
		cur_fail(c, PTT_EINVAL);
	else
		buf_add(out, p, n);
}

static bool
ch_pvalue(uint8_t c)
{
	return ch_vchar(c) && c != ';' && c != '(' && c != ')' && c != '"';
}

/* pvalue, leniently: a quoted-string (maybe followed by "@domain") or
 * anything printable up to white space, ';' or a comment. */
static void
pvalue(struct cur *c, struct buf *out)
{
	if (cur_peek(c) == '"') {
		quoted_string(c, out);
		if (cur_peek(c) != '@')
			return;
	}
	const uint8_t *p = c->p;
	size_t n = cur_span(c, ch_pvalue);
	buf_add(out, p, n);
}

static char *
keyword(struct cur *c)
{
	const uint8_t *p = c->p;
	size_t n = cur_span(c, ch_ldh);

	if (n == 0) {
		cur_fail(c, PTT_EINVAL);
		return NULL;
	}
	return xstrndup((const char *)p, n);
}

static char *
buf_str(struct buf *b)
{
	char *s = xstrndup(b->data != NULL ? b->data : "", b->len);

	buf_reset(b);
	return s;
}

static int
parse_id(struct cur *c, struct buf *b)
{
	cfws(c, NULL);
	value(c, b);
	if (buf_error(b))
		cur_fail(c, PTT_EINVAL);
	return c->err;
}

/* One resinfo after its ';'. */
static void
resinfo(struct cur *c, struct authres *a, struct buf *b)
{
	struct ar_result *r;
	char *method, *version = NULL, *result;

	cfws(c, NULL);
	if ((method = keyword(c)) == NULL)
		return;
	cfws(c, NULL);
	if (cur_accept(c, '/')) {
		cfws(c, NULL);
		version = keyword(c);
		cfws(c, NULL);
	}
	cur_expect(c, '=');
	cfws(c, NULL);
	result = keyword(c);
	if (c->err || a->n >= AR_MAX_RESULTS) {
		cur_fail(c, PTT_EINVAL);
		free(method);
		free(version);
		free(result);
		return;
	}
	r = ar_add(a, method, result, NULL, NULL);
	r->method_version = version;
	free(method);
	free(result);
	buf_reset(b);
	cfws(c, b);
	if (b->len > 0)
		r->comment = buf_str(b);
	while (!c->err && !cur_eof(c) && cur_peek(c) != ';') {
		char *ptype = keyword(c), *prop;
		cfws(c, NULL);
		if (c->err) {
			free(ptype);
			return;
		}
		if (strcasecmp(ptype, "reason") == 0 && cur_peek(c) == '=' &&
		    r->reason == NULL && r->nprop == 0) {
			free(ptype);
			cur_skip(c, 1);
			cfws(c, NULL);
			value(c, b);
			r->reason = buf_str(b);
			cfws(c, NULL);
			continue;
		}
		cur_expect(c, '.');
		cfws(c, NULL);
		prop = keyword(c);
		cfws(c, NULL);
		cur_expect(c, '=');
		cfws(c, NULL);
		pvalue(c, b);
		if (c->err || buf_error(b) || r->nprop >= AR_MAX_PROPS) {
			cur_fail(c, PTT_EINVAL);
			free(ptype);
			free(prop);
			return;
		}
		ar_add_prop(r, ptype, prop, "");
		free(r->prop[r->nprop - 1].value);
		r->prop[r->nprop - 1].value = buf_str(b);
		free(ptype);
		free(prop);
		cfws(c, NULL);
	}
}

int
ar_parse(struct authres *a, const char *v, size_t len)
{
	struct cur c;
	struct buf b;

	memset(a, 0, sizeof(*a));
	a->version = 1;
	buf_init(&b, AR_MAX_VALUE);
	cur_init(&c, v, len);
	if (parse_id(&c, &b) != 0) {
		buf_free(&b);
		a->authserv_id = xstrdup("");
		return PTT_EINVAL;
	}
	a->authserv_id = buf_str(&b);
	cfws(&c, NULL);
	if (ch_digit((uint8_t)cur_peek(&c))) {
		a->version = (unsigned)cur_uint(&c, 999);
		cfws(&c, NULL);
	}
	cur_expect(&c, ';');
	cfws(&c, NULL);
	if (cur_match_ci(&c, "none")) {
		/* no-result: nothing may follow but CFWS. */
		cfws(&c, NULL);
		if (!cur_eof(&c))
			cur_fail(&c, PTT_EINVAL);
	} else {
		for (;;) {
			resinfo(&c, a, &b);
			if (c.err || cur_eof(&c))
				break;
			cur_expect(&c, ';');
			cfws(&c, NULL);
			/* A trailing ';' is common and harmless. */
			if (cur_eof(&c))
				break;
		}
	}
	buf_free(&b);
	return c.err ? PTT_EINVAL : 0;
}

int
ar_authserv_id(const char *v, size_t len, char *out, size_t outlen)
{
	struct cur c;
	struct buf b;
	int ret = PTT_EINVAL;

	buf_init(&b, AR_MAX_VALUE);
	cur_init(&c, v, len);
	if (parse_id(&c, &b) == 0 && b.len < outlen &&
	    memchr(b.data, '\0', b.len) == NULL) {
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
		ret = 0;
	}
	buf_free(&b);
	return ret;
}

size_t
ar_remove_ours(struct mail_hdr *h, const char *id)
{
	char got[AR_MAX_VALUE + 1];
	size_t i, n = 0;

	for (i = mail_hdr_find(h, AR_FIELD, 0); i != MAIL_HDR_NONE;
	    i = mail_hdr_find(h, AR_FIELD, i)) {
		if (ar_authserv_id(h->f[i].value, h->f[i].value_len, got,
		    sizeof(got)) == 0 && strcasecmp(got, id) == 0) {
			mail_hdr_remove(h, i);
			n++;
		} else
			i++;
	}
	return n;
}

const struct ar_result *
ar_find(const struct authres *a, const char *method)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcasecmp(a->res[i].method, method) == 0)
			return &a->res[i];
	return NULL;
}

const char *
ar_prop_value(const struct ar_result *r, const char *ptype,
    const char *property)
{
	for (size_t i = 0; i < r->nprop; i++)
		if (strcasecmp(r->prop[i].ptype, ptype) == 0 &&
		    strcasecmp(r->prop[i].property, property) == 0)
			return r->prop[i].value;
	return NULL;
}
