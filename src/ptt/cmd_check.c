/*
 * cmd_check.c - `ptt check [COMMIT]`: validate what the services will read
 * from a commit of the configuration repository (default: the head) —
 * the global part of ptt.conf and every users/ file — before it is rolled
 * out. Prints one line per problem; exit 0 when the commit checks.
 *
 * Trusts: nothing in the commit; it goes through the conf parsers.
 */
#include <stdio.h>
#include <string.h>

#include "conf/global.h"
#include "conf/repo.h"
#include "conf/users.h"
#include "ptt/cmd.h"

int
cmd_check(const struct ptt_ctx *ctx, int argc, char **argv)
{
	struct conf_repo *r = NULL;
	struct conf_global g;
	struct users_db *db = NULL;
	char head[CONF_COMMIT_HEX], err[512];
	const char *commit = NULL;
	int ret, bad = 0;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return PTT_EXIT_USAGE;
	if (argc == 2)
		commit = argv[1];
	if (commit != NULL && (strlen(commit) != 40 ||
	    strspn(commit, "0123456789abcdef") != 40)) {
		say("check: \"%s\" is not a full commit id (40 hex digits)", commit);
		return PTT_EXIT_USAGE;
	}
	if ((ret = ctx_open_repo(ctx, &r)) != 0)
		return ret;
	if (commit == NULL) {
		if (conf_repo_head(r, head) != 0) {
			say("check: %s has no commit", ctx->config);
			conf_repo_close(r);
			return PTT_EXIT_FAIL;
		}
		commit = head;
	}
	if (conf_global_load(r, commit, &g, err, sizeof(err)) != 0) {
		say("check: %s", err);
		bad++;
	} else {
		conf_global_free(&g);
	}
	if (users_load(&db, r, commit, err, sizeof(err)) != 0) {
		say("check: %s", err);
		bad++;
	}
	if (bad == 0)
		printf("%.12s: ptt.conf and %zu users check\n", commit,
		    users_count(db));
	users_free(db);
	conf_repo_close(r);
	return bad ? PTT_EXIT_FAIL : PTT_EXIT_OK;
}
