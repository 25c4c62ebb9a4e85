/*
 * fuzz_dkim_rotate.c - the two parsers of DKIM key rotation
 * (src/signer/rotate.h) on arbitrary bytes: the repository's dkim/<domain>
 * intent file and the signer's state file. A state file that parses must
 * format back to text that parses to the same keys; every selector
 * accepted must pass dkr_selector_valid.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signer/rotate.h"
#include "util/buf.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkr_want *w = NULL;
	struct dkr_key *k = NULL, *k2 = NULL;
	struct dkr_set s;
	size_t nw = 0, nk = 0, nk2 = 0;
	char err[256];
	struct buf b;

	if (dkr_intent_parse((const char *)data, size, "example.test", &w, &nw,
	    err, sizeof(err)) == 0)
		for (size_t i = 0; i < nw; i++)
			if (!dkr_selector_valid(w[i].selector, strlen(w[i].selector)))
				panic("intent: bad selector accepted");
	free(w);
	if (dkr_parse((const char *)data, size, "example.test", &k, &nk, err,
	    sizeof(err)) != 0) {
		free(k);
		return 0;
	}
	memset(&s, 0, sizeof(s));
	s.k = k;
	s.n = nk;
	buf_init(&b, 0);
	dkr_format(&s, "example.test", &b);
	if (dkr_parse(b.data, b.len, "example.test", &k2, &nk2, err,
	    sizeof(err)) != 0 || nk2 != nk)
		panic("state: formatted keys do not parse back");
	for (size_t i = 0; i < nk; i++)
		if (strcmp(k[i].selector, k2[i].selector) != 0 ||
		    k[i].alg != k2[i].alg || k[i].state != k2[i].state ||
		    k[i].since != k2[i].since || k[i].until != k2[i].until)
			panic("state: round trip differs");
	buf_free(&b);
	free(k);
	free(k2);
	return 0;
}
