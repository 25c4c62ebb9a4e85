/*
 * taglist.c - RFC 6376 3.2 tag-list parsing.
 *
 * tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
 * tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 * tag-value =  [ tval *( 1*(WSP / FWS) tval ) ], tval = 1*VALCHAR,
 * VALCHAR   =  %x21-3A / %x3C-7E
 * Trusts nothing in its input.
 */
#include "auth/taglist.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "util/err.h"

static int
is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
taglist_parse(const char *s, size_t len, struct taglist *tl)
{
	const char *p = s, *end = s + len;

	tl->n = 0;
	while (p < end) {
		const char *name, *val, *vend, *semi;
		size_t nlen;

		while (p < end && is_fws(*p))
			p++;
		if (p == end)
			break;		/* trailing ";" and FWS */
		name = p;
		if (!((*p | 32) >= 'a' && (*p | 32) <= 'z'))
			return PTT_EINVAL;
		while (p < end && (((*p | 32) >= 'a' && (*p | 32) <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			p++;
		nlen = (size_t)(p - name);
		while (p < end && is_fws(*p))
			p++;
		if (p == end || *p != '=')
			return PTT_EINVAL;
		p++;
		semi = memchr(p, ';', (size_t)(end - p));
		vend = semi ? semi : end;
		while (p < vend && is_fws(*p))
			p++;
		val = p;
		while (vend > val && is_fws(vend[-1]))
			vend--;
		for (const char *q = val; q < vend; q++) {
			unsigned char c = (unsigned char)*q;
			/* VALCHAR, FWS inside, and UTF-8 (RFC 8616). */
			if (!(c >= 0x21 && c != ';' && c != 0x7f) && !is_fws(*q))
				return PTT_EINVAL;
		}
		for (size_t i = 0; i < tl->n; i++)
			if (tl->t[i].name_len == nlen &&
			    memcmp(tl->t[i].name, name, nlen) == 0)
				return PTT_EINVAL;
		if (tl->n == TAGLIST_MAX)
			return PTT_ENOSPC;
		tl->t[tl->n].name = name;
		tl->t[tl->n].name_len = nlen;
		tl->t[tl->n].val = val;
		tl->t[tl->n].len = (size_t)(vend - val);
		tl->n++;
		p = semi ? semi + 1 : end;
	}
	return 0;
}

const struct tag *
taglist_get(const struct taglist *tl, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < tl->n; i++)
		if (tl->t[i].name_len == n && memcmp(tl->t[i].name, name, n) == 0)
			return &tl->t[i];
	return NULL;
}

int
tag_is(const struct tag *t, const char *s, int ci)
{
	size_t n = strlen(s);

	return t != NULL && t->len == n &&
	    (ci ? strncasecmp(t->val, s, n) == 0 : memcmp(t->val, s, n) == 0);
}

int
tag_copy(const struct tag *t, char *out, size_t outlen, int lower)
{
	size_t i;

	if (t == NULL || t->len == 0 || t->len >= outlen)
		return -1;
	for (i = 0; i < t->len; i++)
		out[i] = lower ? (char)tolower((unsigned char)t->val[i]) : t->val[i];
	out[i] = '\0';
	return 0;
}
