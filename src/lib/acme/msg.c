/*
 * msg.c - parsing what an ACME server sends: directory, order,
 * authorization and challenge objects (RFC 8555 7.1.1, 7.1.3, 7.1.4, 8),
 * problem documents (RFC 7807, RFC 8555 6.7) and Retry-After (RFC 9110
 * 10.2.3).
 *
 * Trusts nothing: the bytes go to jansson (JSON_REJECT_DUPLICATES), every
 * member is type-checked, strings and arrays are bounded, URLs must be
 * absolute https:// URLs of printable ASCII (see msg.h).
 */
#include "acme/msg.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/err.h"
#include "util/mem.h"

#define STR_MAX 4096	/* any other string we keep */

static const char *const status_names[] = {
	[ACME_UNKNOWN] = "unknown", [ACME_PENDING] = "pending",
	[ACME_READY] = "ready", [ACME_PROCESSING] = "processing",
	[ACME_VALID] = "valid", [ACME_INVALID] = "invalid",
	[ACME_EXPIRED] = "expired", [ACME_DEACTIVATED] = "deactivated",
	[ACME_REVOKED] = "revoked",
};

enum acme_status
acme_status_parse(const char *s)
{
	for (size_t i = 1; i < sizeof(status_names) / sizeof(status_names[0]);
	    i++)
		if (s != NULL && strcmp(s, status_names[i]) == 0)
			return (enum acme_status)i;
	return ACME_UNKNOWN;
}

const char *
acme_status_name(enum acme_status st)
{
	if ((size_t)st >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown";
	return status_names[st];
}

bool
acme_url_ok(const char *url, bool allow_http)
{
	size_t n;

	if (url == NULL || (n = strlen(url)) > ACME_URL_MAX)
		return false;
	if (strncmp(url, "https://", 8) == 0)
		url += 8;
	else if (allow_http && strncmp(url, "http://", 7) == 0)
		url += 7;
	else
		return false;
	if (*url == '\0' || *url == '/')
		return false;	/* no host */
	for (; *url; url++)
		if (*url <= ' ' || *url >= 0x7f)
			return false;
	return true;
}

static json_t *
load(const char *json, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j;

	if (len > ACME_BODY_MAX) {
		snprintf(err, errlen, "response of %zu bytes is too large", len);
		return NULL;
	}
	j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		snprintf(err, errlen, "not JSON: %s at line %d", je.text, je.line);
		return NULL;
	}
	if (!json_is_object(j)) {
		snprintf(err, errlen, "not a JSON object");
		json_decref(j);
		return NULL;
	}
	return j;
}

/*
 * A string member: *out is set (malloc'd) when present and valid; absent
 * is fine unless required. url: must pass acme_url_ok. 0 or PTT_EPROTO.
 */
static int
get_str(json_t *obj, const char *name, bool required, bool url,
    bool allow_http, char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, name);
	const char *s;

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		snprintf(err, errlen, "\"%s\" is missing", name);
		return PTT_EPROTO;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "\"%s\" is not a string", name);
		return PTT_EPROTO;
	}
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v) || strlen(s) > STR_MAX) {
		snprintf(err, errlen, "\"%s\" holds NUL or is too long", name);
		return PTT_EPROTO;
	}
	if (url && !acme_url_ok(s, allow_http)) {
		snprintf(err, errlen, "\"%s\" is not an https URL", name);
		return PTT_EPROTO;
	}
	*out = xstrdup(s);
	return 0;
}

static int
get_status(json_t *obj, enum acme_status *st, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, "status");

	if (!json_is_string(v)) {
		snprintf(err, errlen, "\"status\" is missing or not a string");
		return PTT_EPROTO;
	}
	*st = acme_status_parse(json_string_value(v));
	if (*st == ACME_UNKNOWN) {
		snprintf(err, errlen, "unknown status");
		return PTT_EPROTO;
	}
	return 0;
}

/* Copy a printable rendering of s (control bytes dropped) into out. */
static void
copy_text(char *out, size_t outlen, const char *s)
{
	size_t o = 0;

	if (outlen == 0)
		return;
	for (; s != NULL && *s && o + 1 < outlen; s++)
		if ((unsigned char)*s >= ' ' && *s != 0x7f)
			out[o++] = *s;
	out[o] = '\0';
}

static void
problem_from(json_t *j, struct acme_problem *p)
{
	json_t *v, *subs;

	memset(p, 0, sizeof(*p));
	if (json_is_string(v = json_object_get(j, "type")))
		copy_text(p->type, sizeof(p->type), json_string_value(v));
	if (json_is_string(v = json_object_get(j, "detail")))
		copy_text(p->detail, sizeof(p->detail), json_string_value(v));
	if (json_is_integer(v = json_object_get(j, "status")) &&
	    json_integer_value(v) >= 100 && json_integer_value(v) <= 599)
		p->status = (int)json_integer_value(v);
	/* RFC 8555 6.7.1: name the first subproblem too */
	subs = json_object_get(j, "subproblems");
	if (json_is_array(subs) && json_array_size(subs) > 0 &&
	    json_is_object(v = json_array_get(subs, 0))) {
		json_t *d = json_object_get(v, "detail");
		json_t *id = json_object_get(v, "identifier");
		json_t *val = json_is_object(id) ? json_object_get(id, "value") :
		    NULL;
		char one[256];
		size_t l = strlen(p->detail);
		snprintf(one, sizeof(one), "%s%s%s",
		    json_is_string(val) ? json_string_value(val) : "",
		    json_is_string(val) ? ": " : "",
		    json_is_string(d) ? json_string_value(d) : "");
		if (l + 3 < sizeof(p->detail)) {
			snprintf(p->detail + l, sizeof(p->detail) - l, "%s",
			    l ? " (" : "(");
			l = strlen(p->detail);
			copy_text(p->detail + l, sizeof(p->detail) - l - 1, one);
			ptt_strlcat(p->detail, ")", sizeof(p->detail));
		}
	}
}

int
acme_parse_problem(const char *json, size_t len, struct acme_problem *p)
{
	char err[128];
	json_t *j = load(json, len, err, sizeof(err));

	memset(p, 0, sizeof(*p));
	if (j == NULL)
		return PTT_EPROTO;
	problem_from(j, p);
	json_decref(j);
	return 0;
}

/* ---- directory ---- */

int
acme_parse_directory(const char *json, size_t len, bool allow_http,
    struct acme_directory *d, char *err, size_t errlen)
{
	json_t *j, *meta;
	int r;

	memset(d, 0, sizeof(*d));
	if ((j = load(json, len, err, errlen)) == NULL)
		return PTT_EPROTO;
	r = get_str(j, "newNonce", true, true, allow_http, &d->new_nonce, err,
	    errlen);
	if (r == 0)
		r = get_str(j, "newAccount", true, true, allow_http,
		    &d->new_account, err, errlen);
	if (r == 0)
		r = get_str(j, "newOrder", true, true, allow_http, &d->new_order,
		    err, errlen);
	if (r == 0 && json_is_object(meta = json_object_get(j, "meta")))
		r = get_str(meta, "termsOfService", false, false, false,
		    &d->terms, err, errlen);
	json_decref(j);
	return r;
}

void
acme_directory_free(struct acme_directory *d)
{
	free(d->new_nonce);
	free(d->new_account);
	free(d->new_order);
	free(d->terms);
	memset(d, 0, sizeof(*d));
}

/* ---- order ---- */

int
acme_parse_order(const char *json, size_t len, bool allow_http,
    struct acme_order *o, char *err, size_t errlen)
{
	json_t *j, *a, *v;
	size_t i;
	int r;

	memset(o, 0, sizeof(*o));
	if ((j = load(json, len, err, errlen)) == NULL)
		return PTT_EPROTO;
	if ((r = get_status(j, &o->status, err, errlen)) != 0)
		goto out;
	a = json_object_get(j, "authorizations");
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > ACME_MAX_AUTHZ) {
		snprintf(err, errlen, "\"authorizations\" is not an array of "
		    "1 to %d URLs", ACME_MAX_AUTHZ);
		r = PTT_EPROTO;
		goto out;
	}
	o->authz = xcalloc(json_array_size(a), sizeof(*o->authz));
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) !=
		    json_string_length(v) ||
		    !acme_url_ok(json_string_value(v), allow_http)) {
			snprintf(err, errlen, "authorization %zu is not an "
			    "https URL", i);
			r = PTT_EPROTO;
			goto out;
		}
		o->authz[o->nauthz++] = xstrdup(json_string_value(v));
	}
	if ((r = get_str(j, "finalize", true, true, allow_http, &o->finalize,
	    err, errlen)) != 0)
		goto out;
	if ((r = get_str(j, "certificate", false, true, allow_http,
	    &o->certificate, err, errlen)) != 0)
		goto out;
	if (json_is_object(v = json_object_get(j, "error"))) {
		o->has_error = true;
		problem_from(v, &o->error);
	}
out:
	json_decref(j);
	return r;
}

void
acme_order_free(struct acme_order *o)
{
	for (size_t i = 0; i < o->nauthz; i++)
		free(o->authz[i]);
	free(o->authz);
	free(o->finalize);
	free(o->certificate);
	memset(o, 0, sizeof(*o));
}

/* ---- authorization ---- */

static int
parse_challenge(json_t *c, bool allow_http, struct acme_challenge *ch,
    char *err, size_t errlen)
{
	json_t *e;
	int r;

	if (!json_is_object(c)) {
		snprintf(err, errlen, "a challenge is not an object");
		return PTT_EPROTO;
	}
	if ((r = get_str(c, "type", true, false, false, &ch->type, err,
	    errlen)) != 0 || (r = get_str(c, "url", true, true, allow_http,
	    &ch->url, err, errlen)) != 0 || (r = get_status(c, &ch->status,
	    err, errlen)) != 0 || (r = get_str(c, "token", false, false, false,
	    &ch->token, err, errlen)) != 0)
		return r;
	if (ch->token != NULL && (strlen(ch->token) > 256 ||
	    strlen(ch->token) < 22)) {
		/* RFC 8555 8.3/8.4: at least 128 bits of base64url */
		snprintf(err, errlen, "a challenge token has a bad length");
		return PTT_EPROTO;
	}
	if (json_is_object(e = json_object_get(c, "error"))) {
		ch->has_error = true;
		problem_from(e, &ch->error);
	}
	return 0;
}

int
acme_parse_authz(const char *json, size_t len, bool allow_http,
    struct acme_authz *a, char *err, size_t errlen)
{
	json_t *j, *id, *cs, *v, *c;
	size_t i;
	int r;

	memset(a, 0, sizeof(*a));
	if ((j = load(json, len, err, errlen)) == NULL)
		return PTT_EPROTO;
	if ((r = get_status(j, &a->status, err, errlen)) != 0)
		goto out;
	id = json_object_get(j, "identifier");
	if (!json_is_object(id) || !json_is_string(v = json_object_get(id,
	    "type")) || strcmp(json_string_value(v), "dns") != 0) {
		snprintf(err, errlen, "\"identifier\" is not a dns identifier");
		r = PTT_EPROTO;
		goto out;
	}
	if ((r = get_str(id, "value", true, false, false, &a->identifier, err,
	    errlen)) != 0)
		goto out;
	if (strlen(a->identifier) > 253 || a->identifier[0] == '\0') {
		snprintf(err, errlen, "the identifier is not a DNS name");
		r = PTT_EPROTO;
		goto out;
	}
	for (const char *p = a->identifier; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    *p != '_') {
			snprintf(err, errlen, "the identifier is not a DNS name");
			r = PTT_EPROTO;
			goto out;
		}
	a->wildcard = json_is_true(json_object_get(j, "wildcard"));
	cs = json_object_get(j, "challenges");
	if (!json_is_array(cs) || json_array_size(cs) > ACME_MAX_CHALLENGES) {
		snprintf(err, errlen, "\"challenges\" is not an array of at "
		    "most %d", ACME_MAX_CHALLENGES);
		r = PTT_EPROTO;
		goto out;
	}
	if (json_array_size(cs) > 0)
		a->ch = xcalloc(json_array_size(cs), sizeof(*a->ch));
	json_array_foreach(cs, i, c) {
		r = parse_challenge(c, allow_http, &a->ch[a->nch], err, errlen);
		a->nch++;
		if (r != 0)
			goto out;
	}
out:
	json_decref(j);
	return r;
}

void
acme_authz_free(struct acme_authz *a)
{
	for (size_t i = 0; i < a->nch; i++) {
		free(a->ch[i].type);
		free(a->ch[i].url);
		free(a->ch[i].token);
	}
	free(a->ch);
	free(a->identifier);
	memset(a, 0, sizeof(*a));
}

const struct acme_challenge *
acme_authz_find(const struct acme_authz *a, const char *type)
{
	for (size_t i = 0; i < a->nch; i++)
		if (a->ch[i].type != NULL && strcmp(a->ch[i].type, type) == 0)
			return &a->ch[i];
	return NULL;
}

/* ---- Retry-After ---- */

long
acme_parse_retry_after(const char *value, time_t now)
{
	const char *p = value;
	struct tm tm;
	char *end;
	long long secs;

	if (value == NULL)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)*p)) {
		errno = 0;
		secs = strtoll(p, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' ||
		    *end == '\n')
			end++;
		if (*end != '\0')
			return -1;
		if (errno != 0 || secs > 86400)
			return 86400;
		return (long)secs;
	}
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	memset(&tm, 0, sizeof(tm));
	end = strptime(p, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL)
		return -1;
	while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
		end++;
	if (*end != '\0')
		return -1;
	secs = (long long)timegm(&tm) - (long long)now;
	if (secs < 0)
		return 0;
	return secs > 86400 ? 86400 : (long)secs;
}
