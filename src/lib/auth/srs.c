/*
 * srs.c - Sender Rewriting Scheme (SRS0/SRS1 in libsrs2's and PostSRSd's
 * format; see srs.h), HMAC-SHA1 or HMAC-SHA256 through OpenSSL.
 *
 * Also the secrets file (srs_keyfile_load), created race-free on first
 * use by whichever of the mx and the relay starts first.
 *
 * Trusts: the secrets; addresses to reverse are parsed with a bounded
 * cursor and every part is checked before anything is built from it. The
 * secrets file only when it is a regular file readable by its owner only.
 */
#include "auth/srs.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "mail/codec.h"
#include "util/buf.h"
#include "util/cursor.h"
#include "util/err.h"
#include "util/mem.h"

#define DAY 86400
#define SLOTS 1024	/* timestamps wrap after 1024 days */
#define HASH_MAX 27	/* base64 of a SHA-1 digest up to its '=' padding */

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

const char *
srs_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case SRS_ENOTSRS: return "not an SRS address";
	case SRS_ESYNTAX: return "malformed SRS address";
	case SRS_EFORGED: return "SRS hash does not match (forged or foreign)";
	case SRS_EEXPIRED: return "SRS address expired";
	case SRS_ENOAT: return "address needs a local part, '@' and a domain";
	case SRS_ESPACE: return "SRS address too long";
	case SRS_ECRYPTO: return "HMAC failed";
	default: return "unknown SRS error";
	}
}

static unsigned
hash_len(const struct srs *s)
{
	unsigned n = s->hash_len ? s->hash_len : 4;

	return n > HASH_MAX ? HASH_MAX : n;
}

static char
sep(const struct srs *s)
{
	return s->sep ? s->sep : '=';
}

/* The hash of the parts with secret k: hash_len base64 characters. */
static int
make_hash(const struct srs *s, const struct srs_secret *k,
    const char *const *part, const size_t *plen, size_t nparts,
    char out[HASH_MAX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	struct buf b64, data;
	int ok;

	/* One-shot HMAC() over a lowercased copy of the parts. */
	buf_init(&data, 0);
	for (size_t i = 0; i < nparts; i++)
		for (size_t j = 0; j < plen[i]; j++)
			buf_addc(&data, (char)tolower((unsigned char)part[i][j]));
	ok = buf_error(&data) == 0 && HMAC(s->alg == SRS_HMAC_SHA256 ?
	    EVP_sha256() : EVP_sha1(), k->key, (int)k->len,
	    (const unsigned char *)data.data, data.len, md, &mdlen) != NULL;
	buf_free(&data);
	if (!ok)
		return SRS_ECRYPTO;
	buf_init(&b64, 0);
	mail_b64_encode(md, mdlen, &b64, 0);
	snprintf(out, HASH_MAX + 1, "%.*s", (int)hash_len(s), b64.data);
	buf_free(&b64);
	return 0;
}

/* Does hash h (n chars) match the parts under any secret? 0 or SRS_E*. */
static int
check_hash(const struct srs *s, const char *h, size_t n,
    const char *const *part, const size_t *plen, size_t nparts)
{
	char want[HASH_MAX + 1];
	int r;

	if (n != hash_len(s))
		return SRS_EFORGED;
	for (size_t i = 0; i < s->nsecrets; i++) {
		if ((r = make_hash(s, &s->secrets[i], part, plen, nparts, want)) != 0)
			return r;
		if (strncasecmp(want, h, n) == 0)
			return 0;
	}
	return SRS_EFORGED;
}

static void
stamp(time_t now, char tt[3])
{
	unsigned d = (unsigned)((unsigned long long)now / DAY % SLOTS);

	tt[0] = b32[(d >> 5) & 31];
	tt[1] = b32[d & 31];
	tt[2] = '\0';
}

/* Days since timestamp tt (two base32 characters, any case); -1 if bad. */
static int
stamp_age(const char *tt, time_t now)
{
	unsigned v = 0, today = (unsigned)((unsigned long long)now / DAY % SLOTS);

	for (int i = 0; i < 2; i++) {
		const char *p = strchr(b32, toupper((unsigned char)tt[i]));
		if (tt[i] == '\0' || p == NULL)
			return -1;
		v = v << 5 | (unsigned)(p - b32);
	}
	return (int)((today + SLOTS - v) % SLOTS);
}

static bool
is_sep(int c)
{
	return c == '=' || c == '+' || c == '-';
}

/* Split addr at its last '@'; both parts non-empty. */
static int
split(const char *addr, size_t *local_len, const char **domain)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL || at == addr || at[1] == '\0')
		return SRS_ENOAT;
	*local_len = (size_t)(at - addr);
	*domain = at + 1;
	return 0;
}

bool
srs_is_srs(const char *addr)
{
	return (strncasecmp(addr, "SRS0", 4) == 0 ||
	    strncasecmp(addr, "SRS1", 4) == 0) && is_sep(addr[4]);
}

static int
put(char *out, size_t outlen, int n)
{
	return n < 0 || (size_t)n >= outlen ? SRS_ESPACE : 0;
}

int
srs_forward(const struct srs *s, const char *addr, const char *fwd_domain,
    time_t now, char *out, size_t outlen)
{
	const char *dom, *part[3];
	size_t llen, plen[3];
	char h[HASH_MAX + 1], tt[3];
	int r;

	if ((r = split(addr, &llen, &dom)) != 0)
		return r;
	if (strcasecmp(dom, fwd_domain) == 0)
		return put(out, outlen, snprintf(out, outlen, "%s", addr));
	/* The domain ends at the first '=' when reversing: a domain with
	 * one (no real one has) could not come back. */
	if (strchr(dom, '=') != NULL)
		return SRS_ESYNTAX;
	if (llen > 5 && strncasecmp(addr, "SRS0", 4) == 0 && is_sep(addr[4])) {
		/* SRS1=HHHH=dom==HHHH=TT=... : the first forwarder's SRS0
		 * kept whole, with its separator. */
		part[0] = dom;
		plen[0] = strlen(dom);
		part[1] = addr + 4;
		plen[1] = llen - 4;
		if ((r = make_hash(s, &s->secrets[0], part, plen, 2, h)) != 0)
			return r;
		return put(out, outlen, snprintf(out, outlen, "SRS1%c%s=%s=%.*s@%s",
		    sep(s), h, dom, (int)plen[1], part[1], fwd_domain));
	}
	if (llen > 4 && strncasecmp(addr, "SRS1", 4) == 0 && is_sep(addr[4])) {
		/* SRS1 again: keep the first forwarder and its SRS0 part,
		 * hash them anew with our secret. */
		const char *p = addr + 5, *e = addr + llen, *h1, *host;
		h1 = memchr(p, '=', (size_t)(e - p));
		host = h1 ? h1 + 1 : NULL;
		h1 = host ? memchr(host, '=', (size_t)(e - host)) : NULL;
		if (host == NULL || h1 == NULL || h1 == host || e - h1 < 3 ||
		    !is_sep(h1[1]))
			return SRS_ESYNTAX;
		part[0] = host;
		plen[0] = (size_t)(h1 - host);
		part[1] = h1 + 1;
		plen[1] = (size_t)(e - part[1]);
		if ((r = make_hash(s, &s->secrets[0], part, plen, 2, h)) != 0)
			return r;
		return put(out, outlen, snprintf(out, outlen,
		    "SRS1%c%s=%.*s=%.*s@%s", sep(s), h, (int)plen[0], part[0],
		    (int)plen[1], part[1], fwd_domain));
	}
	stamp(now, tt);
	part[0] = tt;
	plen[0] = 2;
	part[1] = dom;
	plen[1] = strlen(dom);
	part[2] = addr;
	plen[2] = llen;
	if ((r = make_hash(s, &s->secrets[0], part, plen, 3, h)) != 0)
		return r;
	return put(out, outlen, snprintf(out, outlen, "SRS0%c%s=%s=%s=%.*s@%s",
	    sep(s), h, tt, dom, (int)llen, addr, fwd_domain));
}

/* The next '='-terminated piece (non-empty), consuming the '='. */
static bool
piece(struct cur *c, const uint8_t **p, size_t *n)
{
	*n = cur_until(c, '=', p);
	cur_expect(c, '=');
	return c->err == 0 && *n > 0;
}

int
srs_reverse(const struct srs *s, const char *addr, time_t now, char *out,
    size_t outlen)
{
	const char *dom, *part[3];
	const uint8_t *h, *a, *b;
	size_t llen, hn, an, bn, plen[3];
	struct cur c;
	int r, srs1;

	if ((r = split(addr, &llen, &dom)) != 0)
		return r;
	cur_init(&c, addr, llen);
	if (cur_match_ci(&c, "SRS0"))
		srs1 = 0;
	else if (cur_match_ci(&c, "SRS1"))
		srs1 = 1;
	else
		return SRS_ENOTSRS;
	if (!is_sep(cur_peek(&c)))
		return SRS_ENOTSRS;
	cur_skip(&c, 1);
	if (!piece(&c, &h, &hn) || hn > HASH_MAX)
		return SRS_ESYNTAX;
	if (srs1) {
		/* SRS1 sep HASH = host = rest (rest starts with the SRS0's
		 * separator, which we give back after "SRS0"). */
		if (!piece(&c, &a, &an))
			return SRS_ESYNTAX;
		b = c.p;
		bn = cur_left(&c);
		if (bn < 2 || !is_sep(b[0]))
			return SRS_ESYNTAX;
		part[0] = (const char *)a;
		plen[0] = an;
		part[1] = (const char *)b;
		plen[1] = bn;
		if ((r = check_hash(s, (const char *)h, hn, part, plen, 2)) != 0)
			return r;
		return put(out, outlen, snprintf(out, outlen, "SRS0%.*s@%.*s",
		    (int)bn, (const char *)b, (int)an, (const char *)a));
	}
	/* SRS0 sep HASH = TT = domain = local */
	if (!piece(&c, &a, &an) || an != 2 || !piece(&c, &b, &bn) ||
	    cur_eof(&c))
		return SRS_ESYNTAX;
	part[0] = (const char *)a;
	plen[0] = 2;
	part[1] = (const char *)b;
	plen[1] = bn;
	part[2] = (const char *)c.p;
	plen[2] = cur_left(&c);
	{
		char tt[3] = { (char)a[0], (char)a[1], '\0' };
		int age = stamp_age(tt, now);
		if (age < 0)
			return SRS_ESYNTAX;
		if ((r = check_hash(s, (const char *)h, hn, part, plen, 3)) != 0)
			return r;
		if ((unsigned)age > (s->max_age ? s->max_age : 21))
			return SRS_EEXPIRED;
	}
	return put(out, outlen, snprintf(out, outlen, "%.*s@%.*s",
	    (int)plen[2], part[2], (int)bn, (const char *)b));
}

/* ---- the secrets file ---- */

#define KEYFILE_MAX 16384
#define SECRET_MIN 16
#define SECRET_MAX 256

/* Make path with one fresh secret unless it exists. 0 or PTT_E*. */
static int
keyfile_create(const char *path, char *err, size_t errlen)
{
	unsigned char raw[32];
	struct buf b;
	char tmp[4096], dir[4096], *slash;
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return PTT_ENOSPC;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		snprintf(err, errlen, "%s: no random bytes", path);
		return PTT_ECRYPTO;
	}
	buf_init(&b, 0);
	buf_addf(&b, "# SRS secret (ptt-relay makes, ptt-mx checks); a new "
	    "first line rotates\n");
	mail_b64_encode(raw, sizeof(raw), &b, 0);
	buf_addc(&b, '\n');
	OPENSSL_cleanse(raw, sizeof(raw));
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len ||
	    fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		r = PTT_EIO;
	}
	if (fd >= 0)
		close(fd);
	OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	/* link() never replaces: a file made meanwhile by the other
	 * service wins and both read the same secret. */
	if (r == 0 && link(tmp, path) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		r = PTT_EIO;
	}
	unlink(tmp);
	if (r == 0) {
		ptt_strlcpy(dir, path, sizeof(dir));
		slash = strrchr(dir, '/');
		if (slash != NULL) {
			*slash = '\0';
			if ((fd = open(slash == dir ? "/" : dir,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
				fsync(fd);
				close(fd);
			}
		}
	}
	return r;
}

int
srs_keyfile_load(struct srs_keyfile *kf, const char *path, bool create,
    char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	char *p, *end;
	int fd, r;

	memset(kf, 0, sizeof(*kf));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT && create) {
		if ((r = keyfile_create(path, err, errlen)) != 0)
			return r;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0) {
		snprintf(err, errlen, "SRS secret %s: %s", path, strerror(errno));
		return errno == ENOENT ? PTT_ENOENT : PTT_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) != 0 || st.st_size > KEYFILE_MAX) {
		snprintf(err, errlen, "SRS secret %s: must be a regular file of "
		    "mode 0600 and at most %d bytes", path, KEYFILE_MAX);
		close(fd);
		return PTT_EPERM;
	}
	kf->text = xmalloc((size_t)st.st_size + 1);
	n = read(fd, kf->text, (size_t)st.st_size);
	close(fd);
	if (n != (ssize_t)st.st_size) {
		snprintf(err, errlen, "SRS secret %s: short read", path);
		srs_keyfile_free(kf);
		return PTT_EIO;
	}
	kf->len = (size_t)n;
	kf->text[n] = '\0';
	for (p = kf->text; p < kf->text + kf->len; p = end + 1) {
		size_t w;

		end = memchr(p, '\n', (size_t)(kf->text + kf->len - p));
		if (end == NULL)
			end = kf->text + kf->len;
		w = (size_t)(end - p);
		if (w > 0 && p[w - 1] == '\r')
			w--;
		if (w == 0 || p[0] == '#')
			continue;
		if (w < SECRET_MIN || w > SECRET_MAX ||
		    kf->n == SRS_SECRETS_MAX) {
			snprintf(err, errlen, "SRS secret %s: each secret is "
			    "%d to %d bytes, at most %d of them", path,
			    SECRET_MIN, SECRET_MAX, SRS_SECRETS_MAX);
			srs_keyfile_free(kf);
			return PTT_EINVAL;
		}
		kf->sec[kf->n].key = p;
		kf->sec[kf->n].len = w;
		kf->n++;
	}
	if (kf->n == 0) {
		snprintf(err, errlen, "SRS secret %s: no secret in it", path);
		srs_keyfile_free(kf);
		return PTT_EINVAL;
	}
	return 0;
}

void
srs_keyfile_free(struct srs_keyfile *kf)
{
	if (kf->text != NULL) {
		OPENSSL_cleanse(kf->text, kf->len);
		free(kf->text);
	}
	memset(kf, 0, sizeof(*kf));
}
