/* test_internal_tls.c - certificates from the internal CA (conf/ca.h) with
 * the project's TLS policy (util/tls.h): mutual TLS between two services,
 * each checking the other's service name; wrong names, a foreign CA and a
 * missing client certificate are refused. */
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/ca.h"
#include "util/tls.h"
#include "../tap.h"

static char st1[] = "/tmp/ptt-itls-a.XXXXXX", st2[] = "/tmp/ptt-itls-b.XXXXXX";

static SSL_CTX *
ctx_for(const char *state, const char *service, bool server, bool with_cert)
{
	char cert[512], key[512], ca[512], err[256];
	struct tls_opts o = { 0 };
	SSL_CTX *c;

	ca_cert_paths(state, service, cert, sizeof(cert), key, sizeof(key));
	ca_cafile_path(st1, ca, sizeof(ca));	/* peers trust the first CA */
	o.cert_file = with_cert ? cert : NULL;
	o.key_file = with_cert ? key : NULL;
	o.ca_file = ca;
	o.verify_peer = true;
	c = server ? tls_server_ctx(&o, err, sizeof(err)) : tls_client_ctx(&o, err, sizeof(err));
	if (c == NULL)
		printf("# ctx %s: %s\n", service, err);
	return c;
}

/* One handshake step of one side: 0 (done or would block) or -1. */
static int
step(SSL *ssl, int (*fn)(SSL *), int *done, const char *who, char *why,
    size_t whylen)
{
	int r, e;

	if (*done)
		return 0;
	r = fn(ssl);
	if (r == 1) {
		*done = 1;
		return 0;
	}
	e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	{
		long vr = SSL_get_verify_result(ssl);
		const char *reason = ERR_reason_error_string(ERR_peek_error());
		snprintf(why, whylen, "%s refused: %s", who, vr != X509_V_OK ?
		    X509_verify_cert_error_string(vr) : reason ? reason : "?");
		ERR_clear_error();
	}
	return -1;
}

/*
 * Handshake a client of service `from` (state sfrom) with the server
 * `to` over a socketpair, the client expecting server name want_server,
 * and the server then checking the client's name want_client.
 * Returns 0 when both sides accept; why says who refused.
 */
static int
hop(const char *sfrom, const char *from, bool client_cert, const char *to,
    const char *want_server, const char *want_client, char *why, size_t whylen)
{
	SSL_CTX *cc = ctx_for(sfrom, from, false, client_cert);
	SSL_CTX *sc = ctx_for(st1, to, true, true);
	SSL *c = NULL, *s = NULL;
	int fds[2] = { -1, -1 }, i, rc = -1, cdone = 0, sdone = 0;

	why[0] = '\0';
	if (cc == NULL || sc == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
		goto out;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	c = tls_client_ssl(cc, NULL, want_server, NULL);
	s = SSL_new(sc);
	SSL_set_fd(c, fds[0]);
	SSL_set_fd(s, fds[1]);
	for (i = 0; i < 200 && !(cdone && sdone); i++) {
		if (step(c, SSL_connect, &cdone, "client", why, whylen) != 0 ||
		    step(s, SSL_accept, &sdone, "server", why, whylen) != 0)
			goto out;
	}
	/* TLS 1.3: the server learns of a refused client certificate only
	 * now; the client learns it at its first read. */
	if (!cdone || !sdone) {
		snprintf(why, whylen, "handshake did not finish");
		goto out;
	}
	if (tls_check_peer(s, want_client, NULL, why, whylen) != 0)
		goto out;
	if (tls_check_peer(c, want_server, NULL, why, whylen) != 0)
		goto out;
	rc = 0;
out:
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cc);
	SSL_CTX_free(sc);
	if (fds[0] >= 0) {
		close(fds[0]);
		close(fds[1]);
	}
	return rc;
}

int
main(void)
{
	char err[256], why[256];
	int r;

	if (mkdtemp(st1) == NULL || mkdtemp(st2) == NULL)
		return 1;
	r = ca_create(st1, "example.org", err, sizeof(err));
	r |= ca_create(st2, "intruder", err, sizeof(err));
	r |= ca_issue(st1, "signer", NULL, 0, 0, err, sizeof(err));
	r |= ca_issue(st1, "relay", NULL, 0, 0, err, sizeof(err));
	r |= ca_issue(st2, "signer", NULL, 0, 0, err, sizeof(err));
	is_int(r, 0, "two CAs and three certificates");

	r = hop(st1, "signer", true, "relay", "relay.internal", "signer.internal", why, sizeof(why));
	ok(r == 0, "signer -> relay: mutual TLS, both names checked %s", why);
	r = hop(st1, "signer", true, "relay", "mx.internal", "signer.internal", why, sizeof(why));
	ok(r != 0, "client expecting mx.internal refuses the relay: %s", why);
	r = hop(st1, "signer", true, "relay", "relay.internal", "spamfilter.internal", why, sizeof(why));
	ok(r != 0, "relay expecting spamfilter.internal refuses the signer: %s", why);
	r = hop(st2, "signer", true, "relay", "relay.internal", "signer.internal", why, sizeof(why));
	ok(r != 0, "a signer certificate from another CA is refused: %s", why);
	r = hop(st1, "signer", false, "relay", "relay.internal", "signer.internal", why, sizeof(why));
	ok(r != 0, "a client without a certificate is refused: %s", why);

	snprintf(err, sizeof(err), "rm -rf %s %s", st1, st2);
	if (system(err) != 0)
		return 1;
	return tap_done();
}
