/* test_repo.c - the configuration repository: commits and reads through
 * libgit2, checked with the git command; users db reload on a new commit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/global.h"
#include "conf/repo.h"
#include "conf/users.h"
#include "util/err.h"
#include "../tap.h"

struct relay_conf {
	long long max_tries;
	char *hello;
};

static const struct param relay_params[] = {
	{ "max_tries", PARAM_INT, "3", 1, 100, NULL, offsetof(struct relay_conf, max_tries), "tries" },
	{ "hello", PARAM_STR, "ptt", 0, 0, NULL, offsetof(struct relay_conf, hello), "name" },
	PARAM_END
};

static char tmp[] = "/tmp/ptt-repo-test.XXXXXX";

/* Run a shell command in tmp; its first output line into out. */
__attribute__((format(printf, 3, 4))) static int
sh(char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[2048], body[1600];
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cd %s && { %s; } 2>&1", tmp, body);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	if (out != NULL) {
		out[0] = '\0';
		if (fgets(out, (int)outlen, p) != NULL)
			out[strcspn(out, "\n")] = '\0';
	}
	while (fgetc(p) != EOF)
		;
	st = pclose(p);
	return st;
}

static int
commits(const char *repo)
{
	char out[64];

	if (sh(out, sizeof(out), "git -C %s rev-list --count HEAD", repo) != 0)
		return -1;
	return atoi(out);
}

int
main(void)
{
	struct conf_repo_opts o = { 0 };
	struct conf_repo *r = NULL;
	struct users_db *db = NULL;
	struct conf_change ch[3];
	char path[512], err[512], head[CONF_COMMIT_HEX], id[CONF_COMMIT_HEX];
	char alice[512], out[512], *hash, *data, **names;
	size_t len, n;
	bool changed;
	int ret;

	if (mkdtemp(tmp) == NULL || password_hash("pw-of-alice", 11, &hash) != 0)
		return 1;
	snprintf(alice, sizeof(alice), "password = %s\nforward = alice@real.example\n", hash);
	snprintf(path, sizeof(path), "%s/config", tmp);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("HOME", tmp, 1);

	is_int(conf_repo_create(path, "main", err, sizeof(err)), 0, "create repository");
	is_int(conf_repo_create(path, "main", err, sizeof(err)), PTT_EEXIST,
	    "create again refused: %s", err);
	o.url = path;
	ret = conf_repo_open(&r, &o, err, sizeof(err));
	is_int(ret, 0, "open it");
	if (ret != 0) {
		printf("# %s\n", err);
		return tap_done();
	}
	is_int(conf_repo_head(r, head), PTT_ENOENT, "no head yet");
	ret = users_load(&db, r, NULL, err, sizeof(err));
	ok(ret != 0 && db == NULL, "users_load without a commit fails: %s", err);

	ch[0] = (struct conf_change){ "ptt.conf", "domain = example.org\n", 21 };
	ch[1] = (struct conf_change){ "users/alice", alice, strlen(alice) };
	ch[2] = (struct conf_change){ "zones/.keep", "", 0 };
	ret = conf_repo_commit(r, ch, 3, "first", "Tester", "t@example.org", id,
	    err, sizeof(err));
	is_int(ret, 0, "first commit");
	ok(err[0] == '\0', "no warning: %s", err);
	is_int(conf_repo_head(r, head), 0, "head now");
	is_str(head, id, "head is the new commit");
	is_int(commits(path), 1, "git sees one commit");
	is_int(sh(out, sizeof(out), "git -C %s status --porcelain | wc -l", path), 0, "git status runs");
	is_str(out, "0", "work tree matches the commit");
	sh(out, sizeof(out), "git -C %s log -1 --format='%%an <%%ae> %%s'", path);
	is_str(out, "Tester <t@example.org> first", "author and message");
	sh(out, sizeof(out), "git -C %s symbolic-ref HEAD", path);
	is_str(out, "refs/heads/main", "branch main");

	ret = conf_repo_read(r, NULL, "ptt.conf", 1024, &data, &len);
	ok(ret == 0 && len == 21 && strcmp(data, "domain = example.org\n") == 0,
	    "read ptt.conf at head");
	free(data);
	is_int(conf_repo_read(r, NULL, "nope", 1024, &data, &len), PTT_ENOENT, "missing file");
	is_int(conf_repo_read(r, NULL, "users", 1024, &data, &len), PTT_EINVAL, "directory is not a file");
	is_int(conf_repo_read(r, NULL, "ptt.conf", 10, &data, &len), PTT_ENOSPC, "size limit");
	is_int(conf_repo_read(r, "zz", "ptt.conf", 1024, &data, &len), PTT_EINVAL, "bad commit id");
	ret = conf_repo_list(r, NULL, "zones", &names, &n);
	ok(ret == 0 && n == 0, "dot files are not listed");
	conf_names_free(names, n);
	ret = conf_repo_list(r, NULL, "nodir", &names, &n);
	ok(ret == 0 && n == 0, "absent dir lists nothing");
	conf_names_free(names, n);

	ret = users_load(&db, r, NULL, err, sizeof(err));
	is_int(ret, 0, "load users");
	ok(db != NULL && users_count(db) == 1 && users_lookup(db, "alice"), "alice is there");
	ok(db != NULL && strcmp(users_version(db), head) == 0, "db version is the head");
	ok(db != NULL && users_verify_password(db, "alice", "pw-of-alice", 11), "alice's password");
	ret = users_reload_if_changed(&db, r, &changed, err, sizeof(err));
	ok(ret == 0 && !changed, "no change, no reload");

	/* someone commits with the git command */
	ret = sh(NULL, 0, "cd %s && printf 'password = %%s\\nforward = bob@real.example\\n' "
	    "\"$(sed -n 's/^password = //p' users/alice)\" > users/bob && git add users/bob && "
	    "git -c user.name=x -c user.email=x@y commit -qm 'add bob'", path);
	is_int(ret, 0, "git CLI commit");
	ret = users_reload_if_changed(&db, r, &changed, err, sizeof(err));
	ok(ret == 0 && changed, "reload picks up the new commit: %s", err);
	ok(users_count(db) == 2 && users_lookup(db, "bob") != NULL, "bob appeared");
	conf_repo_head(r, head);
	is_str(users_version(db), head, "version follows the head");

	/* a broken commit: the service keeps its users */
	ch[0] = (struct conf_change){ "users/carol", "forward = c@x.example\n", 22 };
	is_int(conf_repo_commit(r, ch, 1, "carol without password", "T", "t@x", id,
	    err, sizeof(err)), 0, "commit a bad users file");
	ret = users_reload_if_changed(&db, r, &changed, err, sizeof(err));
	ok(ret != 0 && !changed && strstr(err, "users/carol") != NULL,
	    "bad commit refused: %s", err);
	ok(users_count(db) == 2 && strcmp(users_version(db), head) == 0,
	    "previous users kept");

	/* delete */
	ch[0] = (struct conf_change){ "users/carol", NULL, 0 };
	ch[1] = (struct conf_change){ "users/bob", NULL, 0 };
	is_int(conf_repo_commit(r, ch, 2, "deluser carol bob", "T", "t@x", id,
	    err, sizeof(err)), 0, "delete two files in one commit");
	sh(out, sizeof(out), "ls %s/users", path);
	is_str(out, "alice", "work tree follows the delete");
	ch[0] = (struct conf_change){ "users/nobody", NULL, 0 };
	is_int(conf_repo_commit(r, ch, 1, "x", "T", "t@x", id, err, sizeof(err)),
	    PTT_ENOENT, "deleting a missing file: %s", err);
	is_int(commits(path), 4, "one commit per change");
	ret = users_reload_if_changed(&db, r, &changed, err, sizeof(err));
	ok(ret == 0 && changed && users_count(db) == 1, "reload after delete");

	/* a local edit in the work tree survives, the commit still counts */
	sh(NULL, 0, "echo '# local edit' >> %s/ptt.conf", path);
	ch[0] = (struct conf_change){ "ptt.conf", "domain = example.net\n", 21 };
	ret = conf_repo_commit(r, ch, 1, "change domain", "T", "t@x", id, err, sizeof(err));
	ok(ret == 0 && strstr(err, "work tree") != NULL, "commit over a local edit warns: %s", err);
	sh(out, sizeof(out), "tail -1 %s/ptt.conf", path);
	is_str(out, "# local edit", "local edit kept");
	ret = conf_repo_read(r, NULL, "ptt.conf", 1024, &data, &len);
	ok(ret == 0 && strstr(data, "example.net") != NULL, "the commit reads back");
	free(data);

	/* ptt.conf through parameter tables, read from the commit */
	{
		struct conf_global g;
		struct relay_conf rc;
		const char *text = "# test\ndomain = example.com\n[relay]\n"
		    "max_tries = 7\n[other]\nwhatever = 1\n";
		ret = conf_global_load(r, NULL, &g, err, sizeof(err));
		ok(ret == 0 && strcmp(g.domain, "example.net") == 0,
		    "global domain from the head commit (work tree edit ignored)");
		conf_global_free(&g);
		ch[0] = (struct conf_change){ "ptt.conf", text, strlen(text) };
		conf_repo_commit(r, ch, 1, "sections", "T", "t@x", id, err, sizeof(err));
		ret = conf_params_load(r, NULL, relay_params, &rc, "relay", err, sizeof(err));
		ok(ret == 0 && rc.max_tries == 7 && rc.hello != NULL &&
		    strcmp(rc.hello, "ptt") == 0, "[relay] section with defaults");
		param_free(relay_params, &rc);
		ret = conf_global_load(r, NULL, &g, err, sizeof(err));
		ok(ret == 0 && strcmp(g.domain, "example.com") == 0, "global part only");
		conf_global_free(&g);
		text = "domain = not a domain\n";
		ch[0] = (struct conf_change){ "ptt.conf", text, strlen(text) };
		conf_repo_commit(r, ch, 1, "bad", "T", "t@x", id, err, sizeof(err));
		ret = conf_global_load(r, NULL, &g, err, sizeof(err));
		ok(ret != 0 && strstr(err, "not a domain"), "bad domain refused: %s", err);
		text = "domain = example.org\ncolour = blue\n";
		ch[0] = (struct conf_change){ "ptt.conf", text, strlen(text) };
		conf_repo_commit(r, ch, 1, "unknown", "T", "t@x", id, err, sizeof(err));
		ret = conf_global_load(r, NULL, &g, err, sizeof(err));
		ok(ret != 0 && strstr(err, "ptt.conf:2"), "unknown parameter named with its line: %s", err);
	}
	users_free(db);
	conf_repo_close(r);

	/* a bare repository works too */
	snprintf(path, sizeof(path), "%s/bare.git", tmp);
	sh(NULL, 0, "git init -q --bare -b main %s", path);
	o.url = path;
	ret = conf_repo_open(&r, &o, err, sizeof(err));
	is_int(ret, 0, "open a bare repository");
	if (ret == 0) {
		ch[0] = (struct conf_change){ "users/alice", alice, strlen(alice) };
		is_int(conf_repo_commit(r, ch, 1, "adduser alice", "T", "t@x", id,
		    err, sizeof(err)), 0, "commit into it");
		is_int(sh(out, sizeof(out), "git -C %s log --oneline | wc -l", path), 0, "git log");
		is_str(out, "1", "git log shows it");
		conf_repo_close(r);
	}
	o.url = "/nonexistent/repo";
	ret = conf_repo_open(&r, &o, err, sizeof(err));
	ok(ret != 0 && r == NULL, "missing repository: %s", err);

	free(hash);
	snprintf(path, sizeof(path), "rm -rf %s", tmp);
	if (system(path) != 0)
		return 1;
	return tap_done();
}
