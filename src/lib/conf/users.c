/*
 * users.c - users files (parse, format), argon2id password hashes through
 * libsodium, and the users database loaded from a commit (users.h).
 *
 * Trusts: nothing in a users file; lines are read through a bounds-checked
 * cursor with limits on file size, line length and list lengths.
 */
#include "conf/users.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/repo.h"
#include "util/buf.h"
#include "util/cursor.h"
#include "util/err.h"
#include "util/mem.h"

/* libsodium's interactive limits (argon2id: 2 passes, 64 MiB) take about
 * 0.1 s here: slow enough against offline guessing, fast enough for AUTH
 * on a submission server. A hash made with other limits still verifies. */
#define PW_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

static int
sodium_ready(void)
{
	static int done;

	if (!done) {
		if (sodium_init() < 0)
			return PTT_ECRYPTO;
		done = 1;
	}
	return 0;
}

bool
user_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > USER_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

/* RFC 5322 3.2.3 atext. */
static bool
ch_atext(uint8_t c)
{
	return ch_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

bool
addr_valid(const char *addr, size_t len)
{
	struct cur c;
	size_t n, labels = 0, local = 0;

	if (len == 0 || len > ADDR_MAX)
		return false;
	cur_init(&c, addr, len);
	/* dot-atom local part */
	for (;;) {
		n = cur_span(&c, ch_atext);
		if (n == 0)
			return false;
		local += n;
		if (!cur_accept(&c, '.'))
			break;
		local++;
	}
	if (local > 64 || !cur_accept(&c, '@'))
		return false;
	/* LDH labels, at least two */
	for (;;) {
		const uint8_t *start = c.p;
		n = 0;
		while (cur_left(&c) && (ch_alnum(*c.p) || *c.p == '-')) {
			c.p++;
			n++;
		}
		if (n == 0 || n > 63 || start[0] == '-' || start[n - 1] == '-')
			return false;
		labels++;
		if (!cur_accept(&c, '.'))
			break;
	}
	return cur_eof(&c) && c.err == 0 && labels >= 2;
}

void
user_free(struct user *u)
{
	if (u == NULL)
		return;
	free(u->name);
	if (u->password != NULL) {
		ptt_memzero(u->password, strlen(u->password));
		free(u->password);
	}
	conf_names_free(u->forward, u->n_forward);
	conf_names_free(u->send_as, u->n_send_as);
	memset(u, 0, sizeof(*u));
}

static bool
ch_key(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || c == '_';
}

/* Append the comma-separated addresses of v[0..n) to *list; a domain is
 * kept lowercased. */
static int
add_addrs(char ***list, size_t *count, const uint8_t *v, size_t n,
    const char **why)
{
	struct cur c;

	cur_init(&c, v, n);
	while (!cur_eof(&c)) {
		const uint8_t *start, *end;
		size_t len, i, at = 0;
		char *a;

		cur_skip_ws(&c);
		start = c.p;
		while (cur_left(&c) && *c.p != ',')
			c.p++;
		end = c.p;
		while (end > start && ch_wsp(end[-1]))
			end--;
		len = (size_t)(end - start);
		if (len == 0) {
			*why = "empty address in list";
			return PTT_EINVAL;
		}
		if (!addr_valid((const char *)start, len)) {
			*why = NULL;	/* the caller names the address */
			return PTT_EINVAL;
		}
		if (*count >= USER_ADDRS_MAX) {
			*why = "too many addresses";
			return PTT_ENOSPC;
		}
		a = xstrndup((const char *)start, len);
		for (i = 0; i < len; i++) {
			if (a[i] == '@')
				at = i;
			if (at != 0 && a[i] >= 'A' && a[i] <= 'Z')
				a[i] = (char)(a[i] + 32);
		}
		for (i = 0; i < *count; i++)
			if (strcmp((*list)[i], a) == 0) {
				free(a);
				*why = "duplicate address";
				return PTT_EINVAL;
			}
		*list = xreallocarray(*list, *count + 1, sizeof(char *));
		(*list)[(*count)++] = a;
		if (cur_accept(&c, ',') && cur_eof(&c)) {
			*why = "list ends with a comma";
			return PTT_EINVAL;
		}
	}
	return 0;
}

/* The first bad address of a list, for the error message. */
static void
first_bad_addr(const uint8_t *v, size_t n, char *out, size_t outlen)
{
	size_t i = 0, s, e;

	out[0] = '\0';
	while (i < n) {
		while (i < n && ch_wsp(v[i]))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && ch_wsp(v[e - 1]))
			e--;
		if (!addr_valid((const char *)v + s, e - s)) {
			size_t k = e - s < outlen - 1 ? e - s : outlen - 1;
			memcpy(out, v + s, k);
			out[k] = '\0';
			return;
		}
		i++;
	}
}

static bool
parse_bool(const uint8_t *v, size_t n, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strlen(yes[i]) == n && strncasecmp(yes[i], (const char *)v, n) == 0) {
			*out = true;
			return true;
		}
		if (strlen(no[i]) == n && strncasecmp(no[i], (const char *)v, n) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/*
 * A stored hash must be an argon2id string with sane parameters: a users
 * file asking for 4 GiB per verification would let whoever writes it take
 * a service's memory down with every AUTH.
 */
#define PW_MEM_MAX_KIB (1024 * 1024)	/* 1 GiB */
#define PW_OPS_MAX 16
#define PW_LANES_MAX 4

static bool
hash_plausible(const uint8_t *v, size_t n)
{
	struct cur c;
	uint64_t m, t, p;
	size_t i;

	if (n >= crypto_pwhash_STRBYTES)
		return false;
	for (i = 0; i < n; i++)
		if (!ch_vchar(v[i]))
			return false;
	cur_init(&c, v, n);
	if (!cur_match(&c, "$argon2id$v=19$m="))
		return false;
	m = cur_uint(&c, PW_MEM_MAX_KIB);
	if (!cur_match(&c, ",t="))
		return false;
	t = cur_uint(&c, PW_OPS_MAX);
	if (!cur_match(&c, ",p="))
		return false;
	p = cur_uint(&c, PW_LANES_MAX);
	return c.err == 0 && cur_accept(&c, '$') && m >= 8 && t >= 1 &&
	    p >= 1 && cur_left(&c) > 0;
}

int
user_parse(struct user *u, const char *name, const char *text, size_t len,
    char *err, size_t errlen)
{
	struct cur c;
	unsigned lineno = 0;
	bool have_tls = false;
	const char *why = NULL;
	int r = PTT_EINVAL;

	memset(u, 0, sizeof(*u));
	if (!user_name_valid(name)) {
		snprintf(err, errlen, "users/%.80s: bad user name (want "
		    "[a-z0-9][a-z0-9._-]*, at most %d bytes)", name, USER_NAME_MAX);
		return PTT_EINVAL;
	}
	if (len > USER_FILE_MAX) {
		snprintf(err, errlen, "users/%s: file larger than %d bytes",
		    name, USER_FILE_MAX);
		return PTT_ENOSPC;
	}
	u->name = xstrdup(name);
	cur_init(&c, text, len);
	while (!cur_eof(&c)) {
		const uint8_t *line = c.p, *k, *v, *end;
		size_t llen = 0, klen, vlen, i;

		lineno++;
		while (cur_left(&c) && *c.p != '\n') {
			c.p++;
			llen++;
		}
		cur_accept(&c, '\n');
		end = line + llen;
		if (llen > 0 && end[-1] == '\r')
			end--;
		if (llen > USER_LINE_MAX) {
			why = "line too long";
			r = PTT_ENOSPC;
			goto bad;
		}
		for (i = 0; line + i < end; i++)
			if (line[i] < 0x20 && line[i] != '\t') {
				why = "control character";
				goto bad;
			}
		while (line < end && ch_wsp(*line))
			line++;
		if (line == end || *line == '#')
			continue;
		/* key = value */
		{
			struct cur lc;
			cur_init(&lc, line, (size_t)(end - line));
			k = lc.p;
			klen = cur_span(&lc, ch_key);
			cur_skip_ws(&lc);
			if (klen == 0 || !cur_accept(&lc, '=')) {
				why = "expected \"key = value\"";
				goto bad;
			}
			cur_skip_ws(&lc);
			v = lc.p;
			vlen = cur_left(&lc);
			while (vlen > 0 && ch_wsp(v[vlen - 1]))
				vlen--;
		}
		if (vlen == 0) {
			why = "empty value";
			goto bad;
		}
#define KEY_IS(s) (klen == sizeof(s) - 1 && memcmp(k, s, klen) == 0)
		if (KEY_IS("password")) {
			if (u->password != NULL) {
				why = "duplicate password";
				goto bad;
			}
			if (!hash_plausible(v, vlen)) {
				why = "password must be an argon2id hash with "
				    "m <= 1 GiB, t <= 16, p <= 4 (set it with ptt passwd)";
				goto bad;
			}
			u->password = xstrndup((const char *)v, vlen);
		} else if (KEY_IS("forward") || KEY_IS("send_as")) {
			bool fwd = KEY_IS("forward");
			r = add_addrs(fwd ? &u->forward : &u->send_as,
			    fwd ? &u->n_forward : &u->n_send_as, v, vlen, &why);
			if (r != 0) {
				if (why == NULL) {
					char bad[ADDR_MAX + 1];
					first_bad_addr(v, vlen, bad, sizeof(bad));
					snprintf(err, errlen, "users/%s:%u: bad "
					    "address \"%s\"", name, lineno, bad);
					user_free(u);
					return r;
				}
				goto bad;
			}
		} else if (KEY_IS("require_tls")) {
			if (have_tls) {
				why = "duplicate require_tls";
				goto bad;
			}
			if (!parse_bool(v, vlen, &u->require_tls)) {
				why = "require_tls wants yes or no";
				goto bad;
			}
			have_tls = true;
		} else {
			snprintf(err, errlen, "users/%s:%u: unknown key \"%.*s\"",
			    name, lineno, (int)(klen > 40 ? 40 : klen), (const char *)k);
			user_free(u);
			return PTT_EINVAL;
		}
#undef KEY_IS
	}
	if (u->password == NULL) {
		snprintf(err, errlen, "users/%s: no password", name);
		user_free(u);
		return PTT_EINVAL;
	}
	if (u->n_forward == 0) {
		snprintf(err, errlen, "users/%s: no forward address", name);
		user_free(u);
		return PTT_EINVAL;
	}
	return 0;
bad:
	snprintf(err, errlen, "users/%s:%u: %s", name, lineno, why);
	user_free(u);
	return r != 0 ? r : PTT_EINVAL;
}

char *
user_text_set_password(const char *text, size_t len, const char *hash)
{
	struct cur c;
	struct buf b;
	bool done = false;
	char *out;

	buf_init(&b, 0);
	cur_init(&c, text, len);
	while (!cur_eof(&c)) {
		const uint8_t *line = c.p, *p;
		struct cur lc;
		size_t n = 0;

		while (cur_left(&c) && *c.p != '\n') {
			c.p++;
			n++;
		}
		cur_init(&lc, line, n);
		cur_skip_ws(&lc);
		p = lc.p;
		if (!done && cur_match(&lc, "password") &&
		    (cur_skip_ws(&lc), cur_accept(&lc, '='))) {
			buf_add(&b, line, (size_t)(p - line));
			buf_addf(&b, "password = %s", hash);
			if (n > 0 && line[n - 1] == '\r')
				buf_addc(&b, '\r');
			done = true;
		} else {
			buf_add(&b, line, n);
		}
		if (cur_accept(&c, '\n'))
			buf_addc(&b, '\n');
	}
	if (!done) {
		buf_free(&b);
		return NULL;
	}
	out = buf_steal(&b, NULL);
	buf_free(&b);
	return out;
}

static void
format_list(struct buf *b, const char *key, char *const *v, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	buf_addf(b, "%s = ", key);
	for (i = 0; i < n; i++)
		buf_addf(b, "%s%s", i ? ", " : "", v[i]);
	buf_addc(b, '\n');
}

char *
user_format(const struct user *u)
{
	struct buf b;
	char *s;

	buf_init(&b, 0);
	buf_addf(&b, "# ptt user %s: edit with ptt adduser/passwd/deluser or "
	    "by hand (see ptt users)\n", u->name);
	buf_addf(&b, "password = %s\n", u->password);
	format_list(&b, "forward", u->forward, u->n_forward);
	if (u->require_tls)
		buf_adds(&b, "require_tls = yes\n");
	format_list(&b, "send_as", u->send_as, u->n_send_as);
	s = buf_steal(&b, NULL);
	buf_free(&b);	/* whatever buf_steal leaves behind */
	return s;
}

int
password_hash(const char *pw, size_t len, char **out)
{
	char h[crypto_pwhash_STRBYTES];

	*out = NULL;
	if (len == 0 || len > PASSWORD_MAX)
		return PTT_EINVAL;
	if (sodium_ready() != 0)
		return PTT_ECRYPTO;
	if (crypto_pwhash_str_alg(h, pw, len, PW_OPSLIMIT, PW_MEMLIMIT,
	    crypto_pwhash_ALG_ARGON2ID13) != 0)
		return PTT_ECRYPTO;
	*out = xstrdup(h);
	return 0;
}

bool
password_verify(const char *hash, const char *pw, size_t len)
{
	if (len > PASSWORD_MAX || sodium_ready() != 0)
		return false;
	if (strnlen(hash, crypto_pwhash_STRBYTES) >= crypto_pwhash_STRBYTES)
		return false;
	return crypto_pwhash_str_verify(hash, pw, len) == 0;
}

bool
password_needs_rehash(const char *hash)
{
	if (sodium_ready() != 0)
		return false;
	return crypto_pwhash_str_needs_rehash(hash, PW_OPSLIMIT, PW_MEMLIMIT) != 0;
}

/* The users database: users sorted by name. */
#define TAG_LEN crypto_generichash_BYTES	/* 32 */

struct users_db {
	struct user *u;
	size_t n;
	char version[CONF_COMMIT_HEX];
	/* users_verify_password_cached: per user, a keyed hash of the last
	 * password that verified; never the password itself. */
	unsigned char cache_key[crypto_generichash_KEYBYTES];
	unsigned char (*tag)[TAG_LEN];
	bool *tag_ok;
};

static int
user_cmp(const void *a, const void *b)
{
	return strcmp(((const struct user *)a)->name, ((const struct user *)b)->name);
}

void
users_free(struct users_db *db)
{
	size_t i;

	if (db == NULL)
		return;
	for (i = 0; i < db->n; i++)
		user_free(&db->u[i]);
	free(db->u);
	if (db->tag != NULL)
		sodium_memzero(db->tag, db->n * TAG_LEN);
	free(db->tag);
	free(db->tag_ok);
	sodium_memzero(db->cache_key, sizeof(db->cache_key));
	free(db);
}

int
users_load_mem(struct users_db **out, const char *const *names,
    const char *const *texts, size_t n, const char *version, char *err,
    size_t errlen)
{
	struct users_db *db;
	size_t i;
	int r;

	*out = NULL;
	if (n > USERS_MAX) {
		snprintf(err, errlen, "more than %d users", USERS_MAX);
		return PTT_ENOSPC;
	}
	db = xcalloc(1, sizeof(*db));
	db->u = xcalloc(n ? n : 1, sizeof(*db->u));
	ptt_strlcpy(db->version, version ? version : "", sizeof(db->version));
	for (i = 0; i < n; i++) {
		r = user_parse(&db->u[db->n], names[i], texts[i],
		    strlen(texts[i]), err, errlen);
		if (r != 0) {
			users_free(db);
			return r;
		}
		db->n++;
	}
	qsort(db->u, db->n, sizeof(*db->u), user_cmp);
	if (sodium_ready() != 0) {
		users_free(db);
		snprintf(err, errlen, "libsodium does not initialise");
		return PTT_ECRYPTO;
	}
	randombytes_buf(db->cache_key, sizeof(db->cache_key));
	db->tag = xcalloc(db->n ? db->n : 1, TAG_LEN);
	db->tag_ok = xcalloc(db->n ? db->n : 1, sizeof(bool));
	*out = db;
	return 0;
}

int
users_load(struct users_db **out, struct conf_repo *r, const char *commit,
    char *err, size_t errlen)
{
	char head[CONF_COMMIT_HEX], path[16 + USER_NAME_MAX];
	char **names = NULL, **texts;
	size_t n = 0, i, len;
	int ret;

	*out = NULL;
	if (commit == NULL) {
		ret = conf_repo_head(r, head);
		if (ret != 0) {
			snprintf(err, errlen, "configuration repository: %s",
			    ret == PTT_ENOENT ? "no commit yet" : conf_git_error());
			return ret;
		}
		commit = head;
	}
	ret = conf_repo_list(r, commit, "users", &names, &n);
	if (ret != 0) {
		snprintf(err, errlen, "list users/: %s", conf_git_error());
		return ret;
	}
	if (n > USERS_MAX) {
		conf_names_free(names, n);
		snprintf(err, errlen, "more than %d users", USERS_MAX);
		return PTT_ENOSPC;
	}
	texts = xcalloc(n ? n : 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		if (!user_name_valid(names[i])) {
			snprintf(err, errlen, "users/%.80s: bad user name", names[i]);
			ret = PTT_EINVAL;
			break;
		}
		snprintf(path, sizeof(path), "users/%s", names[i]);
		ret = conf_repo_read(r, commit, path, USER_FILE_MAX, &texts[i], &len);
		if (ret == 0 && strlen(texts[i]) != len) {
			snprintf(err, errlen, "%s: NUL byte in file", path);
			ret = PTT_EINVAL;
			break;
		}
		if (ret != 0) {
			snprintf(err, errlen, "%s: %s", path, ret == PTT_ENOSPC ?
			    "file too large" : ptt_strerror(ret));
			break;
		}
	}
	if (ret == 0)
		ret = users_load_mem(out, (const char *const *)names,
		    (const char *const *)texts, n, commit, err, errlen);
	for (i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	conf_names_free(names, n);
	return ret;
}

const char *
users_version(const struct users_db *db)
{
	return db->version;
}

size_t
users_count(const struct users_db *db)
{
	return db->n;
}

const struct user *
users_at(const struct users_db *db, size_t i)
{
	return i < db->n ? &db->u[i] : NULL;
}

const struct user *
users_lookup(const struct users_db *db, const char *name)
{
	struct user key;

	if (db == NULL || name == NULL)
		return NULL;
	key.name = (char *)(uintptr_t)name;
	return bsearch(&key, db->u, db->n, sizeof(*db->u), user_cmp);
}

int
users_login_name(const char *login, size_t len, const char *domain,
    char out[USER_NAME_MAX + 1])
{
	const char *at = memchr(login, '@', len);
	size_t n = at != NULL ? (size_t)(at - login) : len, i;

	out[0] = '\0';
	if (at != NULL) {
		size_t dlen = len - n - 1;
		if (domain == NULL || dlen != strlen(domain) ||
		    strncasecmp(at + 1, domain, dlen) != 0)
			return PTT_ENOENT;
	}
	if (n == 0 || n > USER_NAME_MAX)
		return PTT_ENOENT;
	for (i = 0; i < n; i++) {
		char c = login[i];
		if (c == '\0') {
			out[0] = '\0';
			return PTT_ENOENT;
		}
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[n] = '\0';
	if (!user_name_valid(out)) {
		out[0] = '\0';
		return PTT_ENOENT;
	}
	return 0;
}

/* A hash of a random password with the current parameters, made once. */
static const char *
dummy_hash(void)
{
	static char *h;
	unsigned char rnd[24];

	if (h == NULL) {
		if (sodium_ready() != 0)
			return NULL;
		randombytes_buf(rnd, sizeof(rnd));
		if (password_hash((const char *)rnd, sizeof(rnd), &h) != 0)
			h = NULL;
		sodium_memzero(rnd, sizeof(rnd));
	}
	return h;
}

bool
users_verify_password(const struct users_db *db, const char *user,
    const char *pw, size_t len)
{
	const struct user *u = users_lookup(db, user);
	const char *d;

	if (u != NULL)
		return password_verify(u->password, pw, len);
	d = dummy_hash();
	if (d != NULL)
		(void)password_verify(d, pw, len);
	return false;
}

/* The keyed hash of name, NUL, password under the db's random key. */
static void
pw_tag(const struct users_db *db, const char *name, const char *pw, size_t len,
    unsigned char tag[TAG_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, db->cache_key, sizeof(db->cache_key), TAG_LEN);
	crypto_generichash_update(&st, (const unsigned char *)name, strlen(name) + 1);
	crypto_generichash_update(&st, (const unsigned char *)pw, len);
	crypto_generichash_final(&st, tag, TAG_LEN);
}

bool
users_verify_password_cached(struct users_db *db, const char *user,
    const char *pw, size_t len)
{
	const struct user *u = users_lookup(db, user);
	unsigned char tag[TAG_LEN];
	size_t i;
	bool good;

	if (u == NULL || len > PASSWORD_MAX)
		return users_verify_password(db, user, pw, len);
	i = (size_t)(u - db->u);
	pw_tag(db, u->name, pw, len, tag);
	if (db->tag_ok[i] && sodium_memcmp(tag, db->tag[i], TAG_LEN) == 0) {
		sodium_memzero(tag, sizeof(tag));
		return true;
	}
	good = password_verify(u->password, pw, len);
	if (good) {
		memcpy(db->tag[i], tag, TAG_LEN);
		db->tag_ok[i] = true;
	}
	sodium_memzero(tag, sizeof(tag));
	return good;
}

int
users_reload_if_changed(struct users_db **db, struct conf_repo *r,
    bool *changed, char *err, size_t errlen)
{
	char head[CONF_COMMIT_HEX];
	struct users_db *ndb;
	int ret;

	*changed = false;
	if ((ret = conf_repo_fetch(r, err, errlen)) != 0)
		return ret;
	if ((ret = conf_repo_head(r, head)) != 0) {
		snprintf(err, errlen, "configuration repository: %s",
		    ret == PTT_ENOENT ? "no commit yet" : conf_git_error());
		return ret;
	}
	if (*db != NULL && strcmp(head, (*db)->version) == 0)
		return 0;
	if ((ret = users_load(&ndb, r, head, err, errlen)) != 0)
		return ret;
	users_free(*db);
	*db = ndb;
	*changed = true;
	return 0;
}
