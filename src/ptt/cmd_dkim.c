/*
 * cmd_dkim.c - `ptt dkim rotate` and `ptt dkim status`.
 *
 * rotate commits the intent only: dkim/<domain> in the configuration
 * repository names the new active selector of each algorithm (RFC 6376
 * 3.1 selectors). The signer, which alone generates and holds the private
 * keys, picks the commit up, creates and publishes the new keys, switches
 * to them once they are in DNS, and retires the old ones after its grace
 * period (src/signer/rotate.h). status prints that intent beside the
 * signer's own record of its keys (dkim/<domain>/selectors in the state
 * directory): never a private key, which this command does not open.
 *
 * Trusts: the operator's arguments, after checking them; both files go
 * through the bounds-checked parsers of rotate.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/global.h"
#include "conf/repo.h"
#include "conf/state.h"
#include "ptt/cmd.h"
#include "signer/rotate.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"

static const char *const default_sel[DKR_NALG] = { "ptt-rsa", "ptt-ed25519" };

/* --domain D, or ptt.conf's domain. *dom is malloc'd. */
static int
domain_of(struct conf_repo *r, const char *opt, char **dom)
{
	struct conf_global g;
	char err[512];

	if (opt != NULL) {
		if (strlen(opt) >= DKR_DOMAIN_MAX || strchr(opt, '/') != NULL ||
		    opt[0] == '.' || opt[0] == '\0') {
			say("dkim: bad domain \"%s\"", opt);
			return PTT_EXIT_USAGE;
		}
		*dom = xstrdup(opt);
		return 0;
	}
	if (conf_global_load(r, NULL, &g, err, sizeof(err)) != 0) {
		say("dkim: %s (or give --domain)", err);
		return PTT_EXIT_FAIL;
	}
	*dom = xstrdup(g.domain);
	conf_global_free(&g);
	return 0;
}

/* The repository's dkim/<domain>: 0 (n may be 0 when absent) or exit. */
static int
read_intent(struct conf_repo *r, const char *dom, struct dkr_want **w,
    size_t *n)
{
	char path[DKR_DOMAIN_MAX + 8], *text, err[256];
	size_t len;
	int ret;

	snprintf(path, sizeof(path), "dkim/%s", dom);
	ret = conf_repo_read(r, NULL, path, DKR_FILE_MAX, &text, &len);
	if (ret == PTT_ENOENT)
		return 0;
	if (ret != 0) {
		say("dkim: %s: %s", path, ptt_strerror(ret));
		return PTT_EXIT_FAIL;
	}
	ret = dkr_intent_parse(text, len, dom, w, n, err, sizeof(err));
	free(text);
	if (ret != 0) {
		say("dkim: %s:%s", path, err);
		return PTT_EXIT_FAIL;
	}
	return 0;
}

/* The signer's keys from the state directory; false when unreadable. */
static bool
read_state(const struct ptt_ctx *ctx, const char *dom, struct dkr_key **k,
    size_t *n, char *why, size_t wl)
{
	char rel[DKR_DOMAIN_MAX + 32], *text, err[256];
	size_t len;

	snprintf(rel, sizeof(rel), "dkim/%s/%s", dom, DKR_STATE_FILE);
	if (state_read_secret(ctx->state, rel, &text, &len, err,
	    sizeof(err)) != 0) {
		snprintf(why, wl, "%s", err);
		return false;
	}
	if (dkr_parse(text, len, dom, k, n, err, sizeof(err)) != 0) {
		snprintf(why, wl, "%.200s/%.200s:%.200s", ctx->state, rel, err);
		state_free_secret(text, len);
		return false;
	}
	state_free_secret(text, len);
	return true;
}

static int parse_args(int argc, char **argv, const char **domain,
    const char *sel[DKR_NALG], bool rotate);

/* The arguments, the repository, the domain and its dkim/<domain> file:
 * what rotate and status both start from. 0 or an exit status. */
static int
open_intent(const struct ptt_ctx *ctx, int argc, char **argv, bool rotate,
    const char *given[DKR_NALG], struct conf_repo **r, char **dom,
    struct dkr_want **w, size_t *nw)
{
	const char *domain = NULL;
	int ret;

	if ((ret = parse_args(argc, argv, &domain, given, rotate)) != 0 ||
	    (ret = ctx_open_repo(ctx, r)) != 0 ||
	    (ret = domain_of(*r, domain, dom)) != 0)
		return ret;
	return read_intent(*r, *dom, w, nw);
}

static int
parse_args(int argc, char **argv, const char **domain,
    const char *sel[DKR_NALG], bool rotate)
{
	bool missing;
	const char *v;

	for (int i = 2; i < argc; i++) {
		static const char *const opts[] = { "--domain", "--rsa",
		    "--ed25519" };
		int o;
		v = NULL;
		missing = false;
		for (o = 0; o < (rotate ? 3 : 1) && v == NULL && !missing; o++)
			v = opt_value(argc, argv, &i, opts[o], &missing);
		if (v != NULL && o == 1)
			*domain = v;
		else if (v != NULL)
			sel[o == 2 ? DKR_RSA : DKR_ED25519] = v;
		if (missing) {
			say("dkim: %s needs a value", argv[i]);
			return PTT_EXIT_USAGE;
		}
		if (v == NULL) {
			say("dkim: unknown argument %s", argv[i]);
			return PTT_EXIT_USAGE;
		}
	}
	for (int a = 0; a < DKR_NALG; a++)
		if (sel[a] != NULL && !dkr_selector_valid(sel[a], strlen(sel[a]))) {
			say("dkim: bad selector \"%s\" (letters, digits, '-' and "
			    "dots, at most %d)", sel[a], DKR_SEL_MAX - 1);
			return PTT_EXIT_USAGE;
		}
	return 0;
}

static int
rotate(const struct ptt_ctx *ctx, int argc, char **argv)
{
	const char *given[DKR_NALG] = { NULL, NULL };
	char cur[DKR_NALG][DKR_SEL_MAX], next[DKR_NALG][DKR_SEL_MAX];
	char stamp[32], why[256], path[DKR_DOMAIN_MAX + 8];
	struct conf_repo *r = NULL;
	struct dkr_want *w = NULL;
	struct dkr_key *k = NULL;
	size_t nw = 0, nk = 0;
	struct buf text, msg;
	struct conf_change ch;
	char *dom = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int ret;

	memset(cur, 0, sizeof(cur));
	buf_init(&text, DKR_FILE_MAX);
	buf_init(&msg, 0);
	/* What signs now: the committed intent, else the signer's record,
	 * else the signer's default selectors. */
	if ((ret = open_intent(ctx, argc, argv, true, given, &r, &dom, &w,
	    &nw)) != 0)
		goto out;
	for (size_t i = 0; i < nw; i++)
		ptt_strlcpy(cur[w[i].alg], w[i].selector, DKR_SEL_MAX);
	if (nw == 0 && read_state(ctx, dom, &k, &nk, why, sizeof(why)))
		for (size_t i = 0; i < nk; i++)
			if (k[i].state != DKR_RETIRING)
				ptt_strlcpy(cur[k[i].alg], k[i].selector, DKR_SEL_MAX);
	if (cur[DKR_RSA][0] == '\0' && cur[DKR_ED25519][0] == '\0')
		for (int a = 0; a < DKR_NALG; a++)
			ptt_strlcpy(cur[a], default_sel[a], DKR_SEL_MAX);

	gmtime_r(&now, &tm);
	buf_addf(&text, "# DKIM selectors of %s: the signer signs with these, "
	    "and retires the ones they replace\n# after its grace period "
	    "(written by ptt dkim rotate).\n", dom);
	buf_addf(&msg, "dkim rotate %s:", dom);
	for (int a = 0; a < DKR_NALG; a++) {
		if (cur[a][0] == '\0' && given[a] == NULL)
			continue;	/* an algorithm not in use stays so */
		if (given[a] != NULL)
			ptt_strlcpy(next[a], given[a], DKR_SEL_MAX);
		else {
			strftime(stamp, sizeof(stamp), "%Y%m%d", &tm);
			snprintf(next[a], DKR_SEL_MAX, "%s-%s", default_sel[a], stamp);
			if (strcmp(next[a], cur[a]) == 0) {
				strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
				snprintf(next[a], DKR_SEL_MAX, "%s-%s",
				    default_sel[a], stamp);
			}
		}
		if (strcmp(next[a], cur[a]) == 0) {
			say("dkim: %s is already the %s selector of %s", next[a],
			    dkr_alg_name((enum dkr_alg)a), dom);
			ret = PTT_EXIT_FAIL;
			goto out;
		}
		buf_addf(&text, "%s %s\n", dkr_alg_name((enum dkr_alg)a), next[a]);
		buf_addf(&msg, " %s %s -> %s", dkr_alg_name((enum dkr_alg)a),
		    cur[a][0] ? cur[a] : "(none)", next[a]);
	}
	snprintf(path, sizeof(path), "dkim/%s", dom);
	ch = (struct conf_change){ path, text.data, text.len };
	ret = ctx_commit(r, &ch, 1, msg.data);
out:
	free(w);
	free(k);
	free(dom);
	buf_free(&text);
	buf_free(&msg);
	conf_repo_close(r);
	return ret;
}

static void
print_time(long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[32];

	gmtime_r(&tt, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fputs(s, stdout);
}

static int
status(const struct ptt_ctx *ctx, int argc, char **argv)
{
	const char *unused[DKR_NALG] = { NULL, NULL };
	struct conf_repo *r = NULL;
	struct dkr_want *w = NULL;
	struct dkr_key *k = NULL;
	size_t nw = 0, nk = 0;
	char *dom = NULL, why[700];
	int ret;

	if ((ret = open_intent(ctx, argc, argv, false, unused, &r, &dom, &w,
	    &nw)) != 0)
		goto out;
	if (nw == 0)
		printf("%s: no dkim/%s in the repository: the signer's "
		    "selector parameters apply\n", dom, dom);
	for (size_t i = 0; i < nw; i++)
		printf("%s: wanted %s %s\n", dom, dkr_alg_name(w[i].alg),
		    w[i].selector);
	if (!read_state(ctx, dom, &k, &nk, why, sizeof(why))) {
		printf("%s: the signer's key states are not readable: %s\n",
		    dom, why);
		ret = PTT_EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < nk; i++) {
		printf("%s._domainkey.%s %s %s since ", k[i].selector, dom,
		    dkr_alg_name(k[i].alg), dkr_state_name(k[i].state));
		print_time(k[i].since);
		if (k[i].state == DKR_RETIRING) {
			fputs(" removed after ", stdout);
			print_time(k[i].until);
		}
		fputc('\n', stdout);
	}
	ret = PTT_EXIT_OK;
out:
	free(w);
	free(k);
	free(dom);
	conf_repo_close(r);
	return ret;
}

int
cmd_dkim(const struct ptt_ctx *ctx, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "rotate") == 0)
		return rotate(ctx, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "status") == 0)
		return status(ctx, argc, argv);
	say("dkim: rotate [--domain D] [--rsa SEL] [--ed25519 SEL] | "
	    "status [--domain D]");
	return PTT_EXIT_USAGE;
}
