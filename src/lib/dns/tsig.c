/*
 * tsig.c - TSIG (RFC 8945, HMAC-SHA256) and a bounds-checked message walk.
 *
 * Implements RFC 8945 4.2 (generation), 4.3.2/4.3.3 (digest components),
 * 5.2 (server checks: key, MAC, time), 5.3.2 (unsigned error responses);
 * RFC 1035 4.1 (message layout) and 4.1.4 (compression) for the walk.
 * Trusts nothing it reads: every byte goes through a struct cur.
 */
#include "dns/tsig.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util/cursor.h"
#include "util/err.h"
#include "util/mem.h"

#define T_OPT 41
#define T_TSIG 250
#define C_ANY 255
static const char alg_sha256[] = "hmac-sha256.";

static uint16_t
get16(struct cur *c)
{
	const uint8_t *p = cur_take(c, 2);

	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

static uint32_t
get32(struct cur *c)
{
	const uint8_t *p = cur_take(c, 4);

	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3] : 0;
}

/* Skip a possibly compressed name; report whether it is the root name. */
static void
skip_name(struct cur *c, bool *is_root)
{
	size_t total = 0;
	bool first = true;

	*is_root = false;
	for (;;) {
		uint8_t l = cur_getc(c);

		if (c->err)
			return;
		if (l == 0) {
			*is_root = first;
			return;
		}
		if ((l & 0xc0) == 0xc0) {
			cur_skip(c, 1);
			return;
		}
		if (l & 0xc0) {
			cur_fail(c, PTT_EINVAL);
			return;
		}
		total += l + 1;
		if (total > 255) {
			cur_fail(c, PTT_EINVAL);
			return;
		}
		cur_skip(c, l);
		first = false;
	}
}

/* Read a possibly compressed name at *pos into text (lowercase, absolute).
 * Advances *pos past the name as it appears at *pos. */
static int
read_name(const uint8_t *wire, size_t len, size_t *pos, char *out,
    size_t outlen)
{
	size_t p = *pos, o = 0, wirelen = 0;
	bool jumped = false;
	unsigned hops = 0;

	for (;;) {
		if (p >= len)
			return PTT_EINVAL;
		uint8_t l = wire[p];
		if (l == 0) {
			if (!jumped)
				*pos = p + 1;
			break;
		}
		if ((l & 0xc0) == 0xc0) {
			if (p + 1 >= len || ++hops > 64)
				return PTT_EINVAL;
			size_t to = (size_t)(l & 0x3f) << 8 | wire[p + 1];
			if (!jumped)
				*pos = p + 2;
			jumped = true;
			if (to >= p)
				return PTT_EINVAL;
			p = to;
			continue;
		}
		if (l & 0xc0 || p + 1 + l > len)
			return PTT_EINVAL;
		wirelen += l + 1;
		if (wirelen > 254)
			return PTT_EINVAL;
		for (size_t i = 0; i < l; i++) {
			uint8_t ch = wire[p + 1 + i];
			if (o + 5 >= outlen)
				return PTT_EINVAL;
			if (ch == '.' || ch == '\\' || ch <= 0x20 || ch >= 0x7f)
				o += (size_t)snprintf(out + o, outlen - o,
				    "\\%03u", ch);
			else
				out[o++] = (char)tolower(ch);
		}
		if (o + 2 >= outlen)
			return PTT_EINVAL;
		out[o++] = '.';
		p += 1 + l;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return 0;
}

int
dns_wire_scan(const uint8_t *wire, size_t len, struct dns_wire_info *wi)
{
	struct cur c;

	memset(wi, 0, sizeof(*wi));
	cur_init(&c, wire, len);
	wi->id = get16(&c);
	wi->flags = get16(&c);
	wi->qd = get16(&c);
	wi->an = get16(&c);
	wi->ns = get16(&c);
	wi->ar = get16(&c);
	if (c.err)
		return PTT_EINVAL;
	for (unsigned i = 0; i < wi->qd && !c.err; i++) {
		bool root;
		skip_name(&c, &root);
		cur_skip(&c, 4);
	}
	unsigned total = (unsigned)wi->an + wi->ns + wi->ar;
	for (unsigned i = 0; i < total && !c.err; i++) {
		size_t start = (size_t)(c.p - (const uint8_t *)wire);
		bool root;
		skip_name(&c, &root);
		uint16_t type = get16(&c);
		cur_skip(&c, 6);
		uint16_t rdlen = get16(&c);
		cur_skip(&c, rdlen);
		if (c.err)
			break;
		bool in_ar = i >= (unsigned)wi->an + wi->ns;
		if (type == T_OPT) {
			if (in_ar)
				wi->opt_count++;
			if (!in_ar || !root)
				wi->opt_misplaced = true;
		}
		if (type == T_TSIG) {
			wi->has_tsig = true;
			wi->tsig_last = in_ar && i == total - 1;
			wi->tsig_offset = start;
		}
	}
	if (c.err)
		return PTT_EINVAL;
	wi->end = (size_t)(c.p - (const uint8_t *)wire);
	return 0;
}

int
dns_name_to_wire(const char *name, uint8_t *out, size_t *outlen)
{
	size_t o = 0, lab = 0;
	const char *s = name;

	if (strcmp(name, ".") == 0) {
		out[0] = 0;
		*outlen = 1;
		return 0;
	}
	out[o++] = 0;
	for (; *s != '\0'; s++) {
		uint8_t ch = (uint8_t)*s;
		if (ch == '.') {
			if (out[lab] == 0)
				return PTT_EINVAL;
			lab = o;
			if (o >= 255)
				return PTT_EINVAL;
			out[o++] = 0;
			continue;
		}
		if (ch == '\\') {
			if (isdigit((unsigned char)s[1]) &&
			    isdigit((unsigned char)s[2]) &&
			    isdigit((unsigned char)s[3])) {
				unsigned v = (unsigned)(s[1] - '0') * 100 +
				    (unsigned)(s[2] - '0') * 10 +
				    (unsigned)(s[3] - '0');
				if (v > 255)
					return PTT_EINVAL;
				ch = (uint8_t)v;
				s += 3;
			} else if (s[1] != '\0') {
				ch = (uint8_t)*++s;
			} else {
				return PTT_EINVAL;
			}
		}
		if (out[lab] >= 63 || o >= 254)
			return PTT_EINVAL;
		out[lab]++;
		out[o++] = (uint8_t)tolower(ch);
	}
	if (out[lab] != 0) {
		if (o >= 255)
			return PTT_EINVAL;
		out[o++] = 0;
	}
	*outlen = o;
	return 0;
}

static void
lower_abs(char *dst, size_t dstlen, const char *src)
{
	size_t n = ptt_strlcpy(dst, src, dstlen);

	for (char *p = dst; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (n > 0 && n + 1 < dstlen && dst[n - 1] != '.') {
		dst[n] = '.';
		dst[n + 1] = '\0';
	}
}

int
tsig_key_parse(struct tsig_key *k, const char *text)
{
	char tmp[1024], *name, *alg, *sec, *e;
	int n;

	memset(k, 0, sizeof(*k));
	if (ptt_strlcpy(tmp, text, sizeof(tmp)) >= sizeof(tmp))
		return PTT_EINVAL;
	name = tmp;
	while (isspace((unsigned char)*name))
		name++;
	e = name + strlen(name);
	while (e > name && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if ((alg = strchr(name, ':')) == NULL)
		return PTT_EINVAL;
	*alg++ = '\0';
	if ((sec = strchr(alg, ':')) == NULL)
		return PTT_EINVAL;
	*sec++ = '\0';
	if (*name == '\0' || strlen(name) > 250)
		return PTT_EINVAL;
	if (strcasecmp(alg, "hmac-sha256") != 0 &&
	    strcasecmp(alg, "hmac-sha256.") != 0)
		return PTT_EINVAL;
	uint8_t w[256];
	size_t wl;
	if (dns_name_to_wire(name, w, &wl) != 0)
		return PTT_EINVAL;
	lower_abs(k->name, sizeof(k->name), name);
	size_t sl = strlen(sec);
	if (sl == 0 || sl % 4 != 0 || sl / 4 * 3 > TSIG_SECRET_MAX + 3)
		return PTT_EINVAL;
	uint8_t raw[TSIG_SECRET_MAX + 3];
	n = EVP_DecodeBlock(raw, (const unsigned char *)sec, (int)sl);
	if (n < 0)
		return PTT_EINVAL;
	if (sl >= 1 && sec[sl - 1] == '=')
		n--;
	if (sl >= 2 && sec[sl - 2] == '=')
		n--;
	if (n <= 0 || (size_t)n > TSIG_SECRET_MAX)
		return PTT_EINVAL;
	memcpy(k->secret, raw, (size_t)n);
	k->secret_len = (size_t)n;
	ptt_memzero(raw, sizeof(raw));
	ptt_memzero(tmp, sizeof(tmp));
	return 0;
}

int
tsig_key_load(struct tsig_key *k, const char *path, char *err, size_t errlen)
{
	FILE *f;
	struct stat st;
	char line[1024];
	int ret;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return PTT_EIO;
	}
	if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: must not be readable by group or others (chmod 600)", path);
		fclose(f);
		return PTT_EPERM;
	}
	if (fgets(line, sizeof(line), f) == NULL) {
		snprintf(err, errlen, "%s: empty", path);
		fclose(f);
		return PTT_EINVAL;
	}
	fclose(f);
	ret = tsig_key_parse(k, line);
	ptt_memzero(line, sizeof(line));
	if (ret != 0)
		snprintf(err, errlen, "%s: not name:hmac-sha256:base64secret", path);
	return ret;
}

int
tsig_find(const uint8_t *wire, size_t len, struct tsig_rr *t)
{
	struct dns_wire_info wi;
	struct cur c;
	size_t pos;

	memset(t, 0, sizeof(*t));
	if (dns_wire_scan(wire, len, &wi) != 0)
		return PTT_EINVAL;
	if (!wi.has_tsig)
		return PTT_ENOENT;
	if (!wi.tsig_last)
		return PTT_EINVAL;
	t->offset = wi.tsig_offset;
	pos = wi.tsig_offset;
	if (read_name(wire, len, &pos, t->name, sizeof(t->name)) != 0)
		return PTT_EINVAL;
	cur_init(&c, wire + pos, wi.end - pos);
	cur_skip(&c, 2);			/* type */
	uint16_t cls = get16(&c);
	uint32_t ttl = get32(&c);
	uint16_t rdlen = get16(&c);
	if (c.err || cls != C_ANY || ttl != 0 || rdlen != cur_left(&c))
		return PTT_EINVAL;
	size_t apos = (size_t)(c.p - wire);
	/* the algorithm name is never compressed (RFC 8945 4.2) */
	const uint8_t *astart = c.p;
	bool root;
	skip_name(&c, &root);
	if (c.err)
		return PTT_EINVAL;
	for (const uint8_t *q = astart; q < c.p; q += *q + 1)
		if ((*q & 0xc0) != 0)
			return PTT_EINVAL;
	if (read_name(wire, len, &apos, t->alg, sizeof(t->alg)) != 0)
		return PTT_EINVAL;
	uint16_t hi = get16(&c);
	uint32_t lo = get32(&c);
	t->time_signed = (uint64_t)hi << 32 | lo;
	t->fudge = get16(&c);
	t->mac_len = get16(&c);
	t->mac = cur_take(&c, t->mac_len);
	t->orig_id = get16(&c);
	t->error = get16(&c);
	t->other_len = get16(&c);
	t->other = cur_take(&c, t->other_len);
	if (c.err || !cur_eof(&c))
		return PTT_EINVAL;
	return 0;
}

/* The TSIG variables of RFC 8945 4.3.3. */
static void
add_vars(struct buf *b, const uint8_t *kname, size_t klen, uint64_t now,
    uint16_t fudge, uint16_t error, const uint8_t *other, size_t other_len,
    bool timers_only)
{
	uint8_t v[16];
	uint8_t aw[32];
	size_t al = 0;

	if (!timers_only) {
		buf_add(b, kname, klen);
		v[0] = 0; v[1] = C_ANY; v[2] = v[3] = v[4] = v[5] = 0;
		buf_add(b, v, 6);
		dns_name_to_wire(alg_sha256, aw, &al);
		buf_add(b, aw, al);
	}
	v[0] = (uint8_t)(now >> 40); v[1] = (uint8_t)(now >> 32);
	v[2] = (uint8_t)(now >> 24); v[3] = (uint8_t)(now >> 16);
	v[4] = (uint8_t)(now >> 8); v[5] = (uint8_t)now;
	v[6] = (uint8_t)(fudge >> 8); v[7] = (uint8_t)fudge;
	buf_add(b, v, 8);
	if (!timers_only) {
		v[0] = (uint8_t)(error >> 8); v[1] = (uint8_t)error;
		v[2] = (uint8_t)(other_len >> 8); v[3] = (uint8_t)other_len;
		buf_add(b, v, 4);
		buf_add(b, other, other_len);
	}
}

static int
hmac(const struct tsig_key *k, const struct buf *in, uint8_t *out,
    unsigned *outlen)
{
	if (HMAC(EVP_sha256(), k->secret, (int)k->secret_len,
	    (const unsigned char *)in->data, in->len, out, outlen) == NULL)
		return PTT_ECRYPTO;
	return 0;
}

static void
add_req_mac(struct buf *b, const uint8_t *req_mac, size_t req_mac_len)
{
	if (req_mac == NULL)
		return;
	uint8_t l[2] = { (uint8_t)(req_mac_len >> 8), (uint8_t)req_mac_len };
	buf_add(b, l, 2);
	buf_add(b, req_mac, req_mac_len);
}

int
tsig_verify(const uint8_t *wire, size_t len, const struct tsig_rr *t,
    const struct tsig_key *k, const uint8_t *req_mac, size_t req_mac_len,
    uint64_t now)
{
	struct buf b;
	uint8_t kw[256], mac[EVP_MAX_MD_SIZE];
	size_t kl;
	unsigned ml = 0;
	int ret;

	if (strcmp(t->name, k->name) != 0 || strcmp(t->alg, alg_sha256) != 0)
		return TSIG_BADKEY;
	if (t->offset < 12 || t->offset > len || t->mac_len != 32)
		return TSIG_BADSIG;
	if (dns_name_to_wire(k->name, kw, &kl) != 0)
		return TSIG_BADKEY;
	buf_init(&b, 0);
	add_req_mac(&b, req_mac, req_mac_len);
	size_t hdr = b.len;
	buf_add(&b, wire, t->offset);
	/* original ID, ARCOUNT without the TSIG RR */
	b.data[hdr] = (char)(t->orig_id >> 8);
	b.data[hdr + 1] = (char)t->orig_id;
	unsigned ar = (uint8_t)b.data[hdr + 10] << 8 | (uint8_t)b.data[hdr + 11];
	ar--;
	b.data[hdr + 10] = (char)(ar >> 8);
	b.data[hdr + 11] = (char)ar;
	add_vars(&b, kw, kl, t->time_signed, t->fudge, t->error, t->other,
	    t->other_len, false);
	ret = hmac(k, &b, mac, &ml);
	buf_free(&b);
	if (ret != 0 || ml != t->mac_len || CRYPTO_memcmp(mac, t->mac, ml) != 0)
		return TSIG_BADSIG;
	if ((now > t->time_signed ? now - t->time_signed : t->time_signed - now)
	    > t->fudge)
		return TSIG_BADTIME;
	return TSIG_NOERROR;
}

static void
put16(struct buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	buf_add(b, x, 2);
}

static int
append_tsig(struct buf *msg, const uint8_t *kw, size_t kl, uint64_t now,
    const uint8_t *mac, size_t maclen, uint16_t error, const uint8_t *other,
    size_t other_len)
{
	uint8_t aw[32];
	size_t al;
	uint16_t id;

	if (msg->len < 12)
		return PTT_EINVAL;
	id = (uint16_t)((uint8_t)msg->data[0] << 8 | (uint8_t)msg->data[1]);
	dns_name_to_wire(alg_sha256, aw, &al);
	buf_add(msg, kw, kl);
	put16(msg, T_TSIG);
	put16(msg, C_ANY);
	put16(msg, 0);
	put16(msg, 0);
	put16(msg, (uint16_t)(al + 10 + maclen + 6 + other_len));
	buf_add(msg, aw, al);
	put16(msg, (uint16_t)(now >> 32));
	put16(msg, (uint16_t)(now >> 16));
	put16(msg, (uint16_t)now);
	put16(msg, TSIG_FUDGE);
	put16(msg, (uint16_t)maclen);
	buf_add(msg, mac, maclen);
	put16(msg, id);
	put16(msg, error);
	put16(msg, (uint16_t)other_len);
	buf_add(msg, other, other_len);
	if (buf_error(msg))
		return buf_error(msg);
	unsigned ar = (uint8_t)msg->data[10] << 8 | (uint8_t)msg->data[11];
	ar++;
	msg->data[10] = (char)(ar >> 8);
	msg->data[11] = (char)ar;
	return 0;
}

int
tsig_sign(struct buf *msg, const struct tsig_key *k, uint64_t now,
    const uint8_t *req_mac, size_t req_mac_len, uint16_t error,
    const uint8_t *other, size_t other_len, bool unsigned_mac,
    uint8_t *mac_out, size_t *mac_len_out)
{
	struct buf b;
	uint8_t kw[256], mac[EVP_MAX_MD_SIZE];
	size_t kl;
	unsigned ml = 0;
	int ret;

	if (dns_name_to_wire(k->name, kw, &kl) != 0)
		return PTT_EINVAL;
	if (!unsigned_mac) {
		buf_init(&b, 0);
		add_req_mac(&b, req_mac, req_mac_len);
		buf_add(&b, msg->data, msg->len);
		add_vars(&b, kw, kl, now, TSIG_FUDGE, error, other, other_len,
		    false);
		ret = hmac(k, &b, mac, &ml);
		buf_free(&b);
		if (ret != 0)
			return ret;
	}
	if (mac_out != NULL)
		memcpy(mac_out, mac, ml);
	if (mac_len_out != NULL)
		*mac_len_out = ml;
	return append_tsig(msg, kw, kl, now, mac, ml, error, other, other_len);
}

int
tsig_sign_next(struct buf *msg, const struct tsig_key *k, uint64_t now,
    uint8_t *prev_mac, size_t *prev_len)
{
	struct buf b;
	uint8_t kw[256], mac[EVP_MAX_MD_SIZE];
	size_t kl;
	unsigned ml = 0;
	int ret;

	if (dns_name_to_wire(k->name, kw, &kl) != 0)
		return PTT_EINVAL;
	buf_init(&b, 0);
	add_req_mac(&b, prev_mac, *prev_len);
	buf_add(&b, msg->data, msg->len);
	add_vars(&b, kw, kl, now, TSIG_FUDGE, 0, NULL, 0, true);
	ret = hmac(k, &b, mac, &ml);
	buf_free(&b);
	if (ret != 0)
		return ret;
	memcpy(prev_mac, mac, ml);
	*prev_len = ml;
	return append_tsig(msg, kw, kl, now, mac, ml, 0, NULL, 0);
}

int
tsig_sign_unknown(struct buf *msg, const char *keyname, uint64_t now,
    uint16_t error)
{
	uint8_t kw[256];
	size_t kl;

	if (dns_name_to_wire(keyname, kw, &kl) != 0)
		return PTT_EINVAL;
	return append_tsig(msg, kw, kl, now, NULL, 0, error, NULL, 0);
}
