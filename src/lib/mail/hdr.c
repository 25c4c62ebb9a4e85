/*
 * hdr.c - RFC 5322 header section: split, unfold, look up, edit, write.
 * Implements RFC 5322 2.2 (fields, folding), 2.2.3 (unfolding), 3.6
 * (field names), 4.5 (obs: whitespace before the colon) and accepts
 * RFC 6532 UTF-8 in values.
 *
 * Trusts nothing in the message: it reads through bounds-checked line
 * scans (memchr), every count and size is limited (struct
 * mail_hdr_limits), and time is linear in the header section.
 */
#include "mail/hdr.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/codec.h"
#include "mail/defect.h"
#include "util/err.h"
#include "util/mem.h"

static const struct mail_hdr_limits default_limits = {
	.max_fields = 1000,
	.max_line = 65536,
	.max_field = 262144,
	.max_bytes = 4u << 20,
};

static int
ftext(uint8_t c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static int
wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static struct mail_field *
field_new(struct mail_hdr *h, size_t at)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->f = xreallocarray(h->f, h->cap, sizeof(*h->f));
	}
	if (at < h->n)
		memmove(h->f + at + 1, h->f + at, (h->n - at) * sizeof(*h->f));
	h->n++;
	memset(&h->f[at], 0, sizeof(h->f[at]));
	return &h->f[at];
}

/* Fill f->value from raw[vstart..raw_len): drop line ends, trim WSP. */
static void
field_value(struct mail_field *f, size_t vstart)
{
	const char *p = f->raw + vstart, *end = f->raw + f->raw_len;
	char *v = xmalloc((size_t)(end - p) + 1);
	size_t n = 0, i;

	for (; p < end; p++) {
		if (*p == '\n')
			continue;
		if (*p == '\r' && (p + 1 == end || p[1] == '\n'))
			continue;
		v[n++] = *p;
	}
	for (i = 0; i < n && wsp((uint8_t)v[i]); i++)
		;
	while (n > i && wsp((uint8_t)v[n - 1]))
		n--;
	memmove(v, v + i, n - i);
	n -= i;
	v[n] = '\0';
	f->value = v;
	f->value_len = n;
}

/* Length of a field name at p[0..n) followed by optional WSP and ':'.
 * Returns the name length and sets *colon to the colon's offset; 0 when
 * the line is not a field. */
static size_t
field_name(const char *p, size_t n, size_t *colon)
{
	size_t i = 0, name;

	while (i < n && ftext((uint8_t)p[i]))
		i++;
	name = i;
	while (i < n && wsp((uint8_t)p[i]))
		i++;
	if (name == 0 || i >= n || p[i] != ':')
		return 0;
	*colon = i;
	return name;
}

int
mail_hdr_parse(struct mail_hdr *h, const void *msg, size_t len,
    const struct mail_hdr_limits *lim)
{
	const char *start = msg, *p = start, *end = start + len;
	struct mail_field *cur = NULL;
	size_t colon = 0;
	int ret = 0;

	memset(h, 0, sizeof(*h));
	h->sep = "";
	if (lim == NULL)
		lim = &default_limits;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;	/* content end */
		const char *next = nl ? nl + 1 : end;
		unsigned lf = 0;
		const char *q;

		if (nl && eol > p && eol[-1] == '\r')
			eol--;
		else if (nl)
			lf = MAIL_FIELD_LF_ONLY;
		if ((size_t)(eol - p) > lim->max_line ||
		    (size_t)(next - start) > lim->max_bytes) {
			ret = PTT_ENOSPC;
			break;
		}
		if (eol == p) {
			/* The empty line: the body follows. */
			h->sep = lf ? "\n" : nl ? "\r\n" : "";
			if (lf)
				h->defects |= MAIL_D_LF_ONLY;
			cur = NULL;
			p = next;
			break;
		}
		if (!wsp((uint8_t)*p)) {
			size_t name = field_name(p, (size_t)(eol - p), &colon);

			if (name == 0) {
				h->defects |= MAIL_D_BAD_LINE | MAIL_D_NO_SEPARATOR;
				break;
			}
			if (h->n >= lim->max_fields) {
				ret = PTT_ENOSPC;
				break;
			}
			cur = field_new(h, h->n);
			cur->raw = p;
			cur->name_len = name;
			if (colon > name) {
				cur->flags |= MAIL_FIELD_OBS_WSP;
				h->defects |= MAIL_D_OBS_WSP_COLON;
			}
			colon++;	/* the value starts after it */
		} else if (cur == NULL) {
			/* Continuation with nothing to continue. */
			if (h->n >= lim->max_fields) {
				ret = PTT_ENOSPC;
				break;
			}
			cur = field_new(h, h->n);
			cur->raw = p;
			cur->flags |= MAIL_FIELD_NONAME;
			h->defects |= MAIL_D_BAD_LINE;
			colon = 0;
		}
		if ((size_t)(next - cur->raw) > lim->max_field) {
			ret = PTT_ENOSPC;
			break;
		}
		cur->raw_len = (size_t)(next - cur->raw);
		cur->flags |= lf | (nl ? 0 : MAIL_FIELD_NO_EOL);
		if ((size_t)(eol - p) > 998)
			h->defects |= MAIL_D_LONG_LINE;
		for (q = p; q < eol; q++) {
			uint8_t c = (uint8_t)*q;

			if (c >= 0x80) {
				cur->flags |= MAIL_FIELD_8BIT;
				h->defects |= MAIL_D_8BIT_HEADER;
			} else if (c == '\0') {
				h->defects |= MAIL_D_NUL;
			} else if (c == '\r') {
				h->defects |= MAIL_D_BARE_CR;
			}
		}
		if (lf)
			h->defects |= MAIL_D_LF_ONLY;
		/* The value is computed when the field is complete. */
		if (next >= end || !wsp((uint8_t)*next))
			field_value(cur, colon);
		p = next;
	}
	if (cur != NULL && cur->value == NULL)
		field_value(cur, colon);	/* stopped inside a field */
	if (ret != 0)
		h->defects |= MAIL_D_LIMIT;
	else if (*h->sep == '\0' && !(h->defects & MAIL_D_NO_SEPARATOR))
		h->defects |= MAIL_D_NO_SEPARATOR;
	h->hdr_len = (size_t)(p - start);
	h->body = p;
	h->body_len = (size_t)(end - p);
	return ret;
}

static void
field_free(struct mail_field *f)
{
	if (f->flags & MAIL_FIELD_OWNED)
		free((char *)(uintptr_t)f->raw);
	free(f->value);
}

void
mail_hdr_free(struct mail_hdr *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		field_free(&h->f[i]);
	free(h->f);
	h->f = NULL;
	h->n = h->cap = 0;
}

bool
mail_field_is(const struct mail_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n && n > 0 && strncasecmp(f->raw, name, n) == 0;
}

size_t
mail_hdr_find(const struct mail_hdr *h, const char *name, size_t from)
{
	size_t i;

	for (i = from; i < h->n; i++)
		if (mail_field_is(&h->f[i], name))
			return i;
	return MAIL_HDR_NONE;
}

size_t
mail_hdr_rfind(const struct mail_hdr *h, const char *name, size_t before)
{
	size_t i = before < h->n ? before : h->n;

	while (i-- > 0)
		if (mail_field_is(&h->f[i], name))
			return i;
	return MAIL_HDR_NONE;
}

const struct mail_field *
mail_hdr_get(const struct mail_hdr *h, const char *name)
{
	size_t i = mail_hdr_find(h, name, 0);

	return i == MAIL_HDR_NONE ? NULL : &h->f[i];
}

size_t
mail_hdr_count(const struct mail_hdr *h, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < h->n; i++)
		n += mail_field_is(&h->f[i], name);
	return n;
}

/* Check that raw[0..len) is one well-formed field ending in CRLF: a name,
 * a colon, and lines joined only by CRLF + WSP. Returns the colon offset
 * + 1 (start of the value), or 0. */
static size_t
raw_check(const char *raw, size_t len, size_t *name_len)
{
	size_t colon, i;

	if (len < 2 || raw[len - 2] != '\r' || raw[len - 1] != '\n')
		return 0;
	if ((*name_len = field_name(raw, len - 2, &colon)) == 0 ||
	    colon != *name_len)
		return 0;
	for (i = 0; i < len - 2; i++) {
		if (raw[i] == '\0')
			return 0;
		if (raw[i] == '\n')
			return 0;
		if (raw[i] == '\r' && (raw[i + 1] != '\n' ||
		    !wsp((uint8_t)raw[i + 2])))
			return 0;
		if (raw[i] == '\r')
			i++;
	}
	return colon + 1;
}

static int
insert_owned(struct mail_hdr *h, size_t at, char *raw, size_t len)
{
	struct mail_field *f;
	size_t name_len, vstart;

	if (at > h->n || (vstart = raw_check(raw, len, &name_len)) == 0) {
		free(raw);
		return PTT_EINVAL;
	}
	f = field_new(h, at);
	f->raw = raw;
	f->raw_len = len;
	f->name_len = name_len;
	f->flags = MAIL_FIELD_OWNED;
	field_value(f, vstart);
	return 0;
}

int
mail_hdr_insert(struct mail_hdr *h, size_t at, const char *name,
    const char *value)
{
	size_t nl = strlen(name), vl = strlen(value), len = nl + vl + 4;
	char *raw;

	if (vl && (value[0] == '\r' || value[0] == '\n'))
		return PTT_EINVAL;
	raw = xmalloc(len + 1);
	memcpy(raw, name, nl);
	memcpy(raw + nl, ": ", 2);
	memcpy(raw + nl + 2, value, vl);
	memcpy(raw + nl + 2 + vl, "\r\n", 3);
	return insert_owned(h, at, raw, len);
}

int
mail_hdr_insert_raw(struct mail_hdr *h, size_t at, const char *raw, size_t len)
{
	int crlf = len >= 2 && raw[len - 2] == '\r' && raw[len - 1] == '\n';
	char *copy = xmalloc(len + 3);

	memcpy(copy, raw, len);
	if (!crlf) {
		memcpy(copy + len, "\r\n", 2);
		len += 2;
	}
	copy[len] = '\0';
	return insert_owned(h, at, copy, len);
}

void
mail_hdr_remove(struct mail_hdr *h, size_t i)
{
	if (i >= h->n)
		return;
	field_free(&h->f[i]);
	memmove(h->f + i, h->f + i + 1, (h->n - i - 1) * sizeof(*h->f));
	h->n--;
}

static void
put_lines(struct buf *out, const char *p, size_t n, int crlf)
{
	if (crlf)
		mail_crlf_append(out, p, n);
	else
		buf_add(out, p, n);
}

int
mail_hdr_write(const struct mail_hdr *h, struct buf *out, unsigned flags)
{
	int crlf = (flags & MAIL_WRITE_CRLF) != 0;
	size_t i;

	for (i = 0; i < h->n; i++) {
		const struct mail_field *f = &h->f[i];

		put_lines(out, f->raw, f->raw_len, crlf);
		if (f->flags & MAIL_FIELD_NO_EOL)
			buf_add(out, "\r\n", 2);
	}
	if (*h->sep != '\0' || h->body_len > 0)
		buf_adds(out, (*h->sep == '\0' || crlf) ? "\r\n" : h->sep);
	if (!(flags & MAIL_WRITE_NO_BODY))
		put_lines(out, h->body, h->body_len, crlf);
	return buf_error(out) ? PTT_ENOSPC : 0;
}
