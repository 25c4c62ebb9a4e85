/*
 * tls.c - TLS contexts on OpenSSL 3: one policy for every ptt hop.
 *
 * Implements: TLS 1.2 (RFC 5246) and 1.3 (RFC 8446) with forward-secret AEAD
 * suites only; SNI (RFC 6066); session resumption (RFC 5077 tickets on the
 * server, a per-destination cache on the client); peer verification by CA
 * chain plus name (RFC 6125) or by a pinned certificate.
 * Trusts: the certificate, key and CA files named by its caller.
 */
#include "util/tls.h"

#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

/* TLS 1.2 suites: ECDHE with AES-GCM or ChaCha20-Poly1305 only. TLS 1.3's
 * defaults are all AEAD and forward secret already. */
#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"

struct sni_entry {
	char *name;
	SSL_CTX *ctx;
	char *cert_file, *key_file;	/* for tls_server_reload */
	struct sni_entry *next;
};

/* The files a server context was made from, for tls_server_reload. */
struct pair_files {
	char *cert_file, *key_file;
};

static int sni_idx = -1;	/* SSL_CTX ex_data: struct sni_entry list */
static int files_idx = -1;	/* SSL_CTX ex_data: struct pair_files */
static int key_idx = -1;	/* SSL ex_data: client cache key (char *) */

const char *
tls_errstr(char *buf, size_t len)
{
	unsigned long e;
	size_t pos = 0;

	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[256];
		ERR_error_string_n(e, one, sizeof(one));
		if (pos < len)
			pos += (size_t)snprintf(buf + pos, len - pos, "%s%s",
			    pos ? "; " : "", one);
	}
	if (buf[0] == '\0')
		ptt_strlcpy(buf, "unknown TLS error", len);
	return buf;
}

static void
sni_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct sni_entry *e = ptr, *next;

	for (; e != NULL; e = next) {
		next = e->next;
		SSL_CTX_free(e->ctx);
		free(e->name);
		free(e->cert_file);
		free(e->key_file);
		free(e);
	}
}

static void
files_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct pair_files *f = ptr;

	if (f == NULL)
		return;
	free(f->cert_file);
	free(f->key_file);
	free(f);
}

static void
key_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	free(ptr);
}

static void
init_indexes(void)
{
	if (sni_idx < 0)
		sni_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, sni_free);
	if (key_idx < 0)
		key_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, key_free);
	if (files_idx < 0)
		files_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
		    files_free);
}

static SSL_CTX *
ctx_common(const SSL_METHOD *m, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	char e[512];

	init_indexes();
	if ((ctx = SSL_CTX_new(m)) == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s", tls_errstr(e, sizeof(e)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		snprintf(err, errlen, "cipher list: %s", tls_errstr(e, sizeof(e)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

static int
load_pair(SSL_CTX *ctx, const char *cert, const char *key, char *err,
    size_t errlen)
{
	char e[512];

	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "%s: %s", cert, tls_errstr(e, sizeof(e)));
		return PTT_ETLS;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "%s: %s", key, tls_errstr(e, sizeof(e)));
		return PTT_ETLS;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "%s does not match %s", key, cert);
		return PTT_ETLS;
	}
	return 0;
}

static int
load_ca(SSL_CTX *ctx, const char *ca, char *err, size_t errlen)
{
	char e[512];

	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		snprintf(err, errlen, "%s: %s", ca, tls_errstr(e, sizeof(e)));
		return PTT_ETLS;
	}
	return 0;
}

static int
servername_cb(SSL *ssl, int *alert, void *arg)
{
	SSL_CTX *ctx = arg;
	struct sni_entry *e;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (e = SSL_CTX_get_ex_data(ctx, sni_idx); e != NULL; e = e->next) {
		const char *dot;
		if (strcasecmp(e->name, name) == 0 ||
		    (e->name[0] == '*' && e->name[1] == '.' &&
		    (dot = strchr(name, '.')) != NULL &&
		    strcasecmp(e->name + 1, dot) == 0)) {
			SSL_set_SSL_CTX(ssl, e->ctx);
			/* Keep the main context's verification settings. */
			SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx),
			    SSL_CTX_get_verify_callback(ctx));
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_OK;	/* default certificate */
}

SSL_CTX *
tls_server_ctx(const struct tls_opts *o, char *err, size_t errlen)
{
	static const unsigned char sid_ctx[] = "ptt";
	SSL_CTX *ctx;

	if (o->cert_file == NULL || o->key_file == NULL) {
		snprintf(err, errlen, "a server needs a certificate and key");
		return NULL;
	}
	if ((ctx = ctx_common(TLS_server_method(), err, errlen)) == NULL)
		return NULL;
	if (load_pair(ctx, o->cert_file, o->key_file, err, errlen) != 0)
		goto fail;
	if (o->ca_file != NULL) {
		STACK_OF(X509_NAME) *names;
		if (load_ca(ctx, o->ca_file, err, errlen) != 0)
			goto fail;
		if ((names = SSL_load_client_CA_file(o->ca_file)) != NULL)
			SSL_CTX_set_client_CA_list(ctx, names);
	}
	if (o->verify_peer) {
		if (o->ca_file == NULL) {
			snprintf(err, errlen, "verifying clients needs a CA file");
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_tlsext_servername_callback(ctx, servername_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, ctx);
	{
		struct pair_files *f = xcalloc(1, sizeof(*f));
		f->cert_file = xstrdup(o->cert_file);
		f->key_file = xstrdup(o->key_file);
		SSL_CTX_set_ex_data(ctx, files_idx, f);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
tls_server_add_sni(SSL_CTX *ctx, const char *name, const char *cert_file,
    const char *key_file, char *err, size_t errlen)
{
	struct sni_entry *e;
	SSL_CTX *sub;

	if ((sub = ctx_common(TLS_server_method(), err, errlen)) == NULL)
		return PTT_ETLS;
	if (load_pair(sub, cert_file, key_file, err, errlen) != 0) {
		SSL_CTX_free(sub);
		return PTT_ETLS;
	}
	SSL_CTX_set_session_id_context(sub, (const unsigned char *)"ptt", 3);
	e = xcalloc(1, sizeof(*e));
	e->name = xstrdup(name);
	e->ctx = sub;
	e->cert_file = xstrdup(cert_file);
	e->key_file = xstrdup(key_file);
	e->next = SSL_CTX_get_ex_data(ctx, sni_idx);
	SSL_CTX_set_ex_data(ctx, sni_idx, e);
	return 0;
}

/* A certificate chain and its key read from files, checked to match, not
 * yet installed anywhere. */
struct pair {
	X509 *leaf;
	STACK_OF(X509) *chain;
	EVP_PKEY *key;
};

static void
pair_free(struct pair *p)
{
	X509_free(p->leaf);
	sk_X509_pop_free(p->chain, X509_free);
	EVP_PKEY_free(p->key);
	memset(p, 0, sizeof(*p));
}

static int
pair_read(struct pair *p, const char *cert, const char *key, char *err,
    size_t errlen)
{
	char e[512];
	BIO *b;
	X509 *x;

	memset(p, 0, sizeof(*p));
	if ((b = BIO_new_file(cert, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", cert, tls_errstr(e, sizeof(e)));
		return PTT_EIO;
	}
	p->leaf = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL);
	p->chain = sk_X509_new_null();
	while (p->leaf != NULL && p->chain != NULL &&
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_push(p->chain, x) <= 0) {
			X509_free(x);
			break;
		}
	}
	BIO_free(b);
	ERR_clear_error();	/* the end of the file ends the chain */
	if (p->leaf == NULL || p->chain == NULL) {
		snprintf(err, errlen, "%s: no certificate", cert);
		pair_free(p);
		return PTT_ETLS;
	}
	if ((b = BIO_new_file(key, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", key, tls_errstr(e, sizeof(e)));
		pair_free(p);
		return PTT_EIO;
	}
	p->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (p->key == NULL) {
		snprintf(err, errlen, "%s: %s", key, tls_errstr(e, sizeof(e)));
		pair_free(p);
		return PTT_ETLS;
	}
	if (X509_check_private_key(p->leaf, p->key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s does not match %s", key, cert);
		pair_free(p);
		return PTT_ETLS;
	}
	return 0;
}

static int
pair_install(SSL_CTX *ctx, struct pair *p, const char *cert, char *err,
    size_t errlen)
{
	char e[512];

	/* Replaces the certificate, chain and key of the key's type; each
	 * existing SSL holds its own reference to what it started with. */
	if (SSL_CTX_use_cert_and_key(ctx, p->leaf, p->key, p->chain, 1) != 1) {
		snprintf(err, errlen, "%s: %s", cert, tls_errstr(e, sizeof(e)));
		return PTT_ETLS;
	}
	return 0;
}

int
tls_server_reload(SSL_CTX *ctx, const char *cert_file, const char *key_file,
    char *err, size_t errlen)
{
	struct pair_files *f;
	struct sni_entry *e;
	struct pair main_pair, *subs = NULL;
	size_t n = 0, i;
	int r;

	if (errlen > 0)
		err[0] = '\0';
	init_indexes();
	f = SSL_CTX_get_ex_data(ctx, files_idx);
	if (cert_file == NULL || key_file == NULL) {
		if (f == NULL) {
			snprintf(err, errlen, "not a server context of "
			    "tls_server_ctx: name the files to reload");
			return PTT_EINVAL;
		}
		cert_file = f->cert_file;
		key_file = f->key_file;
	}
	/* Read and check everything first: an error changes nothing. */
	if ((r = pair_read(&main_pair, cert_file, key_file, err, errlen)) != 0)
		return r;
	for (e = SSL_CTX_get_ex_data(ctx, sni_idx); e != NULL; e = e->next)
		n++;
	if (n > 0)
		subs = xcalloc(n, sizeof(*subs));
	for (i = 0, e = SSL_CTX_get_ex_data(ctx, sni_idx); e != NULL;
	    e = e->next, i++) {
		if ((r = pair_read(&subs[i], e->cert_file, e->key_file, err,
		    errlen)) != 0)
			goto out;
	}
	if ((r = pair_install(ctx, &main_pair, cert_file, err, errlen)) != 0)
		goto out;
	for (i = 0, e = SSL_CTX_get_ex_data(ctx, sni_idx); e != NULL;
	    e = e->next, i++) {
		if ((r = pair_install(e->ctx, &subs[i], e->cert_file, err,
		    errlen)) != 0)
			goto out;
	}
	if (f != NULL && f->cert_file != cert_file) {
		char *c = xstrdup(cert_file), *k = xstrdup(key_file);
		free(f->cert_file);
		free(f->key_file);
		f->cert_file = c;
		f->key_file = k;
	}
out:
	pair_free(&main_pair);
	for (i = 0; i < n; i++)
		pair_free(&subs[i]);
	free(subs);
	return r;
}

/*
 * Client session cache: a few destinations, most recently stored first
 * out. Daemons are single-threaded, so no locking.
 */
#define SESS_CACHE 64
static struct {
	char *key;
	SSL_SESSION *sess;
} sess_cache[SESS_CACHE];
static unsigned sess_next;

static void
cache_put(const char *key, SSL_SESSION *s)
{
	unsigned i;

	for (i = 0; i < SESS_CACHE; i++) {
		if (sess_cache[i].key != NULL && strcmp(sess_cache[i].key, key) == 0) {
			SSL_SESSION_free(sess_cache[i].sess);
			sess_cache[i].sess = s;
			return;
		}
	}
	i = sess_next++ % SESS_CACHE;
	free(sess_cache[i].key);
	if (sess_cache[i].sess != NULL)
		SSL_SESSION_free(sess_cache[i].sess);
	sess_cache[i].key = xstrdup(key);
	sess_cache[i].sess = s;
}

static SSL_SESSION *
cache_get(const char *key)
{
	unsigned i;

	for (i = 0; i < SESS_CACHE; i++)
		if (sess_cache[i].key != NULL && strcmp(sess_cache[i].key, key) == 0)
			return sess_cache[i].sess;
	return NULL;
}

/* TLS 1.3 tickets arrive after the handshake: OpenSSL reports them here. */
static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	const char *key = SSL_get_ex_data(ssl, key_idx);

	if (key == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	cache_put(key, sess);
	return 1;	/* we keep the reference */
}

SSL_CTX *
tls_client_ctx(const struct tls_opts *o, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = ctx_common(TLS_client_method(), err, errlen)) == NULL)
		return NULL;
	if (o->cert_file != NULL &&
	    load_pair(ctx, o->cert_file, o->key_file ? o->key_file : o->cert_file,
	    err, errlen) != 0)
		goto fail;
	if (o->ca_file != NULL) {
		if (load_ca(ctx, o->ca_file, err, errlen) != 0)
			goto fail;
	} else if (o->verify_peer) {
		SSL_CTX_set_default_verify_paths(ctx);
	}
	SSL_CTX_set_verify(ctx, o->verify_peer ? SSL_VERIFY_PEER :
	    SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static int
is_ip_literal(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

SSL *
tls_client_ssl(SSL_CTX *ctx, const char *sni, const char *verify_name,
    const char *cache_key)
{
	SSL *ssl = SSL_new(ctx);
	SSL_SESSION *s;

	if (ssl == NULL)
		return NULL;
	if (sni != NULL && !is_ip_literal(sni))
		SSL_set_tlsext_host_name(ssl, sni);
	if (verify_name != NULL) {
		if (is_ip_literal(verify_name)) {
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			    verify_name);
		} else {
			SSL_set_hostflags(ssl,
			    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			SSL_set1_host(ssl, verify_name);
		}
	}
	if (cache_key != NULL) {
		SSL_set_ex_data(ssl, key_idx, xstrdup(cache_key));
		if ((s = cache_get(cache_key)) != NULL)
			SSL_set_session(ssl, s);
	}
	return ssl;
}

void
tls_client_save_session(SSL *ssl, const char *cache_key)
{
	SSL_SESSION *s = SSL_get1_session(ssl);

	if (s == NULL)
		return;
	if (cache_key != NULL && SSL_SESSION_is_resumable(s))
		cache_put(cache_key, s);
	else
		SSL_SESSION_free(s);
}

static int
cert_sha256(X509 *x, char *out, size_t outlen)
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0, i;
	int n = i2d_X509(x, &der);
	size_t pos;

	if (n <= 0)
		return PTT_ETLS;
	if (EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		return PTT_ECRYPTO;
	}
	OPENSSL_free(der);
	if (outlen < 7 + 2 * (size_t)mdlen + 1)
		return PTT_ENOSPC;
	pos = ptt_strlcpy(out, "sha256:", outlen);
	for (i = 0; i < mdlen; i++)
		pos += (size_t)snprintf(out + pos, outlen - pos, "%02x", md[i]);
	return 0;
}

int
tls_cert_pin(const char *cert_file, char *out, size_t outlen)
{
	FILE *f = fopen(cert_file, "r");
	X509 *x;
	int r;

	if (f == NULL)
		return PTT_EIO;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return PTT_ETLS;
	r = cert_sha256(x, out, outlen);
	X509_free(x);
	return r;
}

int
tls_check_peer(SSL *ssl, const char *expect_name, const char *pin, char *why,
    size_t whylen)
{
	X509 *x = SSL_get0_peer_certificate(ssl);
	long vr;

	if (x == NULL) {
		if (pin == NULL && expect_name == NULL &&
		    !(SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER))
			return 0;
		snprintf(why, whylen, "peer presented no certificate");
		return PTT_ETLS;
	}
	if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) &&
	    (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(why, whylen, "certificate verification failed: %s",
		    X509_verify_cert_error_string(vr));
		return PTT_ETLS;
	}
	if (pin != NULL) {
		char got[80];
		if (cert_sha256(x, got, sizeof(got)) != 0 ||
		    strcasecmp(got, pin) != 0) {
			snprintf(why, whylen, "certificate does not match the pin");
			return PTT_ETLS;
		}
	}
	if (expect_name != NULL) {
		int m = is_ip_literal(expect_name) ?
		    X509_check_ip_asc(x, expect_name, 0) :
		    X509_check_host(x, expect_name, 0,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
		if (m != 1) {
			snprintf(why, whylen, "certificate is not for %s",
			    expect_name);
			return PTT_ETLS;
		}
	}
	return 0;
}

const char *
tls_describe(SSL *ssl, char *buf, size_t len)
{
	int alg = 0, bits = SSL_get_cipher_bits(ssl, &alg);

	snprintf(buf, len, "version=%s cipher=%s bits=%d/%d%s",
	    SSL_get_version(ssl), SSL_get_cipher_name(ssl), bits, alg,
	    SSL_session_reused(ssl) ? " resumed" : "");
	return buf;
}

int
tls_server_reload_logged(SSL_CTX *ctx, const char *name)
{
	char err[512];
	int r;

	if ((r = tls_server_reload(ctx, NULL, NULL, err, sizeof(err))) != 0)
		log_err(NULL, "certificate reload: %s (keeping the old one)",
		    err);
	else
		log_info(NULL, "certificate reloaded from %s", name);
	return r;
}
