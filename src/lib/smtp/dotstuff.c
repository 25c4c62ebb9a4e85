/*
 * dotstuff.c - message checks and DATA dot-stuffing for the SMTP client
 * (RFC 5321 4.5.2, 4.1.1.4; bare CR/LF refused). See dotstuff.h.
 *
 * Trusts nothing: the message comes from a queue file that came from the
 * network; every byte is looked at once.
 */
#include "smtp/dotstuff.h"

#include <string.h>

#include <event2/buffer.h>

#include "util/err.h"

int
smtp_msg_scan(const void *msg, size_t len, struct smtp_msg_info *mi,
    size_t *bad_off)
{
	const uint8_t *p = msg;
	size_t i, line = 0;
	bool cr = false;

	memset(mi, 0, sizeof(*mi));
	for (i = 0; i < len; i++) {
		uint8_t ch = p[i];

		if (cr && ch != '\n')
			goto bad_prev;
		if (ch == '\n') {
			if (!cr)
				goto bad;
			cr = false;
			if (line - 1 > mi->longest_line)
				mi->longest_line = line - 1;
			line = 0;
			continue;
		}
		cr = ch == '\r';
		line++;
		if (ch >= 0x80)
			mi->has8bit = true;
		else if (ch == 0)
			mi->has_nul = true;
	}
	if (cr)
		goto bad_prev_end;
	if (line > mi->longest_line)
		mi->longest_line = line;
	mi->ends_crlf = len == 0 || line == 0;
	return 0;
bad_prev_end:
	i = len;
bad_prev:
	i--;	/* the CR before is the bare one */
bad:
	if (bad_off != NULL)
		*bad_off = i;
	return PTT_EINVAL;
}

void
smtp_dotenc_init(struct smtp_dotenc *e)
{
	e->bol = true;
	e->cr = false;
	e->err = 0;
}

int
smtp_dotenc_add(struct smtp_dotenc *e, const void *data, size_t n,
    struct evbuffer *out)
{
	const uint8_t *p = data;
	size_t i, start = 0;

	if (e->err)
		return e->err;
	for (i = 0; i < n; i++) {
		uint8_t ch = p[i];

		if (e->cr != (ch == '\n')) {
			/* CR not followed by LF, or LF without CR */
			e->err = PTT_EINVAL;
			break;
		}
		if (e->bol && ch == '.') {
			evbuffer_add(out, p + start, i - start);
			evbuffer_add(out, ".", 1);
			start = i;	/* the '.' itself goes with the run */
		}
		e->bol = ch == '\n';
		e->cr = ch == '\r';
	}
	evbuffer_add(out, p + start, i - start);
	return e->err;
}

int
smtp_dotenc_finish(struct smtp_dotenc *e, struct evbuffer *out)
{
	if (e->err == 0 && e->cr)
		e->err = PTT_EINVAL;
	if (e->err)
		return e->err;
	if (!e->bol)
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
	return 0;
}
