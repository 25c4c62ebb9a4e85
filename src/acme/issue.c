/*
 * issue.c - one certificate order of ptt-acme, start to finish.
 *
 * Implements RFC 8555 7.4 (order, authorizations, finalize, download) with
 * the dns-01 challenge (RFC 8555 8.4): for each pending authorization the
 * TXT record _acme-challenge.NAME = base64url(SHA-256(key authorization))
 * replaces that name's TXT RRset (so a record left over by an interrupted
 * run goes too; names are never wildcards, so one value per name is all an
 * order needs) through a TSIG-signed RFC 2136 UPDATE to the
 * primary (dns/update.h), the challenge is answered, the authorization is
 * polled (honouring Retry-After) until valid or invalid, and every record
 * added is deleted again, whatever happened. Then a new ECDSA P-256 key
 * and a CSR for all names finalize the order; the chain is downloaded,
 * checked (it must be PEM, its leaf must carry our new key and every
 * name), and written atomically: key first (0600), then the chain (0644),
 * so a reader never finds a chain without its key.
 *
 * Trusts: the ACME server's answers only through acme/msg.h's parsers; the
 * downloaded chain is checked against our key and names, not trusted
 * blindly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon.h"
#include "acme/jws.h"
#include "dns/update.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

int
cert_info_read(const struct acme_ctx *a, struct acme_cert_info *ci)
{
	int fd = openat(a->certs_fd, a->cert_file, O_RDONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	int r;

	memset(ci, 0, sizeof(*ci));
	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		return PTT_ENOENT;
	}
	r = acme_cert_info_fp(f, (const char *const *)a->names, a->nnames, ci);
	fclose(f);
	return r;
}

/*
 * Write name in the certs directory atomically: a temporary file, fsync,
 * rename over name, fsync of the directory. Through the directory's fd, so
 * the sandboxed process needs no path above it.
 */
static int
write_at(struct acme_ctx *a, const char *name, const void *data, size_t len,
    mode_t mode, char *err, size_t errlen)
{
	char tmp[400];
	const char *p = data;
	int fd;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	unlinkat(a->certs_fd, tmp, 0);
	if ((fd = openat(a->certs_fd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, mode)) < 0) {
		snprintf(err, errlen, "%s/%s: %s", a->certs_dir, tmp,
		    strerror(errno));
		return PTT_EIO;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		len -= (size_t)n;
	}
	if (len > 0 || fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s/%s: %s", a->certs_dir, tmp,
		    strerror(errno));
		close(fd);
		unlinkat(a->certs_fd, tmp, 0);
		return PTT_EIO;
	}
	close(fd);
	if (renameat(a->certs_fd, tmp, a->certs_fd, name) != 0 ||
	    fsync(a->certs_fd) != 0) {
		snprintf(err, errlen, "%s/%s: %s", a->certs_dir, name,
		    strerror(errno));
		unlinkat(a->certs_fd, tmp, 0);
		return PTT_EIO;
	}
	return 0;
}

/* ---- DNS-01 records ---- */

struct txt {
	char name[300];		/* _acme-challenge.NAME. */
	char value[64];
};

static int
txt_update(struct acme_ctx *a, int kind, const struct txt *t, char *err,
    size_t errlen)
{
	struct dns_update_req req;
	struct dns_update_res res;
	struct dns_update_op op;
	char rr[512], why[256];
	int r;

	if (kind == DNSU_REPLACE)
		snprintf(rr, sizeof(rr), "%s %lld TXT \"%s\"", t->name,
		    a->cfg->txt_ttl, t->value);
	else
		snprintf(rr, sizeof(rr), "%s TXT \"%s\"", t->name, t->value);
	memset(&req, 0, sizeof(req));
	req.server = a->cfg->dns_primary;
	req.zone = a->zone;
	req.key = &a->tsig;
	req.tcp = a->cfg->dns_tcp;
	op.kind = kind;
	op.rr = rr;
	req.upd = &op;
	req.nupd = 1;
	memset(&res, 0, sizeof(res));
	r = dns_update_send(&req, &res, why, sizeof(why));
	if (r == PTT_ECRYPTO) {
		/* refused, answered unsigned: usually a wrong key */
		snprintf(err, errlen, "update of %s at %s: %s tsig=%s (%s)",
		    t->name, a->cfg->dns_primary, dns_rcode_name(res.rcode),
		    dns_tsig_error_name(res.tsig_error), why);
		return PTT_EPROTO;
	}
	if (r != 0) {
		snprintf(err, errlen, "update of %s at %s: %s", t->name,
		    a->cfg->dns_primary, why);
		return PTT_ETEMP;
	}
	if (res.rcode != 0) {
		snprintf(err, errlen, "update of %s at %s: %s%s%s", t->name,
		    a->cfg->dns_primary, dns_rcode_name(res.rcode),
		    res.tsig_error ? " tsig=" : "", res.tsig_error ?
		    dns_tsig_error_name(res.tsig_error) : "");
		return PTT_EPROTO;
	}
	return 0;
}

static void
sleep_s(long s)
{
	struct timespec ts = { s, 0 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Wait before the next poll: the server's Retry-After, else 1 s; never
 * past the deadline. false when the deadline passed. */
static bool
poll_wait(struct acme_ctx *a, time_t deadline)
{
	long ra = acme_retry_after(a->client), now = (long)time(NULL);

	if (ra <= 0)
		ra = 1;
	if (now >= deadline)
		return false;
	if (now + ra > deadline)
		ra = deadline - now;
	sleep_s(ra);
	return true;
}

/* Poll an authorization until it leaves "pending". */
static int
await_authz(struct acme_ctx *a, const char *url, time_t deadline,
    char *err, size_t errlen)
{
	struct acme_authz az;
	int r;

	for (;;) {
		if ((r = acme_get_authz(a->client, url, &az, err, errlen)) != 0)
			return r;
		if (az.status == ACME_VALID) {
			acme_authz_free(&az);
			return 0;
		}
		if (az.status != ACME_PENDING) {
			const struct acme_challenge *ch =
			    acme_authz_find(&az, "dns-01");
			if (ch != NULL && ch->has_error)
				snprintf(err, errlen, "authorization of %s is %s: "
				    "%s: %s", az.identifier,
				    acme_status_name(az.status), ch->error.type,
				    ch->error.detail);
			else
				snprintf(err, errlen, "authorization of %s is %s",
				    az.identifier, acme_status_name(az.status));
			acme_authz_free(&az);
			return PTT_EPROTO;
		}
		acme_authz_free(&az);
		if (!poll_wait(a, deadline)) {
			snprintf(err, errlen, "authorization %s still pending "
			    "after %llds", url, a->cfg->poll_timeout);
			return PTT_ETEMP;
		}
	}
}

/* Poll the order while it is in state `from`; the new order in o. */
static int
await_order(struct acme_ctx *a, const char *url, enum acme_status from,
    struct acme_order *o, time_t deadline, char *err, size_t errlen)
{
	int r;

	for (;;) {
		if (o->status != from)
			return 0;
		acme_order_free(o);
		if (!poll_wait(a, deadline)) {
			snprintf(err, errlen, "order %s still %s after %llds",
			    url, acme_status_name(from), a->cfg->poll_timeout);
			return PTT_ETEMP;
		}
		if ((r = acme_get_order(a->client, url, o, err, errlen)) != 0)
			return r;
	}
}

static void
order_problem(const struct acme_order *o, const char *what, char *err,
    size_t errlen)
{
	if (o->has_error)
		snprintf(err, errlen, "order %s: %s: %s", what, o->error.type,
		    o->error.detail);
	else
		snprintf(err, errlen, "order %s", what);
}

/* Answer the authorizations of o: publish, respond, await, clean up. */
static int
authorize(struct acme_ctx *a, const struct acme_order *o, time_t deadline,
    char *err, size_t errlen)
{
	struct txt *txt = xcalloc(o->nauthz, sizeof(*txt));
	char **chal = xcalloc(o->nauthz, sizeof(*chal));
	char **pending = xcalloc(o->nauthz, sizeof(*pending));
	char thumb[64];
	size_t ntxt = 0, np = 0;
	int r = 0;

	if (acme_thumbprint(a->account_key, thumb,
	    sizeof(thumb)) != 0) {
		snprintf(err, errlen, "cannot compute the key's thumbprint");
		r = PTT_ECRYPTO;
		goto out;
	}
	for (size_t i = 0; i < o->nauthz && r == 0; i++) {
		struct acme_authz az;
		const struct acme_challenge *ch;

		if ((r = acme_get_authz(a->client, o->authz[i], &az, err,
		    errlen)) != 0)
			break;
		if (az.status == ACME_VALID) {
			log_info(NULL, "authorization of %s is still valid",
			    az.identifier);
			acme_authz_free(&az);
			continue;
		}
		if (az.status != ACME_PENDING ||
		    (ch = acme_authz_find(&az, "dns-01")) == NULL ||
		    ch->token == NULL) {
			snprintf(err, errlen, "authorization of %s is %s without "
			    "a dns-01 challenge to answer", az.identifier,
			    acme_status_name(az.status));
			acme_authz_free(&az);
			r = PTT_EPROTO;
			break;
		}
		snprintf(txt[ntxt].name, sizeof(txt[ntxt].name),
		    "_acme-challenge.%s.", az.identifier);
		if (acme_dns01_value(ch->token, thumb, txt[ntxt].value,
		    sizeof(txt[ntxt].value)) != 0) {
			snprintf(err, errlen, "authorization of %s: the token is "
			    "not base64url", az.identifier);
			acme_authz_free(&az);
			r = PTT_EPROTO;
			break;
		}
		r = txt_update(a, DNSU_REPLACE, &txt[ntxt], err, errlen);
		if (r == 0) {
			log_info(NULL, "published %s TXT for dns-01",
			    txt[ntxt].name);
			ntxt++;
			chal[np] = xstrdup(ch->url);
			pending[np++] = xstrdup(o->authz[i]);
		}
		acme_authz_free(&az);
	}
	if (r == 0 && np > 0 && a->cfg->propagation_wait > 0)
		sleep_s((long)a->cfg->propagation_wait);
	for (size_t i = 0; i < np && r == 0; i++)
		r = acme_respond(a->client, chal[i], err, errlen);
	for (size_t i = 0; i < np && r == 0; i++)
		r = await_authz(a, pending[i], deadline, err, errlen);
out:
	/* remove every record added, whatever happened */
	for (size_t i = 0; i < ntxt; i++) {
		char why[512];
		if (txt_update(a, DNSU_DEL_RR, &txt[i], why, sizeof(why)) != 0)
			log_warn(NULL, "cannot remove %s: %s", txt[i].name, why);
		else
			log_info(NULL, "removed %s TXT", txt[i].name);
	}
	for (size_t i = 0; i < np; i++) {
		free(chal[i]);
		free(pending[i]);
	}
	free(txt);
	free(chal);
	free(pending);
	return r;
}

/* The leaf must carry key and every name. */
static int
check_chain(struct acme_ctx *a, const char *pem, size_t len, EVP_PKEY *key,
    struct acme_cert_info *ci, char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	int r = 0;

	BIO_free(b);
	if (x == NULL) {
		snprintf(err, errlen, "the downloaded chain does not parse");
		return PTT_EPROTO;
	}
	acme_cert_info(x, (const char *const *)a->names, a->nnames, ci);
	if (X509_check_private_key(x, key) != 1) {
		snprintf(err, errlen, "the certificate is not for our key");
		r = PTT_EPROTO;
	} else if (!ci->covers) {
		snprintf(err, errlen, "the certificate lacks some of the names");
		r = PTT_EPROTO;
	} else if (ci->not_after <= ci->not_before) {
		snprintf(err, errlen, "the certificate's validity is empty");
		r = PTT_EPROTO;
	}
	X509_free(x);
	ERR_clear_error();
	return r;
}

int
issue(struct acme_ctx *a, struct acme_cert_info *ci, long *retry_after,
    char *err, size_t errlen)
{
	struct acme_order o;
	char *url = NULL, *pem = NULL;
	size_t pem_len = 0, der_len = 0;
	uint8_t *der = NULL;
	EVP_PKEY *key = NULL;
	struct buf kpem;
	time_t deadline = time(NULL) + (time_t)a->cfg->poll_timeout;
	int r;

	*retry_after = 0;
	memset(&o, 0, sizeof(o));
	buf_init(&kpem, 0);
	if ((r = acme_account(a->client, err, errlen)) != 0)
		goto out;
	if ((r = acme_new_order(a->client, (const char *const *)a->names,
	    a->nnames, &o, &url, err, errlen)) != 0)
		goto out;
	log_info(NULL, "order %s for %zu names is %s", url, a->nnames,
	    acme_status_name(o.status));
	if (o.status == ACME_PENDING) {
		if ((r = authorize(a, &o, deadline, err, errlen)) != 0)
			goto out;
		acme_order_free(&o);
		if ((r = acme_get_order(a->client, url, &o, err, errlen)) != 0 ||
		    (r = await_order(a, url, ACME_PENDING, &o, deadline, err,
		    errlen)) != 0)
			goto out;
	}
	if (o.status != ACME_READY && o.status != ACME_VALID) {
		order_problem(&o, acme_status_name(o.status), err, errlen);
		r = PTT_EPROTO;
		goto out;
	}
	if (o.status == ACME_READY) {
		char *fin = xstrdup(o.finalize);
		if ((key = acme_key_new()) == NULL ||
		    acme_csr(key, (const char *const *)a->names, a->nnames, &der,
		    &der_len) != 0) {
			snprintf(err, errlen, "cannot make a key and CSR");
			free(fin);
			r = PTT_ECRYPTO;
			goto out;
		}
		acme_order_free(&o);
		r = acme_finalize(a->client, fin, der, der_len, &o, err, errlen);
		free(fin);
		if (r != 0 || (r = await_order(a, url, ACME_PROCESSING, &o,
		    deadline, err, errlen)) != 0)
			goto out;
	} else {
		/* valid already: a certificate for a key we do not hold */
		snprintf(err, errlen, "order %s is valid before we finalized it",
		    url);
		r = PTT_EPROTO;
		goto out;
	}
	if (o.status != ACME_VALID || o.certificate == NULL) {
		order_problem(&o, acme_status_name(o.status), err, errlen);
		r = PTT_EPROTO;
		goto out;
	}
	if ((r = acme_download(a->client, o.certificate, &pem, &pem_len, err,
	    errlen)) != 0)
		goto out;
	if ((r = check_chain(a, pem, pem_len, key, ci, err, errlen)) != 0)
		goto out;
	if (acme_key_pem(key, &kpem) != 0) {
		snprintf(err, errlen, "cannot encode the new key");
		r = PTT_ECRYPTO;
		goto out;
	}
	if ((r = write_at(a, a->key_file, kpem.data, kpem.len, 0600, err,
	    errlen)) != 0 || (r = write_at(a, a->cert_file, pem, pem_len, 0644,
	    err, errlen)) != 0)
		goto out;
out:
	if (r != 0)
		*retry_after = acme_retry_after(a->client);
	ptt_memzero(kpem.data, kpem.len);
	buf_free(&kpem);
	acme_order_free(&o);
	EVP_PKEY_free(key);
	free(url);
	free(pem);
	free(der);
	return r;
}
