/* test_ca.c - the internal CA: issuance, names, verification with the
 * openssl command, and re-issue rules of ca_ensure_cert. */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/ca.h"
#include "conf/state.h"
#include "util/err.h"
#include "../tap.h"

static char state[] = "/tmp/ptt-ca-test.XXXXXX";

static X509 *
load(const char *rel)
{
	char path[512];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/%s", state, rel);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

__attribute__((format(printf, 1, 2))) static int
run(const char *fmt, ...)
{
	char cmd[1024], body[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cd %s && %s >/dev/null 2>&1", state, body);
	return system(cmd);
}

/* Move a certificate's validity window and re-sign it with the CA key. */
static int
backdate(const char *rel, long before_days, long after_days)
{
	char path[512];
	X509 *x = load(rel);
	EVP_PKEY *k;
	FILE *f;
	int ok_ = 0;

	snprintf(path, sizeof(path), "%s/ca/ca.key", state);
	if (x == NULL || (f = fopen(path, "r")) == NULL)
		return -1;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k != NULL && X509_time_adj_ex(X509_getm_notBefore(x), (int)-before_days, 0, NULL) &&
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)after_days, 0, NULL) &&
	    X509_sign(x, k, EVP_sha256())) {
		snprintf(path, sizeof(path), "%s/%s", state, rel);
		f = fopen(path, "w");
		ok_ = f != NULL && PEM_write_X509(f, x);
		if (f != NULL)
			fclose(f);
	}
	EVP_PKEY_free(k);
	X509_free(x);
	return ok_ ? 0 : -1;
}

int
main(void)
{
	static const char *const extra[] = { "localhost", "127.0.0.1", "::1" };
	static const char *const bad_extra[] = { "not a name" };
	char err[512], cert[512], key[512], path[600];
	struct stat st;
	bool issued, created;
	X509 *x;
	int r;

	if (mkdtemp(state) == NULL)
		return 1;
	is_int(ca_ensure(state, "example.org", &created, err, sizeof(err)), 0, "create CA");
	ok(created, "it was created");
	is_int(ca_create(state, "example.org", err, sizeof(err)), PTT_EEXIST,
	    "second CA refused: %s", err);
	is_int(ca_ensure(state, "example.org", &created, err, sizeof(err)), 0, "ensure CA");
	ok(!created, "existing CA kept");
	snprintf(path, sizeof(path), "%s/ca/ca.key", state);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "CA key is 0600");
	x = load("ca/ca.pem");
	ok(x != NULL && X509_check_ca(x) == 1, "CA certificate is a CA");
	if (x != NULL) {
		int days, secs;
		ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x));
		ok(days >= 3649 && days <= 3651, "CA valid 10 years (%d days)", days);
		X509_free(x);
	}

	r = ca_issue(state, "relay", extra, 3, 0, err, sizeof(err));
	is_int(r, 0, "issue relay certificate");
	if (r != 0)
		printf("# %s\n", err);
	is_int(run("openssl verify -CAfile ca/ca.pem tls/relay.pem"), 0,
	    "openssl verify -CAfile accepts it");
	is_int(run("openssl verify -CAfile ca/ca.pem -purpose sslclient tls/relay.pem"), 0,
	    "valid for client authentication");
	is_int(run("openssl verify -CAfile ca/ca.pem -purpose sslserver tls/relay.pem"), 0,
	    "valid for server authentication");
	is_int(run("openssl x509 -in tls/relay.pem -noout -ext subjectAltName | "
	    "grep -q 'DNS:relay.internal, DNS:localhost, IP Address:127.0.0.1, "
	    "IP Address:0:0:0:0:0:0:0:1'"), 0, "subjectAltName as asked");
	x = load("tls/relay.pem");
	ok(x != NULL && X509_check_host(x, "relay.internal", 0, 0, NULL) == 1,
	    "names relay.internal");
	ok(x != NULL && X509_check_host(x, "signer.internal", 0, 0, NULL) != 1,
	    "does not name signer.internal");
	if (x != NULL) {
		int days, secs;
		const ASN1_INTEGER *s = X509_get0_serialNumber(x);
		ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x));
		ok(days >= 89 && days <= 90, "valid 90 days (%d)", days);
		ok(s->length >= 12, "random serial of %d bytes", s->length);
		X509_free(x);
	}
	ca_cert_paths(state, "relay", cert, sizeof(cert), key, sizeof(key));
	ok(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600, "service key is 0600");
	{
		X509 *a = load("tls/relay.pem"), *b;
		ca_issue(state, "relay", extra, 3, 0, err, sizeof(err));
		b = load("tls/relay.pem");
		ok(a && b && ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
		    X509_get0_serialNumber(b)) != 0, "serials differ between issues");
		X509_free(a);
		X509_free(b);
	}

	is_int(ca_ensure_cert(state, "relay", extra, 3, 0, &issued, err, sizeof(err)), 0,
	    "ensure a fresh certificate");
	ok(!issued, "fresh certificate kept");
	is_int(ca_ensure_cert(state, "relay", extra, 1, 0, &issued, err, sizeof(err)), 0,
	    "ensure with fewer names");
	ok(issued, "names changed: re-issued");
	is_int(run("openssl x509 -in tls/relay.pem -noout -ext subjectAltName | grep -q 127.0.0.1"),
	    256, "the dropped name is gone");
	is_int(ca_ensure_cert(state, "mx", NULL, 0, 0, &issued, err, sizeof(err)), 0, "ensure mx");
	ok(issued, "missing certificate issued");

	is_int(backdate("tls/mx.pem", 50, 40), 0, "mx: 40 of 90 days left");
	ca_ensure_cert(state, "mx", NULL, 0, 0, &issued, err, sizeof(err));
	ok(!issued, "more than a third left: kept");
	is_int(backdate("tls/mx.pem", 70, 20), 0, "mx: 20 of 90 days left");
	ca_ensure_cert(state, "mx", NULL, 0, 0, &issued, err, sizeof(err));
	ok(issued, "less than a third left: re-issued");
	x = load("tls/mx.pem");
	if (x != NULL) {
		int days, secs;
		ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x));
		ok(days >= 89, "new one valid 90 days again");
		X509_free(x);
	}
	is_int(backdate("tls/mx.pem", 100, -1), 0, "mx: expired");
	ca_ensure_cert(state, "mx", NULL, 0, 0, &issued, err, sizeof(err));
	ok(issued, "expired: re-issued");

	/* a replaced CA invalidates old certificates */
	run("rm ca/ca.key ca/ca.pem");
	is_int(ca_create(state, "example.org", err, sizeof(err)), 0, "new CA");
	ca_ensure_cert(state, "mx", NULL, 0, 0, &issued, err, sizeof(err));
	ok(issued, "certificate of the old CA re-issued");
	is_int(run("openssl verify -CAfile ca/ca.pem tls/mx.pem"), 0, "verifies with the new CA");

	/* refusals */
	snprintf(path, sizeof(path), "%s/tls/mx.key", state);
	chmod(path, 0644);
	r = ca_ensure_cert(state, "mx", NULL, 0, 0, &issued, err, sizeof(err));
	ok(r == PTT_EPERM && !issued && strstr(err, "0644"), "0644 service key refused: %s", err);
	chmod(path, 0600);
	snprintf(path, sizeof(path), "%s/ca/ca.key", state);
	chmod(path, 0640);
	r = ca_issue(state, "signer", NULL, 0, 0, err, sizeof(err));
	ok(r == PTT_EPERM && strstr(err, "ca.key"), "0640 CA key refused: %s", err);
	chmod(path, 0600);
	r = ca_issue(state, "../x", NULL, 0, 0, err, sizeof(err));
	is_int(r, PTT_EINVAL, "bad service name: %s", err);
	r = ca_issue(state, "signer", bad_extra, 1, 0, err, sizeof(err));
	ok(r == PTT_EINVAL && strstr(err, "not a name"), "bad extra name: %s", err);

	snprintf(path, sizeof(path), "rm -rf %s", state);
	if (system(path) != 0)
		return 1;
	return tap_done();
}
