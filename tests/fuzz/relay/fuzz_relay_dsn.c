/*
 * fuzz_relay_dsn.c - libFuzzer harness for what ptt-relay builds from bytes
 * it does not trust: DSNs (relay/dsn.h) from arbitrary messages and remote
 * replies, and the X-Ptt-Require-TLS stripping (relay_strip_require_tls).
 *
 * Input: up to six '\n'-terminated lines (sender, reply, status, remote,
 * orcpt, envid), then the message. A first byte 'D' asks for a delay
 * notice, 'R' for a success ("relayed") report, 'H' for RET=HDRS, anything
 * else a failure DSN with RET=FULL.
 *
 * Invariants checked (abort on violation):
 *   - the DSN is built for any non-empty sender;
 *   - everything before the returned message is 7-bit printable ASCII
 *     with CRLF line ends and lines of at most 998 octets (RFC 5322 2.1.1),
 *     so no remote bytes can forge a field, a part or a line;
 *   - lib/mail parses it as multipart/report; report-type=delivery-status
 *     with exactly three parts, the second message/delivery-status;
 *   - after stripping, no X-Ptt-Require-TLS field is left in the header
 *     section, and a message without one is returned byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/hdr.h"
#include "mail/mime.h"
#include "relay/dsn.h"
#include "relay/relay.h"
#include "util/buf.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
take_line(const uint8_t **p, size_t *n, const char *def)
{
	const uint8_t *nl = memchr(*p, '\n', *n);
	char *s;

	if (nl == NULL)
		return xstrdup(def);
	s = xstrndup((const char *)*p, (size_t)(nl - *p));
	*n -= (size_t)(nl - *p) + 1;
	*p = nl + 1;
	return s;
}

static void
check_prefix(const char *p, size_t n)
{
	size_t line = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r') {
			if (i + 1 >= n || p[i + 1] != '\n')
				abort();
			continue;
		}
		if (c == '\n') {
			if (i == 0 || p[i - 1] != '\r')
				abort();
			line = 0;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			abort();
		if (++line > 998)
			abort();
	}
}

static void
fuzz_dsn(const uint8_t *data, size_t size)
{
	struct q_env env;
	struct q_rcpt *r;
	struct dsn_params p = { "relay.example", "example.org", 1700000000,
	    1700400000, NULL, NULL };
	enum dsn_kind kind = DSN_FAILED;
	bool sel[2] = { true, false };
	struct buf out;
	struct mail_mime m;
	const char *mark;
	char *sender;

	memset(&env, 0, sizeof(env));
	memcpy(env.id, "FUZZFUZZFUZZFUZZ", QUEUE_ID_LEN);
	env.created = 1699990000;
	env.ret = SMTP_RET_FULL;
	if (size > 0 && data[0] == 'D')
		kind = DSN_DELAYED;
	if (size > 0 && data[0] == 'R')
		kind = DSN_RELAYED;
	if (size > 0 && data[0] == 'H')
		env.ret = SMTP_RET_HDRS;
	sender = take_line(&data, &size, "a@example.org");
	env.sender = sender[0] ? sender : xstrdup("a@example.org");
	if (env.sender != sender)
		free(sender);
	r = q_env_add_rcpt(&env, "b@example.com");
	r->state = Q_FAILED;
	r->attempts = 3;
	r->reply = take_line(&data, &size, "550 5.1.1 no");
	r->status = take_line(&data, &size, "5.1.1");
	r->remote = take_line(&data, &size, "mx.example.com[192.0.2.1]:25");
	r->orcpt = take_line(&data, &size, "rfc822;b@example.com");
	env.envid = take_line(&data, &size, "");
	q_env_add_rcpt(&env, "c@example.com");

	buf_init(&out, 0);
	if (dsn_build(&env, kind, sel, data, size, &p, &out) != 0)
		abort();
	/* The third part starts after its header; everything before it is
	 * ours. */
	mark = strstr(out.data, "Content-Description: Undelivered Message\r\n");
	if (mark == NULL)
		mark = strstr(out.data, "Content-Description: Message Headers\r\n");
	if (mark == NULL)
		abort();
	check_prefix(out.data, (size_t)(mark - out.data));

	mail_mime_parse(&m, out.data, out.len, NULL);
	if (!mail_ctype_is(&m.root->ct, "multipart", "report"))
		abort();
	const char *rt = mail_param_get(&m.root->ct.params, "report-type");
	if (rt == NULL || strcmp(rt, "delivery-status") != 0)
		abort();
	const struct mail_part *a = m.root->child;
	const struct mail_part *b = a ? a->next : NULL;
	const struct mail_part *c = b ? b->next : NULL;
	if (a == NULL || b == NULL || c == NULL || c->next != NULL)
		abort();
	if (!mail_ctype_is(&b->ct, "message", "delivery-status"))
		abort();
	mail_mime_free(&m);
	buf_free(&out);
	q_env_free(&env);
}

static void
fuzz_strip(const uint8_t *data, size_t size)
{
	struct buf out;
	struct mail_hdr h;
	bool yes;

	buf_init(&out, 0);
	if (relay_strip_require_tls(data, size, &out, &yes) != 0)
		abort();
	mail_hdr_parse(&h, out.data, out.len, NULL);
	if (mail_hdr_find(&h, "X-Ptt-Require-TLS", 0) != MAIL_HDR_NONE)
		abort();
	mail_hdr_free(&h);
	mail_hdr_parse(&h, data, size, NULL);
	if (mail_hdr_find(&h, "X-Ptt-Require-TLS", 0) == MAIL_HDR_NONE &&
	    (out.len != size || (size > 0 && memcmp(out.data, data, size) != 0)))
		abort();
	mail_hdr_free(&h);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_dsn(data, size);
	fuzz_strip(data, size);
	return 0;
}
