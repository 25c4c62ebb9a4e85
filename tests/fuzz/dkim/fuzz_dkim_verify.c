/*
 * fuzz_dkim_verify.c - DKIM verification on arbitrary messages: every
 * DKIM-Signature is parsed, and verified against a fixed RSA key record and
 * against a key record taken from the input's last line, so the tag-list,
 * signature and key-record parsers and the canonicalisers all see hostile
 * bytes.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "auth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fixed =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_verify v;
	char key[512] = "";
	const char *txt[2];
	const uint8_t *nl = size ? memchr(data, '\n', size) : NULL;
	char name[512];

	/* The first line, if short, is a key record too. */
	if (nl != NULL && (size_t)(nl - data) < sizeof(key)) {
		memcpy(key, data, (size_t)(nl - data));
		key[nl - data] = '\0';
	}
	txt[0] = key;
	txt[1] = fixed;
	dkim_verify_begin(&v, (const char *)data, size, 1700000000, 8);
	for (size_t i = 0; i < v.nsig; i++) {
		dkim_key_name(&v, i, name, sizeof(name));
		dkim_verify_key(&v, i, (enum dkim_dns)(i % 3), txt, 2);
		(void)dkim_result_name(v.sig[i].result);
	}
	dkim_verify_end(&v);
	return 0;
}
