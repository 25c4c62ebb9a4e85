/*
 * fuzz_queue_env.c - the queue's envelope parser on arbitrary bytes; a
 * parsed envelope must format back to text that parses to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct q_env env, again;
	struct buf a, b;

	if (q_env_parse((const char *)data, size, &env) != 0)
		return 0;
	buf_init(&a, 0);
	buf_init(&b, 0);
	q_env_format(&env, &a);
	if (q_env_parse(a.data, a.len, &again) != 0)
		panic("formatted envelope does not parse");
	q_env_format(&again, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		panic("envelope round trip differs");
	q_env_free(&again);
	q_env_free(&env);
	buf_free(&a);
	buf_free(&b);
	return 0;
}
