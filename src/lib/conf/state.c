/*
 * state.c - the state directory (0711), 0700 directories below it, 0600
 * secrets written atomically, and refusal to read a secret others could
 * read (state.h).
 *
 * Trusts: the caller's directory argument; relative names are checked.
 * Files are opened with O_NOFOLLOW so a planted symlink is not followed for
 * the last component.
 */
#include "conf/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/mem.h"

#define PATH_MAXLEN 4096

/* path as a directory of exactly mode (made, or an existing one set). */
static int
mkdir_mode(const char *path, mode_t mode, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(path, mode) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		return PTT_EIO;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a directory", path);
		return PTT_EIO;
	}
	if ((st.st_mode & 07777) != mode && chmod(path, mode) != 0) {
		snprintf(err, errlen, "chmod %o %s: %s", (unsigned)mode, path,
		    strerror(errno));
		return PTT_EIO;
	}
	return 0;
}

int
state_init(const char *dir, char *err, size_t errlen)
{
	return state_mkdir(dir, STATE_DIR_MODE, err, errlen);
}

int
state_mkdir(const char *dir, mode_t mode, char *err, size_t errlen)
{
	char path[PATH_MAXLEN];
	size_t i, n;
	int r;

	n = ptt_strlcpy(path, dir, sizeof(path));
	if (n == 0 || n >= sizeof(path)) {
		snprintf(err, errlen, "bad state directory name");
		return PTT_EINVAL;
	}
	/* Missing parents are created 0755 (like /var/lib/ptt, which also
	 * holds the configuration repository); existing ones are left alone.
	 * The state directory itself is 0711: services that dropped to
	 * their own user reach the certificates ptt-acme renews in it
	 * (certs/, owned by that user) by name, but nobody can list it;
	 * every secret lies in a 0700 directory below. */
	for (i = 1; i < n; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
			return PTT_EIO;
		}
		path[i] = '/';
	}
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	r = mkdir_mode(path, mode, err, errlen);
	return r;
}

/* A relative name: components of [A-Za-z0-9._@+-], none "." or "..". */
static bool
rel_ok(const char *rel)
{
	const char *p = rel, *start;

	if (*p == '\0' || *p == '/')
		return false;
	while (*p != '\0') {
		start = p;
		for (; *p != '\0' && *p != '/'; p++) {
			unsigned char c = (unsigned char)*p;
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
			    c == '-' || c == '@' || c == '+'))
				return false;
		}
		if (p == start || (p - start == 1 && start[0] == '.') ||
		    (p - start == 2 && start[0] == '.' && start[1] == '.'))
			return false;
		if (*p == '/')
			p++;
		if (*p == '\0' && p[-1] == '/')
			return false;
	}
	return true;
}

int
state_path(const char *dir, const char *rel, char *out, size_t outlen)
{
	int n;

	if (!rel_ok(rel))
		return PTT_EINVAL;
	n = snprintf(out, outlen, "%s/%s", dir, rel);
	if (n < 0 || (size_t)n >= outlen)
		return PTT_ENOSPC;
	return 0;
}

int
state_mkparents(const char *dir, const char *rel, char *err, size_t errlen)
{
	char path[PATH_MAXLEN];
	size_t dlen, i;
	int r;

	if ((r = state_path(dir, rel, path, sizeof(path))) != 0) {
		snprintf(err, errlen, "bad state file name \"%s\"", rel);
		return r;
	}
	if ((r = state_init(dir, err, errlen)) != 0)
		return r;
	dlen = strlen(dir) + 1;
	for (i = dlen; path[i] != '\0'; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		r = mkdir_mode(path, 0700, err, errlen);
		path[i] = '/';
		if (r != 0)
			return r;
	}
	return 0;
}

static int
fsync_dir_of(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAXLEN];
	char *slash;
	int fd;

	ptt_strlcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == NULL)
		ptt_strlcpy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "fsync %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return PTT_EIO;
	}
	close(fd);
	return 0;
}

int
atomic_write_file(const char *path, const void *data, size_t len, mode_t mode,
    char *err, size_t errlen)
{
	char tmp[PATH_MAXLEN];
	const char *p = data;
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(err, errlen, "path too long: %s", path);
		return PTT_ENOSPC;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
		return PTT_EIO;
	}
	/* mkostemp creates 0600; set the final mode before any byte lands. */
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	return fsync_dir_of(path, err, errlen);
fail:
	snprintf(err, errlen, "write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return PTT_EIO;
}

static int
state_write(const char *dir, const char *rel, const void *data, size_t len,
    mode_t mode, char *err, size_t errlen)
{
	char path[PATH_MAXLEN];
	int r;

	if ((r = state_mkparents(dir, rel, err, errlen)) != 0)
		return r;
	if ((r = state_path(dir, rel, path, sizeof(path))) != 0)
		return r;
	return atomic_write_file(path, data, len, mode, err, errlen);
}

int
state_write_secret(const char *dir, const char *rel, const void *data,
    size_t len, char *err, size_t errlen)
{
	return state_write(dir, rel, data, len, 0600, err, errlen);
}

int
state_write_public(const char *dir, const char *rel, const void *data,
    size_t len, char *err, size_t errlen)
{
	return state_write(dir, rel, data, len, 0644, err, errlen);
}

int
secret_read_file(const char *path, char **data, size_t *len, char *err,
    size_t errlen)
{
	struct stat st;
	char *b;
	size_t got = 0;
	int fd;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "secret %s: %s", path, strerror(e));
		if (e == ENOENT)
			return PTT_ENOENT;
		return e == ELOOP ? PTT_EPERM : PTT_EIO;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "secret %s: %s", path, strerror(errno));
		close(fd);
		return PTT_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "secret %s is not a regular file", path);
		close(fd);
		return PTT_EPERM;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "secret %s has mode %04o: refusing a key "
		    "that group or others can access (chmod 600 it)", path,
		    (unsigned)(st.st_mode & 07777));
		close(fd);
		return PTT_EPERM;
	}
	if (st.st_size > STATE_SECRET_MAX) {
		snprintf(err, errlen, "secret %s is larger than %d bytes", path,
		    STATE_SECRET_MAX);
		close(fd);
		return PTT_ENOSPC;
	}
	b = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		snprintf(err, errlen, "secret %s: short read", path);
		state_free_secret(b, (size_t)st.st_size + 1);
		return PTT_EIO;
	}
	b[got] = '\0';
	*data = b;
	*len = got;
	return 0;
}

int
state_read_secret(const char *dir, const char *rel, char **data, size_t *len,
    char *err, size_t errlen)
{
	char path[PATH_MAXLEN];
	int r;

	if ((r = state_path(dir, rel, path, sizeof(path))) != 0) {
		snprintf(err, errlen, "bad state file name \"%s\"", rel);
		*data = NULL;
		*len = 0;
		return r;
	}
	return secret_read_file(path, data, len, err, errlen);
}

void
state_free_secret(char *data, size_t len)
{
	if (data == NULL)
		return;
	ptt_memzero(data, len);
	free(data);
}

bool
state_exists(const char *dir, const char *rel)
{
	char path[PATH_MAXLEN];
	struct stat st;

	if (state_path(dir, rel, path, sizeof(path)) != 0)
		return false;
	return lstat(path, &st) == 0;
}
