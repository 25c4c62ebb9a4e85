/*
 * cmd_acme.c - `ptt acme [status]`: the certificates ptt-acme keeps in the
 * state directory (certs/NAME.pem and NAME.key), one line each: names,
 * issuer, serial, validity, when renewal is due (two thirds of the
 * lifetime, as ptt-acme does it), whether the key beside it matches.
 * Exit 1 when there is none, or one is expired, has no usable key, or is
 * a day past its renewal time (ptt-acme's log says why).
 *
 * Renewal itself is ptt-acme's alone (the account key lives there).
 * `ptt acme renew` asks pttd for ptt-acme's pid and sends it SIGUSR1: it
 * renews now, whatever the age or the backoff (for instance once the
 * parent zone delegates to this machine's name server, so that DNS-01
 * can succeed). Without pttd: `ptt-acme -c ptt.conf --once --force`.
 * Trusts: the files in the state directory as far as OpenSSL parses them.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme/cert.h"
#include "conf/state.h"
#include "util/mem.h"
#include "cmd.h"

static void
fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "ok", "missing", "unreadable", "mode 0644 (not 0600)", "does not match" */
static const char *
key_state(const char *pem_path, char *buf, size_t len)
{
	char kpath[4096];
	struct stat st;
	FILE *f, *c;
	EVP_PKEY *k;
	X509 *x;
	int match;
	size_t n = strlen(pem_path);

	snprintf(kpath, sizeof(kpath), "%.*s.key", (int)(n - 4), pem_path);
	if (stat(kpath, &st) != 0)
		return "missing";
	if ((st.st_mode & 077) != 0) {
		snprintf(buf, len, "mode %04o (not 0600)",
		    (unsigned)(st.st_mode & 07777));
		return buf;
	}
	if ((f = fopen(kpath, "r")) == NULL)
		return "unreadable";
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if ((c = fopen(pem_path, "r")) == NULL) {
		EVP_PKEY_free(k);
		return "unreadable";
	}
	x = PEM_read_X509(c, NULL, NULL, NULL);
	fclose(c);
	match = k != NULL && x != NULL && X509_check_private_key(x, k) == 1;
	EVP_PKEY_free(k);
	X509_free(x);
	ERR_clear_error();
	return match ? "ok" : "does not match";
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
cmd_acme(const struct ptt_ctx *ctx, int argc, char **argv)
{
	char dir[4096], path[4400], kbuf[64], nb[32], na[32], due[32];
	char **files = NULL;
	size_t nfiles = 0;
	struct dirent *de;
	DIR *d;
	time_t now = time(NULL);
	int bad = 0;

	if (argc == 2 && strcmp(argv[1], "renew") == 0) {
		long pid;
		int ret;
		if ((ret = pttd_service_pid(ctx, "acme", &pid)) != PTT_EXIT_OK)
			return ret;
		if (kill((pid_t)pid, SIGUSR1) != 0) {
			say("acme: SIGUSR1 to pid %ld: %s", pid, strerror(errno));
			return PTT_EXIT_FAIL;
		}
		printf("ptt-acme (pid %ld) renews now: ptt logs acme; ptt acme "
		    "status\n", pid);
		return PTT_EXIT_OK;
	}
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "status") != 0)) {
		say("acme: usage: ptt acme [status|renew]");
		return PTT_EXIT_USAGE;
	}
	if (state_path(ctx->state, "certs", dir, sizeof(dir)) != 0 ||
	    (d = opendir(dir)) == NULL) {
		say("acme: no certificates in %s/certs: %s", ctx->state,
		    strerror(errno));
		return PTT_EXIT_FAIL;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 4 && de->d_name[0] != '.' &&
		    strcmp(de->d_name + l - 4, ".pem") == 0) {
			files = xreallocarray(files, nfiles + 1, sizeof(*files));
			files[nfiles++] = xstrdup(de->d_name);
		}
	}
	closedir(d);
	if (nfiles == 0) {
		say("acme: no certificates in %s (is ptt-acme running?)", dir);
		free(files);
		return PTT_EXIT_FAIL;
	}
	qsort(files, nfiles, sizeof(*files), by_name);
	for (size_t i = 0; i < nfiles; i++) {
		struct acme_cert_info ci;
		const char *ks, *state;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if ((f = fopen(path, "r")) == NULL ||
		    acme_cert_info_fp(f, NULL, 0, &ci) != 0) {
			printf("%s: unreadable or not a certificate\n", files[i]);
			if (f != NULL)
				fclose(f);
			bad = 1;
			continue;
		}
		fclose(f);
		ks = key_state(path, kbuf, sizeof(kbuf));
		fmt_time(ci.not_before, nb, sizeof(nb));
		fmt_time(ci.not_after, na, sizeof(na));
		fmt_time(acme_renew_at(&ci), due, sizeof(due));
		if (now >= ci.not_after)
			state = "EXPIRED";
		else if (now >= acme_renew_at(&ci) + 86400)
			state = "overdue: ptt-acme has not renewed it";
		else if (now >= acme_renew_at(&ci))
			state = "due: ptt-acme renews it now";
		else
			state = "ok";
		printf("%s: names=%s issuer=\"%s\" serial=%s valid %s..%s "
		    "renewal %s key=%s: %s\n", files[i], ci.names, ci.issuer,
		    ci.serial, nb, na, due, ks, state);
		if (strcmp(ks, "ok") != 0 || (strcmp(state, "ok") != 0 &&
		    strncmp(state, "due", 3) != 0))
			bad = 1;
	}
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	return bad ? PTT_EXIT_FAIL : PTT_EXIT_OK;
}
