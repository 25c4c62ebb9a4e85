/*
 * main.c - the ptt command: global options, then one subcommand from the
 * table below. Each subcommand lives in a cmd_*.c file.
 *
 *	ptt [--config DIR|URL] [--state DIR] [--ssh-key FILE] [--host-key PIN]
 *	    COMMAND [ARGS...]
 *
 * Defaults: /var/lib/ptt/config and /var/lib/ptt/state, or PTT_CONFIG,
 * PTT_STATE, PTT_SSH_KEY and PTT_HOST_KEY from the environment. Global
 * options may also follow the command name.
 *
 * Trusts: its arguments and the operator's terminal; the repository's
 * contents go through the conf library's parsers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptt/cmd.h"

/* cmd_checkmsg.c */

static const struct command {
	const char *name;
	int (*run)(const struct ptt_ctx *, int, char **);
	const char *usage;
	const char *doc;
} commands[] = {
	{ "init", cmd_init, "DOMAIN --ip ADDR [--ip ADDR]... [--host NAME] "
	  "[--acme production|staging|URL] [--queue DIR] [--bare]",
	  "create the configuration repository (every service's section, "
	  "unless --bare, and the zone), the state directory, the internal "
	  "CA and the service certificates" },
	{ "adduser", cmd_adduser, "NAME --forward REAL@ADDR [--forward ...] "
	  "[--send-as ADDR ...] [--require-tls] [--password-stdin]",
	  "add a user (the password is asked twice, or read from stdin)" },
	{ "deluser", cmd_deluser, "NAME", "remove a user" },
	{ "passwd", cmd_passwd, "NAME [--password-stdin]",
	  "set a user's password" },
	{ "users", cmd_users, "", "list users, their forwards and policy" },
	{ "check", cmd_check, "[COMMIT]",
	  "validate ptt.conf's global part and every users/ file of a commit "
	  "(default: the head)" },
	{ "check-message", cmd_check_message, "[--ip ADDR] [--helo NAME] "
	  "[--mail-from ADDR] [--dns HOST:PORT] [--dns-config FILE] "
	  "[--authserv-id ID] "
	  "[--timeout SECONDS] < MESSAGE",
	  "print the Authentication-Results the mx would add (SPF, DKIM, "
	  "DMARC) and its verdict" },
	{ "queue", cmd_queue, "[--queue-dir DIR] list | show ID | retry ID|all | delete ID",
	  "the relay's queue: list messages, show one, retry now, delete" },
	{ "dkim", cmd_dkim, "rotate [--domain D] [--rsa SEL] [--ed25519 SEL] | status [--domain D]",
	  "DKIM selectors: commit a rotation (the signer makes and publishes "
	  "the new keys, retires the old ones), or show each key's state" },
	{ "up", cmd_up, "[-o name=value]...",
	  "run pttd in the foreground: every service ptt.conf enables, "
	  "restarted, health-checked, redeployed on a new commit" },
	{ "status", cmd_status, "[--url http://HOST:PORT] [--token T]",
	  "what pttd shows on its status page: services, messages, queue, "
	  "deploys (exit 1 when a service is not healthy)" },
	{ "logs", cmd_logs, "SERVICE [-f] [--url http://HOST:PORT] [--token T]",
	  "a service's latest log lines as pttd collected them (-f: follow)" },
	{ "certs", cmd_certs, "[--force | --new-ca]",
	  "re-issue internal certificates with less than a third of their "
	  "lifetime left (all with --force; --new-ca replaces the CA first)" },
	{ "acme", cmd_acme, "[status|renew]",
	  "the certificates ptt-acme keeps: names, validity, renewal time, "
	  "key (exit 1 when one is expired, overdue or keyless); renew: "
	  "ptt-acme under pttd renews now" },
	{ "spf", cmd_spf, "[--ip ADDR[/LEN]]... [--key FILE] [--primary HOST:PORT]",
	  "publish or replace the domain's one SPF record (TSIG-signed update)" },
	{ "dns-records", cmd_dns_records, "[--zone]",
	  "print every record the domain needs, in zone-file form (--zone: "
	  "with an SOA)" },
	{ "dns-check", cmd_dns_check, "[--dns HOST:PORT [--dns-config FILE]]",
	  "compare those records with what the resolver sees (ok, missing, "
	  "different)" },
	{ "demo", cmd_demo, "[--dir DIR] [--once] [--bin DIR]",
	  "the whole stack on loopback under pttd, mail both ways (make demo)" },
	{ "spam", cmd_spam, "train --ham DIR --spam DIR [-o MODEL] | classify [-m MODEL] FILE|DIR...",
	  "train a spam model from your own mail (directories or maildirs), "
	  "or classify messages: PATH<TAB>spam|ham<TAB>SCORE" },
	{ NULL, NULL, NULL, NULL }
};

static void
usage(FILE *f)
{
	const struct command *c;

	fprintf(f, "usage: ptt [--config DIR|ssh://URL] [--state DIR] "
	    "[--ssh-key FILE] [--host-key PIN] COMMAND [ARGS]\n\ncommands:\n");
	for (c = commands; c->name != NULL; c++)
		fprintf(f, "  %s %s\n      %s\n", c->name, c->usage, c->doc);
	fprintf(f, "\nDefaults: --config %s, --state %s (or PTT_CONFIG, "
	    "PTT_STATE;\nPTT_SSH_KEY, PTT_HOST_KEY for an ssh:// remote).\n"
	    "Exit status: 0 done, 1 failed, 2 bad usage or input.\n",
	    PTT_DEFAULT_CONFIG, PTT_DEFAULT_STATE);
}

static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : def;
}

int
main(int argc, char **argv)
{
	static const char *const globals[] = { "--config", "--state",
		"--ssh-key", "--host-key" };
	struct ptt_ctx ctx;
	const char **slot[4];
	const struct command *c;
	char **rest;
	int i, j, n = 0;

	log_init("ptt");
	ctx.config = env_or("PTT_CONFIG", PTT_DEFAULT_CONFIG);
	ctx.state = env_or("PTT_STATE", PTT_DEFAULT_STATE);
	ctx.ssh_key = env_or("PTT_SSH_KEY", NULL);
	ctx.host_key = env_or("PTT_HOST_KEY", NULL);
	slot[0] = &ctx.config;
	slot[1] = &ctx.state;
	slot[2] = &ctx.ssh_key;
	slot[3] = &ctx.host_key;

	/* Take the global options out, wherever they are (up to "--"). */
	rest = calloc((size_t)argc + 1, sizeof(char *));
	if (rest == NULL)
		return PTT_EXIT_FAIL;
	for (i = 1; i < argc; i++) {
		bool missing = false, taken = false;
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				rest[n++] = argv[i++];
			break;
		}
		for (j = 0; j < 4 && !taken; j++) {
			const char *v = opt_value(argc, argv, &i, globals[j], &missing);
			if (missing) {
				say("%s needs a value", globals[j]);
				free(rest);
				return PTT_EXIT_USAGE;
			}
			if (v != NULL) {
				*slot[j] = v;
				taken = true;
			}
		}
		if (!taken)
			rest[n++] = argv[i];
	}
	if (n == 0 || strcmp(rest[0], "help") == 0 ||
	    strcmp(rest[0], "--help") == 0 || strcmp(rest[0], "-h") == 0) {
		usage(n == 0 ? stderr : stdout);
		free(rest);
		return n == 0 ? PTT_EXIT_USAGE : PTT_EXIT_OK;
	}
	for (c = commands; c->name != NULL; c++) {
		if (strcmp(c->name, rest[0]) == 0) {
			int r = c->run(&ctx, n, rest);
			if (r == PTT_EXIT_USAGE)
				fprintf(stderr, "usage: ptt %s %s\n", c->name, c->usage);
			free(rest);
			return r;
		}
	}
	say("unknown command \"%s\" (try ptt help)", rest[0]);
	free(rest);
	return PTT_EXIT_USAGE;
}
