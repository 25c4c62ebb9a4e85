/*
 * state.h - the state directory: secrets and local state kept out of git.
 *
 * Layout (relative to the state directory, itself 0711 so that services
 * running as their own user can open certs/ by name; every directory
 * below 0700):
 *	ca/ca.key  ca/ca.pem		internal CA (ca.h)
 *	tls/<service>.key .pem		service certificates (ca.h)
 *	dkim/<selector>.key		DKIM private keys
 *	tsig/<name>.key			TSIG keys
 *	certs/<name>.pem .key		public certificates (ptt-acme, which
 *					owns the directory)
 *	cache/config.git		clone of a remote configuration repository
 *
 * Every secret is one file of mode 0600, written atomically (temporary file,
 * fsync, rename, fsync of the directory), so a crash leaves either the old
 * or the new secret, never a torn one. A secret that is readable or writable
 * by group or others, or is not a regular file, is refused when read: the
 * operator sees a clear error instead of a silently exposed key.
 *
 * Trusts: the file system under the state directory, as far as the mode
 * checks above; relative names given by callers are checked (no "..", no
 * absolute paths).
 */
#ifndef PTT_CONF_STATE_H
#define PTT_CONF_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define STATE_SECRET_MAX (1024 * 1024)	/* largest secret read */

#define STATE_DIR_MODE 0711

/* Create the state directory with mode STATE_DIR_MODE (missing parents
 * 0755), or set an existing one to it. 0 or PTT_EIO with the reason in
 * err. */
int state_init(const char *dir, char *err, size_t errlen);
/* The same for any directory of mode (0700: private ones, such as the
 * cache of a remote configuration repository, which holds the users'
 * password hashes). */
int state_mkdir(const char *dir, mode_t mode, char *err, size_t errlen);

/* dir + "/" + rel into out. rel must be relative, without "." or ".."
 * components. 0, PTT_EINVAL (bad rel) or PTT_ENOSPC (too long). */
int state_path(const char *dir, const char *rel, char *out, size_t outlen);

/* Create the directories leading to rel (each 0700). 0 or PTT_EIO/EINVAL. */
int state_mkparents(const char *dir, const char *rel, char *err, size_t errlen);

/*
 * Write data atomically to path with the given mode: write path.tmp.XXXXXX,
 * fsync it, rename over path, fsync the directory. The parent directory
 * must exist. 0 or PTT_EIO with the reason in err.
 */
int atomic_write_file(const char *path, const void *data, size_t len,
    mode_t mode, char *err, size_t errlen);

/* Write a secret (mode 0600) to dir/rel atomically, creating parent
 * directories. 0, PTT_EINVAL or PTT_EIO. */
int state_write_secret(const char *dir, const char *rel, const void *data,
    size_t len, char *err, size_t errlen);

/* Write a public file (mode 0644: certificates) the same way. */
int state_write_public(const char *dir, const char *rel, const void *data,
    size_t len, char *err, size_t errlen);

/*
 * Read a secret file (an absolute or relative path). Refuses (PTT_EPERM)
 * a file that is not a regular file or whose mode grants any permission to
 * group or others; PTT_ENOENT when missing; PTT_ENOSPC past
 * STATE_SECRET_MAX. On success *data (NUL-terminated, caller frees with
 * state_free_secret, which wipes it) and *len are set.
 */
int secret_read_file(const char *path, char **data, size_t *len, char *err,
    size_t errlen);
/* Same for dir/rel. */
int state_read_secret(const char *dir, const char *rel, char **data,
    size_t *len, char *err, size_t errlen);
/* Wipe and free a buffer from state_read_secret. */
void state_free_secret(char *data, size_t len);

/* True when dir/rel exists (any type). */
bool state_exists(const char *dir, const char *rel);

#endif
