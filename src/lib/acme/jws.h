/*
 * jws.h - the cryptography of an ACME client: account and certificate keys
 * (ECDSA P-256), JWS signing with ES256 in the flattened JSON form (RFC
 * 7515, RFC 7518 3.4, RFC 8555 6.2), the JWK and its thumbprint (RFC 7517,
 * RFC 7638), base64url (RFC 4648 5, no padding), the DNS-01 TXT value
 * (RFC 8555 8.1 and 8.4) and a PKCS#10 request for a set of names.
 *
 * Trusts: its arguments (the key, names and URLs come from the caller; the
 * token of a challenge is checked to be base64url before it is used).
 */
#ifndef PTT_ACME_JWS_H
#define PTT_ACME_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "util/buf.h"

/* A new ECDSA P-256 key; NULL when OpenSSL fails. Caller frees
 * (EVP_PKEY_free). */
EVP_PKEY *acme_key_new(void);
/* PEM (PKCS#8) of a private key into out (appended). 0 or PTT_ECRYPTO. */
int acme_key_pem(EVP_PKEY *k, struct buf *out);
/* A private key from PEM bytes; it must be ECDSA P-256. NULL when not. */
EVP_PKEY *acme_key_from_pem(const char *pem, size_t len);

/* base64url without padding of len bytes, appended to out. */
void acme_b64url(const void *data, size_t len, struct buf *out);
/* True when s is a non-empty base64url string (alphabet only). */
int acme_is_b64url(const char *s);

/* The public JWK of k in the canonical form of RFC 7638 3: members in
 * lexicographic order, no white space:
 * {"crv":"P-256","kty":"EC","x":"...","y":"..."}. 0 or PTT_ECRYPTO. */
int acme_jwk(EVP_PKEY *k, struct buf *out);
/* base64url(SHA-256(canonical JWK)), 43 characters. 0 or PTT_ECRYPTO. */
int acme_thumbprint(EVP_PKEY *k, char *out, size_t outlen);

/*
 * A flattened JWS (RFC 7515 7.2.2) over payload (a JSON text, or "" for
 * POST-as-GET, RFC 8555 6.3), protected header {"alg":"ES256", "jwk" or
 * "kid", "nonce", "url"}: with kid NULL the public JWK is embedded
 * (newAccount), else kid is the account URL. Written to out. 0 or
 * PTT_ECRYPTO.
 */
int acme_jws(EVP_PKEY *k, const char *kid, const char *nonce,
    const char *url, const char *payload, struct buf *out);

/* The DNS-01 TXT value for a token: base64url(SHA-256(token "." thumbprint)),
 * 43 characters. 0, or PTT_EINVAL when the token is not base64url. */
int acme_dns01_value(const char *token, const char *thumbprint, char *out,
    size_t outlen);

/* A certificate request (DER) signed by k for names (the first is also the
 * subject CN), every name in subjectAltName. *der is malloc'd, caller
 * frees. 0 or PTT_ECRYPTO/PTT_EINVAL. */
int acme_csr(EVP_PKEY *k, const char *const *names, size_t n, uint8_t **der,
    size_t *len);

#endif
