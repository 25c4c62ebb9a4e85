/*
 * cmd_dns.c - the domain's DNS records: `ptt spf`, `ptt dns-records` and
 * `ptt dns-check`.
 *
 *	ptt spf [--ip ADDR[/LEN]]... [--key FILE] [--primary HOST:PORT]
 *	ptt dns-records [--zone]
 *	ptt dns-check [--dns HOST:PORT [--dns-config FILE]]
 *
 * What the domain needs comes from ptt.conf (global `domain`, and the
 * [zone] section below), from the zone file the configuration repository
 * holds for it (zones/DOMAIN.zone: the SPF and DKIM records that ptt spf
 * and the signer published there through ptt-dns, which commits each
 * update), from the mx's certificate (TLSA 3 1 1, RFC 7672 3.1) and from
 * the primary's DNSKEY (DS, RFC 4034 5, SHA-256). No private key is read.
 *
 * ptt spf publishes one SPF record (RFC 7208 3.2: never two) by one
 * TSIG-signed UPDATE (RFC 2136, RFC 8945): its prerequisite is the apex TXT
 * RRset as the primary serves it now, it deletes every v=spf1 record of
 * that set and adds the new one, so a concurrent change makes it fail
 * instead of leaving two. dns-records prints zone-file lines (RFC 1035
 * 5.1), with --zone a whole zone (SOA first) that ptt-dns can serve.
 * dns-check asks the resolver (by default ptt-resolver over DNS over TLS,
 * verified with the internal CA) for each record and prints ok, missing,
 * different (with both values) or failed; exit 0 only when all are ok.
 *
 * Standards: RFC 7208 (SPF), RFC 6376 3.6 (DKIM keys), RFC 7489 6.1
 * (DMARC), RFC 6698/7672 (TLSA), RFC 8461 3.1 (MTA-STS), RFC 8460 3
 * (TLS-RPT), RFC 4034 5.1 (DS).
 * Trusts: ptt.conf through its parameter table; the zone file, the
 * primary's answers and the resolver's answers are parsed by ldns and
 * resolve.c and only compared and printed (escaped).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <ldns/ldns.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf/ca.h"
#include "conf/global.h"
#include "conf/repo.h"
#include "conf/state.h"
#include "dns/resolve.h"
#include "dns/tsig.h"
#include "dns/update.h"
#include "ptt/cmd.h"
#include "util/buf.h"
#include "util/ev.h"
#include "util/mem.h"
#include "util/net.h"
#include "util/param.h"

/* ptt.conf [zone]: what the domain publishes. */
struct zcfg {
	char *primary;
	char *tsig_key;
	char *mail_host;
	char *mail_ipv4, *mail_ipv6;
	char *ns;
	char *ns_ipv4, *ns_ipv6;
	char *dmarc;
	char *mx_cert;
	bool dnssec;
	int mta_sts;
	char *mta_sts_id;
	char *tls_rpt;
	long long ttl;
	char *resolver;
};

enum { STS_OFF, STS_TESTING, STS_ENFORCE };

#define O(f) offsetof(struct zcfg, f)
static const struct param zone_params[] = {
	{ "primary", PARAM_STR, "127.0.0.1:53", 0, 0, NULL, O(primary),
	  "The primary (ptt-dns) that takes signed updates: HOST:PORT." },
	{ "tsig_key", PARAM_STR, "", 0, 0, NULL, O(tsig_key),
	  "TSIG key file for ptt spf (empty: STATE/tsig/ptt.key), name:hmac-sha256:secret, 0600." },
	{ "mail_host", PARAM_STR, "", 0, 0, NULL, O(mail_host),
	  "Name of the mail host: the MX target and TLSA owner (empty: mx.DOMAIN)." },
	{ "mail_ipv4", PARAM_STR, "", 0, 0, NULL, O(mail_ipv4),
	  "Its IPv4 addresses (space-separated): A records and the default SPF." },
	{ "mail_ipv6", PARAM_STR, "", 0, 0, NULL, O(mail_ipv6),
	  "Its IPv6 addresses (space-separated): AAAA records and the default SPF." },
	{ "ns", PARAM_STR, "", 0, 0, NULL, O(ns),
	  "Name servers of the zone (space-separated; empty: ns1.DOMAIN)." },
	{ "ns_ipv4", PARAM_STR, "", 0, 0, NULL, O(ns_ipv4),
	  "Glue IPv4 addresses of name servers inside the zone (empty: mail_ipv4)." },
	{ "ns_ipv6", PARAM_STR, "", 0, 0, NULL, O(ns_ipv6),
	  "Glue IPv6 addresses of name servers inside the zone (empty: mail_ipv6)." },
	{ "dmarc", PARAM_STR, "", 0, 0, NULL, O(dmarc),
	  "The DMARC record (empty: v=DMARC1; p=reject; rua=mailto:postmaster@DOMAIN)." },
	{ "mx_cert", PARAM_STR, "", 0, 0, NULL, O(mx_cert),
	  "The mx's public certificate (PEM): TLSA 3 1 1 of its key (empty: no TLSA)." },
	{ "dnssec", PARAM_BOOL, "no", 0, 0, NULL, O(dnssec),
	  "The primary signs the zone: print the DS for the parent." },
	{ "mta_sts", PARAM_ENUM, "off", 0, 0, "off|testing|enforce", O(mta_sts),
	  "MTA-STS (RFC 8461) mode: off publishes nothing." },
	{ "mta_sts_id", PARAM_STR, "", 0, 0, NULL, O(mta_sts_id),
	  "MTA-STS policy id (empty: derived from the mode and the mail host)." },
	{ "tls_rpt", PARAM_STR, "", 0, 0, NULL, O(tls_rpt),
	  "TLS-RPT (RFC 8460) rua, e.g. mailto:tlsrpt@DOMAIN (empty: none)." },
	{ "ttl", PARAM_TIME, "1h", 1, 604800, NULL, O(ttl),
	  "TTL of the records." },
	{ "resolver", PARAM_STR, "127.0.0.1:10853", 0, 0, NULL, O(resolver),
	  "ptt-resolver's DNS over TLS address, used by ptt dns-check." },
	PARAM_END
};

enum match { M_EXACT, M_PREFIX, M_NONE };

struct rec {
	char *name;		/* absolute, lowercase, with the dot */
	uint16_t type;		/* DNS_T_* or 43 (DS) */
	char *data;		/* compare form: TXT unquoted, absolute
				 * lowercase names, MX "pref host." */
	char *text;		/* zone-file rdata */
	const char *label;
	enum match match;
	const char *prefix;	/* M_PREFIX: "v=spf1" etc. */
	/* dns-check */
	char *have;
	int verdict;
};

enum { V_OK, V_MISSING, V_DIFFERENT, V_FAILED, V_SKIPPED };

#define T_DS 43

struct recs {
	struct rec *v;
	size_t n;
};

struct zctx {
	const struct ptt_ctx *ctx;
	struct conf_repo *repo;
	struct conf_global g;
	struct zcfg z;
	char domain[256];	/* absolute, lowercase */
	char host[300];		/* mail host, absolute */
};

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* name made absolute and lowercase into out. */
static void
absname(const char *name, char *out, size_t outlen)
{
	ptt_strlcpy(out, name, outlen);
	lower(out);
	if (out[0] && out[strlen(out) - 1] != '.')
		ptt_strlcat(out, ".", outlen);
}

/* TXT rdata in zone-file form: quoted strings of at most 255 octets,
 * '"' and '\' escaped, other bytes outside printable ASCII as \DDD. */
static void
txt_text(const char *s, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len || i == 0; i += 255) {
		size_t end = len - i < 255 ? len : i + 255;
		buf_adds(out, i ? " \"" : "\"");
		for (size_t j = i; j < end; j++) {
			unsigned char c = (unsigned char)s[j];
			if (c == '"' || c == '\\')
				buf_addf(out, "\\%c", c);
			else if (c < 0x20 || c > 0x7e)
				buf_addf(out, "\\%03u", c);
			else
				buf_addc(out, (char)c);
		}
		buf_addc(out, '"');
		if (len == 0)
			break;
	}
}

static struct rec *
rec_add(struct recs *rs, const char *name, uint16_t type, const char *data,
    const char *label, enum match m, const char *prefix)
{
	struct rec *r;
	struct buf t;
	char n[300];

	rs->v = xreallocarray(rs->v, rs->n + 1, sizeof(*rs->v));
	r = &rs->v[rs->n++];
	memset(r, 0, sizeof(*r));
	absname(name, n, sizeof(n));
	r->name = xstrdup(n);
	r->type = type;
	r->data = xstrdup(data);
	r->label = label;
	r->match = m;
	r->prefix = prefix;
	buf_init(&t, 0);
	if (type == DNS_T_TXT)
		txt_text(data, strlen(data), &t);
	else
		buf_adds(&t, data);
	r->text = buf_steal(&t, NULL);
	return r;
}

static void
recs_free(struct recs *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->v[i].name);
		free(rs->v[i].data);
		free(rs->v[i].text);
		free(rs->v[i].have);
	}
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
}

/* The next space-separated word of *p into w, or false. */
static bool
next_word(const char **p, char *w, size_t wlen)
{
	const char *s = *p + strspn(*p, " \t,");
	size_t n = strcspn(s, " \t,");

	if (n == 0)
		return false;
	if (n >= wlen)
		n = wlen - 1;
	memcpy(w, s, n);
	w[n] = '\0';
	*p = s + strcspn(s, " \t,");
	return true;
}

/* name is the zone's apex or below it. */
static bool
in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	return n == z ? strcmp(name, zone) == 0 :
	    n > z && name[n - z - 1] == '.' && strcmp(name + n - z, zone) == 0;
}

static bool
starts_tag(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncasecmp(s, prefix, n) == 0 && (s[n] == ' ' || s[n] == ';' ||
	    s[n] == '\0');
}

/* ---- configuration ---- */

static int
zctx_open(const struct ptt_ctx *ctx, struct zctx *c)
{
	char err[512];
	int ret;

	memset(c, 0, sizeof(*c));
	c->ctx = ctx;
	if ((ret = ctx_open_repo(ctx, &c->repo)) != 0)
		return ret;
	if (conf_global_load(c->repo, NULL, &c->g, err, sizeof(err)) != 0 ||
	    conf_params_load(c->repo, NULL, zone_params, &c->z, "zone", err,
	    sizeof(err)) != 0) {
		say("%s", err);
		return PTT_EXIT_FAIL;
	}
	absname(c->g.domain, c->domain, sizeof(c->domain));
	if (c->z.mail_host[0])
		absname(c->z.mail_host, c->host, sizeof(c->host));
	else
		snprintf(c->host, sizeof(c->host), "mx.%s", c->domain);
	return PTT_EXIT_OK;
}

static void
zctx_close(struct zctx *c)
{
	param_free(zone_params, &c->z);
	conf_global_free(&c->g);
	if (c->repo)
		conf_repo_close(c->repo);
}

/* The joined character-strings of a TXT RR (ldns), malloc'd. */
static char *
ldns_txt_join(const ldns_rr *rr, size_t *lenp)
{
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		const uint8_t *d = ldns_rdf_data(f);
		size_t sz = ldns_rdf_size(f);
		if (sz >= 1 && (size_t)d[0] + 1 <= sz)
			buf_add(&b, d + 1, d[0]);
	}
	buf_addc(&b, '\0');
	{
		size_t n = 0;
		char *out = buf_steal(&b, &n);
		*lenp = n - 1;		/* without the NUL */
		return out;
	}
}

/*
 * The records of zones/DOMAIN.zone in the repository: every DKIM key
 * (TXT under _domainkey) and the apex SPF record go to rs. A missing file
 * is not an error (the zone may live elsewhere).
 */
static void
repo_zone_records(struct zctx *c, struct recs *rs, bool *have_spf)
{
	char path[400], dk[300];
	char *text = NULL;
	size_t len = 0;
	ldns_zone *zone = NULL;
	ldns_rdf *origin = NULL;
	FILE *f;
	int line = 0;

	*have_spf = false;
	snprintf(path, sizeof(path), "zones/%.*s.zone",
	    (int)strlen(c->domain) - 1, c->domain);
	if (conf_repo_read(c->repo, NULL, path, CONF_BLOB_MAX, &text, &len) != 0)
		return;
	snprintf(dk, sizeof(dk), "_domainkey.%s", c->domain);
	f = fmemopen(text, len, "r");
	origin = ldns_dname_new_frm_str(c->domain);
	if (f == NULL || origin == NULL || ldns_zone_new_frm_fp_l(&zone, f,
	    origin, (uint32_t)c->z.ttl, LDNS_RR_CLASS_IN, &line) !=
	    LDNS_STATUS_OK) {
		say("warning: %s in the repository does not parse (line %d)",
		    path, line);
		goto out;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(zone)); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ldns_zone_rrs(zone), i);
		char *owner;
		char *txt;
		size_t tl;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT)
			continue;
		owner = ldns_rdf2str(ldns_rr_owner(rr));
		if (owner == NULL)
			continue;
		lower(owner);
		txt = ldns_txt_join(rr, &tl);
		if (strlen(txt) == tl && in_zone(owner, dk) &&
		    strcmp(owner, dk) != 0 && starts_tag(txt, "v=DKIM1"))
			rec_add(rs, owner, DNS_T_TXT, txt, "DKIM", M_EXACT,
			    NULL);
		else if (strlen(txt) == tl && strcmp(owner, c->domain) == 0 &&
		    starts_tag(txt, "v=spf1") && !*have_spf) {
			rec_add(rs, owner, DNS_T_TXT, txt, "SPF", M_PREFIX,
			    "v=spf1");
			*have_spf = true;
		}
		free(txt);
		free(owner);
	}
out:
	if (zone)
		ldns_zone_deep_free(zone);
	if (origin)
		ldns_rdf_deep_free(origin);
	if (f)
		fclose(f);
	free(text);
}

/* The SPF record for addrs (space-separated, "ADDR[/LEN]"); 0 or
 * PTT_EXIT_USAGE for a bad address. */
static int
spf_build(const char *const *ips, size_t nips, struct buf *out)
{
	buf_adds(out, "v=spf1");
	for (size_t i = 0; i < nips; i++) {
		char a[INET6_ADDRSTRLEN + 8], *slash;
		unsigned char bin[16];
		int af;
		long len = -1;

		ptt_strlcpy(a, ips[i], sizeof(a));
		if ((slash = strchr(a, '/')) != NULL) {
			char *end;
			*slash = '\0';
			len = strtol(slash + 1, &end, 10);
			if (*end != '\0' || slash[1] == '\0')
				return PTT_EXIT_USAGE;
		}
		af = strchr(a, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(af, a, bin) != 1 || len > (af == AF_INET ? 32 : 128))
			return PTT_EXIT_USAGE;
		inet_ntop(af, bin, a, sizeof(a));
		buf_addf(out, " %s:%s", af == AF_INET ? "ip4" : "ip6", a);
		if (len >= 0)
			buf_addf(out, "/%ld", len);
	}
	buf_adds(out, nips ? " -all" : " mx -all");
	return 0;
}

/* The configured mail addresses as a list for spf_build. */
static size_t
mail_ips(const struct zcfg *z, char ips[][INET6_ADDRSTRLEN + 8], size_t max)
{
	const char *lists[2] = { z->mail_ipv4, z->mail_ipv6 };
	size_t n = 0;

	for (int l = 0; l < 2; l++)
		for (const char *p = lists[l]; n < max &&
		    next_word(&p, ips[n], INET6_ADDRSTRLEN + 8);)
			n++;
	return n;
}

/* A/AAAA records for name from the two address lists. */
static int
add_addrs(struct recs *rs, const char *name, const char *v4, const char *v6,
    const char *label)
{
	char w[INET6_ADDRSTRLEN + 8], txt[INET6_ADDRSTRLEN];
	unsigned char bin[16];

	for (const char *p = v4; next_word(&p, w, sizeof(w));) {
		if (inet_pton(AF_INET, w, bin) != 1) {
			say("[zone]: \"%s\" is not an IPv4 address", w);
			return PTT_EXIT_FAIL;
		}
		inet_ntop(AF_INET, bin, txt, sizeof(txt));
		rec_add(rs, name, DNS_T_A, txt, label, M_EXACT, NULL);
	}
	for (const char *p = v6; next_word(&p, w, sizeof(w));) {
		if (inet_pton(AF_INET6, w, bin) != 1) {
			say("[zone]: \"%s\" is not an IPv6 address", w);
			return PTT_EXIT_FAIL;
		}
		inet_ntop(AF_INET6, bin, txt, sizeof(txt));
		rec_add(rs, name, DNS_T_AAAA, txt, label, M_EXACT, NULL);
	}
	return PTT_EXIT_OK;
}

/* TLSA 3 1 1 (DANE-EE, SPKI, SHA-256) of a PEM certificate's key. */
static int
tlsa_311(const char *file, char *out, size_t outlen)
{
	FILE *f = fopen(file, "r");
	X509 *x;
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	int len;

	if (f == NULL)
		return -1;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return -1;
	len = i2d_PUBKEY(X509_get0_pubkey(x), &der);
	X509_free(x);
	if (len <= 0 || EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
	    NULL) != 1 || outlen < 8 + 2 * sizeof(md)) {
		OPENSSL_free(der);
		return -1;
	}
	OPENSSL_free(der);
	snprintf(out, outlen, "3 1 1 ");
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 6 + 2 * i, outlen - 6 - 2 * i, "%02x", md[i]);
	return 0;
}

/* One query to the primary (TCP, not recursive). NULL on failure. */
static ldns_pkt *
primary_query(const char *primary, const char *name, ldns_rr_type type)
{
	char host[128], port[16];
	ldns_resolver *res = ldns_resolver_new();
	ldns_rdf *ns = NULL, *qn = NULL;
	ldns_pkt *pkt = NULL;
	struct timeval tv = { 5, 0 };

	if (res == NULL || net_split_hostport(primary, host,
	    sizeof(host), port, sizeof(port)) != 0)
		goto out;
	ns = ldns_rdf_new_frm_str(strchr(host, ':') ? LDNS_RDF_TYPE_AAAA :
	    LDNS_RDF_TYPE_A, host);
	qn = ldns_dname_new_frm_str(name);
	if (ns == NULL || qn == NULL ||
	    ldns_resolver_push_nameserver(res, ns) != LDNS_STATUS_OK)
		goto out;
	ldns_resolver_set_port(res, (uint16_t)atoi(port));
	ldns_resolver_set_usevc(res, true);
	ldns_resolver_set_recursive(res, false);
	ldns_resolver_set_retry(res, 1);
	ldns_resolver_set_timeout(res, tv);
	pkt = ldns_resolver_query(res, qn, type, LDNS_RR_CLASS_IN, 0);
	if (pkt && ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR &&
	    ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NXDOMAIN) {
		ldns_pkt_free(pkt);
		pkt = NULL;
	}
out:
	if (ns)
		ldns_rdf_deep_free(ns);
	if (qn)
		ldns_rdf_deep_free(qn);
	if (res)
		ldns_resolver_deep_free(res);
	return pkt;
}

/* The DS (SHA-256) of each key-signing DNSKEY the primary serves. */
static void
add_ds(struct zctx *c, struct recs *rs)
{
	ldns_pkt *pkt = primary_query(c->z.primary, c->domain,
	    LDNS_RR_TYPE_DNSKEY);
	ldns_rr_list *keys = pkt ? ldns_pkt_rr_list_by_type(pkt,
	    LDNS_RR_TYPE_DNSKEY, LDNS_SECTION_ANSWER) : NULL;
	size_t n = keys ? ldns_rr_list_rr_count(keys) : 0;
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		ldns_rr *k = ldns_rr_list_rr(keys, i);
		ldns_rr *ds;
		struct buf t;

		if (!(ldns_rdf2native_int16(ldns_rr_rdf(k, 0)) & LDNS_KEY_SEP_KEY))
			continue;
		if ((ds = ldns_key_rr2ds(k, LDNS_SHA256)) == NULL)
			continue;
		buf_init(&t, 0);
		for (size_t j = 0; j < ldns_rr_rd_count(ds); j++) {
			char *f = ldns_rdf2str(ldns_rr_rdf(ds, j));
			if (f != NULL)
				buf_addf(&t, "%s%s", j ? " " : "", f);
			free(f);
		}
		buf_addc(&t, '\0');
		lower(t.data);
		rec_add(rs, c->domain, T_DS, t.data, "DS (for the parent zone)",
		    M_NONE, NULL);
		buf_free(&t);
		ldns_rr_free(ds);
		any = true;
	}
	if (keys)
		ldns_rr_list_deep_free(keys);
	if (pkt)
		ldns_pkt_free(pkt);
	if (!any)
		say("warning: dnssec = yes but %s serves no key-signing DNSKEY "
		    "for %s: no DS", c->z.primary, c->domain);
}

/* Every record the domain needs, in print order. */
static int
build_records(struct zctx *c, struct recs *rs)
{
	char name[700], w[300], ips[16][INET6_ADDRSTRLEN + 8];
	const char *p;
	struct recs zonerecs = { NULL, 0 };
	bool have_spf = false;
	int ret;

	/* NS and the glue of those inside the zone */
	p = c->z.ns[0] ? c->z.ns : "";
	if (c->z.ns[0] == '\0') {
		snprintf(name, sizeof(name), "ns1.%s", c->domain);
		rec_add(rs, c->domain, DNS_T_NS, name, "NS", M_EXACT, NULL);
	}
	while (next_word(&p, w, sizeof(w))) {
		absname(w, name, sizeof(name));
		rec_add(rs, c->domain, DNS_T_NS, name, "NS", M_EXACT, NULL);
	}
	for (size_t i = 0, n = rs->n; i < n; i++) {
		if (!in_zone(rs->v[i].data[0] ? rs->v[i].data : "", c->domain))
			continue;
		if ((ret = add_addrs(rs, rs->v[i].data,
		    c->z.ns_ipv4[0] ? c->z.ns_ipv4 : c->z.mail_ipv4,
		    c->z.ns_ipv6[0] ? c->z.ns_ipv6 : c->z.mail_ipv6,
		    "NS glue")) != 0)
			return ret;
	}
	/* the mail host */
	if (in_zone(c->host, c->domain) && (ret = add_addrs(rs, c->host,
	    c->z.mail_ipv4, c->z.mail_ipv6, "mail host")) != 0)
		return ret;
	snprintf(name, sizeof(name), "10 %s", c->host);
	rec_add(rs, c->domain, DNS_T_MX, name, "MX", M_EXACT, NULL);

	/* SPF and DKIM as published in the repository's zone */
	repo_zone_records(c, &zonerecs, &have_spf);
	for (size_t i = 0; i < zonerecs.n; i++)
		if (strcmp(zonerecs.v[i].label, "SPF") == 0)
			rec_add(rs, zonerecs.v[i].name, DNS_T_TXT,
			    zonerecs.v[i].data, "SPF", M_PREFIX, "v=spf1");
	if (!have_spf) {
		const char *ipp[16];
		size_t n = mail_ips(&c->z, ips, 16);
		struct buf spf;

		for (size_t i = 0; i < n; i++)
			ipp[i] = ips[i];
		buf_init(&spf, 0);
		if (spf_build(ipp, n, &spf) != 0) {
			say("[zone]: a mail address is not an IP address");
			buf_free(&spf);
			recs_free(&zonerecs);
			return PTT_EXIT_FAIL;
		}
		buf_addc(&spf, '\0');
		rec_add(rs, c->domain, DNS_T_TXT, spf.data, "SPF", M_PREFIX,
		    "v=spf1");
		buf_free(&spf);
	}
	for (size_t i = 0; i < zonerecs.n; i++)
		if (strcmp(zonerecs.v[i].label, "DKIM") == 0)
			rec_add(rs, zonerecs.v[i].name, DNS_T_TXT,
			    zonerecs.v[i].data, "DKIM", M_EXACT, NULL);
	recs_free(&zonerecs);

	/* DMARC */
	snprintf(name, sizeof(name), "_dmarc.%s", c->domain);
	if (c->z.dmarc[0]) {
		rec_add(rs, name, DNS_T_TXT, c->z.dmarc, "DMARC", M_PREFIX,
		    "v=DMARC1");
	} else {
		char d[400];
		snprintf(d, sizeof(d), "v=DMARC1; p=reject; rua=mailto:"
		    "postmaster@%.*s", (int)strlen(c->domain) - 1, c->domain);
		rec_add(rs, name, DNS_T_TXT, d, "DMARC", M_PREFIX, "v=DMARC1");
	}

	/* TLSA for DANE (RFC 7672): SMTP on port 25 of the mail host */
	if (c->z.mx_cert[0]) {
		char t[100];
		if (tlsa_311(c->z.mx_cert, t, sizeof(t)) != 0) {
			say("mx_cert %s: not a readable PEM certificate",
			    c->z.mx_cert);
			return PTT_EXIT_FAIL;
		}
		snprintf(name, sizeof(name), "_25._tcp.%s", c->host);
		rec_add(rs, name, DNS_T_TLSA, t, "TLSA (DANE)", M_EXACT, NULL);
	}

	/* MTA-STS and TLS-RPT */
	if (c->z.mta_sts != STS_OFF) {
		char id[40], d[100];
		if (c->z.mta_sts_id[0]) {
			ptt_strlcpy(id, c->z.mta_sts_id, sizeof(id));
		} else {
			unsigned char md[32];
			unsigned mdlen = 0;
			struct buf in;
			buf_init(&in, 0);
			buf_addf(&in, "%d %s", c->z.mta_sts, c->host);
			EVP_Digest(in.data, in.len, md, &mdlen, EVP_sha256(),
			    NULL);
			buf_free(&in);
			for (unsigned i = 0; i < 8; i++)
				snprintf(id + 2 * i, sizeof(id) - 2 * i, "%02x",
				    md[i]);
		}
		snprintf(name, sizeof(name), "_mta-sts.%s", c->domain);
		snprintf(d, sizeof(d), "v=STSv1; id=%s", id);
		rec_add(rs, name, DNS_T_TXT, d, "MTA-STS", M_PREFIX, "v=STSv1");
		snprintf(name, sizeof(name), "mta-sts.%s", c->domain);
		if ((ret = add_addrs(rs, name, c->z.mail_ipv4, c->z.mail_ipv6,
		    "MTA-STS policy host")) != 0)
			return ret;
	}
	if (c->z.tls_rpt[0]) {
		char d[400];
		snprintf(name, sizeof(name), "_smtp._tls.%s", c->domain);
		snprintf(d, sizeof(d), "v=TLSRPTv1; rua=%s", c->z.tls_rpt);
		rec_add(rs, name, DNS_T_TXT, d, "TLS-RPT", M_PREFIX,
		    "v=TLSRPTv1");
	}
	if (c->z.dnssec)
		add_ds(c, rs);
	return PTT_EXIT_OK;
}

static const char *
type_name(uint16_t t)
{
	return t == T_DS ? "DS" : dns_type_str(t);
}

/* ---- ptt dns-records ---- */

int
dns_records_text(const struct ptt_ctx *ctx, bool zone, struct buf *out)
{
	struct zctx c;
	struct recs rs = { NULL, 0 };
	const char *last = NULL;
	int ret;

	if ((ret = zctx_open(ctx, &c)) != 0)
		goto out;
	if ((ret = build_records(&c, &rs)) != 0)
		goto out;
	buf_addf(out, "; DNS records for %s, from ptt.conf and the configuration "
	    "repository (ptt dns-records)\n$ORIGIN %s\n$TTL %lld\n",
	    c.domain, c.domain, c.z.ttl);
	if (zone) {
		const char *ns = rs.n && rs.v[0].type == DNS_T_NS ?
		    rs.v[0].data : c.domain;
		buf_addf(out, "%s %lld IN SOA %s hostmaster.%s 1 3600 600 "
		    "1209600 300\n", c.domain, c.z.ttl, ns, c.domain);
	}
	for (size_t i = 0; i < rs.n; i++) {
		struct rec *r = &rs.v[i];
		if (r->type == T_DS && zone)
			continue;	/* the parent's, not in this zone */
		if (last == NULL || strcmp(last, r->label) != 0)
			buf_addf(out, "; %s\n", r->label);
		last = r->label;
		buf_addf(out, "%s %lld IN %s %s\n", r->name, c.z.ttl,
		    type_name(r->type), r->text);
	}
out:
	recs_free(&rs);
	zctx_close(&c);
	return ret;
}

int
cmd_dns_records(const struct ptt_ctx *ctx, int argc, char **argv)
{
	struct buf out;
	bool zone = false;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--zone") == 0) {
			zone = true;
		} else {
			say("dns-records: unknown argument %s", argv[i]);
			return PTT_EXIT_USAGE;
		}
	}
	buf_init(&out, 0);
	if ((ret = dns_records_text(ctx, zone, &out)) == PTT_EXIT_OK &&
	    (fwrite(out.data, 1, out.len, stdout) != out.len ||
	    fflush(stdout) != 0))
		ret = PTT_EXIT_FAIL;
	buf_free(&out);
	return ret;
}

/* ---- ptt dns-check ---- */

struct check {
	struct rec *r;		/* first record of this name and type */
	struct recs *rs;
	unsigned *pending;
};

/* The answer's records in compare form, one string each. */
static char **
answer_strings(const struct dns_result *res, size_t *n)
{
	char **v = xcalloc(res->n ? res->n : 1, sizeof(*v));
	char a[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < res->n; i++) {
		struct buf b;
		buf_init(&b, 0);
		switch (res->qtype) {
		case DNS_T_A:
			buf_adds(&b, inet_ntop(AF_INET, &res->a[i], a, sizeof(a)));
			break;
		case DNS_T_AAAA:
			buf_adds(&b, inet_ntop(AF_INET6, &res->aaaa[i], a,
			    sizeof(a)));
			break;
		case DNS_T_MX:
			buf_addf(&b, "%u %s.", res->mx[i].pref, res->mx[i].host);
			lower(b.data);
			break;
		case DNS_T_NS:
			buf_addf(&b, "%s.", res->ptr[i]);
			lower(b.data);
			break;
		case DNS_T_TXT:
			buf_add(&b, res->txt[i].s, res->txt[i].len);
			break;
		case DNS_T_TLSA:
			buf_addf(&b, "%u %u %u ", res->tlsa[i].usage,
			    res->tlsa[i].selector, res->tlsa[i].mtype);
			for (size_t k = 0; k < res->tlsa[i].len; k++)
				buf_addf(&b, "%02x", res->tlsa[i].data[k]);
			break;
		}
		buf_addc(&b, '\0');
		v[i] = buf_steal(&b, NULL);
	}
	*n = res->n;
	return v;
}

static void
on_answer(const struct dns_result *res, void *arg)
{
	struct check *ck = arg;
	size_t n = 0;
	char **have = NULL;

	if (res->status == DNS_OK)
		have = answer_strings(res, &n);
	for (size_t i = 0; i < ck->rs->n; i++) {
		struct rec *r = &ck->rs->v[i];

		if (r->type != ck->r->type || strcmp(r->name, ck->r->name) != 0)
			continue;
		if (res->status == DNS_TEMPFAIL || res->status == DNS_BOGUS) {
			r->verdict = V_FAILED;
			r->have = xstrdup(res->why ? res->why :
			    dns_status_str(res->status));
			continue;
		}
		r->verdict = V_MISSING;
		for (size_t k = 0; k < n; k++) {
			if (strcmp(have[k], r->data) == 0) {
				r->verdict = V_OK;
				break;
			}
			if (r->match == M_PREFIX && starts_tag(have[k],
			    r->prefix)) {
				r->verdict = V_DIFFERENT;
				free(r->have);
				r->have = xstrdup(have[k]);
			}
		}
		if (r->match == M_PREFIX) {
			/* one record of its kind, never two (RFC 7208 4.5,
			 * RFC 7489 6.6.3): a second one is a difference */
			size_t same = 0;
			for (size_t k = 0; k < n; k++)
				if (starts_tag(have[k], r->prefix))
					same++;
			for (size_t k = 0; same > 1 && k < n; k++)
				if (starts_tag(have[k], r->prefix) &&
				    strcmp(have[k], r->data) != 0) {
					r->verdict = V_DIFFERENT;
					free(r->have);
					r->have = xstrdup(have[k]);
				}
		}
		if (r->verdict == V_OK) {
			free(r->have);
			r->have = NULL;
		}
	}
	for (size_t k = 0; k < n; k++)
		free(have[k]);
	free(have);
	(*ck->pending)--;
}

int
cmd_dns_check(const struct ptt_ctx *ctx, int argc, char **argv)
{
	struct zctx c;
	struct recs rs = { NULL, 0 };
	struct resolver_opts o;
	struct resolver *res = NULL;
	struct event_base *base = NULL;
	struct check *cks = NULL;
	const char *dns = NULL, *dns_config = NULL, *rerr = NULL;
	char ca[4096];
	unsigned pending = 0, bad = 0;
	int ret;

	for (int i = 1; i < argc; i++) {
		bool missing = false;
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--dns", &missing)) != NULL)
			dns = v;
		else if ((v = opt_value(argc, argv, &i, "--dns-config",
		    &missing)) != NULL)
			dns_config = v;
		else {
			say("dns-check: %s %s", argv[i], missing ?
			    "needs a value" : "is not an option");
			return PTT_EXIT_USAGE;
		}
	}
	if ((ret = zctx_open(ctx, &c)) != 0)
		goto out;
	if ((ret = build_records(&c, &rs)) != 0)
		goto out;
	memset(&o, 0, sizeof(o));
	if (dns != NULL) {
		o.forward = dns;
		o.allow_localhost = true;
		o.config_file = dns_config;
	} else {
		if (ca_cafile_path(ctx->state, ca, sizeof(ca)) != 0) {
			say("state directory name too long");
			ret = PTT_EXIT_FAIL;
			goto out;
		}
		resolver_opts_dot(&o, c.z.resolver, ca);
	}
	o.timeout_ms = 10000;
	base = ev_base_new();
	if ((res = resolver_unbound_new(base, &o, &rerr)) == NULL) {
		say("dns-check: resolver: %s", rerr);
		ret = PTT_EXIT_FAIL;
		goto out;
	}
	cks = xcalloc(rs.n ? rs.n : 1, sizeof(*cks));
	for (size_t i = 0; i < rs.n; i++) {
		bool asked = false;
		if (rs.v[i].type == T_DS) {
			rs.v[i].verdict = V_SKIPPED;
			continue;
		}
		for (size_t k = 0; k < i && !asked; k++)
			asked = rs.v[k].type == rs.v[i].type &&
			    strcmp(rs.v[k].name, rs.v[i].name) == 0;
		if (asked)
			continue;
		cks[i].r = &rs.v[i];
		cks[i].rs = &rs;
		cks[i].pending = &pending;
		pending++;
		resolve(res, rs.v[i].name, rs.v[i].type, on_answer, &cks[i]);
	}
	while (pending > 0)
		event_base_loop(base, EVLOOP_ONCE);
	for (size_t i = 0; i < rs.n; i++) {
		struct rec *r = &rs.v[i];
		static const char *const vs[] = { "ok", "missing", "different",
			"failed", "not checked" };
		printf("%-9s %-7s %s %s %s\n", vs[r->verdict], r->label,
		    r->name, type_name(r->type), r->text);
		if (r->verdict == V_DIFFERENT) {
			struct buf t;
			buf_init(&t, 0);
			txt_text(r->have, strlen(r->have), &t);
			buf_addc(&t, '\0');
			printf("          want: %s\n          have: %s\n",
			    r->text, t.data);
			buf_free(&t);
		} else if (r->verdict == V_FAILED) {
			printf("          %s\n", r->have);
		} else if (r->verdict == V_SKIPPED) {
			printf("          (the parent zone's: compare it there)\n");
		}
		if (r->verdict != V_OK && r->verdict != V_SKIPPED)
			bad++;
	}
	printf("%zu records, %u not ok\n", rs.n, bad);
	ret = bad ? PTT_EXIT_FAIL : PTT_EXIT_OK;
out:
	if (res)
		resolver_free(res);
	if (base) {
		event_base_loop(base, EVLOOP_NONBLOCK);	/* TLS finalizers */
		event_base_free(base);
	}
	free(cks);
	recs_free(&rs);
	zctx_close(&c);
	return ret;
}

/* ---- ptt spf ---- */

int
cmd_spf(const struct ptt_ctx *ctx, int argc, char **argv)
{
	struct zctx c;
	/* --ip values, or up to 16 configured addresses */
	const char **ips = xcalloc((size_t)argc + 17, sizeof(*ips));
	const char *keyfile = NULL, *primary = NULL;
	char keypath[4096], err[512];
	char cfg_ips[16][INET6_ADDRSTRLEN + 8];
	size_t nips = 0;
	struct buf spf, newrr, nxrr;
	struct tsig_key key;
	ldns_pkt *pkt = NULL;
	ldns_rr_list *txts = NULL;
	struct dns_update_op *pre = NULL, *upd = NULL;
	char **texts = NULL;
	size_t npre = 0, nupd = 0, ntxt = 0, nspf = 0;
	bool same = false;
	struct dns_update_req req;
	struct dns_update_res ures;
	int ret;

	buf_init(&spf, 0);
	buf_init(&newrr, 0);
	buf_init(&nxrr, 0);
	memset(&key, 0, sizeof(key));
	for (int i = 1; i < argc; i++) {
		bool missing = false;
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--ip", &missing)) != NULL)
			ips[nips++] = v;
		else if ((v = opt_value(argc, argv, &i, "--key", &missing)) != NULL)
			keyfile = v;
		else if ((v = opt_value(argc, argv, &i, "--primary",
		    &missing)) != NULL)
			primary = v;
		else {
			say("spf: %s %s", argv[i], missing ? "needs a value" :
			    "is not an option");
			free(ips);
			return PTT_EXIT_USAGE;
		}
	}
	if ((ret = zctx_open(ctx, &c)) != 0)
		goto out;
	if (nips == 0) {
		nips = mail_ips(&c.z, cfg_ips, 16);
		for (size_t i = 0; i < nips; i++)
			ips[i] = cfg_ips[i];
	}
	if (spf_build(ips, nips, &spf) != 0) {
		say("spf: an address is not ADDR or ADDR/LEN");
		ret = PTT_EXIT_USAGE;
		goto out;
	}
	buf_addc(&spf, '\0');
	if (primary == NULL)
		primary = c.z.primary;
	if (keyfile == NULL && c.z.tsig_key[0])
		keyfile = c.z.tsig_key;
	if (keyfile == NULL) {
		if (state_path(ctx->state, "tsig/ptt.key", keypath,
		    sizeof(keypath)) != 0) {
			say("state directory name too long");
			ret = PTT_EXIT_FAIL;
			goto out;
		}
		keyfile = keypath;
	}
	if (tsig_key_load(&key, keyfile, err, sizeof(err)) != 0) {
		say("spf: TSIG key: %s", err);
		ret = PTT_EXIT_FAIL;
		goto out;
	}

	/* The apex TXT RRset as the primary has it now. */
	if ((pkt = primary_query(primary, c.domain, LDNS_RR_TYPE_TXT)) == NULL) {
		say("spf: no answer from the primary %s", primary);
		ret = PTT_EXIT_FAIL;
		goto out;
	}
	txts = ldns_pkt_rr_list_by_type(pkt, LDNS_RR_TYPE_TXT,
	    LDNS_SECTION_ANSWER);
	ntxt = txts ? ldns_rr_list_rr_count(txts) : 0;
	texts = xcalloc(ntxt ? ntxt : 1, sizeof(*texts));
	pre = xcalloc(ntxt + 1, sizeof(*pre));
	upd = xcalloc(ntxt + 1, sizeof(*upd));
	for (size_t i = 0; i < ntxt; i++) {
		ldns_rr *rr = ldns_rr_list_rr(txts, i);
		size_t tl;
		char *joined = ldns_txt_join(rr, &tl);
		struct buf t;

		buf_init(&t, 0);
		buf_addf(&t, "%s TXT", c.domain);
		for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
			char *f = ldns_rdf2str(ldns_rr_rdf(rr, k));
			buf_addf(&t, " %s", f ? f : "\"\"");
			free(f);
		}
		buf_addc(&t, '\0');
		texts[i] = buf_steal(&t, NULL);
		pre[npre].kind = DNSP_YXRRSET_VALUE;
		pre[npre++].rr = texts[i];
		if (strlen(joined) == tl && starts_tag(joined, "v=spf1")) {
			nspf++;
			same = strcmp(joined, spf.data) == 0;
			upd[nupd].kind = DNSU_DEL_RR;
			upd[nupd++].rr = texts[i];
		}
		free(joined);
	}
	if (nspf == 1 && same) {
		printf("%s TXT \"%s\" is published already\n", c.domain,
		    spf.data);
		ret = PTT_EXIT_OK;
		goto out;
	}
	if (ntxt == 0) {
		buf_addf(&nxrr, "%s TXT", c.domain);
		buf_addc(&nxrr, '\0');
		pre[npre].kind = DNSP_NXRRSET;
		pre[npre++].rr = nxrr.data;
	}
	buf_addf(&newrr, "%s %lld TXT ", c.domain, c.z.ttl);
	txt_text(spf.data, strlen(spf.data), &newrr);
	buf_addc(&newrr, '\0');
	upd[nupd].kind = DNSU_ADD;
	upd[nupd++].rr = newrr.data;

	memset(&req, 0, sizeof(req));
	req.server = primary;
	req.zone = c.domain;
	req.key = &key;
	req.tcp = true;
	req.prereq = pre;
	req.nprereq = npre;
	req.upd = upd;
	req.nupd = nupd;
	if (dns_update_send(&req, &ures, err, sizeof(err)) != 0) {
		say("spf: update to %s: %s", primary, err);
		ret = PTT_EXIT_FAIL;
	} else if (ures.rcode != 0) {
		say("spf: %s refused the update: %s%s%s", primary,
		    dns_rcode_name(ures.rcode), ures.tsig_error ? " " : "",
		    ures.tsig_error ? dns_tsig_error_name(ures.tsig_error) : "");
		if (ures.rcode == 7 || ures.rcode == 8)	/* YXRRSET, NXRRSET */
			say("spf: the TXT records changed meanwhile: run it "
			    "again");
		ret = PTT_EXIT_FAIL;
	} else {
		printf("published %s TXT \"%s\"%s\n", c.domain, spf.data,
		    nspf ? " (replacing the old SPF record)" : "");
		ret = PTT_EXIT_OK;
	}
out:
	ptt_memzero(&key, sizeof(key));
	for (size_t i = 0; i < ntxt; i++)
		free(texts[i]);
	free(texts);
	free(pre);
	free(upd);
	if (txts)
		ldns_rr_list_deep_free(txts);
	if (pkt)
		ldns_pkt_free(pkt);
	buf_free(&spf);
	buf_free(&newrr);
	buf_free(&nxrr);
	free(ips);
	zctx_close(&c);
	return ret;
}
