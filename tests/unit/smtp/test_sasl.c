/*
 * test_sasl.c - SASL PLAIN/LOGIN decoding and strict base64 (smtp/sasl.h).
 */
#include <string.h>

#include "../tap.h"
#include "smtp/sasl.h"

static void
b64(void)
{
	unsigned char out[64];

	is_int(sasl_b64_decode("", 0, out, sizeof(out)), 0, "empty");
	is_int(sasl_b64_decode("Zm9v", 4, out, sizeof(out)), 3, "foo");
	ok(memcmp(out, "foo", 3) == 0, "foo bytes");
	is_int(sasl_b64_decode("Zm8=", 4, out, sizeof(out)), 2, "fo");
	is_int(sasl_b64_decode("Zg==", 4, out, sizeof(out)), 1, "f");
	is_int(sasl_b64_decode("Zg=", 3, out, sizeof(out)), -1, "bad length");
	is_int(sasl_b64_decode("Zh==", 4, out, sizeof(out)), -1, "non-zero pad bits");
	is_int(sasl_b64_decode("Z===", 4, out, sizeof(out)), -1, "too much padding");
	is_int(sasl_b64_decode("Zg==Zm9v", 8, out, sizeof(out)), -1, "padding in the middle");
	is_int(sasl_b64_decode("Zm 9", 4, out, sizeof(out)), -1, "space");
	is_int(sasl_b64_decode("Zm9v", 4, out, 2), -1, "output too small");
	is_int(sasl_b64_decode("Z=g=", 4, out, sizeof(out)), -1, "= then data");
}

static void
plain(void)
{
	struct sasl s;
	/* "\0user\0pass" */
	is_int(sasl_start(&s, SASL_MECH_PLAIN, "AHVzZXIAcGFzcw==", 16), SASL_DONE, "PLAIN with ir");
	is_str(s.user, "user", "user");
	is_str(s.pass, "pass", "pass");
	is_str(s.authzid, "", "no authzid");
	sasl_clear(&s);
	ok(s.pass[0] == 0, "cleared");
	/* "admin\0user\0pass" */
	is_int(sasl_start(&s, SASL_MECH_PLAIN, "YWRtaW4AdXNlcgBwYXNz", 20), SASL_DONE, "authzid");
	is_str(s.authzid, "admin", "authzid value");
	is_int(sasl_start(&s, SASL_MECH_PLAIN, NULL, 0), SASL_CONTINUE, "PLAIN without ir");
	is_str(s.challenge, "", "empty challenge");
	is_int(sasl_step(&s, "AHVzZXIAcGFzcw==", 16), SASL_DONE, "response");
	is_int(sasl_start(&s, SASL_MECH_PLAIN, NULL, 0), SASL_CONTINUE, "again");
	is_int(sasl_step(&s, "*", 1), SASL_FAIL, "cancel");
	is_int(s.status, SMTP_ST_AUTH_CANCELLED, "cancel status");
	is_int(sasl_start(&s, SASL_MECH_PLAIN, "=", 1), SASL_FAIL, "empty ir is malformed PLAIN");
	is_int(s.status, SMTP_ST_AUTH_BAD, "status");
	is_int(sasl_start(&s, SASL_MECH_PLAIN, "!!!!", 4), SASL_FAIL, "bad base64");
	is_int(s.status, SMTP_ST_AUTH_BAD_B64, "b64 status");
	/* "user\0pass" : one NUL only */
	is_int(sasl_start(&s, SASL_MECH_PLAIN, "dXNlcgBwYXNz", 12), SASL_FAIL, "one NUL");
	/* "\0\0pass": empty user */
	is_int(sasl_start(&s, SASL_MECH_PLAIN, "AABwYXNz", 8), SASL_FAIL, "empty user");
	/* "\0user\0pa\0ss": NUL in password */
	is_int(sasl_start(&s, SASL_MECH_PLAIN, "AHVzZXIAcGEAc3M=", 16), SASL_FAIL, "NUL in password");
	/* "\0us\xffr\0pass": not UTF-8 */
	is_int(sasl_start(&s, SASL_MECH_PLAIN, "AHVz/3IAcGFzcw==", 16), SASL_FAIL, "not UTF-8");
	is_int(sasl_step(&s, "", 0), SASL_FAIL, "empty line");
}

static void
login(void)
{
	struct sasl s;

	is_int(sasl_start(&s, SASL_MECH_LOGIN, NULL, 0), SASL_CONTINUE, "LOGIN");
	is_str(s.challenge, "VXNlcm5hbWU6", "Username:");
	is_int(sasl_step(&s, "dXNlcg==", 8), SASL_CONTINUE, "user");
	is_str(s.challenge, "UGFzc3dvcmQ6", "Password:");
	is_int(sasl_step(&s, "cGFzcw==", 8), SASL_DONE, "pass");
	is_str(s.user, "user", "user");
	is_str(s.pass, "pass", "pass");
	is_int(sasl_start(&s, SASL_MECH_LOGIN, "dXNlcg==", 8), SASL_CONTINUE, "LOGIN with ir");
	is_str(s.user, "user", "ir is the user");
	is_int(sasl_step(&s, "*", 1), SASL_FAIL, "cancel at password");
	is_int(s.status, SMTP_ST_AUTH_CANCELLED, "cancelled");
	ok(s.user[0] == 0, "wiped on failure");
	is_int(sasl_start(&s, SASL_MECH_LOGIN, "=", 1), SASL_FAIL, "empty user refused");
	is_int(sasl_mech_by_name("PLAIN"), SASL_MECH_PLAIN, "by name");
	is_int(sasl_mech_by_name("CRAM-MD5"), SASL_MECH_NONE, "unknown");
	is_int(sasl_start(&s, SASL_MECH_NONE, NULL, 0), SASL_FAIL, "none");
	is_int(s.status, SMTP_ST_UNKNOWN_MECH, "504");
}

int
main(void)
{
	b64();
	plain();
	login();
	return tap_done();
}
