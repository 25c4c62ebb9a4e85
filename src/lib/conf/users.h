/*
 * users.h - the users of a domain, one file per user under users/ in the
 * configuration repository, and their salted slow password hashes.
 *
 * users/NAME holds `key = value` lines (`#` starts a comment line):
 *	password = $argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>
 *	forward = real@addr.example, second@addr.example
 *	require_tls = yes
 *	send_as = alias@example.org, other@example.org
 * password and forward are required; forward and send_as may repeat and
 * accumulate; require_tls (yes/no, default no) asks that outbound mail of
 * this user travel over TLS only. Unknown keys, duplicates of single-valued
 * keys, malformed addresses, control characters and oversized files are
 * errors naming the line.
 *
 * Passwords are hashed with argon2id (libsodium crypto_pwhash_str: a random
 * 16-byte salt per hash, the parameters stored in the string). Plain or
 * unsalted passwords are never stored or accepted.
 *
 * Trusts: nothing in a users file (they come from git and may be edited by
 * hand); every line goes through a bounds-checked cursor.
 */
#ifndef PTT_CONF_USERS_H
#define PTT_CONF_USERS_H

#include <stdbool.h>
#include <stddef.h>

struct conf_repo;

#define USER_NAME_MAX 64	/* [a-z0-9][a-z0-9._-]* */
#define USER_FILE_MAX (64 * 1024)
#define USER_LINE_MAX 4096
#define USER_ADDRS_MAX 100	/* forwards, and send_as entries, per user */
#define ADDR_MAX 254		/* RFC 5321 4.5.3.1.3 path minus brackets */
#define PASSWORD_MAX 1024	/* bytes of a plaintext password */
#define USERS_MAX 100000	/* users in one repository */

struct user {
	char *name;
	char *password;		/* the argon2id hash string */
	char **forward;		/* n_forward >= 1 addresses */
	size_t n_forward;
	char **send_as;		/* extra addresses the user may send as */
	size_t n_send_as;
	bool require_tls;
};

/*
 * A name is valid: 1..USER_NAME_MAX bytes of [a-z0-9._-], starting with a
 * letter or digit (so it is a safe file name and a dot-atom local part).
 */
bool user_name_valid(const char *name);

/*
 * An address "local@domain" is valid for forward/send_as: local part a
 * dot-atom of RFC 5322 atext (at most 64 bytes), domain a host name of
 * LDH labels with at least two labels (RFC 1123), total <= ADDR_MAX.
 */
bool addr_valid(const char *addr, size_t len);

/*
 * Parse the text of users/NAME. 0 with *u filled (free with user_free), or
 * PTT_EINVAL / PTT_ENOSPC with "NAME:LINE: reason" in err.
 */
int user_parse(struct user *u, const char *name, const char *text,
    size_t len, char *err, size_t errlen);
/*
 * The text of a users file with its password line replaced by
 * "password = <hash>", every other line (comments, order, hand edits) kept
 * byte for byte. Caller frees. NULL when there is no password line.
 */
char *user_text_set_password(const char *text, size_t len, const char *hash);
/* Serialise u to the users-file format (caller frees). */
char *user_format(const struct user *u);
void user_free(struct user *u);

/*
 * Hash a password: argon2id with a fresh salt. out gets the string
 * (caller frees). 0, PTT_EINVAL (empty or longer than PASSWORD_MAX) or
 * PTT_ECRYPTO (out of memory inside libsodium).
 */
int password_hash(const char *pw, size_t len, char **out);
/* Verify pw against a hash string: true on a match. Constant time in the
 * hash comparison; the cost is the hash's own. */
bool password_verify(const char *hash, const char *pw, size_t len);
/* True when the hash uses weaker parameters than password_hash does now. */
bool password_needs_rehash(const char *hash);

/* The users database at one commit. Immutable once loaded. */
struct users_db;

/*
 * Load every users/NAME at commit (NULL: the head of the repository's
 * branch). A repository without users/ gives an empty db. Any bad file
 * fails the whole load (PTT_EINVAL, err names the file and line): a
 * running service keeps its previous db (see users_reload_if_changed).
 */
int users_load(struct users_db **out, struct conf_repo *r, const char *commit,
    char *err, size_t errlen);
/* Build a db from memory (tests, fuzzing): names[i] with texts[i]. */
int users_load_mem(struct users_db **out, const char *const *names,
    const char *const *texts, size_t n, const char *version, char *err,
    size_t errlen);
void users_free(struct users_db *db);

/* The commit id the db was loaded from ("" for users_load_mem without one). */
const char *users_version(const struct users_db *db);
size_t users_count(const struct users_db *db);
/* The i-th user in name order, or NULL. */
const struct user *users_at(const struct users_db *db, size_t i);
/* Look a user up by name (exact, lowercase), or NULL. */
const struct user *users_lookup(const struct users_db *db, const char *name);

/*
 * The user name for a login identity as a client gives it (the SASL
 * authentication identity): "alice" or "alice@DOMAIN" (the domain compared
 * ASCII case-insensitively; domain NULL accepts no domain part), ASCII
 * lowercased into out. 0, or PTT_ENOENT when it cannot name a user: out is
 * then "", and callers still call users_verify_password(db, out, ...) so
 * that the time spent does not tell a bad name from a bad password.
 */
int users_login_name(const char *login, size_t len, const char *domain,
    char out[USER_NAME_MAX + 1]);

/*
 * Check a password. Returns true only when the user exists and the
 * password matches. An unknown user is verified against a dummy hash of
 * the same parameters, so the time taken does not tell whether the name
 * exists.
 */
bool users_verify_password(const struct users_db *db, const char *user,
    const char *pw, size_t len);

/*
 * The same, remembering success: after a password verified once, the same
 * user with the same password costs a keyed hash (BLAKE2b under a random
 * per-db key) instead of an argon2id run, so clients that authenticate on
 * every connection do not pay 0.1 s each time. Only a keyed hash of the
 * last good password is kept per user, never the password; failures are
 * never cached and always cost a full argon2id run; a reload (new db)
 * forgets everything, so a changed password or a removed user takes effect
 * at once. Not thread-safe (one db per event loop).
 */
bool users_verify_password_cached(struct users_db *db, const char *user,
    const char *pw, size_t len);

/*
 * Hot reload: fetch the repository (when remote), and when its head commit
 * differs from (*db)'s version, load the new users and swap them in
 * (freeing the old db). *changed tells whether a swap happened. On error
 * *db is left untouched and err says why. 0 or a PTT_E* code.
 */
int users_reload_if_changed(struct users_db **db, struct conf_repo *r,
    bool *changed, char *err, size_t errlen);

#endif
