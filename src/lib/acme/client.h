/*
 * client.h - the requests of an RFC 8555 client over HTTPS (libcurl),
 * synchronous: each call returns when the server answered.
 *
 * The client fetches the directory, keeps a nonce (from newNonce or the
 * last Replay-Nonce), signs every request with the account key (JWS ES256,
 * acme/jws.h), retries a request refused with badNonce (RFC 8555 6.5) with
 * the fresh nonce that came with the refusal, and turns error answers into
 * one line: "urn:ietf:params:acme:error:TYPE: detail (HTTP n)". Every
 * answer goes through acme/msg.h's parsers.
 *
 * Errors: PTT_ETEMP for what may work later (network, 5xx, 429
 * rateLimited, badNonce retries exhausted); PTT_EPROTO for a refusal or a
 * malformed answer. After either, acme_retry_after() gives the server's
 * Retry-After in seconds (0: none).
 *
 * Holds: a reference to the account key (not freed by the client).
 * Trusts: the server's TLS certificate chains to the configured CA bundle
 * (or the system store); nothing in its answers.
 */
#ifndef PTT_ACME_CLIENT_H
#define PTT_ACME_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "acme/msg.h"

struct acme_client_opts {
	const char *directory;	/* directory URL (https://) */
	const char *ca_pem;	/* CA bundle (PEM bytes, copied) or NULL: system */
	size_t ca_len;
	EVP_PKEY *account_key;	/* ECDSA P-256 (acme_key_new) */
	const char *contact;	/* "mailto:..." or NULL/"" */
	long timeout;		/* seconds per request; 0: 30 */
	bool allow_http;	/* http:// URLs (tests against a plain server) */
	const char *user_agent;	/* NULL: "ptt-acme" */
	bool pin_resolve;	/* resolve the directory's host now and use
				 * those addresses for every request (for a
				 * sandbox without a resolver) */
};

struct acme_client;

/* NULL when libcurl cannot be set up. Call curl_global_init first (the
 * daemon does, before its sandbox). Free with acme_client_free. */
struct acme_client *acme_client_new(const struct acme_client_opts *o);
void acme_client_free(struct acme_client *c);

/* Fetch the directory (once) and create or find the account (newAccount
 * with termsOfServiceAgreed; an existing account answers 200 with its URL).
 * 0 or an error with the reason in err. */
int acme_account(struct acme_client *c, char *err, size_t errlen);
/* The account URL once acme_account succeeded, else NULL. */
const char *acme_account_url(const struct acme_client *c);

/* newOrder for the DNS names. *url: the order's URL (caller frees). */
int acme_new_order(struct acme_client *c, const char *const *names,
    size_t n, struct acme_order *o, char **url, char *err, size_t errlen);
/* POST-as-GET of an order / authorization. */
int acme_get_order(struct acme_client *c, const char *url,
    struct acme_order *o, char *err, size_t errlen);
int acme_get_authz(struct acme_client *c, const char *url,
    struct acme_authz *a, char *err, size_t errlen);
/* Tell the server a challenge is ready to be validated (payload {}). */
int acme_respond(struct acme_client *c, const char *challenge_url,
    char *err, size_t errlen);
/* Finalize with a CSR (DER); o is the order as answered. */
int acme_finalize(struct acme_client *c, const char *finalize_url,
    const uint8_t *csr, size_t csr_len, struct acme_order *o, char *err,
    size_t errlen);
/* Download the certificate chain (application/pem-certificate-chain).
 * *pem malloc'd, NUL-terminated; caller frees. */
int acme_download(struct acme_client *c, const char *cert_url, char **pem,
    size_t *len, char *err, size_t errlen);

/* Seconds the server asked to wait in its last answer (0: none). */
long acme_retry_after(const struct acme_client *c);

#endif
