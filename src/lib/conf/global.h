/*
 * global.h - ptt.conf read straight from the configuration repository.
 *
 * ptt.conf (util/param.h syntax) has a global part — the lines before any
 * [section] — read by every service with conf_global_params, and one
 * [section] per service read with that service's own parameter table.
 * conf_params_load() reads the blob at a commit (never a work tree) and
 * applies a table to one section, so every service parses the same bytes
 * the same way, and `ptt check`-style validation needs no checkout.
 *
 * Trusts: nothing in ptt.conf; param_load_mem checks every value.
 */
#ifndef PTT_CONF_GLOBAL_H
#define PTT_CONF_GLOBAL_H

#include <stddef.h>

#include "util/param.h"

struct conf_repo;

#define CONF_FILE "ptt.conf"
#define CONF_FILE_MAX (1024 * 1024)

struct conf_global {
	char *domain;	/* the mail domain (required) */
};

extern const struct param conf_global_params[];

/*
 * Set obj to tab's defaults, then apply `section` of ptt.conf at commit
 * (NULL: head; section NULL: the global part). 0, or a PTT_E* code with
 * "ptt.conf:LINE: reason" in err. Free obj's strings with param_free().
 */
int conf_params_load(struct conf_repo *r, const char *commit,
    const struct param *tab, void *obj, const char *section, char *err,
    size_t errlen);

/* The global part, with domain checked to be a domain name. */
int conf_global_load(struct conf_repo *r, const char *commit,
    struct conf_global *g, char *err, size_t errlen);
void conf_global_free(struct conf_global *g);

#endif
