/*
 * cmd_init.c - `ptt init DOMAIN` and `ptt certs`: a new configuration
 * repository (ptt.conf, users/, zones/ in one first commit), the state
 * directory (0700), the internal CA and one certificate per service
 * (docs/internal-tls.md).
 *
 * Trusts: the operator's arguments, after checking them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "conf/ca.h"
#include "conf/repo.h"
#include "conf/state.h"
#include "conf/users.h"
#include "ptt/cmd.h"
#include "util/buf.h"

/* The TSIG key ptt init makes, in the state directory. */
#define PTT_TSIG_KEY "tsig/ptt.key"

static const char conf_template[] =
    "# ptt.conf - the configuration of ptt for %s.\n"
    "#\n"
    "# This repository is the whole configuration: this file, users/ (one\n"
    "# file per user: ptt adduser, ptt passwd, ptt deluser) and zones/.\n"
    "# Secrets (DKIM, TSIG and CA keys) are not here: they live in the\n"
    "# state directory, one 0600 file each.\n"
    "#\n"
    "# Lines before any [section] apply to every service; a service reads\n"
    "# its own [section] (e.g. [submission], [relay]).\n"
    "#\n"
    "# DNS updates: ptt init made the TSIG key STATE/" PTT_TSIG_KEY " (key\n"
    "# \"ptt\"); dns.policy here says what it may update. Give ptt-dns\n"
    "# tsig-dir = STATE/tsig and policy = CONFIG/dns.policy, and the signer\n"
    "# and ptt-acme tsig_key = STATE/" PTT_TSIG_KEY ".\n"
    "domain = %s\n";

/* What the key ptt init makes may update in the domain's zone. */
static const char policy_template[] =
    "# dns.policy - what each TSIG key may change through ptt-dns (RFC 2136).\n"
    "# The signer publishes DKIM keys, ptt spf the SPF record, ptt-acme\n"
    "# its DNS-01 challenges.\n"
    "key ptt. may update *._domainkey.%s. TXT\n"
    "key ptt. may update %s. TXT\n"
    "key ptt. may update _acme-challenge.%s. TXT\n";

/* Set up the state directory, the CA and the service certificates. */
static int
init_state(const char *state, const char *domain, bool force_certs)
{
	char err[512];
	bool created, issued;
	size_t i;

	if (state_init(state, err, sizeof(err)) != 0) {
		say("%s", err);
		return PTT_EXIT_FAIL;
	}
	if (ca_ensure(state, domain, &created, err, sizeof(err)) != 0) {
		say("internal CA: %s", err);
		return PTT_EXIT_FAIL;
	}
	if (created)
		printf("created the internal CA in %s/ca\n", state);
	for (i = 0; ca_services[i] != NULL; i++) {
		int r;
		if (force_certs) {
			r = ca_issue(state, ca_services[i], NULL, 0, 0, err, sizeof(err));
			issued = r == 0;
		} else {
			r = ca_ensure_cert(state, ca_services[i], NULL, 0, 0,
			    &issued, err, sizeof(err));
		}
		if (r != 0) {
			say("certificate for %s: %s", ca_services[i], err);
			return PTT_EXIT_FAIL;
		}
		if (issued)
			printf("issued %s/tls/%s.pem for %s.internal\n", state,
			    ca_services[i], ca_services[i]);
	}
	if (!state_exists(state, PTT_TSIG_KEY)) {
		/* The key the signer (DKIM records), ptt spf and ptt-acme
		 * (challenges) sign their updates to ptt-dns with. */
		unsigned char raw[32];
		char b64[64], text[128];
		int n;
		if (RAND_bytes(raw, sizeof(raw)) != 1) {
			say("no randomness for the TSIG key");
			return PTT_EXIT_FAIL;
		}
		EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
		n = snprintf(text, sizeof(text), "ptt:hmac-sha256:%s\n", b64);
		if (state_mkparents(state, PTT_TSIG_KEY, err, sizeof(err)) != 0 ||
		    state_write_secret(state, PTT_TSIG_KEY, text, (size_t)n, err,
		    sizeof(err)) != 0) {
			say("TSIG key: %s", err);
			return PTT_EXIT_FAIL;
		}
		printf("created the TSIG key %s/%s\n", state, PTT_TSIG_KEY);
	}
	return PTT_EXIT_OK;
}

int
cmd_init(const struct ptt_ctx *ctx, int argc, char **argv)
{
	struct conf_repo *r = NULL;
	struct conf_change ch[4];
	struct buf pol;
	char head[CONF_COMMIT_HEX], err[512], msg[400], check[300];
	const char *domain = NULL;
	struct buf conf;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && strcmp(argv[i], "--") != 0) {
			say("init: unknown option %s", argv[i]);
			return PTT_EXIT_USAGE;
		}
		if (strcmp(argv[i], "--") == 0 && ++i >= argc)
			break;
		if (domain != NULL) {
			say("init: one domain, please");
			return PTT_EXIT_USAGE;
		}
		domain = argv[i];
	}
	if (domain == NULL)
		return PTT_EXIT_USAGE;
	/* A domain is valid when postmaster@domain is a valid address. */
	snprintf(check, sizeof(check), "postmaster@%s", domain);
	if (strlen(domain) > 253 || !addr_valid(check, strlen(check))) {
		say("init: \"%s\" is not a domain name", domain);
		return PTT_EXIT_USAGE;
	}
	/* The state first: it is idempotent, so a failed init can be rerun. */
	if ((ret = init_state(ctx->state, domain, false)) != 0)
		return ret;
	if (!conf_url_is_remote(ctx->config) &&
	    conf_repo_create(ctx->config, "main", err, sizeof(err)) != 0) {
		say("init: %s", err);
		return PTT_EXIT_FAIL;
	}
	if ((ret = ctx_open_repo(ctx, &r)) != 0)
		return ret;
	if (conf_repo_head(r, head) == 0) {
		say("init: %s has commits already (%.12s)", ctx->config, head);
		conf_repo_close(r);
		return PTT_EXIT_FAIL;
	}
	buf_init(&conf, 0);
	buf_addf(&conf, conf_template, domain, domain);
	ch[0] = (struct conf_change){ "ptt.conf", conf.data, conf.len };
	ch[1] = (struct conf_change){ "users/.keep", "", 0 };
	ch[2] = (struct conf_change){ "zones/.keep", "", 0 };
	buf_init(&pol, 0);
	buf_addf(&pol, policy_template, domain, domain, domain);
	ch[3] = (struct conf_change){ "dns.policy", pol.data, pol.len };
	snprintf(msg, sizeof(msg), "ptt init %s: configuration, users/, zones/ "
	    "and dns.policy", domain);
	ret = ctx_commit(r, ch, 4, msg);
	buf_free(&conf);
	buf_free(&pol);
	conf_repo_close(r);
	if (ret == PTT_EXIT_OK)
		printf("configuration in %s, state in %s\n", ctx->config, ctx->state);
	return ret;
}

int
cmd_certs(const struct ptt_ctx *ctx, int argc, char **argv)
{
	bool force = false, new_ca = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (strcmp(argv[i], "--new-ca") == 0)
			new_ca = force = true;
		else {
			say("certs: unknown argument %s", argv[i]);
			return PTT_EXIT_USAGE;
		}
	}
	if (!state_exists(ctx->state, "ca/ca.key")) {
		say("certs: no internal CA in %s (run ptt init first)", ctx->state);
		return PTT_EXIT_FAIL;
	}
	if (new_ca) {
		/* Keep the old CA as *.old: certificates are re-issued below. */
		static const char *const f[] = { "ca/ca.key", "ca/ca.pem" };
		char from[4096], to[4200], err[512];
		size_t k;
		for (k = 0; k < 2; k++) {
			state_path(ctx->state, f[k], from, sizeof(from));
			snprintf(to, sizeof(to), "%s.old", from);
			if (rename(from, to) != 0) {
				say("certs: rename %s: %s", from, strerror(errno));
				return PTT_EXIT_FAIL;
			}
		}
		if (ca_create(ctx->state, NULL, err, sizeof(err)) != 0) {
			say("certs: new CA: %s", err);
			return PTT_EXIT_FAIL;
		}
		printf("created a new internal CA in %s/ca (the old one is "
		    "ca.key.old, ca.pem.old)\n", ctx->state);
	}
	return init_state(ctx->state, NULL, force);
}
