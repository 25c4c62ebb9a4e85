/*
 * test_msg.c - parsing the ACME server's answers: directory, order,
 * authorization, problem documents (with subproblems), Retry-After and the
 * URL check, with the malformed cases the parsers must refuse.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/msg.h"
#include "util/err.h"
#include "../tap.h"

#define S(x) x, strlen(x)

static const char dir_ok[] =
    "{\"keyChange\":\"https://ca.test/rollover-account-key\","
    "\"meta\":{\"externalAccountRequired\":false,"
    "\"termsOfService\":\"data:text/plain,Do what thou wilt\"},"
    "\"newAccount\":\"https://ca.test/sign-me-up\","
    "\"newNonce\":\"https://ca.test/nonce-plz\","
    "\"newOrder\":\"https://ca.test/order-plz\","
    "\"revokeCert\":\"https://ca.test/revoke-cert\"}";

static const char order_ok[] =
    "{\"status\":\"pending\",\"expires\":\"2026-11-23T08:00:00Z\","
    "\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"},"
    "{\"type\":\"dns\",\"value\":\"b.test\"}],"
    "\"finalize\":\"https://ca.test/finalize-order/X\","
    "\"authorizations\":[\"https://ca.test/authZ/1\",\"https://ca.test/authZ/2\"]}";

static const char authz_ok[] =
    "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.test\"},"
    "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://ca.test/chalZ/1\","
    "\"token\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"status\":\"pending\"},"
    "{\"type\":\"dns-01\",\"url\":\"https://ca.test/chalZ/2\","
    "\"token\":\"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA\",\"status\":\"pending\"}],"
    "\"expires\":\"2026-11-23T08:00:00Z\"}";

int
main(void)
{
	struct acme_directory d;
	struct acme_order o;
	struct acme_authz a;
	struct acme_problem p;
	const struct acme_challenge *ch;
	char err[256];
	time_t now = 1700000000;

	/* directory */
	is_int(acme_parse_directory(S(dir_ok), false, &d, err, sizeof(err)), 0,
	    "pebble-like directory");
	is_str(d.new_nonce, "https://ca.test/nonce-plz", "newNonce");
	is_str(d.new_account, "https://ca.test/sign-me-up", "newAccount");
	is_str(d.new_order, "https://ca.test/order-plz", "newOrder");
	is_str(d.terms, "data:text/plain,Do what thou wilt", "meta.termsOfService");
	acme_directory_free(&d);
	ok(acme_parse_directory(S("{\"newAccount\":\"https://a.test/a\","
	    "\"newOrder\":\"https://a.test/o\"}"), false, &d, err, sizeof(err)) ==
	    PTT_EPROTO, "missing newNonce: %s", err);
	acme_directory_free(&d);
	ok(acme_parse_directory(S("{\"newNonce\":\"http://a.test/n\","
	    "\"newAccount\":\"https://a.test/a\",\"newOrder\":\"https://a.test/o\"}"),
	    false, &d, err, sizeof(err)) == PTT_EPROTO, "http:// refused: %s", err);
	acme_directory_free(&d);
	is_int(acme_parse_directory(S("{\"newNonce\":\"http://a.test/n\","
	    "\"newAccount\":\"http://a.test/a\",\"newOrder\":\"http://a.test/o\"}"),
	    true, &d, err, sizeof(err)), 0, "http:// with allow_http");
	acme_directory_free(&d);
	ok(acme_parse_directory(S("{\"newNonce\":\"https://a/n\",\"newNonce\":\"https://b/n\","
	    "\"newAccount\":\"https://a/a\",\"newOrder\":\"https://a/o\"}"), false, &d,
	    err, sizeof(err)) == PTT_EPROTO, "duplicate keys refused: %s", err);
	acme_directory_free(&d);
	ok(acme_parse_directory(S("[1,2]"), false, &d, err, sizeof(err)) ==
	    PTT_EPROTO, "an array is not a directory: %s", err);
	ok(acme_parse_directory(S("{\"newNonce\":"), false, &d, err, sizeof(err)) ==
	    PTT_EPROTO, "truncated JSON: %s", err);
	ok(acme_parse_directory(S("{\"newNonce\":1,\"newAccount\":\"https://a/a\","
	    "\"newOrder\":\"https://a/o\"}"), false, &d, err, sizeof(err)) ==
	    PTT_EPROTO, "a number for a URL: %s", err);
	acme_directory_free(&d);
	ok(acme_parse_directory(S("{\"newNonce\":\"https://a/n\\u0000x\",\"newAccount\":"
	    "\"https://a/a\",\"newOrder\":\"https://a/o\"}"), false, &d, err,
	    sizeof(err)) == PTT_EPROTO, "NUL inside a string refused: %s", err);
	acme_directory_free(&d);

	/* order */
	is_int(acme_parse_order(S(order_ok), false, &o, err, sizeof(err)), 0, "order");
	is_int(o.status, ACME_PENDING, "pending");
	is_int(o.nauthz, 2, "two authorizations");
	is_str(o.authz[1], "https://ca.test/authZ/2", "second authorization URL");
	is_str(o.finalize, "https://ca.test/finalize-order/X", "finalize URL");
	ok(o.certificate == NULL && !o.has_error, "no certificate, no error");
	acme_order_free(&o);
	is_int(acme_parse_order(S("{\"status\":\"invalid\",\"authorizations\":[\"https://a/z\"],"
	    "\"finalize\":\"https://a/f\",\"error\":{\"type\":\"urn:ietf:params:acme:error:"
	    "unauthorized\",\"detail\":\"no TXT\"}}"), false, &o, err, sizeof(err)), 0,
	    "invalid order with an error");
	ok(o.status == ACME_INVALID && o.has_error && strcmp(o.error.detail, "no TXT") == 0,
	    "its problem is kept");
	acme_order_free(&o);
	is_int(acme_parse_order(S("{\"status\":\"valid\",\"authorizations\":[\"https://a/z\"],"
	    "\"finalize\":\"https://a/f\",\"certificate\":\"https://a/cert/1\"}"), false, &o,
	    err, sizeof(err)), 0, "valid order");
	is_str(o.certificate, "https://a/cert/1", "certificate URL");
	acme_order_free(&o);
	ok(acme_parse_order(S("{\"status\":\"bogus\",\"authorizations\":[\"https://a/z\"],"
	    "\"finalize\":\"https://a/f\"}"), false, &o, err, sizeof(err)) == PTT_EPROTO,
	    "unknown status: %s", err);
	acme_order_free(&o);
	ok(acme_parse_order(S("{\"status\":\"pending\",\"authorizations\":[],"
	    "\"finalize\":\"https://a/f\"}"), false, &o, err, sizeof(err)) == PTT_EPROTO,
	    "no authorizations: %s", err);
	acme_order_free(&o);
	ok(acme_parse_order(S("{\"status\":\"pending\",\"authorizations\":[\"https://a/z\", 5],"
	    "\"finalize\":\"https://a/f\"}"), false, &o, err, sizeof(err)) == PTT_EPROTO,
	    "a number among the authorizations: %s", err);
	acme_order_free(&o);
	ok(acme_parse_order(S("{\"status\":\"pending\",\"authorizations\":[\"file:///etc/passwd\"],"
	    "\"finalize\":\"https://a/f\"}"), false, &o, err, sizeof(err)) == PTT_EPROTO,
	    "a file: URL: %s", err);
	acme_order_free(&o);
	{
		char big[8192];
		size_t n = (size_t)snprintf(big, sizeof(big), "{\"status\":\"pending\","
		    "\"finalize\":\"https://a/f\",\"authorizations\":[");
		for (int i = 0; i <= ACME_MAX_AUTHZ; i++)
			n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"https://a/%d\"",
			    i ? "," : "", i);
		snprintf(big + n, sizeof(big) - n, "]}");
		ok(acme_parse_order(S(big), false, &o, err, sizeof(err)) == PTT_EPROTO,
		    "more than %d authorizations: %s", ACME_MAX_AUTHZ, err);
		acme_order_free(&o);
	}

	/* authorization */
	is_int(acme_parse_authz(S(authz_ok), false, &a, err, sizeof(err)), 0, "authorization");
	is_str(a.identifier, "a.test", "identifier");
	is_int(a.nch, 2, "two challenges");
	ch = acme_authz_find(&a, "dns-01");
	ok(ch != NULL && strcmp(ch->url, "https://ca.test/chalZ/2") == 0 &&
	    strcmp(ch->token, "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA") == 0,
	    "the dns-01 challenge");
	ok(acme_authz_find(&a, "tls-alpn-01") == NULL, "no tls-alpn-01");
	acme_authz_free(&a);
	ok(acme_parse_authz(S("{\"status\":\"pending\",\"identifier\":{\"type\":\"ip\","
	    "\"value\":\"127.0.0.1\"},\"challenges\":[]}"), false, &a, err, sizeof(err)) ==
	    PTT_EPROTO, "an ip identifier: %s", err);
	acme_authz_free(&a);
	ok(acme_parse_authz(S("{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
	    "\"value\":\"a.test\\\" IN A 1.2.3.4\"},\"challenges\":[]}"), false, &a, err,
	    sizeof(err)) == PTT_EPROTO, "an identifier that is not a DNS name: %s", err);
	acme_authz_free(&a);
	ok(acme_parse_authz(S("{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
	    "\"value\":\"a.test\"},\"challenges\":[{\"type\":\"dns-01\",\"url\":"
	    "\"https://a/c\",\"token\":\"short\",\"status\":\"pending\"}]}"), false, &a,
	    err, sizeof(err)) == PTT_EPROTO, "a token shorter than 128 bits: %s", err);
	acme_authz_free(&a);
	ok(acme_parse_authz(S("{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
	    "\"value\":\"a.test\"},\"challenges\":[7]}"), false, &a, err, sizeof(err)) ==
	    PTT_EPROTO, "a challenge that is not an object: %s", err);
	acme_authz_free(&a);
	is_int(acme_parse_authz(S("{\"status\":\"invalid\",\"identifier\":{\"type\":\"dns\","
	    "\"value\":\"a.test\"},\"challenges\":[{\"type\":\"dns-01\",\"url\":"
	    "\"https://a/c\",\"token\":\"aaaaaaaaaaaaaaaaaaaaaaaa\",\"status\":\"invalid\","
	    "\"error\":{\"type\":\"urn:ietf:params:acme:error:dns\",\"detail\":"
	    "\"NXDOMAIN\"}}]}"), false, &a, err, sizeof(err)), 0,
	    "an invalid authorization");
	ch = acme_authz_find(&a, "dns-01");
	ok(ch && ch->has_error && strcmp(ch->error.type, "urn:ietf:params:acme:error:dns") == 0,
	    "the challenge's error is kept");
	acme_authz_free(&a);

	/* problems */
	is_int(acme_parse_problem(S("{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
	    "\"detail\":\"Some names were rejected\",\"status\":400,\"subproblems\":["
	    "{\"type\":\"urn:ietf:params:acme:error:caa\",\"detail\":\"CAA forbids\","
	    "\"identifier\":{\"type\":\"dns\",\"value\":\"b.test\"}}]}"), &p), 0, "problem");
	is_str(p.type, "urn:ietf:params:acme:error:rejectedIdentifier", "type");
	is_str(p.detail, "Some names were rejected (b.test: CAA forbids)",
	    "detail with the first subproblem");
	is_int(p.status, 400, "status");
	is_int(acme_parse_problem(S("{\"type\":\"x\",\"detail\":\"line\\nforged: yes\"}"), &p),
	    0, "problem with a newline");
	is_str(p.detail, "lineforged: yes", "control bytes dropped");
	is_int(acme_parse_problem(S("{\"type\":5,\"status\":9999}"), &p), 0,
	    "wrong types leave fields empty");
	ok(p.type[0] == '\0' && p.status == 0, "empty");
	ok(acme_parse_problem(S("<html>"), &p) == PTT_EPROTO, "HTML is not a problem");

	/* statuses */
	is_int(acme_status_parse("processing"), ACME_PROCESSING, "processing");
	is_int(acme_status_parse("Valid"), ACME_UNKNOWN, "case matters");
	is_str(acme_status_name(ACME_READY), "ready", "name of ready");

	/* Retry-After */
	is_int(acme_parse_retry_after("120", now), 120, "Retry-After seconds");
	is_int(acme_parse_retry_after(" 5 \r\n", now), 5, "white space around");
	is_int(acme_parse_retry_after("99999999999999999999", now), 86400, "clamped");
	is_int(acme_parse_retry_after("12abc", now), -1, "trailing junk");
	is_int(acme_parse_retry_after("", now), -1, "empty");
	is_int(acme_parse_retry_after("Tue, 14 Nov 2023 22:13:40 GMT", now), 20,
	    "HTTP-date 20 s ahead");
	is_int(acme_parse_retry_after("Tue, 14 Nov 2023 22:13:00 GMT", now), 0,
	    "HTTP-date in the past");
	is_int(acme_parse_retry_after("Tuesday", now), -1, "not a date");

	/* URLs */
	ok(acme_url_ok("https://ca.test/x", false), "https URL");
	ok(!acme_url_ok("https://", false), "no host");
	ok(!acme_url_ok("https://ca.test/a b", false), "space");
	ok(!acme_url_ok("https://ca.test/\x7f", false), "DEL");
	ok(!acme_url_ok("ftp://ca.test/", true), "ftp");
	return tap_done();
}
