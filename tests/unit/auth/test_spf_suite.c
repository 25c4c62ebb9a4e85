/*
 * test_spf_suite.c - the OpenSPF RFC 7208 test suite through ptt's SPF.
 *
 * Reads spf-rfc7208.txt (made by spf_suite_convert.py from the YAML that
 * Debian's python3-spf ships; spf-rfc4408.txt likewise from the RFC 4408
 * edition, whose cases allow the RFC 7208 results): for each scenario a fake DNS is loaded with
 * the scenario's zone data, and each case's result must be one of those
 * the suite allows; where the suite gives an explanation, ptt's must match
 * (with "DEFAULT" standing for no explanation, as in the suite's driver).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/spf.h"
#include "dns/fake.h"
#include "util/mem.h"
#include "../tap.h"

struct got {
	bool done;
	enum spf_result result;
	char *explanation;
	char *problem;
};

static void
done_cb(const struct spf_outcome *o, void *arg)
{
	struct got *g = arg;

	g->done = true;
	g->result = o->result;
	g->explanation = o->explanation ? xstrdup(o->explanation) : NULL;
	g->problem = o->problem ? xstrdup(o->problem) : NULL;
}

static char *
unesc(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;

	while (*s) {
		if (s[0] == '%' && s[1] && s[2]) {
			char hex[3] = { s[1], s[2], 0 };

			*o++ = (char)strtol(hex, NULL, 16);
			s += 3;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

/* Split line at tabs into at most max fields (in place). */
static int
split(char *line, char **f, int max)
{
	int n = 0;

	while (n < max) {
		f[n++] = line;
		line = strchr(line, '\t');
		if (line == NULL)
			break;
		*line++ = '\0';
	}
	return n;
}

int
main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "spf-rfc7208.txt";
	int want = argc > 2 ? atoi(argv[2]) : 1;
	FILE *fp = fopen(path, "r");
	struct event_base *base = event_base_new();
	struct resolver *r = NULL;
	char line[4096], scen[64] = "";
	int npass = 0, ntests = 0;

	if (fp == NULL) {
		printf("Bail out! cannot open %s\n", path);
		return 1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *f[8];
		int nf;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		nf = split(line, f, 8);
		if (strcmp(f[0], "scenario") == 0 && nf >= 2) {
			resolver_free(r);
			r = resolver_fake_new(base);
			snprintf(scen, sizeof(scen), "%s", f[1]);
		} else if (strcmp(f[0], "zone") == 0 && nf == 2) {
			unsigned ln = 0;

			if (fake_dns_load(resolver_fake(r), f[1], &ln) != 0)
				printf("# cannot load zone line: %s\n", f[1]);
		} else if (strcmp(f[0], "test") == 0 && nf == 7) {
			struct spf_request req;
			struct got g = { 0 };
			char *id = unesc(f[1]), *host = unesc(f[2]);
			char *helo = unesc(f[3]), *mf = unesc(f[4]);
			char *exp = strcmp(f[6], "-") ? unesc(f[6]) : NULL;
			const char *gotres;
			bool good;

			memset(&req, 0, sizeof(req));
			if (inet_pton(AF_INET, host, &req.ip.v4) == 1)
				req.af = AF_INET;
			else if (inet_pton(AF_INET6, host, &req.ip.v6) == 1)
				req.af = AF_INET6;
			req.helo = helo;
			req.mail_from = mf;
			req.now = 1700000000;
			spf_check(r, &req, done_cb, &g);
			while (!g.done)
				event_base_loop(base, EVLOOP_ONCE);
			gotres = spf_result_str(g.result);
			good = false;
			for (char *p = f[5], *e; p; p = e ? e + 1 : NULL) {
				e = strchr(p, ',');
				if (strncmp(p, gotres, e ? (size_t)(e - p) :
				    strlen(p)) == 0 && strlen(gotres) ==
				    (e ? (size_t)(e - p) : strlen(p)))
					good = true;
			}
			if (good && exp != NULL)
				good = strcmp(exp, g.explanation ?
				    g.explanation : "DEFAULT") == 0;
			ntests++;
			npass += good;
			if (!ok(good, "scenario %s: %s: %s", scen, id, gotres))
				printf("#   want %s explanation=%s; got "
				    "explanation=%s problem=%s\n", f[5],
				    exp ? exp : "-", g.explanation ?
				    g.explanation : "(none)", g.problem ?
				    g.problem : "(none)");
			free(g.explanation);
			free(g.problem);
			free(id);
			free(host);
			free(helo);
			free(mf);
			free(exp);
		} else {
			printf("# unknown fixture line: %s\n", f[0]);
		}
	}
	fclose(fp);
	resolver_free(r);
	event_base_free(base);
	printf("# %s: %d of %d cases pass\n", path, npass, ntests);
	is_int(ntests, want, "every case of the suite ran");
	return tap_done();
}
