/*
 * authres.h - the Authentication-Results header field (RFC 8601).
 *
 * Building: an authres holds the authserv-id and a list of method results
 * (method, result, optional reason and comment, properties such as
 * smtp.mailfrom or header.d). ar_format() writes the whole field,
 * "Authentication-Results: id;" with one resinfo per continuation line,
 * folded at 78 columns (RFC 5322 2.1.1), values quoted where the grammar
 * needs it (RFC 8601 2.2: value = token / quoted-string; pvalue may also
 * be [local-part] "@" domain-name) and comments escaped.
 *
 * Parsing: ar_parse() reads an unfolded field value (RFC 8601 2.2: the
 * authserv-id, an optional version, "none" or resinfos with comments
 * anywhere CFWS is allowed). It is meant for fields from outside: every
 * byte goes through a bounds-checked cursor, comments nest to a fixed
 * depth, and the numbers of results and properties are capped. Property
 * values are read leniently (anything up to white space, ';' or a
 * comment), as deployed verifiers write unquoted base64 in header.b.
 *
 * RFC 8601 5: a receiving MTA removes any Authentication-Results field
 * that claims its own authserv-id before adding its own;
 * ar_remove_ours() does that on a parsed header section. It only needs
 * the authserv-id to parse, so a field claiming our id with a broken rest
 * is removed too.
 *
 * Trusts: nothing in parsed values. Owns: every string in an authres
 * (freed by ar_free()).
 */
#ifndef PTT_AUTH_AUTHRES_H
#define PTT_AUTH_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/hdr.h"
#include "util/buf.h"

#define AR_MAX_RESULTS 64	/* resinfos kept by the parser */
#define AR_MAX_PROPS 32		/* properties per resinfo */
#define AR_MAX_VALUE 1024	/* bytes of one id, value or comment */

struct ar_prop {
	char *ptype;		/* "smtp", "header", "body", "policy" */
	char *property;		/* "mailfrom", "d", "from", ... */
	char *value;		/* unquoted */
};

struct ar_result {
	char *method;		/* "spf", "dkim", "dmarc", "arc", ... */
	char *method_version;	/* after "/", or NULL */
	char *result;		/* "pass", "fail", ... */
	char *reason;		/* reason= value, or NULL */
	char *comment;		/* the first comment after the result (without
				 * parentheses, unescaped), or NULL */
	struct ar_prop *prop;
	size_t nprop;
};

struct authres {
	char *authserv_id;
	unsigned version;	/* 1 when absent */
	struct ar_result *res;
	size_t n;		/* 0: "none" */
};

/* An empty authres for authserv_id (copied). */
void ar_init(struct authres *a, const char *authserv_id);
void ar_free(struct authres *a);
/* Add a result; strings copied, reason and comment may be NULL. The
 * pointer is valid until the next ar_add(). */
struct ar_result *ar_add(struct authres *a, const char *method,
    const char *result, const char *reason, const char *comment);
/* Add ptype.property=value to r (strings copied). */
void ar_add_prop(struct ar_result *r, const char *ptype, const char *property,
    const char *value);

/* Append the complete field, "Authentication-Results: ...\r\n", folded.
 * Returns 0 or PTT_ENOSPC (out's limit). */
int ar_format(const struct authres *a, struct buf *out);

/* Parse an unfolded field value (as in mail_field.value). 0 or PTT_EINVAL;
 * a must be freed with ar_free() either way. */
int ar_parse(struct authres *a, const char *value, size_t len);

/* The authserv-id alone (unquoted) into out. 0, or PTT_EINVAL when the
 * value does not start with one (or it does not fit in out). */
int ar_authserv_id(const char *value, size_t len, char *out, size_t outlen);

/* Remove every Authentication-Results field of h whose authserv-id equals
 * id (ASCII case-insensitively). Returns how many were removed. */
size_t ar_remove_ours(struct mail_hdr *h, const char *id);

/* Lookup in a parsed authres: the first result of method (NULL if none),
 * and the value of ptype.property in r (NULL if absent). */
const struct ar_result *ar_find(const struct authres *a, const char *method);
const char *ar_prop_value(const struct ar_result *r, const char *ptype,
    const char *property);

#endif
