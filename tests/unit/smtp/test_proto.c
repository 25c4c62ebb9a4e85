/*
 * test_proto.c - the SMTP command-line parser (smtp/proto.h): every verb,
 * paths (RFC 5321 4.1.2) good and bad, parameters, length limits, and the
 * status -> reply table.
 */
#include <string.h>

#include "../tap.h"
#include "smtp/proto.h"

static struct smtp_cmd cmd;

static enum smtp_status
P(const char *line)
{
	return smtp_cmd_parse(line, strlen(line), SMTP_EXT_ALL, &cmd);
}

static enum smtp_status
Pext(const char *line, unsigned ext)
{
	return smtp_cmd_parse(line, strlen(line), ext, &cmd);
}

static void
verbs(void)
{
	static const struct { const char *line; enum smtp_verb v; } t[] = {
		{ "HELO a.example", SMTP_V_HELO }, { "ehlo a.example", SMTP_V_EHLO },
		{ "MAIL FROM:<>", SMTP_V_MAIL }, { "RCPT TO:<a@b>", SMTP_V_RCPT },
		{ "DATA", SMTP_V_DATA }, { "BDAT 10", SMTP_V_BDAT },
		{ "RSET", SMTP_V_RSET }, { "NOOP", SMTP_V_NOOP },
		{ "NOOP anything", SMTP_V_NOOP }, { "QUIT", SMTP_V_QUIT },
		{ "VRFY bob", SMTP_V_VRFY }, { "EXPN list", SMTP_V_EXPN },
		{ "HELP", SMTP_V_HELP }, { "HELP MAIL", SMTP_V_HELP },
		{ "StartTLS", SMTP_V_STARTTLS }, { "AUTH PLAIN", SMTP_V_AUTH },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum smtp_status st = P(t[i].line);
		is_int(st, SMTP_ST_OK, "parse '%s'", t[i].line);
		is_int(cmd.verb, t[i].v, "verb of '%s'", t[i].line);
	}
	is_int(P("FOO"), SMTP_ST_UNKNOWN_CMD, "unknown verb");
	is_int(P("MAILX FROM:<>"), SMTP_ST_UNKNOWN_CMD, "verb must end at SP");
	is_int(P(""), SMTP_ST_UNKNOWN_CMD, "empty line");
	is_int(P("DATA x"), SMTP_ST_EXTRA_ARG, "DATA takes no argument");
	is_int(P("QUIT now"), SMTP_ST_EXTRA_ARG, "QUIT takes no argument");
	is_int(P("STARTTLS x"), SMTP_ST_EXTRA_ARG, "STARTTLS takes no argument");
	is_int(P("RSET "), SMTP_ST_OK, "trailing space tolerated");
	is_int(P("VRFY"), SMTP_ST_NO_ARG, "VRFY needs an argument");
	is_int(P("EHLO"), SMTP_ST_NO_ARG, "EHLO needs an argument");
	is_int(P("HELO "), SMTP_ST_NO_ARG, "HELO needs a name");
	is_int(smtp_cmd_parse("NOOP\0x", 6, SMTP_EXT_ALL, &cmd), SMTP_ST_NUL, "NUL refused");
	is_int(P("NOOP a\rb"), SMTP_ST_BARE_CR, "bare CR in a line");
	is_int(P("NOOP a\nb"), SMTP_ST_BARE_LF, "bare LF in a line");
}

static void
helo(void)
{
	is_int(P("EHLO mail.example.com"), SMTP_ST_OK, "EHLO domain");
	is_str(cmd.helo, "mail.example.com", "helo name");
	ok(cmd.helo_valid, "valid domain");
	is_int(P("EHLO [192.0.2.1]"), SMTP_ST_OK, "EHLO literal");
	ok(cmd.helo_valid, "valid literal");
	is_int(P("EHLO [IPv6:2001:db8::1]"), SMTP_ST_OK, "EHLO v6 literal");
	ok(cmd.helo_valid, "valid v6 literal");
	is_int(P("EHLO bad_name"), SMTP_ST_OK, "odd name accepted");
	ok(!cmd.helo_valid, "but flagged invalid");
	is_int(P("EHLO -bad.example"), SMTP_ST_OK, "leading hyphen accepted");
	ok(!cmd.helo_valid, "but flagged");
	{
		char line[400];
		memset(line, 'a', sizeof(line));
		memcpy(line, "EHLO ", 5);
		line[5 + 256] = '\0';
		is_int(P(line), SMTP_ST_BAD_HELO, "256-char EHLO name refused");
	}
}

static void
paths(void)
{
	struct smtp_path p;
	static const char *good[] = {
		"<a@b>", "<user@example.com>", "<first.last@sub.example.co.uk>",
		"<\"quoted local\"@example.com>", "<\"a\\\"b\"@example.com>",
		"<user@[192.0.2.1]>", "<user@[IPv6:2001:db8::1]>",
		"<user@[x-tag:abc]>", "<@relay.example:user@example.com>",
		"<@r1.example,@r2.example:u@example.com>",
		"<a+tag@example.com>", "<!#$%&'*+-/=?^_`{|}~@example.com>",
		"<u@a-b.example>", "<u@1.2.3.example>",
	};
	static const char *bad[] = {
		"a@b", "<a@b", "a@b>", "<@>", "<a@>", "<@b>", "<a>", "<a..b@c>",
		"<.a@c>", "<a.@c>", "<a@-b.c>", "<a@b-.c>", "<a@b..c>", "<a@.b>",
		"<a@b.>", "<a b@c>", "<\"unterminated@c>", "<a@[1.2.3]>",
		"<a@[300.1.1.1]>", "<a@[IPv6:zz::1]>", "<a@[]>", "<a@b>x",
		"<@r.example:>", "<@r.example user@x>", "<a@b c>", "<\"a\x01\"@b>",
		"<a\x80@b>", "<a@[x-tag:]>", "<a@b\xc3>",
	};
	size_t i;
	char line[600];

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		is_int(smtp_path_parse(good[i], strlen(good[i]), false, false, &p),
		    SMTP_ST_OK, "good path %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(smtp_path_parse(bad[i], strlen(bad[i]), false, false, &p) != SMTP_ST_OK,
		    "bad path %zu refused", i);

	smtp_path_parse("<@r.example:u@example.com>", 26, false, false, &p);
	is_str(p.addr, "u@example.com", "source route dropped");
	is_str(p.local, "u", "local part");
	is_str(p.domain, "example.com", "domain");
	smtp_path_parse("<\"x y\"@example.com>", 19, false, false, &p);
	is_str(p.addr, "\"x y\"@example.com", "quoted local kept");
	ok(p.quoted, "quoted flagged");
	smtp_path_parse("<u@[192.0.2.1]>", 15, false, false, &p);
	ok(p.literal, "literal flagged");
	is_str(p.domain, "[192.0.2.1]", "literal domain");

	ok(smtp_path_parse("<>", 2, true, false, &p) == SMTP_ST_OK && p.null, "null path");
	ok(smtp_path_parse("<>", 2, false, false, &p) != SMTP_ST_OK, "null path not for RCPT");
	ok(smtp_path_parse("<Postmaster>", 12, false, true, &p) == SMTP_ST_OK && p.postmaster,
	    "bare postmaster");
	ok(smtp_path_parse("<Postmaster>", 12, false, false, &p) != SMTP_ST_OK,
	    "bare postmaster only for RCPT");

	/* UTF-8 (RFC 6531) */
	ok(smtp_path_parse("<j\xc3\xb6rg@ex\xc3\xa4mple.com>", 20, false, false, &p) == SMTP_ST_OK
	    && p.utf8, "UTF-8 path parsed and flagged");
	ok(smtp_path_parse("<j\xc0\xafrg@example.com>", 19, false, false, &p) != SMTP_ST_OK,
	    "overlong UTF-8 refused");

	/* limits (RFC 5321 4.5.3.1) */
	memset(line, 0, sizeof(line));
	line[0] = '<';
	memset(line + 1, 'a', 64);
	memcpy(line + 65, "@b.c>", 5);
	is_int(smtp_path_parse(line, strlen(line), false, false, &p), SMTP_ST_OK, "64-octet local part");
	memset(line + 1, 'a', 65);
	memcpy(line + 66, "@b.c>", 5);
	is_int(smtp_path_parse(line, strlen(line), false, false, &p), SMTP_ST_PATH_TOO_LONG, "65-octet local part");
	{
		/* a domain of 4 labels of 63: 255 octets, path 260 > 256 */
		char d[300];
		size_t n = 0;
		int k;
		d[n++] = '<'; d[n++] = 'a'; d[n++] = '@';
		for (k = 0; k < 4; k++) {
			memset(d + n, 'b', 63);
			n += 63;
			d[n++] = k < 3 ? '.' : '>';
		}
		d[n] = '\0';
		is_int(smtp_path_parse(d, n, false, false, &p), SMTP_ST_PATH_TOO_LONG, "path over 256");
		memset(d + 3, 'b', 64);	/* a 64-octet label */
		d[3 + 64] = '.';
		ok(smtp_path_parse(d, 3 + 65 + 5, false, false, &p) != SMTP_ST_OK, "label over 63 refused");
	}
}

static void
mail_rcpt(void)
{
	is_int(P("MAIL FROM:<a@b.example>"), SMTP_ST_OK, "MAIL");
	is_str(cmd.path.addr, "a@b.example", "MAIL address");
	is_int(P("mail from:<>"), SMTP_ST_OK, "MAIL null sender, lower case");
	ok(cmd.path.null, "null");
	is_int(P("MAIL FROM: <a@b.example>"), SMTP_ST_OK, "space after colon tolerated");
	is_int(P("MAIL FROM:a@b.example"), SMTP_ST_BAD_SENDER, "no brackets");
	is_int(P("MAIL FROM <a@b>"), SMTP_ST_SYNTAX, "missing colon");
	is_int(P("MAIL TO:<a@b>"), SMTP_ST_SYNTAX, "wrong keyword");
	is_int(P("RCPT TO:<>"), SMTP_ST_BAD_RCPT, "RCPT null refused");
	is_int(P("RCPT TO:<postmaster>"), SMTP_ST_OK, "RCPT postmaster");
	is_int(P("RCPT TO:<a@b> "), SMTP_ST_OK, "trailing space");
	is_int(P("RCPT TO:<a@b>x"), SMTP_ST_SYNTAX, "junk after path");
	is_int(P("RCPT TO:<\"a>b\"@c.example>"), SMTP_ST_OK, "> inside quotes");

	is_int(P("MAIL FROM:<a@b> SIZE=12345 BODY=8BITMIME"), SMTP_ST_OK, "SIZE BODY");
	ok(cmd.mail.has_size && cmd.mail.size == 12345, "size value");
	is_int(cmd.mail.body, SMTP_BODY_8BITMIME, "body 8bitmime");
	is_int(P("MAIL FROM:<a@b> BODY=7bit"), SMTP_ST_OK, "BODY=7bit case-insensitive");
	is_int(cmd.mail.body, SMTP_BODY_7BIT, "body 7bit");
	is_int(P("MAIL FROM:<a@b> BODY=BINARYMIME"), SMTP_ST_OK, "BINARYMIME");
	is_int(Pext("MAIL FROM:<a@b> BODY=BINARYMIME", SMTP_EXT_ALL & ~SMTP_EXT_BINARYMIME),
	    SMTP_ST_BAD_PARAM, "BINARYMIME not offered");
	is_int(P("MAIL FROM:<a@b> BODY=9BIT"), SMTP_ST_BAD_PARAM, "bad BODY");
	is_int(P("MAIL FROM:<a@b> SIZE=abc"), SMTP_ST_BAD_PARAM, "bad SIZE");
	is_int(P("MAIL FROM:<a@b> SIZE"), SMTP_ST_BAD_PARAM, "SIZE without value");
	is_int(P("MAIL FROM:<a@b> SIZE=999999999999999999999"), SMTP_ST_BAD_PARAM, "SIZE overflow");
	is_int(P("MAIL FROM:<a@b> SIZE=1 SIZE=2"), SMTP_ST_DUP_PARAM, "duplicate SIZE");
	is_int(P("MAIL FROM:<a@b> FOO=bar"), SMTP_ST_UNKNOWN_PARAM, "unknown param 555");
	is_int(Pext("MAIL FROM:<a@b> SIZE=1", 0), SMTP_ST_UNKNOWN_PARAM, "SIZE without EHLO");
	is_int(P("MAIL FROM:<a@b> SIZE=1  BODY=7BIT"), SMTP_ST_OK, "double space tolerated");
	is_int(P("MAIL FROM:<a@b> =x"), SMTP_ST_SYNTAX, "empty keyword");
	ok(P("MAIL FROM:<a@b> SIZE=") != SMTP_ST_OK, "empty value");

	/* SMTPUTF8 */
	is_int(P("MAIL FROM:<j\xc3\xb6rg@example.com>"), SMTP_ST_UTF8_ADDR, "UTF-8 sender needs SMTPUTF8");
	is_int(P("MAIL FROM:<j\xc3\xb6rg@example.com> SMTPUTF8"), SMTP_ST_OK, "with SMTPUTF8");
	ok(cmd.mail.smtputf8 && cmd.path.utf8, "flags");
	is_int(P("MAIL FROM:<a@b> SMTPUTF8=yes"), SMTP_ST_BAD_PARAM, "SMTPUTF8 takes no value");
	is_int(P("RCPT TO:<j\xc3\xb6rg@example.com>"), SMTP_ST_OK, "UTF-8 RCPT parses (server checks)");
	ok(cmd.path.utf8, "utf8 rcpt flagged");

	/* DSN */
	is_int(P("MAIL FROM:<a@b> RET=HDRS ENVID=QQ314159+2Bx"), SMTP_ST_OK, "RET ENVID");
	is_int(cmd.mail.ret, SMTP_RET_HDRS, "ret hdrs");
	is_str(cmd.mail.envid, "QQ314159+x", "envid decoded");
	is_str(cmd.mail.envid_raw, "QQ314159+2Bx", "envid raw");
	is_int(P("MAIL FROM:<a@b> RET=ALL"), SMTP_ST_BAD_PARAM, "bad RET");
	is_int(P("MAIL FROM:<a@b> ENVID=a+zz"), SMTP_ST_BAD_PARAM, "bad xtext");
	is_int(P("MAIL FROM:<a@b> ENVID=a+2b"), SMTP_ST_BAD_PARAM, "xtext hex is upper case");
	is_int(Pext("MAIL FROM:<a@b> RET=FULL", SMTP_EXT_ALL & ~SMTP_EXT_DSN), SMTP_ST_UNKNOWN_PARAM,
	    "RET without DSN");
	is_int(P("MAIL FROM:<a@b> AUTH=<>"), SMTP_ST_OK, "AUTH=<>");
	is_int(P("RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b"), SMTP_ST_OK, "NOTIFY ORCPT");
	is_int(cmd.rcpt.notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE, "notify flags");
	is_str(cmd.rcpt.orcpt_type, "rfc822", "orcpt type");
	is_str(cmd.rcpt.orcpt_addr, "a@b", "orcpt decoded");
	is_int(P("RCPT TO:<a@b> NOTIFY=NEVER"), SMTP_ST_OK, "NOTIFY=NEVER");
	is_int(P("RCPT TO:<a@b> NOTIFY=NEVER,DELAY"), SMTP_ST_BAD_PARAM, "NEVER alone");
	is_int(P("RCPT TO:<a@b> NOTIFY=SUCCESS,SUCCESS"), SMTP_ST_BAD_PARAM, "repeated flag");
	is_int(P("RCPT TO:<a@b> NOTIFY=SOMETIMES"), SMTP_ST_BAD_PARAM, "bad NOTIFY");
	is_int(P("RCPT TO:<a@b> ORCPT=rfc822"), SMTP_ST_BAD_PARAM, "ORCPT without ;");
	is_int(P("RCPT TO:<a@b> ORCPT=;a@b"), SMTP_ST_BAD_PARAM, "ORCPT without type");
	is_int(P("RCPT TO:<a@b> SIZE=1"), SMTP_ST_UNKNOWN_PARAM, "MAIL param on RCPT");
}

static void
bdat_auth(void)
{
	is_int(P("BDAT 1000"), SMTP_ST_OK, "BDAT");
	ok(cmd.bdat_size == 1000 && !cmd.bdat_last, "size, not last");
	is_int(P("BDAT 0 LAST"), SMTP_ST_OK, "BDAT 0 LAST");
	ok(cmd.bdat_size == 0 && cmd.bdat_last, "last");
	is_int(P("bdat 5 last"), SMTP_ST_OK, "lower case");
	is_int(P("BDAT"), SMTP_ST_NO_ARG, "BDAT without size");
	is_int(P("BDAT x"), SMTP_ST_SYNTAX, "BDAT bad size");
	is_int(P("BDAT -1"), SMTP_ST_SYNTAX, "negative");
	is_int(P("BDAT 5 FIRST"), SMTP_ST_SYNTAX, "bad keyword");
	is_int(P("BDAT 99999999999999999999999"), SMTP_ST_SYNTAX, "huge size");

	is_int(P("AUTH PLAIN"), SMTP_ST_OK, "AUTH PLAIN");
	is_str(cmd.auth_mech, "PLAIN", "mech");
	ok(cmd.auth_ir == NULL, "no initial response");
	is_int(P("auth login dXNlcg=="), SMTP_ST_OK, "AUTH LOGIN with ir");
	is_str(cmd.auth_mech, "LOGIN", "mech upper-cased");
	ok(cmd.auth_irlen == 8 && memcmp(cmd.auth_ir, "dXNlcg==", 8) == 0, "ir");
	is_int(P("AUTH PLAIN ="), SMTP_ST_OK, "empty initial response");
	is_int(P("AUTH"), SMTP_ST_NO_ARG, "AUTH without mech");
	is_int(P("AUTH PLAIN a b"), SMTP_ST_AUTH_BAD_B64, "two responses");
	is_int(P("AUTH PLAIN !!"), SMTP_ST_AUTH_BAD_B64, "not base64");
	is_int(P("AUTH ABCDEFGHIJKLMNOPQRSTU"), SMTP_ST_SYNTAX, "mech name over 20");
}

static void
limits(void)
{
	char line[13000];

	memset(line, 'a', sizeof(line));
	memcpy(line, "NOOP ", 5);
	is_int(smtp_cmd_parse(line, 510, SMTP_EXT_ALL, &cmd), SMTP_ST_OK, "512 with CRLF");
	is_int(smtp_cmd_parse(line, 511, SMTP_EXT_ALL, &cmd), SMTP_ST_LINE_TOO_LONG, "513 with CRLF");
	memcpy(line, "MAIL FROM:<a@b> ENVID=", 22);
	is_int(smtp_cmd_parse(line, 22 + 100, SMTP_EXT_ALL, &cmd), SMTP_ST_OK, "ENVID of 100");
	is_int(smtp_cmd_parse(line, 22 + 101, SMTP_EXT_ALL, &cmd), SMTP_ST_BAD_PARAM, "ENVID of 101");
	is_int(smtp_cmd_parse(line, 3000, SMTP_EXT_ALL, &cmd), SMTP_ST_LINE_TOO_LONG, "MAIL line over 2048");
	memcpy(line, "AUTH PLAIN ", 11);
	memset(line + 11, 'A', 12000);
	is_int(smtp_cmd_parse(line, 11 + 12000, SMTP_EXT_ALL, &cmd), SMTP_ST_OK, "AUTH line of 12011");
	is_int(smtp_cmd_parse(line, 12300, SMTP_EXT_ALL, &cmd), SMTP_ST_LINE_TOO_LONG, "AUTH over 12288");
	memset(line, 'x', 5000);
	is_int(smtp_cmd_parse(line, 5000, SMTP_EXT_ALL, &cmd), SMTP_ST_LINE_TOO_LONG, "long junk");
}

static void
table(void)
{
	int st;
	char out[16];

	for (st = 1; st < SMTP_ST_COUNT; st++) {
		const struct smtp_status_reply *r = smtp_status_reply(st);
		ok(r->code >= 400 && r->code <= 599 && r->ecode[0] == (char)('0' + r->code / 100) &&
		    r->text[0], "status %d maps to %d %s", st, r->code, r->ecode);
	}
	is_int(smtp_status_reply(SMTP_ST_COUNT + 5)->code, 451, "unknown -> 451");
	is_int(smtp_status_from_err(-2), SMTP_ST_SIZE_EXCEEDED, "ENOSPC -> size");
	is_int(smtp_status_reply(smtp_status_from_err(-14))->code, 451, "ETEMP -> 451");
	is_str(smtp_verb_name(SMTP_V_STARTTLS), "STARTTLS", "verb name");
	is_int(smtp_xtext_decode("a+2Bb", 5, out, sizeof(out)), 3, "xtext length");
	is_str(out, "a+b", "xtext");
	is_int(smtp_xtext_decode("a=b", 3, out, sizeof(out)), -1, "= not xtext");
	is_int(smtp_xtext_decode("abcdefghijklmnopq", 17, out, sizeof(out)), -1, "xtext too long for out");
	ok(smtp_utf8_valid((const uint8_t *)"\xf0\x9f\x98\x80", 4), "4-byte UTF-8");
	ok(!smtp_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3), "surrogate refused");
	ok(!smtp_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4), "past U+10FFFF refused");
}

int
main(void)
{
	verbs();
	helo();
	paths();
	mail_rcpt();
	bdat_auth();
	limits();
	table();
	return tap_done();
}
