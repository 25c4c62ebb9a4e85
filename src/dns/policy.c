/*
 * policy.c - TSIG keys and the update/transfer/notify policy of ptt-dns.
 *
 * The policy format is documented in dnsd.h. Keys are RFC 8945 shared
 * secrets (hmac-sha256), one 0600 file each. Trusts: the operator's files,
 * parsed strictly (an unknown word is an error naming the line).
 */
#include "dnsd.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/err.h"
#include "util/mem.h"

void
dnsd_init(struct dnsd *d)
{
	memset(d, 0, sizeof(*d));
}

void
dnsd_free(struct dnsd *d)
{
	struct zone *z, *next;

	for (z = d->zones; z != NULL; z = next) {
		next = z->next;
		zone_free(z);
	}
	ptt_memzero(d->keys, d->nkeys * sizeof(*d->keys));
	free(d->keys);
	for (size_t i = 0; i < d->nrules; i++) {
		free(d->rules[i].key);
		free(d->rules[i].pattern);
		free(d->rules[i].addr);
	}
	free(d->rules);
	memset(d, 0, sizeof(*d));
}

uint64_t
dnsd_now(const struct dnsd *d)
{
	return d->clock ? d->clock() : (uint64_t)time(NULL);
}

void
dnsd_key_add(struct dnsd *d, const struct tsig_key *k)
{
	for (size_t i = 0; i < d->nkeys; i++)
		if (strcmp(d->keys[i].name, k->name) == 0) {
			d->keys[i] = *k;
			return;
		}
	d->keys = xreallocarray(d->keys, d->nkeys + 1, sizeof(*d->keys));
	d->keys[d->nkeys++] = *k;
}

const struct tsig_key *
dnsd_key_find(const struct dnsd *d, const char *name)
{
	for (size_t i = 0; i < d->nkeys; i++)
		if (strcmp(d->keys[i].name, name) == 0)
			return &d->keys[i];
	return NULL;
}

int
dnsd_keys_load(struct dnsd *d, const char *dir, char *err, size_t errlen)
{
	DIR *dp;
	struct dirent *de;
	int ret = 0;

	if ((dp = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return PTT_EIO;
	}
	while (ret == 0 && (de = readdir(dp)) != NULL) {
		char path[4096];
		struct tsig_key k;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((ret = tsig_key_load(&k, path, err, errlen)) == 0)
			dnsd_key_add(d, &k);
		ptt_memzero(&k, sizeof(k));
	}
	closedir(dp);
	return ret;
}

static void
absolute_lower(char *dst, size_t len, const char *src)
{
	size_t n = ptt_strlcpy(dst, src, len);

	for (char *p = dst; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (n > 0 && n + 1 < len && dst[n - 1] != '.') {
		dst[n] = '.';
		dst[n + 1] = '\0';
	}
}

int
dnsd_policy_line(struct dnsd *d, const char *line, char *err, size_t errlen)
{
	char *w[4 + DNSD_TYPES_MAX], copy[1024], *save = NULL, *p;
	size_t n = 0;
	struct dnsd_rule r;
	char name[512];

	if (ptt_strlcpy(copy, line, sizeof(copy)) >= sizeof(copy)) {
		snprintf(err, errlen, "line too long");
		return PTT_EINVAL;
	}
	if ((p = strchr(copy, '#')) != NULL)
		*p = '\0';
	for (p = strtok_r(copy, " \t\r\n", &save); p != NULL;
	    p = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == sizeof(w) / sizeof(w[0])) {
			snprintf(err, errlen, "too many words");
			return PTT_EINVAL;
		}
		w[n++] = p;
	}
	if (n == 0)
		return 0;
	memset(&r, 0, sizeof(r));
	if (n >= 4 && strcmp(w[0], "key") == 0 && strcmp(w[2], "may") == 0 &&
	    strcmp(w[3], "update") == 0 && n >= 5) {
		r.kind = RULE_UPDATE;
		absolute_lower(name, sizeof(name), w[4]);
		r.pattern = xstrdup(name);
		for (size_t i = 5; i < n; i++) {
			uint16_t t = ldns_get_rr_type_by_name(w[i]);
			if (t == 0) {
				free(r.pattern);
				snprintf(err, errlen, "unknown type %s", w[i]);
				return PTT_EINVAL;
			}
			r.types[r.ntypes++] = t;
		}
		absolute_lower(name, sizeof(name), w[1]);
		r.key = xstrdup(name);
	} else if (n == 5 && strcmp(w[0], "key") == 0 &&
	    strcmp(w[2], "may") == 0 && strcmp(w[3], "transfer") == 0) {
		r.kind = RULE_XFR_KEY;
		absolute_lower(name, sizeof(name), w[1]);
		r.key = xstrdup(name);
		absolute_lower(name, sizeof(name), w[4]);
		r.pattern = xstrdup(name);
	} else if (n == 5 && strcmp(w[0], "address") == 0 &&
	    strcmp(w[2], "may") == 0 && strcmp(w[3], "transfer") == 0) {
		r.kind = RULE_XFR_ADDR;
		r.addr = xstrdup(w[1]);
		absolute_lower(name, sizeof(name), w[4]);
		r.pattern = xstrdup(name);
	} else if ((n == 3 || (n == 5 && strcmp(w[3], "key") == 0)) &&
	    strcmp(w[0], "notify") == 0) {
		r.kind = RULE_NOTIFY;
		absolute_lower(name, sizeof(name), w[1]);
		r.pattern = xstrdup(name);
		r.addr = xstrdup(w[2]);
		if (n == 5) {
			absolute_lower(name, sizeof(name), w[4]);
			r.key = xstrdup(name);
		}
	} else {
		snprintf(err, errlen, "expected \"key NAME may update GLOB "
		    "[TYPE...]\", \"key NAME may transfer ZONE\", \"address IP "
		    "may transfer ZONE\" or \"notify ZONE IP:PORT [key NAME]\"");
		return PTT_EINVAL;
	}
	d->rules = xreallocarray(d->rules, d->nrules + 1, sizeof(*d->rules));
	d->rules[d->nrules++] = r;
	return 0;
}

int
dnsd_policy_load(struct dnsd *d, const char *path, char *err, size_t errlen)
{
	FILE *f;
	char line[1024], why[512];
	int lineno = 0, ret = 0;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return PTT_EIO;
	}
	while (ret == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if ((ret = dnsd_policy_line(d, line, why, sizeof(why))) != 0)
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
	}
	fclose(f);
	return ret;
}

bool
dnsd_may_update(const struct dnsd *d, const char *key, const char *name,
    uint16_t type)
{
	if (type == LDNS_RR_TYPE_SOA || type_is_dnssec(type))
		return false;
	for (size_t i = 0; i < d->nrules; i++) {
		const struct dnsd_rule *r = &d->rules[i];
		if (r->kind != RULE_UPDATE || strcmp(r->key, key) != 0 ||
		    fnmatch(r->pattern, name, 0) != 0)
			continue;
		if (r->ntypes == 0)
			return true;
		for (size_t j = 0; j < r->ntypes; j++)
			if (r->types[j] == type)
				return true;
	}
	return false;
}

bool
dnsd_may_transfer(const struct dnsd *d, const char *zone, const char *key,
    const char *addr)
{
	for (size_t i = 0; i < d->nrules; i++) {
		const struct dnsd_rule *r = &d->rules[i];
		if (strcmp(r->pattern, zone) != 0)
			continue;
		if (r->kind == RULE_XFR_KEY && key != NULL &&
		    strcmp(r->key, key) == 0)
			return true;
		if (r->kind == RULE_XFR_ADDR && addr != NULL &&
		    strcmp(r->addr, addr) == 0)
			return true;
	}
	return false;
}
