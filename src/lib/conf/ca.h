/*
 * ca.h - the internal CA: every internal hop (submission -> signer ->
 * relay, mx -> spamfilter -> relay, DNS over TLS to the resolver) is mutual
 * TLS with certificates from this CA (RFC 5280 profiles), each naming its
 * service as DNS:<service>.internal. See docs/internal-tls.md.
 *
 * Files in the state directory (state.h):
 *	ca/ca.key (0600) ca/ca.pem	the CA: EC P-256, CA_DAYS, pathlen 0
 *	tls/<service>.key (0600)	a service's private key (EC P-256)
 *	tls/<service>.pem		its certificate: CA_CERT_DAYS, random
 *					128-bit serial, serverAuth+clientAuth
 *
 * Trusts: the state directory (the CA key is refused when others can read
 * it). Built with the OpenSSL 3 API, not the openssl command.
 */
#ifndef PTT_CONF_CA_H
#define PTT_CONF_CA_H

#include <stdbool.h>
#include <stddef.h>

#define CA_DAYS 3650		/* the CA certificate: 10 years */
#define CA_CERT_DAYS 90		/* a service certificate */
#define CA_EXTRA_MAX 16		/* extra names per certificate */

/* The services that get a certificate at `ptt init` (NULL-terminated). */
extern const char *const ca_services[];

/* Absolute-or-relative paths (state + "/ca/ca.pem" etc.). 0 or PTT_ENOSPC /
 * PTT_EINVAL (bad service name: want [a-z0-9-]+). */
int ca_cafile_path(const char *state, char *out, size_t outlen);
int ca_cert_paths(const char *state, const char *service, char *cert,
    size_t certlen, char *key, size_t keylen);

/*
 * Create the CA in state (label goes into its subject, e.g. the domain).
 * PTT_EEXIST when ca/ca.key exists already. 0 or a PTT_E* code with err.
 */
int ca_create(const char *state, const char *label, char *err, size_t errlen);
/* Create the CA unless it exists; *created tells which. */
int ca_ensure(const char *state, const char *label, bool *created, char *err,
    size_t errlen);

/*
 * Issue a new key and certificate for service, with subjectAltName
 * DNS:<service>.internal plus each extra name (an IPv4/IPv6 literal becomes
 * an IP entry, anything else must be a DNS name), valid for days (0:
 * CA_CERT_DAYS). The key is written before the certificate.
 */
int ca_issue(const char *state, const char *service, const char *const *extra,
    size_t nextra, unsigned days, char *err, size_t errlen);

/*
 * Issue (as ca_issue) unless a certificate is there that the current CA
 * signed, that matches its key, that names exactly the wanted names, and
 * that has at least a third of its lifetime left. *issued tells whether a
 * new one was made. Services call this at start and daily.
 */
int ca_ensure_cert(const char *state, const char *service,
    const char *const *extra, size_t nextra, unsigned days, bool *issued,
    char *err, size_t errlen);

#endif
