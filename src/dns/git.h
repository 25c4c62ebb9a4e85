/*
 * git.h - committing ptt-dns' zone changes to the configuration repository.
 *
 * The zones directory lives in the configuration repository's work tree;
 * each accepted update becomes one commit of the changed zone file (and is
 * pushed when the repository has a remote "origin"). This uses the git
 * command line (the libgit2 wrapper in src/lib/conf had no commit API
 * usable here yet). Trusts: the git binary on PATH and the repository
 * (safe.directory is waived: the repository may belong to the user
 * ptt-dns runs as, while the helper runs git as the starting user).
 */
#ifndef PTT_DNSD_GIT_H
#define PTT_DNSD_GIT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Privilege separation: ptt-dns starts a helper before it enters its
 * sandbox; the helper keeps the right to run git, takes requests (a zone
 * file name and a message) on a socket and answers with the outcome. It
 * accepts only plain "<name>.zone" file names inside dir, and exits when
 * ptt-dns goes away. Returns the socket or -1 with a reason in err.
 */
int git_helper_start(const char *dir, char *err, size_t errlen);
/* Ask the helper to commit file (a name in the zones directory). 0 or
 * PTT_EIO with the helper's reason in err. */
int git_helper_commit(int fd, const char *file, const char *message,
    char *err, size_t errlen);

/* Is dir inside a git work tree? */
bool git_in_worktree(const char *dir);
/* git add + commit of file (inside dir) with message, then push when an
 * "origin" remote exists. 0 or PTT_EIO with a reason in err. */
int git_commit_file(const char *dir, const char *file, const char *message,
    char *err, size_t errlen);

#endif
