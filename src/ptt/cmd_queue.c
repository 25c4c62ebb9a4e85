/*
 * cmd_queue.c - `ptt queue [--queue-dir DIR] list|show ID|retry ID|all|
 * delete ID`: the relay's queue for the operator, the same code as
 * `ptt-relay queue` (src/relay/queuecmd.c). The queue directory and pid
 * file come from ptt.conf's [relay] section when the configuration
 * repository has one, else from the relay's defaults; --queue-dir wins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/global.h"
#include "conf/repo.h"
#include "relay/relay.h"
#include "util/param.h"
#include "cmd.h"

int
cmd_queue(const struct ptt_ctx *ctx, int argc, char **argv)
{
	struct relay_config cfg;
	struct conf_repo *r = NULL;
	char err[512];
	int i = 1, ret;

	memset(&cfg, 0, sizeof(cfg));
	if (param_defaults(relay_params, &cfg, err, sizeof(err)) != 0) {
		say("%s", err);
		return PTT_EXIT_FAIL;
	}
	/* ptt.conf's [relay] section, when there is a repository. */
	if (conf_url_is_remote(ctx->config) || access(ctx->config, F_OK) == 0) {
		/* conf_params_load applies the defaults again itself. */
		if (ctx_open_repo(ctx, &r) == 0) {
			param_free(relay_params, &cfg);
			if (conf_params_load(r, NULL, relay_params, &cfg, "relay",
			    err, sizeof(err)) != 0 && strstr(err, "not found") ==
			    NULL && strstr(err, "no ") == NULL)
				say("ptt.conf: %s (using the relay's defaults)", err);
		}
		if (r != NULL)
			conf_repo_close(r);
	}
	if (argc > 2 && strcmp(argv[1], "--queue-dir") == 0) {
		if (param_set(relay_params, &cfg, "queue_dir", argv[2], err,
		    sizeof(err)) != 0) {
			say("%s", err);
			param_free(relay_params, &cfg);
			return PTT_EXIT_USAGE;
		}
		i = 3;
	}
	ret = relay_queue_cmd(&cfg, argc - i, argv + i);
	param_free(relay_params, &cfg);
	return ret;
}
