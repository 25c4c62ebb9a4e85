/*
 * repo.c - the configuration repository through libgit2 (repo.h): local
 * repositories, SSH remotes with an ed25519 key and a pinned host key,
 * blob reads at a commit, and whole-file commits (pushed when remote).
 *
 * Trusts: an SSH server only when the SHA-256 of its host key equals the
 * pin (libgit2 1.5 does not read known_hosts; certificate_check below is
 * the whole host check). Repository contents are returned as bytes with a
 * size limit; parsing them is the callers' business.
 */
#include "conf/repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/state.h"
#include "util/err.h"
#include "util/mem.h"

#define PENDING_REF "refs/ptt/pending"

struct conf_repo {
	git_repository *repo;
	char *branch_ref;	/* refs/heads/<branch> */
	bool remote;
	char *url;
	char *ssh_key, *ssh_pub;
	unsigned char pin[SHA256_DIGEST_LENGTH];
	int cred_tries;
	char why[256];		/* why the transport callbacks refused */
	char push_status[256];	/* a rejected ref update, from the server */
};

const char *
conf_git_error(void)
{
	const git_error *e = git_error_last();

	return e != NULL && e->message != NULL ? e->message : "unknown git error";
}

bool
conf_url_is_remote(const char *url)
{
	return strncmp(url, "ssh://", 6) == 0;
}

static void
git_init_once(void)
{
	static bool done;

	git_libgit2_init();
	if (!done) {
		/* Services read a repository owned by the operator. */
		git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
		done = true;
	}
}

/* Base64 (padded or not) into out; returns the decoded length or -1. */
static int
b64_decode(const char *s, size_t n, unsigned char *out, size_t outlen)
{
	char *padded;
	size_t plen, pad;
	int d;

	while (n > 0 && s[n - 1] == '=')
		n--;
	pad = (4 - n % 4) % 4;
	if (pad == 3)
		return -1;
	plen = n + pad;
	if (plen / 4 * 3 > outlen + 2)
		return -1;
	padded = xmalloc(plen + 1);
	memcpy(padded, s, n);
	memset(padded + n, '=', pad);
	padded[plen] = '\0';
	{
		unsigned char *tmp = xmalloc(plen / 4 * 3 + 1);
		d = EVP_DecodeBlock(tmp, (const unsigned char *)padded, (int)plen);
		if (d >= 0) {
			d -= (int)pad;
			if ((size_t)d > outlen)
				d = -1;
			else
				memcpy(out, tmp, (size_t)d);
		}
		free(tmp);
	}
	free(padded);
	return d;
}

/* "SHA256:<b64>" or a host key line with a "<type> <b64 blob>" pair. */
static int
parse_pin(const char *s, unsigned char pin[SHA256_DIGEST_LENGTH])
{
	const char *p, *tok, *blob = NULL;
	size_t blen = 0;

	if (strncmp(s, "SHA256:", 7) == 0) {
		size_t n = strcspn(s + 7, " \t\r\n");
		return b64_decode(s + 7, n, pin, SHA256_DIGEST_LENGTH) ==
		    SHA256_DIGEST_LENGTH ? 0 : PTT_EINVAL;
	}
	/* Find a key type token; the next token is the blob. */
	for (p = s; *p != '\0';) {
		size_t n;
		p += strspn(p, " \t");
		tok = p;
		n = strcspn(p, " \t\r\n");
		if (n == 0)
			break;
		p += n;
		if ((n > 4 && strncmp(tok, "ssh-", 4) == 0) ||
		    (n > 6 && strncmp(tok, "ecdsa-", 6) == 0)) {
			p += strspn(p, " \t");
			blob = p;
			blen = strcspn(p, " \t\r\n");
			break;
		}
	}
	if (blob == NULL || blen == 0 || blen > 8192)
		return PTT_EINVAL;
	{
		unsigned char *raw = xmalloc(blen);
		int d = b64_decode(blob, blen, raw, blen);
		if (d <= 0) {
			free(raw);
			return PTT_EINVAL;
		}
		SHA256(raw, (size_t)d, pin);
		free(raw);
	}
	return 0;
}

static int
cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct conf_repo *r = payload;
	git_cert_hostkey *hk;

	(void)valid;
	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) {
		snprintf(r->why, sizeof(r->why), "%s: not an SSH host key", host);
		return GIT_ECERTIFICATE;
	}
	hk = (git_cert_hostkey *)cert;
	if (!(hk->type & GIT_CERT_SSH_SHA256) ||
	    CRYPTO_memcmp(hk->hash_sha256, r->pin, sizeof(r->pin)) != 0) {
		unsigned char b64[64];
		int n = 0;
		if (hk->type & GIT_CERT_SSH_SHA256)
			n = EVP_EncodeBlock(b64, hk->hash_sha256, 32);
		while (n > 0 && b64[n - 1] == '=')
			n--;
		b64[n] = '\0';
		snprintf(r->why, sizeof(r->why), "host key of %s (SHA256:%s) "
		    "does not match the pinned key", host, b64);
		return GIT_ECERTIFICATE;
	}
	return 0;
}

static int
cred_cb(git_credential **out, const char *url, const char *user,
    unsigned int allowed, void *payload)
{
	struct conf_repo *r = payload;

	(void)url;
	if (user == NULL || *user == '\0')
		user = "git";
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	if (!(allowed & GIT_CREDENTIAL_SSH_KEY) || r->ssh_key == NULL) {
		snprintf(r->why, sizeof(r->why), "the server wants credentials "
		    "other than an SSH key");
		return GIT_EAUTH;
	}
	if (++r->cred_tries > 2) {
		snprintf(r->why, sizeof(r->why), "the server refused the SSH "
		    "key %s", r->ssh_key);
		return GIT_EAUTH;
	}
	return git_credential_ssh_key_new(out, user, r->ssh_pub, r->ssh_key, NULL);
}

static int
push_ref_cb(const char *refname, const char *status, void *payload)
{
	struct conf_repo *r = payload;

	if (status != NULL)
		snprintf(r->push_status, sizeof(r->push_status), "%s: %s",
		    refname, status);
	return 0;
}

static void
set_callbacks(struct conf_repo *r, git_remote_callbacks *cb)
{
	cb->certificate_check = cert_cb;
	cb->credentials = cred_cb;
	cb->push_update_reference = push_ref_cb;
	cb->payload = r;
}

/* An in-memory remote for r->url. Skipping insteadOf rewriting keeps the
 * URL exactly as configured (and avoids libgit2 1.5's config regex path,
 * which leaks). */
static int
new_remote(struct conf_repo *r, git_remote **rem)
{
	git_remote_create_options o;

	git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	o.repository = r->repo;
	o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
	    GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	return git_remote_create_with_opts(rem, r->url, &o);
}

static void
transport_error(struct conf_repo *r, const char *what, char *err,
    size_t errlen)
{
	snprintf(err, errlen, "%s %s: %s", what, r->url,
	    r->why[0] != '\0' ? r->why : conf_git_error());
}

int
conf_repo_create(const char *path, const char *branch, char *err,
    size_t errlen)
{
	git_repository_init_options o;
	git_repository *repo = NULL;
	char ref[256];
	DIR *d;

	d = opendir(path);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				break;
		closedir(d);
		if (e != NULL) {
			snprintf(err, errlen, "%s exists and is not empty", path);
			return PTT_EEXIST;
		}
	}
	git_init_once();
	snprintf(ref, sizeof(ref), "refs/heads/%s", branch ? branch : "main");
	git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	o.flags = GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
	o.initial_head = ref;
	if (git_repository_init_ext(&repo, path, &o) != 0) {
		snprintf(err, errlen, "create repository %s: %s", path,
		    conf_git_error());
		git_libgit2_shutdown();
		return PTT_EIO;
	}
	git_repository_free(repo);
	git_libgit2_shutdown();
	/* users/ holds password hashes: keep others out. */
	if (chmod(path, 0750) != 0) {
		snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		return PTT_EIO;
	}
	return 0;
}

static int
set_branch(struct conf_repo *r, const char *branch, char *err, size_t errlen)
{
	char ref[256];
	git_reference *head = NULL;
	int valid = 0;

	if (branch == NULL && !r->remote &&
	    git_reference_lookup(&head, r->repo, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC) {
		r->branch_ref = xstrdup(git_reference_symbolic_target(head));
		git_reference_free(head);
		return 0;
	}
	git_reference_free(head);
	snprintf(ref, sizeof(ref), "refs/heads/%s", branch ? branch : "main");
	if (git_reference_name_is_valid(&valid, ref) != 0 || !valid) {
		snprintf(err, errlen, "bad branch name");
		return PTT_EINVAL;
	}
	r->branch_ref = xstrdup(ref);
	return 0;
}

int
conf_repo_open(struct conf_repo **out, const struct conf_repo_opts *o,
    char *err, size_t errlen)
{
	struct conf_repo *r;
	int ret;

	*out = NULL;
	git_init_once();
	r = xcalloc(1, sizeof(*r));
	r->url = xstrdup(o->url);
	r->remote = conf_url_is_remote(o->url);
	if (!r->remote) {
		if (git_repository_open_ext(&r->repo, o->url,
		    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0) {
			snprintf(err, errlen, "open configuration repository "
			    "%s: %s", o->url, conf_git_error());
			conf_repo_close(r);
			return PTT_ENOENT;
		}
	} else {
		char pub[4096];
		if (o->cache_dir == NULL || o->ssh_key == NULL || o->host_key == NULL) {
			snprintf(err, errlen, "remote %s needs a cache directory, "
			    "an SSH key and a pinned host key", o->url);
			conf_repo_close(r);
			return PTT_EINVAL;
		}
		if (parse_pin(o->host_key, r->pin) != 0) {
			snprintf(err, errlen, "bad host key pin \"%.60s\" (want "
			    "SHA256:<base64> or \"ssh-ed25519 AAAA...\")", o->host_key);
			conf_repo_close(r);
			return PTT_EINVAL;
		}
		r->ssh_key = xstrdup(o->ssh_key);
		snprintf(pub, sizeof(pub), "%s.pub", o->ssh_key);
		if (access(pub, R_OK) == 0)
			r->ssh_pub = xstrdup(pub);
		if ((ret = state_mkdir(o->cache_dir, 0700, err, errlen)) != 0) {
			conf_repo_close(r);
			return ret;
		}
		if (git_repository_open_bare(&r->repo, o->cache_dir) != 0 &&
		    git_repository_init(&r->repo, o->cache_dir, 1) != 0) {
			snprintf(err, errlen, "cache repository %s: %s",
			    o->cache_dir, conf_git_error());
			conf_repo_close(r);
			return PTT_EIO;
		}
	}
	if ((ret = set_branch(r, o->branch, err, errlen)) != 0) {
		conf_repo_close(r);
		return ret;
	}
	if (r->remote && (ret = conf_repo_fetch(r, err, errlen)) != 0) {
		conf_repo_close(r);
		return ret;
	}
	*out = r;
	return 0;
}

void
conf_repo_close(struct conf_repo *r)
{
	if (r == NULL)
		return;
	git_repository_free(r->repo);
	free(r->branch_ref);
	free(r->url);
	free(r->ssh_key);
	free(r->ssh_pub);
	free(r);
	git_libgit2_shutdown();
}

/* Does the remote have our branch? 1 yes, 0 no, <0 error. */
static int
remote_has_branch(struct conf_repo *r, git_remote *rem)
{
	const git_remote_head **heads;
	size_t n, i;

	if (git_remote_ls(&heads, &n, rem) != 0)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(heads[i]->name, r->branch_ref) == 0)
			return 1;
	return 0;
}

static int
fetch_now(struct conf_repo *r, char *err, size_t errlen)
{
	git_remote *rem = NULL;
	git_remote_callbacks cb;
	git_fetch_options fo;
	char spec[600];
	char *specs[1] = { spec };
	git_strarray refspecs = { specs, 1 };
	int has;

	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	r->why[0] = '\0';
	r->cred_tries = 0;
	if (new_remote(r, &rem) != 0) {
		transport_error(r, "remote", err, errlen);
		return PTT_EINVAL;
	}
	set_callbacks(r, &cb);
	if (git_remote_connect(rem, GIT_DIRECTION_FETCH, &cb, NULL, NULL) != 0) {
		transport_error(r, "connect to", err, errlen);
		git_remote_free(rem);
		return PTT_ETEMP;
	}
	has = remote_has_branch(r, rem);
	if (has <= 0) {
		git_remote_free(rem);
		if (has < 0) {
			transport_error(r, "list", err, errlen);
			return PTT_ETEMP;
		}
		return 0;	/* an empty remote: nothing to fetch */
	}
	snprintf(spec, sizeof(spec), "+%s:%s", r->branch_ref, r->branch_ref);
	fo.callbacks = cb;
	r->cred_tries = 0;
	if (git_remote_fetch(rem, &refspecs, &fo, "ptt: fetch") != 0) {
		transport_error(r, "fetch", err, errlen);
		git_remote_free(rem);
		return PTT_ETEMP;
	}
	git_remote_free(rem);
	return 0;
}

/*
 * Run a network operation in a child process. libgit2 1.5 leaks about 70 KB
 * per SSH connection (libgit2 issue #6598, fixed in 1.7); a service that
 * polls its remote would grow without bound. The child does the transfer
 * into the cache repository on disk and exits; this process then reads
 * refs and objects from disk as usual.
 */
typedef int (*net_fn)(struct conf_repo *, char *, size_t);

static int
isolated(struct conf_repo *r, net_fn fn, char *err, size_t errlen)
{
	struct {
		int ret;
		char err[512];
	} msg;
	size_t got = 0;
	int p[2], st = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return PTT_EIO;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return PTT_EIO;
	}
	if (pid == 0) {
		const char *b;
		size_t left;
		close(p[0]);
		memset(&msg, 0, sizeof(msg));
		msg.ret = fn(r, msg.err, sizeof(msg.err));
		for (b = (const char *)&msg, left = sizeof(msg); left > 0;) {
			ssize_t w = write(p[1], b, left);
			if (w <= 0)
				break;
			b += w;
			left -= (size_t)w;
		}
		_exit(0);
	}
	close(p[1]);
	while (got < sizeof(msg)) {
		ssize_t n = read(p[0], (char *)&msg + got, sizeof(msg) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(msg)) {
		snprintf(err, errlen, "git transfer process died (status %d)", st);
		return PTT_EIO;
	}
	msg.err[sizeof(msg.err) - 1] = '\0';
	if (msg.ret != 0)
		snprintf(err, errlen, "%s", msg.err);
	return msg.ret;
}

int
conf_repo_fetch(struct conf_repo *r, char *err, size_t errlen)
{
	if (!r->remote)
		return 0;
	return isolated(r, fetch_now, err, errlen);
}

static int
head_oid(struct conf_repo *r, git_oid *oid)
{
	int e = git_reference_name_to_id(oid, r->repo, r->branch_ref);

	if (e == GIT_ENOTFOUND)
		return PTT_ENOENT;
	return e == 0 ? 0 : PTT_EIO;
}

int
conf_repo_head(struct conf_repo *r, char out[CONF_COMMIT_HEX])
{
	git_oid oid;
	int ret;

	out[0] = '\0';
	if ((ret = head_oid(r, &oid)) != 0)
		return ret;
	git_oid_tostr(out, CONF_COMMIT_HEX, &oid);
	return 0;
}

/* The tree of commit (NULL: head). Caller frees. */
static int
commit_tree(struct conf_repo *r, const char *commit, git_tree **tree)
{
	git_oid oid;
	git_commit *c = NULL;
	int ret;

	*tree = NULL;
	if (commit == NULL) {
		if ((ret = head_oid(r, &oid)) != 0)
			return ret;
	} else if (strlen(commit) != 40 || git_oid_fromstr(&oid, commit) != 0) {
		return PTT_EINVAL;
	}
	if (git_commit_lookup(&c, r->repo, &oid) != 0)
		return PTT_ENOENT;
	ret = git_commit_tree(tree, c) == 0 ? 0 : PTT_EIO;
	git_commit_free(c);
	return ret;
}

int
conf_repo_read(struct conf_repo *r, const char *commit, const char *path,
    size_t max, char **data, size_t *len)
{
	git_tree *tree;
	git_tree_entry *e = NULL;
	git_blob *b = NULL;
	git_object_size_t n;
	int ret;

	*data = NULL;
	*len = 0;
	if ((ret = commit_tree(r, commit, &tree)) != 0)
		return ret;
	if (git_tree_entry_bypath(&e, tree, path) != 0) {
		git_tree_free(tree);
		return PTT_ENOENT;
	}
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
		ret = PTT_EINVAL;
		goto out;
	}
	if (git_blob_lookup(&b, r->repo, git_tree_entry_id(e)) != 0) {
		ret = PTT_EIO;
		goto out;
	}
	n = git_blob_rawsize(b);
	if (n > max || n > CONF_BLOB_MAX) {
		ret = PTT_ENOSPC;
		goto out;
	}
	*data = xmemdup(git_blob_rawcontent(b), (size_t)n);
	*len = (size_t)n;
out:
	git_blob_free(b);
	git_tree_entry_free(e);
	git_tree_free(tree);
	return ret;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
conf_names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
conf_repo_list(struct conf_repo *r, const char *commit, const char *dir,
    char ***names, size_t *n)
{
	git_tree *tree, *sub = NULL;
	git_tree_entry *e = NULL;
	size_t i, count;
	int ret;

	*names = NULL;
	*n = 0;
	if ((ret = commit_tree(r, commit, &tree)) != 0)
		return ret;
	if (git_tree_entry_bypath(&e, tree, dir) != 0) {
		git_tree_free(tree);
		return 0;
	}
	if (git_tree_entry_type(e) != GIT_OBJECT_TREE ||
	    git_tree_lookup(&sub, r->repo, git_tree_entry_id(e)) != 0) {
		ret = git_tree_entry_type(e) != GIT_OBJECT_TREE ? 0 : PTT_EIO;
		goto out;
	}
	count = git_tree_entrycount(sub);
	*names = xcalloc(count ? count : 1, sizeof(char *));
	for (i = 0; i < count; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(sub, i);
		const char *name = git_tree_entry_name(te);
		if (git_tree_entry_type(te) != GIT_OBJECT_BLOB || name[0] == '.')
			continue;
		(*names)[(*n)++] = xstrdup(name);
	}
	qsort(*names, *n, sizeof(char *), name_cmp);
out:
	git_tree_free(sub);
	git_tree_entry_free(e);
	git_tree_free(tree);
	return ret;
}

static int
empty_tree(git_repository *repo, git_tree **out)
{
	git_treebuilder *tb = NULL;
	git_oid oid;
	int e;

	if (git_treebuilder_new(&tb, repo, NULL) != 0)
		return -1;
	e = git_treebuilder_write(&oid, tb);
	git_treebuilder_free(tb);
	if (e != 0)
		return -1;
	return git_tree_lookup(out, repo, &oid);
}

/* Build the new tree from base and the changes. */
static int
build_tree(struct conf_repo *r, git_tree *base,
    const struct conf_change *ch, size_t n, git_oid *out, char *err,
    size_t errlen)
{
	git_tree_update *up = xcalloc(n ? n : 1, sizeof(*up));
	size_t i;
	int ret = 0;

	for (i = 0; i < n; i++) {
		up[i].path = ch[i].path;
		if (ch[i].data == NULL) {
			git_tree_entry *e = NULL;
			if (git_tree_entry_bypath(&e, base, ch[i].path) != 0) {
				snprintf(err, errlen, "%s does not exist", ch[i].path);
				ret = PTT_ENOENT;
				goto out;
			}
			git_tree_entry_free(e);
			up[i].action = GIT_TREE_UPDATE_REMOVE;
			continue;
		}
		up[i].action = GIT_TREE_UPDATE_UPSERT;
		up[i].filemode = GIT_FILEMODE_BLOB;
		if (git_blob_create_from_buffer(&up[i].id, r->repo, ch[i].data,
		    ch[i].len) != 0) {
			snprintf(err, errlen, "write %s: %s", ch[i].path,
			    conf_git_error());
			ret = PTT_EIO;
			goto out;
		}
	}
	if (git_tree_create_updated(out, r->repo, base, n, up) != 0) {
		snprintf(err, errlen, "build tree: %s", conf_git_error());
		ret = PTT_EINVAL;
	}
out:
	free(up);
	return ret;
}

/* Bring a local work tree from old to new, leaving local edits alone. */
static void
update_worktree(struct conf_repo *r, git_tree *old, git_commit *c,
    char *err, size_t errlen)
{
	git_checkout_options co;

	if (git_repository_is_bare(r->repo))
		return;
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_SAFE;
	co.baseline = old;
	if (git_checkout_tree(r->repo, (git_object *)c, &co) != 0)
		snprintf(err, errlen, "committed, but the work tree was not "
		    "updated: %s", conf_git_error());
}

static int
push_now(struct conf_repo *r, char *err, size_t errlen)
{
	git_remote *rem = NULL;
	git_push_options po;
	char spec[600];
	char *specs[1] = { spec };
	git_strarray refspecs = { specs, 1 };
	int ret = 0;

	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	r->why[0] = r->push_status[0] = '\0';
	r->cred_tries = 0;
	if (new_remote(r, &rem) != 0) {
		transport_error(r, "remote", err, errlen);
		return PTT_EINVAL;
	}
	set_callbacks(r, &po.callbacks);
	snprintf(spec, sizeof(spec), "%s:%s", PENDING_REF, r->branch_ref);
	if (git_remote_push(rem, &refspecs, &po) != 0) {
		transport_error(r, "push to", err, errlen);
		ret = PTT_ETEMP;
	} else if (r->push_status[0] != '\0') {
		snprintf(err, errlen, "push to %s rejected: %s", r->url,
		    r->push_status);
		ret = PTT_ETEMP;
	}
	git_remote_free(rem);
	return ret;
}

int
conf_repo_commit(struct conf_repo *r, const struct conf_change *changes,
    size_t n, const char *message, const char *author, const char *email,
    char new_id[CONF_COMMIT_HEX], char *err, size_t errlen)
{
	git_oid parent_id, tree_id, cid;
	git_commit *parent = NULL, *nc = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_signature *sig = NULL;
	git_reference *ref = NULL;
	const git_commit *parents[1];
	bool have_parent;
	char msg[4096];
	int ret;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (new_id != NULL)
		new_id[0] = '\0';
	if (r->remote && (ret = conf_repo_fetch(r, err, errlen)) != 0)
		return ret;
	ret = head_oid(r, &parent_id);
	if (ret != 0 && ret != PTT_ENOENT) {
		snprintf(err, errlen, "read %s: %s", r->branch_ref, conf_git_error());
		return ret;
	}
	have_parent = ret == 0;
	if (have_parent) {
		if (git_commit_lookup(&parent, r->repo, &parent_id) != 0 ||
		    git_commit_tree(&base, parent) != 0) {
			snprintf(err, errlen, "read head: %s", conf_git_error());
			ret = PTT_EIO;
			goto out;
		}
	} else if (empty_tree(r->repo, &base) != 0) {
		snprintf(err, errlen, "empty tree: %s", conf_git_error());
		ret = PTT_EIO;
		goto out;
	}
	if ((ret = build_tree(r, base, changes, n, &tree_id, err, errlen)) != 0)
		goto out;
	if (git_tree_lookup(&tree, r->repo, &tree_id) != 0 ||
	    git_signature_now(&sig, author, email) != 0) {
		snprintf(err, errlen, "commit: %s", conf_git_error());
		ret = PTT_EINVAL;
		goto out;
	}
	/* git wants a message ending in a newline. */
	snprintf(msg, sizeof(msg), "%s%s", message,
	    message[0] != '\0' && message[strlen(message) - 1] == '\n' ? "" : "\n");
	parents[0] = parent;
	if (git_commit_create(&cid, r->repo, NULL, sig, sig, NULL, msg, tree,
	    have_parent ? 1 : 0, parents) != 0) {
		snprintf(err, errlen, "commit: %s", conf_git_error());
		ret = PTT_EIO;
		goto out;
	}
	if (r->remote) {
		if (git_reference_create(&ref, r->repo, PENDING_REF, &cid, 1,
		    "ptt: pending") != 0) {
			snprintf(err, errlen, "commit: %s", conf_git_error());
			ret = PTT_EIO;
			goto out;
		}
		git_reference_free(ref);
		ref = NULL;
		ret = isolated(r, push_now, err, errlen);
		if (git_reference_lookup(&ref, r->repo, PENDING_REF) == 0)
			git_reference_delete(ref);
		git_reference_free(ref);
		ref = NULL;
		if (ret != 0)
			goto out;
	}
	/* Move the branch only if nobody else did meanwhile. */
	if (have_parent)
		ret = git_reference_create_matching(&ref, r->repo, r->branch_ref,
		    &cid, 1, &parent_id, msg);
	else
		ret = git_reference_create(&ref, r->repo, r->branch_ref, &cid, 0,
		    msg);
	if (ret != 0) {
		snprintf(err, errlen, "%s moved meanwhile (%s); try again",
		    r->branch_ref, conf_git_error());
		ret = PTT_ETEMP;
		goto out;
	}
	if (new_id != NULL)
		git_oid_tostr(new_id, CONF_COMMIT_HEX, &cid);
	if (!r->remote && git_commit_lookup(&nc, r->repo, &cid) == 0)
		update_worktree(r, base, nc, err, errlen);
out:
	git_reference_free(ref);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(parent);
	git_commit_free(nc);
	return ret;
}
