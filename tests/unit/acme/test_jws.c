/*
 * test_jws.c - the ACME client's cryptography: base64url (RFC 4648 10
 * vectors), the canonical JWK and its thumbprint (RFC 7638), an ES256 JWS
 * checked with OpenSSL (R || S turned back into DER), the DNS-01 value
 * (RFC 8555 8.4) computed independently, the CSR (parsed back, signature
 * and names checked), and key PEM round trips.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme/jws.h"
#include "util/buf.h"
#include "util/err.h"
#include "../tap.h"

static const char *
b64u(const char *s, size_t n, struct buf *b)
{
	buf_reset(b);
	acme_b64url(s, n, b);
	return b->data;
}

/* Decode base64url (test helper; the client never decodes). */
static size_t
unb64u(const char *s, uint8_t *out, size_t outlen)
{
	char tmp[4096];
	size_t n = strlen(s), i;
	int l;

	if (n + 4 >= sizeof(tmp))
		return 0;
	for (i = 0; i < n; i++)
		tmp[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (i % 4)
		tmp[i++] = '=';
	tmp[i] = '\0';
	if (i / 4 * 3 > outlen)
		return 0;
	l = EVP_DecodeBlock(out, (const uint8_t *)tmp, (int)i);
	if (l < 0)
		return 0;
	return (size_t)l - (size_t)(i - n);	/* drop padding bytes */
}

static int
verify_es256(EVP_PKEY *k, const char *input, const uint8_t *rs, size_t rslen)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	uint8_t *der = NULL;
	int dl, ok_ = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (rslen != 64)
		return 0;
	ECDSA_SIG_set0(sig, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL));
	dl = i2d_ECDSA_SIG(sig, &der);
	if (dl > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestVerify(md, der, (size_t)dl, (const uint8_t *)input,
	    strlen(input)) == 1)
		ok_ = 1;
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return ok_;
}

static void
check_jws(EVP_PKEY *k, const char *kid)
{
	struct buf out, in;
	json_t *j, *prot;
	uint8_t raw[2048];
	size_t n;
	const char *p, *pl, *sg;

	buf_init(&out, 0);
	buf_init(&in, 0);
	is_int(acme_jws(k, kid, "bm9uY2U", "https://ca.test/new-order",
	    "{\"a\":1}", &out), 0, "JWS with %s", kid ? "kid" : "jwk");
	j = json_loads(out.data, 0, NULL);
	ok(j != NULL && json_object_size(j) == 3, "flattened JSON with three members");
	p = json_string_value(json_object_get(j, "protected"));
	pl = json_string_value(json_object_get(j, "payload"));
	sg = json_string_value(json_object_get(j, "signature"));
	ok(p && pl && sg && acme_is_b64url(p) && acme_is_b64url(pl) &&
	    acme_is_b64url(sg), "members are base64url");
	n = unb64u(pl ? pl : "", raw, sizeof(raw));
	ok(n == 7 && memcmp(raw, "{\"a\":1}", 7) == 0, "payload decodes");
	n = unb64u(p ? p : "", raw, sizeof(raw) - 1);
	raw[n] = '\0';
	prot = json_loads((char *)raw, 0, NULL);
	is_str(json_string_value(json_object_get(prot, "alg")), "ES256", "alg ES256");
	is_str(json_string_value(json_object_get(prot, "nonce")), "bm9uY2U", "nonce");
	is_str(json_string_value(json_object_get(prot, "url")),
	    "https://ca.test/new-order", "url");
	if (kid != NULL)
		ok(json_object_get(prot, "jwk") == NULL &&
		    strcmp(json_string_value(json_object_get(prot, "kid")), kid) == 0,
		    "kid and no jwk");
	else
		ok(json_object_get(prot, "kid") == NULL &&
		    json_is_string(json_object_get(json_object_get(prot, "jwk"), "x")),
		    "jwk and no kid");
	buf_addf(&in, "%s.%s", p ? p : "", pl ? pl : "");
	n = unb64u(sg ? sg : "", raw, sizeof(raw));
	ok(verify_es256(k, in.data, raw, n), "signature verifies (R || S, 64 bytes)");
	/* a changed payload does not */
	buf_reset(&in);
	buf_addf(&in, "%s.%s", p ? p : "", "e30");
	ok(!verify_es256(k, in.data, raw, n), "and not over another payload");
	json_decref(prot);
	json_decref(j);
	buf_free(&out);
	buf_free(&in);
}

int
main(void)
{
	struct buf b, jwk;
	EVP_PKEY *k, *k2;
	char thumb[64], v[64], expect[64];

	buf_init(&b, 0);
	/* RFC 4648 10 vectors, base64url without padding */
	is_str(b64u("", 0, &b), "", "b64url \"\"");
	is_str(b64u("f", 1, &b), "Zg", "b64url f");
	is_str(b64u("fo", 2, &b), "Zm8", "b64url fo");
	is_str(b64u("foo", 3, &b), "Zm9v", "b64url foo");
	is_str(b64u("foob", 4, &b), "Zm9vYg", "b64url foob");
	is_str(b64u("fooba", 5, &b), "Zm9vYmE", "b64url fooba");
	is_str(b64u("foobar", 6, &b), "Zm9vYmFy", "b64url foobar");
	is_str(b64u("\xfb\xff\xbf", 3, &b), "-_-_", "url-safe alphabet");
	ok(acme_is_b64url("abc-_09") && !acme_is_b64url("ab=") &&
	    !acme_is_b64url("a b") && !acme_is_b64url(""), "acme_is_b64url");

	k = acme_key_new();
	ok(k != NULL, "new P-256 key");
	buf_init(&jwk, 0);
	is_int(acme_jwk(k, &jwk), 0, "JWK");
	ok(jwk.len == strlen("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"\",\"y\":\"\"}") + 86 &&
	    strncmp(jwk.data, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"", 31) == 0,
	    "canonical form of RFC 7638: %s", jwk.data);
	is_int(acme_thumbprint(k, thumb, sizeof(thumb)), 0, "thumbprint");
	{
		uint8_t md[32];
		SHA256((const uint8_t *)jwk.data, jwk.len, md);
		is_str(thumb, b64u((const char *)md, 32, &b),
		    "thumbprint = base64url(SHA-256(JWK)), 43 chars");
	}
	ok(strlen(thumb) == 43, "43 characters");

	check_jws(k, NULL);
	check_jws(k, "https://ca.test/acct/1");

	/* DNS-01 value, computed here by hand */
	is_int(acme_dns01_value("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
	    thumb, v, sizeof(v)), 0, "dns-01 value");
	{
		char ka[256];
		uint8_t md[32];
		snprintf(ka, sizeof(ka), "%s.%s",
		    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", thumb);
		SHA256((const uint8_t *)ka, strlen(ka), md);
		snprintf(expect, sizeof(expect), "%s", b64u((const char *)md, 32, &b));
	}
	is_str(v, expect, "= base64url(SHA-256(token \".\" thumbprint))");
	is_int(acme_dns01_value("bad token!", thumb, v, sizeof(v)), PTT_EINVAL,
	    "a token that is not base64url is refused");
	is_int(acme_dns01_value("abc\"def", thumb, v, sizeof(v)), PTT_EINVAL,
	    "a quote in a token is refused (it would reach a TXT record)");

	/* key PEM round trip; other key types refused */
	buf_reset(&b);
	is_int(acme_key_pem(k, &b), 0, "key to PEM");
	k2 = acme_key_from_pem(b.data, b.len);
	ok(k2 != NULL && EVP_PKEY_eq(k, k2) == 1, "and back");
	EVP_PKEY_free(k2);
	{
		EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		buf_reset(&b);
		acme_key_pem(ed, &b);
		ok(acme_key_from_pem(b.data, b.len) == NULL, "an Ed25519 key is refused");
		buf_reset(&b);
		acme_key_pem(p384, &b);
		ok(acme_key_from_pem(b.data, b.len) == NULL, "a P-384 key is refused");
		ok(acme_key_from_pem("junk", 4) == NULL, "junk is refused");
		EVP_PKEY_free(ed);
		EVP_PKEY_free(p384);
	}

	/* CSR */
	{
		const char *names[] = { "mail.example.test", "mx.example.test" };
		uint8_t *der = NULL;
		const uint8_t *p;
		size_t len = 0;
		X509_REQ *req;
		STACK_OF(X509_EXTENSION) *exts;
		GENERAL_NAMES *gens = NULL;
		char cn[128] = "";

		is_int(acme_csr(k, names, 2, &der, &len), 0, "CSR for two names");
		p = der;
		req = d2i_X509_REQ(NULL, &p, (long)len);
		ok(req != NULL && X509_REQ_verify(req, k) == 1, "parses, signed by the key");
		X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req),
		    NID_commonName, cn, sizeof(cn));
		is_str(cn, "mail.example.test", "CN is the first name");
		exts = X509_REQ_get_extensions(req);
		for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
			X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
			if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == NID_subject_alt_name)
				gens = X509V3_EXT_d2i(e);
		}
		ok(gens != NULL && sk_GENERAL_NAME_num(gens) == 2, "two names in subjectAltName");
		for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
			ok(g->type == GEN_DNS && strcmp((const char *)ASN1_STRING_get0_data(
			    g->d.dNSName), names[i]) == 0, "SAN %d is %s", i, names[i]);
		}
		GENERAL_NAMES_free(gens);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		X509_REQ_free(req);
		free(der);
		{
			const char *bad[] = { "a.test,DNS:evil.test" };
			is_int(acme_csr(k, bad, 1, &der, &len), PTT_EINVAL,
			    "a name with a comma cannot inject another SAN");
		}
	}

	EVP_PKEY_free(k);
	buf_free(&jwk);
	buf_free(&b);
	return tap_done();
}
