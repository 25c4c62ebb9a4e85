/*
 * expand.c - the relay's local recipients: forwarding to the users' real
 * addresses, with the Sender Rewriting Scheme (SRS, auth/srs.h).
 *
 * Rule: a recipient in one of the local domains is never delivered as
 * such, whichever hop handed the message in (the spamfilter for inbound
 * mail, the signer for ARC-sealed inbound mail and for outbound mail
 * between local users alike):
 *   - user[+detail]@domain (and postmaster@domain, to the postmaster
 *     user) becomes the user's forward addresses, each a recipient of its
 *     own with its own state and DSN, NOTIFY kept, ORCPT set to the local
 *     address when the client gave none (RFC 3461 4.2), so a DSN names the
 *     address the sender used. A forward address that is local again is
 *     expanded again, at most EXPAND_DEPTH times (then 5.4.6, a loop);
 *     duplicates are delivered once.
 *   - SRS0/SRS1=...@domain (a bounce to a forwarded message's sender)
 *     becomes the address it encodes when its hash and age verify.
 *   - anything else local (unknown user, forged or expired SRS) fails
 *     with 5.1.1 / 5.7.1: the caller refuses the message when nothing is
 *     left to deliver, else a DSN reports those recipients.
 * The forwarded recipients travel with the envelope sender rewritten by
 * SRS (so SPF passes at the final destination: the relay is now the
 * sender's domain's stand-in), except the null sender, which stays null
 * (RFC 5321 4.5.5), and senders of our own domains, which SPF already
 * covers. When the message also has recipients that are not forwarded
 * (outbound mail), those keep the original sender in a second envelope.
 *
 * Pure: no I/O, no clock (the caller passes now); unit-tested in
 * tests/unit/relay.
 *
 * Trusts: the users database and the SRS secrets; every address from the
 * envelope is only compared, split at its last '@' and handed to
 * srs_reverse(), which parses with a bounded cursor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/srs.h"
#include "conf/users.h"
#include "relay/relay.h"
#include "util/mem.h"

#define EXPAND_DEPTH 5

bool
relay_is_local(const struct relay_local *l, const char *addr)
{
	const char *at = strrchr(addr, '@');

	return l != NULL && l->domains != NULL && at != NULL &&
	    relay_word_in(l->domains, at + 1);
}

/* The user for the local part of addr (up to its last '@'), or NULL. */
static const struct user *
local_user(const struct relay_local *l, const char *addr)
{
	char name[USER_NAME_MAX + 1];
	const char *at = strrchr(addr, '@');
	size_t n = strcspn(addr, "+@");

	if (l->users == NULL || at == NULL || n == 0 || n > USER_NAME_MAX ||
	    addr + n > at)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = addr[i];

		name[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	name[n] = '\0';
	if (strcmp(name, "postmaster") == 0)
		ptt_strlcpy(name, l->postmaster != NULL ? l->postmaster :
		    "postmaster", sizeof(name));
	return user_name_valid(name) ? users_lookup(l->users, name) : NULL;
}

static bool
has_rcpt(const struct q_env *e, const char *addr)
{
	for (size_t i = 0; i < e->nrcpt; i++)
		if (strcasecmp(e->rcpt[i].addr, addr) == 0)
			return true;
	return false;
}

/* Add addr to group g (unless there already), remembering via. */
static struct q_rcpt *
add(struct relay_expansion *x, int g, const char *addr, const char *via,
    const struct q_rcpt *orig)
{
	struct q_env *e = &x->env[g];
	struct q_rcpt *r;

	if (has_rcpt(e, addr))
		return NULL;
	r = q_env_add_rcpt(e, addr);
	x->via[g] = xreallocarray(x->via[g], e->nrcpt, sizeof(char *));
	x->via[g][e->nrcpt - 1] = via != NULL ? xstrdup(via) : NULL;
	r->notify = orig->notify;
	if (orig->orcpt != NULL)
		r->orcpt = xstrdup(orig->orcpt);
	else if (via != NULL) {
		size_t n = strlen(via) + sizeof("rfc822;");

		r->orcpt = xmalloc(n);
		snprintf(r->orcpt, n, "rfc822;%s", via);
	}
	return r;
}

static void
fail(struct relay_expansion *x, const struct q_rcpt *orig,
    const char *status, const char *why)
{
	struct q_rcpt *r = add(x, 0, orig->addr, NULL, orig);

	x->nfailed++;
	if (x->fail_reply == NULL) {
		x->fail_reply = xstrdup(why);
		ptt_strlcpy(x->fail_status, status, sizeof(x->fail_status));
	}
	if (r == NULL)
		return;
	r->state = Q_FAILED;
	r->status = xstrdup(status);
	r->reply = xstrdup(why);
}

/* Expand one local address (depth levels deep) into group 1. */
static void
expand_one(const struct relay_local *l, struct relay_expansion *x,
    const struct q_rcpt *orig, const char *addr, int depth)
{
	char buf[512], why[600];
	const struct user *u;
	int r;

	if (depth > EXPAND_DEPTH) {
		snprintf(why, sizeof(why), "forwarding loop at <%s>", addr);
		fail(x, orig, "5.4.6", why);
		return;
	}
	if (srs_is_srs(addr) && local_user(l, addr) == NULL) {
		if (l->srs == NULL)
			r = SRS_EFORGED;
		else
			r = srs_reverse(l->srs, addr, l->now, buf, sizeof(buf));
		if (r != 0) {
			snprintf(why, sizeof(why), "bounce address <%s> refused: "
			    "%s", addr, srs_strerror(r));
			fail(x, orig, r == SRS_EFORGED ? "5.7.1" : "5.1.1", why);
			return;
		}
		x->nlocal++;
		if (relay_is_local(l, buf))
			expand_one(l, x, orig, buf, depth + 1);
		else
			add(x, 1, buf, addr, orig);
		return;
	}
	if ((u = local_user(l, addr)) == NULL) {
		snprintf(why, sizeof(why), "no such user <%s>", addr);
		fail(x, orig, "5.1.1", why);
		return;
	}
	x->nlocal++;
	for (size_t i = 0; i < u->n_forward; i++) {
		if (relay_is_local(l, u->forward[i]))
			expand_one(l, x, orig, u->forward[i], depth + 1);
		else
			add(x, 1, u->forward[i], addr, orig);
	}
}

/* The envelope fields of in without its recipients. */
static void
env_head(struct q_env *dst, const struct q_env *in, const char *sender)
{
	memset(dst, 0, sizeof(*dst));
	dst->created = in->created;
	dst->sender = xstrdup(sender);
	dst->envid = in->envid != NULL ? xstrdup(in->envid) : NULL;
	dst->ret = in->ret;
	dst->require_tls = in->require_tls;
	dst->smtputf8 = in->smtputf8;
	dst->eightbit = in->eightbit;
	dst->origin = in->origin != NULL ? xstrdup(in->origin) : NULL;
	dst->delay_notified = in->delay_notified;
}

int
relay_expand(const struct relay_local *l, const struct q_env *in,
    struct relay_expansion *x)
{
	char srs[512];
	const char *fwd_sender = in->sender;
	int r;

	memset(x, 0, sizeof(*x));
	env_head(&x->env[0], in, in->sender);
	for (size_t i = 0; i < in->nrcpt; i++) {
		const struct q_rcpt *rc = &in->rcpt[i];

		if (rc->state != Q_PENDING || !relay_is_local(l, rc->addr)) {
			struct q_rcpt *n = add(x, 0, rc->addr, NULL, rc);

			if (n != NULL && rc->state != Q_PENDING) {
				n->state = rc->state;
				n->status = rc->status ? xstrdup(rc->status) : NULL;
				n->reply = rc->reply ? xstrdup(rc->reply) : NULL;
			}
			continue;
		}
		if (x->env[1].sender == NULL)
			env_head(&x->env[1], in, in->sender);
		expand_one(l, x, rc, rc->addr, 0);
	}
	if (x->env[1].sender == NULL || x->env[1].nrcpt == 0)
		return 0;
	/* The forwarded copy's sender. */
	if (in->sender[0] != '\0' && !relay_is_local(l, in->sender) &&
	    l->srs != NULL) {
		r = srs_forward(l->srs, in->sender, l->srs_domain, l->now, srs,
		    sizeof(srs));
		if (r == 0)
			fwd_sender = srs;
		else
			x->srs_error = r;	/* sent with the sender as is */
	}
	if (strcmp(fwd_sender, in->sender) == 0) {
		/* One envelope is enough: move group 1 into group 0. */
		for (size_t i = 0; i < x->env[1].nrcpt; i++) {
			const struct q_rcpt *src = &x->env[1].rcpt[i];

			add(x, 0, src->addr, x->via[1][i], src);
		}
		relay_expansion_clear(x, 1);
		return 0;
	}
	free(x->env[1].sender);
	x->env[1].sender = xstrdup(fwd_sender);
	return 0;
}

void
relay_expansion_clear(struct relay_expansion *x, int g)
{
	for (size_t i = 0; i < x->env[g].nrcpt; i++)
		free(x->via[g][i]);
	free(x->via[g]);
	x->via[g] = NULL;
	q_env_free(&x->env[g]);
}

void
relay_expansion_take(struct relay_expansion *x, int g, struct q_env *out)
{
	for (size_t i = 0; i < x->env[g].nrcpt; i++)
		free(x->via[g][i]);
	free(x->via[g]);
	x->via[g] = NULL;
	*out = x->env[g];
	memset(&x->env[g], 0, sizeof(x->env[g]));
}

void
relay_expansion_free(struct relay_expansion *x)
{
	relay_expansion_clear(x, 0);
	relay_expansion_clear(x, 1);
	free(x->fail_reply);
	memset(x, 0, sizeof(*x));
}
