/*
 * cmd_users.c - `ptt adduser`, `ptt deluser`, `ptt passwd`, `ptt users`:
 * each change to users/NAME is one commit in the configuration repository.
 * Passwords are stored only as argon2id hashes (conf/users.h); `ptt users`
 * never prints them.
 *
 * Trusts: the operator's arguments, after checking them; the users files
 * in the repository go through user_parse().
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/repo.h"
#include "conf/users.h"
#include "ptt/cmd.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"

/* Check a name argument. */
static bool
name_arg(const char *cmd, const char *name)
{
	if (user_name_valid(name))
		return true;
	say("%s: bad user name \"%s\" (lowercase letters, digits, '.', '_', "
	    "'-'; at most %d; starting with a letter or digit)", cmd, name,
	    USER_NAME_MAX);
	return false;
}

static bool
user_exists(struct conf_repo *r, const char *name)
{
	char path[16 + USER_NAME_MAX], *text;
	size_t len;

	snprintf(path, sizeof(path), "users/%s", name);
	if (conf_repo_read(r, NULL, path, USER_FILE_MAX, &text, &len) != 0)
		return false;
	free(text);
	return true;
}

/* Add an address to a list, refusing bad ones by name. */
static bool
add_addr(const char *cmd, const char *opt, char ***v, size_t *n, const char *a)
{
	size_t i;
	char *p;

	if (!addr_valid(a, strlen(a))) {
		say("%s: bad address \"%s\" for %s (want local@domain.example)",
		    cmd, a, opt);
		return false;
	}
	for (i = 0; i < *n; i++)
		if (strcasecmp((*v)[i], a) == 0) {
			say("%s: %s given twice", cmd, a);
			return false;
		}
	if (*n >= USER_ADDRS_MAX) {
		say("%s: more than %d addresses", cmd, USER_ADDRS_MAX);
		return false;
	}
	*v = xreallocarray(*v, *n + 1, sizeof(char *));
	(*v)[*n] = xstrdup(a);
	for (p = strchr((*v)[*n], '@'); p != NULL && *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);	/* as user_parse keeps it */
	(*n)++;
	return true;
}

/* Serialise u, check it parses back, and commit it. */
static int
commit_user(struct conf_repo *r, const struct user *u, const char *msg)
{
	struct conf_change ch;
	struct user back;
	char path[16 + USER_NAME_MAX], err[512];
	char *text = user_format(u);
	int ret;

	if (user_parse(&back, u->name, text, strlen(text), err, sizeof(err)) != 0) {
		say("internal error: %s", err);
		free(text);
		return PTT_EXIT_FAIL;
	}
	user_free(&back);
	snprintf(path, sizeof(path), "users/%s", u->name);
	ch = (struct conf_change){ path, text, strlen(text) };
	ret = ctx_commit(r, &ch, 1, msg);
	ptt_memzero(text, strlen(text));
	free(text);
	return ret;
}

/* Read a new password and hash it (caller frees *hash). */
static int
new_hash(bool from_stdin, char **hash)
{
	char *pw;
	size_t len;
	int ret;

	*hash = NULL;
	if ((ret = read_new_password(from_stdin, &pw, &len)) != 0)
		return ret;
	ret = password_hash(pw, len, hash);
	password_free(pw, len);
	if (ret != 0) {
		say("password hashing failed: %s", ptt_strerror(ret));
		return PTT_EXIT_FAIL;
	}
	return 0;
}

int
cmd_adduser(const struct ptt_ctx *ctx, int argc, char **argv)
{
	struct conf_repo *r = NULL;
	struct user u;
	struct buf msg;
	bool from_stdin = false, missing;
	const char *v;
	size_t k;
	int i, ret = PTT_EXIT_USAGE;

	memset(&u, 0, sizeof(u));
	buf_init(&msg, 4096);
	for (i = 1; i < argc; i++) {
		bool fwd = true;
		v = opt_value(argc, argv, &i, "--forward", &missing);
		if (v == NULL && !missing) {
			fwd = false;
			v = opt_value(argc, argv, &i, "--send-as", &missing);
		}
		if (missing) {
			say("adduser: %s needs an address", argv[i]);
			goto out;
		} else if (v != NULL) {
			if (!(fwd ? add_addr("adduser", "--forward", &u.forward,
			    &u.n_forward, v) : add_addr("adduser", "--send-as",
			    &u.send_as, &u.n_send_as, v)))
				goto out;
		} else if (strcmp(argv[i], "--require-tls") == 0) {
			u.require_tls = true;
		} else if (strcmp(argv[i], "--password-stdin") == 0) {
			from_stdin = true;
		} else if (argv[i][0] == '-') {
			say("adduser: unknown option %s", argv[i]);
			goto out;
		} else if (u.name != NULL) {
			say("adduser: one user at a time");
			goto out;
		} else {
			if (!name_arg("adduser", argv[i]))
				goto out;
			u.name = xstrdup(argv[i]);
		}
	}
	if (u.name == NULL) {
		say("adduser: which user?");
		goto out;
	}
	if (u.n_forward == 0) {
		say("adduser: %s needs at least one --forward address", u.name);
		goto out;
	}
	if ((ret = ctx_open_repo(ctx, &r)) != 0)
		goto out;
	if (user_exists(r, u.name)) {
		say("adduser: user %s exists already (ptt passwd changes the "
		    "password)", u.name);
		ret = PTT_EXIT_FAIL;
		goto out;
	}
	if ((ret = new_hash(from_stdin, &u.password)) != 0)
		goto out;
	buf_addf(&msg, "adduser %s: forward to ", u.name);
	for (k = 0; k < u.n_forward; k++)
		buf_addf(&msg, "%s%s", k ? ", " : "", u.forward[k]);
	if (u.require_tls)
		buf_adds(&msg, "; outbound over TLS only");
	ret = commit_user(r, &u, msg.data);
out:
	buf_free(&msg);
	user_free(&u);
	conf_repo_close(r);
	return ret;
}

/* The single NAME argument of deluser and passwd, plus --password-stdin. */
static const char *
one_name(const char *cmd, int argc, char **argv, bool *from_stdin)
{
	const char *name = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (from_stdin != NULL && strcmp(argv[i], "--password-stdin") == 0)
			*from_stdin = true;
		else if (argv[i][0] == '-') {
			say("%s: unknown option %s", cmd, argv[i]);
			return NULL;
		} else if (name != NULL) {
			say("%s: one user at a time", cmd);
			return NULL;
		} else
			name = argv[i];
	}
	if (name == NULL)
		say("%s: which user?", cmd);
	else if (!name_arg(cmd, name))
		name = NULL;
	return name;
}

int
cmd_deluser(const struct ptt_ctx *ctx, int argc, char **argv)
{
	struct conf_repo *r = NULL;
	struct conf_change ch;
	char path[16 + USER_NAME_MAX], msg[128];
	const char *name = one_name("deluser", argc, argv, NULL);
	int ret;

	if (name == NULL)
		return PTT_EXIT_USAGE;
	if ((ret = ctx_open_repo(ctx, &r)) != 0)
		return ret;
	if (!user_exists(r, name)) {
		say("deluser: no user %s", name);
		conf_repo_close(r);
		return PTT_EXIT_FAIL;
	}
	snprintf(path, sizeof(path), "users/%s", name);
	snprintf(msg, sizeof(msg), "deluser %s", name);
	ch = (struct conf_change){ path, NULL, 0 };
	ret = ctx_commit(r, &ch, 1, msg);
	conf_repo_close(r);
	return ret;
}

int
cmd_passwd(const struct ptt_ctx *ctx, int argc, char **argv)
{
	struct conf_repo *r = NULL;
	struct conf_change ch;
	struct user u;
	char path[16 + USER_NAME_MAX], msg[128], err[512];
	char *text = NULL, *hash = NULL, *ntext = NULL;
	size_t len;
	bool from_stdin = false;
	const char *name = one_name("passwd", argc, argv, &from_stdin);
	int ret;

	if (name == NULL)
		return PTT_EXIT_USAGE;
	if ((ret = ctx_open_repo(ctx, &r)) != 0)
		return ret;
	snprintf(path, sizeof(path), "users/%s", name);
	ret = conf_repo_read(r, NULL, path, USER_FILE_MAX, &text, &len);
	if (ret != 0) {
		if (ret == PTT_ENOENT)
			say("passwd: no user %s", name);
		else
			say("%s: %s", path, ptt_strerror(ret));
		ret = PTT_EXIT_FAIL;
		goto out;
	}
	/* The file must be valid before and after; only its password line
	 * changes, so comments and hand edits stay. */
	if (user_parse(&u, name, text, len, err, sizeof(err)) != 0) {
		say("passwd: %s", err);
		ret = PTT_EXIT_FAIL;
		goto out;
	}
	user_free(&u);
	if ((ret = new_hash(from_stdin, &hash)) != 0)
		goto out;
	ntext = user_text_set_password(text, len, hash);
	if (ntext == NULL || user_parse(&u, name, ntext, strlen(ntext), err,
	    sizeof(err)) != 0) {
		say("passwd: internal error: %s", ntext ? err : "no password line");
		ret = PTT_EXIT_FAIL;
		goto out;
	}
	user_free(&u);
	snprintf(msg, sizeof(msg), "passwd %s: new password", name);
	ch = (struct conf_change){ path, ntext, strlen(ntext) };
	ret = ctx_commit(r, &ch, 1, msg);
out:
	free(text);
	free(hash);
	free(ntext);
	conf_repo_close(r);
	return ret;
}

static void
print_list(char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", v[i]);
}

int
cmd_users(const struct ptt_ctx *ctx, int argc, char **argv)
{
	struct conf_repo *r = NULL;
	struct users_db *db;
	const struct user *u;
	char err[512];
	size_t i;
	int ret;

	if (argc > 1) {
		say("users: no arguments expected");
		return PTT_EXIT_USAGE;
	}
	if ((ret = ctx_open_repo(ctx, &r)) != 0)
		return ret;
	if (users_load(&db, r, NULL, err, sizeof(err)) != 0) {
		say("users: %s", err);
		conf_repo_close(r);
		return PTT_EXIT_FAIL;
	}
	for (i = 0; (u = users_at(db, i)) != NULL; i++) {
		printf("%s\tforward=", u->name);
		print_list(u->forward, u->n_forward);
		printf("\trequire_tls=%s", u->require_tls ? "yes" : "no");
		if (u->n_send_as > 0) {
			printf("\tsend_as=");
			print_list(u->send_as, u->n_send_as);
		}
		if (password_needs_rehash(u->password))
			printf("\t(password hash uses old parameters: ptt passwd)");
		printf("\n");
	}
	users_free(db);
	conf_repo_close(r);
	return PTT_EXIT_OK;
}
