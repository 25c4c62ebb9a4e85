/*
 * test_mail_mime.c - Content-Type / -Disposition / -Transfer-Encoding,
 * RFC 2231 examples, the MIME tree (RFC 2046 5.1.1 boundaries, preamble,
 * epilogue, message/rfc822), limits, degradation and the walker.
 */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "mail/defect.h"
#include "mail/mime.h"
#include "util/err.h"

static void
test_ctype(void)
{
	struct mail_ctype ct;
	struct mail_cdisp cd;
	unsigned d = 0;
	const char *v;

	v = "text/plain; charset=\"UTF-8\"; format=flowed";
	is_int(mail_ctype_parse(&ct, v, strlen(v), &d), 0, "parse");
	is_str(ct.type, "text", "type");
	is_str(ct.subtype, "plain", "subtype");
	is_str(mail_param_get(&ct.params, "charset"), "UTF-8", "quoted param");
	is_str(mail_param_get(&ct.params, "FORMAT"), "flowed", "token param");
	is_int(d, 0, "no defects");
	mail_ctype_free(&ct);

	v = "Text/HTML ; Charset = iso-8859-1 (a comment)";
	mail_ctype_parse(&ct, v, strlen(v), &d);
	ok(mail_ctype_is(&ct, "text", "html"), "lowercased, spaces");
	is_str(mail_param_get(&ct.params, "charset"), "iso-8859-1",
	    "param with spaces and comment");
	mail_ctype_free(&ct);

	v = "multipart/alternative;\r\n\tboundary=----=_Part_0_1234.5678";
	mail_ctype_parse(&ct, v, strlen(v), &d);
	is_str(mail_param_get(&ct.params, "boundary"), "----=_Part_0_1234.5678",
	    "unquoted boundary with '='");
	mail_ctype_free(&ct);

	d = 0;
	v = "text";
	is_int(mail_ctype_parse(&ct, v, strlen(v), &d), PTT_EINVAL, "no subtype");
	ok(mail_ctype_is(&ct, "text", "plain"), "defaults to text/plain");
	ok(d & MAIL_D_BAD_CTYPE, "reported");
	mail_ctype_free(&ct);

	v = "message/external-body; access-type=URL;\r\n"
	    " URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"";
	d = 0;
	mail_ctype_parse(&ct, v, strlen(v), &d);
	is_str(mail_param_get(&ct.params, "url"),
	    "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar",
	    "RFC 2231 3: continuations");
	is_int(d, 0, "continuations clean");
	mail_ctype_free(&ct);

	v = "application/x-stuff;\r\n title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A";
	mail_ctype_parse(&ct, v, strlen(v), &d);
	is_str(mail_param_get(&ct.params, "title"), "This is ***fun***",
	    "RFC 2231 4: charset and language");
	mail_ctype_free(&ct);

	v = "application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;"
	    "\r\n title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"";
	mail_ctype_parse(&ct, v, strlen(v), &d);
	is_str(mail_param_get(&ct.params, "title"),
	    "This is even more ***fun*** isn't it!", "RFC 2231 4.1: mixed");
	mail_ctype_free(&ct);

	v = "text/plain; name*1=b; name*0=a; name*3=d";
	d = 0;
	mail_ctype_parse(&ct, v, strlen(v), &d);
	is_str(mail_param_get(&ct.params, "name"), "ab", "sections in any order, stop at gap");
	ok(d & MAIL_D_BAD_PARAM, "gap reported");
	mail_ctype_free(&ct);

	v = "attachment; filename*=UTF-8''%E2%9C%88.pdf";
	mail_cdisp_parse(&cd, v, strlen(v), &d);
	is_str(cd.type, "attachment", "disposition type");
	is_str(mail_param_get(&cd.params, "filename"), "\xe2\x9c\x88.pdf",
	    "UTF-8 filename*");
	mail_cdisp_free(&cd);

	v = "Attachment; filename=\"=?UTF-8?B?4pyI?=.pdf\"";
	mail_cdisp_parse(&cd, v, strlen(v), &d);
	is_str(cd.type, "attachment", "disposition lowercased");
	is_str(mail_param_get(&cd.params, "filename"), "\xe2\x9c\x88.pdf",
	    "RFC 2047 in a quoted filename");
	mail_cdisp_free(&cd);

	v = "inline; filename*=iso-8859-1''caf%E9.txt; filename=\"cafe.txt\"";
	mail_cdisp_parse(&cd, v, strlen(v), &d);
	is_str(mail_param_get(&cd.params, "filename"), "caf\xc3\xa9.txt",
	    "filename* preferred, latin-1");
	mail_cdisp_free(&cd);

	v = "attachment; filename=\"a\\\"b\\\\c\"";
	mail_cdisp_parse(&cd, v, strlen(v), &d);
	is_str(mail_param_get(&cd.params, "filename"), "a\"b\\c", "quoted-pairs");
	mail_cdisp_free(&cd);

	d = 0;
	v = "; filename=x";
	is_int(mail_cdisp_parse(&cd, v, strlen(v), &d), PTT_EINVAL, "no type");
	is_str(cd.type, "attachment", "treated as attachment");
	mail_cdisp_free(&cd);

	is_int(mail_cte_parse("Base64", 6), MAIL_CTE_BASE64, "cte base64");
	is_int(mail_cte_parse(" quoted-printable (x)", 21), MAIL_CTE_QP, "cte qp");
	is_int(mail_cte_parse("8BIT", 4), MAIL_CTE_8BIT, "cte 8bit");
	is_int(mail_cte_parse("x-uuencode", 10), MAIL_CTE_UNKNOWN, "cte unknown");
	is_int(mail_cte_parse("base64 x", 8), MAIL_CTE_UNKNOWN, "cte with junk");
}

static const char alt_msg[] =
    "From: a@example.com\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
    "\r\n"
    "This is the preamble.\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "caf=E9 =\r\n"
    "au lait\r\n"
    "--b1 \r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "PGI+Y2Fmw6k8L2I+\r\n"
    "--b1--\r\n"
    "epilogue\r\n";

static const char *
text_of(const struct mail_part *p, struct buf *b)
{
	buf_reset(b);
	mail_part_text(p, b, NULL);
	return b->data;
}

static void
test_alternative(void)
{
	struct mail_mime m;
	struct mail_part *r, *t, *h;
	struct buf b;

	buf_init(&b, 0);
	mail_mime_parse(&m, alt_msg, sizeof(alt_msg) - 1, NULL);
	r = m.root;
	is_int(m.nparts, 3, "three parts");
	is_int(m.defects, 0, "no defects");
	ok(mail_ctype_is(&r->ct, "multipart", "alternative"), "root type");
	ok(r->preamble_len == 21 && memcmp(r->preamble, "This is the preamble.", 21) == 0,
	    "preamble without the CRLF before the delimiter");
	ok(r->epilogue_len == 10 && memcmp(r->epilogue, "epilogue\r\n", 10) == 0,
	    "epilogue");
	t = r->child;
	h = t ? t->next : NULL;
	if (!ok(t && h && !h->next, "two children"))
		return;
	is_int(t->depth, 1, "child depth");
	is_int(t->id, 1, "first child id");
	is_str(mail_part_charset(t), "iso-8859-1", "charset");
	is_int(t->cte, MAIL_CTE_QP, "qp");
	is_str(text_of(t, &b), "caf\xc3\xa9 au lait", "qp + latin-1 to UTF-8; CRLF before delimiter excluded");
	ok(mail_ctype_is(&h->ct, "text", "html"), "second type");
	is_str(text_of(h, &b), "<b>caf\xc3\xa9</b>", "base64 html");
	buf_reset(&b);
	mail_part_decode(h, &b, NULL);
	is_str(b.data, "<b>caf\xc3\xa9</b>", "decode only");
	mail_mime_free(&m);
	buf_free(&b);
}

static const char nested_msg[] =
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "--outer\n"
    "\n"
    "Implicit text/plain.\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: inner@example.org\n"
    "Subject: =?utf-8?q?inner?=\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain\n"
    "\n"
    "inner text\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "\n"
    "<p>inner</p>\n"
    "--inner--\n"
    "--outer\n"
    "Content-Type: application/pdf; name=\"r.pdf\"\n"
    "Content-Disposition: attachment; filename=\"report.pdf\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "JVBERi0xLjQK\n"
    "--outer--\n";

struct walk_rec {
	char order[256];
	int skip_id;
	int stop_id;
};

static int
walker(const struct mail_part *p, void *arg)
{
	struct walk_rec *w = arg;
	size_t n = strlen(w->order);

	if (n + 3 < sizeof(w->order)) {
		w->order[n] = (char)('0' + p->id);
		w->order[n + 1] = (char)('0' + p->depth);
		w->order[n + 2] = ' ';
		w->order[n + 3] = '\0';
	}
	if ((int)p->id == w->stop_id)
		return -42;
	return (int)p->id == w->skip_id ? MAIL_WALK_SKIP : 0;
}

static void
test_nested(void)
{
	struct mail_mime m;
	struct mail_part *r, *a, *msg, *inner, *pdf;
	struct walk_rec w = { "", -1, -1 };
	struct buf b;

	buf_init(&b, 0);
	mail_mime_parse(&m, nested_msg, sizeof(nested_msg) - 1, NULL);
	r = m.root;
	is_int(m.nparts, 7, "seven parts");
	ok(m.defects & MAIL_D_LF_ONLY, "LF-only reported");
	ok(!(m.defects & ~(unsigned)MAIL_D_LF_ONLY), "nothing else");
	a = r->child;
	msg = a ? a->next : NULL;
	pdf = msg ? msg->next : NULL;
	if (!ok(a && msg && pdf, "three children"))
		return;
	ok(mail_ctype_is(&a->ct, "text", "plain"), "default type");
	is_str(text_of(a, &b), "Implicit text/plain.", "part without headers");
	inner = msg->child;
	if (!ok(inner != NULL, "message/rfc822 descends"))
		return;
	ok(mail_hdr_get(&inner->hdr, "Subject") != NULL, "enclosed headers");
	ok(mail_ctype_is(&inner->ct, "multipart", "alternative"), "enclosed type");
	ok(inner->child && inner->child->next, "enclosed has two parts");
	is_int(inner->child->next->depth, 3, "depth 3");
	is_str(text_of(inner->child->next, &b), "<p>inner</p>", "inner html");
	ok(pdf->attachment, "attachment");
	is_str(pdf->filename, "report.pdf", "filename from disposition");
	buf_reset(&b);
	mail_part_decode(pdf, &b, NULL);
	is_str(b.data, "%PDF-1.4\n", "attachment decoded");
	is_str(mail_part_charset(pdf), NULL, "no charset for application/pdf");

	mail_mime_walk(&m, walker, &w);
	is_str(w.order, "00 11 21 32 43 53 61 ", "walk order: id depth");
	w.order[0] = '\0';
	w.skip_id = 2;
	mail_mime_walk(&m, walker, &w);
	is_str(w.order, "00 11 21 61 ", "walk skips children");
	w.order[0] = '\0';
	w.skip_id = -1;
	w.stop_id = 3;
	is_int(mail_mime_walk(&m, walker, &w), -42, "walk stops");
	is_str(w.order, "00 11 21 32 ", "stopped there");
	mail_mime_free(&m);
	buf_free(&b);
}

static int
parse_one(const char *msg, struct mail_mime *m)
{
	return mail_mime_parse(m, msg, strlen(msg), NULL);
}

static void
test_broken(void)
{
	struct mail_mime m;
	struct buf b;
	const char *s;

	buf_init(&b, 0);
	s = "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\none\r\n--x\r\n\r\ntwo\r\n";
	parse_one(s, &m);
	is_int(m.nparts, 3, "no close: parts kept");
	ok(m.root->defects & MAIL_D_NO_CLOSE, "no close reported");
	is_str(text_of(m.root->child->next, &b), "two\r\n", "last part to the end");
	mail_mime_free(&m);

	s = "Content-Type: multipart/mixed\r\n\r\nbody\r\n";
	parse_one(s, &m);
	ok(mail_ctype_is(&m.root->ct, "text", "plain"), "no boundary: text/plain");
	ok(m.defects & MAIL_D_NO_BOUNDARY, "no boundary reported");
	is_str(text_of(m.root, &b), "body\r\n", "body readable");
	mail_mime_free(&m);

	s = "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zzz\r\nbody\r\n--zz-x\r\n";
	parse_one(s, &m);
	ok(mail_ctype_is(&m.root->ct, "text", "plain"),
	    "boundary only as a prefix: not found, text/plain");
	is_int(m.nparts, 1, "one part");
	mail_mime_free(&m);

	s = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b--\r\n";
	parse_one(s, &m);
	is_int(m.nparts, 1, "close delimiter only: no children");
	ok(mail_ctype_is(&m.root->ct, "multipart", "mixed"), "still multipart");
	mail_mime_free(&m);

	s = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\nx\r\n--b--";
	parse_one(s, &m);
	is_int(m.nparts, 3, "empty part between delimiters");
	is_int(m.root->child->raw_len, 0, "empty part is empty");
	is_str(text_of(m.root->child->next, &b), "x", "next part");
	mail_mime_free(&m);

	s = "Content-Type: text/\r\nContent-Transfer-Encoding: base64\r\n\r\nYWJj\r\n";
	parse_one(s, &m);
	ok(mail_ctype_is(&m.root->ct, "text", "plain"), "bad type: text/plain");
	is_str(text_of(m.root, &b), "abc", "still decoded");
	mail_mime_free(&m);

	s = "Content-Type: text/plain; charset=x-bogus\r\nContent-Transfer-Encoding: x-bogus\r\n\r\nab\xff";
	parse_one(s, &m);
	ok(m.defects & MAIL_D_BAD_CTE, "unknown cte reported");
	buf_reset(&b);
	{
		unsigned d = 0;

		mail_part_text(m.root, &b, &d);
		ok(d & MAIL_D_CHARSET, "bogus charset reported");
	}
	is_str(b.data, "ab\xef\xbf\xbd", "copied and sanitized");
	mail_mime_free(&m);

	s = "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nRnJvbTogYQ==\r\n";
	parse_one(s, &m);
	ok(m.root->child == NULL, "base64 message/rfc822 not descended");
	mail_mime_free(&m);

	s = "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nFrom: x@y\r\n\r\nhi\r\n--d--\r\n";
	parse_one(s, &m);
	ok(m.root->child && mail_ctype_is(&m.root->child->ct, "message", "rfc822"),
	    "digest default message/rfc822");
	ok(m.root->child && m.root->child->child &&
	    mail_hdr_get(&m.root->child->child->hdr, "From"), "digest entry descended");
	mail_mime_free(&m);
	buf_free(&b);
}

static void
test_limits(void)
{
	struct mail_mime m;
	struct mail_mime_limits lim = { .max_depth = 20, .max_parts = 1000,
	    .hdr = { 1000, 65536, 262144, 1u << 22 } };
	struct buf msg;
	int i;

	buf_init(&msg, 0);
	for (i = 0; i < 40; i++)
		buf_addf(&msg, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i);
	buf_adds(&msg, "\r\ndeep\r\n");
	mail_mime_parse(&m, msg.data, msg.len, NULL);
	ok(m.defects & MAIL_D_DEPTH, "depth limit reported");
	is_int(m.nparts, 21, "depth 0..20");
	mail_mime_free(&m);

	buf_reset(&msg);
	for (i = 0; i < 40; i++)
		buf_adds(&msg, "Content-Type: message/rfc822\r\n\r\n");
	mail_mime_parse(&m, msg.data, msg.len, NULL);
	ok(m.defects & MAIL_D_DEPTH, "message/rfc822 depth limited");
	mail_mime_free(&m);

	buf_reset(&msg);
	buf_adds(&msg, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (i = 0; i < 3000; i++)
		buf_adds(&msg, "--p\r\n\r\nx\r\n");
	buf_adds(&msg, "--p--\r\n");
	mail_mime_parse(&m, msg.data, msg.len, &lim);
	is_int(m.nparts, 1000, "part count limited");
	ok(m.defects & MAIL_D_LIMIT, "part limit reported");
	mail_mime_free(&m);

	lim.max_parts = 0;
	mail_mime_parse(&m, msg.data, msg.len, &lim);
	ok(m.root != NULL && m.nparts == 1, "max_parts 0 still gives a root");
	mail_mime_free(&m);

	/* A large body of empty lines: linear scan. */
	buf_reset(&msg);
	buf_adds(&msg, "Content-Type: multipart/mixed; boundary=q\r\n\r\n");
	for (i = 0; i < 2000000; i++)
		buf_addc(&msg, '\n');
	mail_mime_parse(&m, msg.data, msg.len, NULL);
	ok(m.defects & MAIL_D_NO_BOUNDARY, "2 MB of empty lines parsed");
	mail_mime_free(&m);
	buf_free(&msg);
}

int
main(void)
{
	test_ctype();
	test_alternative();
	test_nested();
	test_broken();
	test_limits();
	return tap_done();
}
