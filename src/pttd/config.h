/*
 * config.h - pttd's own parameters: the [pttd] section of ptt.conf.
 *
 * Shared by pttd and the ptt command (`ptt status` and `ptt logs` find the
 * status page through `status`, and its token through pttd_token_path).
 *
 * Trusts: nothing in ptt.conf; the table goes through util/param.h.
 */
#ifndef PTT_PTTD_CONFIG_H
#define PTT_PTTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/param.h"

struct pttd_config {
	char *services;		/* enabled services, space-separated */
	char *status;		/* status page host:port */
	char *token;		/* required off loopback; empty: state file */
	long long poll_interval;	/* config repository poll, seconds */
	long long health_interval;	/* seconds between health checks */
	long long health_timeout;	/* seconds for one check */
	long long restart_delay;	/* first restart delay, doubled per crash */
	long long restart_max;		/* longest restart delay */
	long long ready_timeout;	/* a new instance must be healthy by then */
	long long stop_timeout;		/* SIGKILL an old instance after this */
	char *bin_dir;		/* where the service executables are */
	char *ptt;		/* the ptt command (for `ptt check`) */
	unsigned long long rlimit_as;	/* RLIMIT_AS per service; 0: none */
	long long rlimit_nofile;	/* RLIMIT_NOFILE per service */
	unsigned long long log_max;	/* rotate a service log file past this */
	char *source_repo;	/* ptt source repository followed; empty: off */
	char *source_branch;	/* its branch */
	long long source_poll;	/* seconds between two looks at the branch */
	char *source_dir;	/* where builds go; empty: STATE/pttd/builds */
	char *source_build;	/* shell command building a checkout */
	char *source_test;	/* shell command testing it */
	char *source_bin;	/* the build tree, relative to the checkout */
	long long source_timeout;	/* seconds one step may take */
};

extern const struct param pttd_params[];

/* The token file in the state directory (a 0600 secret). */
#define PTTD_TOKEN_FILE "pttd/token"
/* The directory of pttd's files in the state directory. */
#define PTTD_DIR "pttd"

/* True when host:port names a loopback address (127/8, ::1, localhost). */
bool pttd_is_loopback(const char *hostport);

#endif
