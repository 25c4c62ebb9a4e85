/*
 * sandbox.h - a daemon restricts itself before its event loop.
 *
 * After a daemon has acquired what it needs (sockets, keys, the queue
 * directory, its resolver context), sandbox_enter() applies, in order:
 *   1. an unprivileged uid/gid when started as root (setgroups, setresgid,
 *      setresuid; the user is looked up, and Landlock's paths opened,
 *      before anything is locked down);
 *   2. no_new_privs;
 *   3. Landlock (Linux 5.13+): filesystem access only beneath the listed
 *      paths, read-only or read-write; on kernels with Landlock ABI 4+ TCP
 *      bind and connect only to the listed ports; on ABI 6+ no signals or
 *      abstract unix sockets beyond the sandbox. The ABI is probed at run
 *      time (Debian 12's headers stop at ABI 2, so newer constants are
 *      defined locally). Without Landlock in the kernel this step is
 *      skipped and logged, unless required is set;
 *   4. a seccomp allow-list (libseccomp) checked against the native
 *      architecture: what a libevent + OpenSSL daemon needs plus the
 *      groups the daemon asks for; anything else kills the process. In
 *      debug mode a refused call is reported by name on stderr instead
 *      ("sandbox: refused system call socket (41)") and then the process
 *      exits, so a policy can be fixed quickly.
 * Each daemon declares its policy next to its code.
 */
#ifndef PTT_UTIL_SANDBOX_H
#define PTT_UTIL_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Groups of system calls beyond the base set (bit flags). */
enum {
	SB_FS_READ = 1 << 0,	/* open files read-only, list directories */
	SB_FS_WRITE = 1 << 1,	/* create, write, fsync, rename, unlink */
	SB_NET_CONNECT = 1 << 2, /* new sockets and outgoing connections */
	SB_NET_LISTEN = 1 << 3,	/* new listening sockets */
	SB_PROC = 1 << 4,	/* fork/exec/wait (pttd only) */
	SB_THREADS = 1 << 5,	/* new threads (clone with CLONE_THREAD only);
				 * create them after sandbox_enter so they
				 * inherit its restrictions */
};

struct sandbox {
	const char *name;		/* for logs */
	const char *const *ro_paths;	/* NULL-terminated, or NULL */
	const char *const *rw_paths;	/* NULL-terminated, or NULL */
	const uint16_t *bind_ports;	/* 0-terminated; NULL: no bind */
	const uint16_t *connect_ports;	/* 0-terminated; NULL: no connect */
	bool any_connect;		/* allow TCP connect to any port */
	unsigned groups;		/* SB_* system call groups */
	const char *user;		/* drop to this user when root; NULL: "nobody" */
	bool require_landlock;		/* fail when the kernel lacks Landlock */
	bool debug;			/* report refused system calls by name */
};

/* 0, or a negative PTT_E* code with the reason in err. On failure the
 * process may be partly restricted: the caller should exit. */
int sandbox_enter(const struct sandbox *sb, char *err, size_t errlen);

/* glibc's gconv module directories that exist here, NULL-terminated (a
 * static array): charset conversion (iconv) opens them on first use of a
 * charset, which may come after the sandbox is up, so a daemon converting
 * charsets lists them among its read-only paths. */
const char **sandbox_gconv_dirs(void);

/* The Landlock ABI version of the running kernel (0: none). */
int sandbox_landlock_abi(void);

#endif
