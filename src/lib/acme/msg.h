/*
 * msg.h - the ACME server's answers, parsed (RFC 8555 7.1 resources, RFC
 * 7807 problem documents, the Retry-After and Link header fields).
 *
 * Everything here comes from the network: JSON is parsed by jansson with
 * duplicate keys refused, every field is checked for its type, strings and
 * arrays have limits, and every URL the client will later sign a request
 * for must be https:// (http:// only when allow_http is set, for tests).
 * Unknown fields are ignored (RFC 8555 7.1). A parser returns 0, or
 * PTT_EPROTO with a reason in err; structures are freed by their *_free,
 * also after an error.
 */
#ifndef PTT_ACME_MSG_H
#define PTT_ACME_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define ACME_URL_MAX 2048
#define ACME_MAX_AUTHZ 100	/* identifiers per order */
#define ACME_MAX_CHALLENGES 16
#define ACME_BODY_MAX (1024 * 1024)

enum acme_status {
	ACME_UNKNOWN,
	ACME_PENDING,
	ACME_READY,
	ACME_PROCESSING,
	ACME_VALID,
	ACME_INVALID,
	ACME_EXPIRED,
	ACME_DEACTIVATED,
	ACME_REVOKED,
};

struct acme_problem {
	char type[256];		/* "urn:ietf:params:acme:error:badNonce" */
	char detail[512];	/* with the first subproblem's detail */
	int status;		/* HTTP status the document names (0: none) */
};

struct acme_directory {
	char *new_nonce, *new_account, *new_order;
	char *terms;		/* meta.termsOfService, or NULL */
};

struct acme_order {
	enum acme_status status;
	char **authz;		/* authorization URLs */
	size_t nauthz;
	char *finalize;
	char *certificate;	/* once valid */
	bool has_error;
	struct acme_problem error;
};

struct acme_challenge {
	char *type;		/* "dns-01", ... */
	char *url;
	char *token;		/* base64url, or NULL (types without one) */
	enum acme_status status;
	bool has_error;
	struct acme_problem error;
};

struct acme_authz {
	char *identifier;	/* the DNS name */
	bool wildcard;
	enum acme_status status;
	struct acme_challenge *ch;
	size_t nch;
};

/* "pending" -> ACME_PENDING ...; ACME_UNKNOWN for anything else. */
enum acme_status acme_status_parse(const char *s);
const char *acme_status_name(enum acme_status st);

int acme_parse_directory(const char *json, size_t len, bool allow_http,
    struct acme_directory *d, char *err, size_t errlen);
void acme_directory_free(struct acme_directory *d);

int acme_parse_order(const char *json, size_t len, bool allow_http,
    struct acme_order *o, char *err, size_t errlen);
void acme_order_free(struct acme_order *o);

int acme_parse_authz(const char *json, size_t len, bool allow_http,
    struct acme_authz *a, char *err, size_t errlen);
void acme_authz_free(struct acme_authz *a);
/* The challenge of that type in a, or NULL. */
const struct acme_challenge *acme_authz_find(const struct acme_authz *a,
    const char *type);

/* A problem document (application/problem+json). Fields that are missing
 * or malformed are left empty; PTT_EPROTO when it is not a JSON object. */
int acme_parse_problem(const char *json, size_t len, struct acme_problem *p);

/* Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date; seconds
 * from now, clamped to [0, 86400]; -1 when it does not parse. */
long acme_parse_retry_after(const char *value, time_t now);

/* Is url usable as a resource URL (https://, or http:// with allow_http,
 * printable ASCII without spaces, at most ACME_URL_MAX)? */
bool acme_url_ok(const char *url, bool allow_http);

#endif
