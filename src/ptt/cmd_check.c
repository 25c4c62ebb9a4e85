/*
 * cmd_check.c - `ptt check [COMMIT]`: validate what the services will read
 * from a commit of the configuration repository (default: the head) —
 * the global part of ptt.conf, every users/ file, and the section of each
 * service [pttd] runs, read by that service's own parameter table
 * (`ptt-SERVICE -c FILE --check`, so a misspelt name or a bad value is
 * caught before pttd starts anything) — before it is rolled out. Prints
 * one line per problem; exit 0 when the commit checks.
 *
 * A service without a section runs on its defaults and is not run here.
 * ptt-dns's check also parses the zones of its section's directory.
 *
 * Trusts: nothing in the commit; it goes through the conf parsers and the
 * services' parameter tables. The programs run are ptt's own.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/global.h"
#include "conf/repo.h"
#include "conf/users.h"
#include "ptt/cmd.h"
#include "pttd/config.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/proc.h"

/* Whether text has a line "[name]". */
static bool
has_section(const char *text, size_t len, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		while (l > 0 && (p[l - 1] == '\r' || p[l - 1] == ' ' ||
		    p[l - 1] == '\t'))
			l--;
		if (l == n + 2 && p[0] == '[' && p[l - 1] == ']' &&
		    memcmp(p + 1, name, n) == 0)
			return true;
		p = nl ? nl + 1 : end;
	}
	return false;
}

/* Each service of [pttd] reads its section of the commit's ptt.conf.
 * The number of services that do not; *n: how many were checked. */
static int
check_sections(struct conf_repo *r, const char *commit, size_t *n)
{
	struct pttd_config pc;
	char err[512], file[] = "/tmp/ptt-check.XXXXXX", exe[4200];
	char *text = NULL, *list, *save = NULL;
	size_t len = 0;
	int fd, bad = 0;

	*n = 0;
	if (conf_params_load(r, commit, pttd_params, &pc, "pttd", err,
	    sizeof(err)) != 0) {
		say("check: %s", err);
		return 1;
	}
	if (conf_repo_read(r, commit, CONF_FILE, CONF_FILE_MAX, &text,
	    &len) != 0 || (fd = mkstemp(file)) < 0) {
		say("check: cannot read ptt.conf into a temporary file");
		free(text);
		param_free(pttd_params, &pc);
		return 1;
	}
	if (write(fd, text, len) != (ssize_t)len) {
		say("check: %s: %s", file, strerror(errno));
		bad++;
	}
	close(fd);
	list = xstrdup(bad ? "" : pc.services);
	for (char *svc = strtok_r(list, " \t,", &save); svc != NULL;
	    svc = strtok_r(NULL, " \t,", &save)) {
		char name[100];
		struct buf out;
		int rc;

		if (!has_section(text, len, svc))
			continue;	/* its defaults: nothing to check */
		snprintf(name, sizeof(name), "ptt-%s", svc);
		ptt_exe(pc.bin_dir && pc.bin_dir[0] ? pc.bin_dir : NULL, svc,
		    name, exe, sizeof(exe));
		char *argv[] = { exe, "-c", file, "--check", NULL };
		buf_init(&out, 0);
		if ((rc = proc_run_capture(argv, &out, 2000)) != 0) {
			/* "EXE: FILE:LINE: reason" as "ptt.conf:LINE: reason" */
			buf_addc(&out, '\0');
			const char *m = strstr(out.data, file);
			if (m != NULL)
				say("check: [%s]: " CONF_FILE "%s", svc,
				    m + strlen(file));
			else
				say("check: [%s]: %s (exit %d)", svc, out.data,
				    rc);
			bad++;
		}
		(*n)++;
		buf_free(&out);
	}
	free(list);
	free(text);
	unlink(file);
	param_free(pttd_params, &pc);
	return bad;
}

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
	size_t nsvc = 0;
	if (bad == 0)
		bad += check_sections(r, commit, &nsvc);
	if (bad == 0)
		printf("%.12s: ptt.conf and %zu users check (and the sections "
		    "of %zu services)\n", commit, users_count(db), nsvc);
	users_free(db);
	conf_repo_close(r);
	return bad ? PTT_EXIT_FAIL : PTT_EXIT_OK;
}
