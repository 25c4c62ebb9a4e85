/*
 * test_cert.c - renewal facts of a certificate: validity, two-thirds
 * renewal time, serial, DNS names, issuer, name coverage; junk refused.
 * The certificate is made by the openssl command in the work dir.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/cert.h"
#include "util/err.h"
#include "../tap.h"

int
main(void)
{
	struct acme_cert_info ci;
	const char *both[] = { "mail.example.test", "mx.example.test" };
	const char *other[] = { "mail.example.test", "evil.example.test" };
	const char *sub[] = { "x.mail.example.test" };
	FILE *f;

	if (system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout cert_test.key -out cert_test.pem -days 90 "
	    "-set_serial 0x1234ABCD -subj /CN=Test-Issuer "
	    "-addext subjectAltName=DNS:mail.example.test,DNS:mx.example.test,IP:127.0.0.1 "
	    ">/dev/null 2>&1") != 0) {
		printf("Bail out! openssl req failed\n");
		return 1;
	}
	f = fopen("cert_test.pem", "r");
	is_int(acme_cert_info_fp(f, both, 2, &ci), 0, "parses");
	fclose(f);
	ok(ci.covers, "covers both names");
	is_int(ci.not_after - ci.not_before, 90 * 86400, "90 days of validity");
	is_int(acme_renew_at(&ci) - ci.not_before, 60 * 86400,
	    "renewal due after two thirds (60 days)");
	is_str(ci.serial, "1234ABCD", "serial in hex");
	is_str(ci.names, "mail.example.test,mx.example.test",
	    "its DNS names (not the IP)");
	is_str(ci.issuer, "Test-Issuer", "issuer CN");

	f = fopen("cert_test.pem", "r");
	acme_cert_info_fp(f, other, 2, &ci);
	fclose(f);
	ok(!ci.covers, "a name it lacks: not covered");
	f = fopen("cert_test.pem", "r");
	acme_cert_info_fp(f, sub, 1, &ci);
	fclose(f);
	ok(!ci.covers, "a subdomain is not covered");

	f = fopen("cert_test.key", "r");	/* a key, not a certificate */
	is_int(acme_cert_info_fp(f, both, 2, &ci), PTT_EINVAL, "a key file is refused");
	fclose(f);
	return tap_done();
}
