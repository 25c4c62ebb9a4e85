/*
 * git.h - committing ptt-dns' zone changes to the configuration repository.
 *
 * The zones directory lives in the configuration repository's work tree;
 * each accepted update becomes one commit of the changed zone file (and is
 * pushed when the repository has a remote "origin"). This uses the git
 * command line (the libgit2 wrapper in src/lib/conf had no commit API
 * usable here yet). Trusts: the git binary on PATH and the repository.
 */
#ifndef PTT_DNSD_GIT_H
#define PTT_DNSD_GIT_H

#include <stdbool.h>
#include <stddef.h>

/* Is dir inside a git work tree? */
bool git_in_worktree(const char *dir);
/* git add + commit of file (inside dir) with message, then push when an
 * "origin" remote exists. 0 or PTT_EIO with a reason in err. */
int git_commit_file(const char *dir, const char *file, const char *message,
    char *err, size_t errlen);

#endif
