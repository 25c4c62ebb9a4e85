/*
 * daemon.h - ptt-acme's configuration and the one issuance it performs
 * (issue.c), shared with its main loop (acme.c).
 */
#ifndef PTT_ACME_DAEMON_H
#define PTT_ACME_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "acme/cert.h"
#include "acme/client.h"
#include "dns/tsig.h"

struct config {
	char *directory;
	char *ca;
	char *contact;
	char *names;
	char *zone;
	char *dns_primary;
	char *tsig_key;
	bool dns_tcp;
	long long txt_ttl;
	long long propagation_wait;
	char *state;
	long long retry_min, retry_max;
	long long poll_timeout;
	long long timeout;
	char *notify_pidfiles;
	char *notify_command;
	bool allow_http;
	bool sandbox;
	bool sandbox_debug;
	char *user;
};

/* What issue() needs; filled in by main. */
struct acme_ctx {
	const struct config *cfg;
	struct acme_client *client;
	EVP_PKEY *account_key;		/* held by main */
	struct tsig_key tsig;
	char zone[256];			/* absolute */
	char **names;			/* from cfg->names */
	size_t nnames;
	char certs_dir[4096];		/* <state>/certs */
	int certs_fd;			/* that directory, opened at start */
	char cert_file[300];		/* <first name>.pem, in certs_fd */
	char key_file[300];		/* <first name>.key */
	char cert_path[4096];		/* <certs>/<first name>.pem, for logs */
};

/* Read the certificate file (a->cert_file); 0, PTT_ENOENT or PTT_EINVAL. */
int cert_info_read(const struct acme_ctx *a, struct acme_cert_info *ci);

/*
 * Order a certificate for a->names through DNS-01, write key and chain
 * into the certs directory. 0 with *ci describing the new certificate,
 * else PTT_ETEMP/PTT_EPROTO/... with a reason in err and *retry_after set
 * to the server's Retry-After (seconds, 0: none).
 */
int issue(struct acme_ctx *a, struct acme_cert_info *ci, long *retry_after,
    char *err, size_t errlen);

#endif
