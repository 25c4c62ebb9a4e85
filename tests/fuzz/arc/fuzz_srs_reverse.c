/*
 * fuzz_srs_reverse.c - SRS on arbitrary addresses: srs_reverse() with
 * SHA-1 and SHA-256 settings must never crash or overrun, and whatever
 * srs_forward() accepts must reverse to what it was given (the SRS0
 * prefix's case aside), so the two parsers agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/srs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1795320000

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct srs_secret sec[] = { { "fuzz-secret", 11 } };
	struct srs s1 = { sec, 1, SRS_HMAC_SHA1, 0, 0, 0 };
	struct srs s2 = { sec, 1, SRS_HMAC_SHA256, 27, 5, '+' };
	char addr[600], out[700], back[700];
	int r;

	if (size >= sizeof(addr) || memchr(data, '\0', size) != NULL)
		return 0;
	memcpy(addr, data, size);
	addr[size] = '\0';
	(void)srs_reverse(&s1, addr, NOW, back, sizeof(back));
	(void)srs_reverse(&s2, addr, NOW, back, 16);
	(void)srs_is_srs(addr);
	for (int i = 0; i < 2; i++) {
		const struct srs *s = i ? &s2 : &s1;
		bool was_srs1 = strncasecmp(addr, "SRS1", 4) == 0;
		if (srs_forward(s, addr, "fwd.example", NOW, out, sizeof(out)) != 0 ||
		    strcmp(out, addr) == 0 || was_srs1)
			continue;
		r = srs_reverse(s, out, NOW, back, sizeof(back));
		if (r != 0 || strlen(back) != size || strncasecmp(back, addr, 4) != 0 ||
		    (size > 4 && strcmp(back + 4, addr + 4) != 0))
			abort();
	}
	return 0;
}
