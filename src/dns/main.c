/*
 * main.c - ptt-dns, the authoritative primary: sockets, reloads, NOTIFY,
 * write-back and commits.
 *
 *   ptt-dns -c ptt.conf [-o NAME=VALUE ...]   (its [dns] section)
 *   ptt-dns --zones DIR [-l 127.0.0.1:53 ...] [--tsig-dir DIR]
 *           [--policy FILE] [--state DIR] [--dnssec ZONE ...] [--nsec3]
 *   ptt-dns --zones DIR --state DIR --print-ds ZONE
 *   ptt-dns --zones DIR --check          (parse every zone, exit 0/1)
 *   ptt-dns --defaults                   (the parameter table)
 *
 * Serves every DIR/<zone>.zone over UDP and TCP (RFC 1035 4.2; TCP with
 * 2-byte framing, several queries per connection, an idle timeout and a
 * connection limit, RFC 7766 6.2). A zone file that changes on disk (stat
 * every reload-interval, or SIGHUP) is reloaded; one that does not parse is
 * refused with its line and reason and the last good version stays
 * served. After each change NOTIFY (RFC 1996 3.6, retried twice) goes to
 * the zone's secondaries from the policy. An accepted UPDATE is written
 * back (temp file, fsync, rename) and, when DIR is in a git work tree,
 * committed (git.h).
 *
 * Holds: the TSIG secrets and the DNSSEC private keys. Sandbox: after the
 * sockets are bound, util/sandbox.h with read-write access to the zones
 * and state directories only. Commits are made by a helper process forked
 * before that (git.h), which runs git and nothing else.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/rand.h>

#include "dnsd.h"
#include "dnssec.h"
#include "git.h"
#include "util/err.h"
#include "util/ev.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/param.h"
#include "util/sandbox.h"

#define MAX_LISTEN 16
#define MAX_DNSSEC 64

struct config {
	char *zones;
	char *tsig_dir;
	char *policy;
	char *state;
	char *user;
	long long reload_interval;
	long long tcp_idle;
	long long tcp_max;
	bool sandbox;
	char *listen;		/* addresses, space-separated */
	char *dnssec;		/* zones to sign, space-separated */
	bool nsec3;
};

static const struct param params[] = {
	{ "zones", PARAM_STR, NULL, 0, 0, NULL, offsetof(struct config, zones),
	  "directory with one <zone>.zone master file per zone" },
	{ "tsig-dir", PARAM_STR, NULL, 0, 0, NULL,
	  offsetof(struct config, tsig_dir),
	  "directory of TSIG keys, one 0600 file each: name:hmac-sha256:base64" },
	{ "policy", PARAM_STR, NULL, 0, 0, NULL, offsetof(struct config, policy),
	  "update, transfer and notify rules (see src/dns/dnsd.h)" },
	{ "state", PARAM_STR, NULL, 0, 0, NULL, offsetof(struct config, state),
	  "state directory (DNSSEC keys), created 0700" },
	{ "user", PARAM_STR, "nobody", 0, 0, NULL, offsetof(struct config, user),
	  "user to run as after binding when started as root" },
	{ "reload-interval", PARAM_TIME, "2s", 1, 3600, NULL,
	  offsetof(struct config, reload_interval),
	  "how often zone files are checked for changes" },
	{ "tcp-idle", PARAM_TIME, "10s", 1, 3600, NULL,
	  offsetof(struct config, tcp_idle),
	  "a TCP connection idle this long is closed" },
	{ "tcp-max", PARAM_INT, "256", 1, 100000, NULL,
	  offsetof(struct config, tcp_max),
	  "most TCP connections at once; more are closed at once" },
	{ "sandbox", PARAM_BOOL, "yes", 0, 0, NULL,
	  offsetof(struct config, sandbox),
	  "restrict the process after binding (util/sandbox.h)" },
	{ "listen", PARAM_STR, "127.0.0.1:53", 0, 0, NULL,
	  offsetof(struct config, listen),
	  "addresses served over UDP and TCP (space-separated host:port); "
	  "-l replaces them" },
	{ "dnssec", PARAM_STR, "", 0, 0, NULL, offsetof(struct config, dnssec),
	  "zones to sign with DNSSEC (space-separated; keys in state)" },
	{ "nsec3", PARAM_BOOL, "no", 0, 0, NULL, offsetof(struct config, nsec3),
	  "deny existence with NSEC3 (RFC 5155) instead of NSEC" },
	PARAM_END
};

struct server {
	struct config cfg;
	struct dnsd d;
	struct event_base *base;
	struct event *timer;
	const char *dnssec[MAX_DNSSEC];
	size_t ndnssec;
	char *words, *zwords;	/* listen and dnssec, split in place */
	bool git;
	bool nsec3;
	int git_fd;		/* socket to the git helper, or -1 */
	long ntcp;
	unsigned long seq;
};

struct tcpconn {
	struct server *s;
	struct bufferevent *bev;
	char id[16];
	struct sockaddr_storage peer;
};

struct notify {
	struct server *s;
	int fd;
	struct event *ev;
	uint8_t msg[1024];
	size_t len;
	int tries;
	char target[128];
	char zone[256];
};

static void
next_id(struct server *s, char *id, size_t len)
{
	snprintf(id, len, "D%07lX", ++s->seq & 0xfffffff);
}

/* ---- NOTIFY (RFC 1996) ---- */

static void
notify_free(struct notify *n)
{
	event_free(n->ev);
	close(n->fd);
	free(n);
}

static void
notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;
	struct timeval tv = { 2, 0 };
	uint8_t b[512];

	if (what & EV_READ) {
		ssize_t r = recv(fd, b, sizeof(b), 0);
		if (r >= 12 && memcmp(b, n->msg, 2) == 0 && (b[2] & 0x80)) {
			log_info(NULL, "notify %s to %s: answered, rcode %d",
			    n->zone, n->target, b[3] & 0x0f);
			notify_free(n);
			return;
		}
		event_add(n->ev, &tv);
		return;
	}
	if (++n->tries >= 3) {
		log_warn(NULL, "notify %s to %s: no answer", n->zone, n->target);
		notify_free(n);
		return;
	}
	send(n->fd, n->msg, n->len, 0);
	event_add(n->ev, &tv);
}

static void
notify_one(struct server *s, const struct zone *z, const char *target,
    const char *keyname)
{
	char host[128], port[16];
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
	    .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai;
	struct timeval tv = { 2, 0 };
	uint16_t id;
	uint8_t *w = NULL;
	size_t wl = 0;

	if (net_split_hostport(target, host, sizeof(host), port,
	    sizeof(port)) != 0 || getaddrinfo(host, port, &hints, &ai) != 0) {
		log_warn(NULL, "notify %s: bad address %s", z->name, target);
		return;
	}
	struct notify *n = xcalloc(1, sizeof(*n));
	n->s = s;
	ptt_strlcpy(n->target, target, sizeof(n->target));
	ptt_strlcpy(n->zone, z->name, sizeof(n->zone));
	n->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd < 0 || connect(n->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		log_warn(NULL, "notify %s to %s: %s", z->name, target,
		    strerror(errno));
		if (n->fd >= 0)
			close(n->fd);
		free(n);
		freeaddrinfo(ai);
		return;
	}
	freeaddrinfo(ai);
	RAND_bytes((unsigned char *)&id, sizeof(id));
	ldns_pkt *p = ldns_pkt_new();
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_opcode(p, LDNS_PACKET_NOTIFY);
	ldns_pkt_set_aa(p, true);
	ldns_rr *q = ldns_rr_new();
	ldns_rr_set_question(q, true);
	ldns_rr_set_owner(q, ldns_rdf_clone(z->origin));
	ldns_rr_set_type(q, LDNS_RR_TYPE_SOA);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, ldns_rr_clone(zone_soa(z)));
	const struct tsig_key *key = keyname ? dnsd_key_find(&s->d, keyname) :
	    NULL;
	struct buf b;
	buf_init(&b, sizeof(n->msg));
	if (ldns_pkt2wire(&w, p, &wl) == LDNS_STATUS_OK)
		buf_add(&b, w, wl);
	free(w);
	ldns_pkt_free(p);
	if (keyname != NULL && key == NULL)
		log_warn(NULL, "notify %s to %s: no key %s", z->name, target,
		    keyname);
	if (key != NULL)
		tsig_sign(&b, key, (uint64_t)time(NULL), NULL, 0, 0, NULL, 0,
		    false, NULL, NULL);
	if (b.len == 0 || buf_error(&b) || (keyname != NULL && key == NULL)) {
		buf_free(&b);
		close(n->fd);
		free(n);
		return;
	}
	memcpy(n->msg, b.data, b.len);
	n->len = b.len;
	buf_free(&b);
	n->ev = event_new(s->base, n->fd, EV_READ, notify_cb, n);
	send(n->fd, n->msg, n->len, 0);
	event_add(n->ev, &tv);
	log_info(NULL, "notify %s serial %u to %s", z->name, zone_serial(z),
	    target);
}

static void
notify_zone(struct server *s, const struct zone *z)
{
	for (size_t i = 0; i < s->d.nrules; i++)
		if (s->d.rules[i].kind == RULE_NOTIFY &&
		    strcmp(s->d.rules[i].pattern, z->name) == 0)
			notify_one(s, z, s->d.rules[i].addr, s->d.rules[i].key);
}

/* ---- zones ---- */

static bool
wants_dnssec(const struct server *s, const char *zone)
{
	for (size_t i = 0; i < s->ndnssec; i++) {
		size_t n = strlen(s->dnssec[i]);
		if (strncasecmp(s->dnssec[i], zone, n) == 0 &&
		    (zone[n] == '\0' || (zone[n] == '.' && zone[n + 1] == '\0')))
			return true;
	}
	return false;
}

static struct zone *
add_zone(struct server *s, const char *fname)
{
	char name[300], path[4096], err[512];
	size_t n = strlen(fname);
	struct zone *z;

	if (n <= 5 || n - 5 >= sizeof(name) - 1)
		return NULL;
	memcpy(name, fname, n - 5);
	name[n - 5] = '.';
	name[n - 4] = '\0';
	ldns_rdf *check = ldns_dname_new_frm_str(name);
	if (check == NULL) {
		log_warn(NULL, "zone file %s: not a zone name", fname);
		return NULL;
	}
	ldns_rdf_deep_free(check);
	z = zone_new(name);
	snprintf(path, sizeof(path), "%s/%s", s->cfg.zones, fname);
	z->path = xstrdup(path);
	if (wants_dnssec(s, z->name)) {
		if (s->cfg.state == NULL)
			fatal("--dnssec %s needs --state DIR", z->name);
		if (dnssec_keys_load(s->cfg.state, z->name, true, &z->keys, err,
		    sizeof(err)) != 0)
			fatal("zone %s: %s", z->name, err);
		z->nsec3 = s->nsec3;
	}
	z->next = s->d.zones;
	s->d.zones = z;
	return z;
}

static void
check_zones(struct server *s, bool force)
{
	DIR *dp;
	struct dirent *de;
	char err[1024];
	struct zone **zp;

	if ((dp = opendir(s->cfg.zones)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			size_t n = strlen(de->d_name);
			if (de->d_name[0] == '.' || n <= 5 ||
			    strcmp(de->d_name + n - 5, ".zone") != 0)
				continue;
			bool known = false;
			for (struct zone *z = s->d.zones; z && !known; z = z->next)
				known = strcmp(strrchr(z->path, '/') + 1,
				    de->d_name) == 0;
			if (!known)
				add_zone(s, de->d_name);
		}
		closedir(dp);
	}
	for (zp = &s->d.zones; *zp != NULL;) {
		struct zone *z = *zp;
		if (access(z->path, F_OK) != 0 && errno == ENOENT) {
			log_info(NULL, "zone %s removed: %s is gone", z->name,
			    z->path);
			*zp = z->next;
			zone_free(z);
			continue;
		}
		int r = zone_reload(z, force, err, sizeof(err));
		if (r == 1) {
			log_info(NULL, "zone %s loaded: serial %u, %zu records%s",
			    z->name, zone_serial(z),
			    ldns_rr_list_rr_count(z->rrs),
			    z->keys ? ", signed" : "");
			notify_zone(s, z);
		} else if (r < 0) {
			if (z->db != NULL)
				log_err(NULL, "zone %s refused: %s; still serving "
				    "serial %u", z->name, err, zone_serial(z));
			else
				log_err(NULL, "zone %s refused: %s; not served",
				    z->name, err);
		} else if (z->keys != NULL && z->db != NULL &&
		    time(NULL) - z->signed_at > 3 * 86400) {
			if (zone_resign(z, err, sizeof(err)) == 0) {
				log_info(NULL, "zone %s re-signed", z->name);
				notify_zone(s, z);
			} else {
				log_err(NULL, "zone %s: re-signing failed: %s",
				    z->name, err);
			}
		}
		zp = &z->next;
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	check_zones(arg, false);
}

static void
on_reload(void *arg)
{
	log_info(NULL, "SIGHUP: reloading zones");
	check_zones(arg, true);
}

static void
on_stop(void *arg)
{
	struct server *s = arg;

	event_base_loopexit(s->base, NULL);
}

/* Before an update is served and acknowledged: the zone file. */
static int
on_persist(struct dnsd *d, struct zone *z, const ldns_rr_list *rrs,
    char *err, size_t errlen, void *arg)
{
	(void)d;
	(void)arg;
	return zone_write_rrs(z, rrs, err, errlen);
}

/* After an accepted update (already on disk): commit, notify. */
static void
on_changed(struct dnsd *d, struct zone *z, const char *keyname, void *arg)
{
	struct server *s = arg;
	char err[512], msg[600];

	if (s->git) {
		snprintf(msg, sizeof(msg), "ptt-dns: update %.*s by key %s\n\n"
		    "Serial %u.", (int)strlen(z->name) - 1, z->name, keyname,
		    zone_serial(z));
		if ((s->git_fd >= 0 ? git_helper_commit(s->git_fd,
		    strrchr(z->path, '/') + 1, msg, err, sizeof(err)) :
		    git_commit_file(s->cfg.zones, strrchr(z->path, '/') + 1, msg,
		    err, sizeof(err))) != 0)
			log_err(NULL, "zone %s: %s", z->name, err);
		else
			log_info(NULL, "zone %s serial %u committed", z->name,
			    zone_serial(z));
	}
	notify_zone(s, z);
}

/* ---- UDP ---- */

static void
on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	static uint8_t b[65536];
	struct dnsd_reply r;
	char id[16];

	buf_init(&r.msg, 65535);
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, b, sizeof(b), 0,
		    (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		next_id(s, id, sizeof(id));
		if (dnsd_handle(&s->d, b, (size_t)n, false,
		    (struct sockaddr *)&from, id, &r) && !r.framed &&
		    !buf_error(&r.msg))
			sendto(fd, r.msg.data, r.msg.len, 0,
			    (struct sockaddr *)&from, fl);
	}
	buf_free(&r.msg);
}

/* ---- TCP ---- */

static void
tcp_close(struct tcpconn *c)
{
	c->s->ntcp--;
	bufferevent_free(c->bev);
	free(c);
}

static void
tcp_read(struct bufferevent *bev, void *arg)
{
	struct tcpconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct dnsd_reply r;
	uint8_t hdr[2];

	buf_init(&r.msg, 0);
	while (evbuffer_get_length(in) >= 2) {
		evbuffer_copyout(in, hdr, 2);
		size_t n = (size_t)hdr[0] << 8 | hdr[1];
		if (n == 0) {
			buf_free(&r.msg);
			tcp_close(c);
			return;
		}
		if (evbuffer_get_length(in) < n + 2)
			break;
		evbuffer_drain(in, 2);
		uint8_t *m = evbuffer_pullup(in, (ssize_t)n);
		if (dnsd_handle(&c->s->d, m, n, true,
		    (struct sockaddr *)&c->peer, c->id, &r) && !buf_error(&r.msg)) {
			if (!r.framed) {
				hdr[0] = (uint8_t)(r.msg.len >> 8);
				hdr[1] = (uint8_t)r.msg.len;
				bufferevent_write(bev, hdr, 2);
			}
			bufferevent_write(bev, r.msg.data, r.msg.len);
		}
		evbuffer_drain(in, n);
	}
	buf_free(&r.msg);
}

static void
tcp_event(struct bufferevent *bev, short what, void *arg)
{
	tcp_close(arg);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct server *s = arg;

	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (s->ntcp >= s->cfg.tcp_max) {
			close(fd);
			continue;
		}
		struct tcpconn *c = xcalloc(1, sizeof(*c));
		c->s = s;
		c->peer = ss;
		next_id(s, c->id, sizeof(c->id));
		c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
		struct timeval idle = { (time_t)s->cfg.tcp_idle, 0 };
		bufferevent_set_timeouts(c->bev, &idle, &idle);
		bufferevent_setwatermark(c->bev, EV_READ, 0, 65537 * 4);
		bufferevent_setcb(c->bev, tcp_read, NULL, tcp_event, c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		s->ntcp++;
	}
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ptt-dns -c ptt.conf [-o NAME=VALUE ...] [--check]\n"
	    "       ptt-dns --zones DIR [-l HOST:PORT ...] [--tsig-dir DIR] "
	    "[--policy FILE]\n"
	    "               [--state DIR] [--dnssec ZONE ...] [--nsec3] [--user NAME] "
	    "[--no-sandbox]\n"
	    "               [--reload-interval T] [--tcp-idle T] [--tcp-max N] "
	    "[-v]\n"
	    "       ptt-dns --zones DIR --state DIR --print-ds ZONE\n"
	    "       ptt-dns --zones DIR [--state DIR --dnssec ZONE] --check\n"
	    "       ptt-dns --defaults\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct server srv;
	struct server *s = &srv;
	const char *addrs[MAX_LISTEN], *addrs_cfg[MAX_LISTEN], *print_ds = NULL;
	size_t nlisten = 0, nlisten_cfg = 0;
	bool check = false;
	char err[1024];
	enum { O_PARAM = 256, O_DNSSEC, O_PRINT_DS, O_CHECK, O_DEFAULTS,
	    O_NO_SANDBOX, O_NSEC3 };
	static const struct option lopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "zones", required_argument, NULL, O_PARAM },
		{ "tsig-dir", required_argument, NULL, O_PARAM },
		{ "policy", required_argument, NULL, O_PARAM },
		{ "state", required_argument, NULL, O_PARAM },
		{ "user", required_argument, NULL, O_PARAM },
		{ "reload-interval", required_argument, NULL, O_PARAM },
		{ "tcp-idle", required_argument, NULL, O_PARAM },
		{ "tcp-max", required_argument, NULL, O_PARAM },
		{ "dnssec", required_argument, NULL, O_DNSSEC },
		{ "print-ds", required_argument, NULL, O_PRINT_DS },
		{ "check", no_argument, NULL, O_CHECK },
		{ "defaults", no_argument, NULL, O_DEFAULTS },
		{ "no-sandbox", no_argument, NULL, O_NO_SANDBOX },
		{ "nsec3", no_argument, NULL, O_NSEC3 },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, li;

	log_init("ptt-dns");
	dnsd_init(&s->d);
	if (param_defaults(params, &s->cfg, err, sizeof(err)) != 0)
		panic("%s", err);
	/* Options apply in order: -c (its [dns] section) first, then the
	 * rest override it. */
	while ((ch = getopt_long(argc, argv, "c:o:l:vh", lopts, &li)) != -1) {
		switch (ch) {
		case 'c':
			if (param_load(params, &s->cfg, optarg, "dns", err,
			    sizeof(err)) != 0)
				fatal("%s", err);
			break;
		case 'o': {
			char *eq = strchr(optarg, '=');
			if (eq == NULL)
				fatal("-o %s: expected name=value", optarg);
			*eq = '\0';
			if (param_set(params, &s->cfg, optarg, eq + 1, err,
			    sizeof(err)) != 0)
				fatal("-o %s: %s", optarg, err);
			break;
		}
		case 'l':
			if (nlisten == MAX_LISTEN)
				fatal("too many -l");
			addrs[nlisten++] = optarg;
			break;
		case O_PARAM:
			if (param_set(params, &s->cfg, lopts[li].name, optarg, err,
			    sizeof(err)) != 0)
				fatal("--%s: %s", lopts[li].name, err);
			break;
		case O_DNSSEC:
			if (s->ndnssec == MAX_DNSSEC)
				fatal("too many --dnssec");
			s->dnssec[s->ndnssec++] = optarg;
			break;
		case O_PRINT_DS:
			print_ds = optarg;
			break;
		case O_CHECK:
			check = true;
			break;
		case O_DEFAULTS:
			param_print(params, &s->cfg, stdout, true);
			return 0;
		case O_NO_SANDBOX:
			s->cfg.sandbox = false;
			break;
		case O_NSEC3:
			s->nsec3 = true;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* The listen and dnssec parameters (from -c or -o), unless -l and
	 * --dnssec said otherwise; the words stay in s->words. */
	{
		char *save = NULL, *w;
		s->words = xstrdup(s->cfg.listen ? s->cfg.listen : "");
		for (w = strtok_r(s->words, " \t,", &save); w != NULL &&
		    nlisten_cfg < MAX_LISTEN; w = strtok_r(NULL, " \t,", &save))
			addrs_cfg[nlisten_cfg++] = w;
		s->zwords = xstrdup(s->cfg.dnssec ? s->cfg.dnssec : "");
		for (w = strtok_r(s->zwords, " \t,", &save); w != NULL &&
		    s->ndnssec < MAX_DNSSEC; w = strtok_r(NULL, " \t,", &save))
			s->dnssec[s->ndnssec++] = w;
		s->nsec3 = s->nsec3 || s->cfg.nsec3;
		if (nlisten == 0)
			for (size_t i = 0; i < nlisten_cfg; i++)
				addrs[nlisten++] = addrs_cfg[i];
	}
	if (print_ds != NULL) {
		ldns_key_list *keys;
		char zn[300];
		if (s->cfg.state == NULL)
			fatal("--print-ds needs --state DIR");
		snprintf(zn, sizeof(zn), "%s%s", print_ds,
		    print_ds[strlen(print_ds) - 1] == '.' ? "" : ".");
		if (dnssec_keys_load(s->cfg.state, zn, true, &keys, err,
		    sizeof(err)) != 0)
			fatal("%s", err);
		dnssec_print_ds(stdout, keys);
		ldns_key_list_free(keys);
		free(s->words);
		free(s->zwords);
		param_free(params, &s->cfg);
		return 0;
	}
	if (s->cfg.zones == NULL)
		usage();
	if (s->cfg.tsig_dir != NULL &&
	    dnsd_keys_load(&s->d, s->cfg.tsig_dir, err, sizeof(err)) != 0)
		fatal("%s", err);
	if (s->cfg.policy != NULL &&
	    dnsd_policy_load(&s->d, s->cfg.policy, err, sizeof(err)) != 0)
		fatal("%s", err);
	s->d.persist = on_persist;
	s->d.changed = on_changed;
	s->d.arg = s;
	if (check) {
		check_zones(s, true);
		int bad = 0;
		for (struct zone *z = s->d.zones; z; z = z->next)
			bad |= z->db == NULL;
		dnsd_free(&s->d);
		free(s->words);
		free(s->zwords);
		param_free(params, &s->cfg);
		return bad;
	}
	if (nlisten == 0)
		fatal("no address to listen on (listen)");
	s->git = git_in_worktree(s->cfg.zones);
	s->git_fd = -1;
	if (s->git && s->cfg.sandbox &&
	    (s->git_fd = git_helper_start(s->cfg.zones, err, sizeof(err))) < 0)
		fatal("%s", err);
	s->base = ev_base_new();
	check_zones(s, true);
	for (size_t i = 0; i < nlisten; i++) {
		int ufd = net_bind_udp(addrs[i], err, sizeof(err));
		if (ufd < 0)
			fatal("%s", err);
		int tfd = net_listen(addrs[i], err, sizeof(err));
		if (tfd < 0)
			fatal("%s", err);
		event_add(event_new(s->base, ufd, EV_READ | EV_PERSIST, on_udp, s),
		    NULL);
		event_add(event_new(s->base, tfd, EV_READ | EV_PERSIST, on_accept,
		    s), NULL);
		log_info(NULL, "listening on %s (udp, tcp)", addrs[i]);
	}
	ev_on_signals(s->base, on_stop, on_reload, s);
	s->timer = event_new(s->base, -1, EV_PERSIST, on_timer, s);
	struct timeval tv = { (time_t)s->cfg.reload_interval, 0 };
	event_add(s->timer, &tv);
	if (s->cfg.sandbox) {
		const char *rw[3] = { s->cfg.zones, s->cfg.state, NULL };
		const char *ro[] = { "/etc", "/usr/share/zoneinfo", NULL };
		static const uint16_t none[] = { 0 };
		struct sandbox sb = {
			.name = "ptt-dns", .ro_paths = ro, .rw_paths = rw,
			.bind_ports = none, .connect_ports = none,
			.groups = SB_FS_READ | SB_FS_WRITE | SB_NET_CONNECT,
			.user = s->cfg.user,
		};
		if (sandbox_enter(&sb, err, sizeof(err)) != 0)
			fatal("%s", err);
	}
	event_base_dispatch(s->base);
	log_info(NULL, "stopping");
	ev_free_signals();
	dnsd_free(&s->d);
	param_free(params, &s->cfg);
	free(s->words);
	free(s->zwords);
	return 0;
}
