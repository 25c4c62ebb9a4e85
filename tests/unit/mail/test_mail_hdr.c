/*
 * test_mail_hdr.c - RFC 5322 header section: split, unfold, raw bytes,
 * LF-only and obsolete syntax, malformed lines, lookup, edits, writing.
 */
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "../tap.h"
#include "mail/defect.h"
#include "mail/hdr.h"
#include "util/err.h"

static char *
rawstr(const struct mail_field *f)
{
	static char s[4096];

	memcpy(s, f->raw, f->raw_len);
	s[f->raw_len] = '\0';
	return s;
}

static void
test_basic(void)
{
	const char *m = "From: a@example.com\r\n"
	    "Subject: hello\r\n there\r\n\t world  \r\n"
	    "X-Empty:\r\n"
	    "\r\n"
	    "body\r\n";
	struct mail_hdr h;
	struct buf out;

	is_int(mail_hdr_parse(&h, m, strlen(m), NULL), 0, "parse");
	is_int(h.n, 3, "three fields");
	is_int(h.defects, 0, "no defects");
	is_str(h.f[0].value, "a@example.com", "From value");
	is_int(h.f[0].name_len, 4, "From name length");
	is_str(rawstr(&h.f[1]), "Subject: hello\r\n there\r\n\t world  \r\n",
	    "raw keeps folding");
	is_str(h.f[1].value, "hello there\t world", "value unfolded and trimmed");
	is_str(h.f[2].value, "", "empty value");
	ok(h.body_len == 6 && memcmp(h.body, "body\r\n", 6) == 0, "body");
	is_str(h.sep, "\r\n", "separator");
	is_int(h.hdr_len, strlen(m) - 6, "header length");
	buf_init(&out, 0);
	mail_hdr_write(&h, &out, 0);
	is_str(out.data, m, "written back byte for byte");
	buf_free(&out);
	mail_hdr_free(&h);
}

static void
test_lf_obs(void)
{
	const char *m = "From: a\nSubject : x\n y\n\nbody\n";
	struct mail_hdr h;
	struct buf out;

	mail_hdr_parse(&h, m, strlen(m), NULL);
	is_int(h.n, 2, "LF-only: two fields");
	ok(h.defects & MAIL_D_LF_ONLY, "LF-only reported");
	ok(h.f[0].flags & MAIL_FIELD_LF_ONLY, "field flag LF-only");
	ok(h.defects & MAIL_D_OBS_WSP_COLON, "WSP before colon reported");
	is_int(h.f[1].name_len, 7, "name without the WSP");
	ok(mail_field_is(&h.f[1], "subject"), "found as subject");
	is_str(h.f[1].value, "x y", "unfolded across LF");
	is_str(h.sep, "\n", "LF separator");
	buf_init(&out, 0);
	mail_hdr_write(&h, &out, 0);
	is_str(out.data, m, "written back as received");
	buf_reset(&out);
	mail_hdr_write(&h, &out, MAIL_WRITE_CRLF);
	is_str(out.data, "From: a\r\nSubject : x\r\n y\r\n\r\nbody\r\n",
	    "written with CRLF");
	buf_free(&out);
	mail_hdr_free(&h);
}

static void
test_malformed(void)
{
	static const char nulmsg[] = "Subject: caf\xc3\xa9 a\rb\r\nX: \0y\r\n\r\n";
	struct mail_hdr h;
	const char *m;

	m = "From: a\r\nthis is not a header\r\nTo: b\r\n";
	mail_hdr_parse(&h, m, strlen(m), NULL);
	is_int(h.n, 1, "stops at a line without colon");
	ok((h.defects & (MAIL_D_BAD_LINE | MAIL_D_NO_SEPARATOR)) ==
	    (MAIL_D_BAD_LINE | MAIL_D_NO_SEPARATOR), "bad line reported");
	ok(h.body_len > 0 && strncmp(h.body, "this is", 7) == 0,
	    "body starts at the bad line");
	mail_hdr_free(&h);

	m = "From: a\r\nTo: b\r\n";
	mail_hdr_parse(&h, m, strlen(m), NULL);
	is_int(h.n, 2, "headers only");
	ok(h.defects & MAIL_D_NO_SEPARATOR, "missing separator reported");
	is_int(h.body_len, 0, "no body");
	mail_hdr_free(&h);

	m = "\r\nbody";
	mail_hdr_parse(&h, m, strlen(m), NULL);
	is_int(h.n, 0, "empty header section");
	ok(h.body_len == 4 && memcmp(h.body, "body", 4) == 0, "body after it");
	is_int(h.defects, 0, "empty header section is fine");
	mail_hdr_free(&h);

	m = " lead\r\nFrom: a\r\n\r\n";
	mail_hdr_parse(&h, m, strlen(m), NULL);
	is_int(h.n, 2, "leading continuation kept");
	ok(h.f[0].flags & MAIL_FIELD_NONAME, "as a nameless field");
	ok(mail_hdr_get(&h, "From") == &h.f[1], "lookup skips it");
	mail_hdr_free(&h);

	m = "From: a\r\nSubject: no end";
	mail_hdr_parse(&h, m, strlen(m), NULL);
	is_int(h.n, 2, "field without line end");
	ok(h.f[1].flags & MAIL_FIELD_NO_EOL, "flagged NO_EOL");
	is_str(h.f[1].value, "no end", "its value");
	mail_hdr_free(&h);

	m = ": x\r\n\r\n";
	mail_hdr_parse(&h, m, strlen(m), NULL);
	is_int(h.n, 0, "empty name is not a field");
	ok(h.defects & MAIL_D_BAD_LINE, "empty name reported");
	mail_hdr_free(&h);

	m = "Subj\xc3\xa9" "ct: x\r\n\r\n";
	mail_hdr_parse(&h, m, strlen(m), NULL);
	is_int(h.n, 0, "8-bit name is not a field");
	mail_hdr_free(&h);

	mail_hdr_parse(&h, nulmsg, sizeof(nulmsg) - 1, NULL);
	is_int(h.n, 2, "8-bit value, bare CR, NUL");
	ok(h.f[0].flags & MAIL_FIELD_8BIT, "8-bit flagged");
	ok(h.defects & MAIL_D_8BIT_HEADER, "8-bit reported");
	ok(h.defects & MAIL_D_BARE_CR, "bare CR reported");
	ok(h.defects & MAIL_D_NUL, "NUL reported");
	is_int(h.f[1].value_len, 2, "value length counts the NUL");
	mail_hdr_free(&h);
}

static void
test_limits(void)
{
	struct mail_hdr_limits lim = { .max_fields = 2, .max_line = 100,
	    .max_field = 200, .max_bytes = 1000 };
	struct mail_hdr h;
	char *m;
	size_t i;

	is_int(mail_hdr_parse(&h, "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", 20, &lim),
	    PTT_ENOSPC, "field count limit");
	is_int(h.n, 2, "fields before the limit kept");
	ok(h.defects & MAIL_D_LIMIT, "limit reported");
	mail_hdr_free(&h);

	m = malloc(2000);
	memcpy(m, "A: ", 3);
	memset(m + 3, 'x', 1500);
	memcpy(m + 1503, "\r\n\r\n", 4);
	is_int(mail_hdr_parse(&h, m, 1507, &lim), PTT_ENOSPC, "line limit");
	mail_hdr_free(&h);
	is_int(mail_hdr_parse(&h, m, 1507, NULL), 0, "default line limit");
	ok(h.defects & MAIL_D_LONG_LINE, "line over 998 reported");
	mail_hdr_free(&h);
	/* a folded field over max_field */
	for (i = 0; i < 10; i++)
		memcpy(m + 3 + i * 30, "\r\n xxxxxxxxxxxxxxxxxxxxxxxxxxx", 30);
	memcpy(m + 303, "\r\n\r\n", 4);
	is_int(mail_hdr_parse(&h, m, 307, &lim), PTT_ENOSPC, "field size limit");
	mail_hdr_free(&h);
	free(m);
}

static void
test_lookup(void)
{
	const char *m = "Received: r1\r\nFrom: a\r\nreceived: r2\r\n"
	    "To: b\r\nRECEIVED: r3\r\n\r\n";
	struct mail_hdr h;
	size_t i;
	char order[16] = "";

	mail_hdr_parse(&h, m, strlen(m), NULL);
	is_int(mail_hdr_count(&h, "Received"), 3, "count case-insensitive");
	for (i = mail_hdr_find(&h, "received", 0); i != MAIL_HDR_NONE;
	    i = mail_hdr_find(&h, "received", i + 1))
		ptt_strlcat(order, h.f[i].value + 1, sizeof(order));
	is_str(order, "123", "top-down order");
	order[0] = '\0';
	for (i = mail_hdr_rfind(&h, "Received", h.n); i != MAIL_HDR_NONE;
	    i = mail_hdr_rfind(&h, "Received", i))
		ptt_strlcat(order, h.f[i].value + 1, sizeof(order));
	is_str(order, "321", "bottom-up order");
	ok(mail_hdr_get(&h, "to") == &h.f[3], "get");
	ok(mail_hdr_get(&h, "Cc") == NULL, "get missing");
	ok(mail_hdr_get(&h, "Receive") == NULL, "no prefix match");
	is_int(mail_hdr_rfind(&h, "From", 1), MAIL_HDR_NONE, "rfind before");
	mail_hdr_free(&h);
}

static void
test_edit(void)
{
	const char *m = "From: a\r\nTo: b\r\nSubject: s\r\n\r\nbody\r\n";
	struct mail_hdr h;
	struct buf out;

	mail_hdr_parse(&h, m, strlen(m), NULL);
	is_int(mail_hdr_prepend(&h, "DKIM-Signature", "v=1; a=rsa-sha256;\r\n\tb=xyz"),
	    0, "prepend a folded field");
	is_str(h.f[0].value, "v=1; a=rsa-sha256;\tb=xyz", "its value unfolded");
	is_int(mail_hdr_append(&h, "X-Spam", "no"), 0, "append");
	mail_hdr_remove(&h, 2);	/* To */
	is_int(mail_hdr_insert_raw(&h, 1, "Authentication-Results: x; none", 31),
	    0, "insert raw without CRLF");
	buf_init(&out, 0);
	mail_hdr_write(&h, &out, 0);
	is_str(out.data, "DKIM-Signature: v=1; a=rsa-sha256;\r\n\tb=xyz\r\n"
	    "Authentication-Results: x; none\r\nFrom: a\r\nSubject: s\r\n"
	    "X-Spam: no\r\n\r\nbody\r\n", "edited message");
	buf_reset(&out);
	mail_hdr_write(&h, &out, MAIL_WRITE_NO_BODY);
	ok(out.len > 4 && strcmp(out.data + out.len - 4, "\r\n\r\n") == 0,
	    "header only ends with the empty line");
	is_int(mail_hdr_insert(&h, 0, "Bad Name", "x"), PTT_EINVAL,
	    "name with space refused");
	is_int(mail_hdr_insert(&h, 0, "X", "a\nb"), PTT_EINVAL, "bare LF refused");
	is_int(mail_hdr_insert(&h, 0, "X", "a\r\nb"), PTT_EINVAL,
	    "CRLF without WSP refused");
	is_int(mail_hdr_insert(&h, 0, "X", "a\rb"), PTT_EINVAL, "bare CR refused");
	is_int(mail_hdr_insert(&h, 0, "X", "a\r\n"), PTT_EINVAL,
	    "trailing CRLF refused");
	is_int(mail_hdr_insert(&h, 99, "X", "a"), PTT_EINVAL, "index past end");
	is_int(mail_hdr_insert_raw(&h, 0, "NoColon\r\n", 9), PTT_EINVAL,
	    "raw without colon refused");
	is_int(h.n, 5, "failed inserts changed nothing");
	mail_hdr_free(&h);

	/* Headers-only message: a body added later gets a separator. */
	mail_hdr_parse(&h, "From: a", 7, NULL);
	buf_reset(&out);
	mail_hdr_write(&h, &out, 0);
	is_str(out.data, "From: a\r\n", "missing line end added");
	buf_free(&out);
	mail_hdr_free(&h);
}

int
main(void)
{
	test_basic();
	test_lf_obs();
	test_malformed();
	test_limits();
	test_lookup();
	test_edit();
	return tap_done();
}
