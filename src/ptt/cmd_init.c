/*
 * cmd_init.c - `ptt init DOMAIN` and `ptt certs`: a new configuration
 * repository, the state directory (0711), the internal CA and one
 * certificate per service (docs/internal-tls.md).
 *
 *	ptt init DOMAIN --ip ADDR [--ip ADDR]... [--host NAME] [--acme production|
 *	    staging|URL] [--queue DIR] [--bare]
 *
 * The first commit holds ptt.conf, users/, zones/ and dns.policy. ptt.conf
 * has the global part and, unless --bare, a section for every service of
 * a deployment on this machine (stack.h): mx on 25, submission on 587 and
 * 465, ptt-dns on 53, the internal hops on loopback, ptt-acme getting the
 * certificate of the mail host (default mail.DOMAIN) from Let's Encrypt.
 * A second commit adds the zone ptt-dns serves (what ptt dns-records
 * --zone prints: NS, MX, the mail host's --ip addresses, SPF, DMARC).
 *
 * Trusts: the operator's arguments, after checking them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "conf/ca.h"
#include "conf/repo.h"
#include "conf/state.h"
#include "conf/users.h"
#include "ptt/cmd.h"
#include "ptt/stack.h"
#include "util/buf.h"
#include "util/mem.h"

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
    "key ptt. may update _acme-challenge.*%s. TXT\n";

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

#define LE_PRODUCTION "https://acme-v02.api.letsencrypt.org/directory"
#define LE_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"

/* The relay's queue: "queue" beside the state directory (the defaults
 * /var/lib/ptt/state and /var/lib/ptt/queue). */
static void
default_queue(const char *state, char *out, size_t outlen)
{
	char d[PATH_MAX];
	size_t n = ptt_strlcpy(d, state, sizeof(d));
	char *slash;

	while (n > 1 && d[n - 1] == '/')
		d[--n] = '\0';
	if ((slash = strrchr(d, '/')) == NULL)
		d[0] = '\0';
	else
		slash[slash == d ? 1 : 0] = '\0';
	ptt_strlcpy(out, d, outlen);
	if (d[0] != '\0' && strcmp(d, "/") != 0)
		ptt_strlcat(out, "/", outlen);
	ptt_strlcat(out, "queue", outlen);
}

/* An absolute path for a local repository or directory given relative. */
static void
absolute(const char *p, char *out, size_t outlen)
{
	out[0] = '\0';
	if (p[0] != '/' && getcwd(out, outlen) != NULL)
		ptt_strlcat(out, "/", outlen);
	ptt_strlcat(out, p, outlen);
}

struct init_opts {
	const char *domain, *host, *acme;
	const char *queue;
	struct buf v4, v6;
	bool bare;
};

static int
init_args(int argc, char **argv, struct init_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *v;
		bool miss = false;
		if (strcmp(argv[i], "--bare") == 0) {
			o->bare = true;
		} else if ((v = opt_value(argc, argv, &i, "--host", &miss))) {
			o->host = v;
		} else if ((v = opt_value(argc, argv, &i, "--acme", &miss))) {
			o->acme = strcmp(v, "production") == 0 ? LE_PRODUCTION :
			    strcmp(v, "staging") == 0 ? LE_STAGING : v;
			if (strncmp(o->acme, "https://", 8) != 0) {
				say("init: --acme production, staging or an "
				    "https:// directory URL");
				return PTT_EXIT_USAGE;
			}
		} else if ((v = opt_value(argc, argv, &i, "--queue", &miss))) {
			o->queue = v;
		} else if ((v = opt_value(argc, argv, &i, "--ip", &miss))) {
			unsigned char bin[16];
			struct buf *b = inet_pton(AF_INET, v, bin) == 1 ? &o->v4 :
			    inet_pton(AF_INET6, v, bin) == 1 ? &o->v6 : NULL;
			if (b == NULL) {
				say("init: --ip %s is not an IP address", v);
				return PTT_EXIT_USAGE;
			}
			buf_addf(b, "%s%s", b->len ? " " : "", v);
		} else if (miss) {
			say("init: %s needs a value", argv[i]);
			return PTT_EXIT_USAGE;
		} else if (argv[i][0] == '-') {
			say("init: unknown option %s", argv[i]);
			return PTT_EXIT_USAGE;
		} else if (o->domain != NULL) {
			say("init: one domain, please");
			return PTT_EXIT_USAGE;
		} else {
			o->domain = argv[i];
		}
	}
	return o->domain == NULL ? PTT_EXIT_USAGE : PTT_EXIT_OK;
}

/* A name is valid when postmaster@name is a valid address. */
static bool
domain_ok(const char *name)
{
	char check[300];

	snprintf(check, sizeof(check), "postmaster@%s", name);
	return strlen(name) <= 253 && addr_valid(check, strlen(check));
}

/* The second commit of a full init: the zone ptt-dns serves, as ptt
 * dns-records --zone writes it from the sections of the first. */
static int
init_zone(const struct ptt_ctx *ctx, struct conf_repo *r, const char *domain)
{
	struct buf z;
	char path[400], msg[400];
	int ret;

	buf_init(&z, 0);
	if ((ret = dns_records_text(ctx, true, &z)) == PTT_EXIT_OK) {
		snprintf(path, sizeof(path), "zones/%s.zone", domain);
		snprintf(msg, sizeof(msg), "ptt init %s: the zone (NS, MX, the "
		    "mail host, SPF, DMARC; the signer adds its DKIM keys)",
		    domain);
		struct conf_change ch = { path, z.data, z.len };
		ret = ctx_commit(r, &ch, 1, msg);
	}
	buf_free(&z);
	return ret;
}

int
cmd_init(const struct ptt_ctx *ctx, int argc, char **argv)
{
	struct conf_repo *r = NULL;
	struct conf_change ch[4];
	struct init_opts o;
	struct buf pol, conf;
	char head[CONF_COMMIT_HEX], err[512], msg[400], host[300];
	char cfg[PATH_MAX], st[PATH_MAX], queue[PATH_MAX];
	int ret;

	memset(&o, 0, sizeof(o));
	buf_init(&o.v4, 0);
	buf_init(&o.v6, 0);
	o.acme = LE_PRODUCTION;
	if ((ret = init_args(argc, argv, &o)) != PTT_EXIT_OK)
		goto out_opts;
	ret = PTT_EXIT_USAGE;
	if (!domain_ok(o.domain)) {
		say("init: \"%s\" is not a domain name", o.domain);
		goto out_opts;
	}
	snprintf(host, sizeof(host), "%s%s", o.host ? "" : "mail.",
	    o.host ? o.host : o.domain);
	if (!domain_ok(host)) {
		say("init: --host \"%s\" is not a host name", host);
		goto out_opts;
	}
	if (!o.bare && conf_url_is_remote(ctx->config)) {
		say("init: with a remote configuration repository, ptt.conf gets "
		    "the global part only (as with --bare): ptt-dns serves the "
		    "zones of a local work tree");
		o.bare = true;
	}
	if (!o.bare && o.v4.len == 0 && o.v6.len == 0) {
		say("init: --ip ADDR, the mail host's public address, is needed: "
		    "the zone's A/AAAA records, the name server's glue and SPF "
		    "come from it (--bare: only the global part of ptt.conf)");
		goto out_opts;
	}
	/* The state first: it is idempotent, so a failed init can be rerun. */
	if ((ret = init_state(ctx->state, o.domain, false)) != 0)
		goto out_opts;
	ret = PTT_EXIT_FAIL;
	if (!conf_url_is_remote(ctx->config) &&
	    conf_repo_create(ctx->config, "main", err, sizeof(err)) != 0) {
		say("init: %s", err);
		goto out_opts;
	}
	if ((ret = ctx_open_repo(ctx, &r)) != 0)
		goto out_opts;
	if (conf_repo_head(r, head) == 0) {
		say("init: %s has commits already (%.12s)", ctx->config, head);
		ret = PTT_EXIT_FAIL;
		goto out;
	}
	buf_init(&conf, 0);
	buf_addf(&conf, conf_template, o.domain, o.domain);
	if (!o.bare) {
		absolute(ctx->config, cfg, sizeof(cfg));
		absolute(ctx->state, st, sizeof(st));
		if (o.queue)
			absolute(o.queue, queue, sizeof(queue));
		else
			default_queue(st, queue, sizeof(queue));
		struct stack_layout l = {
			.domain = o.domain, .host = host, .config = cfg,
			.state = st, .queue = queue,
			.ipv4 = o.v4.len ? o.v4.data : "",
			.ipv6 = o.v6.len ? o.v6.data : "",
			/* "*": IPv6 and IPv4 (net.h), for the AAAA
			 * records of --ip. */
			.mx = "*:25", .submission = "*:587",
			.smtps = "*:465", .dns = "*:53",
			.status = "127.0.0.1:8080",
			.signer = 10025, .relay = 10026, .spamfilter = 10028,
			.resolver = 10053, .resolver_tls = 10853, .dns_port = 53,
			.acme = true, .acme_directory = o.acme,
		};
		stack_conf(&conf, &l);
	}
	ch[0] = (struct conf_change){ "ptt.conf", conf.data, conf.len };
	ch[1] = (struct conf_change){ "users/.keep", "", 0 };
	ch[2] = (struct conf_change){ "zones/.keep", "", 0 };
	buf_init(&pol, 0);
	buf_addf(&pol, policy_template, o.domain, o.domain, o.domain);
	ch[3] = (struct conf_change){ "dns.policy", pol.data, pol.len };
	snprintf(msg, sizeof(msg), "ptt init %s: configuration, users/, zones/ "
	    "and dns.policy", o.domain);
	ret = ctx_commit(r, ch, 4, msg);
	buf_free(&conf);
	buf_free(&pol);
	if (ret == PTT_EXIT_OK && !o.bare) {
		if ((ret = init_zone(ctx, r, o.domain)) == PTT_EXIT_OK &&
		    (mkdir(queue, 0700) != 0 && errno != EEXIST)) {
			say("init: mkdir %s: %s", queue, strerror(errno));
			ret = PTT_EXIT_FAIL;
		}
		if (ret == PTT_EXIT_OK && stack_permissions(cfg) != 0)
			ret = PTT_EXIT_FAIL;
	}
	if (ret == PTT_EXIT_OK) {
		printf("configuration in %s, state in %s\n", ctx->config, ctx->state);
		if (!o.bare)
			printf("next: ptt adduser NAME --forward REAL@ADDR (and a "
			    "user postmaster, or postmaster = NAME in [mx] and "
			    "[relay]: RFC 5321 4.5.1); publish what ptt "
			    "dns-records prints (NS and glue at the parent); "
			    "ptt up\n");
	}
out:
	conf_repo_close(r);
out_opts:
	buf_free(&o.v4);
	buf_free(&o.v6);
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
