/*
 * config.c - the [pttd] section's parameter table (config.h).
 *
 * Trusts: nothing; values are checked by util/param.c.
 */
#include "pttd/config.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "util/net.h"

#define O(f) offsetof(struct pttd_config, f)
const struct param pttd_params[] = {
	{ "services", PARAM_STR, "dns relay signer submission mx", 0, 0, NULL,
	  O(services), "services pttd runs, space-separated (started in this "
	  "order): dns resolver relay signer spamfilter submission mx acme" },
	{ "status", PARAM_STR, "127.0.0.1:8080", 0, 0, NULL, O(status),
	  "address of the status page, /metrics and /api (empty: none)" },
	{ "token", PARAM_STR, "", 0, 0, NULL, O(token),
	  "token the status page and API require (Authorization: Bearer, or "
	  "?token=); empty: off loopback the state directory's pttd/token, "
	  "created when missing, on loopback none" },
	{ "poll_interval", PARAM_TIME, "10s", 1, 86400, NULL, O(poll_interval),
	  "how often the configuration repository is checked for a new "
	  "commit (SIGHUP checks at once)" },
	{ "health_interval", PARAM_TIME, "5s", 1, 3600, NULL, O(health_interval),
	  "time between two health checks of a service, and between two "
	  "looks at the certificate files of mx and submission (started once "
	  "they exist, sent SIGHUP when they changed)" },
	{ "health_timeout", PARAM_TIME, "5s", 1, 60, NULL, O(health_timeout),
	  "time one health check may take" },
	{ "restart_delay", PARAM_TIME, "1s", 1, 3600, NULL, O(restart_delay),
	  "delay before restarting a crashed service, doubled for each crash "
	  "in a row" },
	{ "restart_max", PARAM_TIME, "1m", 1, 86400, NULL, O(restart_max),
	  "longest delay before a restart" },
	{ "ready_timeout", PARAM_TIME, "20s", 1, 3600, NULL, O(ready_timeout),
	  "a new instance must pass its health check within this time, or "
	  "the old one stays" },
	{ "stop_timeout", PARAM_TIME, "2m", 1, 86400, NULL, O(stop_timeout),
	  "an instance told to stop (SIGTERM) is killed after this" },
	{ "bin_dir", PARAM_STR, "", 0, 0, NULL, O(bin_dir),
	  "directory of the service executables (empty: pttd's own, or the "
	  "build tree around it)" },
	{ "ptt", PARAM_STR, "", 0, 0, NULL, O(ptt),
	  "the ptt command, run as `ptt check COMMIT` before a deploy (empty: "
	  "found like the services)" },
	{ "rlimit_as", PARAM_SIZE, "2g", 0, 0, NULL, O(rlimit_as),
	  "address space limit of each service (0: none; not applied under "
	  "AddressSanitizer)" },
	{ "rlimit_nofile", PARAM_INT, "4096", 16, 1048576, NULL, O(rlimit_nofile),
	  "open file limit of each service" },
	{ "log_max", PARAM_SIZE, "16m", 4096, 1LL << 40, NULL, O(log_max),
	  "a service's log file is rotated (to .1) past this size" },
	{ "source_repo", PARAM_STR, "", 0, 0, NULL, O(source_repo),
	  "git repository of the ptt source (path or URL) whose branch pttd "
	  "follows: a new commit is built, tested and rolled out to every "
	  "service (empty: off)" },
	{ "source_branch", PARAM_STR, "main", 0, 0, NULL, O(source_branch),
	  "the branch of source_repo followed" },
	{ "source_poll", PARAM_TIME, "1m", 1, 86400, NULL, O(source_poll),
	  "how often the branch is looked at (SIGHUP looks at once)" },
	{ "source_dir", PARAM_STR, "", 0, 0, NULL, O(source_dir),
	  "directory of the builds, one checkout per commit (empty: the state "
	  "directory's pttd/builds)" },
	{ "source_build", PARAM_STR, "meson setup build && ninja -C build", 0, 0,
	  NULL, O(source_build),
	  "shell command building a fresh checkout (run in it)" },
	{ "source_test", PARAM_STR, "meson test -C build --suite unit", 0, 0,
	  NULL, O(source_test),
	  "shell command testing the build (run in the checkout); a failure "
	  "keeps the running binaries" },
	{ "source_bin", PARAM_STR, "build", 0, 0, NULL, O(source_bin),
	  "the build tree in the checkout (its src/<service>/ptt-<service> "
	  "are run)" },
	{ "source_timeout", PARAM_TIME, "1h", 1, 86400 * 7, NULL,
	  O(source_timeout), "longest time the clone, the build or the tests "
	  "may take (then it is killed and the commit is not deployed)" },
	PARAM_END
};

bool
pttd_is_loopback(const char *hostport)
{
	char host[256], port[32];

	if (net_split_hostport(hostport, host, sizeof(host), port,
	    sizeof(port)) != 0)
		return false;
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
	    strcasecmp(host, "localhost") == 0;
}
