/*
 * test_tls_reload.c - tls_server_reload: a server context takes a renewed
 * certificate for new handshakes while connections made before (finished
 * or still in their handshake) keep theirs and keep working; a bad pair
 * changes nothing; SNI entries are reloaded from their own files. Over
 * in-memory BIO pairs; certificates are made by the openssl command.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "util/err.h"
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
make_cert(const char *n, const char *cn, const char *san)
{
	char cmd[1024];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key -out %s.csr -subj /CN=%s", n, n, cn);
	mk(cmd);
	snprintf(cmd, sizeof(cmd), "%s.ext", n);
	f = fopen(cmd, "w");
	if (f == NULL || fprintf(f, "subjectAltName=%s\n", san) < 0 || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", cmd);
		exit(1);
	}
	snprintf(cmd, sizeof(cmd), "openssl x509 -req -in %s.csr -CA rca.pem -CAkey rca.key -CAcreateserial -days 2 -extfile %s.ext -out %s.pem", n, n, n);
	mk(cmd);
}

static void
install(const char *from, const char *to)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cp %s.pem %s.pem && cp %s.key %s.key", from, to, from, to);
	mk(cmd);
}

/* Drive both ends until the handshake is done. 1 when both finished. */
static int
drive(SSL *c, SSL *s)
{
	int i, rc = 0, rs = 0;

	for (i = 0; i < 50 && (rc != 1 || rs != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = SSL_do_handshake(s);
		if ((rc <= 0 && SSL_get_error(c, rc) == SSL_ERROR_SSL) ||
		    (rs <= 0 && SSL_get_error(s, rs) == SSL_ERROR_SSL))
			break;
	}
	ERR_clear_error();
	return rc == 1 && rs == 1;
}

static void
pair_up(SSL *c, SSL *s)
{
	BIO *bc, *bs;

	BIO_new_bio_pair(&bc, 0, &bs, 0);
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
}

/* The CN of the certificate the client was shown. */
static const char *
peer_cn(SSL *c, char *buf, size_t len)
{
	X509 *x = SSL_get1_peer_certificate(c);

	buf[0] = '\0';
	if (x != NULL) {
		X509_NAME_get_text_by_NID(X509_get_subject_name(x),
		    NID_commonName, buf, (int)len);
		X509_free(x);
	}
	return buf;
}

/* Application data both ways over an established pair. */
static int
talk(SSL *c, SSL *s)
{
	char b[8];

	return SSL_write(c, "ping", 4) == 4 && SSL_read(s, b, sizeof(b)) == 4 &&
	    SSL_write(s, "pong", 4) == 4 && SSL_read(c, b, sizeof(b)) == 4 &&
	    memcmp(b, "pong", 4) == 0;
}

/* A new connection with sni; the CN the client saw, "" when it failed. */
static const char *
fresh(SSL_CTX *cctx, SSL_CTX *sctx, const char *sni, char *buf, size_t len)
{
	SSL *c = tls_client_ssl(cctx, sni, NULL, NULL);
	SSL *s = SSL_new(sctx);

	pair_up(c, s);
	buf[0] = '\0';
	if (drive(c, s))
		peer_cn(c, buf, len);
	SSL_free(c);
	SSL_free(s);
	return buf;
}

int
main(void)
{
	char err[512], cn[128];
	struct tls_opts so = { "cur.pem", "cur.key", NULL, false };
	struct tls_opts co = { NULL, NULL, "rca.pem", true };
	SSL_CTX *sctx, *cctx;
	SSL *c1, *s1, *c2, *s2;

	mk("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rca.key -out rca.pem -days 2 -subj /CN=reload-ca -addext basicConstraints=critical,CA:TRUE");
	make_cert("old", "old", "DNS:mx.example.test");
	make_cert("new", "new", "DNS:mx.example.test");
	make_cert("sniold", "sniold", "DNS:smtp.example.test");
	make_cert("sninew", "sninew", "DNS:smtp.example.test");
	make_cert("third", "third", "DNS:mx.example.test");
	install("old", "cur");
	install("sniold", "sni");

	sctx = tls_server_ctx(&so, err, sizeof(err));
	ok(sctx != NULL, "server context: %s", sctx ? "" : err);
	is_int(tls_server_add_sni(sctx, "smtp.example.test", "sni.pem", "sni.key",
	    err, sizeof(err)), 0, "SNI entry");
	cctx = tls_client_ctx(&co, err, sizeof(err));
	ok(cctx != NULL, "client context");

	is_str(fresh(cctx, sctx, "mx.example.test", cn, sizeof(cn)), "old",
	    "before the reload: the old certificate");
	is_str(fresh(cctx, sctx, "smtp.example.test", cn, sizeof(cn)), "sniold",
	    "before the reload: the old SNI certificate");

	/* one connection established, one created but not yet shaken */
	c1 = tls_client_ssl(cctx, "mx.example.test", "mx.example.test", NULL);
	s1 = SSL_new(sctx);
	pair_up(c1, s1);
	ok(drive(c1, s1), "connection 1 established");
	c2 = tls_client_ssl(cctx, "mx.example.test", "mx.example.test", NULL);
	s2 = SSL_new(sctx);
	pair_up(c2, s2);

	install("new", "cur");
	install("sninew", "sni");
	is_int(tls_server_reload(sctx, NULL, NULL, err, sizeof(err)), 0,
	    "reload from the files of the context: %s", err);

	ok(talk(c1, s1), "connection 1 still carries data after the reload");
	is_str(peer_cn(c1, cn, sizeof(cn)), "old", "and keeps the old certificate");
	ok(drive(c2, s2) && talk(c2, s2),
	    "a connection created before the reload completes its handshake");
	is_str(peer_cn(c2, cn, sizeof(cn)), "old",
	    "with the certificate it started with");
	SSL_free(c1);
	SSL_free(s1);
	SSL_free(c2);
	SSL_free(s2);

	is_str(fresh(cctx, sctx, "mx.example.test", cn, sizeof(cn)), "new",
	    "a new connection gets the new certificate");
	is_str(fresh(cctx, sctx, "smtp.example.test", cn, sizeof(cn)), "sninew",
	    "the SNI entry was reloaded from its own files");

	/* a key that does not match: nothing changes */
	mk("cp third.pem cur.pem");
	ok(tls_server_reload(sctx, NULL, NULL, err, sizeof(err)) == PTT_ETLS &&
	    strstr(err, "does not match") != NULL,
	    "a certificate with the wrong key is refused: %s", err);
	is_str(fresh(cctx, sctx, "mx.example.test", cn, sizeof(cn)), "new",
	    "and the context still serves the last good one");
	mk("rm -f gone.pem");
	ok(tls_server_reload(sctx, "gone.pem", "third.key", err, sizeof(err)) != 0,
	    "a missing file is refused: %s", err);
	is_str(fresh(cctx, sctx, "mx.example.test", cn, sizeof(cn)), "new",
	    "still the last good one");

	/* explicit new files become the ones reloaded from next time */
	is_int(tls_server_reload(sctx, "third.pem", "third.key", err, sizeof(err)),
	    0, "reload from other files: %s", err);
	is_str(fresh(cctx, sctx, "mx.example.test", cn, sizeof(cn)), "third",
	    "they are served");
	install("new", "third");
	is_int(tls_server_reload(sctx, NULL, NULL, err, sizeof(err)), 0,
	    "a later reload without files");
	is_str(fresh(cctx, sctx, "mx.example.test", cn, sizeof(cn)), "new",
	    "reads the files given last");

	/* a context not made by tls_server_ctx needs files */
	{
		SSL_CTX *plain = SSL_CTX_new(TLS_server_method());
		is_int(tls_server_reload(plain, NULL, NULL, err, sizeof(err)),
		    PTT_EINVAL, "a foreign context without files: %s", err);
		SSL_CTX_free(plain);
	}

	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return tap_done();
}
