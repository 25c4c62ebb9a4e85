/*
 * signer.c - ptt-signer: DKIM-signs every outgoing message and hands it to
 * the relay. The DKIM private keys exist in this process only.
 *
 * Implements: DKIM signing (RFC 6376) with rsa-sha256 and ed25519-sha256
 * (RFC 8463), both by default; publication of the public keys through a
 * TSIG-signed RFC 2136 UPDATE (RFC 8945) when they are missing; the
 * end-to-end acknowledgement rule: a message gets 250 only after the relay
 * said 250 for every recipient (4xx otherwise, so the sender retries and
 * nothing is lost).
 *
 * ARC (RFC 8617): mail forwarded to a user's real address comes from the
 * spam filter (arc_peers, spamfilter.internal) and is ARC-sealed instead
 * of DKIM-signed: instance N+1 on top of the chain it carries, d= the
 * local domain it was addressed to, with that domain's RSA key (Ed25519
 * when it has none). The signer never resolves names, so it does not
 * validate the arriving chain itself: the cv= it seals is the arc= result
 * the mx recorded in its Authentication-Results (authserv_id). That is
 * trusted because the mx removes any field arriving with its authserv-id
 * (RFC 8601 5), only authenticated internal peers reach this path, and a
 * wrong cv=pass cannot make a broken chain pass later: validators check
 * every earlier seal themselves. No arc= (or anything but pass) on a
 * message with a chain seals cv=fail; a message without one gets cv=none.
 * A message that cannot be sealed (50 instances, a leading continuation
 * line) is forwarded unsealed and logged, never refused.
 *
 * Key rotation (rotate.h): the active selector of each domain and
 * algorithm comes from the configuration repository's dkim/<domain>
 * (written by `ptt dkim rotate`; polled every reload_interval and on
 * SIGHUP) or the selector_* parameters. A new selector's key is generated
 * here, published, and signs only once the primary serves it and
 * dkim_publish_wait has passed; the key it replaces stays published for
 * dkim_grace, then its record is deleted (UPDATE) and its file removed.
 * No other process creates or reads these keys: `ptt dkim` only commits
 * the intent and reads the state file below.
 *
 * Holds: its keys (state directory, dkim/<domain>/<selector>.key, 0600,
 * created here) and their states (dkim/<domain>/selectors). Listens:
 * internal, mutual TLS; only peers named in allowed_peers
 * (submission.internal, spamfilter.internal) may hand in mail.
 * Talks to: the relay (mutual TLS, verified as relay.internal) and the DNS
 * primary for the UPDATEs (at start and when rotating; these block the
 * event loop for at most a few seconds). Never resolves names.
 * Sandbox: after keys and certificates are loaded, connections only to
 * the relay's and the DNS primary's ports, and no files at all unless keys
 * can still change (config_repo set, or a key pending or retiring): then
 * files only in its dkim/<domain>/ directories (read-write) and the
 * configuration repository (read-only), and as root it becomes `user`,
 * which then owns the key directories.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/arc.h"
#include "auth/dkim.h"
#include "conf/repo.h"
#include "conf/state.h"
#include "dns/tsig.h"
#include "dns/update.h"
#include "mail/addr.h"
#include "mail/hdr.h"
#include "signer/rotate.h"
#include "smtp/hop.h"
#include "smtp/server.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/ev.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/param.h"
#include "util/sandbox.h"
#include "util/tls.h"

struct config {
	char *listen;
	char *cert, *key, *ca;
	char *allowed_peers;
	char *arc_peers;
	char *authserv_id;
	char *relay;
	char *relay_name;
	bool relay_implicit_tls;
	char *domains;
	char *state;
	char *selector_rsa;
	char *selector_ed25519;
	long long rsa_bits;
	char *dns_primary;
	char *tsig_key;
	long long key_ttl;
	long long expire;
	char *config_repo, *branch;
	long long reload_interval;
	long long dkim_grace;
	long long dkim_publish_wait;
	long long dkim_retry;
	unsigned long long max_size;
	long long max_rcpts;
	long long pool;
	bool sandbox;
	char *user;
};

#define P(n, t, d, lo, hi, f, doc) { n, t, d, lo, hi, NULL, offsetof(struct config, f), doc }
static const struct param params[] = {
	P("listen", PARAM_STR, "127.0.0.1:10025", 0, 0, listen, "Internal address for submission (mutual TLS from the first byte)."),
	P("cert", PARAM_STR, NULL, 0, 0, cert, "Certificate of this service (signer.internal), PEM."),
	P("key", PARAM_STR, NULL, 0, 0, key, "Its private key, PEM."),
	P("ca", PARAM_STR, NULL, 0, 0, ca, "The internal CA: peers must present certificates from it."),
	P("allowed_peers", PARAM_STR, "submission.internal spamfilter.internal", 0, 0, allowed_peers, "Service names allowed to hand in mail (space-separated)."),
	P("arc_peers", PARAM_STR, "spamfilter.internal", 0, 0, arc_peers, "Of those, the ones whose mail is forwarded inbound mail: ARC-sealed (RFC 8617), not DKIM-signed."),
	P("authserv_id", PARAM_STR, "", 0, 0, authserv_id, "The mx's authserv-id: its Authentication-Results go into the ARC set and its arc= result is the sealed cv (empty: the first domain)."),
	P("relay", PARAM_STR, "127.0.0.1:10026", 0, 0, relay, "The relay's internal address."),
	P("relay_name", PARAM_STR, "relay.internal", 0, 0, relay_name, "The name the relay's certificate must carry."),
	P("relay_implicit_tls", PARAM_BOOL, "no", 0, 0, relay_implicit_tls, "TLS from the first byte to the relay (else STARTTLS, required and verified)."),
	P("domains", PARAM_STR, NULL, 0, 0, domains, "Domains signed for (space-separated); mail From: others is refused."),
	P("state", PARAM_STR, "/var/lib/ptt/state", 0, 0, state, "State directory holding the keys."),
	P("selector_rsa", PARAM_STR, "ptt-rsa", 0, 0, selector_rsa, "Selector of the RSA key (empty: no RSA signature)."),
	P("selector_ed25519", PARAM_STR, "ptt-ed25519", 0, 0, selector_ed25519, "Selector of the Ed25519 key (empty: none)."),
	P("rsa_bits", PARAM_INT, "2048", 1024, 4096, rsa_bits, "Size of a new RSA key."),
	P("dns_primary", PARAM_STR, NULL, 0, 0, dns_primary, "DNS primary (host:port) to publish missing keys at; empty: do not publish."),
	P("tsig_key", PARAM_STR, NULL, 0, 0, tsig_key, "TSIG key file (name:hmac-sha256:secret) for the updates."),
	P("key_ttl", PARAM_TIME, "1h", 60, 604800, key_ttl, "TTL of published key records."),
	P("expire", PARAM_TIME, "0", 0, 31536000, expire, "Signature lifetime (x=); 0: no x=."),
	P("config_repo", PARAM_STR, "", 0, 0, config_repo, "Local configuration repository whose dkim/<domain> files (ptt dkim rotate) name the active selectors; empty: the selector_* parameters."),
	P("branch", PARAM_STR, NULL, 0, 0, branch, "Its branch (default: HEAD's)."),
	P("reload_interval", PARAM_TIME, "5s", 1, 3600, reload_interval, "How often to look for new selectors and advance key rotation (SIGHUP: now)."),
	P("dkim_grace", PARAM_TIME, "7d", 0, 31536000, dkim_grace, "How long a replaced key stays published (not signing) before its record and private key are deleted."),
	P("dkim_publish_wait", PARAM_TIME, "10m", 0, 604800, dkim_publish_wait, "A new key signs only this long after it was published (and once the primary serves it), so secondaries have it."),
	P("dkim_retry", PARAM_TIME, "1m", 1, 86400, dkim_retry, "Delay before a failed DNS update for a key is tried again."),
	P("max_size", PARAM_SIZE, "50m", 1024, 1LL << 31, max_size, "Largest message accepted."),
	P("max_rcpts", PARAM_INT, "1000", 1, 100000, max_rcpts, "Recipients per message (at most the relay's limit)."),
	P("pool", PARAM_INT, "8", 0, 256, pool, "Idle connections to the relay kept for reuse."),
	P("sandbox", PARAM_BOOL, "yes", 0, 0, sandbox, "Restrict the process after start (Landlock, seccomp, uid)."),
	P("user", PARAM_STR, "nobody", 0, 0, user, "Unprivileged user to become when started as root."),
	PARAM_END
};

/* A domain's key directory in the state directory. */
struct kdir {
	char domain[DKR_DOMAIN_MAX];
	char *path;
	int fd;
};

struct signer {
	struct event_base *base;
	struct config cfg;
	SSL_CTX *srv_tls, *cli_tls;
	struct smtp_server *srv;
	struct kdir *kdirs;
	size_t nkdirs;
	struct dkr_set rot;		/* every key, its state and EVP_PKEY */
	struct dkr_want *wants;
	size_t nwants;
	struct conf_repo *repo;		/* NULL: no config_repo */
	char head[CONF_COMMIT_HEX];	/* its commit the wants come from */
	struct tsig_key tsig;
	bool have_tsig;
	struct event *tick;
	struct hop *relay;
};

static bool
word_in(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list; p && *p;) {
		size_t k;
		p += strspn(p, " \t,");
		k = strcspn(p, " \t,");
		if (k == n && strncasecmp(p, w, n) == 0)
			return true;
		p += k;
	}
	return false;
}

/* ---- keys: files under the state directory, through a directory fd ---- */

/*
 * Each domain's keys live in dkim/<domain>/ (0700), opened once at start
 * as a directory fd, so that after the uid drop the signer still reaches
 * them (the state directory above stays 0700 root) and Landlock gives it
 * that directory and nothing else.
 */
static struct kdir *
kdir_of(struct signer *sg, const char *domain)
{
	for (size_t i = 0; i < sg->nkdirs; i++)
		if (strcasecmp(sg->kdirs[i].domain, domain) == 0)
			return &sg->kdirs[i];
	return NULL;
}

/* Read a whole file of dir (at most max bytes). 0, PTT_ENOENT, PTT_EPERM
 * (mode grants group/other access or not a regular file) or PTT_EIO. */
static int
kfile_read(int dfd, const char *name, size_t max, char **data, size_t *len)
{
	struct stat st;
	char *p;
	size_t n = 0;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return errno == ENOENT ? PTT_ENOENT : PTT_EIO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) != 0 || (size_t)st.st_size > max) {
		close(fd);
		return PTT_EPERM;
	}
	p = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, p + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	p[n] = '\0';
	*data = p;
	*len = n;
	return 0;
}

/* Write name in dir atomically, mode 0600: temporary file, fsync, rename,
 * fsync of the directory. 0 or PTT_EIO (errno kept). */
static int
kfile_write(int dfd, const char *name, const void *data, size_t len)
{
	char tmp[128];
	const char *p = data;
	int fd, e;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return PTT_EIO;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) != 0 || fsync(dfd) != 0)
		goto fail;
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	errno = e;
	return PTT_EIO;
}

static int
key_open(void *arg, struct dkr_key *dk)
{
	struct signer *sg = arg;
	struct kdir *d = kdir_of(sg, dk->domain);
	char name[DKR_SEL_MAX + 8], *pem = NULL;
	size_t len = 0;
	EVP_PKEY *k = NULL;
	BIO *bio;
	int r;

	if (d == NULL)
		return PTT_ENOENT;
	snprintf(name, sizeof(name), "%s.key", dk->selector);
	r = kfile_read(d->fd, name, STATE_SECRET_MAX, &pem, &len);
	if (r == 0) {
		bio = BIO_new_mem_buf(pem, (int)len);
		k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
		OPENSSL_cleanse(pem, len);
		free(pem);
		if (k == NULL || EVP_PKEY_get_id(k) != (dk->alg == DKR_RSA ?
		    EVP_PKEY_RSA : EVP_PKEY_ED25519)) {
			log_err(NULL, "dkim: %s/dkim/%s/%s: not a %s private key",
			    sg->cfg.state, dk->domain, name, dkr_alg_name(dk->alg));
			EVP_PKEY_free(k);
			return PTT_EINVAL;
		}
		dk->key = k;
		return 0;
	}
	if (r != PTT_ENOENT) {
		log_err(NULL, "dkim: %s/dkim/%s/%s: %s", sg->cfg.state,
		    dk->domain, name, r == PTT_EPERM ? "not a regular file of "
		    "mode 0600" : strerror(errno));
		return r;
	}
	k = dk->alg == DKR_RSA ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)sg->cfg.rsa_bits) :
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k == NULL) {
		log_err(NULL, "dkim: cannot generate a %s key",
		    dkr_alg_name(dk->alg));
		return PTT_ECRYPTO;
	}
	bio = BIO_new(BIO_s_mem());
	r = PTT_ECRYPTO;
	if (bio != NULL && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0,
	    NULL, NULL) == 1) {
		char *data;
		long n = BIO_get_mem_data(bio, &data);
		r = kfile_write(d->fd, name, data, (size_t)n);
		if (r != 0)
			log_err(NULL, "dkim: writing %s/dkim/%s/%s: %s",
			    sg->cfg.state, dk->domain, name, strerror(errno));
		OPENSSL_cleanse(data, (size_t)n);
	}
	BIO_free(bio);
	if (r != 0) {
		EVP_PKEY_free(k);
		return r;
	}
	dk->key = k;
	return 0;
}

static void
key_close(void *arg, struct dkr_key *dk)
{
	(void)arg;
	EVP_PKEY_free(dk->key);
	dk->key = NULL;
}

static int
key_delete(void *arg, struct dkr_key *dk)
{
	struct signer *sg = arg;
	struct kdir *d = kdir_of(sg, dk->domain);
	char name[DKR_SEL_MAX + 8];

	snprintf(name, sizeof(name), "%s.key", dk->selector);
	if (d == NULL || ((unlinkat(d->fd, name, 0) != 0 && errno != ENOENT) ||
	    fsync(d->fd) != 0)) {
		log_err(NULL, "dkim: deleting %s/dkim/%s/%s: %s", sg->cfg.state,
		    dk->domain, name, strerror(errno));
		return PTT_EIO;
	}
	log_info(NULL, "dkim: deleted the private key of %s._domainkey.%s",
	    dk->selector, dk->domain);
	return 0;
}

/* The TXT record data split into quoted strings of at most 255 octets. */
static void
txt_rdata(const char *rec, struct buf *out)
{
	size_t n = strlen(rec);

	for (size_t i = 0; i < n; i += 255)
		buf_addf(out, "%s\"%.*s\"", i ? " " : "",
		    (int)(n - i < 255 ? n - i : 255), rec + i);
}

/*
 * An UPDATE to the primary: with check, one whose only prerequisite is the
 * exact record and that changes nothing (NOERROR: the primary serves it;
 * nothing written, no resolver needed); else replace the record, or with
 * del delete it. 0 on NOERROR.
 */
static int
dns_op(struct signer *sg, const struct dkr_key *k, bool check, bool del)
{
	struct buf rec, rr;
	struct dns_update_op op;
	struct dns_update_req req;
	struct dns_update_res res;
	char err[256], zone[300], name[DKR_SEL_MAX + DKR_DOMAIN_MAX + 16];
	int r;

	buf_init(&rec, 0);
	buf_init(&rr, 0);
	dkim_key_record(k->key, &rec);
	snprintf(name, sizeof(name), "%s._domainkey.%s.", k->selector, k->domain);
	snprintf(zone, sizeof(zone), "%s.", k->domain);
	memset(&req, 0, sizeof(req));
	req.server = sg->cfg.dns_primary;
	req.zone = zone;
	req.key = &sg->tsig;
	req.tcp = true;
	req.timeout_ms = 3000;
	if (check) {
		buf_addf(&rr, "%s TXT ", name);
		txt_rdata(rec.data, &rr);
		op.kind = DNSP_YXRRSET_VALUE;
		req.prereq = &op;
		req.nprereq = 1;
	} else if (del) {
		buf_addf(&rr, "%s TXT", name);
		op.kind = DNSU_DEL_RRSET;
		req.upd = &op;
		req.nupd = 1;
	} else {
		buf_addf(&rr, "%s %lld TXT ", name, sg->cfg.key_ttl);
		txt_rdata(rec.data, &rr);
		op.kind = DNSU_REPLACE;
		req.upd = &op;
		req.nupd = 1;
	}
	op.rr = rr.data;
	r = dns_update_send(&req, &res, err, sizeof(err));
	if (r == 0 && res.rcode != 0) {
		snprintf(err, sizeof(err), "%s%s", dns_rcode_name(res.rcode),
		    res.tsig_error ? " (TSIG)" : "");
		r = PTT_EPERM;
	}
	if (r != 0 && !check)
		log_err(NULL, "dkim: %s %s failed: %s", del ? "removing" :
		    "publishing", name, err);
	buf_free(&rec);
	buf_free(&rr);
	return r;
}

/* The record is at the primary (published now, or found there). */
static int
publish(void *arg, struct dkr_key *k)
{
	struct signer *sg = arg;
	int r;

	if (!sg->have_tsig) {
		struct buf rec;
		buf_init(&rec, 0);
		dkim_key_record(k->key, &rec);
		log_info(NULL, "dkim: no dns_primary: publish %s._domainkey.%s "
		    "TXT \"%s\" yourself", k->selector, k->domain, rec.data);
		buf_free(&rec);
		return 0;
	}
	if (dns_op(sg, k, true, false) == 0) {
		log_info(NULL, "dkim: %s._domainkey.%s. already published",
		    k->selector, k->domain);
		return 0;
	}
	if ((r = dns_op(sg, k, false, false)) == 0)
		log_info(NULL, "dkim: published %s._domainkey.%s.", k->selector,
		    k->domain);
	return r;
}

/* A query of the primary sees the record (without one: the wait alone). */
static int
visible(void *arg, struct dkr_key *k)
{
	struct signer *sg = arg;

	return sg->have_tsig ? dns_op(sg, k, true, false) : 0;
}

static int
unpublish(void *arg, struct dkr_key *k)
{
	struct signer *sg = arg;

	if (!sg->have_tsig) {
		log_info(NULL, "dkim: no dns_primary: remove %s._domainkey.%s "
		    "TXT yourself", k->selector, k->domain);
		return 0;
	}
	if (dns_op(sg, k, false, true) != 0)
		return PTT_EIO;
	log_info(NULL, "dkim: removed %s._domainkey.%s. from DNS", k->selector,
	    k->domain);
	return 0;
}

static void
key_changed(void *arg, const struct dkr_key *k, const char *what)
{
	(void)arg;
	if (k->state == DKR_RETIRING && strcmp(what, "retiring") == 0)
		log_info(NULL, "dkim: %s._domainkey.%s (%s) retiring: stays "
		    "published until %lld", k->selector, k->domain,
		    dkr_alg_name(k->alg), k->until);
	else
		log_info(NULL, "dkim: %s._domainkey.%s (%s) %s", k->selector,
		    k->domain, dkr_alg_name(k->alg), what);
}

/* Write each domain's state file. */
static void
save_state(struct signer *sg)
{
	for (size_t i = 0; i < sg->nkdirs; i++) {
		struct buf b;
		buf_init(&b, DKR_FILE_MAX);
		dkr_format(&sg->rot, sg->kdirs[i].domain, &b);
		if (buf_error(&b) != 0 || kfile_write(sg->kdirs[i].fd,
		    DKR_STATE_FILE, b.data, b.len) != 0)
			log_err(NULL, "dkim: cannot save %s/dkim/%s/%s: %s",
			    sg->cfg.state, sg->kdirs[i].domain, DKR_STATE_FILE,
			    strerror(errno));
		buf_free(&b);
	}
}

/*
 * What the operator wants: the repository's dkim/<domain> when it exists,
 * else the selector_* parameters. 0, or an error (logged; the caller keeps
 * what it had).
 */
static int
load_wants(struct signer *sg, struct dkr_want **out, size_t *nout)
{
	struct dkr_want *w = NULL;
	size_t n = 0;

	for (size_t i = 0; i < sg->nkdirs; i++) {
		const char *dom = sg->kdirs[i].domain;
		char path[DKR_DOMAIN_MAX + 8], *text = NULL, err[256];
		size_t len = 0;
		int r = PTT_ENOENT;

		snprintf(path, sizeof(path), "dkim/%s", dom);
		if (sg->repo != NULL)
			r = conf_repo_read(sg->repo, NULL, path, DKR_FILE_MAX,
			    &text, &len);
		if (r == 0) {
			r = dkr_intent_parse(text, len, dom, &w, &n, err,
			    sizeof(err));
			free(text);
			if (r != 0) {
				log_err(NULL, "dkim: %s:%s", path, err);
				free(w);
				return r;
			}
			continue;
		}
		if (r != PTT_ENOENT) {
			log_err(NULL, "dkim: reading %s: %s", path, ptt_strerror(r));
			free(w);
			return r;
		}
		for (int t = 0; t < DKR_NALG; t++) {
			const char *sel = t == DKR_RSA ? sg->cfg.selector_rsa :
			    sg->cfg.selector_ed25519;
			if (sel == NULL || *sel == '\0')
				continue;
			if (!dkr_selector_valid(sel, strlen(sel)))
				fatal("bad selector \"%s\"", sel);
			w = xreallocarray(w, n + 1, sizeof(*w));
			memset(&w[n], 0, sizeof(w[n]));
			ptt_strlcpy(w[n].domain, dom, sizeof(w[n].domain));
			ptt_strlcpy(w[n].selector, sel, sizeof(w[n].selector));
			w[n++].alg = (enum dkr_alg)t;
		}
	}
	free(*out);
	*out = w;
	*nout = n;
	return 0;
}

/* One step of rotation: new wants when the repository moved, then the
 * state machine, then the state files when something changed. */
static void
rotate_step(struct signer *sg)
{
	char head[CONF_COMMIT_HEX];

	if (sg->repo != NULL && conf_repo_head(sg->repo, head) == 0 &&
	    strcmp(head, sg->head) != 0) {
		if (load_wants(sg, &sg->wants, &sg->nwants) == 0)
			log_info(NULL, "dkim: selectors at %.12s", head);
		memcpy(sg->head, head, sizeof(head));
	}
	if (dkr_step(&sg->rot, sg->wants, sg->nwants, (long long)time(NULL)))
		save_state(sg);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rotate_step(arg);
}

static void
on_reload(void *arg)
{
	rotate_step(arg);
}

static void
load_keys(struct signer *sg)
{
	const char *p = sg->cfg.domains;
	char err[256];
	size_t active = 0;

	if (p == NULL || *p == '\0')
		fatal("no domains to sign for");
	if (sg->cfg.dns_primary && *sg->cfg.dns_primary) {
		if (sg->cfg.tsig_key == NULL ||
		    tsig_key_load(&sg->tsig, sg->cfg.tsig_key, err,
		    sizeof(err)) != 0)
			fatal("dns_primary needs a TSIG key: %s",
			    sg->cfg.tsig_key ? err : "tsig_key not set");
		sg->have_tsig = true;
	}
	if (sg->cfg.config_repo != NULL && *sg->cfg.config_repo) {
		struct conf_repo_opts ro;
		if (conf_url_is_remote(sg->cfg.config_repo))
			fatal("config_repo: the signer reads a local repository");
		memset(&ro, 0, sizeof(ro));
		ro.url = sg->cfg.config_repo;
		ro.branch = sg->cfg.branch;
		if (conf_repo_open(&sg->repo, &ro, err, sizeof(err)) != 0)
			fatal("%s", err);
	}
	while (*p) {
		char dom[DKR_DOMAIN_MAX], rel[DKR_DOMAIN_MAX + 16];
		char path[4096], *text;
		struct kdir *d;
		size_t n, len;
		int r;

		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == 0)
			break;
		if (n >= sizeof(dom) || memchr(p, '/', n) != NULL || *p == '.')
			fatal("bad domain \"%.*s\"", (int)n, p);
		memcpy(dom, p, n);
		dom[n] = '\0';
		p += n;
		if (kdir_of(sg, dom) != NULL)
			continue;
		snprintf(rel, sizeof(rel), "dkim/%s/%s", dom, DKR_STATE_FILE);
		if (state_mkparents(sg->cfg.state, rel, err, sizeof(err)) != 0)
			fatal("%s", err);
		snprintf(rel, sizeof(rel), "dkim/%s", dom);
		if (state_path(sg->cfg.state, rel, path, sizeof(path)) != 0)
			fatal("state directory name too long");
		sg->kdirs = xreallocarray(sg->kdirs, sg->nkdirs + 1,
		    sizeof(*sg->kdirs));
		d = &sg->kdirs[sg->nkdirs++];
		ptt_strlcpy(d->domain, dom, sizeof(d->domain));
		d->path = xstrdup(path);
		d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d->fd < 0)
			fatal("%s: %s", path, strerror(errno));
		/* Earlier keys and their states. */
		r = kfile_read(d->fd, DKR_STATE_FILE, DKR_FILE_MAX, &text, &len);
		if (r == 0) {
			size_t first = sg->rot.n;
			if (dkr_parse(text, len, dom, &sg->rot.k, &sg->rot.n, err,
			    sizeof(err)) != 0)
				fatal("%s/%s:%s", path, DKR_STATE_FILE, err);
			free(text);
			for (size_t i = first; i < sg->rot.n;) {
				if (key_open(sg, &sg->rot.k[i]) != 0) {
					log_warn(NULL, "dkim: forgetting %s._domainkey.%s: "
					    "no usable key file", sg->rot.k[i].selector, dom);
					memmove(&sg->rot.k[i], &sg->rot.k[i + 1],
					    (sg->rot.n - i - 1) * sizeof(*sg->rot.k));
					sg->rot.n--;
				} else
					i++;
			}
		} else if (r != PTT_ENOENT)
			fatal("%s/%s: unreadable or not mode 0600", path,
			    DKR_STATE_FILE);
	}
	if (load_wants(sg, &sg->wants, &sg->nwants) != 0)
		fatal("cannot read the DKIM selectors");
	if (sg->repo != NULL && conf_repo_head(sg->repo, sg->head) != 0)
		sg->head[0] = '\0';
	dkr_step(&sg->rot, sg->wants, sg->nwants, (long long)time(NULL));
	save_state(sg);
	for (size_t i = 0; i < sg->rot.n; i++)
		active += sg->rot.k[i].state == DKR_ACTIVE;
	if (active == 0)
		fatal("no DKIM key to sign with (selectors configured?)");
}

/* A key is not (or no longer) signing: it will need its files. */
static bool
rotation_pending(const struct signer *sg)
{
	for (size_t i = 0; i < sg->rot.n; i++)
		if (sg->rot.k[i].state != DKR_ACTIVE)
			return true;
	return false;
}

/* Started as root with a sandbox: the key directories become the service
 * user's, so it can create and delete keys after dropping privileges. */
static void
give_key_dirs(struct signer *sg)
{
	struct passwd *pw;

	if (geteuid() != 0 || !sg->cfg.sandbox)
		return;
	if ((pw = getpwnam(sg->cfg.user ? sg->cfg.user : "nobody")) == NULL)
		fatal("unknown user %s", sg->cfg.user);
	for (size_t i = 0; i < sg->nkdirs; i++) {
		struct kdir *d = &sg->kdirs[i];
		if (fchown(d->fd, pw->pw_uid, pw->pw_gid) != 0)
			fatal("chown %s: %s", d->path, strerror(errno));
		for (size_t j = 0; j < sg->rot.n; j++) {
			char name[DKR_SEL_MAX + 8];
			if (strcasecmp(sg->rot.k[j].domain, d->domain) != 0)
				continue;
			snprintf(name, sizeof(name), "%s.key", sg->rot.k[j].selector);
			if (fchownat(d->fd, name, pw->pw_uid, pw->pw_gid,
			    AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT)
				fatal("chown %s/%s: %s", d->path, name,
				    strerror(errno));
		}
		if (fchownat(d->fd, DKR_STATE_FILE, pw->pw_uid, pw->pw_gid,
		    AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT)
			fatal("chown %s/%s: %s", d->path, DKR_STATE_FILE,
			    strerror(errno));
	}
}

/* ---- the server side ---- */

/* Session data of a peer in arc_peers (nothing to free). */
static char arc_peer_mark;

static bool
on_tls(struct smtp_session *s, SSL *ssl)
{
	struct signer *sg = smtp_server_arg(smtp_session_server(s));

	if (!hop_peer_allowed(s, ssl, sg->cfg.allowed_peers))
		return false;
	if (hop_peer_is(ssl, sg->cfg.arc_peers))
		smtp_session_set_data(s, &arc_peer_mark);
	return true;
}

/* The key to seal with for the local domain the message was sent to: its
 * RSA key (dkimpy and most validators know no Ed25519 ARC), else any. */
static const struct dkr_key *
seal_key(const struct signer *sg, const struct smtp_envelope *env)
{
	const struct dkr_key *best = NULL;
	const char *dom = NULL;

	for (size_t r = 0; r < env->nrcpt && dom == NULL; r++)
		if (word_in(sg->cfg.domains, env->rcpt[r].path.domain))
			dom = env->rcpt[r].path.domain;
	for (size_t i = 0; i < sg->rot.n; i++) {
		const struct dkr_key *k = &sg->rot.k[i];
		if (k->state != DKR_ACTIVE)
			continue;
		if (dom != NULL && strcasecmp(k->domain, dom) != 0)
			continue;
		if (best == NULL || (k->alg == DKR_RSA && best->alg != DKR_RSA))
			best = k;
		if (dom == NULL)	/* not addressed to us: the first domain */
			dom = k->domain;
	}
	return best;
}

/* ARC-seal forwarded mail (see the top of the file) and pass it on. */
static void
seal_and_forward(struct signer *sg, struct smtp_session *s,
    const struct smtp_envelope *env, const uint8_t *msg, size_t len)
{
	const struct dkr_key *k = seal_key(sg, env);
	struct arc_seal as;
	struct mail_hdr h;
	struct buf set;
	char err[256], first[256];
	unsigned n;
	int r = PTT_ENOENT;

	memset(&as, 0, sizeof(as));
	if (sg->cfg.authserv_id && *sg->cfg.authserv_id)
		as.authserv_id = sg->cfg.authserv_id;
	else {
		size_t l;
		const char *d = sg->cfg.domains + strspn(sg->cfg.domains, " \t,");
		l = strcspn(d, " \t,");
		snprintf(first, sizeof(first), "%.*s", (int)l, d);
		as.authserv_id = first;
	}
	mail_hdr_parse(&h, msg, len, NULL);
	n = arc_instances(&h);
	as.cv = n == 0 ? ARC_NONE :
	    arc_cv_from_ar(&h, as.authserv_id) == ARC_PASS ? ARC_PASS : ARC_FAIL;
	mail_hdr_free(&h);
	buf_init(&set, 0);
	snprintf(err, sizeof(err), "no key");
	if (k != NULL) {
		as.domain = k->domain;
		as.selector = k->selector;
		as.key = k->key;
		as.now = time(NULL);
		r = arc_seal(&as, (const char *)msg, len, &set, err, sizeof(err));
		if (r == PTT_EINVAL && as.cv != ARC_FAIL) {
			/* the mx said pass, yet the chain is malformed, or
			 * ARC fields with no valid instance: a broken chain */
			as.cv = ARC_FAIL;
			buf_reset(&set);
			r = arc_seal(&as, (const char *)msg, len, &set, err,
			    sizeof(err));
		}
	}
	if (r != 0) {
		buf_reset(&set);
		log_warn(smtp_session_id(s), "forwarded unsealed from=<%s> "
		    "nrcpt=%zu: %s", env->from.null ? "" : env->from.addr,
		    env->nrcpt, err);
	} else
		log_info(smtp_session_id(s), "sealed from=<%s> nrcpt=%zu "
		    "size=%zu arc i=%u cv=%s d=%s s=%s", env->from.null ? "" :
		    env->from.addr, env->nrcpt, len + set.len, n + 1,
		    arc_cv_name(as.cv), k->domain, k->selector);
	hop_forward(sg->relay, s, env, &set, msg, len);
	buf_free(&set);
}

static void
on_message(struct smtp_session *s, const struct smtp_envelope *env,
    const uint8_t *msg, size_t len)
{
	struct signer *sg = smtp_server_arg(smtp_session_server(s));
	struct mail_hdr h;
	struct buf sigs;
	char *author = NULL, err[256];
	size_t n = 0;
	int r;

	if (smtp_session_data(s) == &arc_peer_mark) {
		seal_and_forward(sg, s, env, msg, len);
		return;
	}
	mail_hdr_parse(&h, msg, len, NULL);
	r = mail_author_domain(&h, &author);
	mail_hdr_free(&h);
	if (r != 0) {
		smtp_session_reply(s, 550, "5.7.1", "need exactly one From: "
		    "address to sign for");
		return;
	}
	if (!word_in(sg->cfg.domains, author)) {
		smtp_session_reply(s, 550, "5.7.1", "not signing for %s", author);
		free(author);
		return;
	}
	buf_init(&sigs, 0);
	for (size_t i = 0; i < sg->rot.n; i++) {
		const struct dkr_key *k = &sg->rot.k[i];
		struct dkim_sign ds;
		if (k->state != DKR_ACTIVE || strcasecmp(k->domain, author) != 0)
			continue;
		memset(&ds, 0, sizeof(ds));
		ds.domain = k->domain;
		ds.selector = k->selector;
		ds.key = k->key;
		ds.now = time(NULL);
		ds.expire = (long)sg->cfg.expire;
		ds.hc = ds.bc = MAIL_CANON_RELAXED;
		if (dkim_sign(&ds, (const char *)msg, len, &sigs, err,
		    sizeof(err)) != 0) {
			log_err(smtp_session_id(s), "%s", err);
			smtp_session_reply(s, 554, "5.6.0", "cannot sign: %s", err);
			free(author);
			buf_free(&sigs);
			return;
		}
		n++;
	}
	log_info(smtp_session_id(s), "signed from=<%s> nrcpt=%zu size=%zu "
	    "d=%s signatures=%zu", env->from.null ? "" : env->from.addr,
	    env->nrcpt, len + sigs.len, author, n);
	free(author);
	hop_forward(sg->relay, s, env, &sigs, msg, len);
	buf_free(&sigs);
}

/* ---- main ---- */

static void
on_stop(void *arg)
{
	struct signer *sg = arg;

	hop_stop(sg->relay, sg->srv, sg->base);
}

int
main(int argc, char **argv)
{
	struct signer sg;
	struct smtp_hooks hooks;
	struct tls_opts to;
	char err[512];

	log_init(argv[0]);
	memset(&sg, 0, sizeof(sg));
	param_main(params, &sg.cfg, "signer", argc, argv);
	if (sg.cfg.cert == NULL || sg.cfg.key == NULL || sg.cfg.ca == NULL)
		fatal("cert, key and ca are required (mutual TLS only)");

	sg.base = ev_base_new();
	memset(&to, 0, sizeof(to));
	to.cert_file = sg.cfg.cert;
	to.key_file = sg.cfg.key;
	to.ca_file = sg.cfg.ca;
	to.verify_peer = true;
	if ((sg.srv_tls = tls_server_ctx(&to, err, sizeof(err))) == NULL)
		fatal("%s", err);
	if ((sg.cli_tls = tls_client_ctx(&to, err, sizeof(err))) == NULL)
		fatal("%s", err);
	sg.rot.grace = sg.cfg.dkim_grace;
	sg.rot.publish_wait = sg.cfg.dkim_publish_wait;
	sg.rot.retry = sg.cfg.dkim_retry;
	sg.rot.ops = (struct dkr_ops){ &sg, key_open, key_close, key_delete,
	    publish, visible, unpublish, key_changed };
	load_keys(&sg);
	{
		struct hop_opts ho;
		memset(&ho, 0, sizeof(ho));
		ho.addr = sg.cfg.relay;
		ho.name = sg.cfg.relay_name;
		ho.helo = "signer.internal";
		ho.implicit_tls = sg.cfg.relay_implicit_tls;
		ho.tls = sg.cli_tls;
		ho.pool = (unsigned)sg.cfg.pool;
		if ((sg.relay = hop_new(sg.base, &ho, err, sizeof(err))) == NULL)
			fatal("relay: %s", err);
	}

	memset(&hooks, 0, sizeof(hooks));
	hooks.tls = on_tls;
	hooks.message = on_message;
	sg.srv = hop_listen(sg.base, sg.cfg.listen, "signer.internal", sg.srv_tls,
	    sg.cfg.max_size, (unsigned)sg.cfg.max_rcpts, &hooks, &sg);

	if (sg.cfg.sandbox) {
		struct sandbox sb;
		char rh[256], rp[32];
		uint16_t ports[3] = { 0, 0, 0 };
		const char *ro_paths[2] = { sg.cfg.config_repo, NULL };
		const char **rw_paths = xcalloc(sg.nkdirs + 1, sizeof(char *));
		memset(&sb, 0, sizeof(sb));
		if (net_split_hostport(sg.cfg.relay, rh, sizeof(rh), rp,
		    sizeof(rp)) == 0)
			ports[0] = (uint16_t)atoi(rp);
		if (sg.have_tsig && net_split_hostport(sg.cfg.dns_primary, rh,
		    sizeof(rh), rp, sizeof(rp)) == 0)
			ports[1] = (uint16_t)atoi(rp);
		if (ports[1] == 0 || ports[1] == ports[0])
			ports[1] = 0;
		for (size_t i = 0; i < sg.nkdirs; i++)
			rw_paths[i] = sg.kdirs[i].path;
		sb.name = "signer";
		sb.user = sg.cfg.user;
		sb.groups = SB_NET_CONNECT;
		sb.connect_ports = ports;
		/* Files only while keys can change: selectors from the
		 * repository, or keys still on their way in or out. */
		if (sg.repo != NULL || rotation_pending(&sg)) {
			give_key_dirs(&sg);
			sb.groups |= SB_FS_WRITE | SB_FS_READ;
			sb.rw_paths = rw_paths;
			if (sg.repo != NULL)
				sb.ro_paths = ro_paths;
		}
		if (sandbox_enter(&sb, err, sizeof(err)) != 0)
			fatal("%s", err);
		free(rw_paths);
	}
	ev_on_signals(sg.base, on_stop, on_reload, &sg);
	{
		struct timeval tv = { (time_t)sg.cfg.reload_interval, 0 };
		sg.tick = event_new(sg.base, -1, EV_PERSIST, on_tick, &sg);
		event_add(sg.tick, &tv);
	}
	log_info(NULL, "signing for %s with %zu keys; relay %s", sg.cfg.domains,
	    sg.rot.n, sg.cfg.relay);
	event_base_dispatch(sg.base);

	ev_free_signals();
	smtp_server_free(sg.srv);
	event_free(sg.tick);
	dkr_free(&sg.rot);
	free(sg.wants);
	for (size_t i = 0; i < sg.nkdirs; i++) {
		close(sg.kdirs[i].fd);
		free(sg.kdirs[i].path);
	}
	free(sg.kdirs);
	conf_repo_close(sg.repo);
	ptt_memzero(&sg.tsig, sizeof(sg.tsig));
	hop_free(sg.relay);
	SSL_CTX_free(sg.srv_tls);
	SSL_CTX_free(sg.cli_tls);
	param_free(params, &sg.cfg);
	event_base_free(sg.base);
	return 0;
}
