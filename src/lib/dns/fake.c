/*
 * fake.c - the scripted resolver backend (fake.h) used by unit tests.
 *
 * Answers follow RFC 1034 4.3.2 in miniature: records of the type, else a
 * CNAME to follow, else NODATA for a name that exists (or has names below
 * it, RFC 8020), else NXDOMAIN. Record text is parsed by ldns into wire
 * rdata, so the shared rdata parser in resolve.c sees what it sees from
 * libunbound. Trusts its input (test fixtures), but rejects what it cannot
 * parse rather than guessing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns/fake.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

struct fake_rr {
	char *name;
	uint16_t type;
	uint8_t *rdata;
	size_t len;
};

struct fake_fail {
	char *name;
	uint16_t type;		/* 0: any */
	enum dns_status st;
};

struct fake_count {
	char *name;
	uint16_t type;
	unsigned n;
};

struct fake_dns {
	struct fake_rr *rr;
	size_t nrr;
	struct fake_fail *fail;
	size_t nfail;
	char **secure;
	size_t nsecure;
	struct fake_count *count;
	size_t ncount;
};

static char *
norm(const char *name)
{
	char out[DNS_NAME_TEXT_MAX];

	if (dns_name_normalise(name, out, sizeof(out)) != 0)
		return NULL;
	return xstrdup(out);
}

uint16_t
fake_dns_type(const char *s)
{
	ldns_rr_type t = ldns_get_rr_type_by_name(s);

	return (uint16_t)t;
}

int
fake_dns_add_rdata(struct fake_dns *f, const char *name, uint16_t type,
    const void *rdata, size_t len)
{
	char *n = norm(name);

	if (n == NULL || type == 0)
		return PTT_EINVAL;
	f->rr = xreallocarray(f->rr, f->nrr + 1, sizeof(*f->rr));
	f->rr[f->nrr].name = n;
	f->rr[f->nrr].type = type;
	f->rr[f->nrr].rdata = xmemdup(rdata, len);
	f->rr[f->nrr].len = len;
	f->nrr++;
	return 0;
}

int
fake_dns_add(struct fake_dns *f, const char *name, uint16_t type,
    const char *rdata)
{
	struct buf b;
	ldns_rr *rr = NULL;
	ldns_buffer *wire;
	char *tname = ldns_rr_type2str((ldns_rr_type)type);
	int ret = PTT_EINVAL;

	if (tname == NULL)
		fatal("ldns_rr_type2str failed");
	buf_init(&b, 0);
	buf_addf(&b, "x. 0 IN %s %s", tname, rdata);
	free(tname);
	if (ldns_rr_new_frm_str(&rr, b.data, 0, NULL, NULL) != LDNS_STATUS_OK ||
	    ldns_rr_get_type(rr) != type) {
		buf_free(&b);
		if (rr)
			ldns_rr_free(rr);
		return PTT_EINVAL;
	}
	buf_free(&b);
	wire = ldns_buffer_new(512);
	if (wire == NULL)
		fatal("ldns_buffer_new failed");
	if (ldns_rr_rdata2buffer_wire(wire, rr) == LDNS_STATUS_OK)
		ret = fake_dns_add_rdata(f, name, type, ldns_buffer_begin(wire),
		    ldns_buffer_position(wire));
	ldns_buffer_free(wire);
	ldns_rr_free(rr);
	return ret;
}

int
fake_dns_fail(struct fake_dns *f, const char *name, uint16_t type,
    enum dns_status st)
{
	char *n = norm(name);

	if (n == NULL)
		return PTT_EINVAL;
	f->fail = xreallocarray(f->fail, f->nfail + 1, sizeof(*f->fail));
	f->fail[f->nfail].name = n;
	f->fail[f->nfail].type = type;
	f->fail[f->nfail].st = st;
	f->nfail++;
	return 0;
}

int
fake_dns_secure(struct fake_dns *f, const char *name)
{
	char *n = norm(name);

	if (n == NULL)
		return PTT_EINVAL;
	f->secure = xreallocarray(f->secure, f->nsecure + 1,
	    sizeof(*f->secure));
	f->secure[f->nsecure++] = n;
	return 0;
}

static int
load_line(struct fake_dns *f, char *line)
{
	char *p = line, *name, *type;
	uint16_t t;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	name = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (*p == '\0')
		return PTT_EINVAL;
	*p++ = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	type = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (*p != '\0')
		*p++ = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (strcmp(type, "*") == 0)
		t = 0;
	else if ((t = fake_dns_type(type)) == 0)
		return PTT_EINVAL;
	if (strcmp(p, "!tempfail") == 0)
		return fake_dns_fail(f, name, t, DNS_TEMPFAIL);
	if (strcmp(p, "!bogus") == 0)
		return fake_dns_fail(f, name, t, DNS_BOGUS);
	if (strcmp(p, "!nxdomain") == 0)
		return fake_dns_fail(f, name, t, DNS_NXDOMAIN);
	if (strcmp(p, "!secure") == 0)
		return fake_dns_secure(f, name);
	if (t == 0)
		return PTT_EINVAL;
	return fake_dns_add(f, name, t, p);
}

int
fake_dns_load(struct fake_dns *f, const char *text, unsigned *lineno)
{
	unsigned no = 0;

	while (*text != '\0') {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		char *line = xstrndup(text, len);
		int ret;

		no++;
		if (len > 0 && line[len - 1] == '\r')
			line[len - 1] = '\0';
		ret = load_line(f, line);
		free(line);
		if (ret != 0) {
			if (lineno)
				*lineno = no;
			return ret;
		}
		text += len + (nl ? 1 : 0);
	}
	return 0;
}

int
fake_dns_load_file(struct fake_dns *f, const char *path, unsigned *lineno)
{
	FILE *fp = fopen(path, "r");
	struct buf b;
	char chunk[4096];
	size_t n;
	int ret;

	if (fp == NULL)
		return PTT_EIO;
	buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&b, chunk, n);
	fclose(fp);
	ret = fake_dns_load(f, b.data, lineno);
	buf_free(&b);
	return ret;
}

void
fake_dns_clear(struct fake_dns *f)
{
	for (size_t i = 0; i < f->nrr; i++) {
		free(f->rr[i].name);
		free(f->rr[i].rdata);
	}
	for (size_t i = 0; i < f->nfail; i++)
		free(f->fail[i].name);
	for (size_t i = 0; i < f->nsecure; i++)
		free(f->secure[i]);
	for (size_t i = 0; i < f->ncount; i++)
		free(f->count[i].name);
	free(f->rr);
	free(f->fail);
	free(f->secure);
	free(f->count);
	memset(f, 0, sizeof(*f));
}

unsigned
fake_dns_count(const struct fake_dns *f, const char *name, uint16_t type)
{
	char n[DNS_NAME_TEXT_MAX];
	unsigned total = 0;

	if (name != NULL && dns_name_normalise(name, n, sizeof(n)) != 0)
		return 0;
	for (size_t i = 0; i < f->ncount; i++) {
		if (name != NULL && strcmp(f->count[i].name, n) != 0)
			continue;
		if (type != 0 && f->count[i].type != type)
			continue;
		total += f->count[i].n;
	}
	return total;
}

static void
count(struct fake_dns *f, const char *name, uint16_t type)
{
	for (size_t i = 0; i < f->ncount; i++) {
		if (f->count[i].type == type &&
		    strcmp(f->count[i].name, name) == 0) {
			f->count[i].n++;
			return;
		}
	}
	f->count = xreallocarray(f->count, f->ncount + 1, sizeof(*f->count));
	f->count[f->ncount].name = xstrdup(name);
	f->count[f->ncount].type = type;
	f->count[f->ncount].n = 1;
	f->ncount++;
}

/* Does name exist, or have a name below it (an empty non-terminal)? */
static bool
name_exists(const struct fake_dns *f, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < f->nrr; i++) {
		const char *o = f->rr[i].name;
		size_t ol = strlen(o);

		if (strcmp(o, name) == 0)
			return true;
		if (ol > nl && o[ol - nl - 1] == '.' &&
		    strcmp(o + ol - nl, name) == 0)
			return true;
	}
	return false;
}

static const struct fake_fail *
find_fail(const struct fake_dns *f, const char *name, uint16_t type)
{
	const struct fake_fail *any = NULL;

	for (size_t i = 0; i < f->nfail; i++) {
		if (strcmp(f->fail[i].name, name) != 0)
			continue;
		if (f->fail[i].type == type)
			return &f->fail[i];
		if (f->fail[i].type == 0)
			any = &f->fail[i];
	}
	return any;
}

static bool
is_secure(const struct fake_dns *f, const char *name)
{
	for (size_t i = 0; i < f->nsecure; i++)
		if (strcmp(f->secure[i], name) == 0)
			return true;
	return false;
}

static void
fake_start(struct resolver *r, struct dns_query *q)
{
	struct fake_dns *f = resolver_backend(r);
	uint16_t type = dns_query_type(q);
	char name[DNS_NAME_TEXT_MAX];
	const uint8_t **rd = NULL;
	size_t *rl = NULL, n = 0;
	enum dns_sec sec;

	ptt_strlcpy(name, dns_query_name(q), sizeof(name));
	count(f, name, type);
	for (int hop = 0; hop <= 8; hop++) {
		const struct fake_fail *fl = find_fail(f, name, type);
		const struct fake_rr *cname = NULL;

		sec = is_secure(f, name) ? DNS_SEC_SECURE : DNS_SEC_INSECURE;
		for (size_t i = 0; i < f->nrr; i++) {
			if (strcmp(f->rr[i].name, name) != 0)
				continue;
			if (f->rr[i].type == type) {
				rd = xreallocarray(rd, n + 1, sizeof(*rd));
				rl = xreallocarray(rl, n + 1, sizeof(*rl));
				rd[n] = f->rr[i].rdata;
				rl[n] = f->rr[i].len;
				n++;
			} else if (f->rr[i].type == DNS_T_CNAME &&
			    cname == NULL) {
				cname = &f->rr[i];
			}
		}
		if (fl != NULL && (fl->type == type || n == 0)) {
			resolve_done(q, fl->st, fl->st == DNS_BOGUS ?
			    DNS_SEC_BOGUS : sec, 0, NULL, NULL, 0,
			    fl->st == DNS_TEMPFAIL ? "timeout (fake)" : NULL);
			goto out;
		}
		if (n > 0) {
			resolve_done(q, DNS_OK, sec, 300, rd, rl, n, NULL);
			goto out;
		}
		if (cname != NULL) {
			char target[DNS_NAME_TEXT_MAX];

			if (dns_name_from_wire(cname->rdata, cname->len,
			    target, sizeof(target)) != 0 ||
			    dns_name_normalise(target, name,
			    sizeof(name)) != 0)
				break;
			continue;
		}
		resolve_done(q, name_exists(f, name) ? DNS_NODATA :
		    DNS_NXDOMAIN, sec, 0, NULL, NULL, 0, NULL);
		goto out;
	}
	resolve_done(q, DNS_TEMPFAIL, DNS_SEC_INSECURE, 0, NULL, NULL, 0,
	    "CNAME loop or bad CNAME (fake)");
out:
	free(rd);
	free(rl);
}

static void
fake_free(struct resolver *r)
{
	struct fake_dns *f = resolver_backend(r);

	fake_dns_clear(f);
	free(f);
}

static const struct resolver_ops fake_ops = {
	.start = fake_start,
	.cancel = NULL,
	.free = fake_free,
};

struct resolver *
resolver_fake_new(struct event_base *base)
{
	return resolver_new_backend(base, &fake_ops,
	    xcalloc(1, sizeof(struct fake_dns)));
}

struct fake_dns *
resolver_fake(struct resolver *r)
{
	return resolver_ops(r) == &fake_ops ? resolver_backend(r) : NULL;
}
