/*
 * jws.c - keys, JWK, thumbprint, ES256 JWS, DNS-01 value and CSR for ACME.
 *
 * Implements: RFC 7515 (JWS, flattened JSON serialization), RFC 7518 3.4
 * (ES256: the signature is R || S, 32 bytes each, not DER), RFC 7517/7638
 * (EC JWK and its SHA-256 thumbprint), RFC 4648 5 (base64url, no padding),
 * RFC 8555 6.2/8.1/8.4 (request signing, key authorization, DNS-01 TXT),
 * RFC 2986 (PKCS#10) with the names in subjectAltName (RFC 5280 4.2.1.6).
 * JSON is produced by jansson, never by hand.
 * Trusts: its arguments; OpenSSL for the cryptography.
 */
#include "acme/jws.h"

#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/err.h"
#include "util/mem.h"

EVP_PKEY *
acme_key_new(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

int
acme_key_pem(EVP_PKEY *k, struct buf *out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int r = PTT_ECRYPTO;

	if (b != NULL && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL,
	    NULL) == 1) {
		n = BIO_get_mem_data(b, &data);
		if (n > 0) {
			buf_add(out, data, (size_t)n);
			OPENSSL_cleanse(data, (size_t)n);
			r = buf_error(out);
		}
	}
	BIO_free(b);
	return r;
}

EVP_PKEY *
acme_key_from_pem(const char *pem, size_t len)
{
	BIO *b;
	EVP_PKEY *k;
	char group[64];
	size_t gl = 0;

	if (len > INT32_MAX || (b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (k == NULL)
		return NULL;
	if (!EVP_PKEY_is_a(k, "EC") || EVP_PKEY_get_utf8_string_param(k,
	    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &gl) != 1 ||
	    strcmp(group, "prime256v1") != 0) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

void
acme_b64url(const void *data, size_t len, struct buf *out)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
		    p[i + 2];
		buf_addc(out, alpha[v >> 18 & 63]);
		buf_addc(out, alpha[v >> 12 & 63]);
		buf_addc(out, alpha[v >> 6 & 63]);
		buf_addc(out, alpha[v & 63]);
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		buf_addc(out, alpha[v >> 18 & 63]);
		buf_addc(out, alpha[v >> 12 & 63]);
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		buf_addc(out, alpha[v >> 18 & 63]);
		buf_addc(out, alpha[v >> 12 & 63]);
		buf_addc(out, alpha[v >> 6 & 63]);
	}
}

int
acme_is_b64url(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

/* The coordinates of the public point, base64url, 32 bytes each. */
static int
ec_xy(EVP_PKEY *k, struct buf *x, struct buf *y)
{
	BIGNUM *bx = NULL, *by = NULL;
	uint8_t raw[32];
	int r = PTT_ECRYPTO;

	if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
	    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
	    BN_bn2binpad(bx, raw, sizeof(raw)) == sizeof(raw)) {
		acme_b64url(raw, sizeof(raw), x);
		if (BN_bn2binpad(by, raw, sizeof(raw)) == sizeof(raw)) {
			acme_b64url(raw, sizeof(raw), y);
			r = 0;
		}
	}
	BN_free(bx);
	BN_free(by);
	return r;
}

static json_t *
jwk_object(EVP_PKEY *k)
{
	struct buf x, y;
	json_t *j = NULL;

	buf_init(&x, 0);
	buf_init(&y, 0);
	if (ec_xy(k, &x, &y) == 0)
		j = json_pack("{s:s, s:s, s:s, s:s}", "crv", "P-256", "kty",
		    "EC", "x", x.data, "y", y.data);
	buf_free(&x);
	buf_free(&y);
	return j;
}

/* json_dumps into out; 0 or PTT_ECRYPTO (nothing to dump). */
static int
dump(const json_t *j, size_t flags, struct buf *out)
{
	char *s;

	if (j == NULL || (s = json_dumps(j, flags | JSON_COMPACT)) == NULL)
		return PTT_ECRYPTO;
	buf_adds(out, s);
	free(s);
	return buf_error(out);
}

int
acme_jwk(EVP_PKEY *k, struct buf *out)
{
	json_t *j = jwk_object(k);
	int r = dump(j, JSON_SORT_KEYS, out);

	json_decref(j);
	return r;
}

int
acme_thumbprint(EVP_PKEY *k, char *out, size_t outlen)
{
	struct buf jwk, b;
	uint8_t md[SHA256_DIGEST_LENGTH];
	int r;

	buf_init(&jwk, 0);
	buf_init(&b, 0);
	if ((r = acme_jwk(k, &jwk)) == 0) {
		SHA256((const uint8_t *)jwk.data, jwk.len, md);
		acme_b64url(md, sizeof(md), &b);
		if (ptt_strlcpy(out, b.data, outlen) >= outlen)
			r = PTT_ENOSPC;
	}
	buf_free(&jwk);
	buf_free(&b);
	return r;
}

/* ES256 over data: R || S, 64 bytes. 0 or PTT_ECRYPTO. */
static int
es256(EVP_PKEY *k, const char *data, size_t len, uint8_t rs[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t der[80];
	size_t dlen = sizeof(der);
	const uint8_t *p = der;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	int ret = PTT_ECRYPTO;

	if (md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL,
	    k) == 1 && EVP_DigestSign(md, der, &dlen, (const uint8_t *)data,
	    len) == 1 && (sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) != NULL) {
		ECDSA_SIG_get0(sig, &r, &s);
		if (BN_bn2binpad(r, rs, 32) == 32 &&
		    BN_bn2binpad(s, rs + 32, 32) == 32)
			ret = 0;
	}
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return ret;
}

int
acme_jws(EVP_PKEY *k, const char *kid, const char *nonce, const char *url,
    const char *payload, struct buf *out)
{
	json_t *prot, *jws = NULL;
	struct buf ph, p64, input, sig;
	uint8_t rs[64];
	size_t plen;
	int r = PTT_ECRYPTO;

	if (kid != NULL)
		prot = json_pack("{s:s, s:s, s:s, s:s}", "alg", "ES256", "kid",
		    kid, "nonce", nonce, "url", url);
	else
		prot = json_pack("{s:s, s:o?, s:s, s:s}", "alg", "ES256", "jwk",
		    jwk_object(k), "nonce", nonce, "url", url);
	buf_init(&ph, 0);
	buf_init(&p64, 0);
	buf_init(&input, 0);
	buf_init(&sig, 0);
	if (prot == NULL || (kid == NULL && json_object_get(prot, "jwk") ==
	    NULL) || dump(prot, JSON_SORT_KEYS, &ph) != 0)
		goto out;
	/* signing input: base64url(protected) "." base64url(payload) */
	acme_b64url(ph.data, ph.len, &input);
	plen = input.len;
	acme_b64url(payload, strlen(payload), &p64);
	buf_addc(&input, '.');
	buf_add(&input, p64.data, p64.len);
	if (buf_error(&input) != 0 || es256(k, input.data, input.len, rs) != 0)
		goto out;
	acme_b64url(rs, sizeof(rs), &sig);
	input.data[plen] = '\0';
	jws = json_pack("{s:s, s:s, s:s}", "protected", input.data, "payload",
	    p64.data, "signature", sig.data);
	r = dump(jws, JSON_SORT_KEYS, out);
out:
	json_decref(prot);
	json_decref(jws);
	buf_free(&ph);
	buf_free(&p64);
	buf_free(&input);
	buf_free(&sig);
	return r;
}

int
acme_dns01_value(const char *token, const char *thumbprint, char *out,
    size_t outlen)
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	struct buf ka, b;
	int r = 0;

	if (!acme_is_b64url(token) || !acme_is_b64url(thumbprint))
		return PTT_EINVAL;
	/* key authorization (RFC 8555 8.1), then its digest (8.4) */
	buf_init(&ka, 0);
	buf_addf(&ka, "%s.%s", token, thumbprint);
	SHA256((const uint8_t *)ka.data, ka.len, md);
	buf_free(&ka);
	buf_init(&b, 0);
	acme_b64url(md, sizeof(md), &b);
	if (ptt_strlcpy(out, b.data, outlen) >= outlen)
		r = PTT_ENOSPC;
	buf_free(&b);
	return r;
}

int
acme_csr(EVP_PKEY *k, const char *const *names, size_t n, uint8_t **der,
    size_t *len)
{
	X509_REQ *req = NULL;
	X509_NAME *subj = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;
	struct buf san;
	uint8_t *p = NULL;
	int l, r = PTT_ECRYPTO;

	*der = NULL;
	*len = 0;
	if (n == 0 || strlen(names[0]) > 64)	/* CN ub-common-name */
		return PTT_EINVAL;
	buf_init(&san, 64 * 1024);
	for (size_t i = 0; i < n; i++) {
		if (strpbrk(names[i], ", \t\r\n") != NULL || *names[i] == '\0') {
			buf_free(&san);
			return PTT_EINVAL;
		}
		buf_addf(&san, "%sDNS:%s", i ? "," : "", names[i]);
	}
	if (buf_error(&san) != 0)
		goto out;
	if ((req = X509_REQ_new()) == NULL || (subj = X509_NAME_new()) == NULL ||
	    X509_REQ_set_version(req, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
	    (const unsigned char *)names[0], -1, -1, 0) != 1 ||
	    X509_REQ_set_subject_name(req, subj) != 1 ||
	    X509_REQ_set_pubkey(req, k) != 1)
		goto out;
	if ((ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	    san.data)) == NULL || (exts = sk_X509_EXTENSION_new_null()) == NULL ||
	    sk_X509_EXTENSION_push(exts, ext) <= 0)
		goto out;
	ext = NULL;	/* owned by exts */
	if (X509_REQ_add_extensions(req, exts) != 1 ||
	    X509_REQ_sign(req, k, EVP_sha256()) <= 0)
		goto out;
	if ((l = i2d_X509_REQ(req, &p)) <= 0)
		goto out;
	*der = xmemdup(p, (size_t)l);
	*len = (size_t)l;
	OPENSSL_free(p);
	r = 0;
out:
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	buf_free(&san);
	return r;
}
