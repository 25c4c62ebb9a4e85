/*
 * dkimtool.c - a test driver for ptt's DKIM code, so interop tests can put
 * it side by side with dkimpy and OpenDKIM.
 *
 *   dkimtool sign KEY DOMAIN SELECTOR CANON [TIME] < msg > signed
 *   dkimtool record KEY                      (the TXT record to publish)
 *   dkimtool verify KEYS [TIME] < msg        (KEYS: lines "name<TAB>txt")
 * verify prints one line per signature: "RESULT d=D s=S (reason)".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/dkim.h"
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
do_verify(const char *keys, time_t now)
{
	struct buf msg, kb;
	struct dkim_verify v;
	FILE *f = fopen(keys, "r");

	buf_init(&msg, 0);
	buf_init(&kb, 0);
	slurp(stdin, &msg);
	if (f != NULL) {
		slurp(f, &kb);
		fclose(f);
	}
	dkim_verify_begin(&v, msg.data, msg.len, now, 8);
	if (v.nsig == 0)
		printf("none\n");
	for (size_t i = 0; i < v.nsig; i++) {
		char name[512], want[520];
		const char *txt[4];
		size_t ntxt = 0;
		char *copy = xstrdup(kb.data), *line, *save = NULL;

		dkim_key_name(&v, i, name, sizeof(name));
		snprintf(want, sizeof(want), "%s\t", name);
		for (line = strtok_r(copy, "\n", &save); line != NULL && ntxt < 4;
		    line = strtok_r(NULL, "\n", &save))
			if (strncasecmp(line, want, strlen(want)) == 0)
				txt[ntxt++] = line + strlen(want);
		dkim_verify_key(&v, i, ntxt ? DKIM_DNS_OK : DKIM_DNS_NOTFOUND,
		    txt, ntxt);
		printf("%s d=%s s=%s (%s)\n", dkim_result_name(v.sig[i].result),
		    v.sig[i].domain, v.sig[i].selector, v.sig[i].reason);
		free(copy);
	}
	dkim_verify_end(&v);
	buf_free(&msg);
	buf_free(&kb);
	return 0;
}

int
main(int argc, char **argv)
{
	char err[256];
	EVP_PKEY *k;
	struct buf msg, out;

	if (argc >= 6 && strcmp(argv[1], "sign") == 0) {
		struct dkim_sign s;
		char *slash;

		memset(&s, 0, sizeof(s));
		if ((k = dkim_load_key(argv[2], err, sizeof(err))) == NULL) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		s.key = k;
		s.domain = argv[3];
		s.selector = argv[4];
		slash = strchr(argv[5], '/');
		s.hc = strncmp(argv[5], "relaxed", 7) == 0 ? MAIL_CANON_RELAXED : MAIL_CANON_SIMPLE;
		s.bc = slash && strcmp(slash + 1, "relaxed") == 0 ? MAIL_CANON_RELAXED : MAIL_CANON_SIMPLE;
		s.now = argc > 6 ? (time_t)atoll(argv[6]) : time(NULL);
		s.expire = 7 * 86400;
		buf_init(&msg, 0);
		buf_init(&out, 0);
		slurp(stdin, &msg);
		if (dkim_sign(&s, msg.data, msg.len, &out, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		fwrite(out.data, 1, out.len, stdout);
		fwrite(msg.data, 1, msg.len, stdout);
		EVP_PKEY_free(k);
		buf_free(&msg);
		buf_free(&out);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "record") == 0) {
		if ((k = dkim_load_key(argv[2], err, sizeof(err))) == NULL) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		buf_init(&out, 0);
		dkim_key_record(k, &out);
		printf("%s\n", out.data);
		buf_free(&out);
		EVP_PKEY_free(k);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "verify") == 0)
		return do_verify(argv[2], argc > 3 ? (time_t)atoll(argv[3]) : time(NULL));
	fprintf(stderr, "usage: dkimtool sign|record|verify ...\n");
	return 2;
}
