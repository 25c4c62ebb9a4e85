/*
 * source.c - pttd follows a branch of the ptt source repository
 * (source_repo, source_branch): every source_poll (and on SIGHUP) it asks
 * for the branch's head with `git ls-remote`; a new commit is cloned into
 * a fresh directory source_dir/<commit>, built (source_build) and tested
 * (source_test) there, each step a child process in its own process
 * group that pttd's event loop waits for (SIGCHLD, main.c), killed after
 * source_timeout. The steps' output goes to source_dir/<commit>.log.
 *
 * When every step passed and the build tree (source_bin) holds the
 * executable of every service pttd runs, deploy_source (deploy.c) rolls
 * the services over to it exactly as a configuration deploy does. A
 * failed step changes nothing: the deploy is recorded as failed with the
 * step, its exit status and the last lines of its output, and that commit
 * is not tried again (the next commit is).
 *
 * The build deployed and the commit last tried are kept in the state
 * directory, so a restarted pttd starts the services from that build
 * (when it is still there) and does not try a failed commit again.
 *
 * Once no step and no deploy is under way, the checkouts no service runs
 * are removed (their logs stay), so source_dir holds one or two builds;
 * only directories named like a commit, as pttd makes them.
 *
 * Trusts: the source repository as much as the binaries it runs (that is
 * its purpose); its contents only reach the shell through the configured
 * commands, and the repository, branch, directory and commit are passed
 * as positional parameters, never pasted into a command line. The output
 * of the steps is data (stored, a tail shown).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/state.h"
#include "pttd/pttd.h"
#include "util/mem.h"

/* In pttd's state directory: the build deployed (commit, then its build
 * tree) and the commit last tried, one a line. */
#define SOURCE_STATE "source"

enum step { ST_IDLE, ST_FETCH, ST_CLONE, ST_BUILD, ST_TEST, ST_WAIT,
	ST_PRUNE };

static const char *const step_names[] = {
	"idle", "fetching", "cloning", "building", "testing", "waiting",
	"pruning"
};

struct source {
	struct pttd *d;
	struct event *poll_ev;		/* every source_poll */
	struct event *deadline;		/* source_timeout of the step */
	enum step step;
	pid_t pid;			/* the step's process (group) */
	bool timed_out;
	bool prune_due;			/* a build was tried since the last prune */
	char base[900];			/* source_dir */
	char head_file[1000];		/* ls-remote's output */
	char commit[CONF_COMMIT_HEX];	/* being built */
	char seen[CONF_COMMIT_HEX];	/* last commit tried */
	char dir[1000];			/* its checkout */
	char root[1024];		/* its build tree */
	char log[1024];			/* its steps' output */
	char error[512];		/* last failure to look at the branch */
};

/* Run script with /bin/sh and positional parameters args (NULL-ended),
 * in dir (NULL: unchanged), output to path (appended). 0 or -1. */
static int
run_step(struct source *src, enum step step, const char *dir,
    const char *path, bool append, const char *script, const char *const *args)
{
	struct timeval tv = { (time_t)src->d->cfg.source_timeout, 0 };
	const char *av[16];
	int n = 0, fd;
	pid_t pid;

	av[n++] = "sh";
	av[n++] = "-c";
	av[n++] = script;
	av[n++] = "sh";
	for (size_t i = 0; args != NULL && args[i] != NULL && n < 15; i++)
		av[n++] = args[i];
	av[n] = NULL;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND :
	    O_TRUNC), 0644);
	if (fd < 0) {
		snprintf(src->error, sizeof(src->error), "%s: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(src->error, sizeof(src->error), "fork: %s",
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;
		int null = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		/* None of pttd's listeners or connections reach the build. */
		close_range(3, ~0U, 0);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		if (dir != NULL && chdir(dir) != 0) {
			dprintf(2, "pttd: chdir %s: %s\n", dir, strerror(errno));
			_exit(126);
		}
		execv("/bin/sh", (char *const *)av);
		dprintf(2, "pttd: exec /bin/sh: %s\n", strerror(errno));
		_exit(127);
	}
	(void)setpgid(pid, pid);	/* also here: no race with a kill */
	close(fd);
	src->pid = pid;
	src->step = step;
	src->timed_out = false;
	evtimer_add(src->deadline, &tv);
	return 0;
}

/* The last lines of the log (at most 5, about 600 bytes), one line. */
static void
log_tail(const char *path, char *out, size_t len)
{
	char b[640];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t end;
	ssize_t n;
	size_t o = 0, nl = 0;

	out[0] = '\0';
	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	if (end < 0 || lseek(fd, end > (off_t)sizeof(b) - 1 ? end -
	    ((off_t)sizeof(b) - 1) : 0, SEEK_SET) < 0 ||
	    (n = read(fd, b, sizeof(b) - 1)) <= 0) {
		close(fd);
		return;
	}
	close(fd);
	while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r'))
		n--;
	/* Back to the start of the fifth line from the end. */
	ssize_t start = n;
	while (start > 0) {
		if (b[start - 1] == '\n' && ++nl == 5)
			break;
		start--;
	}
	for (ssize_t i = start; i < n && o + 3 < len; i++) {
		unsigned char c = (unsigned char)b[i];
		if (c == '\n') {
			out[o++] = ' ';
			out[o++] = '|';
			out[o++] = ' ';
		} else {
			out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
	out[o < len ? o : len - 1] = '\0';
}

static void
describe(int status, bool timed_out, long long timeout, char *out, size_t len)
{
	if (timed_out)
		snprintf(out, len, "took longer than %llds", timeout);
	else if (WIFEXITED(status))
		snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, len, "status %#x", status);
}

static void
fail(struct source *src, const char *what, int status)
{
	char why[128], tail[700];

	describe(status, src->timed_out, src->d->cfg.source_timeout, why,
	    sizeof(why));
	log_tail(src->log, tail, sizeof(tail));
	deploy_record_source(src->d, src->commit, "failed", "%s %s: %s "
	    "(nothing changed; log %s)", what, why, tail[0] ? tail :
	    "no output", src->log);
	src->step = ST_IDLE;
	src->prune_due = true;
}

/* Every service's executable is in the build tree. */
static int
check_bins(struct source *src, char *err, size_t errlen)
{
	struct pttd *d = src->d;
	char exe[2400];

	for (size_t i = 0; i < d->nsvc; i++) {
		const struct svc_kind *k = d->svc[i].kind;
		snprintf(exe, sizeof(exe), "%s/src/%s/%s", src->root, k->subdir,
		    k->bin);
		if (access(exe, X_OK) != 0) {
			snprintf(err, errlen, "%s: %s", exe, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void
try_deploy(struct source *src)
{
	if (deploy_source(src->d, src->commit, src->root) == 0) {
		src->step = ST_IDLE;
		src->prune_due = true;
	} else
		src->step = ST_WAIT;	/* another deploy: next poll */
}

static void
start_fetch(struct source *src)
{
	struct pttd *d = src->d;
	char ref[300];
	const char *args[3];

	snprintf(ref, sizeof(ref), "refs/heads/%s", d->cfg.source_branch);
	args[0] = d->cfg.source_repo;
	args[1] = ref;
	args[2] = NULL;
	if (run_step(src, ST_FETCH, NULL, src->head_file, false,
	    "exec git ls-remote -- \"$1\" \"$2\"", args) != 0)
		log_warn(NULL, "source: %s", src->error);
}

/* A service runs (or restarts with) an executable under dir. */
static bool
build_in_use(const struct pttd *d, const char *dir)
{
	size_t n = strlen(dir);

	for (size_t i = 0; i < d->nsvc; i++)
		if (strncmp(d->svc[i].src_root, dir, n) == 0 &&
		    d->svc[i].src_root[n] == '/')
			return true;
	return strncmp(d->src_root, dir, n) == 0 && d->src_root[n] == '/';
}

/* Remove the checkouts of source_dir no service runs: the directories
 * of base other than the ones named as arguments. */
static void
prune(struct source *src)
{
	struct pttd *d = src->d;
	char keep[SVC_MAX + 1][1024];
	const char *args[SVC_MAX + 3];
	size_t n = 0, blen = strlen(src->base);

	args[n++] = src->base;
	for (size_t i = 0; i <= d->nsvc && i <= SVC_MAX; i++) {
		const char *r = i < d->nsvc ? d->svc[i].src_root : d->src_root;
		const char *slash;
		if (strncmp(r, src->base, blen) != 0 || r[blen] != '/')
			continue;
		slash = strchr(r + blen + 1, '/');
		size_t len = slash != NULL ? (size_t)(slash - r) : strlen(r);
		if (len >= sizeof(keep[0]))
			continue;
		memcpy(keep[n - 1], r, len);
		keep[n - 1][len] = '\0';
		args[n] = keep[n - 1];
		n++;
	}
	args[n] = NULL;
	src->prune_due = false;
	if (run_step(src, ST_PRUNE, NULL, src->head_file, false,
	    "base=$1; shift\n"
	    "for b in \"$base\"/*/; do\n"
	    "  b=${b%/}; keep=; n=${b##*/}\n"
	    /* only what pttd made: <commit> or <commit>-<time> */
	    "  case $n in *[!0-9a-f-]*) continue ;; esac\n"
	    "  [ ${#n} -ge 40 ] || continue\n"
	    "  for k in \"$@\"; do [ \"$b\" = \"$k\" ] && keep=1; done\n"
	    "  [ -n \"$keep\" ] || rm -rf -- \"$b\" || exit 1\n"
	    "done", args) != 0)
		log_warn(NULL, "source: %s", src->error);
}

/* The head is known: a new commit starts its clone. */
static void
fetched(struct source *src)
{
	struct pttd *d = src->d;
	char line[512] = "";
	FILE *f = fopen(src->head_file, "re");
	size_t n = 0;

	if (f != NULL) {
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
	}
	while (n < 40 && strchr("0123456789abcdef", line[n]) != NULL &&
	    line[n] != '\0')
		n++;
	if (n != 40 || (line[40] != '\t' && line[40] != ' ')) {
		snprintf(src->error, sizeof(src->error), "%s has no branch %s",
		    d->cfg.source_repo, d->cfg.source_branch);
		src->step = ST_IDLE;
		return;
	}
	line[40] = '\0';
	src->error[0] = '\0';
	src->step = ST_IDLE;
	if (strcmp(line, src->seen) == 0 || strcmp(line, d->source) == 0)
		return;
	ptt_strlcpy(src->seen, line, sizeof(src->seen));
	source_save(d);
	ptt_strlcpy(src->commit, line, sizeof(src->commit));
	snprintf(src->dir, sizeof(src->dir), "%s/%.40s", src->base, line);
	snprintf(src->log, sizeof(src->log), "%s/%.40s.log", src->base, line);
	if (build_in_use(d, src->dir)) {
		/* The branch went back to a build a service still runs (a
		 * source deploy that failed half-way): leave it alone. */
		snprintf(src->dir, sizeof(src->dir), "%s/%.40s-%lld", src->base,
		    line, (long long)time(NULL));
		snprintf(src->log, sizeof(src->log), "%s.log", src->dir);
	}
	if ((size_t)snprintf(src->root, sizeof(src->root), "%s/%s", src->dir,
	    d->cfg.source_bin) >= sizeof(src->root)) {
		deploy_record_source(d, line, "failed", "source_bin: path too "
		    "long");
		return;
	}
	log_info(NULL, "source %.12s: new commit of %s %s: building in %s",
	    line, d->cfg.source_repo, d->cfg.source_branch, src->dir);
	const char *args[] = { src->dir, d->cfg.source_repo, line, NULL };
	/* A fresh directory: whatever an earlier try left goes. */
	if (run_step(src, ST_CLONE, NULL, src->log, false,
	    "rm -rf -- \"$1\" && git clone -q --no-checkout -- \"$2\" \"$1\" && "
	    "git -C \"$1\" -c advice.detachedHead=false checkout -q \"$3\"",
	    args) != 0)
		deploy_record_source(d, line, "failed", "%s", src->error);
}

/* The build or the tests: a configured command run in the checkout. */
static void
next_step(struct source *src, enum step step, const char *cmd)
{
	if (run_step(src, step, src->dir, src->log, true, cmd, NULL) != 0) {
		deploy_record_source(src->d, src->commit, "failed", "%s",
		    src->error);
		src->step = ST_IDLE;
	}
}

bool
source_reaped(struct pttd *d, pid_t pid, int status)
{
	struct source *src = d->src;
	bool ok;

	if (src == NULL || pid != src->pid)
		return false;
	src->pid = 0;
	evtimer_del(src->deadline);
	ok = !src->timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (d->stopping) {
		src->step = ST_IDLE;
		return true;
	}
	switch (src->step) {
	case ST_FETCH:
		if (!ok) {
			char why[128], tail[700];
			describe(status, src->timed_out, d->cfg.source_timeout,
			    why, sizeof(why));
			log_tail(src->head_file, tail, sizeof(tail));
			snprintf(src->error, sizeof(src->error), "git ls-remote "
			    "%s: %.300s", why, tail);
			log_warn(NULL, "source: %s", src->error);
			src->step = ST_IDLE;
			break;
		}
		fetched(src);
		break;
	case ST_CLONE:
		if (!ok) {
			fail(src, "the checkout", status);
			break;
		}
		next_step(src, ST_BUILD, d->cfg.source_build);
		break;
	case ST_BUILD:
		if (!ok) {
			fail(src, "the build", status);
			break;
		}
		next_step(src, ST_TEST, d->cfg.source_test);
		break;
	case ST_TEST: {
		char err[2600];
		if (!ok) {
			fail(src, "the tests", status);
			break;
		}
		if (check_bins(src, err, sizeof(err)) != 0) {
			deploy_record_source(d, src->commit, "failed", "the build "
			    "lacks a service: %s (nothing changed)", err);
			src->step = ST_IDLE;
			break;
		}
		log_info(NULL, "source %.12s: built and tested", src->commit);
		try_deploy(src);
		break;
	}
	case ST_PRUNE:
		if (!ok)
			log_warn(NULL, "source: removing old builds failed: see %s",
			    src->head_file);
		src->step = ST_IDLE;
		break;
	case ST_IDLE:
	case ST_WAIT:
		break;
	}
	return true;
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct source *src = arg;

	if (src->pid > 0) {
		src->timed_out = true;
		kill(-src->pid, SIGKILL);
	}
}

static bool
is_commit(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n == 40 && s[n] == '\0';
}

void
source_save(struct pttd *d)
{
	char path[1100], err[256];
	char text[1200];
	int n;

	if (d->src == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", d->statedir_pttd, SOURCE_STATE);
	n = snprintf(text, sizeof(text), "%s\n%s\n%s\n", d->source, d->src_root,
	    d->src->seen);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    atomic_write_file(path, text, (size_t)n, 0600, err, sizeof(err)) != 0)
		log_warn(NULL, "source: cannot save %s", path);
}

void
source_restore(struct pttd *d)
{
	char path[1100], l[3][1100];
	FILE *f;

	if (d->cfg.source_repo == NULL || d->cfg.source_repo[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/%s", d->statedir_pttd, SOURCE_STATE);
	if ((f = fopen(path, "re")) == NULL)
		return;
	for (int i = 0; i < 3; i++) {
		if (fgets(l[i], sizeof(l[i]), f) == NULL)
			l[i][0] = '\0';
		l[i][strcspn(l[i], "\n")] = '\0';
	}
	fclose(f);
	if (is_commit(l[2]))
		ptt_strlcpy(d->src_seen, l[2], sizeof(d->src_seen));
	if (!is_commit(l[0]) || l[1][0] != '/' || strlen(l[1]) >=
	    sizeof(d->src_root))
		return;
	for (size_t i = 0; i < d->nsvc; i++) {
		const struct svc_kind *k = d->svc[i].kind;
		char exe[1300];
		snprintf(exe, sizeof(exe), "%s/src/%s/%s", l[1], k->subdir, k->bin);
		if (access(exe, X_OK) != 0) {
			log_warn(NULL, "source: %s is gone: the services start from "
			    "pttd's own build", exe);
			return;
		}
	}
	ptt_strlcpy(d->source, l[0], sizeof(d->source));
	ptt_strlcpy(d->src_root, l[1], sizeof(d->src_root));
	for (size_t i = 0; i < d->nsvc; i++) {
		ptt_strlcpy(d->svc[i].source, d->source, sizeof(d->svc[i].source));
		ptt_strlcpy(d->svc[i].src_root, d->src_root,
		    sizeof(d->svc[i].src_root));
	}
	log_info(NULL, "source: the services run %.12s (%s)", d->source,
	    d->src_root);
}

void
source_poll(struct pttd *d)
{
	struct source *src = d->src;

	if (src == NULL || d->stopping)
		return;
	if (src->step == ST_WAIT) {
		try_deploy(src);
		return;
	}
	if (src->step != ST_IDLE)
		return;
	if (src->prune_due && d->ro == NULL) {
		prune(src);
		return;
	}
	start_fetch(src);
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	source_poll(arg);
}

void
source_start(struct pttd *d)
{
	struct source *src;
	struct timeval tv = { (time_t)d->cfg.source_poll, 0 };
	size_t n;

	if (d->cfg.source_repo == NULL || d->cfg.source_repo[0] == '\0')
		return;
	src = xcalloc(1, sizeof(*src));
	src->d = d;
	if (d->cfg.source_dir != NULL && d->cfg.source_dir[0] != '\0')
		n = strlen(d->cfg.source_dir) < sizeof(src->base) ?
		    ptt_strlcpy(src->base, d->cfg.source_dir, sizeof(src->base)) :
		    sizeof(src->base);
	else
		n = (size_t)snprintf(src->base, sizeof(src->base), "%.880s/builds",
		    d->statedir_pttd);
	if (n >= sizeof(src->base)) {
		log_err(NULL, "source_dir: path too long: not following %s",
		    d->cfg.source_repo);
		free(src);
		return;
	}
	if (mkdir(src->base, 0755) != 0 && errno != EEXIST)
		log_warn(NULL, "source: mkdir %s: %s", src->base, strerror(errno));
	snprintf(src->head_file, sizeof(src->head_file), "%s/.head",
	    src->base);
	ptt_strlcpy(src->seen, d->src_seen, sizeof(src->seen));
	src->deadline = evtimer_new(d->base, on_deadline, src);
	src->poll_ev = event_new(d->base, -1, EV_PERSIST, on_poll, d);
	event_add(src->poll_ev, &tv);
	d->src = src;
	log_info(NULL, "source: following %s %s (builds in %s)",
	    d->cfg.source_repo, d->cfg.source_branch, src->base);
	source_poll(d);
}

void
source_stop(struct pttd *d)
{
	struct source *src = d->src;

	if (src == NULL)
		return;
	event_del(src->poll_ev);
	if (src->pid > 0)
		kill(-src->pid, SIGKILL);
}

void
source_free(struct pttd *d)
{
	struct source *src = d->src;

	if (src == NULL)
		return;
	event_free(src->poll_ev);
	event_free(src->deadline);
	free(src);
	d->src = NULL;
}

void
source_status(struct pttd *d, const char **state, const char **building,
    const char **log, const char **error)
{
	struct source *src = d->src;

	*state = src != NULL ? step_names[src->step] : "off";
	*building = src != NULL && src->step != ST_IDLE && src->step !=
	    ST_FETCH ? src->commit : "";
	*log = src != NULL ? src->log : "";
	*error = src != NULL ? src->error : "";
}
