/*
 * fuzz_acme_msg.c - every parser of what an ACME server sends (acme/msg.h):
 * directory, order, authorization and problem documents, with and without
 * allow_http, and Retry-After on the same bytes. The answers of a real CA
 * come from the network, so none of them may crash, hang or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acme/msg.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char err[256], *z;
	struct acme_directory d;
	struct acme_order o;
	struct acme_authz a;
	struct acme_problem p;

	for (int http = 0; http < 2; http++) {
		acme_parse_directory(s, size, http, &d, err, sizeof(err));
		acme_directory_free(&d);
		acme_parse_order(s, size, http, &o, err, sizeof(err));
		acme_order_free(&o);
		if (acme_parse_authz(s, size, http, &a, err, sizeof(err)) == 0)
			(void)acme_authz_find(&a, "dns-01");
		acme_authz_free(&a);
	}
	acme_parse_problem(s, size, &p);
	z = xmemdup(data, size);	/* NUL-terminated for header values */
	(void)acme_parse_retry_after(z, 1700000000);
	(void)acme_url_ok(z, false);
	(void)acme_status_parse(z);
	free(z);
	return 0;
}
