/*
 * check.c - the mx's verdict on one message: SPF for MAIL FROM and HELO
 * (RFC 7208 2.3, 2.4), DKIM for every signature with key lookups through
 * the resolver (RFC 6376 6), DMARC on the From domain (RFC 7489 6.6), and
 * the Authentication-Results field (RFC 8601 2.7) that reports them.
 * See check.h for when a DNS failure makes the verdict temporary.
 *
 * Trusts: nothing in the message or in DNS answers.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "auth/arc.h"
#include "auth/authres.h"
#include "auth/check.h"
#include "mail/addr.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"

struct check {
	struct resolver *res;
	check_cb *cb;
	void *arg;
	char *ip, *helo, *mail_from, *receiver, *authserv_id;
	time_t now;
	unsigned (*rand100)(void *arg);
	void *rand_arg;
	struct event *timer;

	struct spf_check *spf_mf, *spf_he;
	struct dkim_verify dv;
	bool dv_open;
	struct dns_query **keyq;	/* per signature, NULL when done */
	struct check_key **keyarg;
	struct dmarc_check *dmarc;
	struct arc_verify av;		/* the arriving ARC chain */
	struct dns_query **arcq;	/* per ARC check, NULL when done */
	struct check_key **arcarg;
	char *arc_trusted;
	char *arc_ar;			/* "arc=..." method result (RFC 8601) */
	unsigned pending;		/* stage 1 operations in flight */
	bool timed_out;

	struct check_result r;
};

struct check_key {
	struct check *c;
	size_t i;
	bool arc;		/* an ARC check's key, else a DKIM one */
};

static const char *
alg_name(enum dkim_alg a)
{
	switch (a) {
	case DKIM_RSA_SHA256: return "rsa-sha256";
	case DKIM_ED25519_SHA256: return "ed25519-sha256";
	case DKIM_RSA_SHA1: return "rsa-sha1";
	}
	return "unknown";
}

static void
check_free(struct check *c)
{
	if (c->spf_mf != NULL)
		spf_check_cancel(c->spf_mf);
	if (c->spf_he != NULL)
		spf_check_cancel(c->spf_he);
	if (c->dmarc != NULL)
		dmarc_check_cancel(c->dmarc);
	for (size_t i = 0; i < c->r.ndkim; i++) {
		if (c->keyq[i] != NULL)
			resolve_cancel(c->keyq[i]);
		free(c->keyarg[i]);
	}
	free(c->keyq);
	free(c->keyarg);
	for (size_t i = 0; i < c->av.nchk; i++) {
		if (c->arcq[i] != NULL)
			resolve_cancel(c->arcq[i]);
		free(c->arcarg[i]);
	}
	free(c->arcq);
	free(c->arcarg);
	if (c->dv_open) {
		dkim_verify_end(&c->dv);
		arc_verify_end(&c->av);
	}
	free(c->arc_trusted);
	free(c->arc_ar);
	if (c->timer != NULL)
		event_free(c->timer);
	free(c->r.dkim);
	free(c->r.ar_field);
	free(c->ip);
	free(c->helo);
	free(c->mail_from);
	free(c->receiver);
	free(c->authserv_id);
	free(c);
}

void
check_cancel(struct check *c)
{
	check_free(c);
}

/* ---- the verdict and the field ---- */

static bool
decides_temp(struct check *c)
{
	struct check_result *r = &c->r;

	if (r->dmarc == DMARC_TEMPERROR)
		return true;
	if (r->dmarc == DMARC_FAIL && r->dmarc_policy != DMARC_P_NONE) {
		bool null_path = c->mail_from[0] == '\0';
		enum spf_result s = null_path ? r->spf_helo : r->spf;
		if (s == SPF_TEMPERROR)
			return true;
		for (size_t i = 0; i < r->ndkim; i++)
			if (r->dkim[i].result == DKIM_TEMPERROR)
				return true;
		if (c->av.result == ARC_TEMPERROR && c->arc_trusted[0] != '\0')
			return true;
	}
	return false;
}

/* Copy the arc= method result arc.h wrote (text) into a. */
static void
add_arc(struct authres *a, const char *text, const char *ip)
{
	struct authres t;
	struct buf b;
	struct ar_result *x;

	buf_init(&b, 0);
	buf_addf(&b, "x; %s", text);
	if (ar_parse(&t, b.data, b.len) == 0 && t.n == 1) {
		const struct ar_result *y = &t.res[0];
		x = ar_add(a, y->method, y->result, y->reason, y->comment);
		for (size_t k = 0; k < y->nprop; k++)
			ar_add_prop(x, y->prop[k].ptype, y->prop[k].property,
			    y->prop[k].value);
	} else {
		x = ar_add(a, "arc", t.n ? t.res[0].result : "permerror", NULL,
		    NULL);
		ar_add_prop(x, "smtp", "remote-ip", ip);
	}
	ar_free(&t);
	buf_free(&b);
}

/* Is domain in the comma- or space-separated list? */
static bool
in_list(const char *list, const char *domain)
{
	size_t n = strlen(domain);

	while (*list != '\0') {
		size_t k;
		list += strspn(list, ", \t");
		k = strcspn(list, ", \t");
		if (k == n && k > 0 && strncasecmp(list, domain, n) == 0)
			return true;
		list += k;
	}
	return false;
}

/* Finish ARC: the chain's status, its AR text, and whether a sealer we
 * trust vouches for the message. */
static void
arc_done(struct check *c)
{
	struct check_result *r = &c->r;
	struct buf b;
	enum arc_cv cv = arc_verify_finish(&c->av);

	r->arc = arc_cv_name(cv);
	buf_init(&b, 0);
	arc_ar_result(&c->av, c->ip, &b);
	c->arc_ar = buf_steal(&b, NULL);
	if (cv == ARC_PASS)
		for (size_t i = 0; i < c->av.nchk; i++)
			if (c->av.chk[i].seal && c->av.chk[i].instance ==
			    c->av.n && in_list(c->arc_trusted,
			    c->av.chk[i].domain))
				r->trusted_arc = true;
}

static void
build_field(struct check *c)
{
	struct check_result *r = &c->r;
	struct authres a;
	struct ar_result *x;
	struct buf b;
	char cm[160];

	ar_init(&a, c->authserv_id);
	x = ar_add(&a, "spf", spf_result_str(r->spf),
	    r->spf_problem[0] ? r->spf_problem : NULL, NULL);
	ar_add_prop(x, "smtp", "mailfrom", r->spf_sender);
	if (c->helo[0] != '\0') {
		x = ar_add(&a, "spf", spf_result_str(r->spf_helo), NULL, NULL);
		ar_add_prop(x, "smtp", "helo", c->helo);
	}
	if (r->ndkim == 0)
		ar_add(&a, "dkim", "none", NULL, NULL);
	for (size_t i = 0; i < r->ndkim; i++) {
		const struct check_dkim *d = &r->dkim[i];
		x = ar_add(&a, "dkim", dkim_result_name(d->result),
		    d->result != DKIM_PASS && d->reason[0] ? d->reason : NULL,
		    NULL);
		if (d->domain[0])
			ar_add_prop(x, "header", "d", d->domain);
		if (d->selector[0])
			ar_add_prop(x, "header", "s", d->selector);
		if (d->b_prefix[0])
			ar_add_prop(x, "header", "b", d->b_prefix);
		if (d->domain[0])
			ar_add_prop(x, "header", "a", d->alg);
	}
	if (r->from_domain[0] != '\0' && r->dmarc != DMARC_NONE) {
		snprintf(cm, sizeof(cm), "p=%s dis=%s",
		    dmarc_policy_str(r->dmarc_policy),
		    dmarc_policy_str(r->dmarc_disposition));
		x = ar_add(&a, "dmarc", dmarc_result_str(r->dmarc),
		    r->dmarc_problem[0] ? r->dmarc_problem : NULL, cm);
		ar_add_prop(x, "header", "from", r->from_domain);
	} else {
		x = ar_add(&a, "dmarc", "none",
		    r->dmarc_problem[0] ? r->dmarc_problem : NULL, NULL);
		if (r->from_domain[0] != '\0')
			ar_add_prop(x, "header", "from", r->from_domain);
	}
	if (c->arc_ar != NULL)
		add_arc(&a, c->arc_ar, c->ip);
	buf_init(&b, 0);
	ar_format(&a, &b);
	ar_free(&a);
	r->ar_field = buf_steal(&b, &r->ar_len);
}

static void
finish(struct check *c)
{
	struct check_result *r = &c->r;

	if (c->timed_out) {
		r->temporary = true;
		snprintf(r->temp_reason, sizeof(r->temp_reason),
		    "the checks took too long");
	} else if (decides_temp(c)) {
		r->temporary = true;
		snprintf(r->temp_reason, sizeof(r->temp_reason), "%s",
		    r->dmarc == DMARC_TEMPERROR ? "DMARC policy lookup failed" :
		    "an SPF or DKIM lookup failed under a DMARC policy");
	}
	build_field(c);
	c->cb(r, c->arg);
	check_free(c);
}

/* ---- stage 2: DMARC ---- */

static void
dmarc_done(const struct dmarc_outcome *o, void *arg)
{
	struct check *c = arg;
	struct check_result *r = &c->r;

	c->dmarc = NULL;
	r->dmarc = o->result;
	r->dmarc_policy = o->policy;
	r->dmarc_disposition = o->disposition;
	if (o->problem != NULL && o->result != DMARC_PASS &&
	    o->result != DMARC_FAIL)
		snprintf(r->dmarc_problem, sizeof(r->dmarc_problem), "%s",
		    o->problem);
	finish(c);
}

static void
stage2(struct check *c)
{
	struct check_result *r = &c->r;
	struct dmarc_request dq;
	const char **pass;
	size_t np = 0;
	bool null_path = c->mail_from[0] == '\0';
	char *from = NULL;
	int ret;

	arc_done(c);
	ret = mail_author_domain(&c->dv.hdr, &from);
	if (ret != 0) {
		snprintf(r->dmarc_problem, sizeof(r->dmarc_problem), "%s",
		    ret == PTT_ENOENT ? "no From field" :
		    ret == PTT_EEXIST ? "several From fields or mailboxes" :
		    "From does not parse");
		finish(c);
		return;
	}
	snprintf(r->from_domain, sizeof(r->from_domain), "%s", from);
	free(from);
	pass = xcalloc(r->ndkim + 1, sizeof(*pass));
	for (size_t i = 0; i < r->ndkim; i++)
		if (r->dkim[i].result == DKIM_PASS)
			pass[np++] = r->dkim[i].domain;
	memset(&dq, 0, sizeof(dq));
	dq.from_domain = r->from_domain;
	dq.spf_pass = (null_path ? r->spf_helo : r->spf) == SPF_PASS;
	dq.spf_domain = null_path ? c->helo : r->spf_domain;
	dq.dkim_pass = pass;
	dq.ndkim_pass = np;
	dq.rand100 = c->rand100;
	dq.rand_arg = c->rand_arg;
	c->dmarc = dmarc_check(c->res, &dq, dmarc_done, c);
	free(pass);
}

/* ---- stage 1: SPF and DKIM keys ---- */

static void
stage1_done(struct check *c)
{
	if (--c->pending == 0)
		stage2(c);
}

static void
spf_mf_done(const struct spf_outcome *o, void *arg)
{
	struct check *c = arg;
	struct check_result *r = &c->r;

	c->spf_mf = NULL;
	r->spf = o->result;
	snprintf(r->spf_sender, sizeof(r->spf_sender), "%s",
	    o->sender ? o->sender : "");
	snprintf(r->spf_domain, sizeof(r->spf_domain), "%s",
	    o->domain ? o->domain : "");
	if (o->problem != NULL && (o->result == SPF_TEMPERROR ||
	    o->result == SPF_PERMERROR))
		snprintf(r->spf_problem, sizeof(r->spf_problem), "%s",
		    o->problem);
	stage1_done(c);
}

static void
spf_he_done(const struct spf_outcome *o, void *arg)
{
	struct check *c = arg;

	c->spf_he = NULL;
	c->r.spf_helo = o->result;
	stage1_done(c);
}

static void
copy_sig(struct check *c, size_t i)
{
	const struct dkim_sig *s = &c->dv.sig[i];
	struct check_dkim *d = &c->r.dkim[i];

	d->result = s->result;
	snprintf(d->domain, sizeof(d->domain), "%s", s->domain);
	snprintf(d->selector, sizeof(d->selector), "%s", s->selector);
	snprintf(d->identity, sizeof(d->identity), "%s", s->identity);
	snprintf(d->b_prefix, sizeof(d->b_prefix), "%s", s->b_prefix);
	snprintf(d->reason, sizeof(d->reason), "%s", s->reason);
	d->alg = alg_name(s->alg);
}

static void
key_done(const struct dns_result *res, void *arg)
{
	struct check_key *k = arg;
	struct check *c = k->c;
	size_t i = k->i;
	enum dkim_dns st;
	const char **txt = NULL;

	if (k->arc)
		c->arcq[i] = NULL;
	else
		c->keyq[i] = NULL;
	switch (res->status) {
	case DNS_OK:
		st = DKIM_DNS_OK;
		txt = xcalloc(res->n + 1, sizeof(*txt));
		for (size_t j = 0; j < res->n; j++)
			txt[j] = res->txt[j].s;
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		st = DKIM_DNS_NOTFOUND;
		break;
	default:
		st = DKIM_DNS_TEMPFAIL;
		break;
	}
	if (k->arc)
		arc_verify_key(&c->av, i, st, txt, txt ? res->n : 0);
	else {
		dkim_verify_key(&c->dv, i, st, txt, txt ? res->n : 0);
		copy_sig(c, i);
	}
	free(txt);
	stage1_done(c);
}

static void
timed_out(evutil_socket_t fd, short what, void *arg)
{
	struct check *c = arg;
	struct check_result *r = &c->r;

	(void)fd;
	(void)what;
	c->timed_out = true;
	if (c->spf_mf != NULL) {
		spf_check_cancel(c->spf_mf);
		c->spf_mf = NULL;
		r->spf = SPF_TEMPERROR;
		snprintf(r->spf_problem, sizeof(r->spf_problem), "timeout");
	}
	if (c->spf_he != NULL) {
		spf_check_cancel(c->spf_he);
		c->spf_he = NULL;
		r->spf_helo = SPF_TEMPERROR;
	}
	for (size_t i = 0; i < r->ndkim; i++) {
		if (c->keyq[i] == NULL)
			continue;
		resolve_cancel(c->keyq[i]);
		c->keyq[i] = NULL;
		r->dkim[i].result = DKIM_TEMPERROR;
		snprintf(r->dkim[i].reason, sizeof(r->dkim[i].reason),
		    "key lookup timed out");
	}
	for (size_t i = 0; i < c->av.nchk; i++) {
		if (c->arcq[i] == NULL)
			continue;
		resolve_cancel(c->arcq[i]);
		c->arcq[i] = NULL;
		arc_verify_key(&c->av, i, DKIM_DNS_TEMPFAIL, NULL, 0);
	}
	if (c->r.arc == NULL)
		arc_done(c);
	if (c->dmarc != NULL) {
		dmarc_check_cancel(c->dmarc);
		c->dmarc = NULL;
		r->dmarc = DMARC_TEMPERROR;
		snprintf(r->dmarc_problem, sizeof(r->dmarc_problem), "timeout");
	}
	finish(c);
}

static int
parse_ip(const char *s, struct spf_request *q)
{
	memset(&q->ip, 0, sizeof(q->ip));
	if (inet_pton(AF_INET, s, &q->ip.v4) == 1)
		q->af = AF_INET;
	else if (inet_pton(AF_INET6, s, &q->ip.v6) == 1)
		q->af = AF_INET6;
	else
		return -1;
	return 0;
}

struct check *
check_message(struct resolver *res, const struct check_request *req,
    check_cb *cb, void *arg)
{
	struct check *c = xcalloc(1, sizeof(*c));
	struct spf_request q;
	struct timeval tv;
	unsigned ms = req->timeout_ms ? req->timeout_ms : 30000;
	char name[DNS_NAME_TEXT_MAX];

	c->res = res;
	c->cb = cb;
	c->arg = arg;
	c->ip = xstrdup(req->ip ? req->ip : "");
	c->helo = xstrdup(req->helo ? req->helo : "");
	c->mail_from = xstrdup(req->mail_from ? req->mail_from : "");
	c->receiver = xstrdup(req->receiver ? req->receiver : "unknown");
	c->authserv_id = xstrdup(req->authserv_id ? req->authserv_id :
	    c->receiver);
	c->now = req->now ? req->now : time(NULL);
	c->rand100 = req->rand100;
	c->rand_arg = req->rand_arg;
	c->r.dmarc = DMARC_NONE;

	c->timer = evtimer_new(resolver_base(res), timed_out, c);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);

	/* DKIM: parse every signature now, look the keys up below. */
	dkim_verify_begin(&c->dv, req->msg, req->len, c->now,
	    req->max_sigs ? req->max_sigs : 8);
	c->dv_open = true;
	arc_verify_begin(&c->av, req->msg, req->len, c->now, true);
	c->arc_trusted = xstrdup(req->arc_trusted ? req->arc_trusted : "");
	c->arcq = xcalloc(c->av.nchk + 1, sizeof(*c->arcq));
	c->arcarg = xcalloc(c->av.nchk + 1, sizeof(*c->arcarg));
	c->r.ndkim = c->dv.nsig;
	c->r.dkim = xcalloc(c->dv.nsig + 1, sizeof(*c->r.dkim));
	c->keyq = xcalloc(c->dv.nsig + 1, sizeof(*c->keyq));
	c->keyarg = xcalloc(c->dv.nsig + 1, sizeof(*c->keyarg));

	memset(&q, 0, sizeof(q));
	q.mail_from = c->mail_from;
	q.helo = c->helo;
	q.receiver = c->receiver;
	q.now = c->now;
	q.timeout_ms = ms;
	if (parse_ip(c->ip, &q) != 0) {
		/* No usable client address: SPF cannot say anything. */
		q.af = AF_INET;
	}
	c->pending = 1;		/* held until every operation started */
	c->pending++;
	c->spf_mf = spf_check(res, &q, spf_mf_done, c);
	c->pending++;
	q.helo_identity = true;
	c->spf_he = spf_check(res, &q, spf_he_done, c);
	for (size_t i = 0; i < c->dv.nsig; i++) {
		copy_sig(c, i);
		if (c->dv.sig[i].result != DKIM_PENDING)
			continue;
		c->keyarg[i] = xcalloc(1, sizeof(struct check_key));
		c->keyarg[i]->c = c;
		c->keyarg[i]->i = i;
		c->pending++;
		c->keyq[i] = resolve_txt(res, dkim_key_name(&c->dv, i, name,
		    sizeof(name)), key_done, c->keyarg[i]);
	}
	for (size_t i = 0; !c->av.decided && i < c->av.nchk; i++) {
		if (c->av.chk[i].result != DKIM_PENDING)
			continue;
		c->arcarg[i] = xcalloc(1, sizeof(struct check_key));
		c->arcarg[i]->c = c;
		c->arcarg[i]->i = i;
		c->arcarg[i]->arc = true;
		c->pending++;
		c->arcq[i] = resolve_txt(res, arc_key_name(&c->av, i, name,
		    sizeof(name)), key_done, c->arcarg[i]);
	}
	/* Every callback comes from the event loop, so none ran yet. */
	c->pending--;
	return c;
}

void
check_summary(const struct check_result *r, char *out, size_t len)
{
	struct buf b;

	buf_init(&b, 0);
	buf_addf(&b, "spf=%s spf_helo=%s", spf_result_str(r->spf),
	    spf_result_str(r->spf_helo));
	if (r->ndkim == 0)
		buf_adds(&b, " dkim=none");
	for (size_t i = 0; i < r->ndkim; i++)
		buf_addf(&b, " dkim=%s:%s", dkim_result_name(r->dkim[i].result),
		    r->dkim[i].domain[0] ? r->dkim[i].domain : "?");
	buf_addf(&b, " dmarc=%s", dmarc_result_str(r->dmarc));
	if (r->dmarc == DMARC_FAIL)
		buf_addf(&b, "(p=%s dis=%s)", dmarc_policy_str(r->dmarc_policy),
		    dmarc_policy_str(r->dmarc_disposition));
	if (r->from_domain[0])
		buf_addf(&b, " from=%s", r->from_domain);
	buf_addf(&b, " arc=%s", r->arc ? r->arc : "unverified");
	if (r->temporary)
		buf_addf(&b, " temporary=\"%s\"", r->temp_reason);
	snprintf(out, len, "%s", b.data);
	buf_free(&b);
}
