/*
 * test_anchor.c - trust anchor files for the libunbound backend
 * (resolve.c): read when the resolver is created, one DS or DNSKEY record
 * a line, ';' comments and blank lines skipped (Debian's root.key form); a
 * file without anchors, with a bad or non-DS/DNSKEY record, or missing is
 * refused then; so is a bad trust_anchor text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "dns/resolve.h"
#include "util/log.h"
#include "../tap.h"

static const char *
try(struct event_base *base, const char *path)
{
	struct resolver_opts o;
	struct resolver *r;
	const char *err = NULL;

	memset(&o, 0, sizeof(o));
	o.trust_anchor_file = path;
	r = resolver_unbound_new(base, &o, &err);
	if (r == NULL)
		return err ? err : "?";
	resolver_free(r);
	return NULL;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
}

int
main(void)
{
	char dir[] = "/tmp/ptt-anchor-XXXXXX", path[100];
	struct event_base *base;
	const char *err;

	log_init("test_anchor");
	if (mkdtemp(dir) == NULL)
		return 1;
	base = event_base_new();
	snprintf(path, sizeof(path), "%s/anchors", dir);

	write_file(path, "; anchors\n\n"
	    "example.test. 3600 IN DS 2371 13 2 "
	    "1F987CC6583E92DF0890718C42E1B7ABE5F8E0AD3A2E7D2B0F0E3FB4A6E1E5A4 ; the KSK\n"
	    "  other.test. IN DS 1 13 2 "
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
	err = try(base, path);
	ok(err == NULL, "two DS lines with comments and blanks (%s)", err ? err : "");
	if (access("/usr/share/dns/root.key", R_OK) == 0) {
		err = try(base, "/usr/share/dns/root.key");
		ok(err == NULL, "Debian's root.key (%s)", err ? err : "");
	} else {
		ok(1, "# SKIP no /usr/share/dns/root.key");
	}
	write_file(path, "; nothing here\n\n");
	err = try(base, path);
	ok(err != NULL && strstr(err, "no trust anchor") != NULL,
	    "a file without anchors is refused (%s)", err ? err : "");
	write_file(path, "example.test. IN DS this is not a DS\n");
	err = try(base, path);
	ok(err != NULL && strstr(err, "bad record") != NULL,
	    "a bad record is refused (%s)", err ? err : "");
	write_file(path, "example.test. IN A 192.0.2.1\n");
	err = try(base, path);
	ok(err != NULL && strstr(err, "bad record") != NULL,
	    "a record other than DS/DNSKEY is refused (%s)", err ? err : "");
	{
		struct resolver_opts o;
		const char *e2 = NULL;
		memset(&o, 0, sizeof(o));
		struct resolver *r;
		o.trust_anchor = "example.test. IN DS 1 2 3";
		r = resolver_unbound_new(base, &o, &e2);
		ok(r == NULL && e2 != NULL,
		    "a bad trust_anchor text is refused (%s)", e2 ? e2 : "");
		resolver_free(r);
	}
	snprintf(path, sizeof(path), "%s/missing", dir);
	err = try(base, path);
	ok(err != NULL && strstr(err, "cannot read") != NULL,
	    "a missing file is refused at creation (%s)", err ? err : "");

	snprintf(path, sizeof(path), "%s/anchors", dir);
	unlink(path);
	rmdir(dir);
	event_base_free(base);
	return tap_done();
}
