/*
 * test_authres.c - Authentication-Results (RFC 8601): formatting, folding
 * and quoting; parsing the examples of appendix B and nastier fields;
 * removal of fields claiming our authserv-id (section 5); and that
 * python3-authres parses what ptt writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/authres.h"
#include "mail/hdr.h"
#include "util/buf.h"
#include "util/err.h"
#include "../tap.h"

static void
longest_line(const char *s, size_t *longest, bool *crlf)
{
	size_t n = 0;

	*longest = 0;
	*crlf = true;
	for (const char *p = s; *p; p++) {
		if (*p == '\n') {
			if (p == s || p[-1] != '\r')
				*crlf = false;
			n = 0;
			continue;
		}
		if (*p != '\r' && ++n > *longest)
			*longest = n;
	}
}

static struct authres
sample(void)
{
	struct authres a;
	struct ar_result *r;

	ar_init(&a, "mx.example.test");
	r = ar_add(&a, "spf", "pass", NULL, NULL);
	ar_add_prop(r, "smtp", "mailfrom", "alice@example.org");
	r = ar_add(&a, "spf", "none", NULL, NULL);
	ar_add_prop(r, "smtp", "helo", "mail.example.org");
	r = ar_add(&a, "dkim", "pass", NULL, NULL);
	ar_add_prop(r, "header", "d", "example.org");
	ar_add_prop(r, "header", "s", "sel2026-a-rather-long-selector-name");
	ar_add_prop(r, "header", "b", "ab+/C=9x");
	ar_add_prop(r, "header", "a", "rsa-sha256");
	r = ar_add(&a, "dkim", "fail", "body hash did not verify", NULL);
	ar_add_prop(r, "header", "d", "example.net");
	r = ar_add(&a, "dmarc", "pass", NULL, "p=reject dis=none");
	ar_add_prop(r, "header", "from", "example.org");
	r = ar_add(&a, "arc", "none", NULL, NULL);
	ar_add_prop(r, "smtp", "remote-ip", "192.0.2.1");
	return a;
}

static const char sample_text[] =
    "Authentication-Results: mx.example.test;\r\n"
    "\tspf=pass smtp.mailfrom=alice@example.org;\r\n"
    "\tspf=none smtp.helo=mail.example.org;\r\n"
    "\tdkim=pass header.d=example.org\r\n"
    "\t header.s=sel2026-a-rather-long-selector-name header.b=\"ab+/C=9x\"\r\n"
    "\t header.a=rsa-sha256;\r\n"
    "\tdkim=fail reason=\"body hash did not verify\" header.d=example.net;\r\n"
    "\tdmarc=pass (p=reject dis=none) header.from=example.org;\r\n"
    "\tarc=none smtp.remote-ip=192.0.2.1\r\n";

static void
test_format(void)
{
	struct authres a = sample(), none;
	struct buf b;
	size_t longest;
	bool crlf;

	buf_init(&b, 0);
	is_int(ar_format(&a, &b), 0, "format");
	longest_line(b.data, &longest, &crlf);
	ok(longest <= 78, "folded at 78 columns (longest %zu)", longest);
	ok(crlf, "every line ends in CRLF");
	/* Continuation lines start with white space (folding). */
	is_str(b.data, sample_text, "the field as expected");
	ar_free(&a);

	buf_reset(&b);
	ar_init(&none, "mx.example.test");
	ar_format(&none, &b);
	is_str(b.data, "Authentication-Results: mx.example.test; none\r\n",
	    "no results: none");
	ar_free(&none);

	/* Quoting: an id that is no token, a local part that is no
	 * dot-atom, a comment with parentheses and a backslash. */
	buf_reset(&b);
	{
		struct ar_result *r;
		ar_init(&a, "odd id");
		r = ar_add(&a, "spf", "fail", NULL, "a (nested) \\ comment");
		ar_add_prop(r, "smtp", "mailfrom", "\"john doe\"@example.org");
		ar_add_prop(r, "smtp", "helo", "bad\r\nhost");
		ar_format(&a, &b);
		is_str(b.data, "Authentication-Results: \"odd id\";\r\n"
		    "\tspf=fail (a \\(nested\\) \\\\ comment)\r\n"
		    "\t smtp.mailfrom=\"\\\"john doe\\\"@example.org\" "
		    "smtp.helo=\"bad??host\"\r\n", "quoting and escaping");
		ar_free(&a);
	}
	buf_free(&b);
}

/* Parse field value v, expect ok/error. */
static int
parse(struct authres *a, const char *v)
{
	return ar_parse(a, v, strlen(v));
}

static void
test_parse_appendix_b(void)
{
	struct authres a;
	const struct ar_result *r;

	/* B.2 */
	is_int(parse(&a, "example.org 1; none"), 0, "B.2 parses");
	is_str(a.authserv_id, "example.org", "B.2 authserv-id");
	is_int((int)a.version, 1, "B.2 version");
	is_int((int)a.n, 0, "B.2 no results");
	ar_free(&a);
	/* B.3 */
	is_int(parse(&a, "example.com; spf=pass smtp.mailfrom=example.net"), 0,
	    "B.3 parses");
	r = ar_find(&a, "spf");
	ok(r != NULL && strcmp(r->result, "pass") == 0, "B.3 spf=pass");
	is_str(r ? ar_prop_value(r, "smtp", "mailfrom") : NULL, "example.net",
	    "B.3 smtp.mailfrom");
	ar_free(&a);
	/* B.4 */
	is_int(parse(&a, "example.com; auth=pass (cram-md5) "
	    "smtp.auth=sender@example.net; spf=pass smtp.mailfrom=example.net"),
	    0, "B.4 parses");
	is_int((int)a.n, 2, "B.4 two results");
	is_str(a.n > 0 ? a.res[0].comment : NULL, "cram-md5", "B.4 comment");
	is_str(a.n > 0 ? ar_prop_value(&a.res[0], "smtp", "auth") : NULL,
	    "sender@example.net", "B.4 smtp.auth");
	ar_free(&a);
	is_int(parse(&a, "example.com; iprev=pass policy.iprev=192.0.2.200"), 0,
	    "B.4 iprev parses");
	is_str(a.n > 0 ? ar_prop_value(&a.res[0], "policy", "iprev") : NULL,
	    "192.0.2.200", "B.4 policy.iprev");
	ar_free(&a);
	/* B.5 */
	is_int(parse(&a, "example.com;\r\n          sender-id=fail "
	    "header.from=example.com;\r\n          dkim=pass (good signature) "
	    "header.d=example.com"), 0, "B.5 parses (with line breaks)");
	is_int((int)a.n, 2, "B.5 two results");
	ar_free(&a);
	/* B.6 */
	is_int(parse(&a, "example.com;\r\n          dkim=pass (good signature) "
	    "header.d=newyork.example.com"), 0, "B.6 first parses");
	ar_free(&a);
	is_int(parse(&a, "mail-router.example.net;\r\n          dkim=pass "
	    "(good signature) header.d=newyork.example.com\r\n"
	    "                header.b=oINEO8hg;\r\n          dkim=fail "
	    "(bad signature) header.d=mail-router.example.net\r\n"
	    "                header.b=EToRSuvU"), 0, "B.6 second parses");
	is_int((int)a.n, 2, "B.6 two dkim results");
	is_str(a.n > 1 ? a.res[1].result : NULL, "fail", "B.6 second fails");
	is_str(a.n > 1 ? ar_prop_value(&a.res[1], "header", "b") : NULL,
	    "EToRSuvU", "B.6 header.b");
	ar_free(&a);
	/* B.7 */
	is_int(parse(&a, "example.com;\r\n          dkim=pass "
	    "reason=\"good signature\"\r\n            "
	    "header.i=@mail-router.example.net;\r\n          dkim=fail "
	    "reason=\"bad signature\"\r\n            "
	    "header.i=@newyork.example.com"), 0, "B.7 parses");
	is_str(a.n > 1 ? a.res[1].reason : NULL, "bad signature", "B.7 reason");
	is_str(a.n > 0 ? ar_prop_value(&a.res[0], "header", "i") : NULL,
	    "@mail-router.example.net", "B.7 header.i");
	ar_free(&a);
	/* B.8: several methods in one field with a version. */
	is_int(parse(&a, "example.com 1; spf=pass smtp.mailfrom=example.net;"
	    " dkim/1=pass header.i=@example.net"), 0, "method version parses");
	is_str(a.n > 1 ? a.res[1].method_version : NULL, "1", "method/version");
	ar_free(&a);
}

static void
test_parse_nasty(void)
{
	static const char *const bad[] = {
		"", ";", " (comment only)", "example.com", "example.com; spf",
		"example.com; spf=", "example.com; spf=pass (unterminated",
		"example.com; spf=pass smtp.mailfrom",
		"example.com; spf=pass smtp.=x",
		"example.com; =pass",
		"example.com; none extra",
		"example.com; spf=pass ((((((((((deep))))))))))",
		"\"unterminated; spf=pass",
		"example.com; spf=pass smtp.mailfrom=\"x",
	};
	struct authres a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(parse(&a, bad[i]), PTT_EINVAL, "refused: '%s'", bad[i]);
		ar_free(&a);
	}
	is_int(parse(&a, "(c) example.com (d) ; (e) spf (f) = (g) pass (h) "
	    "smtp (i) . (j) mailfrom (k) = (l) example.net (m) ;"), 0,
	    "comments wherever CFWS goes, trailing ';'");
	is_str(a.authserv_id, "example.com", "id between comments");
	is_str(a.n ? a.res[0].comment : NULL, "h", "result comment");
	is_str(a.n ? ar_prop_value(&a.res[0], "smtp", "mailfrom") : NULL,
	    "example.net", "property between comments");
	ar_free(&a);
	is_int(parse(&a, "\"quoted \\\"id\\\"\"; dkim=pass header.b=ab/+cd="), 0,
	    "quoted id, unquoted base64");
	is_str(a.authserv_id, "quoted \"id\"", "quoted-pair in the id");
	is_str(a.n ? ar_prop_value(&a.res[0], "header", "b") : NULL,
	    "ab/+cd=", "lenient header.b");
	ar_free(&a);
}

static void
test_roundtrip(void)
{
	struct authres a = sample(), b;
	struct mail_hdr h;
	struct buf out;
	bool same = true;

	buf_init(&out, 0);
	ar_format(&a, &out);
	mail_hdr_parse(&h, out.data, out.len, NULL);
	is_int((int)h.n, 1, "one field");
	is_int(ar_parse(&b, h.f[0].value, h.f[0].value_len), 0,
	    "our own field parses");
	is_int((int)b.n, (int)a.n, "same number of results");
	for (size_t i = 0; i < a.n && i < b.n; i++) {
		same = same && strcmp(a.res[i].method, b.res[i].method) == 0 &&
		    strcmp(a.res[i].result, b.res[i].result) == 0 &&
		    a.res[i].nprop == b.res[i].nprop;
		for (size_t k = 0; same && k < a.res[i].nprop; k++)
			same = strcmp(a.res[i].prop[k].value,
			    b.res[i].prop[k].value) == 0;
	}
	ok(same, "methods, results and values survive the round trip");
	is_str(b.n > 3 ? b.res[3].reason : NULL, "body hash did not verify",
	    "reason survives");
	is_str(b.n > 4 ? b.res[4].comment : NULL, "p=reject dis=none",
	    "comment survives");
	mail_hdr_free(&h);
	ar_free(&a);
	ar_free(&b);
	buf_free(&out);
}

static void
test_remove_ours(void)
{
	static const char msg[] =
	    "Authentication-Results: mx.example.test; spf=pass "
	    "smtp.mailfrom=forged@example.org\r\n"
	    "Received: from somewhere\r\n"
	    "Authentication-Results: other.example.net; dkim=pass "
	    "header.d=example.org\r\n"
	    "Authentication-Results: (sneaky) \"MX.Example.Test\"; dmarc=pass\r\n"
	    "authentication-results: mx.example.test; broken ((\r\n"
	    "Authentication-Results: mx.example.test.evil; none\r\n"
	    "From: a@example.org\r\n"
	    "\r\n"
	    "body\r\n";
	struct mail_hdr h;
	struct buf out;
	char id[64];

	mail_hdr_parse(&h, msg, sizeof(msg) - 1, NULL);
	is_int((int)ar_remove_ours(&h, "mx.example.test"), 3,
	    "three fields claiming our id removed");
	is_int((int)mail_hdr_count(&h, "Authentication-Results"), 2,
	    "two others kept");
	buf_init(&out, 0);
	mail_hdr_write(&h, &out, 0);
	ok(strstr(out.data, "forged@") == NULL, "the forged pass is gone");
	ok(strstr(out.data, "other.example.net") != NULL &&
	    strstr(out.data, "mx.example.test.evil") != NULL,
	    "foreign ids stay");
	ok(strstr(out.data, "\r\n\r\nbody\r\n") != NULL, "body intact");
	buf_free(&out);
	mail_hdr_free(&h);
	is_int(ar_authserv_id("  (c) x.example ; none", 22, id, sizeof(id)), 0,
	    "authserv-id alone");
	is_str(id, "x.example", "authserv-id value");
	is_int(ar_authserv_id("x.example", 9, id, 4), PTT_EINVAL,
	    "too long for the buffer");
}

/* python3-authres must parse our field and see the same results. */
static void
test_python_authres(void)
{
	struct authres a = sample();
	struct buf b;
	char path[] = "/tmp/ptt-authres-XXXXXX", cmd[512], line[1024];
	FILE *f, *p;
	int fd, st;

	buf_init(&b, 0);
	ar_format(&a, &b);
	ar_free(&a);
	if (access("/usr/bin/python3", X_OK) != 0) {
		ok(1, "# SKIP no /usr/bin/python3");
		buf_free(&b);
		return;
	}
	fd = mkstemp(path);
	f = fdopen(fd, "w");
	fwrite(b.data, 1, b.len, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c '"
	    "import sys, authres\n"
	    "h = authres.AuthenticationResultsHeader.parse(open(sys.argv[1]).read().rstrip())\n"
	    "print(h.authserv_id, \" \".join(\"%%s=%%s\" %% (r.method, r.result) for r in h.results),"
	    " \" \".join(\"%%s.%%s=%%s\" %% (p.type, p.name, p.value) for r in h.results for p in r.properties))"
	    "' %s 2>&1", path);
	p = popen(cmd, "r");
	line[0] = '\0';
	if (p != NULL && fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	st = p != NULL ? pclose(p) : -1;
	unlink(path);
	line[strcspn(line, "\n")] = '\0';
	is_int(st, 0, "python3-authres parses the field");
	is_str(line, "mx.example.test spf=pass spf=none dkim=pass dkim=fail "
	    "dmarc=pass arc=none smtp.mailfrom=alice@example.org "
	    "smtp.helo=mail.example.org header.d=example.org "
	    "header.s=sel2026-a-rather-long-selector-name header.a=rsa-sha256 "
	    "header.d=example.net header.from=example.org "
	    "smtp.remote-ip=192.0.2.1", "python3-authres sees our results");
	buf_free(&b);
}

int
main(void)
{
	test_format();
	test_parse_appendix_b();
	test_parse_nasty();
	test_roundtrip();
	test_remove_ours();
	test_python_authres();
	return tap_done();
}
