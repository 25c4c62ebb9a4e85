/*
 * addr.c - RFC 5322 3.4 address-list parsing, with the obsolete forms of
 * 4.4 (obs-route, obs-local-part, obs-domain, obs-phrase, empty elements),
 * RFC 2047 display names and RFC 6532 UTF-8.
 *
 * Trusts nothing: a one-token-lookahead lexer reads the value once
 * (comments and quoted strings are scanned with bounds checks, nesting is
 * counted, not recursed), the parser never backtracks, and the number of
 * mailboxes kept is limited (MAIL_ADDR_MAX).
 */
#include "mail/addr.h"

#include <stdlib.h>
#include <string.h>

#include "mail/charset.h"
#include "mail/defect.h"
#include "util/err.h"
#include "util/mem.h"

enum { T_END, T_ATOM, T_QSTR, T_DLIT, T_SPEC };

struct tok {
	int type;
	const char *p;	/* T_QSTR: inside the quotes; T_DLIT: with brackets */
	size_t n;
	int ws;		/* whitespace or a comment came before it */
	char c;		/* T_SPEC: the character */
};

struct lex {
	const char *s, *end;
	const char *cmt;	/* content of the last comment seen */
	size_t cmtn;
	unsigned d;
	struct tok la;
	int have_la;
};

static int
special(uint8_t c)
{
	return c != 0 && strchr("()<>[]:;@\\,.\"", c) != NULL;
}

static int
lwsp(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip a comment starting at lx->s (on '('); nesting is counted. */
static void
skip_comment(struct lex *lx)
{
	size_t depth = 0;
	const char *start = lx->s + 1;

	while (lx->s < lx->end) {
		char c = *lx->s++;

		if (c == '\\' && lx->s < lx->end) {
			lx->s++;
		} else if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (--depth == 0) {
				lx->cmt = start;
				lx->cmtn = (size_t)(lx->s - 1 - start);
				return;
			}
		}
	}
	lx->d |= MAIL_D_BAD_ADDRESS;	/* unterminated comment */
	lx->cmt = start;
	lx->cmtn = (size_t)(lx->end - start);
}

static void
scan(struct lex *lx, struct tok *t)
{
	const char *p;

	t->ws = 0;
	for (;;) {
		while (lx->s < lx->end && lwsp((uint8_t)*lx->s)) {
			lx->s++;
			t->ws = 1;
		}
		if (lx->s < lx->end && *lx->s == '(') {
			skip_comment(lx);
			t->ws = 1;
			continue;
		}
		break;
	}
	if (lx->s >= lx->end) {
		t->type = T_END;
		t->p = lx->s;
		t->n = 0;
		return;
	}
	p = lx->s;
	if (*p == '"') {
		t->type = T_QSTR;
		t->p = ++lx->s;
		while (lx->s < lx->end && *lx->s != '"') {
			if (*lx->s == '\\' && lx->s + 1 < lx->end)
				lx->s++;
			lx->s++;
		}
		t->n = (size_t)(lx->s - t->p);
		if (lx->s < lx->end)
			lx->s++;
		else
			lx->d |= MAIL_D_BAD_ADDRESS;
		return;
	}
	if (*p == '[') {
		t->type = T_DLIT;
		t->p = p;
		while (lx->s < lx->end && *lx->s != ']') {
			if (*lx->s == '\\' && lx->s + 1 < lx->end)
				lx->s++;
			lx->s++;
		}
		if (lx->s < lx->end)
			lx->s++;
		else
			lx->d |= MAIL_D_BAD_ADDRESS;
		t->n = (size_t)(lx->s - p);
		return;
	}
	if (special((uint8_t)*p)) {
		t->type = T_SPEC;
		t->c = *p;
		t->p = p;
		t->n = 1;
		lx->s++;
		return;
	}
	t->type = T_ATOM;
	t->p = p;
	while (lx->s < lx->end && !special((uint8_t)*lx->s) &&
	    !lwsp((uint8_t)*lx->s))
		lx->s++;
	t->n = (size_t)(lx->s - p);
}

static const struct tok *
peek(struct lex *lx)
{
	if (!lx->have_la) {
		scan(lx, &lx->la);
		lx->have_la = 1;
	}
	return &lx->la;
}

static struct tok
take(struct lex *lx)
{
	struct tok t = *peek(lx);

	lx->have_la = 0;
	return t;
}

static int
is_spec(struct lex *lx, char c)
{
	const struct tok *t = peek(lx);

	return t->type == T_SPEC && t->c == c;
}

/* Append a quoted string's content with quoted-pairs resolved. */
static void
add_unquoted(struct buf *b, const char *p, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n) {
			buf_add(b, p + run, i - run);
			run = ++i;
		}
	}
	buf_add(b, p + run, n - run);
}

/* A word sequence: phrase text (display) and local-part text. */
struct words {
	struct buf phrase;	/* words joined by single spaces, raw */
	struct buf local;	/* words joined as they were, unquoted */
	size_t nwords;
	int quoted;		/* a quoted string took part */
	int local_ok;		/* words separated by single dots only */
	int last_dot;		/* the last token was a dot */
};

static void
words_init(struct words *w)
{
	buf_init(&w->phrase, 65536);
	buf_init(&w->local, 65536);
	w->nwords = 0;
	w->quoted = 0;
	w->local_ok = 1;
	w->last_dot = 1;
}

static void
words_free(struct words *w)
{
	buf_free(&w->phrase);
	buf_free(&w->local);
}

/* Read atoms, quoted strings and dots. */
static void
read_words(struct lex *lx, struct words *w)
{
	for (;;) {
		const struct tok *t = peek(lx);

		if (t->type == T_ATOM || t->type == T_QSTR) {
			if (w->phrase.len && t->ws)
				buf_addc(&w->phrase, ' ');
			if (t->type == T_QSTR) {
				add_unquoted(&w->phrase, t->p, t->n);
				add_unquoted(&w->local, t->p, t->n);
				w->quoted = 1;
			} else {
				buf_add(&w->phrase, t->p, t->n);
				buf_add(&w->local, t->p, t->n);
			}
			if (!w->last_dot)
				w->local_ok = 0;
			w->last_dot = 0;
			w->nwords++;
		} else if (t->type == T_SPEC && t->c == '.') {
			/* obs-phrase "Joe Q. Public"; local "a.b" */
			buf_addc(&w->phrase, '.');
			buf_addc(&w->local, '.');
			if (w->last_dot)
				w->local_ok = 0;	/* ".a" or "a..b" */
			w->last_dot = 1;
		} else {
			break;
		}
		take(lx);
	}
	if (w->last_dot && w->nwords)
		w->local_ok = 0;	/* "a." */
}

/* domain = dot-atom / domain-literal / obs-domain; appended to b. Returns
 * 0 or -1 when there is none. */
static int
read_domain(struct lex *lx, struct buf *b)
{
	const struct tok *t = peek(lx);

	if (t->type == T_DLIT) {
		buf_add(b, t->p, t->n);
		take(lx);
		return 0;
	}
	if (t->type != T_ATOM)
		return -1;
	for (;;) {
		struct tok a = take(lx);

		buf_add(b, a.p, a.n);
		if (!is_spec(lx, '.'))
			return 0;
		take(lx);
		if (peek(lx)->type != T_ATOM)
			return -1;
		buf_addc(b, '.');
	}
}

static void
add_addr(struct mail_addr_list *l, const char *display, size_t dlen,
    struct buf *local, int quoted, struct buf *domain, const char *group)
{
	struct mail_addr *a;

	if (l->n >= MAIL_ADDR_MAX) {
		l->defects |= MAIL_D_LIMIT;
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->a = xreallocarray(l->a, l->cap, sizeof(*l->a));
	}
	a = &l->a[l->n++];
	memset(a, 0, sizeof(*a));
	if (dlen) {
		struct buf d;
		unsigned def = 0;

		buf_init(&d, 65536);
		mail_ew_decode(display, dlen, &d, &def);
		l->defects |= def & MAIL_D_CHARSET;
		a->display = buf_steal(&d, NULL);
		buf_free(&d);
	}
	a->local = xmemdup(local->data, local->len);
	a->quoted = quoted != 0;
	a->domain = domain ? xmemdup(domain->data, domain->len) : NULL;
	a->group = group ? xstrdup(group) : NULL;
}

/* Skip to the next top-level ',' (or ';' closing a group, or the end). */
static void
skip_element(struct lex *lx, int in_group)
{
	for (;;) {
		const struct tok *t = peek(lx);

		if (t->type == T_END || (t->type == T_SPEC &&
		    (t->c == ',' || (in_group && t->c == ';'))))
			return;
		take(lx);
	}
}

/* Parse one mailbox or group element; returns 1 when something parsed. */
static int
parse_element(struct lex *lx, struct mail_addr_list *l, char **group)
{
	struct words w;
	struct buf dom;
	const struct tok *t;
	int ok = 0;

	words_init(&w);
	buf_init(&dom, 65536);
	lx->cmt = NULL;
	read_words(lx, &w);
	t = peek(lx);
	if (t->type == T_SPEC && t->c == '<') {
		struct words aw;

		take(lx);
		/* obs-route: "@a,@b:" before the addr-spec */
		if (is_spec(lx, '@')) {
			while (is_spec(lx, '@') || is_spec(lx, ',')) {
				take(lx);
				if (peek(lx)->type == T_ATOM ||
				    peek(lx)->type == T_DLIT) {
					buf_reset(&dom);
					read_domain(lx, &dom);
				}
			}
			if (is_spec(lx, ':'))
				take(lx);
			else
				lx->d |= MAIL_D_BAD_ADDRESS;
			buf_reset(&dom);
		}
		words_init(&aw);
		read_words(lx, &aw);
		if (aw.nwords && is_spec(lx, '@')) {
			take(lx);
			if (read_domain(lx, &dom) == 0) {
				if (!aw.local_ok)
					lx->d |= MAIL_D_BAD_ADDRESS;
				add_addr(l, w.phrase.data, w.phrase.len,
				    &aw.local, aw.quoted, &dom, *group);
				ok = 1;
			} else {
				lx->d |= MAIL_D_BAD_ADDRESS;
			}
		} else if (aw.nwords) {
			/* "<local>" without a domain */
			add_addr(l, w.phrase.data, w.phrase.len, &aw.local,
			    aw.quoted, NULL, *group);
			lx->d |= MAIL_D_BAD_ADDRESS;
			ok = 1;
		} else {
			/* "<>", the null reverse-path: no mailbox */
			lx->d |= MAIL_D_BAD_ADDRESS;
		}
		words_free(&aw);
		if (is_spec(lx, '>'))
			take(lx);
		else
			lx->d |= MAIL_D_BAD_ADDRESS;
	} else if (t->type == T_SPEC && t->c == '@' && w.nwords) {
		take(lx);
		if (read_domain(lx, &dom) == 0) {
			const char *disp = NULL;
			size_t dl = 0;

			if (!w.local_ok)
				lx->d |= MAIL_D_BAD_ADDRESS;
			/* "addr-spec (Comment)": the comment names it */
			if (lx->cmt != NULL && lx->cmtn > 0) {
				disp = lx->cmt;
				dl = lx->cmtn;
			}
			add_addr(l, disp, dl, &w.local, w.quoted, &dom, *group);
			ok = 1;
		} else {
			lx->d |= MAIL_D_BAD_ADDRESS;
		}
	} else if (t->type == T_SPEC && t->c == ':' && *group == NULL) {
		take(lx);
		*group = xmemdup(w.phrase.data, w.phrase.len);
		ok = 1;
	} else if (w.nwords && (t->type == T_END || (t->type == T_SPEC &&
	    (t->c == ',' || t->c == ';')))) {
		/* A bare local part without a domain. */
		add_addr(l, NULL, 0, &w.local, w.quoted, NULL, *group);
		lx->d |= MAIL_D_BAD_ADDRESS;
		ok = 1;
	} else if (w.nwords || t->type != T_END) {
		if (!(t->type == T_SPEC && (t->c == ',' || t->c == ';')))
			lx->d |= MAIL_D_BAD_ADDRESS;
	}
	words_free(&w);
	buf_free(&dom);
	return ok;
}

int
mail_addr_parse(struct mail_addr_list *l, const char *s, size_t len)
{
	struct lex lx = { .s = s, .end = s + len };
	char *group = NULL;
	size_t parsed = 0;

	memset(l, 0, sizeof(*l));
	for (;;) {
		const struct tok *t;
		int was_group = group != NULL;

		parsed += (size_t)parse_element(&lx, l, &group);
		if (group != NULL && !was_group)
			continue;	/* first member follows the ':' */
		t = peek(&lx);
		if (t->type == T_END)
			break;
		if (t->type == T_SPEC && t->c == ';' && group != NULL) {
			take(&lx);
			free(group);
			group = NULL;
			if (is_spec(&lx, ','))
				take(&lx);
			continue;
		}
		if (t->type == T_SPEC && t->c == ',') {
			take(&lx);
			continue;
		}
		lx.d |= MAIL_D_BAD_ADDRESS;
		skip_element(&lx, group != NULL);
		if (peek(&lx)->type == T_END)
			break;
	}
	if (group != NULL) {
		/* Group without its ';' */
		lx.d |= MAIL_D_BAD_ADDRESS;
		free(group);
	}
	l->defects |= lx.d;
	if (parsed == 0) {
		size_t i;

		for (i = 0; i < len && lwsp((uint8_t)s[i]); i++)
			;
		return i < len ? PTT_EINVAL : 0;
	}
	return 0;
}

void
mail_addr_list_free(struct mail_addr_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->a[i].display);
		free(l->a[i].local);
		free(l->a[i].domain);
		free(l->a[i].group);
	}
	free(l->a);
	memset(l, 0, sizeof(*l));
}

static int
atext(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80 ||
	    (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int
dot_atom(const char *s)
{
	size_t i;

	if (s[0] == '\0' || s[0] == '.')
		return 0;
	for (i = 0; s[i]; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.' || s[i + 1] == '\0')
				return 0;
		} else if (!atext((uint8_t)s[i])) {
			return 0;
		}
	}
	return 1;
}

int
mail_addr_spec(const struct mail_addr *a, struct buf *out)
{
	if (dot_atom(a->local)) {
		buf_adds(out, a->local);
	} else {
		size_t i;

		buf_addc(out, '"');
		for (i = 0; a->local[i]; i++) {
			if (a->local[i] == '"' || a->local[i] == '\\')
				buf_addc(out, '\\');
			buf_addc(out, a->local[i]);
		}
		buf_addc(out, '"');
	}
	if (a->domain != NULL) {
		buf_addc(out, '@');
		buf_adds(out, a->domain);
	}
	return buf_error(out) ? PTT_ENOSPC : 0;
}

int
mail_author_domain(const struct mail_hdr *h, char **domain)
{
	struct mail_addr_list l;
	const struct mail_field *f;
	size_t i;
	int ret;

	*domain = NULL;
	i = mail_hdr_find(h, "From", 0);
	if (i == MAIL_HDR_NONE)
		return PTT_ENOENT;
	if (mail_hdr_find(h, "From", i + 1) != MAIL_HDR_NONE)
		return PTT_EEXIST;
	f = &h->f[i];
	ret = mail_addr_parse(&l, f->value, f->value_len);
	if (ret == 0 && l.n > 1)
		ret = PTT_EEXIST;
	else if (ret == 0 && (l.n == 0 || l.a[0].domain == NULL ||
	    l.a[0].domain[0] == '\0'))
		ret = PTT_EINVAL;
	if (ret == 0) {
		char *d = l.a[0].domain;

		for (i = 0; d[i]; i++)
			if (d[i] >= 'A' && d[i] <= 'Z')
				d[i] = (char)(d[i] + 32);
		*domain = d;
		l.a[0].domain = NULL;
	}
	mail_addr_list_free(&l);
	return ret;
}
