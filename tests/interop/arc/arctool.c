/*
 * arctool.c - a test driver for ptt's ARC code (RFC 8617), so interop
 * tests can put it side by side with dkimpy.
 *
 *   arctool seal KEY DOMAIN SELECTOR AUTHSERV-ID CV [TIME] < msg > sealed
 *   arctool verify KEYS [IP] < msg       (KEYS: lines "name<TAB>txt")
 * seal prints the new ARC set followed by the message (CV: none, pass or
 * fail). verify prints the status, then the AR method result line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/arc.h"
#include "util/buf.h"
#include "util/mem.h"

static void
slurp(FILE *f, struct buf *b)
{
	char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(b, chunk, n);
}

static int
do_verify(const char *keys, const char *ip)
{
	struct buf msg, kb, ar;
	struct arc_verify v;
	FILE *f = fopen(keys, "r");

	buf_init(&msg, 0);
	buf_init(&kb, 0);
	buf_init(&ar, 0);
	slurp(stdin, &msg);
	if (f != NULL) {
		slurp(f, &kb);
		fclose(f);
	}
	arc_verify_begin(&v, msg.data, msg.len, time(NULL), true);
	for (size_t i = 0; i < v.nchk; i++) {
		char name[512], want[520];
		const char *txt[4];
		size_t ntxt = 0;
		char *copy = xstrdup(kb.data), *line, *save = NULL;

		arc_key_name(&v, i, name, sizeof(name));
		snprintf(want, sizeof(want), "%s\t", name);
		for (line = strtok_r(copy, "\n", &save); line != NULL && ntxt < 4;
		    line = strtok_r(NULL, "\n", &save))
			if (strncasecmp(line, want, strlen(want)) == 0)
				txt[ntxt++] = line + strlen(want);
		arc_verify_key(&v, i, ntxt ? DKIM_DNS_OK : DKIM_DNS_NOTFOUND,
		    txt, ntxt);
		free(copy);
	}
	arc_verify_finish(&v);
	arc_ar_result(&v, ip, &ar);
	printf("%s (%s) oldest-pass=%u\n%s\n", arc_cv_name(v.result), v.reason,
	    v.oldest_pass, ar.data);
	arc_verify_end(&v);
	buf_free(&msg);
	buf_free(&kb);
	buf_free(&ar);
	return 0;
}

int
main(int argc, char **argv)
{
	char err[256];
	EVP_PKEY *k;
	struct buf msg, out;

	if (argc >= 7 && strcmp(argv[1], "seal") == 0) {
		struct arc_seal s;

		memset(&s, 0, sizeof(s));
		if ((k = dkim_load_key(argv[2], err, sizeof(err))) == NULL) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		s.key = k;
		s.domain = argv[3];
		s.selector = argv[4];
		s.authserv_id = argv[5];
		s.cv = strcmp(argv[6], "pass") == 0 ? ARC_PASS :
		    strcmp(argv[6], "fail") == 0 ? ARC_FAIL : ARC_NONE;
		s.now = argc > 7 ? (time_t)atoll(argv[7]) : time(NULL);
		buf_init(&msg, 0);
		buf_init(&out, 0);
		slurp(stdin, &msg);
		int r = arc_seal(&s, msg.data, msg.len, &out, err, sizeof(err));
		if (r != 0)
			fprintf(stderr, "%s\n", err);
		else {
			fwrite(out.data, 1, out.len, stdout);
			fwrite(msg.data, 1, msg.len, stdout);
		}
		EVP_PKEY_free(k);
		buf_free(&msg);
		buf_free(&out);
		return r != 0;
	}
	if (argc >= 3 && strcmp(argv[1], "verify") == 0)
		return do_verify(argv[2], argc > 3 ? argv[3] : NULL);
	fprintf(stderr, "usage: arctool seal|verify ...\n");
	return 2;
}
