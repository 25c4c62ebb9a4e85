/*
 * dnssec.c - per-zone DNSSEC keys in the state directory.
 *
 * Implements RFC 6605 (ECDSA P-256, algorithm 13) key generation through
 * ldns, RFC 4034 2 (DNSKEY, flags 257: zone key + SEP) and 5 (DS, SHA-256
 * digest, RFC 4509). Trusts: the state directory (created 0700, key files
 * written 0600 and refused when readable by others).
 */
#include "dnssec.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/mem.h"

#define KEY_FLAGS 257

static void
key_prepare(ldns_key *k, const char *zone)
{
	ldns_rdf *owner = ldns_dname_new_frm_str(zone);

	ldns_dname2canonical(owner);
	ldns_key_set_pubkey_owner(k, owner);
	ldns_key_set_flags(k, KEY_FLAGS);
	ldns_rr *rr = ldns_key2rr(k);
	ldns_key_set_keytag(k, ldns_calc_keytag(rr));
	ldns_rr_free(rr);
}

int
dnssec_keys_load(const char *state_dir, const char *zone, bool create,
    ldns_key_list **out, char *err, size_t errlen)
{
	char path[4096];
	ldns_key *k = NULL;
	FILE *f;
	struct stat st;
	ldns_status s;

	*out = NULL;
	size_t zl = strlen(zone);
	if (zl > 1 && zone[zl - 1] == '.')
		zl--;		/* Kexample.test.private */
	if ((size_t)snprintf(path, sizeof(path), "%s/K%.*s.private", state_dir,
	    (int)zl, zone) >= sizeof(path)) {
		snprintf(err, errlen, "state path too long");
		return PTT_EINVAL;
	}
	if ((f = fopen(path, "r")) != NULL) {
		if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
			snprintf(err, errlen, "%s: readable by others (chmod 600)",
			    path);
			fclose(f);
			return PTT_EPERM;
		}
		s = ldns_key_new_frm_fp(&k, f);
		fclose(f);
		if (s != LDNS_STATUS_OK) {
			snprintf(err, errlen, "%s: %s", path,
			    ldns_get_errorstr_by_id(s));
			return PTT_EINVAL;
		}
	} else if (errno == ENOENT && create) {
		if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", state_dir, strerror(errno));
			return PTT_EIO;
		}
		k = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);
		if (k == NULL) {
			snprintf(err, errlen, "cannot generate a key for %s", zone);
			return PTT_ECRYPTO;
		}
		char tmp[4200];
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
			snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
			if (fd >= 0)
				close(fd);
			ldns_key_deep_free(k);
			return PTT_EIO;
		}
		ldns_key_print(f, k);
		bool bad = fflush(f) != 0 || fsync(fd) != 0;
		bad |= fclose(f) != 0;
		if (bad || rename(tmp, path) != 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			unlink(tmp);
			ldns_key_deep_free(k);
			return PTT_EIO;
		}
	} else {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return PTT_EIO;
	}
	key_prepare(k, zone);
	*out = ldns_key_list_new();
	ldns_key_list_push_key(*out, k);
	return 0;
}

void
dnssec_print_ds(FILE *f, const ldns_key_list *keys)
{
	for (size_t i = 0; i < ldns_key_list_key_count(keys); i++) {
		ldns_rr *k = ldns_key2rr(ldns_key_list_key(keys, i));
		ldns_rr *ds = ldns_key_rr2ds(k, LDNS_SHA256);
		if (ds != NULL) {
			ldns_rr_set_ttl(ds, 3600);
			ldns_rr_print(f, ds);
		}
		ldns_rr_free(ds);
		ldns_rr_free(k);
	}
}
