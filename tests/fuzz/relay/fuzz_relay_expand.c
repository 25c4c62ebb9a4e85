/*
 * fuzz_relay_expand.c - the relay's local recipients (src/relay/expand.c)
 * on arbitrary envelopes. Input: the sender on the first line, one
 * recipient per following line. Must never crash or leak, and:
 *   - no recipient left pending in a local domain (it was expanded or
 *     failed);
 *   - every forwarded recipient names the local address it replaces;
 *   - a rewritten sender reverses (srs_reverse) to the sender given;
 *   - the null sender is never rewritten.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/srs.h"
#include "conf/users.h"
#include "relay/relay.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1795320000

static struct users_db *
db(void)
{
	static struct users_db *d;
	static const char *const names[] = { "alice", "bob", "loop" };
	static const char *const texts[] = {
		"password = $argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2E$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g\n"
		"forward = alice@real.example, a2@other.example\n",
		"password = $argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2E$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g\n"
		"forward = alice@example.test, bob@real.example\n",
		"password = $argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2E$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g\n"
		"forward = loop@example.test\n",
	};
	char err[256];

	if (d == NULL && users_load_mem(&d, names, texts, 3, "f", err,
	    sizeof(err)) != 0)
		abort();
	return d;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct srs_secret sec[] = { { "fuzz-secret-0123456", 19 } };
	static const struct srs srs = { sec, 1, SRS_HMAC_SHA1, 0, 0, 0 };
	struct relay_local l = { "example.test ex2.test", db(), "bob", &srs,
	    "example.test", NOW };
	struct relay_expansion x;
	struct q_env in;
	char *text, *line, *save = NULL, back[700];

	if (size > 4096 || memchr(data, '\0', size) != NULL)
		return 0;
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&in, 0, sizeof(in));
	line = strtok_r(text, "\n", &save);
	in.sender = xstrdup(line != NULL ? line : "");
	while ((line = strtok_r(NULL, "\n", &save)) != NULL && in.nrcpt < 50)
		q_env_add_rcpt(&in, line);
	relay_expand(&l, &in, &x);
	for (int g = 0; g < 2; g++)
		for (size_t i = 0; i < x.env[g].nrcpt; i++) {
			const struct q_rcpt *r = &x.env[g].rcpt[i];

			if (r->state == Q_PENDING && relay_is_local(&l, r->addr))
				abort();
			if (g == 1 && x.via[g][i] == NULL)
				abort();
		}
	if (x.env[1].nrcpt > 0) {
		if (in.sender[0] == '\0')
			abort();
		if (srs_reverse(&srs, x.env[1].sender, NOW, back,
		    sizeof(back)) == 0 && strcmp(back, in.sender) != 0 &&
		    strncasecmp(in.sender, "SRS", 3) != 0)
			abort();
	}
	if (x.env[0].nrcpt > 0 && strcmp(x.env[0].sender, in.sender) != 0)
		abort();
	relay_expansion_free(&x);
	q_env_free(&in);
	free(text);
	return 0;
}
