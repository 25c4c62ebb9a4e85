/*
 * spamfilter.c - ptt-spamfilter: scores every inbound message with the
 * statistical classifier (src/lib/spam), labels it, and hands it to the
 * signer, which ARC-seals mail from spamfilter.internal.
 *
 * Each message gets, at the top of its header, "X-Spam-Status: Yes|No,
 * score=P required=T tests=<the three strongest reasons>" and, when spam,
 * "X-Spam-Flag: YES" (spam/header.h); any X-Spam-* field it arrived with
 * is removed first, so a sender cannot label its own mail. The filter
 * never drops or refuses mail on its own verdict: it follows the
 * end-to-end acknowledgement rule (smtp/hop.h), so the mx gets 250 only
 * after the signer said 250, and 451 when the signer cannot be reached
 * (the mx keeps the message and retries). Refusing mail scored far above
 * the threshold is the mx's decision (spam_refuse() in spam/header.h),
 * taken before it acknowledges.
 *
 * Holds: the model (data/spam.model, loaded once at start, about 2 MiB).
 * Listens: internal, mutual TLS from the first byte; only peers named in
 * allowed_peers (mx.internal) may hand in mail.
 * Talks to: the signer (mutual TLS, verified as signer.internal).
 * Sandbox: after the model and certificates are loaded, connections only
 * to the signer's port and read access only to glibc's gconv modules
 * (charset conversion loads them on first use of a charset).
 * Trusts: messages not at all (lib/spam parses any bytes within bounds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "smtp/hop.h"
#include "smtp/server.h"
#include "spam/cli.h"
#include "spam/header.h"
#include "spam/model.h"
#include "util/buf.h"
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
	char *model;
	char *signer;
	char *signer_name;
	bool signer_implicit_tls;
	unsigned long long max_size;
	long long max_rcpts;
	long long pool;
	bool sandbox;
	char *user;
};

#define P(n, t, d, lo, hi, f, doc) { n, t, d, lo, hi, NULL, offsetof(struct config, f), doc }
static const struct param params[] = {
	P("listen", PARAM_STR, "127.0.0.1:10028", 0, 0, listen, "Internal address for the mx (mutual TLS from the first byte)."),
	P("cert", PARAM_STR, NULL, 0, 0, cert, "Certificate of this service (spamfilter.internal), PEM."),
	P("key", PARAM_STR, NULL, 0, 0, key, "Its private key, PEM."),
	P("ca", PARAM_STR, NULL, 0, 0, ca, "The internal CA: peers must present certificates from it."),
	P("allowed_peers", PARAM_STR, "mx.internal", 0, 0, allowed_peers, "Service names allowed to hand in mail (space-separated)."),
	P("model", PARAM_STR, SPAM_MODEL_PATH, 0, 0, model, "The spam model (ptt spam train), loaded once at start."),
	P("signer", PARAM_STR, "127.0.0.1:10025", 0, 0, signer, "The signer's internal address (next hop; it ARC-seals what the filter passes on)."),
	P("signer_name", PARAM_STR, "signer.internal", 0, 0, signer_name, "The name the signer's certificate must carry."),
	P("signer_implicit_tls", PARAM_BOOL, "yes", 0, 0, signer_implicit_tls, "TLS from the first byte to the signer (else STARTTLS, required and verified)."),
	P("max_size", PARAM_SIZE, "50m", 1024, 1LL << 31, max_size, "Largest message accepted (the mx's limit or more)."),
	P("max_rcpts", PARAM_INT, "1000", 1, 100000, max_rcpts, "Recipients per message."),
	P("pool", PARAM_INT, "8", 0, 256, pool, "Idle connections to the signer kept for reuse."),
	P("sandbox", PARAM_BOOL, "yes", 0, 0, sandbox, "Restrict the process after start (Landlock, seccomp, uid)."),
	P("user", PARAM_STR, "nobody", 0, 0, user, "Unprivileged user to become when started as root."),
	PARAM_END
};

struct filter {
	struct event_base *base;
	struct config cfg;
	SSL_CTX *srv_tls, *cli_tls;
	struct smtp_server *srv;
	struct hop *next;
	struct spam_model model;
	struct spam_feats feats;	/* scratch, reused for every message */
	struct buf out;			/* scratch: the message without X-Spam-* */
	unsigned long long nham, nspam;
};

static bool
on_tls(struct smtp_session *s, SSL *ssl)
{
	struct filter *fl = smtp_server_arg(smtp_session_server(s));

	return hop_peer_allowed(s, ssl, fl->cfg.allowed_peers);
}

static void
on_message(struct smtp_session *s, const struct smtp_envelope *env,
    const uint8_t *msg, size_t len)
{
	struct filter *fl = smtp_server_arg(smtp_session_server(s));
	struct spam_verdict v;
	struct buf fields;
	size_t removed;

	spam_classify(&fl->model, &fl->feats, msg, len, &v);
	buf_init(&fields, 0);
	spam_status_fields(&fl->model, &v, &fields);
	buf_reset(&fl->out);
	removed = spam_strip_fields(msg, len, &fl->out);
	if (v.spam)
		fl->nspam++;
	else
		fl->nham++;
	log_info(smtp_session_id(s), "%s from=<%s> nrcpt=%zu size=%zu "
	    "score=%.4f logodds=%.2f%s%s%s", v.spam ? "spam" : "ham",
	    env->from.null ? "" : env->from.addr, env->nrcpt, len, v.score,
	    v.logodds, v.nreasons > 0 ? " top=" : "",
	    v.nreasons > 0 ? v.reason[0].name : "",
	    removed > 0 ? " (removed X-Spam-* fields from outside)" : "");
	/* hop_forward copies the message and takes over fields */
	hop_forward(fl->next, s, env, &fields, fl->out.data, fl->out.len);
	buf_free(&fields);
	if (fl->out.cap > 4 * 1024 * 1024) {
		/* do not keep a huge buffer around */
		buf_free(&fl->out);
		buf_init(&fl->out, 0);
	}
}

static void
on_stop(void *arg)
{
	struct filter *fl = arg;

	hop_stop(fl->next, fl->srv, fl->base);
}

static void
on_reload(void *arg)
{
	struct filter *fl = arg;

	log_info(NULL, "scored %llu ham, %llu spam so far (the model is "
	    "reloaded only by a restart)", fl->nham, fl->nspam);
}

int
main(int argc, char **argv)
{
	static struct filter fl;
	struct smtp_hooks hooks;
	struct tls_opts to;
	const char *why;
	char err[512];

	log_init(argv[0]);
	param_main(params, &fl.cfg, "spamfilter", argc, argv);
	if (fl.cfg.cert == NULL || fl.cfg.key == NULL || fl.cfg.ca == NULL)
		fatal("cert, key and ca are required (mutual TLS only)");
	if (spam_model_load(&fl.model, fl.cfg.model, &why) != 0)
		fatal("model %s: %s", fl.cfg.model, why);
	spam_feats_init(&fl.feats, fl.model.opts, true);
	buf_init(&fl.out, 0);

	fl.base = ev_base_new();
	memset(&to, 0, sizeof(to));
	to.cert_file = fl.cfg.cert;
	to.key_file = fl.cfg.key;
	to.ca_file = fl.cfg.ca;
	to.verify_peer = true;
	if ((fl.srv_tls = tls_server_ctx(&to, err, sizeof(err))) == NULL)
		fatal("%s", err);
	if ((fl.cli_tls = tls_client_ctx(&to, err, sizeof(err))) == NULL)
		fatal("%s", err);
	{
		struct hop_opts ho;

		memset(&ho, 0, sizeof(ho));
		ho.addr = fl.cfg.signer;
		ho.name = fl.cfg.signer_name;
		ho.helo = "spamfilter.internal";
		ho.implicit_tls = fl.cfg.signer_implicit_tls;
		ho.tls = fl.cli_tls;
		ho.pool = (unsigned)fl.cfg.pool;
		if ((fl.next = hop_new(fl.base, &ho, err, sizeof(err))) == NULL)
			fatal("signer: %s", err);
	}
	/* lazily loaded tables, before the sandbox */
	spam_warm_up(&fl.model, &fl.feats);

	memset(&hooks, 0, sizeof(hooks));
	hooks.tls = on_tls;
	hooks.message = on_message;
	fl.srv = hop_listen(fl.base, fl.cfg.listen, "spamfilter.internal",
	    fl.srv_tls, fl.cfg.max_size, (unsigned)fl.cfg.max_rcpts, &hooks, &fl);

	if (fl.cfg.sandbox) {
		struct sandbox sb;
		char rh[256], rp[32];
		uint16_t ports[2] = { 0, 0 };

		memset(&sb, 0, sizeof(sb));
		if (net_split_hostport(fl.cfg.signer, rh, sizeof(rh), rp,
		    sizeof(rp)) == 0)
			ports[0] = (uint16_t)atoi(rp);
		sb.name = "spamfilter";
		sb.user = fl.cfg.user;
		sb.groups = SB_NET_CONNECT | SB_FS_READ;
		sb.connect_ports = ports;
		sb.ro_paths = sandbox_gconv_dirs();
		if (sandbox_enter(&sb, err, sizeof(err)) != 0)
			fatal("%s", err);
	}
	ev_on_signals(fl.base, on_stop, on_reload, &fl);
	log_info(NULL, "scoring with %s (2^%u weights, threshold %.3f); "
	    "signer %s", fl.cfg.model, fl.model.bits,
	    (double)fl.model.threshold, fl.cfg.signer);
	event_base_dispatch(fl.base);

	ev_free_signals();
	smtp_server_free(fl.srv);
	hop_free(fl.next);
	spam_feats_free(&fl.feats);
	spam_model_free(&fl.model);
	buf_free(&fl.out);
	SSL_CTX_free(fl.srv_tls);
	SSL_CTX_free(fl.cli_tls);
	param_free(params, &fl.cfg);
	event_base_free(fl.base);
	return 0;
}
