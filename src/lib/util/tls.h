/*
 * tls.h - TLS on OpenSSL 3 for servers and clients.
 *
 * Policy lives here and nowhere else: TLS 1.2 or newer, forward-secret AEAD
 * cipher suites only, no compression or renegotiation, server-chosen order,
 * session resumption (tickets on the server, a small per-destination cache
 * on the client), SNI both ways.
 *
 * Verification of a peer is either against CA certificates (chain plus the
 * expected DNS name or IP) or against a pinned certificate (SHA-256 of its
 * DER encoding, as "sha256:<64 hex>"), or both. Internal hops use mutual TLS:
 * the server asks for and verifies a client certificate.
 *
 * Trusts: the files named in tls_opts (read once at context creation).
 */
#ifndef PTT_UTIL_TLS_H
#define PTT_UTIL_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct tls_opts {
	const char *cert_file;	/* PEM: certificate (and chain) we present */
	const char *key_file;	/* PEM: its private key */
	const char *ca_file;	/* PEM: CAs to verify the peer against; NULL:
				 * the system store (client) / none (server) */
	bool verify_peer;	/* server: require a valid client certificate;
				 * client: require a valid server certificate */
};

/* Create contexts. NULL on error with the reason in err. Caller frees with
 * SSL_CTX_free(). */
SSL_CTX *tls_server_ctx(const struct tls_opts *o, char *err, size_t errlen);
SSL_CTX *tls_client_ctx(const struct tls_opts *o, char *err, size_t errlen);

/* Server SNI: present this certificate when the client asks for name
 * (exact match or "*.domain" wildcard). 0 or PTT_ETLS. */
int tls_server_add_sni(SSL_CTX *ctx, const char *name, const char *cert_file,
    const char *key_file, char *err, size_t errlen);

/*
 * Reload the certificate and key a server context presents, and those of
 * its SNI entries (from the files they were added with), e.g. on SIGHUP
 * after ptt-acme renewed them. Connections already made, or in their
 * handshake, keep the certificate they started with (each SSL holds its own
 * reference); new handshakes present the new one. Nothing else of the
 * context changes (CA, verification, session tickets). Every file is read
 * and its key checked against its certificate before anything is
 * installed, so on error the context keeps serving what it had.
 * cert_file/key_file: new files for the main pair, NULL: the ones the
 * context was made from (tls_server_ctx) or last reloaded from.
 * 0, PTT_EIO or PTT_ETLS (or PTT_EINVAL: NULL files for a context not made
 * by tls_server_ctx) with the reason in err.
 */
int tls_server_reload(SSL_CTX *ctx, const char *cert_file,
    const char *key_file, char *err, size_t errlen);
/* What a daemon does on SIGHUP: tls_server_reload from the same files,
 * and one log line saying which happened (name: the certificate file, for
 * the log). 0 or the PTT_E* code. */
int tls_server_reload_logged(SSL_CTX *ctx, const char *name);

/*
 * New client SSL for one connection: sends SNI (when sni is a DNS name) and,
 * when the context verifies, checks the certificate against verify_name
 * (DNS name or IP literal; NULL: chain only). Resumes a cached session for
 * cache_key ("host:port"; NULL: no resumption). Caller frees with SSL_free().
 */
SSL *tls_client_ssl(SSL_CTX *ctx, const char *sni, const char *verify_name,
    const char *cache_key);
/* After a successful client handshake: remember the session for resumption. */
void tls_client_save_session(SSL *ssl, const char *cache_key);

/*
 * After the handshake: 0 when the peer passed what the context and the
 * arguments demand, else PTT_ETLS with why. pin: "sha256:<hex>" of the
 * peer certificate's DER, or NULL. expect_name: a DNS name (or IP) the peer
 * certificate must carry in subjectAltName, or NULL (for servers checking
 * an internal client's service name).
 */
int tls_check_peer(SSL *ssl, const char *expect_name, const char *pin,
    char *why, size_t whylen);

/* "sha256:<hex>" of a certificate file's DER (for configuration and
 * tests). 0 or PTT_EIO/PTT_ETLS. */
int tls_cert_pin(const char *cert_file, char *out, size_t outlen);

/* For Received headers and logs: "version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256". */
const char *tls_describe(SSL *ssl, char *buf, size_t len);

/* Last OpenSSL error queue, joined, for messages. */
const char *tls_errstr(char *buf, size_t len);

#endif
