/*
 * ca.c - the internal CA and its service certificates (ca.h), built with
 * the OpenSSL 3 API: EC P-256 keys, X.509 v3 (RFC 5280 4.2.1: basic
 * constraints, key usage, extended key usage, subjectAltName, key
 * identifiers), random 128-bit serials (RFC 5280 4.1.2.2, CA/B BR 7.1).
 *
 * Trusts: the state directory. Names passed in are checked before they
 * reach a certificate.
 */
#include "conf/ca.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/state.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"

const char *const ca_services[] = {
	"submission", "signer", "relay", "mx", "spamfilter", "dns", "resolver",
	NULL
};

static bool
service_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 40)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    (s[i] == '-' && i > 0 && i + 1 < n)))
			return false;
	return true;
}

static bool
is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* An LDH host name, labels of 1..63, total <= 253. */
static bool
dns_ok(const char *s)
{
	size_t n = strlen(s), lab = 0, i;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (lab == 0 || lab > 63 || s[i - 1] == '-' || s[i - lab] == '-')
				return false;
			lab = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-') {
			lab++;
		} else {
			return false;
		}
	}
	return true;
}

int
ca_cafile_path(const char *state, char *out, size_t outlen)
{
	return state_path(state, "ca/ca.pem", out, outlen);
}

int
ca_cert_paths(const char *state, const char *service, char *cert,
    size_t certlen, char *key, size_t keylen)
{
	char rel[64];
	int r;

	if (!service_ok(service))
		return PTT_EINVAL;
	snprintf(rel, sizeof(rel), "tls/%s.pem", service);
	if ((r = state_path(state, rel, cert, certlen)) != 0)
		return r;
	snprintf(rel, sizeof(rel), "tls/%s.key", service);
	return state_path(state, rel, key, keylen);
}

static void
ssl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, e ? buf : "OpenSSL failure");
	ERR_clear_error();
}

static EVP_PKEY *
new_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* Serial, validity, subject, issuer, key: the common part of both kinds. */
static X509 *
new_cert(EVP_PKEY *key, const char *cn, const X509_NAME *issuer, unsigned days)
{
	X509 *x = X509_new();
	BIGNUM *bn = BN_new();
	ASN1_INTEGER *serial = NULL;
	X509_NAME *name = X509_NAME_new();
	bool ok;

	ok = x != NULL && bn != NULL && name != NULL &&
	    X509_set_version(x, X509_VERSION_3) &&
	    BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_set_serialNumber(x, serial) &&
	    /* five minutes of slack for clocks a little behind */
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) != NULL &&
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) != NULL &&
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
		(const unsigned char *)"ptt internal", -1, -1, 0) &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
		(const unsigned char *)cn, -1, -1, 0) &&
	    X509_set_subject_name(x, name) &&
	    X509_set_issuer_name(x, issuer != NULL ? issuer : name) &&
	    X509_set_pubkey(x, key);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
write_pem(const char *state, const char *rel, EVP_PKEY *key, X509 *cert,
    char *err, size_t errlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int r;

	if (b == NULL || (key != NULL &&
	    !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)) ||
	    (cert != NULL && !PEM_write_bio_X509(b, cert))) {
		ssl_err(err, errlen, "PEM encode");
		BIO_free(b);
		return PTT_ECRYPTO;
	}
	n = BIO_get_mem_data(b, &data);
	if (key != NULL)
		r = state_write_secret(state, rel, data, (size_t)n, err, errlen);
	else
		r = state_write_public(state, rel, data, (size_t)n, err, errlen);
	if (key != NULL)
		ptt_memzero(data, (size_t)n);
	BIO_free(b);
	return r;
}

int
ca_create(const char *state, const char *label, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	char cn[200];
	int r;

	if (state_exists(state, "ca/ca.key")) {
		snprintf(err, errlen, "%s/ca/ca.key exists already", state);
		return PTT_EEXIST;
	}
	snprintf(cn, sizeof(cn), "ptt internal CA%s%.150s",
	    label != NULL ? " for " : "", label != NULL ? label : "");
	if ((key = new_key()) == NULL || (x = new_cert(key, cn, NULL, CA_DAYS)) == NULL ||
	    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") ||
	    add_ext(x, x, NID_authority_key_identifier, "keyid:always") ||
	    !X509_sign(x, key, EVP_sha256())) {
		ssl_err(err, errlen, "create CA");
		r = PTT_ECRYPTO;
		goto out;
	}
	if ((r = write_pem(state, "ca/ca.key", key, NULL, err, errlen)) != 0)
		goto out;
	r = write_pem(state, "ca/ca.pem", NULL, x, err, errlen);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}

int
ca_ensure(const char *state, const char *label, bool *created, char *err,
    size_t errlen)
{
	*created = false;
	if (state_exists(state, "ca/ca.key") && state_exists(state, "ca/ca.pem"))
		return 0;
	*created = true;
	return ca_create(state, label, err, errlen);
}

static X509 *
read_cert(const char *path)
{
	FILE *f = fopen(path, "re");
	X509 *x;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static EVP_PKEY *
read_key(const char *path, char *err, size_t errlen, int *ret)
{
	char *data;
	size_t len;
	BIO *b;
	EVP_PKEY *k;

	if ((*ret = secret_read_file(path, &data, &len, err, errlen)) != 0)
		return NULL;
	b = BIO_new_mem_buf(data, (int)len);
	k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	state_free_secret(data, len);
	if (k == NULL) {
		ssl_err(err, errlen, path);
		*ret = PTT_ECRYPTO;
	}
	return k;
}

/* The CA's certificate and key. */
static int
load_ca(const char *state, X509 **cert, EVP_PKEY **key, char *err,
    size_t errlen)
{
	char path[4096];
	int r;

	*cert = NULL;
	*key = NULL;
	if ((r = state_path(state, "ca/ca.key", path, sizeof(path))) != 0)
		return r;
	if ((*key = read_key(path, err, errlen, &r)) == NULL)
		return r;
	ca_cafile_path(state, path, sizeof(path));
	if ((*cert = read_cert(path)) == NULL) {
		snprintf(err, errlen, "read CA certificate %s failed", path);
		EVP_PKEY_free(*key);
		*key = NULL;
		return PTT_ENOENT;
	}
	return 0;
}

/* "DNS:a,DNS:b,IP:c" for service and extras; checks every name. */
static int
san_string(const char *service, const char *const *extra, size_t nextra,
    struct buf *b, char *err, size_t errlen)
{
	size_t i;

	if (!service_ok(service)) {
		snprintf(err, errlen, "bad service name \"%.60s\"", service);
		return PTT_EINVAL;
	}
	if (nextra > CA_EXTRA_MAX) {
		snprintf(err, errlen, "more than %d extra names", CA_EXTRA_MAX);
		return PTT_ENOSPC;
	}
	buf_addf(b, "DNS:%s.internal", service);
	for (i = 0; i < nextra; i++) {
		if (is_ip(extra[i]))
			buf_addf(b, ",IP:%s", extra[i]);
		else if (dns_ok(extra[i]))
			buf_addf(b, ",DNS:%s", extra[i]);
		else {
			snprintf(err, errlen, "bad name \"%.60s\" (want a DNS "
			    "name or an IP address)", extra[i]);
			return PTT_EINVAL;
		}
	}
	return 0;
}

int
ca_issue(const char *state, const char *service, const char *const *extra,
    size_t nextra, unsigned days, char *err, size_t errlen)
{
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	struct buf san;
	char cn[64], rel[64];
	int r;

	buf_init(&san, 8192);
	if ((r = san_string(service, extra, nextra, &san, err, errlen)) != 0)
		goto out;
	if ((r = load_ca(state, &ca, &cakey, err, errlen)) != 0)
		goto out;
	snprintf(cn, sizeof(cn), "%s.internal", service);
	if ((key = new_key()) == NULL ||
	    (x = new_cert(key, cn, X509_get_subject_name(ca),
		days ? days : CA_CERT_DAYS)) == NULL ||
	    add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(x, ca, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(x, ca, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    add_ext(x, ca, NID_subject_alt_name, san.data) ||
	    add_ext(x, ca, NID_subject_key_identifier, "hash") ||
	    add_ext(x, ca, NID_authority_key_identifier, "keyid:always") ||
	    !X509_sign(x, cakey, EVP_sha256())) {
		ssl_err(err, errlen, "issue certificate");
		r = PTT_ECRYPTO;
		goto out;
	}
	snprintf(rel, sizeof(rel), "tls/%s.key", service);
	if ((r = write_pem(state, rel, key, NULL, err, errlen)) != 0)
		goto out;
	snprintf(rel, sizeof(rel), "tls/%s.pem", service);
	r = write_pem(state, rel, NULL, x, err, errlen);
out:
	buf_free(&san);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
	return r;
}

/* Does x carry exactly these names? */
static bool
names_match(X509 *x, const char *service, const char *const *extra,
    size_t nextra)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char host[64];
	size_t i;
	bool ok;

	if (gens == NULL)
		return false;
	ok = (size_t)sk_GENERAL_NAME_num(gens) == nextra + 1;
	GENERAL_NAMES_free(gens);
	snprintf(host, sizeof(host), "%s.internal", service);
	ok = ok && X509_check_host(x, host, 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
	for (i = 0; ok && i < nextra; i++)
		ok = is_ip(extra[i]) ? X509_check_ip_asc(x, extra[i], 0) == 1 :
		    X509_check_host(x, extra[i], 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
	return ok;
}

/* Less than a third of the lifetime left (or not yet valid)? */
static bool
needs_renewal(X509 *x)
{
	int dlife, slife, dleft, sleft;
	long long life, left;

	if (!ASN1_TIME_diff(&dlife, &slife, X509_get0_notBefore(x), X509_get0_notAfter(x)) ||
	    !ASN1_TIME_diff(&dleft, &sleft, NULL, X509_get0_notAfter(x)))
		return true;
	life = (long long)dlife * 86400 + slife;
	left = (long long)dleft * 86400 + sleft;
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		return true;
	return life <= 0 || left * 3 < life;
}

int
ca_ensure_cert(const char *state, const char *service,
    const char *const *extra, size_t nextra, unsigned days, bool *issued,
    char *err, size_t errlen)
{
	char certp[4096], keyp[4096];
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	bool fresh;
	int r;

	*issued = false;
	if (ca_cert_paths(state, service, certp, sizeof(certp), keyp, sizeof(keyp)) != 0) {
		snprintf(err, errlen, "bad service name \"%.60s\"", service);
		return PTT_EINVAL;
	}
	if ((r = load_ca(state, &ca, &cakey, err, errlen)) != 0)
		return r;
	x = read_cert(certp);
	if (x != NULL)
		key = read_key(keyp, err, errlen, &r);
	if (r == PTT_EPERM)
		goto out;	/* an exposed key: the operator must look */
	fresh = x != NULL && key != NULL &&
	    X509_verify(x, X509_get0_pubkey(ca)) == 1 &&
	    X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca)) == 0 &&
	    X509_check_private_key(x, key) == 1 &&
	    names_match(x, service, extra, nextra) && !needs_renewal(x);
	ERR_clear_error();
	if (fresh) {
		r = 0;
		goto out;
	}
	r = ca_issue(state, service, extra, nextra, days, err, errlen);
	*issued = r == 0;
out:
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
	return r;
}
