/*
 * global.c - ptt.conf from a commit, through parameter tables (global.h).
 *
 * Trusts: nothing in ptt.conf.
 */
#include "conf/global.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/repo.h"
#include "conf/users.h"
#include "util/err.h"

const struct param conf_global_params[] = {
	{ "domain", PARAM_STR, NULL, 0, 0, NULL,
	  offsetof(struct conf_global, domain),
	  "The mail domain: users are NAME@domain." },
	PARAM_END
};

int
conf_params_load(struct conf_repo *r, const char *commit,
    const struct param *tab, void *obj, const char *section, char *err,
    size_t errlen)
{
	char *text;
	size_t len;
	int ret;

	if ((ret = param_defaults(tab, obj, err, errlen)) != 0)
		return ret;
	ret = conf_repo_read(r, commit, CONF_FILE, CONF_FILE_MAX, &text, &len);
	if (ret != 0) {
		snprintf(err, errlen, "%s: %s", CONF_FILE, ret == PTT_ENOSPC ?
		    "file too large" : ptt_strerror(ret));
		return ret;
	}
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: NUL byte in file", CONF_FILE);
		free(text);
		return PTT_EINVAL;
	}
	ret = param_load_mem(tab, obj, text, len, CONF_FILE, section, err, errlen);
	free(text);
	return ret;
}

int
conf_global_load(struct conf_repo *r, const char *commit,
    struct conf_global *g, char *err, size_t errlen)
{
	char check[300];
	int ret;

	memset(g, 0, sizeof(*g));
	ret = conf_params_load(r, commit, conf_global_params, g, NULL, err, errlen);
	if (ret != 0) {
		conf_global_free(g);
		return ret;
	}
	if (g->domain == NULL) {
		snprintf(err, errlen, "%s: no domain", CONF_FILE);
		return PTT_EINVAL;
	}
	snprintf(check, sizeof(check), "postmaster@%s", g->domain);
	if (strlen(g->domain) > 253 || !addr_valid(check, strlen(check))) {
		snprintf(err, errlen, "%s: domain \"%.80s\" is not a domain name",
		    CONF_FILE, g->domain);
		conf_global_free(g);
		return PTT_EINVAL;
	}
	return 0;
}

void
conf_global_free(struct conf_global *g)
{
	param_free(conf_global_params, g);
}
