/*
 * param.h - parameter tables: the single source for a daemon's settings.
 *
 * Each daemon declares a table of its parameters (name, type, default,
 * bounds, documentation, and where the value lives in its config struct).
 * The same table parses ptt.conf, validates values, lists defaults
 * (`ptt config --defaults`) and produces the documentation, in the way of
 * Postfix's and Unbound's parameter tables.
 *
 * ptt.conf syntax: `# comment`, `[section]`, `name = value`. Values run to
 * the end of the line (surrounding white space removed). A name that the
 * table does not know, a value that does not parse or is out of bounds, or
 * a duplicate is an error naming the file and line.
 *
 * Value types: STR (char *, owned by the struct; param_free releases it),
 * INT (long long, decimal, within [min, max]), BOOL (bool: yes/no, true/
 * false, on/off, 1/0), SIZE (unsigned long long; suffixes k, m, g as powers
 * of 1024), TIME (long long seconds; suffixes s, m, h, d, w), ENUM (int
 * index into the '|'-separated choices).
 */
#ifndef PTT_UTIL_PARAM_H
#define PTT_UTIL_PARAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum param_type { PARAM_STR, PARAM_INT, PARAM_BOOL, PARAM_SIZE, PARAM_TIME, PARAM_ENUM };

struct param {
	const char *name;
	enum param_type type;
	const char *def;	/* default, written as in the file; NULL: unset */
	long long min, max;	/* INT, SIZE, TIME bounds (both 0: unbounded) */
	const char *choices;	/* ENUM: "a|b|c" */
	size_t offset;		/* offsetof(struct config, field) */
	const char *doc;	/* one sentence for docs and listings */
};

#define PARAM_END { NULL, PARAM_STR, NULL, 0, 0, NULL, 0, NULL }

/* Set every parameter to its default. 0 or PTT_EINVAL (a bad default is a
 * bug: err names it). */
int param_defaults(const struct param *tab, void *obj, char *err, size_t errlen);
/* Set one parameter from text. 0, PTT_ENOENT (unknown name), PTT_EINVAL or
 * PTT_ERANGE, with a reason in err. */
int param_set(const struct param *tab, void *obj, const char *name,
    const char *value, char *err, size_t errlen);
/* Read name = value lines of one [section] of a file (section NULL: lines
 * before any section header). Lines of other sections are skipped. */
int param_load(const struct param *tab, void *obj, const char *path,
    const char *section, char *err, size_t errlen);
/* Same from a string in memory (for git blobs); name is used in errors. */
int param_load_mem(const struct param *tab, void *obj, const char *text,
    size_t len, const char *name, const char *section, char *err,
    size_t errlen);
/* Print "name = value" for each parameter (with "# doc" lines when docs). */
void param_print(const struct param *tab, const void *obj, FILE *f, bool docs);
/* Release STR values. */
void param_free(const struct param *tab, void *obj);
/*
 * A daemon's command line, the same for every ptt daemon:
 *   -c FILE        read section `section` of FILE (ptt.conf syntax)
 *   -o NAME=VALUE  set one parameter (repeatable; after the file)
 *   --defaults     print every parameter with its documentation, exit 0
 *   --check        load the file and the -o settings, say so, exit 0
 *                  (`ptt check` runs it for every service of a commit)
 * Defaults are applied first. Any error is printed with usage and exits 2.
 */
void param_main(const struct param *tab, void *obj, const char *section,
    int argc, char **argv);

/* Look a parameter up by name, or NULL. */
const struct param *param_find(const struct param *tab, const char *name);

#endif
