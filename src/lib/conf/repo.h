/*
 * repo.h - the configuration repository (git, through libgit2).
 *
 * One git repository holds the whole configuration: ptt.conf, users/,
 * zones/. It is either a local path (a repository with or without a work
 * tree) or an SSH remote, ssh://user@host:port/path, reached with an
 * ed25519 private key and a pinned host key; a remote is cloned (bare) into
 * a cache directory and fetched on demand. Files are read as blobs straight
 * from the head commit of a branch, never from a work tree, so what a
 * service reads is always something that was committed.
 *
 * Changes are whole-file (add/replace/delete) and become one commit; the
 * branch moves only if nobody else moved it meanwhile (compare and swap),
 * and with a remote the commit is pushed before it counts: a rejected push
 * leaves the cache as it was and returns PTT_ETEMP. Fetches and pushes run
 * in a short-lived child process (fork), because libgit2 1.5 leaks memory
 * per SSH connection: a sandboxed caller must allow fork/wait for remotes.
 *
 * Trusts: the repository's contents are data to validate (callers parse
 * them with bounds-checked parsers); an SSH server is trusted only when its
 * host key matches the pin.
 */
#ifndef PTT_CONF_REPO_H
#define PTT_CONF_REPO_H

#include <stdbool.h>
#include <stddef.h>

#define CONF_COMMIT_HEX 41	/* 40 hex digits and a NUL */
#define CONF_BLOB_MAX (16 * 1024 * 1024)

struct conf_repo_opts {
	const char *url;	/* local path, or ssh://[user@]host[:port]/path */
	const char *branch;	/* NULL: local HEAD's branch, or "main" (remote) */
	/* Remote only: */
	const char *cache_dir;	/* where the bare clone lives (created 0700) */
	const char *ssh_key;	/* ed25519 private key file (PEM/OpenSSH); the
				 * public key is read from ssh_key + ".pub" when
				 * that file exists */
	const char *host_key;	/* pin: "SHA256:<base64>" as ssh-keygen -l
				 * prints, or a host key line "ssh-ed25519 AAAA..."
				 * (known_hosts style, host names optional) */
};

struct conf_repo;

/* True when url names an SSH remote rather than a local path. */
bool conf_url_is_remote(const char *url);

/*
 * Create a new local repository at path (with a work tree) whose HEAD
 * points at branch (NULL: "main"). PTT_EEXIST when path already holds a
 * repository or a non-empty directory.
 */
int conf_repo_create(const char *path, const char *branch, char *err,
    size_t errlen);

/* Open (remote: clone or fetch into the cache). Caller closes. */
int conf_repo_open(struct conf_repo **out, const struct conf_repo_opts *o,
    char *err, size_t errlen);
void conf_repo_close(struct conf_repo *r);

/* Remote: fetch the branch into the cache. Local: nothing to do. */
int conf_repo_fetch(struct conf_repo *r, char *err, size_t errlen);

/* The head commit id of the branch as 40 hex digits. PTT_ENOENT when the
 * branch has no commit yet. */
int conf_repo_head(struct conf_repo *r, char out[CONF_COMMIT_HEX]);

/*
 * Read path (e.g. "users/alice") at commit (hex id; NULL: head). *data is
 * NUL-terminated, caller frees. PTT_ENOENT when absent, PTT_ENOSPC past
 * max bytes, PTT_EINVAL when path names a directory.
 */
int conf_repo_read(struct conf_repo *r, const char *commit, const char *path,
    size_t max, char **data, size_t *len);

/*
 * The names of the files (blobs) directly under dir at commit (NULL: head),
 * sorted; names starting with "." are skipped. An absent dir gives n = 0.
 * Free with conf_names_free.
 */
int conf_repo_list(struct conf_repo *r, const char *commit, const char *dir,
    char ***names, size_t *n);
void conf_names_free(char **names, size_t n);

struct conf_change {
	const char *path;	/* e.g. "users/alice" */
	const void *data;	/* NULL: delete the file */
	size_t len;
};

/*
 * One commit on top of the head with these changes, by author/email (also
 * the committer), with message. With a remote the commit is pushed;
 * with a local work tree the changed files are checked out (files edited
 * but not committed there are left alone and reported in err, while the
 * commit stands). new_id (may be NULL) gets the commit id.
 * PTT_ETEMP: the branch moved meanwhile or the push was rejected.
 * PTT_ENOENT: deleting a file that does not exist.
 */
int conf_repo_commit(struct conf_repo *r, const struct conf_change *changes,
    size_t n, const char *message, const char *author, const char *email,
    char new_id[CONF_COMMIT_HEX], char *err, size_t errlen);

/* The last libgit2 error as text (for messages). */
const char *conf_git_error(void);

#endif
