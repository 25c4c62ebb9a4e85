/*
 * param.c - parse, validate and list parameter tables (see param.h).
 *
 * Trusts: nothing in the text it parses; every value is checked against
 * its table entry before it is stored.
 */
#include "util/param.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"

#define FIELD(obj, p, type) ((type *)(void *)((char *)(obj) + (p)->offset))
#define CFIELD(obj, p, type) ((const type *)(const void *)((const char *)(obj) + (p)->offset))

const struct param *
param_find(const struct param *tab, const char *name)
{
	for (; tab->name != NULL; tab++)
		if (strcmp(tab->name, name) == 0)
			return tab;
	return NULL;
}

/* Parse digits with an optional one-letter unit; mult maps units. */
static int
parse_scaled(const char *v, const char *units, const unsigned long long *mult,
    unsigned long long *out)
{
	unsigned long long n = 0, m = 1;
	const char *p = v, *u;

	if (!isdigit((unsigned char)*p))
		return PTT_EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (n > (ULLONG_MAX - d) / 10)
			return PTT_ERANGE;
		n = n * 10 + d;
	}
	if (*p != '\0') {
		if (p[1] != '\0' || (u = strchr(units, tolower((unsigned char)*p))) == NULL)
			return PTT_EINVAL;
		m = mult[u - units];
	}
	if (m != 0 && n > ULLONG_MAX / m)
		return PTT_ERANGE;
	*out = n * m;
	return 0;
}

static int
check_bounds(const struct param *p, long long v, char *err, size_t errlen)
{
	if ((p->min != 0 || p->max != 0) && (v < p->min || v > p->max)) {
		snprintf(err, errlen, "%s: %lld is outside %lld..%lld", p->name,
		    v, p->min, p->max);
		return PTT_ERANGE;
	}
	return 0;
}

static int
set_value(const struct param *p, void *obj, const char *v, char *err,
    size_t errlen)
{
	static const unsigned long long size_mult[] = { 1024ULL, 1024ULL * 1024,
		1024ULL * 1024 * 1024 };
	static const unsigned long long time_mult[] = { 1, 60, 3600, 86400, 604800 };
	unsigned long long u;
	long long ll;
	char *end;
	int r;

	switch (p->type) {
	case PARAM_STR:
		free(*FIELD(obj, p, char *));
		*FIELD(obj, p, char *) = v ? xstrdup(v) : NULL;
		return 0;
	case PARAM_INT:
		errno = 0;
		ll = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno != 0) {
			snprintf(err, errlen, "%s: \"%s\" is not an integer", p->name, v);
			return PTT_EINVAL;
		}
		if ((r = check_bounds(p, ll, err, errlen)) != 0)
			return r;
		*FIELD(obj, p, long long) = ll;
		return 0;
	case PARAM_BOOL:
		if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
		    !strcasecmp(v, "on") || !strcmp(v, "1"))
			*FIELD(obj, p, bool) = true;
		else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
		    !strcasecmp(v, "off") || !strcmp(v, "0"))
			*FIELD(obj, p, bool) = false;
		else {
			snprintf(err, errlen, "%s: \"%s\" is not yes or no", p->name, v);
			return PTT_EINVAL;
		}
		return 0;
	case PARAM_SIZE:
	case PARAM_TIME:
		r = p->type == PARAM_SIZE ? parse_scaled(v, "kmg", size_mult, &u) :
		    parse_scaled(v, "smhdw", time_mult, &u);
		if (r != 0 || u > LLONG_MAX) {
			snprintf(err, errlen, "%s: \"%s\" is not a %s", p->name, v,
			    p->type == PARAM_SIZE ? "size (like 10m)" :
			    "duration (like 5m)");
			return r == PTT_ERANGE || u > LLONG_MAX ? PTT_ERANGE : PTT_EINVAL;
		}
		if ((r = check_bounds(p, (long long)u, err, errlen)) != 0)
			return r;
		if (p->type == PARAM_SIZE)
			*FIELD(obj, p, unsigned long long) = u;
		else
			*FIELD(obj, p, long long) = (long long)u;
		return 0;
	case PARAM_ENUM: {
		const char *c = p->choices;
		size_t n = strlen(v);
		int i = 0;
		while (c != NULL && *c) {
			const char *bar = strchr(c, '|');
			size_t len = bar ? (size_t)(bar - c) : strlen(c);
			if (len == n && strncmp(c, v, n) == 0) {
				*FIELD(obj, p, int) = i;
				return 0;
			}
			c = bar ? bar + 1 : NULL;
			i++;
		}
		snprintf(err, errlen, "%s: \"%s\" is not one of %s", p->name, v,
		    p->choices);
		return PTT_EINVAL;
	}
	}
	panic("param %s: bad type", p->name);
}

int
param_defaults(const struct param *tab, void *obj, char *err, size_t errlen)
{
	int r;

	for (; tab->name != NULL; tab++) {
		if (tab->def == NULL) {
			if (tab->type == PARAM_STR)
				*FIELD(obj, tab, char *) = NULL;
			continue;
		}
		if (tab->type == PARAM_STR)
			*FIELD(obj, tab, char *) = NULL;
		if ((r = set_value(tab, obj, tab->def, err, errlen)) != 0)
			return r;
	}
	return 0;
}

int
param_set(const struct param *tab, void *obj, const char *name,
    const char *value, char *err, size_t errlen)
{
	const struct param *p = param_find(tab, name);

	if (p == NULL) {
		snprintf(err, errlen, "unknown parameter \"%s\"", name);
		return PTT_ENOENT;
	}
	return set_value(p, obj, value, err, errlen);
}

static char *
trim(char *s, char *e)
{
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	return s;
}

int
param_load_mem(const struct param *tab, void *obj, const char *text,
    size_t len, const char *name, const char *section, char *err,
    size_t errlen)
{
	char *copy = xmemdup(text, len), *line = copy, *next, *eq, *k, *v;
	bool in = section == NULL;
	unsigned char seen[256] = { 0 };
	int lineno = 0, r = 0;
	size_t n = 0;
	char why[256];

	for (const struct param *p = tab; p->name; p++)
		n++;
	if (n > sizeof(seen))
		panic("parameter table too large");
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte", name);
		free(copy);
		return PTT_EINVAL;
	}
	for (; line != NULL && line < copy + len; line = next) {
		lineno++;
		next = memchr(line, '\n', (size_t)(copy + len - line));
		if (next != NULL)
			*next++ = '\0';
		k = trim(line, line + strlen(line));
		if (*k == '\0' || *k == '#')
			continue;
		if (*k == '[') {
			char *close = strchr(k, ']');
			if (close == NULL || close[1] != '\0') {
				snprintf(err, errlen, "%s:%d: bad section header", name, lineno);
				r = PTT_EINVAL;
				break;
			}
			*close = '\0';
			in = section != NULL && strcmp(trim(k + 1, close), section) == 0;
			continue;
		}
		if ((eq = strchr(k, '=')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected name = value", name, lineno);
			r = PTT_EINVAL;
			break;
		}
		if (!in)
			continue;
		v = trim(eq + 1, eq + 1 + strlen(eq + 1));
		k = trim(k, eq);
		const struct param *p = param_find(tab, k);
		if (p == NULL) {
			snprintf(err, errlen, "%s:%d: unknown parameter \"%s\"", name, lineno, k);
			r = PTT_ENOENT;
			break;
		}
		if (seen[p - tab]++) {
			snprintf(err, errlen, "%s:%d: \"%s\" is set twice", name, lineno, k);
			r = PTT_EEXIST;
			break;
		}
		if ((r = set_value(p, obj, v, why, sizeof(why))) != 0) {
			snprintf(err, errlen, "%s:%d: %s", name, lineno, why);
			break;
		}
	}
	free(copy);
	return r;
}

int
param_load(const struct param *tab, void *obj, const char *path,
    const char *section, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct buf b;
	char chunk[4096];
	size_t n;
	int r;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return PTT_EIO;
	}
	buf_init(&b, 1 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	if (buf_error(&b)) {
		snprintf(err, errlen, "%s: larger than 1 MiB", path);
		buf_free(&b);
		return PTT_ENOSPC;
	}
	r = param_load_mem(tab, obj, b.data, b.len, path, section, err, errlen);
	buf_free(&b);
	return r;
}

void
param_print(const struct param *tab, const void *obj, FILE *f, bool docs)
{
	for (; tab->name != NULL; tab++) {
		if (docs)
			fprintf(f, "# %s\n", tab->doc);
		switch (tab->type) {
		case PARAM_STR: {
			const char *s = *CFIELD(obj, tab, char *);
			fprintf(f, "%s = %s\n", tab->name, s ? s : "");
			break;
		}
		case PARAM_INT:
		case PARAM_TIME:
			fprintf(f, "%s = %lld%s\n", tab->name,
			    *CFIELD(obj, tab, long long),
			    tab->type == PARAM_TIME ? "s" : "");
			break;
		case PARAM_BOOL:
			fprintf(f, "%s = %s\n", tab->name,
			    *CFIELD(obj, tab, bool) ? "yes" : "no");
			break;
		case PARAM_SIZE:
			fprintf(f, "%s = %llu\n", tab->name,
			    *CFIELD(obj, tab, unsigned long long));
			break;
		case PARAM_ENUM: {
			int i = *CFIELD(obj, tab, int);
			const char *c = tab->choices;
			while (i-- > 0 && c != NULL && (c = strchr(c, '|')) != NULL)
				c++;
			fprintf(f, "%s = %.*s\n", tab->name,
			    c ? (int)strcspn(c, "|") : 0, c ? c : "");
			break;
		}
		}
	}
}

void
param_free(const struct param *tab, void *obj)
{
	for (; tab->name != NULL; tab++)
		if (tab->type == PARAM_STR) {
			free(*FIELD(obj, tab, char *));
			*FIELD(obj, tab, char *) = NULL;
		}
}

void
param_main(const struct param *tab, void *obj, const char *section, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		{ "defaults", no_argument, NULL, 'D' },
		{ "check", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 }
	};
	const char *file = NULL;
	char **sets = xcalloc((size_t)argc + 1, sizeof(*sets));
	char err[512];
	int ch, nsets = 0, defaults = 0, check = 0;

	if (param_defaults(tab, obj, err, sizeof(err)) != 0)
		panic("%s", err);
	while ((ch = getopt_long(argc, argv, "c:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': file = optarg; break;
		case 'o': sets[nsets++] = optarg; break;
		case 'D': defaults = 1; break;
		case 'C': check = 1; break;
		default: goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	if (defaults) {
		param_print(tab, obj, stdout, true);
		free(sets);
		exit(0);
	}
	if (file != NULL && param_load(tab, obj, file, section, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		goto fail;
	}
	for (int i = 0; i < nsets; i++) {
		char *eq = strchr(sets[i], '=');
		if (eq == NULL) {
			fprintf(stderr, "%s: -o %s: expected name=value\n",
			    argv[0], sets[i]);
			goto fail;
		}
		char *name = xstrndup(sets[i], (size_t)(eq - sets[i]));
		int r = param_set(tab, obj, name, eq + 1, err, sizeof(err));
		free(name);
		if (r != 0) {
			fprintf(stderr, "%s: -o %s: %s\n", argv[0], sets[i], err);
			goto fail;
		}
	}
	free(sets);
	if (check) {
		printf("%s: [%s] of %s checks\n", argv[0], section,
		    file ? file : "(no file)");
		param_free(tab, obj);
		exit(0);
	}
	return;
usage:
	fprintf(stderr, "usage: %s [-c ptt.conf] [-o name=value]... "
	    "[--defaults] [--check]\n", argv[0]);
fail:
	/* exit(2) without leaks, so a sanitizer build reports nothing */
	free(sets);
	param_free(tab, obj);
	exit(2);
}
