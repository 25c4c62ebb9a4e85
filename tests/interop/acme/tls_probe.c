/*
 * tls_probe.c - a minimal TLS echo server for the acme interop test: it
 * serves the certificate ptt-acme wrote and, on SIGHUP, reloads it with
 * tls_server_reload() the way the submission and mx daemons do, without
 * closing connections it holds.
 *
 *	tls_probe HOST:PORT CERT KEY PIDFILE
 *
 * Prints "listening", then "reloaded" or "reload failed: ..." per SIGHUP.
 * Each connection gets its lines echoed back. Trusts: nothing it reads
 * (test code on loopback).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "util/net.h"
#include "util/tls.h"

#define MAXC 16

static volatile sig_atomic_t hup;

static void
on_hup(int sig)
{
	hup = 1;
}

int
main(int argc, char **argv)
{
	struct tls_opts o = { NULL, NULL, NULL, false };
	struct pollfd pf[MAXC + 1];
	SSL *ssl[MAXC + 1];
	struct sigaction sa;
	char err[512];
	SSL_CTX *ctx;
	FILE *f;
	int lfd, n = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: tls_probe HOST:PORT CERT KEY PIDFILE\n");
		return 2;
	}
	o.cert_file = argv[2];
	o.key_file = argv[3];
	if ((ctx = tls_server_ctx(&o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if ((lfd = net_listen(argv[1], err, sizeof(err))) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((f = fopen(argv[4], "w")) == NULL || fprintf(f, "%ld\n",
	    (long)getpid()) < 0 || fclose(f) != 0)
		return 1;
	printf("listening\n");
	fflush(stdout);
	pf[0].fd = lfd;
	pf[0].events = POLLIN;
	for (;;) {
		int r = poll(pf, (nfds_t)n, -1);
		if (hup) {
			hup = 0;
			if (tls_server_reload(ctx, NULL, NULL, err, sizeof(err)) == 0)
				printf("reloaded\n");
			else
				printf("reload failed: %s\n", err);
			fflush(stdout);
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return 1;
		if ((pf[0].revents & POLLIN) && n <= MAXC) {
			int fd = accept(lfd, NULL, NULL);
			if (fd >= 0) {
				SSL *s = SSL_new(ctx);
				SSL_set_fd(s, fd);
				if (SSL_accept(s) == 1) {
					pf[n].fd = fd;
					pf[n].events = POLLIN;
					ssl[n++] = s;
				} else {
					SSL_free(s);
					close(fd);
				}
			}
		}
		for (int i = 1; i < n; i++) {
			char buf[512];
			int k;
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			k = SSL_read(ssl[i], buf, sizeof(buf));
			if (k > 0 && SSL_write(ssl[i], buf, k) == k)
				continue;
			SSL_free(ssl[i]);
			close(pf[i].fd);
			pf[i] = pf[n - 1];
			ssl[i] = ssl[n - 1];
			n--;
			i--;
		}
	}
}
