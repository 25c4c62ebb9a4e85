/*
 * test_server.c - the SMTP server state machine (smtp/server.h), driven
 * through a socketpair on an in-process event loop: greeting, 503s for bad
 * sequences, pipelined commands answered strictly in order while an
 * asynchronous hook is pending, the errors-per-session limit, line limits,
 * bare CR/LF, DATA smuggling refused as a whole, BDAT chunks (consumed
 * even when refused), SIZE, recipient limit, AUTH PLAIN/LOGIN, STARTTLS
 * with pipelined plaintext discarded, graceful shutdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "../tap.h"
#include "smtp/server.h"
#include "util/log.h"
#include "util/mem.h"

static struct event_base *base;
static struct smtp_server *srv;
static int cfd = -1;
static SSL *cssl;

/* hook state */
static struct smtp_session *deferred;	/* rcpt hook waiting for the test */
static int nmessages;
static char last_msg[4096];
static char last_proto[32];
static char last_user[64];
static int resets;
static int reject_connect;
static int reject_data;
static int refuse_tls;
static int forbid_mail;
static int nmessages_before_forbid;

static bool
h_tls(struct smtp_session *s, SSL *ssl)
{
	(void)s;
	return ssl != NULL && !refuse_tls;
}

static void
h_data(struct smtp_session *s)
{
	if (reject_data)
		smtp_session_reply(s, 451, "4.7.1", "not now");
	else
		smtp_session_reply(s, 354, NULL, "go");
}

static void
h_connect(struct smtp_session *s)
{
	if (forbid_mail)
		smtp_session_forbid_mail(s);
	if (reject_connect)
		smtp_session_reply(s, 554, "5.7.1", "go away");
	else
		smtp_session_reply(s, 220, NULL, "hello");
}

static void
h_rcpt(struct smtp_session *s, const struct smtp_path *to,
    const struct smtp_rcpt_params *p)
{
	(void)p;
	if (strncmp(to->addr, "slow@", 5) == 0) {
		deferred = s;	/* answer later, from the test */
		return;
	}
	if (strncmp(to->addr, "bye@", 4) == 0) {
		smtp_session_reply(s, 421, "4.3.2", "shutting down");
		return;
	}
	if (strncmp(to->addr, "bad@", 4) == 0) {
		smtp_session_reply(s, 550, "5.1.1", "No such user");
		return;
	}
	smtp_session_reply(s, 250, "2.1.5", "OK");
}

static void
h_auth(struct smtp_session *s, const char *authzid, const char *user,
    const char *pass)
{
	(void)authzid;
	if (strcmp(user, "user") == 0 && strcmp(pass, "pass") == 0)
		smtp_session_reply(s, 235, "2.7.0", "ok");
	else
		smtp_session_reply(s, 535, "5.7.8", "bad");
}

static void
h_message(struct smtp_session *s, const struct smtp_envelope *env,
    const uint8_t *msg, size_t len)
{
	const struct smtp_session_info *in = smtp_session_info(s);

	(void)env;
	nmessages++;
	if (len >= sizeof(last_msg))
		len = sizeof(last_msg) - 1;
	memcpy(last_msg, msg, len);
	last_msg[len] = '\0';
	ptt_strlcpy(last_proto, in->proto, sizeof(last_proto));
	ptt_strlcpy(last_user, in->auth_user ? in->auth_user : "", sizeof(last_user));
	smtp_session_reply(s, 250, "2.0.0", "queued");
}

static void
h_reset(struct smtp_session *s)
{
	(void)s;
	resets++;
}

/* ---- the client side ---- */

static void
pump(void)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

static void
csend(const char *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w;
		if (cssl != NULL) {
			int r = SSL_write(cssl, p + off, (int)(n - off));
			w = r > 0 ? r : -1;
		} else
			w = write(cfd, p + off, n - off);
		if (w > 0)
			off += (size_t)w;
		else
			pump();
	}
	pump();
}

static void
sends(const char *s)
{
	csend(s, strlen(s));
}

static long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static int eof_seen;

/* Read until `want` final reply lines arrived (or ms passed). */
static char *
replies(int want, long ms)
{
	static char acc[16384];
	size_t len = 0;
	long end = now_ms() + ms;
	int finals = 0;

	acc[0] = '\0';
	eof_seen = 0;
	while (finals < want && now_ms() < end) {
		char tmp[4096];
		ssize_t r;

		pump();
		if (cssl != NULL) {
			int k = SSL_read(cssl, tmp, sizeof(tmp));
			r = k > 0 ? k : (SSL_get_error(cssl, k) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
		} else
			r = read(cfd, tmp, sizeof(tmp));
		if (r == 0) {
			eof_seen = 1;
			break;
		}
		if (r < 0) {
			usleep(500);
			continue;
		}
		if (len + (size_t)r >= sizeof(acc))
			r = (ssize_t)(sizeof(acc) - len - 1);
		memcpy(acc + len, tmp, (size_t)r);
		len += (size_t)r;
		acc[len] = '\0';
		finals = 0;
		for (char *l = acc; *l; ) {
			char *nl = strstr(l, "\r\n");
			if (nl == NULL)
				break;
			if (nl - l >= 4 && l[3] == ' ')
				finals++;
			l = nl + 2;
		}
	}
	return acc;
}

/* Lines' reply codes, "250 250 354". */
static const char *
codes(const char *text)
{
	static char out[512];
	size_t n = 0;
	const char *l = text;

	out[0] = '\0';
	while (*l && n + 5 < sizeof(out)) {
		const char *nl = strstr(l, "\r\n");
		if (nl == NULL)
			break;
		if (nl - l >= 4 && l[3] == ' ') {
			if (n)
				out[n++] = ' ';
			memcpy(out + n, l, 3);
			n += 3;
			out[n] = '\0';
		}
		l = nl + 2;
	}
	return out;
}

static void
connect_client(bool implicit_tls)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		fatal("socketpair");
	cfd = sv[0];
	fcntl(cfd, F_SETFL, O_NONBLOCK);
	smtp_server_serve_fd(srv, sv[1], NULL, 0, implicit_tls);
}

static void
disconnect_client(void)
{
	if (cssl != NULL) {
		SSL_free(cssl);
		cssl = NULL;
	}
	if (cfd >= 0)
		close(cfd);
	cfd = -1;
	for (int i = 0; i < 50 && smtp_server_sessions(srv) > 0; i++) {
		pump();
		usleep(1000);
	}
}

static void
new_server(struct smtp_server_config *cfg)
{
	struct smtp_hooks h = {
		.connect = h_connect, .rcpt = h_rcpt, .auth = h_auth, .data = h_data,
		.tls = h_tls,
		.message = h_message, .reset = h_reset,
	};

	if (srv != NULL)
		smtp_server_free(srv);
	if (cfg->hostname == NULL)
		cfg->hostname = "mx.test";
	srv = smtp_server_new(base, cfg, &h, NULL);
}

/* A session that said EHLO. */
static void
session(void)
{
	connect_client(false);
	replies(1, 2000);
	sends("EHLO client.test\r\n");
	replies(1, 2000);
}

/* ---- a throwaway certificate ---- */

static SSL_CTX *
server_ctx(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"mx.test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_sign(x, k, EVP_sha256());
	SSL_CTX_use_certificate(ctx, x);
	SSL_CTX_use_PrivateKey(ctx, k);
	X509_free(x);
	EVP_PKEY_free(k);
	return ctx;
}

static int
client_handshake(void)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	long end = now_ms() + 3000;
	int r;

	cssl = SSL_new(cctx);
	SSL_CTX_free(cctx);
	SSL_set_fd(cssl, cfd);
	while ((r = SSL_connect(cssl)) != 1 && now_ms() < end) {
		int e = SSL_get_error(cssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return 0;
		pump();
		usleep(200);
	}
	return r == 1;
}

/* ---- tests ---- */

static void
t_basics(void)
{
	struct smtp_server_config cfg = { 0 };
	const char *r;

	new_server(&cfg);
	connect_client(false);
	r = replies(1, 2000);
	ok(strncmp(r, "220 mx.test ESMTP", 17) == 0, "greeting: %s", r);
	sends("MAIL FROM:<a@b.test>\r\n");
	r = replies(1, 2000);
	is_str(r, "503 5.5.1 Send EHLO or HELO first\r\n", "MAIL before EHLO");
	sends("RCPT TO:<a@b.test>\r\n");
	is_str(codes(replies(1, 2000)), "503", "RCPT before MAIL");
	sends("DATA\r\n");
	is_str(codes(replies(1, 2000)), "503", "DATA before MAIL");
	sends("EHLO client.test\r\n");
	r = replies(1, 2000);
	ok(strstr(r, "250-PIPELINING\r\n") && strstr(r, "250-SIZE 10485760\r\n") &&
	    strstr(r, "250-8BITMIME\r\n") && strstr(r, "250-SMTPUTF8\r\n") &&
	    strstr(r, "250-ENHANCEDSTATUSCODES\r\n") && strstr(r, "250-CHUNKING\r\n") &&
	    strstr(r, "250 DSN\r\n") && !strstr(r, "STARTTLS") && !strstr(r, "AUTH"),
	    "EHLO lists the extensions");
	sends("MAIL FROM:<a@b.test>\r\nDATA\r\n");
	is_str(codes(replies(2, 2000)), "250 554", "DATA without RCPT");
	sends("MAIL FROM:<c@b.test>\r\n");
	is_str(codes(replies(1, 2000)), "503", "nested MAIL");
	sends("RSET\r\nVRFY x\r\nEXPN y\r\nHELP\r\nNOOP\r\nFOO\r\n");
	is_str(codes(replies(6, 2000)), "250 252 502 214 250 500", "RSET VRFY EXPN HELP NOOP unknown");
	sends("STARTTLS\r\n");
	is_str(codes(replies(1, 2000)), "502", "STARTTLS not offered");
	sends("AUTH PLAIN\r\n");
	is_str(codes(replies(1, 2000)), "502", "AUTH not offered");
	sends("BDAT 5\r\nhelloNOOP\r\n");
	is_str(codes(replies(2, 2000)), "503 250", "BDAT without MAIL consumes its chunk");
	sends("MAIL FROM:<a@b.test> SIZE=99999999999\r\n");
	is_str(replies(1, 2000), "552 5.3.4 Message size exceeds fixed maximum message size\r\n", "SIZE too big");
	sends("MAIL FROM:<j\xc3\xb6rg@b.test>\r\n");
	is_str(codes(replies(1, 2000)), "553", "UTF-8 sender without SMTPUTF8");
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<j\xc3\xb6rg@b.test>\r\nRSET\r\n");
	is_str(codes(replies(3, 2000)), "250 553 250", "UTF-8 rcpt in a non-SMTPUTF8 transaction");
	sends("MAIL FROM:<a@b.test> SMTPUTF8\r\nRCPT TO:<j\xc3\xb6rg@b.test>\r\nRSET\r\n");
	is_str(codes(replies(3, 2000)), "250 250 250", "UTF-8 rcpt with SMTPUTF8");
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nBDAT 3\r\nabcDATA\r\nRSET\r\n");
	is_str(codes(replies(5, 2000)), "250 250 250 503 250", "DATA after BDAT");
	sends("QUIT\r\n");
	r = replies(1, 2000);
	is_str(r, "221 2.0.0 Bye\r\n", "QUIT");
	replies(1, 300);
	ok(eof_seen, "closed after QUIT");
	disconnect_client();
	is_int(smtp_server_sessions(srv), 0, "session freed");
}

static void
t_pipelining(void)
{
	struct smtp_server_config cfg = { 0 };
	const char *r;

	new_server(&cfg);
	session();
	deferred = NULL;
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<slow@b.test>\r\nRCPT TO:<bad@b.test>\r\n"
	    "RCPT TO:<ok@b.test>\r\nDATA\r\n");
	r = replies(5, 300);
	is_str(codes(r), "250", "only MAIL answered while the RCPT hook is pending");
	ok(deferred != NULL, "hook called");
	r = replies(5, 200);
	is_str(r, "", "still nothing: later commands not executed");
	smtp_session_reply(deferred, 451, "4.3.0", "try later");
	r = replies(3, 2000);
	is_str(codes(r), "451 550 250 354", "then answered in order");
	sends("Subject: t\r\n\r\nbody\r\n.\r\n");
	r = replies(1, 2000);
	is_str(codes(r), "250", "message accepted");
	is_str(last_msg, "Subject: t\r\n\r\nbody\r\n", "message bytes");
	is_str(last_proto, "ESMTP", "proto keyword");
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<bye@b.test>\r\nNOOP\r\n");
	r = replies(3, 1000);
	is_str(codes(r), "250 421", "a hook's 421 ends the session");
	ok(eof_seen || (replies(1, 300), eof_seen), "closed after the hook's 421");
	disconnect_client();
	session();

	/* async answer after the client has gone */
	deferred = NULL;
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<slow@b.test>\r\n");
	replies(1, 200);
	close(cfd);
	cfd = -1;
	for (int i = 0; i < 20; i++) {
		pump();
		usleep(1000);
	}
	ok(deferred != NULL, "hook pending");
	is_int(smtp_server_sessions(srv), 1, "session kept while the hook is pending");
	smtp_session_reply(deferred, 250, NULL, "late");
	for (int i = 0; i < 50 && smtp_server_sessions(srv) > 0; i++) {
		pump();
		usleep(1000);
	}
	is_int(smtp_server_sessions(srv), 0, "freed after the late answer");
}

static void
t_errors(void)
{
	struct smtp_server_config cfg = { .max_errors = 3, .max_rcpts = 2 };
	char line[1100];
	const char *r;

	new_server(&cfg);
	session();
	memset(line, 'x', sizeof(line));
	memcpy(line + 1000, "\r\n", 3);
	sends(line);
	r = replies(1, 2000);
	is_str(r, "500 5.5.2 Line too long\r\n", "over-long line");
	sends("NOOP\n");
	r = replies(1, 2000);
	is_str(codes(r), "500", "bare LF command");
	ok(strstr(r, "5.5.2") != NULL, "5.5.2");
	sends("NOOP\r\n");
	is_str(codes(replies(1, 2000)), "250", "session goes on");
	sends("BOGUS\r\n");
	r = replies(2, 2000);
	is_str(codes(r), "500 421", "third error: 421");
	replies(1, 300);
	ok(eof_seen, "closed");
	disconnect_client();

	session();
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<1@b.test>\r\nRCPT TO:<2@b.test>\r\nRCPT TO:<3@b.test>\r\n");
	r = replies(4, 2000);
	is_str(codes(r), "250 250 250 452", "too many recipients");
	ok(strstr(r, "452 4.5.3") != NULL, "4.5.3");
	disconnect_client();

	/* a line without LF, longer than any limit, then its end */
	session();
	{
		char *big = xmalloc(20001);
		memset(big, 'y', 20000);
		big[20000] = '\0';
		sends(big);
		sends("\r\nNOOP\r\n");
		free(big);
	}
	is_str(codes(replies(2, 2000)), "500 250", "huge line refused once, then on");
	disconnect_client();
}

static void
t_smuggling(void)
{
	struct smtp_server_config cfg = { 0 };
	const char *r;
	int before;
	static const char *const variants[] = {
		"a\n.\nMAIL FROM:<evil@x.test>\nRCPT TO:<v@x.test>\nDATA\nevil\n.\n",
		"a\r.\rMAIL FROM:<evil@x.test>\r\n",
		"a\n.\r\nMAIL FROM:<evil@x.test>\r\n",
		"a\r\n.\nMAIL FROM:<evil@x.test>\r\n",
		"a\r\n.\rMAIL FROM:<evil@x.test>\r\n",
		"a\r.\r\nMAIL FROM:<evil@x.test>\r\n",
	};
	size_t i;

	new_server(&cfg);
	session();
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		before = nmessages;
		sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nDATA\r\n");
		replies(3, 2000);
		sends(variants[i]);
		r = replies(1, 200);
		is_str(r, "", "variant %zu: no end of data yet", i);
		sends("tail\r\n.\r\n");
		r = replies(1, 2000);
		is_str(r, "554 5.6.0 Message contains bare CR or LF; refused\r\n",
		    "variant %zu refused at the real end", i);
		is_int(nmessages, before, "variant %zu: no message delivered", i);
		sends("NOOP\r\n");
		is_str(codes(replies(1, 2000)), "250", "variant %zu: session continues", i);
	}
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nDATA\r\n");
	replies(3, 2000);
	sends("..dot\r\nclean\r\n.\r\n");
	is_str(codes(replies(1, 2000)), "250", "clean message accepted");
	is_str(last_msg, ".dot\r\nclean\r\n", "dot-unstuffed");
	disconnect_client();
}

static void
t_bdat(void)
{
	struct smtp_server_config cfg = { .max_size = 100 };
	const char *r;

	new_server(&cfg);
	session();
	sends("MAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<c@b.test>\r\nDATA\r\nRSET\r\n");
	is_str(codes(replies(4, 2000)), "250 250 503 250", "BINARYMIME needs BDAT");
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nBDAT 3\r\nhel");
	r = replies(3, 2000);
	is_str(codes(r), "250 250 250", "first chunk");
	ok(strstr(r, "250 2.0.0 3 octets received") != NULL, "octets text");
	sends("BDAT 4 LAST\r\nlo\r\n");
	is_str(codes(replies(1, 2000)), "250", "last chunk");
	is_str(last_msg, "hello\r\n", "message assembled");
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nBDAT 0 LAST\r\n");
	is_str(codes(replies(3, 2000)), "250 250 250", "BDAT 0 LAST");
	is_str(last_msg, "", "empty message");
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nBDAT 5 LAST\r\na\nb\r\n");
	is_str(codes(replies(3, 2000)), "250 250 554", "bare LF in BDAT refused");
	sends("MAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<c@b.test>\r\nBDAT 4 LAST\r\n");
	csend("a\nb\0", 4);
	is_str(codes(replies(3, 2000)), "250 250 250", "BINARYMIME keeps bytes");
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nBDAT 150\r\n");
	{
		char big[150];
		memset(big, 'z', sizeof(big));
		csend(big, sizeof(big));
	}
	sends("BDAT 1 LAST\r\nx");
	is_str(codes(replies(4, 2000)), "250 250 552 503", "oversized chunk refused, transaction over");
	sends("NOOP\r\n");
	is_str(codes(replies(1, 2000)), "250", "in sync after refused chunks");
	reject_data = 1;
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nBDAT 3\r\nabcNOOP\r\n");
	r = replies(4, 2000);
	is_str(codes(r), "250 250 451 250", "data hook refuses BDAT after its chunk");
	ok(strstr(r, "451 4.7.1 not now") != NULL, "the hook's reply");
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nDATA\r\nNOOP\r\n");
	is_str(codes(replies(4, 2000)), "250 250 451 250", "data hook refuses DATA");
	reject_data = 0;
	disconnect_client();
}

static void
t_auth(void)
{
	struct smtp_server_config cfg = { .auth = true, .auth_plaintext = true,
		.require_auth = true };
	const char *r;

	new_server(&cfg);
	session();
	sends("MAIL FROM:<a@b.test>\r\n");
	r = replies(1, 2000);
	is_str(r, "530 5.7.0 Authentication required\r\n", "MAIL needs AUTH");
	sends("AUTH CRAM-MD5\r\n");
	is_str(codes(replies(1, 2000)), "504", "unknown mechanism");
	sends("AUTH PLAIN\r\n");
	r = replies(1, 2000);
	is_str(r, "334 \r\n", "empty challenge");
	sends("*\r\n");
	is_str(replies(1, 2000), "501 5.0.0 Authentication cancelled\r\n", "cancel");
	sends("AUTH PLAIN AHVzZXIAd3Jvbmc=\r\n");
	is_str(codes(replies(1, 2000)), "535", "wrong password");
	sends("AUTH LOGIN\r\n");
	is_str(replies(1, 2000), "334 VXNlcm5hbWU6\r\n", "Username:");
	sends("dXNlcg==\r\n");
	is_str(replies(1, 2000), "334 UGFzc3dvcmQ6\r\n", "Password:");
	sends("cGFzcw==\r\n");
	is_str(replies(1, 2000), "235 2.7.0 Authentication successful\r\n", "LOGIN ok");
	sends("AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
	is_str(codes(replies(1, 2000)), "503", "AUTH twice");
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nDATA\r\n");
	replies(3, 2000);
	sends("x\r\n.\r\n");
	replies(1, 2000);
	is_str(last_proto, "ESMTPA", "ESMTPA");
	is_str(last_user, "user", "auth identity exposed");
	disconnect_client();

	cfg.auth_plaintext = false;
	new_server(&cfg);
	session();
	sends("AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
	is_str(codes(replies(1, 2000)), "538", "no AUTH before TLS");
	disconnect_client();
}

static void
t_starttls(void)
{
	SSL_CTX *ctx = server_ctx();
	struct smtp_server_config cfg = { .tls = ctx, .starttls = true,
		.require_tls = true, .auth = true };
	const char *r;

	new_server(&cfg);
	session();
	sends("MAIL FROM:<a@b.test>\r\n");
	is_str(replies(1, 2000), "530 5.7.0 Must issue a STARTTLS command first\r\n", "TLS required");
	sends("STARTTLS\r\nRSET\r\n");
	r = replies(2, 500);
	is_str(r, "220 2.0.0 Ready to start TLS\r\n", "only the 220 in plaintext");
	ok(client_handshake(), "TLS handshake");
	sends("HELP\r\n");
	r = replies(1, 2000);
	is_str(codes(r), "214", "the pipelined RSET was discarded, not executed");
	sends("MAIL FROM:<a@b.test>\r\n");
	is_str(codes(replies(1, 2000)), "503", "HELO forgotten after STARTTLS");
	sends("EHLO client.test\r\n");
	r = replies(1, 2000);
	ok(strstr(r, "250 AUTH PLAIN LOGIN\r\n") != NULL && strstr(r, "STARTTLS") == NULL,
	    "after TLS: AUTH offered, STARTTLS not");
	sends("STARTTLS\r\n");
	is_str(codes(replies(1, 2000)), "503", "STARTTLS twice");
	sends("AUTH PLAIN AHVzZXIAcGFzcw==\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nDATA\r\n");
	is_str(codes(replies(4, 2000)), "235 250 250 354", "AUTH and a transaction over TLS");
	sends("hi\r\n.\r\n");
	replies(1, 2000);
	is_str(last_proto, "ESMTPSA", "ESMTPSA");
	disconnect_client();

	/* implicit TLS */
	connect_client(true);
	ok(client_handshake(), "implicit TLS handshake");
	r = replies(1, 2000);
	is_str(codes(r), "220", "greeting over TLS");
	sends("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nDATA\r\n");
	is_str(codes(replies(4, 2000)), "250 250 250 354", "transaction over implicit TLS");
	sends("hi\r\n.\r\n");
	replies(1, 2000);
	is_str(last_proto, "ESMTPS", "ESMTPS");
	disconnect_client();

	refuse_tls = 1;
	connect_client(true);
	ok(client_handshake(), "handshake before the tls hook says no");
	r = replies(1, 2000);
	is_str(r, "421 4.7.0 TLS peer not accepted, closing connection\r\n", "tls hook refusal: 421");
	refuse_tls = 0;
	disconnect_client();
	smtp_server_free(srv);
	srv = NULL;
	SSL_CTX_free(ctx);
}

static void
t_limits(void)
{
	struct smtp_server_config cfg = { .timeout_cmd = 1, .timeout_hook = 1,
		.max_sessions = 1 };
	const char *r;

	new_server(&cfg);
	reject_connect = 1;
	connect_client(false);
	r = replies(1, 2000);
	is_str(r, "554 5.7.1 go away\r\n", "connect hook refuses with 554");
	replies(1, 300);
	ok(eof_seen, "and closes");
	disconnect_client();
	reject_connect = 0;

	session();
	r = replies(1, 3000);
	is_str(r, "421 4.4.2 Timeout exceeded, closing connection\r\n", "idle timeout: 421 4.4.2");
	replies(1, 300);
	ok(eof_seen, "closed after the timeout");
	disconnect_client();

	session();
	{
		int keep = cfd;
		connect_client(false);
		r = replies(1, 2000);
		is_str(codes(r), "421", "second session over max_sessions: 421");
		ok(strstr(r, "4.3.2") != NULL, "4.3.2");
		close(cfd);
		cfd = keep;
	}
	deferred = NULL;
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<slow@b.test>\r\n");
	r = replies(2, 3000);
	is_str(codes(r), "250 421", "hook that never answers: 421 after timeout_hook");
	ok(deferred != NULL, "hook was pending");
	is_int(smtp_server_sessions(srv), 1, "session kept for the hook");
	smtp_session_reply(deferred, 250, NULL, "too late");
	for (int i = 0; i < 50 && smtp_server_sessions(srv) > 0; i++) {
		pump();
		usleep(1000);
	}
	is_int(smtp_server_sessions(srv), 0, "freed once the hook answered");
	disconnect_client();
}

/* A message far larger than one read: many evbuffer chains at once. */
static void
t_big(void)
{
	struct smtp_server_config cfg = { 0 };
	size_t n = 3000000, i;
	char *big = xmalloc(n + 3);

	new_server(&cfg);
	session();
	for (i = 0; i < n; i += 100) {
		memset(big + i, 'b', 98);
		big[i + 98] = '\r';
		big[i + 99] = '\n';
	}
	memcpy(big + n, ".\r\n", 3);
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nDATA\r\n");
	replies(3, 2000);
	nmessages = 0;
	csend(big, n + 3);
	is_str(codes(replies(1, 5000)), "250", "3 MB message accepted");
	is_int(nmessages, 1, "delivered once");
	is_int(strlen(last_msg), sizeof(last_msg) - 1, "hook saw the bytes");
	free(big);
	disconnect_client();
}

static void
t_ext_disable(void)
{
	struct smtp_server_config cfg = { .ext_disable = SMTP_EXT_ENHANCED |
		SMTP_EXT_CHUNKING | SMTP_EXT_DSN | SMTP_EXT_SMTPUTF8 };
	const char *r;

	new_server(&cfg);
	connect_client(false);
	replies(1, 2000);
	sends("MAIL FROM:<a@b.test>\r\n");
	is_str(replies(1, 2000), "503 Send EHLO or HELO first\r\n", "no enhanced codes when disabled");
	sends("EHLO c.test\r\n");
	r = replies(1, 2000);
	ok(!strstr(r, "CHUNKING") && !strstr(r, "BINARYMIME") && !strstr(r, "DSN") &&
	    !strstr(r, "SMTPUTF8") && !strstr(r, "ENHANCED") && strstr(r, "PIPELINING"),
	    "disabled extensions not listed");
	sends("MAIL FROM:<a@b.test> RET=FULL\r\nBDAT 1\r\nx");
	is_str(codes(replies(2, 2000)), "555 502", "their parameters and commands refused");
	sends("HELO c.test\r\nMAIL FROM:<a@b.test> SIZE=10\r\n");
	is_str(codes(replies(2, 2000)), "250 555", "no ESMTP parameters after HELO");
	disconnect_client();
}

/* A peer that may only look (a supervisor's health check). */
static void
t_forbid_mail(void)
{
	struct smtp_server_config cfg = { 0 };

	new_server(&cfg);
	nmessages_before_forbid = nmessages;
	forbid_mail = 1;
	session();
	sends("NOOP\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nRSET\r\nQUIT\r\n");
	is_str(codes(replies(5, 2000)), "250 550 503 250 221",
	    "forbid_mail: NOOP, RSET and QUIT served, MAIL 550, so no RCPT");
	disconnect_client();
	forbid_mail = 0;
	ok(nmessages_before_forbid == nmessages, "and no message");
}

static int shut_done;
static void on_done(void *arg) { (void)arg; shut_done = 1; }

static void
t_shutdown(void)
{
	struct smtp_server_config cfg = { 0 };
	const char *r;

	cfg.timeout_drain = 1;
	new_server(&cfg);
	session();
	smtp_server_shutdown(srv, on_done, NULL);
	r = replies(1, 200);
	is_str(r, "", "an idle session is not cut off at once");
	r = replies(1, 3000);
	is_str(r, "421 4.3.2 Service shutting down, closing connection\r\n",
	    "idle for timeout_drain: 421");
	replies(1, 300);
	ok(eof_seen, "closed");
	disconnect_client();
	ok(shut_done, "shutdown done callback");

	/* a session between commands (say just after AUTH) still gets one
	 * message through, then 421 at its next MAIL */
	shut_done = 0;
	new_server(&cfg);
	session();
	smtp_server_shutdown(srv, on_done, NULL);
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nDATA\r\n");
	is_str(codes(replies(3, 2000)), "250 250 354", "a transaction begun while draining is served");
	sends("hello\r\n.\r\nNOOP\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\n");
	r = replies(3, 2000);
	is_str(codes(r), "250 250 421", "message accepted, NOOP too, 421 at the next MAIL");
	replies(1, 300);
	ok(eof_seen, "closed (the pipelined RCPT read and dropped, no reset)");
	disconnect_client();
	ok(shut_done, "done once that session ended");

	/* a session inside DATA finishes its message, then gets 421 */
	shut_done = 0;
	new_server(&cfg);
	session();
	sends("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@b.test>\r\nDATA\r\nfirst part\r\n");
	replies(3, 2000);
	smtp_server_shutdown(srv, on_done, NULL);
	r = replies(1, 200);
	is_str(r, "", "busy session not interrupted");
	sends(".\r\nMAIL FROM:<a@b.test>\r\n");
	r = replies(2, 2000);
	is_str(codes(r), "250 421", "message accepted, then 421 at the next MAIL");
	replies(1, 300);
	ok(eof_seen, "closed");
	disconnect_client();
	ok(shut_done, "done once the busy session ended");
}

int
main(void)
{
	log_init("test_server");
	log_set_level(LOG_LVL_WARN);
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	t_basics();
	t_pipelining();
	t_errors();
	t_smuggling();
	t_bdat();
	t_auth();
	t_starttls();
	t_limits();
	t_forbid_mail();
	t_ext_disable();
	t_big();
	t_shutdown();
	smtp_server_free(srv);
	event_base_free(base);
	(void)resets;
	return tap_done();
}
