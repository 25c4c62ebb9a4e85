/*
 * cert.c - validity, serial, names and renewal time of a certificate
 * (RFC 5280 4.1.2.2, 4.1.2.5, 4.2.1.6; names matched as RFC 6125 by
 * X509_check_host without partial wildcards).
 * Trusts: OpenSSL's parser for the bytes; nothing else.
 */
#include "acme/cert.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "util/err.h"
#include "util/mem.h"

static time_t
asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

void
acme_cert_info(X509 *x, const char *const *names, size_t n,
    struct acme_cert_info *ci)
{
	GENERAL_NAMES *gens;
	BIGNUM *bn;
	char *hex = NULL;

	memset(ci, 0, sizeof(*ci));
	ci->not_before = asn1_time(X509_get0_notBefore(x));
	ci->not_after = asn1_time(X509_get0_notAfter(x));
	ci->covers = true;
	for (size_t i = 0; i < n; i++)
		if (X509_check_host(x, names[i], 0,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1)
			ci->covers = false;
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) != NULL &&
	    (hex = BN_bn2hex(bn)) != NULL)
		ptt_strlcpy(ci->serial, hex, sizeof(ci->serial));
	OPENSSL_free(hex);
	BN_free(bn);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *s;
		int l;
		if (g->type != GEN_DNS)
			continue;
		s = ASN1_STRING_get0_data(g->d.dNSName);
		l = ASN1_STRING_length(g->d.dNSName);
		if (memchr(s, '\0', (size_t)l) != NULL)
			continue;
		if (ci->names[0] != '\0')
			ptt_strlcat(ci->names, ",", sizeof(ci->names));
		{
			char one[256];
			snprintf(one, sizeof(one), "%.*s", l, (const char *)s);
			ptt_strlcat(ci->names, one, sizeof(ci->names));
		}
	}
	GENERAL_NAMES_free(gens);
	if (X509_NAME_get_text_by_NID(X509_get_issuer_name(x), NID_commonName,
	    ci->issuer, sizeof(ci->issuer)) < 0)
		X509_NAME_oneline(X509_get_issuer_name(x), ci->issuer,
		    sizeof(ci->issuer));
	ERR_clear_error();
}

int
acme_cert_info_fp(FILE *f, const char *const *names, size_t n,
    struct acme_cert_info *ci)
{
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);

	memset(ci, 0, sizeof(*ci));
	if (x == NULL) {
		ERR_clear_error();
		return PTT_EINVAL;
	}
	acme_cert_info(x, names, n, ci);
	X509_free(x);
	return 0;
}

time_t
acme_renew_at(const struct acme_cert_info *ci)
{
	return ci->not_before + (ci->not_after - ci->not_before) / 3 * 2;
}
