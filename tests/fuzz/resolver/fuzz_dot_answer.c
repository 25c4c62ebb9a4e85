/*
 * fuzz_dot_answer.c - the DNS over TLS backend's handling of a response
 * (dot_answer in src/lib/dns/dot.c, then resolve.c's rdata parsers): the
 * first byte picks the query type, the next two the expected id, the rest
 * is the response. Whatever the bytes, the query completes exactly once and
 * a result with data only for a matching NOERROR response.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <event2/event.h>

#include "dns/resolve.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *in;
static size_t inlen;
static uint16_t id;

static void
fz_start(struct resolver *r, struct dns_query *q)
{
	(void)r;
	dot_answer(q, id, in, inlen);
}

static const struct resolver_ops fz_ops = { fz_start, NULL, NULL };

static void
done(const struct dns_result *res, void *arg)
{
	int *n = arg;

	if (res->status != DNS_OK && res->n != 0)
		abort();
	(*n)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_MX,
		DNS_T_TXT, DNS_T_TLSA, DNS_T_PTR, DNS_T_NS, DNS_T_CNAME };
	static struct event_base *base;
	struct resolver *r;
	int n = 0;

	if (size < 3)
		return 0;
	if (base == NULL) {
		log_init("fuzz");
		log_set_level(LOG_LVL_ERR);
		base = event_base_new();
	}
	id = (uint16_t)(data[1] << 8 | data[2]);
	in = data + 3;
	inlen = size - 3;
	r = resolver_new_backend(base, &fz_ops, NULL);
	resolve(r, "example.test", types[data[0] % 8], done, &n);
	event_base_loop(base, EVLOOP_NONBLOCK);
	if (n != 1)
		abort();
	resolver_free(r);
	return 0;
}
