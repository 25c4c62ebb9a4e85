/*
 * test_tls.c - the TLS policy: verification by CA and name, pinning,
 * mutual TLS, SNI, resumption and the protocol floor, over in-memory BIO
 * pairs. Certificates are made by the openssl command in the work dir.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "util/tls.h"
#include "../tap.h"

static void
mk(const char *cmd)
{
	char line[2048];

	snprintf(line, sizeof(line), "%s >/dev/null 2>&1", cmd);
	if (system(line) != 0) {
		printf("Bail out! could not run: %s\n", cmd);
		exit(1);
	}
}

static void
make_certs(void)
{
	mk("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ca -addext basicConstraints=critical,CA:TRUE");
	mk("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem -days 2 -subj /CN=other -addext basicConstraints=critical,CA:TRUE");
	const char *names[][2] = {
		{ "srv", "DNS:mx.example.test,IP:127.0.0.1" },
		{ "alt", "DNS:alt.example.test" },
		{ "cli", "DNS:signer.internal" },
	};
	for (unsigned i = 0; i < 3; i++) {
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key -out %s.csr -subj /CN=%s", names[i][0], names[i][0], names[i][0]);
		mk(cmd);
		snprintf(cmd, sizeof(cmd), "%s.ext", names[i][0]);
		FILE *f = fopen(cmd, "w");
		if (f == NULL || fprintf(f, "subjectAltName=%s\n", names[i][1]) < 0 || fclose(f) != 0) {
			printf("Bail out! cannot write %s\n", cmd);
			exit(1);
		}
		snprintf(cmd, sizeof(cmd), "openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile %s.ext -out %s.pem", names[i][0], names[i][0], names[i][0]);
		mk(cmd);
	}
}

/* Run a handshake between two SSLs over a BIO pair. 1 when both finish. */
static int
handshake(SSL *c, SSL *s)
{
	BIO *bc, *bs;
	int i, rc = 0, rs = 0;

	BIO_new_bio_pair(&bc, 0, &bs, 0);
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (i = 0; i < 50 && (rc != 1 || rs != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = SSL_do_handshake(s);
		if ((rc <= 0 && SSL_get_error(c, rc) == SSL_ERROR_SSL) ||
		    (rs <= 0 && SSL_get_error(s, rs) == SSL_ERROR_SSL))
			break;
	}
	if (rc == 1 && rs == 1) {
		/* Exchange a byte so TLS 1.3 tickets reach the client. */
		char b = 'x';
		SSL_write(s, &b, 1);
		SSL_read(c, &b, 1);
	}
	ERR_clear_error();
	return rc == 1 && rs == 1;
}

static int
connect_pair(SSL_CTX *cctx, SSL_CTX *sctx, const char *sni,
    const char *vname, const char *key, char *desc, size_t desclen)
{
	SSL *c = tls_client_ssl(cctx, sni, vname, key);
	SSL *s = SSL_new(sctx);
	int r = handshake(c, s);

	if (r && desc != NULL)
		tls_describe(c, desc, desclen);
	if (r && key != NULL)
		tls_client_save_session(c, key);
	/* A session freed without a clean shutdown is not resumable. */
	if (r)
		SSL_shutdown(c);
	SSL_free(c);
	SSL_free(s);
	return r;
}

int
main(void)
{
	char err[512], why[256], pin[80], pin2[80], desc[256];
	struct tls_opts so = { "srv.pem", "srv.key", NULL, false };
	struct tls_opts co = { NULL, NULL, "ca.pem", true };
	SSL_CTX *sctx, *cctx, *bad, *mctx, *mcli, *anon;
	SSL *c, *s;

	make_certs();
	sctx = tls_server_ctx(&so, err, sizeof(err));
	ok(sctx != NULL, "server context: %s", sctx ? "" : err);
	cctx = tls_client_ctx(&co, err, sizeof(err));
	ok(cctx != NULL, "verifying client context");

	ok(connect_pair(cctx, sctx, "mx.example.test", "mx.example.test", NULL, desc, sizeof(desc)),
	    "verified handshake with the right name");
	ok(strstr(desc, "TLSv1.3") != NULL, "negotiates TLS 1.3: %s", desc);
	ok(!connect_pair(cctx, sctx, "mx.example.test", "evil.example.test", NULL, NULL, 0),
	    "a name the certificate lacks fails verification");
	ok(connect_pair(cctx, sctx, NULL, "127.0.0.1", NULL, NULL, 0),
	    "an IP literal is verified against the IP SAN");

	struct tls_opts wrong = { NULL, NULL, "other.pem", true };
	bad = tls_client_ctx(&wrong, err, sizeof(err));
	ok(!connect_pair(bad, sctx, "mx.example.test", "mx.example.test", NULL, NULL, 0),
	    "a certificate from another CA fails verification");

	/* Pinning with a non-verifying client. */
	struct tls_opts none = { NULL, NULL, NULL, false };
	anon = tls_client_ctx(&none, err, sizeof(err));
	is_int(tls_cert_pin("srv.pem", pin, sizeof(pin)), 0, "pin of a certificate file");
	tls_cert_pin("alt.pem", pin2, sizeof(pin2));
	c = tls_client_ssl(anon, "mx.example.test", NULL, NULL);
	s = SSL_new(sctx);
	ok(handshake(c, s), "unverified handshake completes");
	is_int(tls_check_peer(c, NULL, pin, why, sizeof(why)), 0, "the right pin passes");
	ok(tls_check_peer(c, NULL, pin2, why, sizeof(why)) != 0, "another pin fails: %s", why);
	is_int(tls_check_peer(c, "mx.example.test", NULL, why, sizeof(why)), 0, "name check passes");
	ok(tls_check_peer(c, "other.example", NULL, why, sizeof(why)) != 0, "name check fails: %s", why);
	SSL_free(c);
	SSL_free(s);

	/* SNI picks the second certificate. */
	is_int(tls_server_add_sni(sctx, "alt.example.test", "alt.pem", "alt.key", err, sizeof(err)), 0, "adds an SNI certificate");
	ok(connect_pair(cctx, sctx, "alt.example.test", "alt.example.test", NULL, NULL, 0),
	    "SNI selects the matching certificate");
	ok(connect_pair(cctx, sctx, "mx.example.test", "mx.example.test", NULL, NULL, 0),
	    "other names keep the default certificate");

	/* Mutual TLS. */
	struct tls_opts mso = { "srv.pem", "srv.key", "ca.pem", true };
	struct tls_opts mco = { "cli.pem", "cli.key", "ca.pem", true };
	mctx = tls_server_ctx(&mso, err, sizeof(err));
	mcli = tls_client_ctx(&mco, err, sizeof(err));
	ok(!connect_pair(cctx, mctx, "mx.example.test", "mx.example.test", NULL, NULL, 0),
	    "mTLS server refuses a client without a certificate");
	c = tls_client_ssl(mcli, "mx.example.test", "mx.example.test", NULL);
	s = SSL_new(mctx);
	ok(handshake(c, s), "mTLS handshake with a client certificate");
	is_int(tls_check_peer(s, "signer.internal", NULL, why, sizeof(why)), 0, "server checks the client's service name");
	ok(tls_check_peer(s, "relay.internal", NULL, why, sizeof(why)) != 0, "a client with another service name is refused");
	SSL_free(c);
	SSL_free(s);

	/* Resumption. */
	ok(connect_pair(cctx, sctx, "mx.example.test", "mx.example.test", "mx:25", NULL, 0), "first connection");
	ok(connect_pair(cctx, sctx, "mx.example.test", "mx.example.test", "mx:25", desc, sizeof(desc)), "second connection");
	ok(strstr(desc, "resumed") != NULL, "the second connection resumes: %s", desc);

	/* Protocol floor: a TLS 1.1-only client gets nowhere. */
	SSL_CTX *old = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(old, TLS1_VERSION);
	SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
	SSL_CTX_set_security_level(old, 0);
	c = SSL_new(old);
	s = SSL_new(sctx);
	ok(!handshake(c, s), "TLS 1.1 is refused");
	SSL_free(c);
	SSL_free(s);

	struct tls_opts nokey = { "srv.pem", "alt.key", NULL, false };
	ok(tls_server_ctx(&nokey, err, sizeof(err)) == NULL, "a key that does not match is refused: %s", err);
	struct tls_opts missing = { "nope.pem", "nope.key", NULL, false };
	ok(tls_server_ctx(&missing, err, sizeof(err)) == NULL, "a missing file is refused with a reason");

	SSL_CTX_free(old);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	SSL_CTX_free(bad);
	SSL_CTX_free(anon);
	SSL_CTX_free(mctx);
	SSL_CTX_free(mcli);
	return tap_done();
}
