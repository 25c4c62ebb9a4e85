/*
 * fuzz_arc_verify.c - ARC on arbitrary messages. The input's first line
 * is a key record, the rest the message. Every ARC field is parsed, each
 * check is completed with that record and dkimpy's test key (so seeds
 * made with it verify for real), every fifth with a lookup failure; the AR
 * result and the cv in our own Authentication-Results are computed; then the
 * message is sealed on top with an Ed25519 key and, when the chain it
 * carried passed (or there was none), the new chain must pass too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/arc.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1795320000

static const char *const fixed =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

static EVP_PKEY *seal_key;
static char seal_rec[128];

static enum arc_cv
validate(const char *msg, size_t len, const char *key, struct buf *ar,
    bool misses)
{
	struct arc_verify v;
	enum arc_cv cv;

	arc_verify_begin(&v, msg, len, NOW, true);
	for (size_t i = 0; i < v.nchk; i++) {
		char name[512];
		const char *txt[2];
		arc_key_name(&v, i, name, sizeof(name));
		if (strcmp(name, "fz._domainkey.seal.example") == 0) {
			txt[0] = seal_rec;
			arc_verify_key(&v, i, DKIM_DNS_OK, txt, 1);
			continue;
		}
		txt[0] = key;
		txt[1] = fixed;
		arc_verify_key(&v, i, misses && i % 5 == 4 ? DKIM_DNS_NOTFOUND : DKIM_DNS_OK,
		    txt, 2);
	}
	cv = arc_verify_finish(&v);
	if (ar != NULL)
		arc_ar_result(&v, "192.0.2.1", ar);
	arc_verify_end(&v);
	return cv;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char key[512] = "";
	const uint8_t *nl = size ? memchr(data, '\n', size) : NULL;
	const char *msg = (const char *)data;
	size_t len = size;
	struct buf ar, out;
	struct mail_hdr h;
	struct arc_seal s;
	enum arc_cv cv, mine;
	char err[256];

	if (seal_key == NULL) {
		struct buf b;
		seal_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		buf_init(&b, 0);
		dkim_key_record(seal_key, &b);
		memcpy(seal_rec, b.data, b.len < sizeof(seal_rec) ? b.len + 1 : 0);
		buf_free(&b);
	}
	if (nl != NULL && (size_t)(nl - data) < sizeof(key)) {
		memcpy(key, data, (size_t)(nl - data));
		key[nl - data] = '\0';
		msg = (const char *)nl + 1;
		len = size - (size_t)(nl + 1 - data);
	}
	buf_init(&ar, 0);
	cv = validate(msg, len, key, &ar, true);
	buf_free(&ar);

	mail_hdr_parse(&h, msg, len, NULL);
	mine = arc_cv_from_ar(&h, "lists.example.org");
	(void)arc_cv_name(mine);
	mail_hdr_free(&h);

	memset(&s, 0, sizeof(s));
	s.domain = "seal.example";
	s.selector = "fz";
	s.key = seal_key;
	s.authserv_id = "lists.example.org";
	s.cv = cv == ARC_TEMPERROR ? ARC_FAIL : cv;
	s.now = NOW;
	buf_init(&out, 0);
	if (arc_seal(&s, msg, len, &out, err, sizeof(err)) == 0 &&
	    (cv == ARC_PASS || cv == ARC_NONE)) {
		buf_add(&out, msg, len);
		if (validate(out.data, out.len, key, NULL, false) != ARC_PASS)
			abort();	/* our seal on a good chain must hold */
	}
	buf_free(&out);
	return 0;
}
