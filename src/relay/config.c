/*
 * config.c - ptt-relay's parameters (util/param.h): the single source for
 * ptt.conf's [relay] section, `ptt-relay -o name=value` and
 * `ptt-relay --defaults`. Trusts nothing: param.c checks every value.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "relay/relay.h"

#define O(f) offsetof(struct relay_config, f)

const struct param relay_params[] = {
	{ "listen", PARAM_STR, "127.0.0.1:10026", 0, 0, NULL, O(listen),
	  "internal listener (host:port) for the signer and the spamfilter" },
	{ "implicit_tls", PARAM_BOOL, "no", 0, 0, NULL, O(implicit_tls),
	  "TLS from the first byte on the listener instead of STARTTLS" },
	{ "cert", PARAM_STR, NULL, 0, 0, NULL, O(cert),
	  "PEM certificate of the internal listener (internal CA)" },
	{ "key", PARAM_STR, NULL, 0, 0, NULL, O(key),
	  "PEM private key of the internal listener" },
	{ "ca", PARAM_STR, NULL, 0, 0, NULL, O(ca),
	  "PEM internal CA that client certificates must chain to" },
	{ "allowed_peers", PARAM_STR, "signer.internal spamfilter.internal",
	  0, 0, NULL, O(allowed_peers),
	  "space-separated names, one of which a client certificate must carry; "
	  "anyone else gets 421" },
	{ "require_tls_peers", PARAM_STR, "signer.internal", 0, 0, NULL,
	  O(require_tls_peers),
	  "peers whose X-Ptt-Require-TLS: yes header makes a message TLS-only "
	  "(the header is removed from every message)" },
	{ "queue_dir", PARAM_STR, "/var/lib/ptt/queue", 0, 0, NULL,
	  O(queue_dir), "the durable queue directory (queue/queue.h)" },
	{ "pid_file", PARAM_STR, "", 0, 0, NULL, O(pid_file),
	  "pid file for `ptt-relay queue retry`; empty: <queue_dir>/relay.pid" },
	RESOLVER_PARAMS(struct relay_config, dns),
	{ "remote_port", PARAM_INT, "25", 1, 65535, NULL, O(remote_port),
	  "TCP port of the remote MXs" },
	{ "helo_name", PARAM_STR, "localhost", 0, 0, NULL, O(helo_name),
	  "our name in EHLO and in DSNs' Reporting-MTA" },
	{ "dsn_domain", PARAM_STR, "", 0, 0, NULL, O(dsn_domain),
	  "domain of MAILER-DAEMON@ in DSNs; empty: helo_name" },
	{ "outbound_tls", PARAM_ENUM, "opportunistic", 0, 0,
	  "none|opportunistic|required", O(outbound_tls),
	  "STARTTLS policy toward MXs; a message marked require-TLS always "
	  "uses at least required" },
	{ "ipv6", PARAM_BOOL, "yes", 0, 0, NULL, O(ipv6),
	  "deliver over IPv6 (AAAA records)" },
	{ "ipv4", PARAM_BOOL, "yes", 0, 0, NULL, O(ipv4),
	  "deliver over IPv4 (A records)" },
	{ "max_conn", PARAM_INT, "100", 1, 10000, NULL, O(max_conn),
	  "outbound connections at once, in all" },
	{ "max_conn_dest", PARAM_INT, "10", 1, 1000, NULL, O(max_conn_dest),
	  "outbound connections at once to one destination domain" },
	{ "retry_min", PARAM_TIME, "5m", 1, 86400, NULL, O(retry_min),
	  "first retry after a temporary failure; doubles per attempt" },
	{ "retry_max", PARAM_TIME, "4h", 1, 604800, NULL, O(retry_max),
	  "longest wait between two attempts" },
	{ "max_lifetime", PARAM_TIME, "5d", 1, 5184000, NULL, O(max_lifetime),
	  "a message still undelivered after this bounces (4.4.7)" },
	{ "delay_notice", PARAM_TIME, "4h", 0, 5184000, NULL, O(delay_notice),
	  "send one delay DSN after this (0: never); NOTIFY absent counts "
	  "as FAILURE,DELAY" },
	{ "reuse_idle", PARAM_TIME, "5s", 0, 3600, NULL, O(reuse_idle),
	  "keep an idle outbound connection this long for the next message to "
	  "the same domain (0: no reuse across batches)" },
	{ "connect_timeout", PARAM_TIME, "30s", 1, 600, NULL,
	  O(connect_timeout), "TCP connect timeout toward an MX" },
	{ "stop_timeout", PARAM_TIME, "30s", 0, 3600, NULL, O(stop_timeout),
	  "on SIGTERM, wait this long for deliveries in flight" },
	{ "max_size", PARAM_SIZE, "50m", 1024, 4294967296LL, NULL, O(max_size),
	  "largest message accepted" },
	{ "max_rcpts", PARAM_INT, "1000", 1, 100000, NULL, O(max_rcpts),
	  "recipients per message" },
	{ "sandbox", PARAM_BOOL, "yes", 0, 0, NULL, O(sandbox),
	  "restrict the process after startup (util/sandbox.h)" },
	{ "sandbox_debug", PARAM_BOOL, "no", 0, 0, NULL, O(sandbox_debug),
	  "name a refused system call instead of dying silently" },
	{ "user", PARAM_STR, "nobody", 0, 0, NULL, O(user),
	  "user to run as when started as root (the queue is handed to it)" },
	{ "domains", PARAM_STR, "", 0, 0, NULL, O(domains),
	  "local mail domains (space-separated): their recipients are "
	  "replaced by the users' forward addresses, the sender rewritten by "
	  "SRS; empty: the relay only delivers" },
	{ "config_repo", PARAM_STR, "/var/lib/ptt/config", 0, 0, NULL,
	  O(config_repo), "the configuration repository (users/), when "
	  "domains is set" },
	{ "branch", PARAM_STR, NULL, 0, 0, NULL, O(branch),
	  "its branch (default: its HEAD)" },
	{ "reload_interval", PARAM_TIME, "5s", 1, 3600, NULL,
	  O(reload_interval), "how often to look for a new commit of users" },
	{ "postmaster", PARAM_STR, "postmaster", 0, 0, NULL, O(postmaster),
	  "the user that receives mail for postmaster@ a local domain" },
	{ "srs_secret", PARAM_STR, "/var/lib/ptt/state/srs.key", 0, 0, NULL,
	  O(srs_secret), "file of SRS secrets (0600, made on first start; "
	  "the mx reads the same file)" },
	{ "srs_domain", PARAM_STR, "", 0, 0, NULL, O(srs_domain),
	  "domain of rewritten senders (SRS0=...@it); empty: the first of "
	  "domains" },
	{ "srs_max_age", PARAM_INT, "21", 1, 1000, NULL, O(srs_max_age),
	  "days an SRS address stays valid for bounces" },
	PARAM_END
};

bool
relay_word_in(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p != NULL && *p != '\0';) {
		size_t w;

		p += strspn(p, " \t,");
		w = strcspn(p, " \t,");
		if (w == n && w > 0 && strncasecmp(p, name, n) == 0)
			return true;
		p += w;
	}
	return false;
}

void
relay_domain_of(const char *addr, char *out, size_t outlen)
{
	const char *at = strrchr(addr, '@');
	size_t i = 0;

	if (outlen == 0)
		return;
	if (at != NULL)
		for (at++; *at != '\0' && i + 1 < outlen; at++)
			out[i++] = (char)tolower((unsigned char)*at);
	out[i] = '\0';
}

const char *
relay_pid_file(const struct relay_config *cfg)
{
	static char path[4096];

	if (cfg->pid_file != NULL && cfg->pid_file[0] != '\0')
		snprintf(path, sizeof(path), "%s", cfg->pid_file);
	else
		snprintf(path, sizeof(path), "%s/relay.pid", cfg->queue_dir);
	return path;
}
