/*
 * cmd.h - shared context and helpers of the ptt command's subcommands.
 *
 * Each group of subcommands lives in its own cmd_*.c file and is listed in
 * the dispatch table of main.c. A subcommand gets the global context and
 * its own arguments (argv[0] is the subcommand's name) and returns the
 * process exit status: PTT_EXIT_OK, PTT_EXIT_FAIL (the operation failed:
 * the message says why) or PTT_EXIT_USAGE (bad arguments or input).
 */
#ifndef PTT_PTT_CMD_H
#define PTT_PTT_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/repo.h"
#include "util/log.h"

enum { PTT_EXIT_OK = 0, PTT_EXIT_FAIL = 1, PTT_EXIT_USAGE = 2 };

#define PTT_DEFAULT_CONFIG "/var/lib/ptt/config"
#define PTT_PASSWORD_MIN 8	/* bytes */
#define PTT_DEFAULT_STATE "/var/lib/ptt/state"

struct ptt_ctx {
	const char *config;	/* repository: local path or ssh:// URL */
	const char *state;	/* state directory */
	const char *ssh_key;	/* remote: ed25519 private key file */
	const char *host_key;	/* remote: pinned host key */
};

/* Print "ptt: <message>" to stderr. */
void say(const char *fmt, ...) PTT_PRINTF(1, 2);

/* Open the configuration repository (remote: cached under the state
 * directory). Prints the error and returns PTT_EXIT_FAIL on failure. */
int ctx_open_repo(const struct ptt_ctx *ctx, struct conf_repo **r);
/* Commit with the operator's identity; prints what happened. */
int ctx_commit(struct conf_repo *r, const struct conf_change *ch, size_t n,
    const char *message);

/*
 * Read a new password: from stdin (one line) when from_stdin, else twice
 * from the terminal without echo. *pw is NUL-terminated; free it with
 * password_free(). Prints the error and returns PTT_EXIT_USAGE/FAIL.
 */
int read_new_password(bool from_stdin, char **pw, size_t *len);
void password_free(char *pw, size_t len);

/* The value of option argv[*i] ("--opt VALUE" or "--opt=VALUE") when it
 * is opt; advances *i over a separate value. NULL when argv[*i] is not
 * opt; sets *missing when the value is missing. */
const char *opt_value(int argc, char **argv, int *i, const char *opt,
    bool *missing);

/* Where ptt's program name (of src/<subdir>/ in a build tree) is: in
 * bindir (NULL: this program's directory), else in the build tree around
 * it. */
void ptt_exe(const char *bindir, const char *subdir, const char *name,
    char *out, size_t len);

int cmd_init(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_adduser(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_deluser(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_passwd(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_users(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_check(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_certs(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_check_message(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_queue(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_up(const struct ptt_ctx *ctx, int argc, char **argv);
/* The pid of service name's serving instance, asked of the running pttd
 * (its status API). PTT_EXIT_OK, or FAIL with the reason printed. */
int pttd_service_pid(const struct ptt_ctx *ctx, const char *name, long *pid);
int cmd_status(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_logs(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_spf(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_dns_records(const struct ptt_ctx *ctx, int argc, char **argv);
/* What ptt dns-records prints (zone: a whole zone, SOA first) into out. */
struct buf;
int dns_records_text(const struct ptt_ctx *ctx, bool zone, struct buf *out);
int cmd_dns_check(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_dkim(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_spam(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_demo(const struct ptt_ctx *ctx, int argc, char **argv);
int cmd_acme(const struct ptt_ctx *ctx, int argc, char **argv);

#endif
