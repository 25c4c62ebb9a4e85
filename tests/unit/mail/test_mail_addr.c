/*
 * test_mail_addr.c - RFC 5322 3.4 and appendix A address examples, the
 * obsolete syntax of 4.4, RFC 2047 and RFC 6532 names, the author domain.
 */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "mail/addr.h"
#include "mail/defect.h"
#include "util/err.h"

static struct mail_addr_list L;

static int
parse(const char *s)
{
	mail_addr_list_free(&L);
	return mail_addr_parse(&L, s, strlen(s));
}

#define ADDR(i, disp, loc, dom, what) do {				\
	if (!ok(L.n > (i), "%s: has address %d", what, i))		\
		break;							\
	is_str(L.a[i].display, disp, "%s: display", what);		\
	is_str(L.a[i].local, loc, "%s: local part", what);		\
	is_str(L.a[i].domain, dom, "%s: domain", what);			\
} while (0)

static void
test_rfc5322_examples(void)
{
	is_int(parse("\"Joe Q. Public\" <john.q.public@example.com>"), 0, "A.1.1");
	is_int(L.n, 1, "A.1.1 one address");
	ADDR(0, "Joe Q. Public", "john.q.public", "example.com", "A.1.1");
	is_int(L.defects, 0, "A.1.1 clean");

	parse("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>");
	is_int(L.n, 3, "A.1.2 three");
	ADDR(0, "Mary Smith", "mary", "x.test", "A.1.2 #1");
	ADDR(1, NULL, "jdoe", "example.org", "A.1.2 #2");
	ADDR(2, "Who?", "one", "y.test", "A.1.2 #3");

	parse("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>");
	is_int(L.n, 2, "A.1.2b two");
	ADDR(0, NULL, "boss", "nil.test", "A.1.2b #1");
	ADDR(1, "Giant; \"Big\" Box", "sysservices", "example.net", "A.1.2b #2");

	parse("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;");
	is_int(L.n, 3, "A.1.3 group members");
	ADDR(0, "Ed Jones", "c", "a.test", "A.1.3 #1");
	is_str(L.a[0].group, "A Group", "A.1.3 group name");
	ADDR(2, "John", "jdoe", "one.test", "A.1.3 #3");
	is_int(L.defects, 0, "A.1.3 clean");

	is_int(parse("Undisclosed recipients:;"), 0, "A.1.3 empty group");
	is_int(L.n, 0, "empty group has no mailboxes");
	is_int(L.defects, 0, "empty group clean");

	parse("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>");
	is_int(L.n, 1, "A.5 comments");
	ADDR(0, "Pete", "pete", "silly.test", "A.5");

	parse("A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
	    "         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)");
	is_int(L.n, 3, "A.5 group with comments");
	ADDR(0, "Chris Jones", "c", "public.example", "A.5 group #1");
	ADDR(1, NULL, "joe", "example.org", "A.5 group #2");
	is_str(L.a[0].group, "A Group", "A.5 group name without comment");

	parse("Joe Q. Public <john.q.public@example.com>");
	ADDR(0, "Joe Q. Public", "john.q.public", "example.com", "A.6.1 obs-phrase");

	parse("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example");
	is_int(L.n, 2, "A.6.1 obs-route and empty element");
	ADDR(0, "Mary Smith", "mary", "example.net", "A.6.1 obs-route");
	ADDR(1, NULL, "jdoe", "test.example", "A.6.1 obs-domain");

	parse("<@a.test,@b.test:john@example.net>");
	ADDR(0, NULL, "john", "example.net", "obs-route with two domains");

	parse("John Doe <jdoe@machine(comment).  example>");
	ADDR(0, "John Doe", "jdoe", "machine.example", "A.6.3 CFWS in domain");
}

static void
test_other(void)
{
	parse("john@example.com (John Doe)");
	ADDR(0, "John Doe", "john", "example.com", "comment as display name");

	parse("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>");
	ADDR(0, "Keld J\xc3\xb8rn Simonsen", "keld", "dkuug.dk", "RFC 2047 name");

	parse("\"=?utf-8?b?4pyI?= Air\" <air@example.com>");
	ADDR(0, "\xe2\x9c\x88 Air", "air", "example.com", "2047 inside quotes");

	parse("J\xc3\xb6ran <j\xc3\xb6ran@b\xc3\xbc" "cher.example>");
	ADDR(0, "J\xc3\xb6ran", "j\xc3\xb6ran", "b\xc3\xbc" "cher.example",
	    "RFC 6532 UTF-8");

	parse("\"john doe\"@example.com");
	ADDR(0, NULL, "john doe", "example.com", "quoted local part");
	ok(L.n && L.a[0].quoted, "quoted flag");
	{
		struct buf b;

		buf_init(&b, 0);
		mail_addr_spec(&L.a[0], &b);
		is_str(b.data, "\"john doe\"@example.com", "addr-spec re-quoted");
		buf_free(&b);
	}

	parse("\"a\".b.\"c\"@example.com");
	ADDR(0, NULL, "a.b.c", "example.com", "obs-local-part");

	parse("user@[192.0.2.1]");
	ADDR(0, NULL, "user", "[192.0.2.1]", "domain literal");

	parse("a@b, c@d,");
	is_int(L.n, 2, "trailing comma");

	is_int(parse("foo"), 0, "bare word parses");
	ADDR(0, NULL, "foo", NULL, "bare local part");
	ok(L.defects & MAIL_D_BAD_ADDRESS, "no domain reported");

	is_int(parse("<>"), PTT_EINVAL, "null address");
	is_int(L.n, 0, "null address: no mailbox");
	is_int(parse("@@@"), PTT_EINVAL, "garbage");
	is_int(parse("   "), 0, "empty");
	is_int(parse("\"unterminated <a@b>"), 0, "unterminated quote");
	ok(L.n == 1 && L.a[0].domain == NULL, "read as a local part");
	ok(L.defects & MAIL_D_BAD_ADDRESS, "unterminated quote reported");
	parse("(unterminated a@b");
	is_int(L.n, 0, "unterminated comment swallows the rest");
	parse("a@b <c@d>, e@f");
	is_int(L.n, 2, "junk after an address skipped");
	ok(L.defects & MAIL_D_BAD_ADDRESS, "junk reported");
	ADDR(1, NULL, "e", "f", "address after junk");
	parse("g: a@b, h: c@d;;, e@f");
	ok(L.defects & MAIL_D_BAD_ADDRESS, "nested group reported");
	parse("x <a..b@example.com>");
	ok(L.defects & MAIL_D_BAD_ADDRESS, "a..b reported");
	parse("Name <a@b");
	ADDR(0, "Name", "a", "b", "missing '>' tolerated");
	parse("x@y.");
	ok(L.defects & MAIL_D_BAD_ADDRESS, "trailing dot in domain reported");
	{
		/* many addresses: bounded */
		size_t n = 3000, i;
		char *s = malloc(n * 6 + 1), *p = s;

		for (i = 0; i < n; i++) {
			memcpy(p, "a@b.c,", 6);
			p += 6;
		}
		*p = '\0';
		parse(s);
		is_int(L.n, MAIL_ADDR_MAX, "address count limited");
		ok(L.defects & MAIL_D_LIMIT, "limit reported");
		free(s);
	}
}

static int
author(const char *msg, char **dom)
{
	struct mail_hdr h;
	int r;

	mail_hdr_parse(&h, msg, strlen(msg), NULL);
	r = mail_author_domain(&h, dom);
	mail_hdr_free(&h);
	return r;
}

static void
test_author(void)
{
	char *d;

	is_int(author("From: Joe <joe@Example.COM>\r\nTo: x@y\r\n\r\n", &d), 0,
	    "author domain");
	is_str(d, "example.com", "lowercased");
	free(d);
	is_int(author("To: x@y\r\n\r\n", &d), PTT_ENOENT, "no From");
	ok(d == NULL, "no domain returned");
	is_int(author("From: a@b\r\nFrom: c@d\r\n\r\n", &d), PTT_EEXIST,
	    "two From fields");
	is_int(author("From: a@b, c@d\r\n\r\n", &d), PTT_EEXIST,
	    "two mailboxes");
	is_int(author("From: joe\r\n\r\n", &d), PTT_EINVAL, "no domain");
	is_int(author("From: <>\r\n\r\n", &d), PTT_EINVAL, "null address");
	is_int(author("From: g:;\r\n\r\n", &d), PTT_EINVAL, "empty group");
	is_int(author("From: \"x@evil.example\" <a@good.example>\r\n\r\n", &d), 0,
	    "quoted display name with @");
	is_str(d, "good.example", "the real domain");
	free(d);
	is_int(author("From: a@good.example (b@evil.example)\r\n\r\n", &d), 0,
	    "comment with @");
	is_str(d, "good.example", "comment ignored");
	free(d);
}

int
main(void)
{
	test_rfc5322_examples();
	test_other();
	test_author();
	mail_addr_list_free(&L);
	return tap_done();
}
