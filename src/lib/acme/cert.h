/*
 * cert.h - what renewal needs to know about an issued certificate: its
 * validity, serial, whether it covers a set of names (RFC 6125 matching by
 * OpenSSL), and when it is due: once two thirds of its lifetime have
 * passed (the schedule Let's Encrypt recommends for 90-day certificates).
 * Shared by ptt-acme and `ptt acme`.
 * Trusts: the PEM it is given only as far as OpenSSL parses it.
 */
#ifndef PTT_ACME_CERT_H
#define PTT_ACME_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

struct acme_cert_info {
	time_t not_before, not_after;
	bool covers;			/* every name asked about is in it */
	char serial[80];		/* hex */
	char names[1024];		/* its DNS names, comma-separated */
	char issuer[256];		/* issuer CN (or the whole name) */
};

/* Fill ci from x; names/n: the names it must cover (n may be 0). */
void acme_cert_info(X509 *x, const char *const *names, size_t n,
    struct acme_cert_info *ci);
/* The first certificate of a PEM file (opened by the caller: fd-relative
 * paths work in a sandbox). 0, or PTT_EINVAL when it does not parse. */
int acme_cert_info_fp(FILE *f, const char *const *names, size_t n,
    struct acme_cert_info *ci);
/* When renewal is due: not_before + 2/3 of the lifetime. */
time_t acme_renew_at(const struct acme_cert_info *ci);

#endif
