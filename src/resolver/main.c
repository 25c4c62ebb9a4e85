/*
 * main.c - ptt-resolver: the validating recursive resolver, which is
 * Debian's Unbound daemon configured by ptt.
 *
 *   ptt-resolver [-c ptt.conf] [-o name=value ...] [--print-config]
 *   ptt-resolver --defaults
 *
 * Reads the [resolver] section of ptt.conf (uconf.h), writes
 * STATE/resolver/unbound.conf, initialises STATE/resolver/root.key from
 * Debian's root anchor when it is missing, then replaces itself with
 * `unbound -d -c STATE/resolver/unbound.conf`: one process that a
 * supervisor starts and stops (SIGTERM reaches Unbound itself).
 * --print-config prints the file instead of running Unbound.
 *
 * Holds: the resolver.internal key (read by Unbound for DNS over TLS).
 * Sandbox: Unbound's own. Started as root, it reads its key and
 * certificate, enters STATE/resolver (owned by `user`, default unbound)
 * and becomes that user; the anchor file is named relative to that
 * directory, so the 0700 state directory above it stays closed. No chroot.
 * It queries only root and authoritative servers from its hints, never a
 * forwarder. Trusts: ptt.conf through uconf_render's checks.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/ca.h"
#include "conf/state.h"
#include "resolver/uconf.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/param.h"

/* Copy Debian's root anchor into dir/root.key unless it is there: Unbound
 * rewrites that file as the root key rolls (RFC 5011). */
static void
init_root_key(const char *from, const char *dir)
{
	char path[4200], err[512];
	char *data = NULL;
	size_t len = 0, cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/root.key", dir);
	if (access(path, F_OK) == 0)
		return;
	if ((f = fopen(from, "r")) == NULL)
		fatal("root_key %s: %s (install dns-root-data)", from,
		    strerror(errno));
	for (;;) {
		size_t r;
		if (len == cap)
			data = xrealloc(data, cap = cap ? cap * 2 : 4096);
		r = fread(data + len, 1, cap - len, f);
		if (r == 0)
			break;
		len += r;
	}
	fclose(f);
	if (atomic_write_file(path, data, len, 0644, err, sizeof(err)) != 0)
		fatal("%s", err);
	free(data);
	log_info(NULL, "root trust anchor initialised from %s", from);
}

int
main(int argc, char **argv)
{
	struct uconf c;
	struct buf b;
	char dir[4096], cert[4096], key[4096], file[4200], err[512];
	bool print = false;
	int i, n = 0;
	char **args = xcalloc((size_t)argc + 1, sizeof(*args));

	log_init("ptt-resolver");
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--print-config") == 0)
			print = true;
		else
			args[n++] = argv[i];
	}
	memset(&c, 0, sizeof(c));
	param_main(uconf_params, &c, "resolver", n, args);
	free(args);

	if (geteuid() != 0 && c.user[0] != '\0') {
		/* only root can change user: Unbound stays who we are */
		free(c.user);
		c.user = xstrdup("");
	}
	if (state_path(c.state, UCONF_DIR, dir, sizeof(dir)) != 0)
		fatal("state: bad directory \"%s\"", c.state);
	if (ca_cert_paths(c.state, "resolver", cert, sizeof(cert), key,
	    sizeof(key)) != 0)
		fatal("state: path too long");
	if (c.cert[0])
		ptt_strlcpy(cert, c.cert, sizeof(cert));
	if (c.key[0])
		ptt_strlcpy(key, c.key, sizeof(key));
	buf_init(&b, 1 << 20);
	if (uconf_render(&c, dir, cert, key, &b, err, sizeof(err)) != 0)
		fatal("%s", err);
	if (print) {
		fwrite(b.data, 1, b.len, stdout);
		buf_free(&b);
		param_free(uconf_params, &c);
		return ferror(stdout) || fflush(stdout) != 0;
	}

	if (c.listen_tls[0] && (access(cert, R_OK) != 0 || access(key, R_OK) != 0))
		fatal("no certificate %s or key %s for DNS over TLS (run ptt "
		    "certs)", cert, key);
	if (state_mkparents(c.state, UCONF_DIR "/unbound.conf", err,
	    sizeof(err)) != 0)
		fatal("%s", err);
	if (c.stub[0] == '\0')
		init_root_key(c.root_key, dir);
	if (c.user[0]) {
		/* Unbound writes the anchor as this user after dropping. */
		struct passwd *pw = getpwnam(c.user);
		char rk[4300];
		if (pw == NULL)
			fatal("user %s: no such user", c.user);
		snprintf(rk, sizeof(rk), "%s/root.key", dir);
		if (chown(dir, pw->pw_uid, pw->pw_gid) != 0 ||
		    (access(rk, F_OK) == 0 &&
		    chown(rk, pw->pw_uid, pw->pw_gid) != 0))
			fatal("chown %s: %s", dir, strerror(errno));
	}
	snprintf(file, sizeof(file), "%s/unbound.conf", dir);
	if (atomic_write_file(file, b.data, b.len, 0644, err, sizeof(err)) != 0)
		fatal("%s", err);
	buf_free(&b);
	log_info(NULL, "wrote %s; running %s", file, c.unbound);
	fflush(NULL);
	{
		char *uargv[] = { c.unbound, "-d", "-c", file, NULL };
		execv(c.unbound, uargv);
	}
	fatal("exec %s: %s", c.unbound, strerror(errno));
}
