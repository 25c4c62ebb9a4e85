/*
 * zone.c - zone data for ptt-dns: parse, check, build the served view,
 * sign, write back atomically, journal for IXFR.
 *
 * Implements RFC 1035 5 (master files, through ldns' record reader, with
 * line numbers), RFC 1982 3.2 (serial comparison), RFC 2181 10.1 (CNAME
 * alone at its name), RFC 4035 2 and RFC 5155 (zone signing, through
 * ldns, NSEC or NSEC3).
 * Trusts: nothing in a zone file until zone_check() passed.
 */
#include "zone.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

int
serial_cmp(uint32_t a, uint32_t b)
{
	const uint32_t half = UINT32_C(1) << 31;

	if (a == b)
		return 0;
	if ((a < b && b - a < half) || (a > b && a - b > half))
		return -1;
	if ((a < b && b - a > half) || (a > b && a - b < half))
		return 1;
	return 2;
}

uint32_t
serial_next(uint32_t old, time_t now)
{
	uint32_t n = old + 1;
	uint32_t t = (uint32_t)now;

	/* a serial that already is a Unix time keeps following the clock */
	if (old > 1000000000u && old < 4000000000u && serial_cmp(t, n) == 1)
		return t;
	return n;
}

bool
type_is_dnssec(ldns_rr_type t)
{
	return t == LDNS_RR_TYPE_RRSIG || t == LDNS_RR_TYPE_NSEC ||
	    t == LDNS_RR_TYPE_NSEC3 || t == LDNS_RR_TYPE_NSEC3PARAM ||
	    t == LDNS_RR_TYPE_DNSKEY;
}

static int
rr_cmp_v(const void *a, const void *b)
{
	ldns_rr *const *x = a, *const *y = b;

	return ldns_rr_compare(*x, *y);
}

void
zone_rrs_normalise(ldns_rr_list *rrs)
{
	size_t n = ldns_rr_list_rr_count(rrs), o = 0;
	ldns_rr **v;

	if (n < 2)
		return;
	v = xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = ldns_rr_list_rr(rrs, i);
	qsort(v, n, sizeof(*v), rr_cmp_v);
	for (size_t i = 0; i < n; i++) {
		if (o > 0 && ldns_rr_compare(v[o - 1], v[i]) == 0) {
			ldns_rr_free(v[i]);
			continue;
		}
		v[o++] = v[i];
	}
	for (size_t i = 0; i < o; i++)
		ldns_rr_list_set_rr(rrs, v[i], i);
	ldns_rr_list_set_rr_count(rrs, o);
	free(v);
}

int
zone_check(const ldns_rdf *origin, const ldns_rr_list *rrs, char *err,
    size_t errlen)
{
	size_t n = ldns_rr_list_rr_count(rrs), nsoa = 0;

	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		const ldns_rdf *o = ldns_rr_owner(rr);
		ldns_rr_type t = ldns_rr_get_type(rr);
		char *s;

		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
			s = ldns_rdf2str(o);
			snprintf(err, errlen, "%s: class is not IN", s);
			free(s);
			return PTT_EINVAL;
		}
		if (ldns_dname_compare(o, origin) != 0 &&
		    !ldns_dname_is_subdomain(o, origin)) {
			s = ldns_rdf2str(o);
			snprintf(err, errlen, "%s: outside the zone", s);
			free(s);
			return PTT_EINVAL;
		}
		if (t == LDNS_RR_TYPE_SOA) {
			if (ldns_dname_compare(o, origin) != 0) {
				s = ldns_rdf2str(o);
				snprintf(err, errlen, "%s: SOA not at the apex", s);
				free(s);
				return PTT_EINVAL;
			}
			nsoa++;
		}
		if (t == LDNS_RR_TYPE_CNAME) {
			if (ldns_dname_compare(o, origin) == 0) {
				snprintf(err, errlen, "CNAME at the apex");
				return PTT_EINVAL;
			}
			for (size_t j = 0; j < n; j++) {
				const ldns_rr *r2 = ldns_rr_list_rr(rrs, j);
				ldns_rr_type t2 = ldns_rr_get_type(r2);
				if (j == i || ldns_dname_compare(ldns_rr_owner(r2), o) != 0)
					continue;
				if (t2 == LDNS_RR_TYPE_CNAME || !type_is_dnssec(t2)) {
					s = ldns_rdf2str(o);
					snprintf(err, errlen, "%s: CNAME and other data", s);
					free(s);
					return PTT_EINVAL;
				}
			}
		}
	}
	if (nsoa != 1) {
		snprintf(err, errlen, nsoa ? "more than one SOA" : "no SOA record");
		return PTT_EINVAL;
	}
	return 0;
}

/* The line of the first record text at or after offset pos: ldns' own
 * line counter is off by one around directives and comments. */
static int
line_at(FILE *f, long pos)
{
	int line = 1, c;
	long off = 0;

	if (fseek(f, 0, SEEK_SET) != 0)
		return 0;
	while ((c = getc(f)) != EOF) {
		if (off++ >= pos) {
			if (c == ';')		/* a comment runs to the newline */
				while ((c = getc(f)) != EOF && c != '\n')
					;
			else if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
				return line;
		}
		if (c == '\n')
			line++;
	}
	return line > 1 ? line - 1 : 1;
}

int
zone_parse(const char *name, FILE *f, const char *fname, bool strip_dnssec,
    ldns_rr_list **out, char *err, size_t errlen)
{
	ldns_rdf *origin = ldns_dname_new_frm_str(name), *prev = NULL;
	ldns_rdf *cur_origin;
	ldns_rr_list *rrs;
	uint32_t ttl = 3600;
	int line = 1;
	int ret = 0;

	*out = NULL;
	if (origin == NULL || !ldns_dname_str_absolute(name)) {
		ldns_rdf_deep_free(origin);
		snprintf(err, errlen, "%s: bad zone name %s", fname, name);
		return PTT_EINVAL;
	}
	cur_origin = ldns_rdf_clone(origin);
	rrs = ldns_rr_list_new();
	while (!feof(f)) {
		ldns_rr *rr = NULL;
		long pos = ftell(f);
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &cur_origin,
		    &prev, &line);

		if (st == LDNS_STATUS_SYNTAX_EMPTY ||
		    st == LDNS_STATUS_SYNTAX_TTL ||
		    st == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;
		if (st == LDNS_STATUS_SYNTAX_INCLUDE) {
			snprintf(err, errlen, "%s:%d: $INCLUDE is not allowed",
			    fname, line_at(f, pos));
			ret = PTT_EINVAL;
			break;
		}
		if (st != LDNS_STATUS_OK) {
			/* ldns counts the line it stopped on; a record that
			 * ended at EOF without a newline is still the last */
			if (feof(f) && rr == NULL &&
			    st == LDNS_STATUS_SYNTAX_ERR)
				break;
			snprintf(err, errlen, "%s:%d: %s", fname, line_at(f, pos),
			    ldns_get_errorstr_by_id(st));
			ret = PTT_EINVAL;
			break;
		}
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    (ldns_dname_compare(ldns_rr_owner(rr), origin) != 0 &&
		    !ldns_dname_is_subdomain(ldns_rr_owner(rr), origin))) {
			char *s = ldns_rdf2str(ldns_rr_owner(rr));
			snprintf(err, errlen, "%s:%d: %s: %s", fname,
			    line_at(f, pos), s,
			    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ?
			    "class is not IN" : "outside the zone");
			free(s);
			ldns_rr_free(rr);
			ret = PTT_EINVAL;
			break;
		}
		if (strip_dnssec && type_is_dnssec(ldns_rr_get_type(rr))) {
			ldns_rr_free(rr);
			continue;
		}
		ldns_dname2canonical(ldns_rr_owner(rr));
		ldns_rr_list_push_rr(rrs, rr);
	}
	if (ret == 0) {
		zone_rrs_normalise(rrs);
		char why[256];
		if (zone_check(origin, rrs, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s: %s", fname, why);
			ret = PTT_EINVAL;
		}
	}
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(cur_origin);
	ldns_rdf_deep_free(prev);
	if (ret != 0) {
		ldns_rr_list_deep_free(rrs);
		return ret;
	}
	*out = rrs;
	return 0;
}

struct zone *
zone_new(const char *name)
{
	struct zone *z = xcalloc(1, sizeof(*z));

	z->name = xstrdup(name);
	for (char *p = z->name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	z->origin = ldns_dname_new_frm_str(z->name);
	if (z->origin == NULL)
		fatal("zone name %s", name);
	ldns_dname2canonical(z->origin);
	return z;
}

static void
free_db(ldns_dnssec_zone *db, ldns_rr_list *added)
{
	ldns_dnssec_zone_deep_free(db);
	ldns_rr_list_free(added);
}

void
zone_journal_clear(struct zone *z)
{
	for (size_t i = 0; i < z->njournal; i++) {
		ldns_rr_free(z->journal[i].old_soa);
		ldns_rr_free(z->journal[i].new_soa);
		ldns_rr_list_deep_free(z->journal[i].removed);
		ldns_rr_list_deep_free(z->journal[i].added);
	}
	z->njournal = 0;
}

void
zone_journal_add(struct zone *z, ldns_rr *old_soa, ldns_rr *new_soa,
    ldns_rr_list *removed, ldns_rr_list *added)
{
	if (z->njournal == ZONE_JOURNAL_MAX) {
		struct zone_diff *d = &z->journal[0];
		ldns_rr_free(d->old_soa);
		ldns_rr_free(d->new_soa);
		ldns_rr_list_deep_free(d->removed);
		ldns_rr_list_deep_free(d->added);
		memmove(&z->journal[0], &z->journal[1],
		    (ZONE_JOURNAL_MAX - 1) * sizeof(z->journal[0]));
		z->njournal--;
	}
	z->journal[z->njournal++] = (struct zone_diff){ old_soa, new_soa,
	    removed, added };
}

void
zone_free(struct zone *z)
{
	if (z == NULL)
		return;
	free_db(z->db, z->db_added);
	ldns_rr_list_deep_free(z->rrs);
	zone_journal_clear(z);
	if (z->keys != NULL)
		ldns_key_list_free(z->keys);
	ldns_rdf_deep_free(z->origin);
	free(z->name);
	free(z->path);
	free(z);
}

ldns_rr *
zone_soa(const struct zone *z)
{
	if (z->rrs == NULL)
		return NULL;
	for (size_t i = 0; i < ldns_rr_list_rr_count(z->rrs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(z->rrs, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
			return rr;
	}
	return NULL;
}

uint32_t
zone_serial(const struct zone *z)
{
	ldns_rr *soa = zone_soa(z);

	return soa ? ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)) : 0;
}

static int
build_db(struct zone *z, const ldns_rr_list *rrs, ldns_dnssec_zone **dbp,
    ldns_rr_list **addedp, char *err, size_t errlen)
{
	ldns_dnssec_zone *db = ldns_dnssec_zone_new();
	ldns_rr_list *added = NULL;
	ldns_status st = LDNS_STATUS_OK;

	for (size_t i = 0; st == LDNS_STATUS_OK &&
	    i < ldns_rr_list_rr_count(rrs); i++) {
		ldns_rr *c = ldns_rr_clone(ldns_rr_list_rr(rrs, i));
		if (z->keys != NULL && type_is_dnssec(ldns_rr_get_type(c))) {
			ldns_rr_free(c);
			continue;
		}
		if ((st = ldns_dnssec_zone_add_rr(db, c)) != LDNS_STATUS_OK)
			ldns_rr_free(c);
	}
	if (st == LDNS_STATUS_OK && z->keys != NULL) {
		/* signatures valid from an hour ago for two weeks; the daemon
		 * re-signs long before they expire */
		uint32_t now = (uint32_t)time(NULL);
		for (size_t i = 0; i < ldns_key_list_key_count(z->keys); i++) {
			ldns_key_set_inception(ldns_key_list_key(z->keys, i),
			    now - 3600);
			ldns_key_set_expiration(ldns_key_list_key(z->keys, i),
			    now + 14 * 86400);
		}
		for (size_t i = 0; st == LDNS_STATUS_OK &&
		    i < ldns_key_list_key_count(z->keys); i++) {
			ldns_rr *k = ldns_key2rr(ldns_key_list_key(z->keys, i));
			ldns_rr_set_ttl(k, 3600);
			if ((st = ldns_dnssec_zone_add_rr(db, k)) != LDNS_STATUS_OK)
				ldns_rr_free(k);
		}
		added = ldns_rr_list_new();
		if (st == LDNS_STATUS_OK && z->nsec3)
			st = ldns_dnssec_zone_sign_nsec3_flg(db, added, z->keys,
			    ldns_dnssec_default_replace_signatures, NULL,
			    LDNS_SHA1, 0, 0, 0, NULL, 0);
		else if (st == LDNS_STATUS_OK)
			st = ldns_dnssec_zone_sign_flg(db, added, z->keys,
			    ldns_dnssec_default_replace_signatures, NULL, 0);
	}
	if (st != LDNS_STATUS_OK || db->soa == NULL) {
		snprintf(err, errlen, "%s: %s", z->name, st != LDNS_STATUS_OK ?
		    ldns_get_errorstr_by_id(st) : "no SOA");
		free_db(db, added);
		return PTT_EINVAL;
	}
	*dbp = db;
	*addedp = added;
	return 0;
}

int
zone_commit(struct zone *z, ldns_rr_list *rrs, char *err, size_t errlen)
{
	ldns_dnssec_zone *db;
	ldns_rr_list *added;
	int ret;

	zone_rrs_normalise(rrs);
	if ((ret = zone_check(z->origin, rrs, err, errlen)) != 0 ||
	    (ret = build_db(z, rrs, &db, &added, err, errlen)) != 0) {
		ldns_rr_list_deep_free(rrs);
		return ret;
	}
	free_db(z->db, z->db_added);
	ldns_rr_list_deep_free(z->rrs);
	z->db = db;
	z->db_added = added;
	z->rrs = rrs;
	z->signed_at = time(NULL);
	return 0;
}

int
zone_resign(struct zone *z, char *err, size_t errlen)
{
	ldns_dnssec_zone *db;
	ldns_rr_list *added;
	int ret;

	if (z->rrs == NULL)
		return PTT_ENOENT;
	if ((ret = build_db(z, z->rrs, &db, &added, err, errlen)) != 0)
		return ret;
	free_db(z->db, z->db_added);
	z->db = db;
	z->db_added = added;
	z->signed_at = time(NULL);
	return 0;
}

int
zone_reload(struct zone *z, bool force, char *err, size_t errlen)
{
	struct stat st;
	ldns_rr_list *rrs;
	FILE *f;
	int ret;

	if (z->path == NULL)
		return 0;
	if (stat(z->path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", z->path, strerror(errno));
		return PTT_EIO;
	}
	if (!force && z->rrs != NULL && st.st_ino == z->st.st_ino &&
	    st.st_dev == z->st.st_dev && st.st_size == z->st.st_size &&
	    st.st_mtim.tv_sec == z->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == z->st.st_mtim.tv_nsec)
		return 0;
	if ((f = fopen(z->path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", z->path, strerror(errno));
		return PTT_EIO;
	}
	fstat(fileno(f), &st);
	/* remember the version tried, so a bad file is reported once */
	z->st = st;
	ret = zone_parse(z->name, f, z->path, z->keys != NULL, &rrs, err,
	    errlen);
	fclose(f);
	if (ret != 0)
		return ret;
	if ((ret = zone_commit(z, rrs, err, errlen)) != 0)
		return ret;
	zone_journal_clear(z);
	return 1;
}

int
zone_write(struct zone *z, char *err, size_t errlen)
{
	return zone_write_rrs(z, z->rrs, err, errlen);
}

int
zone_write_rrs(struct zone *z, const ldns_rr_list *rrs, char *err,
    size_t errlen)
{
	char tmp[4096], dir[4096];
	FILE *f;
	int fd, ret = 0;

	if (z->path == NULL)
		return 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", z->path) >=
	    sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", z->path);
		return PTT_EIO;
	}
	if ((fd = mkstemp(tmp)) < 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return PTT_EIO;
	}
	fchmod(fd, 0644);
	ldns_rr *soa = NULL;
	for (size_t i = 0; soa == NULL && i < ldns_rr_list_rr_count(rrs); i++)
		if (ldns_rr_get_type(ldns_rr_list_rr(rrs, i)) == LDNS_RR_TYPE_SOA)
			soa = ldns_rr_list_rr(rrs, i);
	fprintf(f, "; zone %s, serial %u, written by ptt-dns\n", z->name,
	    soa ? ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)) : 0);
	if (soa != NULL)
		ldns_rr_print(f, soa);
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		if (rr != soa)
			ldns_rr_print(f, rr);
	}
	if (fflush(f) != 0 || fsync(fd) != 0)
		ret = PTT_EIO;
	if (fclose(f) != 0)
		ret = PTT_EIO;
	if (ret == 0 && rename(tmp, z->path) != 0)
		ret = PTT_EIO;
	if (ret != 0) {
		snprintf(err, errlen, "%s: %s", z->path, strerror(errno));
		unlink(tmp);
		return ret;
	}
	ptt_strlcpy(dir, z->path, sizeof(dir));
	if ((fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	stat(z->path, &z->st);
	return 0;
}

struct zone *
zone_find(struct zone *list, const ldns_rdf *name)
{
	struct zone *best = NULL;

	for (struct zone *z = list; z != NULL; z = z->next) {
		if (z->db == NULL)
			continue;
		if (ldns_dname_compare(name, z->origin) != 0 &&
		    !ldns_dname_is_subdomain(name, z->origin))
			continue;
		if (best == NULL || ldns_dname_label_count(z->origin) >
		    ldns_dname_label_count(best->origin))
			best = z;
	}
	return best;
}
