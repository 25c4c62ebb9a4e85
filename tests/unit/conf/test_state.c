/* test_state.c - the state directory: modes, atomic secrets, refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/state.h"
#include "util/err.h"
#include "../tap.h"

static unsigned
mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
}

int
main(void)
{
	char tmp[] = "/tmp/ptt-state-test.XXXXXX", dir[256], path[512], err[512];
	char *data;
	size_t len;
	int r;

	if (mkdtemp(tmp) == NULL)
		return 1;
	snprintf(dir, sizeof(dir), "%s/a/state", tmp);
	is_int(state_init(dir, err, sizeof(err)), 0, "create state dir with parents");
	is_int(mode_of(dir), 0711, "state dir is 0711 (traversable, not listable)");
	snprintf(path, sizeof(path), "%s/a", tmp);
	{
		mode_t um = umask(0);
		umask(um);
		is_int(mode_of(path), 0755 & ~um, "a missing parent is made 0755 (less umask)");
	}
	chmod(dir, 0755);
	is_int(state_init(dir, err, sizeof(err)), 0, "init an existing dir");
	is_int(mode_of(dir), 0711, "existing dir set to 0711: no longer listable");

	r = state_write_secret(dir, "dkim/sel1.key", "KEY1\n", 5, err, sizeof(err));
	is_int(r, 0, "write a secret");
	snprintf(path, sizeof(path), "%s/dkim", dir);
	is_int(mode_of(path), 0700, "secret's directory is 0700");
	snprintf(path, sizeof(path), "%s/dkim/sel1.key", dir);
	is_int(mode_of(path), 0600, "secret is 0600");
	r = state_read_secret(dir, "dkim/sel1.key", &data, &len, err, sizeof(err));
	ok(r == 0 && len == 5 && strcmp(data, "KEY1\n") == 0, "read it back");
	state_free_secret(data, len);
	r = state_write_secret(dir, "dkim/sel1.key", "KEY2", 4, err, sizeof(err));
	r |= state_read_secret(dir, "dkim/sel1.key", &data, &len, err, sizeof(err));
	ok(r == 0 && strcmp(data, "KEY2") == 0, "replace atomically");
	state_free_secret(data, len);
	{
		/* no temporary files left behind */
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "test $(ls -A %s/dkim | wc -l) -eq 1", dir);
		is_int(system(cmd), 0, "no temporary file left");
	}

	chmod(path, 0644);
	r = state_read_secret(dir, "dkim/sel1.key", &data, &len, err, sizeof(err));
	ok(r == PTT_EPERM && strstr(err, "0644") != NULL && data == NULL,
	    "0644 secret refused: %s", err);
	chmod(path, 0640);
	r = state_read_secret(dir, "dkim/sel1.key", &data, &len, err, sizeof(err));
	is_int(r, PTT_EPERM, "0640 secret refused");
	chmod(path, 0602);
	r = state_read_secret(dir, "dkim/sel1.key", &data, &len, err, sizeof(err));
	is_int(r, PTT_EPERM, "world-writable secret refused");
	chmod(path, 0400);
	r = state_read_secret(dir, "dkim/sel1.key", &data, &len, err, sizeof(err));
	is_int(r, 0, "0400 secret accepted");
	state_free_secret(data, len);

	snprintf(path, sizeof(path), "%s/tsig", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/tsig/link.key", dir);
	{
		char target[512];
		snprintf(target, sizeof(target), "%s/dkim/sel1.key", dir);
		if (symlink(target, path) != 0)
			return 1;
	}
	r = state_read_secret(dir, "tsig/link.key", &data, &len, err, sizeof(err));
	is_int(r, PTT_EPERM, "symlinked secret refused");
	snprintf(path, sizeof(path), "%s/tsig/dir.key", dir);
	mkdir(path, 0700);
	r = state_read_secret(dir, "tsig/dir.key", &data, &len, err, sizeof(err));
	is_int(r, PTT_EPERM, "directory as secret refused");
	r = state_read_secret(dir, "tsig/none.key", &data, &len, err, sizeof(err));
	is_int(r, PTT_ENOENT, "missing secret: ENOENT");

	is_int(state_write_secret(dir, "../escape", "x", 1, err, sizeof(err)),
	    PTT_EINVAL, "\"..\" refused");
	is_int(state_write_secret(dir, "/etc/x", "x", 1, err, sizeof(err)),
	    PTT_EINVAL, "absolute name refused");
	is_int(state_write_secret(dir, "a//b", "x", 1, err, sizeof(err)),
	    PTT_EINVAL, "empty component refused");
	is_int(state_write_secret(dir, "a/./b", "x", 1, err, sizeof(err)),
	    PTT_EINVAL, "\".\" component refused");
	is_int(state_write_secret(dir, "a/", "x", 1, err, sizeof(err)),
	    PTT_EINVAL, "trailing slash refused");
	is_int(state_write_public(dir, "tls/x.pem", "C", 1, err, sizeof(err)), 0,
	    "public file written");
	snprintf(path, sizeof(path), "%s/tls/x.pem", dir);
	is_int(mode_of(path), 0644, "public file is 0644");
	ok(state_exists(dir, "tls/x.pem") && !state_exists(dir, "tls/y.pem"),
	    "state_exists");

	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		if (system(cmd) != 0)
			return 1;
	}
	return tap_done();
}
