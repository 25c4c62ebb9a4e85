/*
 * client.c - RFC 8555 requests over HTTPS with libcurl.
 *
 * Implements: the directory (7.1.1), nonces (7.2, 6.5: Replay-Nonce, and
 * one retry per badNonce with the nonce that came with it, up to
 * NONCE_TRIES, each logged), account creation (7.3), orders (7.4), POST-as-GET (6.3) of
 * orders and authorizations (7.5), challenge responses (7.5.1),
 * finalization (7.4) and certificate download (7.4.2); problem documents
 * (6.7, RFC 7807) become one log-ready line; Retry-After is kept for the
 * caller's backoff.
 * Transport: HTTPS only (http:// only when allow_http), no redirects, the
 * server verified against the configured CA bundle (held in memory, so
 * nothing is read from disk after start), bounded bodies and times.
 * Trusts: nothing in answers (acme/msg.h parses them).
 */
#include "acme/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <jansson.h>

#include "acme/jws.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

#define NONCE_MAX 256
#define NONCE_TRIES 10

struct acme_client {
	CURL *curl;
	CURLM *multi;		/* made at start: its wakeup socketpair too */
	struct curl_slist *resolve;	/* the directory host, resolved at start */
	bool pin;		/* no resolving after start (pin_resolve) */
	char *directory, *contact, *ua, *ca;
	size_t ca_len;
	EVP_PKEY *key;
	long timeout;
	bool allow_http;
	bool have_dir;
	struct acme_directory dir;
	char *kid;
	char nonce[NONCE_MAX];
	long retry_after;
};

struct resp {
	long status;
	struct buf body;
	char location[ACME_URL_MAX + 1];
	char nonce[NONCE_MAX];
	char ctype[128];
	char retry_after[128];
};

static void
resp_init(struct resp *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, ACME_BODY_MAX);
}

static void
resp_free(struct resp *r)
{
	buf_free(&r->body);
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;

	if (buf_add(&r->body, p, size * n) != 0)
		return 0;	/* too large: curl aborts the transfer */
	return size * n;
}

/* Keep a header's value (trimmed, control bytes refused) when it fits. */
static void
keep(char *dst, size_t dstlen, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
	    v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= dstlen)
		return;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < ' ' || v[i] == 0x7f)
			return;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;
	static const struct {
		const char *name;
		size_t off, cap;
	} want[] = {
		{ "location:", offsetof(struct resp, location), ACME_URL_MAX + 1 },
		{ "replay-nonce:", offsetof(struct resp, nonce), NONCE_MAX },
		{ "content-type:", offsetof(struct resp, ctype), 128 },
		{ "retry-after:", offsetof(struct resp, retry_after), 128 },
	};

	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue): forget the last one */
		r->location[0] = r->nonce[0] = r->ctype[0] = '\0';
		r->retry_after[0] = '\0';
		return len;
	}
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t l = strlen(want[i].name);
		if (len > l && strncasecmp(p, want[i].name, l) == 0)
			keep((char *)r + want[i].off, want[i].cap, p + l,
			    len - l);
	}
	return len;
}

/*
 * "host:port:addr,addr" for CURLOPT_RESOLVE: the directory's host resolved
 * now, so that later requests need no resolver (a sandboxed process may
 * not be able to start one). NULL for an IP literal or when it fails
 * (curl then resolves itself).
 */
/* The host of url (lowercase is not needed: compared as curl gives it),
 * or NULL. Caller frees with curl_free. */
static char *
url_host(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		host = NULL;
	curl_url_cleanup(u);
	return host;
}

static bool
is_ip_literal(const char *host)
{
	unsigned char tmp[16];

	return host[0] == '[' || inet_pton(AF_INET, host, tmp) == 1;
}

static struct curl_slist *
resolve_now(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	struct addrinfo hints, *res = NULL, *ai;
	struct curl_slist *list = NULL;
	struct buf b;

	buf_init(&b, 4096);
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK || is_ip_literal(host))
		goto out;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		goto out;
	buf_addf(&b, "%s:%s:", host, port);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		char a[INET6_ADDRSTRLEN];
		const void *p = ai->ai_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    inet_ntop(ai->ai_family, p, a, sizeof(a)) == NULL)
			continue;
		buf_addf(&b, "%s%s%s%s", b.data[b.len - 1] == ':' ? "" : ",",
		    ai->ai_family == AF_INET6 ? "[" : "", a,
		    ai->ai_family == AF_INET6 ? "]" : "");
	}
	if (buf_error(&b) == 0 && b.data[b.len - 1] != ':')
		list = curl_slist_append(NULL, b.data);
out:
	if (res != NULL)
		freeaddrinfo(res);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	buf_free(&b);
	return list;
}

struct acme_client *
acme_client_new(const struct acme_client_opts *o)
{
	struct acme_client *c = xcalloc(1, sizeof(*c));

	if ((c->curl = curl_easy_init()) == NULL ||
	    (c->multi = curl_multi_init()) == NULL) {
		curl_easy_cleanup(c->curl);
		free(c);
		return NULL;
	}
	if (o->pin_resolve) {
		c->pin = true;
		c->resolve = resolve_now(o->directory);
	}
	c->directory = xstrdup(o->directory);
	c->contact = o->contact && *o->contact ? xstrdup(o->contact) : NULL;
	c->ua = xstrdup(o->user_agent ? o->user_agent : "ptt-acme");
	if (o->ca_pem != NULL) {
		c->ca = xmemdup(o->ca_pem, o->ca_len);
		c->ca_len = o->ca_len;
	}
	c->key = o->account_key;
	c->timeout = o->timeout > 0 ? o->timeout : 30;
	c->allow_http = o->allow_http;
	return c;
}

void
acme_client_free(struct acme_client *c)
{
	if (c == NULL)
		return;
	curl_multi_cleanup(c->multi);
	curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->resolve);
	acme_directory_free(&c->dir);
	free(c->directory);
	free(c->contact);
	free(c->ua);
	free(c->ca);
	free(c->kid);
	free(c);
}

const char *
acme_account_url(const struct acme_client *c)
{
	return c->kid;
}

long
acme_retry_after(const struct acme_client *c)
{
	return c->retry_after;
}

/* curl_easy_perform through our own multi handle (made before any
 * sandbox, so no socketpair is needed later). */
static CURLcode
perform(struct acme_client *c)
{
	CURLcode cc = CURLE_FAILED_INIT;
	CURLMcode mc;
	CURLMsg *m;
	int running = 1, left;

	if (curl_multi_add_handle(c->multi, c->curl) != CURLM_OK)
		return CURLE_FAILED_INIT;
	do {
		mc = curl_multi_perform(c->multi, &running);
		if (mc == CURLM_OK && running)
			mc = curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
	} while (mc == CURLM_OK && running);
	while ((m = curl_multi_info_read(c->multi, &left)) != NULL)
		if (m->msg == CURLMSG_DONE && m->easy_handle == c->curl)
			cc = m->data.result;
	curl_multi_remove_handle(c->multi, c->curl);
	return cc;
}

/*
 * One HTTP exchange. method "GET", "HEAD" or "POST" (body: a JWS).
 * 0 when an answer arrived (any status), PTT_ETEMP with the reason.
 */
static int
http(struct acme_client *c, const char *method, const char *url,
    const char *body, const char *accept, struct resp *r, char *err,
    size_t errlen)
{
	struct curl_slist *hdr = NULL;
	char acc[160];
	CURLcode cc;
	CURL *h = c->curl;

	if (!acme_url_ok(url, c->allow_http)) {
		snprintf(err, errlen, "refusing URL %.200s", url);
		return PTT_EPROTO;
	}
	if (c->pin) {
		/* only the directory's host, resolved at start, or literals */
		char *uh = url_host(url), *dh = url_host(c->directory);
		bool same = uh != NULL && dh != NULL && (strcasecmp(uh, dh) == 0 ||
		    is_ip_literal(uh));
		curl_free(uh);
		curl_free(dh);
		if (!same) {
			snprintf(err, errlen, "refusing URL %.200s: not on the "
			    "directory's host, which alone was resolved at start",
			    url);
			return PTT_EPROTO;
		}
	}
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->allow_http ?
	    "https,http" : "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->timeout);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->ua);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca != NULL) {
		struct curl_blob blob = { c->ca, c->ca_len, CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	snprintf(acc, sizeof(acc), "Accept: %s", accept ? accept :
	    "application/json");
	hdr = curl_slist_append(hdr, acc);
	if (strcmp(method, "POST") == 0) {
		hdr = curl_slist_append(hdr, "Content-Type: application/jose+json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	if (c->resolve != NULL)
		curl_easy_setopt(h, CURLOPT_RESOLVE, c->resolve);
	cc = perform(c);
	curl_slist_free_all(hdr);
	if (cc != CURLE_OK) {
		if (cc == CURLE_WRITE_ERROR && buf_error(&r->body) != 0)
			snprintf(err, errlen, "%s %.200s: answer larger than %d "
			    "bytes", method, url, ACME_BODY_MAX);
		else
			snprintf(err, errlen, "%s %.200s: %s", method, url,
			    curl_easy_strerror(cc));
		return PTT_ETEMP;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->nonce[0] != '\0' && acme_is_b64url(r->nonce))
		ptt_strlcpy(c->nonce, r->nonce, sizeof(c->nonce));
	return 0;
}

/* A successful answer's Retry-After (RFC 8555 8.2: when to poll again),
 * kept only when there is one. */
static void
note_retry_after(struct acme_client *c, const struct resp *r)
{
	long ra;

	if (r->retry_after[0] == '\0')
		return;
	ra = acme_parse_retry_after(r->retry_after, time(NULL));
	c->retry_after = ra > 0 ? ra : 0;
}

/* An error answer as one line; the code for the caller. */
static int
fail_answer(struct acme_client *c, const char *what, struct resp *r,
    struct acme_problem *pout, char *err, size_t errlen)
{
	struct acme_problem p;
	long ra = acme_parse_retry_after(r->retry_after[0] ? r->retry_after :
	    NULL, time(NULL));

	c->retry_after = ra > 0 ? ra : 0;
	if (acme_parse_problem(r->body.data, r->body.len, &p) != 0 ||
	    p.type[0] == '\0')
		snprintf(err, errlen, "%s: HTTP %ld without a problem document",
		    what, r->status);
	else
		snprintf(err, errlen, "%s: %s: %s (HTTP %ld)", what, p.type,
		    p.detail[0] ? p.detail : "no detail", r->status);
	if (pout != NULL)
		*pout = p;
	if (r->status == 429 || r->status >= 500)
		return PTT_ETEMP;
	return PTT_EPROTO;
}

static int
get_directory(struct acme_client *c, char *err, size_t errlen)
{
	struct resp r;
	int ret;

	if (c->have_dir)
		return 0;
	resp_init(&r);
	ret = http(c, "GET", c->directory, NULL, NULL, &r, err, errlen);
	if (ret == 0 && r.status != 200)
		ret = fail_answer(c, "directory", &r, NULL, err, errlen);
	else if (ret == 0) {
		char why[256];
		ret = acme_parse_directory(r.body.data, r.body.len,
		    c->allow_http, &c->dir, why, sizeof(why));
		if (ret != 0)
			snprintf(err, errlen, "directory %.200s: %s",
			    c->directory, why);
		else
			c->have_dir = true;
	}
	resp_free(&r);
	return ret;
}

static int
new_nonce(struct acme_client *c, char *err, size_t errlen)
{
	struct resp r;
	int ret;

	c->nonce[0] = '\0';
	resp_init(&r);
	ret = http(c, "HEAD", c->dir.new_nonce, NULL, NULL, &r, err, errlen);
	if (ret == 0 && c->nonce[0] == '\0') {
		snprintf(err, errlen, "newNonce: HTTP %ld without a usable "
		    "Replay-Nonce", r.status);
		ret = PTT_ETEMP;
	}
	resp_free(&r);
	return ret;
}

/*
 * A signed POST (payload "" for POST-as-GET). kid NULL: sign with the JWK
 * (newAccount). Retries badNonce. 0 with a 2xx answer in r, else the
 * error with its reason.
 */
static int
post(struct acme_client *c, const char *what, const char *url,
    const char *payload, bool use_jwk, const char *accept, struct resp *r,
    char *err, size_t errlen)
{
	struct acme_problem p;
	struct buf jws;
	int ret = 0;

	c->retry_after = 0;
	if ((ret = get_directory(c, err, errlen)) != 0)
		return ret;
	buf_init(&jws, 0);
	for (int tries = 0; tries < NONCE_TRIES; tries++) {
		if (c->nonce[0] == '\0' && (ret = new_nonce(c, err, errlen)) != 0)
			break;
		buf_reset(&jws);
		if (acme_jws(c->key, use_jwk ? NULL : c->kid, c->nonce, url,
		    payload, &jws) != 0) {
			snprintf(err, errlen, "%s: cannot sign the request", what);
			ret = PTT_ECRYPTO;
			break;
		}
		c->nonce[0] = '\0';	/* each nonce is good once */
		resp_free(r);
		resp_init(r);
		if ((ret = http(c, "POST", url, jws.data, accept, r, err,
		    errlen)) != 0)
			break;
		if (r->status >= 200 && r->status < 300)
			break;
		ret = fail_answer(c, what, r, &p, err, errlen);
		if (r->status == 400 && strcmp(p.type,
		    "urn:ietf:params:acme:error:badNonce") == 0) {
			ret = PTT_ETEMP;	/* if this was the last try */
			log_info(NULL, "%s: badNonce, retrying with the "
			    "server's new nonce", what);
			continue;
		}
		break;
	}
	buf_free(&jws);
	return ret;
}

int
acme_account(struct acme_client *c, char *err, size_t errlen)
{
	json_t *pl;
	char *payload;
	struct resp r;
	int ret;

	if (c->kid != NULL)
		return 0;
	if ((ret = get_directory(c, err, errlen)) != 0)
		return ret;
	pl = c->contact != NULL ?
	    json_pack("{s:b, s:[s]}", "termsOfServiceAgreed", 1, "contact",
	    c->contact) : json_pack("{s:b}", "termsOfServiceAgreed", 1);
	payload = pl ? json_dumps(pl, JSON_COMPACT) : NULL;
	json_decref(pl);
	if (payload == NULL) {
		snprintf(err, errlen, "newAccount: cannot build the request");
		return PTT_EINVAL;
	}
	resp_init(&r);
	ret = post(c, "newAccount", c->dir.new_account, payload, true, NULL,
	    &r, err, errlen);
	free(payload);
	if (ret == 0) {
		if (!acme_url_ok(r.location, c->allow_http)) {
			snprintf(err, errlen, "newAccount: HTTP %ld without an "
			    "account URL", r.status);
			ret = PTT_EPROTO;
		} else
			c->kid = xstrdup(r.location);
	}
	resp_free(&r);
	return ret;
}

static int
parse_order(struct acme_client *c, const char *what, struct resp *r,
    struct acme_order *o, char *err, size_t errlen)
{
	char why[256];

	if (acme_parse_order(r->body.data, r->body.len, c->allow_http, o, why,
	    sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: malformed order: %s", what, why);
		return PTT_EPROTO;
	}
	return 0;
}

int
acme_new_order(struct acme_client *c, const char *const *names, size_t n,
    struct acme_order *o, char **url, char *err, size_t errlen)
{
	json_t *ids = json_array(), *pl;
	char *payload;
	struct resp r;
	int ret;

	memset(o, 0, sizeof(*o));
	*url = NULL;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "dns",
		    "value", names[i]));
	pl = json_pack("{s:o}", "identifiers", ids);
	payload = pl ? json_dumps(pl, JSON_COMPACT) : NULL;
	json_decref(pl);
	if (payload == NULL) {
		snprintf(err, errlen, "newOrder: cannot build the request");
		return PTT_EINVAL;
	}
	resp_init(&r);
	ret = post(c, "newOrder", c->dir.new_order, payload, false, NULL, &r,
	    err, errlen);
	free(payload);
	if (ret == 0 && (ret = parse_order(c, "newOrder", &r, o, err,
	    errlen)) == 0) {
		if (!acme_url_ok(r.location, c->allow_http)) {
			snprintf(err, errlen, "newOrder: no order URL");
			ret = PTT_EPROTO;
		} else
			*url = xstrdup(r.location);
	}
	resp_free(&r);
	return ret;
}

int
acme_get_order(struct acme_client *c, const char *url, struct acme_order *o,
    char *err, size_t errlen)
{
	struct resp r;
	int ret;

	memset(o, 0, sizeof(*o));
	resp_init(&r);
	ret = post(c, "order", url, "", false, NULL, &r, err, errlen);
	if (ret == 0)
		ret = parse_order(c, "order", &r, o, err, errlen);
	if (ret == 0)
		note_retry_after(c, &r);
	resp_free(&r);
	return ret;
}

int
acme_get_authz(struct acme_client *c, const char *url, struct acme_authz *a,
    char *err, size_t errlen)
{
	struct resp r;
	char why[256];
	int ret;

	memset(a, 0, sizeof(*a));
	resp_init(&r);
	ret = post(c, "authorization", url, "", false, NULL, &r, err, errlen);
	if (ret == 0 && acme_parse_authz(r.body.data, r.body.len,
	    c->allow_http, a, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "authorization: malformed: %s", why);
		ret = PTT_EPROTO;
	}
	if (ret == 0)
		note_retry_after(c, &r);
	resp_free(&r);
	return ret;
}

int
acme_respond(struct acme_client *c, const char *challenge_url, char *err,
    size_t errlen)
{
	struct resp r;
	int ret;

	resp_init(&r);
	ret = post(c, "challenge", challenge_url, "{}", false, NULL, &r, err,
	    errlen);
	resp_free(&r);
	return ret;
}

int
acme_finalize(struct acme_client *c, const char *finalize_url,
    const uint8_t *csr, size_t csr_len, struct acme_order *o, char *err,
    size_t errlen)
{
	struct buf b64, payload;
	struct resp r;
	int ret;

	memset(o, 0, sizeof(*o));
	buf_init(&b64, 0);
	acme_b64url(csr, csr_len, &b64);
	buf_init(&payload, 0);
	{
		json_t *pl = json_pack("{s:s}", "csr", b64.data);
		char *s = pl ? json_dumps(pl, JSON_COMPACT) : NULL;
		json_decref(pl);
		if (s != NULL)
			buf_adds(&payload, s);
		free(s);
	}
	buf_free(&b64);
	if (payload.len == 0) {
		buf_free(&payload);
		snprintf(err, errlen, "finalize: cannot build the request");
		return PTT_EINVAL;
	}
	resp_init(&r);
	ret = post(c, "finalize", finalize_url, payload.data, false, NULL, &r,
	    err, errlen);
	if (ret == 0)
		ret = parse_order(c, "finalize", &r, o, err, errlen);
	if (ret == 0)
		note_retry_after(c, &r);
	resp_free(&r);
	buf_free(&payload);
	return ret;
}

int
acme_download(struct acme_client *c, const char *cert_url, char **pem,
    size_t *len, char *err, size_t errlen)
{
	struct resp r;
	int ret;

	*pem = NULL;
	*len = 0;
	resp_init(&r);
	ret = post(c, "certificate", cert_url, "", false,
	    "application/pem-certificate-chain", &r, err, errlen);
	if (ret == 0 && strncmp(r.body.data, "-----BEGIN CERTIFICATE-----",
	    27) != 0) {
		snprintf(err, errlen, "certificate: the answer is not a PEM "
		    "chain (%s)", r.ctype[0] ? r.ctype : "no type");
		ret = PTT_EPROTO;
	}
	if (ret == 0)
		*pem = buf_steal(&r.body, len);
	resp_free(&r);
	return ret;
}
