/*
 * test_uconf.c - ptt-resolver's unbound.conf (src/resolver/uconf.c):
 * production shape (roots only, RFC 5011 anchor in the state dir, DoT,
 * loopback only), stub mode (stub zones, "." to the first primary, the
 * RFC 6761 TLD opened once, anchors), and refusal of values that could add
 * directives of their own or do not parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/uconf.h"
#include "util/buf.h"
#include "../tap.h"

static struct uconf
defaults(void)
{
	struct uconf c;
	char err[256];

	memset(&c, 0, sizeof(c));
	if (param_defaults(uconf_params, &c, err, sizeof(err)) != 0) {
		printf("Bail out! defaults: %s\n", err);
		exit(1);
	}
	return c;
}

static int
render(struct uconf *c, struct buf *b, char *err, size_t errlen)
{
	buf_reset(b);
	return uconf_render(c, "/st/resolver", "/st/tls/resolver.pem",
	    "/st/tls/resolver.key", b, err, errlen);
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
set(struct uconf *c, const char *name, const char *v)
{
	char err[256];

	if (param_set(uconf_params, c, name, v, err, sizeof(err)) != 0)
		printf("# param_set %s: %s\n", name, err);
}

int
main(void)
{
	struct uconf c = defaults();
	struct buf b;
	char err[256], zone[300], addr[200];
	int r;

	buf_init(&b, 1 << 20);
	r = render(&c, &b, err, sizeof(err));
	buf_addc(&b, '\0');
	is_int(r, 0, "defaults render");
	ok(strstr(b.data, "directory: \"/st/resolver\"\n") != NULL &&
	    strstr(b.data, "auto-trust-anchor-file: \"root.key\"\n") != NULL,
	    "root anchor kept up to date by unbound in the state dir (relative)");
	ok(strstr(b.data, "username: \"unbound\"\n") != NULL, "drops to unbound");
	ok(strstr(b.data, "interface: 127.0.0.1@10053\n") != NULL &&
	    strstr(b.data, "interface: 127.0.0.1@10853\n") != NULL &&
	    strstr(b.data, "tls-port: 10853\n") != NULL, "plain and DoT listeners");
	ok(strstr(b.data, "tls-service-pem: \"/st/tls/resolver.pem\"") != NULL &&
	    strstr(b.data, "tls-service-key: \"/st/tls/resolver.key\"") != NULL,
	    "the internal certificate for DoT");
	ok(strstr(b.data, "access-control: 0.0.0.0/0 refuse") != NULL &&
	    strstr(b.data, "access-control: 127.0.0.0/8 allow") != NULL &&
	    count(b.data, " allow\n") == 2, "loopback only");
	ok(strstr(b.data, "forward-zone") == NULL && strstr(b.data, "stub-zone") == NULL,
	    "no forwarder, no stub: recursion from the roots");
	ok(strstr(b.data, "module-config: \"validator iterator\"") != NULL,
	    "validating");
	ok(strstr(b.data, "do-not-query-localhost: no") == NULL,
	    "production keeps do-not-query-localhost");

	set(&c, "stub", "example.test@127.0.0.1:5300 other.test@[::1]:5301 example.org@127.0.0.2:53");
	set(&c, "trust_anchor", "example.test.\t3600\tIN\tDS\t1 13 2 AB");
	set(&c, "domain_insecure", "other.test");
	r = render(&c, &b, err, sizeof(err));
	buf_addc(&b, '\0');
	is_int(r, 0, "stub mode renders");
	ok(strstr(b.data, "stub-zone:\n    name: \"example.test.\"\n    stub-addr: 127.0.0.1@5300\n") != NULL,
	    "stub zone example.test.");
	ok(strstr(b.data, "stub-addr: ::1@5301\n") != NULL, "IPv6 stub address");
	ok(strstr(b.data, "stub-zone:\n    name: \".\"\n    stub-addr: 127.0.0.1@5300\n") != NULL,
	    "\".\" goes to the first primary (never the real roots)");
	is_int(count(b.data, "local-zone: \"test.\" nodefault"), 1,
	    "the RFC 6761 TLD opened once");
	is_int(count(b.data, "local-zone:"), 1, "no local-zone for example.org");
	ok(strstr(b.data, "auto-trust-anchor-file") == NULL,
	    "no root anchor with stubs");
	ok(strstr(b.data, "trust-anchor: \"example.test.\t3600\tIN\tDS\t1 13 2 AB\"") != NULL,
	    "zone anchor (tabs kept)");
	ok(strstr(b.data, "domain-insecure: \"other.test.\"") != NULL, "domain-insecure");
	ok(strstr(b.data, "do-not-query-localhost: no") != NULL, "loopback primary allowed");

	set(&c, "trust_anchor", "x\"\nserver:\n forward-zone");
	r = render(&c, &b, err, sizeof(err));
	ok(r != 0 && strstr(err, "quote") != NULL, "a quote in a value is refused (%s)", err);
	set(&c, "trust_anchor", "");
	set(&c, "stub", "example.test@127.0.0.1");
	ok(render(&c, &b, err, sizeof(err)) != 0, "stub without a port refused (%s)", err);
	set(&c, "stub", "exa\"mple.test@127.0.0.1:53");
	ok(render(&c, &b, err, sizeof(err)) != 0, "stub zone with a quote refused");
	set(&c, "stub", "a..b@127.0.0.1:53");
	ok(render(&c, &b, err, sizeof(err)) != 0, "empty label refused");
	set(&c, "stub", "");
	set(&c, "listen_tls", "127.0.0.1:99999");
	ok(render(&c, &b, err, sizeof(err)) != 0, "bad port refused (%s)", err);
	set(&c, "listen_tls", "");
	set(&c, "listen", "");
	ok(render(&c, &b, err, sizeof(err)) != 0, "no listener at all refused");

	is_int(uconf_parse_stub("Example.TEST.@127.0.0.1:53", 26, zone, sizeof(zone),
	    addr, sizeof(addr)), 0, "parse a stub item");
	is_str(zone, "Example.TEST.", "zone kept absolute");
	is_str(addr, "127.0.0.1@53", "unbound address form");
	is_int(uconf_parse_stub(".@127.0.0.1:53", 14, zone, sizeof(zone), addr,
	    sizeof(addr)), 0, "the root as a stub");
	is_str(zone, ".", "root zone");

	buf_free(&b);
	param_free(uconf_params, &c);
	return tap_done();
}
