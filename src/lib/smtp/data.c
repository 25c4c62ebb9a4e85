/*
 * data.c - SMTP server side: DATA and BDAT content decoders.
 *
 * Implements RFC 5321 4.1.1.4 (end of data is <CRLF>.<CRLF> only), 4.5.2
 * (transparency: a leading dot is removed), 4.5.3.1.6 (text lines of at
 * most 1000 octets with CRLF) and RFC 3030 2 (BDAT chunks, no stuffing).
 * Smuggling defence: CR and LF are only ever accepted as the pair CRLF; any
 * other use sets SMTP_DATA_BARE and the server refuses the message once
 * its real end has been read.
 *
 * Trusts nothing: bytes are only ever compared and copied into a bounded
 * struct buf.
 */
#include "smtp/data.h"

#include <string.h>

enum {
	D_BOL,		/* at the start of a line */
	D_DOT,		/* "." at the start of a line */
	D_DOTCR,	/* ".<CR>" at the start of a line */
	D_MID,		/* inside a line */
	D_CR,		/* a CR inside a line */
};

void
smtp_data_init(struct smtp_data *d, struct buf *out, size_t maxline)
{
	memset(d, 0, sizeof(*d));
	d->state = D_BOL;
	d->out = out;
	d->maxline = maxline;
}

/* Store n decoded bytes (or count them only, once past the limit). */
static void
put(struct smtp_data *d, const uint8_t *p, size_t n)
{
	size_t i;

	d->size += n;
	for (i = 0; i < n; i++) {
		if (p[i] >= 0x80)
			d->flags |= SMTP_DATA_8BIT;
		else if (p[i] == 0)
			d->flags |= SMTP_DATA_NUL;
	}
	if (!(d->flags & SMTP_DATA_TOOBIG) && buf_add(d->out, p, n) != 0)
		d->flags |= SMTP_DATA_TOOBIG;
}

static void
put1(struct smtp_data *d, uint8_t c)
{
	put(d, &c, 1);
}

static void
end_line(struct smtp_data *d)
{
	static const uint8_t crlf[2] = { '\r', '\n' };

	put(d, crlf, 2);
	if (d->maxline && d->linelen > d->maxline)
		d->flags |= SMTP_DATA_LONGLINE;
	d->linelen = 0;
}

/* Inside a line: take the run up to the next CR or LF; returns bytes used. */
static size_t
mid(struct smtp_data *d, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] != '\r' && p[i] != '\n')
		i++;
	if (i) {
		put(d, p, i);
		d->linelen += i;
		return i;
	}
	d->linelen++;
	if (p[0] == '\r') {
		d->state = D_CR;
	} else {	/* bare LF: content, never a line end */
		d->flags |= SMTP_DATA_BARE;
		put1(d, '\n');
	}
	return 1;
}

size_t
smtp_data_feed(struct smtp_data *d, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && !d->done) {
		uint8_t c = p[i];

		switch (d->state) {
		case D_BOL:
			if (c == '.') {
				d->state = D_DOT;
				d->linelen++;
				i++;
			} else
				d->state = D_MID;
			break;
		case D_DOT:
			if (c == '\r') {
				d->state = D_DOTCR;
				d->linelen++;
				i++;
			} else	/* transparency: drop the leading dot */
				d->state = D_MID;
			break;
		case D_DOTCR:
			if (c == '\n') {
				d->done = true;
				i++;
			} else {	/* ".<CR>x": the CR is bare */
				d->flags |= SMTP_DATA_BARE;
				put1(d, '\r');
				d->state = D_MID;
			}
			break;
		case D_MID:
			i += mid(d, p + i, n - i);
			break;
		case D_CR:
			if (c == '\n') {
				d->linelen++;
				end_line(d);
				d->state = D_BOL;
				i++;
			} else {
				d->flags |= SMTP_DATA_BARE;
				put1(d, '\r');
				d->state = D_MID;
			}
			break;
		}
	}
	return i;
}

void
smtp_bdat_feed(struct smtp_data *d, const uint8_t *p, size_t n, bool binary)
{
	size_t i = 0;

	if (binary) {
		put(d, p, n);
		return;
	}
	while (i < n) {
		if (d->state == D_CR) {
			if (p[i] == '\n') {
				d->linelen++;
				end_line(d);
				d->state = D_MID;
				i++;
			} else {
				d->flags |= SMTP_DATA_BARE;
				put1(d, '\r');
				d->state = D_MID;
			}
		} else {
			d->state = D_MID;
			i += mid(d, p + i, n - i);
		}
	}
}

void
smtp_bdat_end(struct smtp_data *d)
{
	if (d->state == D_CR) {
		d->flags |= SMTP_DATA_BARE;
		put1(d, '\r');
	}
	d->state = D_MID;
	d->done = true;
}
