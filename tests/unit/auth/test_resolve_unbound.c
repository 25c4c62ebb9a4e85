/*
 * test_resolve_unbound.c - the libunbound backend of dns/resolve.h against
 * a small authoritative server on 127.0.0.1 run inside this test (ldns
 * builds its answers), so no traffic leaves loopback and no daemon is
 * needed: OK answers of each type through the real packet path, CNAME
 * chains, NXDOMAIN, NODATA, SERVFAIL, a server that never answers (our
 * timeout), and a DNSSEC trust anchor the server cannot satisfy (BOGUS:
 * no data reaches the caller). The config-file option carries
 * `local-zone: "test." nodefault` (RFC 6761 names are blocked otherwise).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <ldns/ldns.h>

#include "dns/resolve.h"
#include "util/log.h"
#include "util/mem.h"
#include "../tap.h"

static struct event_base *base;
static int srv_fd;
static unsigned srv_queries;

static const char *zone[] = {
	"test. 300 IN SOA ns.test. host.test. 1 3600 600 86400 60",
	"example.test. 300 IN TXT \"v=spf1 \" \"-all\"",
	"example.test. 300 IN TXT \"second\"",
	"example.test. 300 IN MX 20 b.example.test.",
	"example.test. 300 IN MX 10 a.example.test.",
	"example.test. 300 IN A 192.0.2.1",
	"a.example.test. 300 IN A 192.0.2.10",
	"a.example.test. 300 IN AAAA 2001:db8::10",
	"alias.example.test. 300 IN CNAME a.example.test.",
	"_25._tcp.a.example.test. 300 IN TLSA 3 1 1 00112233",
	"10.2.0.192.in-addr.arpa. 300 IN PTR a.example.test.",
	"nullmx.test. 300 IN MX 0 .",
	"forged.example.test. 300 IN TXT \"real\"",
};

/* DNSSEC: "test." is signed with this key when a query sets DO. */
static ldns_key_list *keys;
static ldns_rr *dnskey;

static void
make_key(void)
{
	ldns_key *k = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);
	uint32_t now = (uint32_t)time(NULL);

	if (k == NULL)
		fatal("cannot make a DNSSEC key");
	ldns_key_set_pubkey_owner(k, ldns_dname_new_frm_str("test."));
	ldns_key_set_flags(k, 257);
	ldns_key_set_inception(k, now - 3600);
	ldns_key_set_expiration(k, now + 86400);
	keys = ldns_key_list_new();
	ldns_key_list_push_key(keys, k);
	dnskey = ldns_key2rr(k);
	ldns_key_set_keytag(k, ldns_calc_keytag(dnskey));
}

/* Append RRSIGs for every RRset of the answer section. The RRset of
 * forged.example.test gets the signature of different data (bogus). */
static void
sign_answer(ldns_pkt *resp)
{
	ldns_rr_list *ans = ldns_pkt_answer(resp);
	size_t n = ldns_rr_list_rr_count(ans);

	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(ans, i);
		ldns_rr_list *set, *sigs;
		bool first = true;

		for (size_t k = 0; k < i; k++) {
			ldns_rr *o = ldns_rr_list_rr(ans, k);

			if (ldns_rr_get_type(o) == ldns_rr_get_type(rr) &&
			    ldns_dname_compare(ldns_rr_owner(o),
			    ldns_rr_owner(rr)) == 0)
				first = false;
		}
		if (!first || ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG)
			continue;
		set = ldns_rr_list_new();
		for (size_t k = i; k < n; k++) {
			ldns_rr *o = ldns_rr_list_rr(ans, k);

			if (ldns_rr_get_type(o) == ldns_rr_get_type(rr) &&
			    ldns_dname_compare(ldns_rr_owner(o),
			    ldns_rr_owner(rr)) == 0)
				ldns_rr_list_push_rr(set, ldns_rr_clone(o));
		}
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_TXT) {
			char *owner = ldns_rdf2str(ldns_rr_owner(rr));

			if (strcmp(owner, "forged.example.test.") == 0) {
				ldns_rr *fake = NULL;

				ldns_rr_new_frm_str(&fake, "forged.example.test. "
				    "300 IN TXT \"other\"", 0, NULL, NULL);
				ldns_rr_list_deep_free(set);
				set = ldns_rr_list_new();
				ldns_rr_list_push_rr(set, fake);
			}
			free(owner);
		}
		sigs = ldns_sign_public(set, keys);
		for (size_t k = 0; sigs && k < ldns_rr_list_rr_count(sigs); k++)
			ldns_pkt_push_rr(resp, LDNS_SECTION_ANSWER,
			    ldns_rr_clone(ldns_rr_list_rr(sigs, k)));
		ldns_rr_list_deep_free(sigs);
		ldns_rr_list_deep_free(set);
	}
}

static void
add(ldns_pkt *resp, ldns_pkt_section sec, const char *text)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		fatal("bad test record %s", text);
	ldns_pkt_push_rr(resp, sec, rr);
}

/* Answer q for qname/qtype from zone[] (following one CNAME). */
static ldns_pkt_rcode
answer(ldns_pkt *resp, const char *qname, ldns_rr_type qtype)
{
	bool exists = false;
	char target[256];

	snprintf(target, sizeof(target), "%s", qname);
	if (qtype == LDNS_RR_TYPE_DNSKEY && strcasecmp(qname, "test.") == 0) {
		ldns_pkt_push_rr(resp, LDNS_SECTION_ANSWER, ldns_rr_clone(dnskey));
		return LDNS_RCODE_NOERROR;
	}
	for (int hop = 0; hop < 2; hop++) {
		bool cname = false;

		for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
			char owner[256], type[16];

			sscanf(zone[i], "%255s %*s %*s %15s", owner, type);
			if (strcasecmp(owner, target) != 0)
				continue;
			exists = true;
			if (ldns_get_rr_type_by_name(type) == qtype) {
				add(resp, LDNS_SECTION_ANSWER, zone[i]);
			} else if (strcmp(type, "CNAME") == 0) {
				add(resp, LDNS_SECTION_ANSWER, zone[i]);
				sscanf(zone[i], "%*s %*s %*s %*s %255s", target);
				cname = true;
			}
		}
		if (!cname)
			break;
	}
	if (ldns_pkt_ancount(resp) == 0)
		add(resp, LDNS_SECTION_AUTHORITY, zone[0]);
	return exists || strcasecmp(qname, "test.") == 0 ? LDNS_RCODE_NOERROR :
	    LDNS_RCODE_NXDOMAIN;
}

static void
srv_cb(evutil_socket_t fd, short what, void *arg)
{
	uint8_t buf[4096], *wire = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
	ldns_pkt *q = NULL, *resp;
	ldns_rr *question;
	char *qname;
	size_t wlen;

	(void)what;
	(void)arg;
	if (n <= 0 || ldns_wire2pkt(&q, buf, (size_t)n) != LDNS_STATUS_OK)
		return;
	srv_queries++;
	question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	qname = ldns_rdf2str(ldns_rr_owner(question));
	if (strncasecmp(qname, "silent.", 7) == 0) {
		free(qname);
		ldns_pkt_free(q);
		return;
	}
	resp = ldns_pkt_new();
	ldns_pkt_set_id(resp, ldns_pkt_id(q));
	ldns_pkt_set_qr(resp, true);
	ldns_pkt_set_aa(resp, true);
	ldns_pkt_set_rd(resp, ldns_pkt_rd(q));
	ldns_pkt_push_rr(resp, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
	if (strncasecmp(qname, "servfail.", 9) == 0)
		ldns_pkt_set_rcode(resp, LDNS_RCODE_SERVFAIL);
	else if (strcmp(qname, ".") == 0)	/* not authoritative (as Knot) */
		ldns_pkt_set_rcode(resp, LDNS_RCODE_REFUSED);
	else
		ldns_pkt_set_rcode(resp, answer(resp, qname,
		    ldns_rr_get_type(question)));
	if (ldns_pkt_edns_do(q)) {
		sign_answer(resp);
		ldns_pkt_set_edns_udp_size(resp, 1232);
		ldns_pkt_set_edns_do(resp, true);
	}
	if (ldns_pkt2wire(&wire, resp, &wlen) == LDNS_STATUS_OK)
		sendto(fd, wire, wlen, 0, (struct sockaddr *)&ss, sl);
	free(wire);
	free(qname);
	ldns_pkt_free(resp);
	ldns_pkt_free(q);
}

struct got {
	int calls;
	struct dns_result *res;
};

static void
got_cb(const struct dns_result *res, void *arg)
{
	struct got *g = arg;

	g->calls++;
	dns_result_free(g->res);
	g->res = dns_result_dup(res);
}

static struct got g;

static struct dns_result *
ask(struct resolver *r, const char *name, uint16_t type)
{
	g.calls = 0;
	resolve(r, name, type, got_cb, &g);
	while (g.calls == 0)
		event_base_loop(base, EVLOOP_ONCE);
	return g.res;
}

static struct resolver *
make(const char *stub, const char *conf, const char *ta, unsigned timeout)
{
	static const char *const zones[] = {
		"test.", "in-addr.arpa.", ".", NULL,
	};
	struct resolver_opts o = {
		.stub = stub, .stub_zones = zones, .config_file = conf,
		.trust_anchor = ta,
		.allow_localhost = true, .timeout_ms = timeout,
	};
	const char *err = NULL;
	struct resolver *r = resolver_unbound_new(base, &o, &err);

	if (r == NULL)
		printf("# resolver_unbound_new: %s\n", err);
	return r;
}

int
main(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct event *ev;
	char stub[64], conf[] = "/tmp/ptt-test-ub-XXXXXX";
	struct resolver *r;
	struct dns_result *res;
	int cfd;

	base = event_base_new();
	srv_fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(srv_fd, (struct sockaddr *)&sin, &sl) != 0) {
		printf("1..0 # SKIP cannot bind a UDP socket on 127.0.0.1\n");
		return 0;
	}
	evutil_make_socket_nonblocking(srv_fd);
	ev = event_new(base, srv_fd, EV_READ | EV_PERSIST, srv_cb, NULL);
	event_add(ev, NULL);
	snprintf(stub, sizeof(stub), "127.0.0.1:%u", ntohs(sin.sin_port));
	make_key();
	cfd = mkstemp(conf);
	if (cfd < 0)
		fatal("mkstemp");
	{
		static const char text[] = "server:\n"
		    "\tlocal-zone: \"test.\" nodefault\n"
		    "\tlocal-zone: \"2.0.192.in-addr.arpa.\" nodefault\n"
		    "\tqname-minimisation: no\n\tuse-syslog: no\n"
		    "\tverbosity: 0\n";

		if (write(cfd, text, sizeof(text) - 1) != sizeof(text) - 1)
			fatal("write %s", conf);
	}
	close(cfd);

	{
		const char *err = NULL;
		static const char *const z[] = { "test.", NULL };
		struct resolver_opts bad = { .stub = "not an address",
		    .stub_zones = z };
		struct resolver *none = resolver_unbound_new(base, &bad, &err);

		ok(none == NULL && err != NULL, "a bad stub address is refused: %s",
		    err ? err : "");
	}
	r = make(stub, conf, NULL, 5000);
	ok(r != NULL, "libunbound resolver on the event base");
	if (r == NULL)
		return tap_done();

	res = ask(r, "example.test", DNS_T_TXT);
	ok(res->status == DNS_OK && res->n == 2, "TXT: two records");
	ok(res->n == 2 && (strcmp(res->txt[0].s, "v=spf1 -all") == 0 ||
	    strcmp(res->txt[1].s, "v=spf1 -all") == 0), "TXT strings joined");
	is_int(res->sec, DNS_SEC_INSECURE, "no trust anchor: insecure");
	ok(res->ttl > 0 && res->ttl <= 300, "TTL carried (%u)", res->ttl);
	res = ask(r, "EXAMPLE.test.", DNS_T_MX);
	ok(res->n == 2 && res->mx[0].pref == 10 &&
	    strcmp(res->mx[0].host, "a.example.test") == 0, "MX sorted");
	res = ask(r, "a.example.test", DNS_T_A);
	ok(res->n == 1 && res->a[0].s_addr == htonl(0xc000020a), "A");
	res = ask(r, "a.example.test", DNS_T_AAAA);
	ok(res->n == 1 && res->aaaa[0].s6_addr[15] == 0x10, "AAAA");
	res = ask(r, "alias.example.test", DNS_T_A);
	ok(res->status == DNS_OK && res->n == 1, "CNAME chain answered");
	res = ask(r, "_25._tcp.a.example.test", DNS_T_TLSA);
	ok(res->n == 1 && res->tlsa[0].usage == 3 && res->tlsa[0].len == 4,
	    "TLSA");
	{
		uint8_t v4[4] = { 192, 0, 2, 10 };

		g.calls = 0;
		resolve_ptr(r, AF_INET, v4, got_cb, &g);
		while (g.calls == 0)
			event_base_loop(base, EVLOOP_ONCE);
		ok(g.res->n == 1 && strcmp(g.res->ptr[0], "a.example.test") == 0,
		    "PTR");
	}
	res = ask(r, "nullmx.test", DNS_T_MX);
	ok(res->n == 1 && res->mx[0].host[0] == '\0', "null MX");
	res = ask(r, "example.test", DNS_T_AAAA);
	is_int(res->status, DNS_NODATA, "NODATA");
	res = ask(r, "nowhere.example.test", DNS_T_A);
	is_int(res->status, DNS_NXDOMAIN, "NXDOMAIN");
	res = ask(r, "servfail.test", DNS_T_TXT);
	is_int(res->status, DNS_TEMPFAIL, "SERVFAIL: TEMPFAIL");
	ok(srv_queries > 0, "the loopback server was asked (%u)", srv_queries);
	{
		struct got c = { 0 };
		struct dns_query *q = resolve_txt(r, "example.test", got_cb, &c);

		resolve_cancel(q);
		event_base_loop(base, EVLOOP_NONBLOCK);
		is_int(c.calls, 0, "cancelled query never calls back");
	}
	resolver_free(r);

	/* A server that never answers: our own timeout. */
	r = make(stub, conf, NULL, 300);
	res = ask(r, "silent.test", DNS_T_A);
	ok(res->status == DNS_TEMPFAIL && res->why &&
	    strcmp(res->why, "timeout") == 0, "no answer: TEMPFAIL (timeout)");
	resolver_free(r);

	/* A stub without zone names (as the relay configures it). */
	{
		struct resolver_opts o = { .stub = stub, .config_file = conf,
		    .allow_localhost = true };
		const char *err = NULL;

		r = resolver_unbound_new(base, &o, &err);
		res = ask(r, "example.test", DNS_T_MX);
		ok(res->status == DNS_OK && res->n == 2,
		    "stub without stub_zones answers");
		resolver_free(r);
	}

	/* Forwarding (to the same server), address as addr@port. */
	{
		struct resolver_opts o = { .forward = NULL, .config_file = conf,
		    .allow_localhost = true };
		char fwd[64];
		const char *err = NULL;

		snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", ntohs(sin.sin_port));
		o.forward = fwd;
		r = resolver_unbound_new(base, &o, &err);
		ok(r != NULL, "forwarding resolver");
		res = ask(r, "a.example.test", DNS_T_A);
		ok(res->status == DNS_OK && res->n == 1, "answer through a forwarder");
		resolver_free(r);
	}

	/* The zone signed, the DNSKEY as trust anchor: secure; a signature
	 * over other data: bogus, and no data. */
	{
		char *ta = ldns_rr2str(dnskey);

		r = make(stub, conf, ta, 5000);
		res = ask(r, "example.test", DNS_T_TXT);
		ok(res->status == DNS_OK && res->sec == DNS_SEC_SECURE &&
		    res->n == 2, "signed answer validated: SECURE");
		res = ask(r, "a.example.test", DNS_T_AAAA);
		ok(res->status == DNS_OK && res->sec == DNS_SEC_SECURE,
		    "AAAA: SECURE");
		res = ask(r, "forged.example.test", DNS_T_TXT);
		ok(res->status == DNS_BOGUS && res->n == 0 && res->txt == NULL,
		    "bad signature: BOGUS without data");
		resolver_free(r);
		free(ta);
	}

	/* A trust anchor the unsigned zone cannot satisfy: bogus, no data. */
	r = make(stub, conf, "test. 3600 IN DS 12345 13 2 "
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    5000);
	res = ask(r, "example.test", DNS_T_TXT);
	ok(res->status == DNS_BOGUS && res->sec == DNS_SEC_BOGUS &&
	    res->n == 0 && res->txt == NULL,
	    "unsigned answer under a trust anchor: BOGUS without data");
	resolver_free(r);

	dns_result_free(g.res);
	ldns_key_list_free(keys);
	ldns_rr_free(dnskey);
	unlink(conf);
	event_free(ev);
	close(srv_fd);
	event_base_free(base);
	return tap_done();
}
