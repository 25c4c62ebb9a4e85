/*
 * update_tool.c - ptt-dns-update: send one TSIG-signed RFC 2136 UPDATE
 * (dns/update.h) from the command line; for tests and operators.
 *
 *   ptt-dns-update -s 127.0.0.1:53 -z example.test. -k KEYFILE [-T]
 *       OP RR [OP RR ...]
 *   OP: add, replace, del-rrset, del-rr, del-name (updates);
 *       yxrrset, yxrrset-value, nxrrset, yxdomain, nxdomain (prerequisites)
 *
 * Prints the response's RCODE; exits 0 for NOERROR, 1 for another RCODE or
 * an unverifiable response, 2 for usage errors.
 * Trusts: the key file (mode 0600) and the server's signed answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/update.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

static const struct {
	const char *name;
	bool prereq;
	int kind;
} ops[] = {
	{ "add", false, DNSU_ADD }, { "replace", false, DNSU_REPLACE },
	{ "del-rrset", false, DNSU_DEL_RRSET }, { "del-rr", false, DNSU_DEL_RR },
	{ "del-name", false, DNSU_DEL_NAME },
	{ "yxrrset", true, DNSP_YXRRSET },
	{ "yxrrset-value", true, DNSP_YXRRSET_VALUE },
	{ "nxrrset", true, DNSP_NXRRSET }, { "yxdomain", true, DNSP_YXDOMAIN },
	{ "nxdomain", true, DNSP_NXDOMAIN },
};

static void
usage(void)
{
	fprintf(stderr, "usage: ptt-dns-update -s HOST:PORT -z ZONE [-k KEYFILE] "
	    "[-T] OP RR [OP RR ...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct dns_update_req req = { .timeout_ms = 5000 };
	struct dns_update_res res;
	struct tsig_key key;
	struct dns_update_op *pre, *upd;
	char err[512];
	int ch, ret;

	log_init("ptt-dns-update");
	while ((ch = getopt(argc, argv, "s:z:k:T")) != -1) {
		switch (ch) {
		case 's': req.server = optarg; break;
		case 'z': req.zone = optarg; break;
		case 'k':
			if (tsig_key_load(&key, optarg, err, sizeof(err)) != 0) {
				fprintf(stderr, "ptt-dns-update: %s\n", err);
				return 2;
			}
			req.key = &key;
			break;
		case 'T': req.tcp = true; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (req.server == NULL || req.zone == NULL || argc == 0 || argc % 2)
		usage();
	pre = xcalloc((size_t)argc / 2, sizeof(*pre));
	upd = xcalloc((size_t)argc / 2, sizeof(*upd));
	for (int i = 0; i < argc; i += 2) {
		size_t j;
		for (j = 0; j < sizeof(ops) / sizeof(ops[0]); j++)
			if (strcmp(ops[j].name, argv[i]) == 0)
				break;
		if (j == sizeof(ops) / sizeof(ops[0]))
			usage();
		struct dns_update_op o = { ops[j].kind, argv[i + 1] };
		if (ops[j].prereq)
			pre[req.nprereq++] = o;
		else
			upd[req.nupd++] = o;
	}
	req.prereq = pre;
	req.upd = upd;
	ret = dns_update_send(&req, &res, err, sizeof(err));
	free(pre);
	free(upd);
	if (ret != 0 && ret != PTT_ECRYPTO) {
		fprintf(stderr, "ptt-dns-update: %s\n", err);
		return 1;
	}
	printf("%s", dns_rcode_name(res.rcode));
	if (res.tsig_error)
		printf(" tsig=%s", dns_tsig_error_name(res.tsig_error));
	printf("\n");
	if (ret != 0) {
		fprintf(stderr, "ptt-dns-update: %s\n", err);
		return 1;
	}
	return res.rcode == 0 ? 0 : 1;
}
