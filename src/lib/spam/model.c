/*
 * model.c - the spam model's file format and scoring (see model.h).
 *
 * Trusts the model file only after its size, version, hash width and
 * SHA-256 checksum have been checked; trusts nothing in a message.
 */
#include "spam/model.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"

static const char magic[8] = { 'P', 'T', 'T', 'S', 'P', 'A', 'M', '\n' };

void
spam_model_init(struct spam_model *m, unsigned bits, unsigned opts,
    unsigned flags)
{
	memset(m, 0, sizeof(*m));
	m->bits = bits;
	m->mask = (uint32_t)((1ULL << bits) - 1);
	m->opts = opts;
	m->flags = flags;
	m->scale = 1.0f;
	m->threshold = 0.0f;
	m->w = xcalloc((size_t)1 << bits, sizeof(*m->w));
}

void
spam_model_free(struct spam_model *m)
{
	free(m->w);
	memset(m, 0, sizeof(*m));
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static float
getf(const uint8_t *p)
{
	uint32_t u = get32(p);
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static void
putf(uint8_t *p, float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	put32(p, u);
}

static void
checksum(const uint8_t *img, size_t n, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned len = 32;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, img, 40) != 1 ||
	    EVP_DigestUpdate(ctx, img + SPAM_MODEL_HDR, n - SPAM_MODEL_HDR) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &len) != 1)
		fatal("spam model: SHA-256 unavailable");
	EVP_MD_CTX_free(ctx);
}

int
spam_model_parse(struct spam_model *m, const uint8_t *p, size_t n,
    const char **why)
{
	unsigned bits;
	size_t nw;
	uint8_t sum[32];

	*why = NULL;
	if (n < SPAM_MODEL_HDR) {
		*why = "truncated header";
		return PTT_EINVAL;
	}
	if (memcmp(p, magic, sizeof(magic)) != 0) {
		*why = "not a ptt spam model (bad magic)";
		return PTT_EINVAL;
	}
	if (get32(p + 8) != SPAM_MODEL_VERSION) {
		*why = "unsupported model version";
		return PTT_EINVAL;
	}
	bits = get32(p + 12);
	if (bits < 16 || bits > 24) {
		*why = "hash width out of range";
		return PTT_EINVAL;
	}
	nw = (size_t)1 << bits;
	if (n != SPAM_MODEL_HDR + 2 * nw) {
		*why = n < SPAM_MODEL_HDR + 2 * nw ? "truncated weights" :
		    "trailing bytes after weights";
		return PTT_EINVAL;
	}
	checksum(p, n, sum);
	if (memcmp(sum, p + 40, 32) != 0) {
		*why = "checksum mismatch (corrupt model)";
		return PTT_EINVAL;
	}
	if (get32(p + 16) & ~(uint32_t)SPAM_F_ALL || get32(p + 20) & ~SPAM_MODEL_NORM ||
	    !isfinite(getf(p + 24)) || !isfinite(getf(p + 28)) ||
	    !isfinite(getf(p + 32))) {
		*why = "bad header field";
		return PTT_EINVAL;
	}
	spam_model_init(m, bits, get32(p + 16), get32(p + 20));
	m->scale = getf(p + 24);
	m->bias = getf(p + 28);
	m->threshold = getf(p + 32);
	for (size_t i = 0; i < nw; i++) {
		const uint8_t *q = p + SPAM_MODEL_HDR + 2 * i;

		m->w[i] = (int16_t)(uint16_t)(q[0] | q[1] << 8);
	}
	return 0;
}

int
spam_read_file(const char *path, struct buf *out)
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	int ret = 0;

	buf_reset(out);
	if (fd < 0)
		return PTT_EIO;
	for (;;) {
		char *p = buf_reserve(out, 65536);
		ssize_t r;

		if (p == NULL) {
			/* at the limit: keep what fits */
			out->err = 0;
			p = buf_reserve(out, out->max - out->len);
			if (p == NULL || out->max == out->len)
				break;
			r = read(fd, p, out->max - out->len);
		} else {
			r = read(fd, p, 65536);
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			ret = PTT_EIO;
		if (r <= 0)
			break;
		buf_commit(out, (size_t)r);
	}
	if (fd != 0) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return ret;
}

int
spam_model_load(struct spam_model *m, const char *path, const char **why)
{
	struct buf img;
	int ret;

	*why = "cannot read";
	buf_init(&img, SPAM_MODEL_HDR + (2u << 24) + 1);
	ret = spam_read_file(path, &img);
	if (ret == 0)
		ret = spam_model_parse(m, (const uint8_t *)img.data, img.len, why);
	buf_free(&img);
	return ret;
}

void
spam_model_image(const struct spam_model *m, uint8_t **out, size_t *len)
{
	size_t nw = (size_t)1 << m->bits, n = SPAM_MODEL_HDR + 2 * nw;
	uint8_t *p = xcalloc(1, n);

	memcpy(p, magic, sizeof(magic));
	put32(p + 8, SPAM_MODEL_VERSION);
	put32(p + 12, m->bits);
	put32(p + 16, m->opts);
	put32(p + 20, m->flags);
	putf(p + 24, m->scale);
	putf(p + 28, m->bias);
	putf(p + 32, m->threshold);
	for (size_t i = 0; i < nw; i++) {
		uint16_t u = (uint16_t)m->w[i];

		p[SPAM_MODEL_HDR + 2 * i] = (uint8_t)u;
		p[SPAM_MODEL_HDR + 2 * i + 1] = (uint8_t)(u >> 8);
	}
	checksum(p, n, p + 40);
	*out = p;
	*len = n;
}

int
spam_model_save(const struct spam_model *m, const char *path)
{
	uint8_t *img;
	size_t n, off = 0;
	char tmp[4096];
	int fd, ret = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) >=
	    sizeof(tmp))
		return PTT_EIO;
	spam_model_image(m, &img, &n);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(img);
		return PTT_EIO;
	}
	while (off < n) {
		ssize_t w = write(fd, img + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ret = PTT_EIO;
			break;
		}
		off += (size_t)w;
	}
	if (ret == 0 && fsync(fd) != 0)
		ret = PTT_EIO;
	if (close(fd) != 0)
		ret = PTT_EIO;
	if (ret == 0 && rename(tmp, path) != 0)
		ret = PTT_EIO;
	if (ret != 0)
		unlink(tmp);
	free(img);
	return ret;
}

double
spam_model_logodds(const struct spam_model *m, const uint32_t *h, size_t n)
{
	long long acc = 0;
	double z;

	for (size_t i = 0; i < n; i++)
		acc += m->w[h[i] & m->mask];
	z = (double)acc * m->scale;
	if ((m->flags & SPAM_MODEL_NORM) && n > 0)
		z /= sqrt((double)n);
	return z + m->bias;
}

static double
sigmoid(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

double
spam_model_prob(const struct spam_model *m, const uint32_t *h, size_t n)
{
	return sigmoid(spam_model_logodds(m, h, n));
}

int
spam_classify(const struct spam_model *m, struct spam_feats *f,
    const uint8_t *msg, size_t len, struct spam_verdict *v)
{
	double norm;

	memset(v, 0, sizeof(*v));
	spam_extract(f, msg, len);
	v->logodds = spam_model_logodds(m, f->h, f->n);
	v->score = sigmoid(v->logodds);
	v->spam = v->logodds >= m->threshold;
	if (!f->want_names)
		return 0;
	/* the strongest features in the verdict's direction */
	norm = (m->flags & SPAM_MODEL_NORM) && f->n > 0 ? 1.0 / sqrt((double)f->n) : 1.0;
	for (size_t i = 0; i < f->n; i++) {
		double c = m->w[f->h[i] & m->mask] * m->scale * norm;
		int k;

		if (v->spam ? c <= 0 : c >= 0)
			continue;
		for (k = v->nreasons; k > 0 && fabs(v->reason[k - 1].weight) < fabs(c); k--)
			if (k < SPAM_REASONS)
				v->reason[k] = v->reason[k - 1];
		if (k < SPAM_REASONS) {
			v->reason[k].name = spam_feats_name(f, i);
			v->reason[k].weight = c;
			if (v->nreasons < SPAM_REASONS)
				v->nreasons++;
		}
	}
	return 0;
}

void
spam_warm_up(const struct spam_model *m, struct spam_feats *f)
{
	static const char warm[] = "From: a@example.com\r\nSubject: x\r\n"
	    "Content-Type: text/html; charset=iso-8859-1\r\n\r\n"
	    "<a href=\"http://www.example.co.uk/\">caf\xe9</a>\r\n";
	struct spam_verdict v;

	spam_classify(m, f, (const uint8_t *)warm, sizeof(warm) - 1, &v);
}
