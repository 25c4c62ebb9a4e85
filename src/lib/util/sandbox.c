/*
 * sandbox.c - privilege drop, no_new_privs, Landlock and seccomp.
 *
 * Implements: Landlock (Documentation/userspace-api/landlock.rst, ABI 1-6)
 * and a seccomp-bpf allow-list through libseccomp. Trusts: its caller's
 * policy; the kernel's reported Landlock ABI.
 */
#include "util/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>

#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"

/* Landlock definitions newer than Debian 12's headers (ABI 2). */
struct sb_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;	/* ABI 4 */
	uint64_t scoped;		/* ABI 6 */
};
struct sb_net_port_attr {
	uint64_t allowed_access;
	uint64_t port;
} __attribute__((packed));
#define SB_RULE_NET_PORT 2
#define SB_ACCESS_NET_BIND_TCP (1ULL << 0)
#define SB_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#define SB_ACCESS_FS_REFER (1ULL << 13)		/* ABI 2 */
#define SB_ACCESS_FS_TRUNCATE (1ULL << 14)	/* ABI 3 */
#define SB_ACCESS_FS_IOCTL_DEV (1ULL << 15)	/* ABI 5 */
#define SB_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)	/* ABI 6 */
#define SB_SCOPE_SIGNAL (1ULL << 1)		/* ABI 6 */

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_ABI1 ((1ULL << 13) - 1)

int
sandbox_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

static uint64_t
fs_handled(int abi)
{
	uint64_t h = FS_ABI1;

	if (abi >= 2)
		h |= SB_ACCESS_FS_REFER;
	if (abi >= 3)
		h |= SB_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		h |= SB_ACCESS_FS_IOCTL_DEV;
	return h;
}

static int
add_path(int ruleset, const char *path, uint64_t access, char *err,
    size_t errlen)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "sandbox: %s: %s", path, strerror(errno));
		return PTT_EIO;
	}
	/* Directory-only rights on a file are refused by the kernel. */
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE | SB_ACCESS_FS_TRUNCATE |
		    SB_ACCESS_FS_IOCTL_DEV | LANDLOCK_ACCESS_FS_EXECUTE;
	pb.allowed_access = access;
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0) != 0) {
		snprintf(err, errlen, "sandbox: rule for %s: %s", path,
		    strerror(errno));
		close(fd);
		return PTT_EIO;
	}
	close(fd);
	return 0;
}

static int
add_ports(int ruleset, const uint16_t *ports, uint64_t access, char *err,
    size_t errlen)
{
	for (; ports != NULL && *ports; ports++) {
		struct sb_net_port_attr np = { access, *ports };
		if (syscall(SYS_landlock_add_rule, ruleset, SB_RULE_NET_PORT,
		    &np, 0) != 0) {
			snprintf(err, errlen, "sandbox: port rule %u: %s",
			    *ports, strerror(errno));
			return PTT_EIO;
		}
	}
	return 0;
}

/*
 * Build the Landlock ruleset: *fd gets it, or -1 when the kernel has no
 * Landlock (and it is not required). Paths are opened here, before the
 * uid changes, so a daemon may name files only root can reach.
 */
static int
landlock_prepare(const struct sandbox *sb, int *fd, char *err, size_t errlen)
{
	int abi = sandbox_landlock_abi(), rs, r = 0;
	struct sb_ruleset_attr ra;
	size_t rasize;
	uint64_t rw;

	*fd = -1;
	if (abi <= 0) {
		if (sb->require_landlock) {
			snprintf(err, errlen, "sandbox: the kernel has no Landlock");
			return PTT_EPERM;
		}
		log_warn(sb->name, "sandbox: no Landlock in this kernel; "
		    "filesystem and port rules not applied");
		return 0;
	}
	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = fs_handled(abi);
	rasize = sizeof(ra.handled_access_fs);
	if (abi >= 4) {
		ra.handled_access_net = SB_ACCESS_NET_BIND_TCP;
		if (!sb->any_connect)
			ra.handled_access_net |= SB_ACCESS_NET_CONNECT_TCP;
		rasize = offsetof(struct sb_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		ra.scoped = SB_SCOPE_ABSTRACT_UNIX_SOCKET | SB_SCOPE_SIGNAL;
		rasize = sizeof(ra);
	}
	rs = (int)syscall(SYS_landlock_create_ruleset, &ra, rasize, 0);
	if (rs < 0) {
		snprintf(err, errlen, "sandbox: landlock ruleset: %s",
		    strerror(errno));
		return PTT_EIO;
	}
	rw = ra.handled_access_fs & ~LANDLOCK_ACCESS_FS_EXECUTE;
	for (const char *const *p = sb->ro_paths; r == 0 && p && *p; p++)
		r = add_path(rs, *p, FS_READ, err, errlen);
	for (const char *const *p = sb->rw_paths; r == 0 && p && *p; p++)
		r = add_path(rs, *p, rw, err, errlen);
	if (r == 0 && abi >= 4) {
		r = add_ports(rs, sb->bind_ports, SB_ACCESS_NET_BIND_TCP, err,
		    errlen);
		if (r == 0 && !sb->any_connect)
			r = add_ports(rs, sb->connect_ports,
			    SB_ACCESS_NET_CONNECT_TCP, err, errlen);
	}
	if (r != 0) {
		close(rs);
		return r;
	}
	*fd = rs;
	return 0;
}

/* Enforce a prepared ruleset (needs no_new_privs); closes it. */
static int
landlock_apply(int rs, char *err, size_t errlen)
{
	int r = 0;

	if (rs < 0)
		return 0;
	if (syscall(SYS_landlock_restrict_self, rs, 0) != 0) {
		snprintf(err, errlen, "sandbox: landlock_restrict_self: %s",
		    strerror(errno));
		r = PTT_EIO;
	}
	close(rs);
	return r;
}

static int under_sanitizer(void);

static int
drop_user(const struct sandbox *sb, char *err, size_t errlen)
{
	const char *name = sb->user ? sb->user : "nobody";
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(name)) == NULL) {
		snprintf(err, errlen, "sandbox: no user %s", name);
		return PTT_ENOENT;
	}
	if (setgroups(1, &pw->pw_gid) != 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		snprintf(err, errlen, "sandbox: cannot become %s: %s", name,
		    strerror(errno));
		return PTT_EPERM;
	}
	if (setuid(0) == 0) {
		snprintf(err, errlen, "sandbox: could regain root");
		return PTT_EPERM;
	}
	/* The uid change makes the process undumpable, which hides /proc/self
	 * from itself; LeakSanitizer needs it at exit in sanitizer builds. */
	if (under_sanitizer())
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 0;
}

/* Debug mode: name the refused call, then exit (async-signal-safe). */
static void
on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[160];
	const char *name = seccomp_syscall_resolve_num_arch(
	    SCMP_ARCH_NATIVE, si->si_syscall);
	int n = snprintf(msg, sizeof(msg),
	    "sandbox: refused system call %s (%d)\n", name ? name : "?",
	    si->si_syscall);

	if (n > 0 && write(2, msg, (size_t)n) < 0)
		_exit(159);
	_exit(159);
}

static const int base_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(close),
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2), SCMP_SYS(poll),
	SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(recvfrom),
	SCMP_SYS(sendto), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
	SCMP_SYS(shutdown), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(fcntl),
	SCMP_SYS(ioctl), SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(brk), SCMP_SYS(mmap),
	SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect),
	SCMP_SYS(madvise), SCMP_SYS(futex), SCMP_SYS(getrandom),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack), SCMP_SYS(exit),
	SCMP_SYS(exit_group), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(getppid), SCMP_SYS(tgkill), SCMP_SYS(restart_syscall),
	SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(statx), SCMP_SYS(pipe2), SCMP_SYS(eventfd2),
	SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime),
	SCMP_SYS(timerfd_gettime), SCMP_SYS(getuid), SCMP_SYS(geteuid),
	SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getresuid),
	SCMP_SYS(getresgid), SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(uname), SCMP_SYS(prlimit64),
	SCMP_SYS(getrlimit), SCMP_SYS(getrusage), SCMP_SYS(sysinfo),
	SCMP_SYS(rseq), SCMP_SYS(set_robust_list), SCMP_SYS(membarrier),
	SCMP_SYS(dup), SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(prctl),
};
static const int fs_read_calls[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(getdents64),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(access),
	SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(stat),
	SCMP_SYS(lstat), SCMP_SYS(fadvise64), SCMP_SYS(getcwd),
};
static const int fs_write_calls[] = {
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(rename),
	SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlink),
	SCMP_SYS(unlinkat), SCMP_SYS(mkdir), SCMP_SYS(mkdirat),
	SCMP_SYS(rmdir), SCMP_SYS(ftruncate), SCMP_SYS(fchmod),
	SCMP_SYS(link), SCMP_SYS(linkat), SCMP_SYS(flock),
	SCMP_SYS(fallocate), SCMP_SYS(umask),
};
static const int net_connect_calls[] = {
	SCMP_SYS(socket), SCMP_SYS(connect),
};
static const int net_listen_calls[] = {
	SCMP_SYS(socket), SCMP_SYS(bind), SCMP_SYS(listen),
};
static const int proc_calls[] = {
	SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(fork), SCMP_SYS(vfork),
	SCMP_SYS(execve), SCMP_SYS(wait4), SCMP_SYS(waitid), SCMP_SYS(kill),
	SCMP_SYS(setpgid), SCMP_SYS(setsid), SCMP_SYS(setrlimit),
	SCMP_SYS(chdir), SCMP_SYS(fchdir), SCMP_SYS(socketpair),
};
/* Sanitizer runtimes report through calls a daemon never makes. */
static const int sanitizer_calls[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(readlink),
	SCMP_SYS(clone), SCMP_SYS(ptrace), SCMP_SYS(wait4),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(getdents64),
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int
allow(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		/* A call this architecture lacks resolves negative: skip. */
		if (calls[i] >= 0 &&
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) != 0)
			return PTT_EIO;
	return 0;
}

static int
under_sanitizer(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return 1;
#else
	return 0;
#endif
#else
	return 0;
#endif
}

static int
seccomp(const struct sandbox *sb, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int r = 0;

	if (sb->debug) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSYS, &sa, NULL);
	}
	ctx = seccomp_init(sb->debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		snprintf(err, errlen, "sandbox: seccomp_init failed");
		return PTT_EIO;
	}
	r = allow(ctx, base_calls, NELEM(base_calls));
	if (r == 0 && (sb->groups & SB_FS_READ))
		r = allow(ctx, fs_read_calls, NELEM(fs_read_calls));
	if (r == 0 && (sb->groups & SB_FS_WRITE))
		r = allow(ctx, fs_read_calls, NELEM(fs_read_calls)) ||
		    allow(ctx, fs_write_calls, NELEM(fs_write_calls));
	if (r == 0 && (sb->groups & SB_NET_CONNECT))
		r = allow(ctx, net_connect_calls, NELEM(net_connect_calls));
	if (r == 0 && (sb->groups & SB_NET_LISTEN))
		r = allow(ctx, net_listen_calls, NELEM(net_listen_calls));
	if (r == 0 && (sb->groups & SB_PROC))
		r = allow(ctx, proc_calls, NELEM(proc_calls));
	if (r == 0 && (sb->groups & SB_THREADS)) {
		/* Threads, not processes: clone only with CLONE_THREAD;
		 * clone3 (whose flags seccomp cannot see) says ENOSYS and
		 * glibc falls back to clone. */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) != 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
		    SCMP_SYS(clone3), 0) != 0)
			r = PTT_EIO;
	}
	if (r == 0 && under_sanitizer())
		r = allow(ctx, sanitizer_calls, NELEM(sanitizer_calls));
	if (r != 0)
		snprintf(err, errlen, "sandbox: seccomp rule failed");
	else if (seccomp_load(ctx) != 0) {
		snprintf(err, errlen, "sandbox: seccomp_load failed");
		r = PTT_EIO;
	}
	seccomp_release(ctx);
	return r;
}

int
sandbox_enter(const struct sandbox *sb, char *err, size_t errlen)
{
	int r, rs, abi = sandbox_landlock_abi();

	/* glibc opens /etc/localtime on the first time conversion: do it
	 * now, while files can still be opened. */
	tzset();

	if ((r = landlock_prepare(sb, &rs, err, errlen)) != 0)
		return r;
	if ((r = drop_user(sb, err, errlen)) != 0) {
		if (rs >= 0)
			close(rs);
		return r;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "sandbox: no_new_privs: %s", strerror(errno));
		if (rs >= 0)
			close(rs);
		return PTT_EPERM;
	}
	if ((r = landlock_apply(rs, err, errlen)) != 0)
		return r;
	if ((r = seccomp(sb, err, errlen)) != 0)
		return r;
	log_info(sb->name, "sandbox: entered (landlock abi %d, uid %ld)",
	    abi, (long)getuid());
	return 0;
}

const char **
sandbox_gconv_dirs(void)
{
	static const char *cand[] = {
		"/usr/lib/x86_64-linux-gnu/gconv", "/usr/lib/aarch64-linux-gnu/gconv",
		"/usr/lib/i386-linux-gnu/gconv", "/usr/lib/arm-linux-gnueabihf/gconv",
		"/usr/lib64/gconv", "/usr/lib/gconv", NULL, NULL,
	};
	static const char *have[sizeof(cand) / sizeof(cand[0])];
	const char *env = getenv("GCONV_PATH");
	size_t n = 0;

	cand[sizeof(cand) / sizeof(cand[0]) - 2] = env;
	for (size_t i = 0; i + 1 < sizeof(cand) / sizeof(cand[0]); i++) {
		struct stat st;

		if (cand[i] != NULL && stat(cand[i], &st) == 0 &&
		    S_ISDIR(st.st_mode))
			have[n++] = cand[i];
	}
	have[n] = NULL;
	return have;
}
