/*
 * test_expand.c - the relay's local recipients (src/relay/expand.c):
 * users to their forward addresses with NOTIFY and ORCPT, +detail and
 * postmaster, duplicates and loops, SRS sender rewriting (not for the
 * null sender nor our own domain), outbound recipients keeping the
 * original sender in a second envelope, SRS bounce addresses decoded,
 * forged/expired ones and unknown users failed; and the SRS secrets file
 * (auth/srs.h: made 0600 once, read back, refused when group-readable).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/srs.h"
#include "conf/users.h"
#include "relay/relay.h"
#include "smtp/proto.h"
#include "util/mem.h"
#include "../tap.h"

#define NOW 1577836860	/* 2020-01-01 00:01 UTC */
#define DAY 86400

static const struct srs_secret sec[] = { { "0123456789abcdef-test", 21 } };
static const struct srs SRS = { sec, 1, SRS_HMAC_SHA1, 0, 0, 0 };

static struct users_db *
make_db(void)
{
	static const char *const names[] = { "alice", "bob", "loop1", "loop2",
	    "pm" };
	char *hash = NULL, t[5][1024];
	const char *texts[5];
	struct users_db *db = NULL;
	char err[256];

	if (password_hash("pw", 2, &hash) != 0)
		return NULL;
	snprintf(t[0], sizeof(t[0]), "password = %s\nforward = alice@real.test, "
	    "alice2@other.test\n", hash);
	snprintf(t[1], sizeof(t[1]), "password = %s\nforward = alice@example.test\n"
	    "forward = bob@real.test\n", hash);
	snprintf(t[2], sizeof(t[2]), "password = %s\nforward = loop2@example.test\n", hash);
	snprintf(t[3], sizeof(t[3]), "password = %s\nforward = loop1@example.test\n", hash);
	snprintf(t[4], sizeof(t[4]), "password = %s\nforward = pm@real.test\n", hash);
	for (int i = 0; i < 5; i++)
		texts[i] = t[i];
	if (users_load_mem(&db, names, texts, 5, "v1", err, sizeof(err)) != 0)
		printf("# users: %s\n", err);
	free(hash);
	return db;
}

static void
env_init(struct q_env *e, const char *sender)
{
	memset(e, 0, sizeof(*e));
	e->sender = xstrdup(sender);
	e->created = NOW;
}

static const struct q_rcpt *
find(const struct q_env *e, const char *addr)
{
	for (size_t i = 0; i < e->nrcpt; i++)
		if (strcmp(e->rcpt[i].addr, addr) == 0)
			return &e->rcpt[i];
	return NULL;
}

static void
test_expand(struct users_db *db)
{
	struct relay_local l = { "example.test other-local.test", db, "pm",
	    &SRS, "example.test", NOW };
	struct relay_expansion x;
	struct q_env in;
	struct q_rcpt *r;
	const struct q_rcpt *g;
	char srs[512];

	ok(relay_is_local(&l, "a@EXAMPLE.test"), "local domain, any case");
	ok(relay_is_local(&l, "a@other-local.test"), "second local domain");
	ok(!relay_is_local(&l, "a@example.test.evil"), "suffix is not local");
	ok(!relay_is_local(&l, "noat"), "no @");

	/* Inbound: one user, two forward addresses, SRS sender. */
	env_init(&in, "sender@outside.test");
	r = q_env_add_rcpt(&in, "Alice+tag@example.test");
	r->notify = SMTP_NOTIFY_FAILURE;
	relay_expand(&l, &in, &x);
	is_int((int)x.env[0].nrcpt, 0, "nothing kept with the original sender");
	is_int((int)x.env[1].nrcpt, 2, "two forward addresses");
	ok(strncmp(x.env[1].sender, "SRS0=", 5) == 0 &&
	    strstr(x.env[1].sender, "=outside.test=sender@example.test") != NULL,
	    "sender rewritten by SRS: %s", x.env[1].sender);
	ok(srs_reverse(&SRS, x.env[1].sender, NOW, srs, sizeof(srs)) == 0 &&
	    strcmp(srs, "sender@outside.test") == 0, "and it reverses");
	g = find(&x.env[1], "alice@real.test");
	ok(g != NULL && g->notify == SMTP_NOTIFY_FAILURE && g->orcpt != NULL &&
	    strcmp(g->orcpt, "rfc822;Alice+tag@example.test") == 0,
	    "NOTIFY kept, ORCPT is the local address");
	is_str(x.via[1][0], "Alice+tag@example.test", "via recorded");
	is_int((int)x.nlocal, 1, "one local recipient");
	relay_expansion_free(&x);
	q_env_free(&in);

	/* Null sender stays null, one envelope; client's ORCPT kept. */
	env_init(&in, "");
	r = q_env_add_rcpt(&in, "alice@example.test");
	r->orcpt = xstrdup("rfc822;given@x.test");
	relay_expand(&l, &in, &x);
	is_int((int)x.env[1].nrcpt, 0, "null sender: one envelope");
	is_str(x.env[0].sender, "", "null sender not rewritten");
	is_int((int)x.env[0].nrcpt, 2, "both forward addresses");
	g = find(&x.env[0], "alice2@other.test");
	ok(g != NULL && strcmp(g->orcpt, "rfc822;given@x.test") == 0,
	    "ORCPT from the client kept");
	relay_expansion_free(&x);
	q_env_free(&in);

	/* Our own sender: not rewritten; mixed outbound + local; bob's
	 * forward to alice nests; duplicates once; postmaster. */
	env_init(&in, "carol@example.test");
	q_env_add_rcpt(&in, "dave@dest.test");
	q_env_add_rcpt(&in, "bob@example.test");
	q_env_add_rcpt(&in, "alice@example.test");
	q_env_add_rcpt(&in, "postmaster@example.test");
	relay_expand(&l, &in, &x);
	is_int((int)x.env[1].nrcpt, 0, "local sender: one envelope");
	is_str(x.env[0].sender, "carol@example.test", "local sender kept");
	is_int((int)x.env[0].nrcpt, 5, "dest + alice's two + bob's own + pm");
	ok(find(&x.env[0], "dave@dest.test") != NULL, "outbound recipient kept");
	ok(find(&x.env[0], "bob@real.test") != NULL, "bob's real address");
	ok(find(&x.env[0], "pm@real.test") != NULL, "postmaster to its user");
	ok(find(&x.env[0], "alice@example.test") == NULL, "no local left");
	relay_expansion_free(&x);
	q_env_free(&in);

	/* Foreign sender with outbound and local recipients: two envelopes. */
	env_init(&in, "ext@outside.test");
	q_env_add_rcpt(&in, "dave@dest.test");
	q_env_add_rcpt(&in, "bob@example.test");
	relay_expand(&l, &in, &x);
	ok(x.env[0].nrcpt == 1 && strcmp(x.env[0].sender, "ext@outside.test") == 0,
	    "outbound part keeps the sender");
	ok(x.env[1].nrcpt == 3 && strncmp(x.env[1].sender, "SRS0=", 5) == 0,
	    "forwarded part has the SRS sender");
	relay_expansion_free(&x);
	q_env_free(&in);

	/* Loop, unknown user. */
	env_init(&in, "ext@outside.test");
	q_env_add_rcpt(&in, "loop1@example.test");
	q_env_add_rcpt(&in, "nobody@example.test");
	relay_expand(&l, &in, &x);
	is_int((int)x.nfailed, 2, "loop and unknown user fail");
	g = find(&x.env[0], "nobody@example.test");
	ok(g != NULL && g->state == Q_FAILED && strcmp(g->status, "5.1.1") == 0,
	    "unknown user: 5.1.1");
	g = find(&x.env[0], "loop1@example.test");
	ok(g != NULL && g->state == Q_FAILED && strcmp(g->status, "5.4.6") == 0,
	    "loop: 5.4.6");
	relay_expansion_free(&x);
	q_env_free(&in);

	/* Bounce to an SRS address: decoded; forged and expired fail. */
	srs_forward(&SRS, "orig@outside.test", "example.test", NOW, srs,
	    sizeof(srs));
	env_init(&in, "");
	q_env_add_rcpt(&in, srs);
	relay_expand(&l, &in, &x);
	ok(x.env[0].nrcpt == 1 && strcmp(x.env[0].rcpt[0].addr,
	    "orig@outside.test") == 0 && x.nfailed == 0,
	    "SRS bounce goes to the original sender");
	relay_expansion_free(&x);
	l.now = NOW + 30 * DAY;
	relay_expand(&l, &in, &x);
	ok(x.nfailed == 1 && strcmp(x.fail_status, "5.1.1") == 0 &&
	    strstr(x.fail_reply, "expired") != NULL, "expired: %s", x.fail_reply);
	relay_expansion_free(&x);
	l.now = NOW;
	q_env_free(&in);
	srs[5] = srs[5] == 'A' ? 'B' : 'A';
	env_init(&in, "");
	q_env_add_rcpt(&in, srs);
	relay_expand(&l, &in, &x);
	ok(x.nfailed == 1 && strcmp(x.fail_status, "5.7.1") == 0,
	    "forged: 5.7.1 (%s)", x.fail_reply);
	relay_expansion_free(&x);
	q_env_free(&in);

	/* Without SRS secrets: senders as they are, SRS bounces refused. */
	l.srs = NULL;
	env_init(&in, "ext@outside.test");
	q_env_add_rcpt(&in, "bob@example.test");
	relay_expand(&l, &in, &x);
	ok(x.env[1].nrcpt == 0 && strcmp(x.env[0].sender, "ext@outside.test") == 0,
	    "no SRS: sender unchanged");
	relay_expansion_free(&x);
	q_env_free(&in);
}

static void
test_keyfile(void)
{
	char dir[] = "/tmp/test_expand.XXXXXX", path[256], err[256];
	struct srs_keyfile a, b;
	struct stat st;
	int fd;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/srs.key", dir);
	is_int(srs_keyfile_load(&a, path, false, err, sizeof(err)), -4,
	    "missing without create: PTT_ENOENT");
	is_int(srs_keyfile_load(&a, path, true, err, sizeof(err)), 0,
	    "made on first use");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600");
	ok(a.n == 1 && a.sec[0].len >= 32, "one secret of %zu bytes",
	    a.sec[0].len);
	is_int(srs_keyfile_load(&b, path, true, err, sizeof(err)), 0,
	    "second load");
	ok(b.n == 1 && b.sec[0].len == a.sec[0].len &&
	    memcmp(a.sec[0].key, b.sec[0].key, a.sec[0].len) == 0,
	    "same secret: not made again");
	srs_keyfile_free(&a);
	srs_keyfile_free(&b);
	chmod(path, 0640);
	ok(srs_keyfile_load(&a, path, true, err, sizeof(err)) != 0,
	    "group-readable refused: %s", err);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ok(fd >= 0 && write(fd, "# c\nnew-secret-0123456789\n\nold-secret-0123456789\n", 48) == 48,
	    "two secrets written");
	close(fd);
	ok(srs_keyfile_load(&a, path, false, err, sizeof(err)) == 0 && a.n == 2 &&
	    a.sec[0].len == 21 && memcmp(a.sec[0].key, "new-secret", 10) == 0,
	    "first line signs, comment and empty line skipped");
	srs_keyfile_free(&a);
	fd = open(path, O_WRONLY | O_TRUNC);
	ok(fd >= 0 && write(fd, "short\n", 6) == 6, "short secret written");
	close(fd);
	ok(srs_keyfile_load(&a, path, false, err, sizeof(err)) != 0,
	    "a secret under 16 bytes refused: %s", err);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	struct users_db *db = make_db();

	ok(db != NULL, "users db");
	if (db != NULL)
		test_expand(db);
	users_free(db);
	test_keyfile();
	return tap_done();
}
