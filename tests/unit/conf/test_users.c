/* test_users.c - users files, argon2id password hashes, the users db. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/users.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"
#include "../tap.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *hash1;	/* a valid hash for building files */

static int
parse(const char *text, char *err, size_t errlen)
{
	struct user u;
	int r = user_parse(&u, "alice", text, strlen(text), err, errlen);

	if (r == 0)
		user_free(&u);
	return r;
}

static void
test_hashing(void)
{
	char *h2 = NULL;

	is_int(password_hash("correct horse", 13, &hash1), 0, "hash a password");
	is_int(password_hash("correct horse", 13, &h2), 0, "hash it again");
	ok(strncmp(hash1, "$argon2id$v=19$", 15) == 0, "argon2id string: %s", hash1);
	ok(strcmp(hash1, h2) != 0, "same password twice gives different (salted) hashes");
	ok(password_verify(hash1, "correct horse", 13), "first hash verifies");
	ok(password_verify(h2, "correct horse", 13), "second hash verifies");
	ok(!password_verify(hash1, "correct horsf", 13), "wrong password fails");
	ok(!password_verify(hash1, "correct hors", 12), "prefix of password fails");
	ok(!password_verify("$argon2id$garbage", "x", 1), "garbage hash fails");
	ok(!password_needs_rehash(hash1), "fresh hash needs no rehash");
	ok(password_needs_rehash("$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHRzYWx0$"
	    "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"), "weak parameters need rehash");
	free(h2);
	is_int(password_hash("", 0, &h2), PTT_EINVAL, "empty password refused");
	ok(h2 == NULL, "no hash on error");
}

static void
test_names_addrs(void)
{
	static const char *const good[] = { "a@b.example", "first.last@x.y.z",
		"a+tag@ex-ample.org", "o'neil@example.org", "X@EXAMPLE.ORG",
		"1@2.3" };
	static const char *const bad[] = { "", "a", "a@", "@b.example",
		"a@b", "a@@b.example", "a..b@x.example", ".a@x.example",
		"a.@x.example", "a@-x.example", "a@x-.example", "a@x..example",
		"a b@x.example", "a@x.example.", "\"q\"@x.example",
		"a@[127.0.0.1]", "a@x_y.example", "a@x.example,b@y.example" };
	char big[400];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(addr_valid(good[i], strlen(good[i])), "good address %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!addr_valid(bad[i], strlen(bad[i])), "bad address \"%s\"", bad[i]);
	memset(big, 'a', 65);
	ptt_strlcpy(big + 65, "@x.example", sizeof(big) - 65);
	ok(!addr_valid(big, strlen(big)), "local part of 65 refused");
	memset(big, 'a', 300);
	big[0] = 'a';
	big[1] = '@';
	big[300] = '\0';
	ok(!addr_valid(big, strlen(big)), "address past 254 refused");
	ok(user_name_valid("alice"), "name alice");
	ok(user_name_valid("a.b-c_d9"), "name a.b-c_d9");
	ok(!user_name_valid("Alice"), "uppercase name refused");
	ok(!user_name_valid(".alice"), "leading dot refused");
	ok(!user_name_valid("../etc"), "path refused");
	ok(!user_name_valid(""), "empty name refused");
	ok(!user_name_valid("a/b"), "slash refused");
}

static void
test_parse(void)
{
	struct buf b;
	struct user u;
	char err[256], *text;
	int r;

	buf_init(&b, 0);
	buf_addf(&b, "# alice\r\n\npassword = %s\r\nforward = A@Real.Example , "
	    "b@two.example\n  forward=c@three.example\nrequire_tls = yes\n"
	    "send_as = alias@example.org\n", hash1);
	r = user_parse(&u, "alice", b.data, b.len, err, sizeof(err));
	is_int(r, 0, "parse a full users file");
	if (r != 0)
		printf("# %s\n", err);
	if (r == 0) {
		is_int(u.n_forward, 3, "three forwards (lines accumulate)");
		is_str(u.forward[0], "A@real.example", "domain lowercased, local kept");
		is_str(u.forward[2], "c@three.example", "third forward");
		ok(u.require_tls, "require_tls");
		is_int(u.n_send_as, 1, "one send_as");
		text = user_format(&u);
		user_free(&u);
		r = user_parse(&u, "alice", text, strlen(text), err, sizeof(err));
		is_int(r, 0, "formatted file parses back");
		if (r == 0) {
			is_int(u.n_forward, 3, "round trip keeps forwards");
			ok(u.require_tls, "round trip keeps require_tls");
			user_free(&u);
		}
		free(text);
	}

#define BAD(text, want, what) do {					\
	r = parse(text, err, sizeof(err));				\
	ok(r != 0 && strstr(err, want) != NULL, "%s: %s", what, err);	\
} while (0)
	buf_reset(&b);
	buf_addf(&b, "password = %s\n", hash1);
	BAD(b.data, "no forward", "missing forward");
	BAD("forward = a@b.example\n", "no password", "missing password");
	buf_addf(&b, "forward = good@x.example, bad@@x.example\n");
	BAD(b.data, "bad address \"bad@@x.example\"", "bad address is named");
	buf_reset(&b);
	buf_addf(&b, "password = %s\nforward a@b.example\n", hash1);
	BAD(b.data, "alice:2: expected", "line without =");
	buf_reset(&b);
	buf_addf(&b, "password = %s\nforward = a@b.example\ncolour = blue\n", hash1);
	BAD(b.data, "unknown key \"colour\"", "unknown key");
	buf_reset(&b);
	buf_addf(&b, "password = %s\npassword = %s\nforward = a@b.example\n", hash1, hash1);
	BAD(b.data, "duplicate password", "duplicate password");
	BAD("password = hunter2\nforward = a@b.example\n", "argon2id", "plaintext password refused");
	BAD("password = $argon2i$v=19$m=4096,t=3,p=1$x$y\nforward = a@b.example\n",
	    "argon2id", "argon2i (not id) refused");
	BAD("password = $argon2id$v=19$m=4194304,t=2,p=1$c2FsdA$aGFzaA\nforward = a@b.example\n",
	    "1 GiB", "hash asking for 4 GiB refused");
	BAD("password = $argon2id$v=19$m=65536,t=99,p=1$c2FsdA$aGFzaA\nforward = a@b.example\n",
	    "argon2id", "hash asking for 99 passes refused");
	BAD("password = $argon2id$v=19$m=65536,t=2,p=1$\nforward = a@b.example\n",
	    "argon2id", "truncated hash refused");
	buf_reset(&b);
	buf_addf(&b, "password = %s\nforward = a@b.example,\n", hash1);
	BAD(b.data, "comma", "trailing comma");
	buf_reset(&b);
	buf_addf(&b, "password = %s\nforward = a@b.example, a@B.example\n", hash1);
	BAD(b.data, "duplicate address", "duplicate forward");
	buf_reset(&b);
	buf_addf(&b, "password = %s\nforward = a@b.example\nrequire_tls = maybe\n", hash1);
	BAD(b.data, "yes or no", "bad boolean");
	buf_reset(&b);
	buf_addf(&b, "password = %s\nforward = a@b.example\x01\n", hash1);
	BAD(b.data, "control character", "control character");
	buf_reset(&b);
	buf_addf(&b, "password = %s\nforward =\n", hash1);
	BAD(b.data, "empty value", "empty value");
	{
		char nul[] = "forward = a@b.example\0x\n";
		r = user_parse(&u, "alice", nul, sizeof(nul) - 1, err, sizeof(err));
		ok(r != 0, "NUL byte refused: %s", err);
	}
	/* huge file, long line, too many addresses */
	buf_reset(&b);
	while (b.len <= USER_FILE_MAX)
		buf_adds(&b, "# padding padding padding padding padding padding\n");
	r = parse(b.data, err, sizeof(err));
	is_int(r, PTT_ENOSPC, "file past %d bytes refused: %s", USER_FILE_MAX, err);
	buf_reset(&b);
	buf_adds(&b, "forward = ");
	while (b.len <= USER_LINE_MAX)
		buf_adds(&b, "x");
	buf_adds(&b, "@y.example\n");
	r = parse(b.data, err, sizeof(err));
	ok(r != 0 && strstr(err, "too long"), "long line refused: %s", err);
	buf_reset(&b);
	buf_addf(&b, "password = %s\n", hash1);
	for (r = 0; r <= USER_ADDRS_MAX; r++)
		buf_addf(&b, "forward = u%d@x.example\n", r);
	r = parse(b.data, err, sizeof(err));
	ok(r != 0 && strstr(err, "too many"), "more than %d forwards refused: %s",
	    USER_ADDRS_MAX, err);
	r = user_parse(&u, "Bad/Name", "", 0, err, sizeof(err));
	ok(r != 0 && strstr(err, "bad user name"), "bad name refused: %s", err);
#undef BAD
	/* passwd rewrites the password line only */
	buf_reset(&b);
	buf_addf(&b, "# hand-written note\r\nforward = a@b.example\r\n  password=%s\r\n"
	    "# password = not this one\n", hash1);
	text = user_text_set_password(b.data, b.len, "$argon2id$NEW");
	ok(text != NULL && strcmp(text, "# hand-written note\r\nforward = a@b.example\r\n"
	    "  password = $argon2id$NEW\r\n# password = not this one\n") == 0,
	    "password line replaced, the rest kept byte for byte");
	free(text);
	ok(user_text_set_password("forward = a@b.example\n", 22, "x") == NULL,
	    "no password line: NULL");
	ok(user_text_set_password("passwords = x\n", 14, "x") == NULL,
	    "a longer key is not the password");
	buf_free(&b);
}

static void
test_db(void)
{
	const char *names[2] = { "zed", "alice" };
	char ta[512], tz[512], err[256];
	const char *texts[2] = { tz, ta };
	struct users_db *db;
	double t0, known, unknown;
	int r;

	snprintf(ta, sizeof(ta), "password = %s\nforward = a@real.example\n", hash1);
	snprintf(tz, sizeof(tz), "password = %s\nforward = z@real.example\nrequire_tls = yes\n", hash1);
	r = users_load_mem(&db, names, texts, 2, "0123", err, sizeof(err));
	is_int(r, 0, "db from memory");
	if (r != 0)
		return;
	is_int(users_count(db), 2, "two users");
	is_str(users_at(db, 0)->name, "alice", "sorted by name");
	ok(users_lookup(db, "zed") != NULL && users_lookup(db, "zed")->require_tls, "lookup zed");
	ok(users_lookup(db, "nobody") == NULL, "lookup unknown");
	is_str(users_version(db), "0123", "version kept");
	ok(users_verify_password(db, "alice", "correct horse", 13), "alice verifies");
	ok(!users_verify_password(db, "alice", "wrong", 5), "alice wrong password");
	ok(!users_verify_password(db, "nobody", "correct horse", 13), "unknown user fails");
	ok(!users_verify_password(db, NULL, "x", 1), "NULL user fails");
	/* the dummy hash is made on first use; then the best of three each,
	 * so a busy machine does not make this flaky */
	known = unknown = 1e9;
	for (r = 0; r < 3; r++) {
		double k, u;
		t0 = now();
		users_verify_password(db, "alice", "wrong password", 14);
		k = now() - t0;
		t0 = now();
		users_verify_password(db, "nobody", "wrong password", 14);
		u = now() - t0;
		known = k < known ? k : known;
		unknown = u < unknown ? u : unknown;
	}
	ok(unknown > known * 0.5 && unknown < known * 2.0,
	    "unknown user costs about as much as a known one (%.3fs vs %.3fs)",
	    unknown, known);
	/* the cache of good passwords */
	ok(users_verify_password_cached(db, "alice", "correct horse", 13), "cached verify: first time");
	t0 = now();
	ok(users_verify_password_cached(db, "alice", "correct horse", 13), "cached verify: again");
	known = now() - t0;
	ok(known < 0.01, "the second check skips argon2id (%.4fs)", known);
	t0 = now();
	ok(!users_verify_password_cached(db, "alice", "correct horsf", 13), "cached: wrong password fails");
	unknown = now() - t0;
	ok(unknown > 0.02, "a failure still costs a full argon2id run (%.3fs)", unknown);
	ok(!users_verify_password_cached(db, "zed", "correct horsf", 13), "other user, wrong password");
	ok(users_verify_password_cached(db, "zed", "correct horse", 13), "other user, right password");
	ok(!users_verify_password_cached(db, "nobody", "correct horse", 13), "cached: unknown user fails");
	users_free(db);

	texts[1] = "forward = x@y.example\n";
	r = users_load_mem(&db, names, texts, 2, "0123", err, sizeof(err));
	ok(r != 0 && db == NULL && strstr(err, "users/alice"), "one bad file fails the load: %s", err);
}

static void
test_login(void)
{
	char out[USER_NAME_MAX + 1];

	ok(users_login_name("alice", 5, "example.org", out) == 0 &&
	    strcmp(out, "alice") == 0, "login alice");
	ok(users_login_name("Alice@Example.ORG", 17, "example.org", out) == 0 &&
	    strcmp(out, "alice") == 0, "login Alice@Example.ORG");
	ok(users_login_name("alice@other.org", 15, "example.org", out) != 0 &&
	    out[0] == '\0', "other domain refused");
	ok(users_login_name("alice@example.org", 17, NULL, out) != 0,
	    "no domain accepted when none is configured");
	ok(users_login_name("al\0ce", 6, NULL, out) != 0, "NUL refused");
	ok(users_login_name("../x", 4, NULL, out) != 0, "path refused");
	ok(users_login_name("@example.org", 12, "example.org", out) != 0, "empty name refused");
	ok(users_login_name("a@b@example.org", 15, "example.org", out) != 0, "two @ refused");
}

int
main(void)
{
	test_login();
	test_hashing();
	test_names_addrs();
	test_parse();
	test_db();
	free(hash1);
	return tap_done();
}
