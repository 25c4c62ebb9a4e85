/*
 * addr.h - RFC 5322 3.4 / 3.4.1 address lists, with the obsolete syntax of
 * 4.4 (obs-route, obs-local-part, obs-domain, empty list elements) and
 * RFC 6532 UTF-8, for From:, Sender:, To:, Cc:, Reply-To: and friends.
 *
 * A list is parsed into mailboxes; a group contributes its members (each
 * tagged with the group's name) and an empty group contributes nothing.
 * Display names are decoded (quoted-pairs, RFC 2047 encoded-words) to
 * UTF-8; comments are skipped, except that the comment of a bare
 * "addr-spec (Name)" serves as its display name. Local parts are kept in
 * their unquoted form (quoted-pairs resolved, `quoted` set when the source
 * was a quoted string); domains as written (a domain-literal keeps its
 * brackets). An element that does not parse sets MAIL_D_BAD_ADDRESS in
 * list->defects and is skipped; a mailbox without "@domain" is kept with
 * domain == NULL and sets MAIL_D_BAD_ADDRESS too.
 */
#ifndef PTT_MAIL_ADDR_H
#define PTT_MAIL_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/hdr.h"

#define MAIL_ADDR_MAX 1000	/* mailboxes kept from one list */

struct mail_addr {
	char *display;	/* UTF-8 display name, or NULL */
	char *local;	/* local part, unquoted */
	char *domain;	/* domain, or NULL when the mailbox had none */
	char *group;	/* name of the enclosing group, or NULL */
	bool quoted;	/* local part came from a quoted string */
};

struct mail_addr_list {
	struct mail_addr *a;	/* owned, with all strings in it */
	size_t n, cap;
	unsigned defects;	/* MAIL_D_BAD_ADDRESS, MAIL_D_LIMIT, MAIL_D_CHARSET */
};

/*
 * Parse an address-list (also accepts a mailbox-list or a single mailbox)
 * from an unfolded header value s[0..len). Always fills l (possibly with no
 * address); returns 0, or PTT_EINVAL when nothing parsed cleanly and the
 * value was not empty. Free with mail_addr_list_free().
 */
int mail_addr_parse(struct mail_addr_list *l, const char *s, size_t len);
void mail_addr_list_free(struct mail_addr_list *l);

/*
 * Append "local@domain" to out, quoting the local part when it is not a
 * dot-atom (RFC 5322 3.4.1). Returns 0 or PTT_ENOSPC.
 */
int mail_addr_spec(const struct mail_addr *a, struct buf *out);

/*
 * The RFC 5322 author domain (RFC 7489 6.6.1): the domain of the only
 * mailbox of the only From: field, lowercased (ASCII), caller frees.
 * Returns 0, PTT_ENOENT when there is no From: field, PTT_EEXIST when there
 * are several From: fields or the field holds several mailboxes, and
 * PTT_EINVAL when it does not parse or has no domain.
 */
int mail_author_domain(const struct mail_hdr *h, char **domain);

#endif
