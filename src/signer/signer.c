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
 * Holds: its keys (state directory, dkim/<domain>/<selector>.key, 0600,
 * created here on first start). Listens: internal, mutual TLS; only peers
 * named in allowed_peers (submission.internal, spamfilter.internal) may
 * hand in mail.
 * Talks to: the relay (mutual TLS, verified as relay.internal) and, at
 * start only, the DNS primary for the UPDATE. Never resolves names.
 * Sandbox: no filesystem, no new sockets but connections to the relay's
 * port, after keys and certificates are loaded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/arc.h"
#include "auth/dkim.h"
#include "conf/state.h"
#include "dns/tsig.h"
#include "dns/update.h"
#include "mail/addr.h"
#include "mail/hdr.h"
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
	P("max_size", PARAM_SIZE, "50m", 1024, 1LL << 31, max_size, "Largest message accepted."),
	P("max_rcpts", PARAM_INT, "1000", 1, 100000, max_rcpts, "Recipients per message (at most the relay's limit)."),
	P("pool", PARAM_INT, "8", 0, 256, pool, "Idle connections to the relay kept for reuse."),
	P("sandbox", PARAM_BOOL, "yes", 0, 0, sandbox, "Restrict the process after start (Landlock, seccomp, uid)."),
	P("user", PARAM_STR, "nobody", 0, 0, user, "Unprivileged user to become when started as root."),
	PARAM_END
};

struct dkey {
	char domain[256];
	char selector[64];
	EVP_PKEY *pkey;
};

struct signer {
	struct event_base *base;
	struct config cfg;
	SSL_CTX *srv_tls, *cli_tls;
	struct smtp_server *srv;
	struct dkey *keys;
	size_t nkeys;
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

/* ---- keys ---- */

static EVP_PKEY *
load_or_create(struct signer *sg, const char *domain, const char *sel,
    const char *type)
{
	char rel[512], err[256], *pem = NULL;
	size_t len = 0;
	EVP_PKEY *k = NULL;

	snprintf(rel, sizeof(rel), "dkim/%s/%s.key", domain, sel);
	if (state_exists(sg->cfg.state, rel)) {
		BIO *bio;
		if (state_read_secret(sg->cfg.state, rel, &pem, &len, err,
		    sizeof(err)) != 0)
			fatal("%s", err);
		bio = BIO_new_mem_buf(pem, (int)len);
		k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
		state_free_secret(pem, len);
		if (k == NULL)
			fatal("%s/%s: not a private key", sg->cfg.state, rel);
		return k;
	}
	k = strcmp(type, "RSA") == 0 ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)sg->cfg.rsa_bits) :
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k == NULL)
		fatal("cannot generate a %s key", type);
	{
		BIO *bio = BIO_new(BIO_s_mem());
		char *data;
		long n;
		if (bio == NULL || PEM_write_bio_PrivateKey(bio, k, NULL, NULL,
		    0, NULL, NULL) != 1)
			fatal("cannot encode the new key");
		n = BIO_get_mem_data(bio, &data);
		if (state_write_secret(sg->cfg.state, rel, data, (size_t)n, err,
		    sizeof(err)) != 0)
			fatal("%s", err);
		OPENSSL_cleanse(data, (size_t)n);
		BIO_free(bio);
	}
	log_info(NULL, "created DKIM key %s._domainkey.%s (%s)", sel, domain,
	    type);
	return k;
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
 * Publish a key record unless the primary already has it: an UPDATE whose
 * prerequisite is the exact record and that changes nothing answers
 * NOERROR when it is there (no resolver needed, nothing written), then a
 * replacing UPDATE otherwise.
 */
static void
publish(struct signer *sg, const struct tsig_key *tk, const struct dkey *k)
{
	struct buf rec, rr, name;
	struct dns_update_op op;
	struct dns_update_req req;
	struct dns_update_res res;
	char err[256], zone[300];
	int r;

	buf_init(&rec, 0);
	buf_init(&rr, 0);
	buf_init(&name, 0);
	dkim_key_record(k->pkey, &rec);
	buf_addf(&name, "%s._domainkey.%s.", k->selector, k->domain);
	snprintf(zone, sizeof(zone), "%s.", k->domain);

	buf_addf(&rr, "%s TXT ", name.data);
	txt_rdata(rec.data, &rr);
	memset(&req, 0, sizeof(req));
	req.server = sg->cfg.dns_primary;
	req.zone = zone;
	req.key = tk;
	req.tcp = true;
	op.kind = DNSP_YXRRSET_VALUE;
	op.rr = rr.data;
	req.prereq = &op;
	req.nprereq = 1;
	r = dns_update_send(&req, &res, err, sizeof(err));
	if (r == 0 && res.rcode == 0) {
		log_info(NULL, "dkim: %s already published", name.data);
		goto out;
	}
	buf_reset(&rr);
	buf_addf(&rr, "%s %lld TXT ", name.data, sg->cfg.key_ttl);
	txt_rdata(rec.data, &rr);
	op.kind = DNSU_REPLACE;
	op.rr = rr.data;
	req.prereq = NULL;
	req.nprereq = 0;
	req.upd = &op;
	req.nupd = 1;
	r = dns_update_send(&req, &res, err, sizeof(err));
	if (r != 0)
		log_err(NULL, "dkim: publishing %s failed: %s", name.data, err);
	else if (res.rcode != 0)
		log_err(NULL, "dkim: publishing %s refused: %s%s", name.data,
		    dns_rcode_name(res.rcode), res.tsig_error ? " (TSIG)" : "");
	else
		log_info(NULL, "dkim: published %s", name.data);
out:
	buf_free(&rec);
	buf_free(&rr);
	buf_free(&name);
}

static void
load_keys(struct signer *sg)
{
	const char *p = sg->cfg.domains;
	struct tsig_key tk;
	char err[256];
	bool have_tsig = false;

	if (p == NULL || *p == '\0')
		fatal("no domains to sign for");
	if (sg->cfg.dns_primary && *sg->cfg.dns_primary) {
		if (sg->cfg.tsig_key == NULL ||
		    tsig_key_load(&tk, sg->cfg.tsig_key, err, sizeof(err)) != 0)
			fatal("dns_primary needs a TSIG key: %s",
			    sg->cfg.tsig_key ? err : "tsig_key not set");
		have_tsig = true;
	}
	while (*p) {
		char dom[256];
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == 0)
			break;
		if (n >= sizeof(dom))
			fatal("domain too long");
		memcpy(dom, p, n);
		dom[n] = '\0';
		p += n;
		for (int t = 0; t < 2; t++) {
			const char *sel = t == 0 ? sg->cfg.selector_rsa :
			    sg->cfg.selector_ed25519;
			struct dkey *k;
			if (sel == NULL || *sel == '\0')
				continue;
			sg->keys = xreallocarray(sg->keys, sg->nkeys + 1,
			    sizeof(*sg->keys));
			k = &sg->keys[sg->nkeys++];
			ptt_strlcpy(k->domain, dom, sizeof(k->domain));
			ptt_strlcpy(k->selector, sel, sizeof(k->selector));
			k->pkey = load_or_create(sg, dom, sel,
			    t == 0 ? "RSA" : "ED25519");
			if (have_tsig)
				publish(sg, &tk, k);
		}
	}
	ptt_memzero(&tk, sizeof(tk));
	if (sg->nkeys == 0)
		fatal("no selectors configured");
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
static const struct dkey *
seal_key(const struct signer *sg, const struct smtp_envelope *env)
{
	const struct dkey *best = NULL;
	const char *dom = NULL;

	for (size_t r = 0; r < env->nrcpt && dom == NULL; r++)
		if (word_in(sg->cfg.domains, env->rcpt[r].path.domain))
			dom = env->rcpt[r].path.domain;
	for (size_t i = 0; i < sg->nkeys; i++) {
		if (dom != NULL && strcasecmp(sg->keys[i].domain, dom) != 0)
			continue;
		if (best == NULL || (EVP_PKEY_get_id(sg->keys[i].pkey) ==
		    EVP_PKEY_RSA && EVP_PKEY_get_id(best->pkey) != EVP_PKEY_RSA))
			best = &sg->keys[i];
		if (dom == NULL)	/* not addressed to us: the first domain */
			dom = sg->keys[i].domain;
	}
	return best;
}

/* ARC-seal forwarded mail (see the top of the file) and pass it on. */
static void
seal_and_forward(struct signer *sg, struct smtp_session *s,
    const struct smtp_envelope *env, const uint8_t *msg, size_t len)
{
	const struct dkey *k = seal_key(sg, env);
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
		as.key = k->pkey;
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
	for (size_t i = 0; i < sg->nkeys; i++) {
		struct dkim_sign ds;
		if (strcasecmp(sg->keys[i].domain, author) != 0)
			continue;
		memset(&ds, 0, sizeof(ds));
		ds.domain = sg->keys[i].domain;
		ds.selector = sg->keys[i].selector;
		ds.key = sg->keys[i].pkey;
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
stopped(void *arg)
{
	struct signer *sg = arg;

	event_base_loopexit(sg->base, NULL);
}

static void
on_stop(void *arg)
{
	struct signer *sg = arg;

	hop_drain(sg->relay);
	smtp_server_shutdown(sg->srv, stopped, sg);
}

int
main(int argc, char **argv)
{
	struct signer sg;
	struct smtp_server_config sc;
	struct smtp_hooks hooks;
	struct tls_opts to;
	char err[512];
	int fd;

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

	memset(&sc, 0, sizeof(sc));
	sc.hostname = "signer.internal";
	sc.tls = sg.srv_tls;
	sc.max_size = sg.cfg.max_size;
	sc.max_rcpts = (unsigned)sg.cfg.max_rcpts;
	memset(&hooks, 0, sizeof(hooks));
	hooks.tls = on_tls;
	hooks.message = on_message;
	sg.srv = smtp_server_new(sg.base, &sc, &hooks, &sg);
	if ((fd = net_listen(sg.cfg.listen, err, sizeof(err))) < 0)
		fatal("%s", err);
	if (smtp_server_listen(sg.srv, fd, true) != 0)
		fatal("cannot serve %s", sg.cfg.listen);
	printf("listening %s\n", sg.cfg.listen);
	fflush(stdout);

	if (sg.cfg.sandbox) {
		struct sandbox sb;
		char rh[256], rp[32];
		uint16_t ports[2] = { 0, 0 };
		memset(&sb, 0, sizeof(sb));
		if (net_split_hostport(sg.cfg.relay, rh, sizeof(rh), rp,
		    sizeof(rp)) == 0)
			ports[0] = (uint16_t)atoi(rp);
		sb.name = "signer";
		sb.user = sg.cfg.user;
		sb.groups = SB_NET_CONNECT;
		sb.connect_ports = ports;
		if (sandbox_enter(&sb, err, sizeof(err)) != 0)
			fatal("%s", err);
	}
	ev_on_signals(sg.base, on_stop, NULL, &sg);
	log_info(NULL, "signing for %s with %zu keys; relay %s", sg.cfg.domains,
	    sg.nkeys, sg.cfg.relay);
	event_base_dispatch(sg.base);

	ev_free_signals();
	smtp_server_free(sg.srv);
	for (size_t i = 0; i < sg.nkeys; i++)
		EVP_PKEY_free(sg.keys[i].pkey);
	free(sg.keys);
	hop_free(sg.relay);
	SSL_CTX_free(sg.srv_tls);
	SSL_CTX_free(sg.cli_tls);
	param_free(params, &sg.cfg);
	event_base_free(sg.base);
	return 0;
}
