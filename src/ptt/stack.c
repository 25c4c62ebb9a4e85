/*
 * stack.c - the service sections of ptt.conf for one machine (stack.h):
 * [pttd], [dns], [resolver], [acme], [relay], [signer], [spamfilter],
 * [mx], [submission] and [zone], each naming exactly the files and
 * addresses of the layout.
 *
 * Trusts: its caller's layout; the repository directory given to
 * stack_permissions (it walks it without following symbolic links).
 */
#define _XOPEN_SOURCE 700
#include "ptt/stack.h"

#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ptt/cmd.h"

/* The section's extra lines and the blank line that ends it. */
static void
end(struct buf *b, const struct stack_layout *l, enum stack_section s)
{
	if (l->extra[s] != NULL)
		buf_adds(b, l->extra[s]);
	buf_adds(b, "\n");
}

/* The internal certificate and key of a service, and the internal CA. */
static void
internal_tls(struct buf *b, const struct stack_layout *l, const char *prefix,
    const char *svc)
{
	buf_addf(b, "%scert = %s/tls/%s.pem\n%skey = %s/tls/%s.key\n"
	    "ca = %s/ca/ca.pem\n", prefix, l->state, svc, prefix, l->state, svc,
	    l->state);
}

/* The public certificate of mx and submission. */
static void
public_tls(struct buf *b, const struct stack_layout *l)
{
	if (l->acme)
		buf_addf(b, "cert = %s/certs/%s.pem\nkey = %s/certs/%s.key\n",
		    l->state, l->host, l->state, l->host);
	else
		buf_addf(b, "cert = %s\nkey = %s\n", l->cert, l->key);
}

/* DNS for the relay and the mx: ptt-resolver over DNS over TLS. */
static void
resolver_client(struct buf *b, const struct stack_layout *l)
{
	buf_addf(b, "dns_forward = 127.0.0.1@%d\ndns_tls = yes\n"
	    "dns_allow_localhost = yes\n", l->resolver_tls);
}

void
stack_conf(struct buf *b, const struct stack_layout *l)
{
	buf_addf(b, "\n# The services of this machine (ptt init; edit freely: "
	    "pttd rolls a\n# new commit out, `ptt check` first).\n");

	buf_addf(b, "[pttd]\nservices = dns resolver%s relay signer spamfilter "
	    "mx submission\nstatus = %s\n", l->acme ? " acme" : "", l->status);
	end(b, l, SEC_PTTD);

	/* ptt-dns serves the repository's zones/ and commits the updates
	 * the TSIG keys of the state directory may make (dns.policy). */
	buf_addf(b, "[dns]\nlisten = %s\nzones = %s/zones\ntsig-dir = %s/tsig\n"
	    "policy = %s/dns.policy\n", l->dns, l->config, l->state, l->config);
	end(b, l, SEC_DNS);

	buf_addf(b, "[resolver]\nstate = %s\nlisten = 127.0.0.1:%d\n"
	    "listen_tls = 127.0.0.1:%d\n", l->state, l->resolver,
	    l->resolver_tls);
	end(b, l, SEC_RESOLVER);

	if (l->acme) {
		buf_addf(b, "[acme]\ndirectory = %s\ncontact = mailto:postmaster@%s\n"
		    "names = %s\nzone = %s\ndns_primary = 127.0.0.1:%d\n"
		    "tsig_key = %s/tsig/ptt.key\nstate = %s\n",
		    l->acme_directory, l->domain, l->host, l->domain, l->dns_port,
		    l->state, l->state);
		end(b, l, SEC_ACME);
	}

	buf_addf(b, "[relay]\nlisten = 127.0.0.1:%d\n", l->relay);
	internal_tls(b, l, "", "relay");
	buf_addf(b, "queue_dir = %s\nhelo_name = %s\ndomains = %s\n"
	    "dsn_domain = %s\nconfig_repo = %s\nsrs_secret = %s/srs.key\n",
	    l->queue, l->host, l->domain, l->domain, l->config, l->state);
	resolver_client(b, l);
	end(b, l, SEC_RELAY);

	buf_addf(b, "[signer]\nlisten = 127.0.0.1:%d\n", l->signer);
	internal_tls(b, l, "", "signer");
	buf_addf(b, "relay = 127.0.0.1:%d\ndomains = %s\nstate = %s\n"
	    "config_repo = %s\ndns_primary = 127.0.0.1:%d\n"
	    "tsig_key = %s/tsig/ptt.key\nauthserv_id = %s\n", l->relay,
	    l->domain, l->state, l->config, l->dns_port, l->state, l->host);
	end(b, l, SEC_SIGNER);

	buf_addf(b, "[spamfilter]\nlisten = 127.0.0.1:%d\n", l->spamfilter);
	internal_tls(b, l, "", "spamfilter");
	buf_addf(b, "signer = 127.0.0.1:%d\n", l->signer);
	end(b, l, SEC_SPAMFILTER);

	buf_addf(b, "[mx]\nlisten = %s\nhostname = %s\ndomain = %s\n"
	    "authserv_id = %s\n", l->mx, l->host, l->domain, l->host);
	public_tls(b, l);
	internal_tls(b, l, "internal_", "mx");
	buf_addf(b, "spamfilter = 127.0.0.1:%d\nconfig_repo = %s\n"
	    "srs_secret = %s/srs.key\n", l->spamfilter, l->config, l->state);
	resolver_client(b, l);
	end(b, l, SEC_MX);

	buf_addf(b, "[submission]\nlisten_submission = %s\nlisten_smtps = %s\n"
	    "hostname = %s\ndomain = %s\n", l->submission, l->smtps, l->host,
	    l->domain);
	public_tls(b, l);
	internal_tls(b, l, "internal_", "submission");
	buf_addf(b, "signer = 127.0.0.1:%d\nconfig_repo = %s\n", l->signer,
	    l->config);
	end(b, l, SEC_SUBMISSION);

	/* What ptt dns-records and dns-check say the domain needs. */
	buf_addf(b, "[zone]\nprimary = 127.0.0.1:%d\nmail_host = %s\n",
	    l->dns_port, l->host);
	if (l->ipv4[0])
		buf_addf(b, "mail_ipv4 = %s\n", l->ipv4);
	if (l->ipv6[0])
		buf_addf(b, "mail_ipv6 = %s\n", l->ipv6);
	end(b, l, SEC_ZONE);
}

/* ---- permissions ---- */

static uid_t zones_uid;

/* Readable by others (and searchable where it is a directory or
 * executable by its owner), like chmod o+rX. */
static int
readable(const char *path, const struct stat *st, int type, struct FTW *f)
{
	mode_t m = st->st_mode & 07777;

	(void)f;
	if (type == FTW_SL)
		return 0;
	m |= S_IROTH;
	if (type == FTW_D || (m & S_IXUSR))
		m |= S_IXOTH;
	if (m != (st->st_mode & 07777) && chmod(path, m) != 0) {
		say("chmod %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
owned(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)f;
	if (type == FTW_SL || st->st_uid == zones_uid)
		return 0;
	if (lchown(path, zones_uid, (gid_t)-1) != 0) {
		say("chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
stack_permissions(const char *config)
{
	char zones[4200];
	struct passwd *pw;

	if (nftw(config, readable, 32, FTW_PHYS) != 0)
		return -1;
	if (geteuid() != 0)
		return 0;	/* the services stay this user too */
	if ((pw = getpwnam("nobody")) == NULL) {
		say("no user \"nobody\" to run ptt-dns as");
		return -1;
	}
	zones_uid = pw->pw_uid;
	snprintf(zones, sizeof(zones), "%s/zones", config);
	return nftw(zones, owned, 32, FTW_PHYS) == 0 ? 0 : -1;
}
