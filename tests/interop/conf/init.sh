#!/bin/bash
# init.sh - `ptt init DOMAIN` writes a deployment, not a skeleton:
#  - ptt.conf has a section for every service, each naming files that
#    exist in the state directory (or, for the public certificate, where
#    ptt-acme will put it), and `ptt check` runs every section through its
#    service's own parameter table (a typo is refused with its line);
#  - the zone ptt-dns will serve is committed (NS, glue, MX, the mail host,
#    SPF, DMARC), and ptt-dns started from the [dns] section as init wrote
#    it serves it and commits a TSIG-signed update (BIND's nsupdate with
#    the key init made) into the repository as the unprivileged user;
#  - ptt dns-check against that server finds every record it expects;
#  - the state directory is 0711 and the queue directory exists, 0700.
# (tests/interop/deploy runs the same configuration as a whole, with
# pttd, pebble and swaks, in a network namespace.)
. "$PTT_SRC/tests/interop/lib.sh"
PTT=$PTT_BUILD/src/ptt/ptt
DNSD=$PTT_BUILD/src/dns/ptt-dns
ptt_repo_env
C=$PTT_CONFIG/ptt.conf
# value SECTION NAME: NAME's value in [SECTION] of ptt.conf
value() { awk -v s="[$1]" -v n="$2" '/^\[/ { in_s = ($0 == s) } in_s && $1 == n { sub(/^[^=]*= */, ""); print; exit }' "$C"; }

"$PTT" init example.test > "$WORK/noip.out" 2>&1; r=$?
ok $([ $r = 2 ] && grep -q -- '--ip ADDR' "$WORK/noip.out" && [ ! -e "$PTT_CONFIG" ]; echo $?) \
	"without --ip: refused (exit $r), nothing made: the zone would have no addresses"
"$PTT" init example.test --ip 127.0.0.1 --ip ::1 > "$WORK/init.out" 2>&1
ok $? "ptt init example.test --ip 127.0.0.1 --ip ::1"
[ "$(G rev-list --count HEAD)" = 2 ] && G show --stat HEAD | grep -q 'zones/example.test.zone'
ok $? "two commits: the configuration, then the zone"
missing=""
for s in pttd dns resolver acme relay signer spamfilter mx submission zone; do
	grep -qx "\[$s\]" "$C" || missing="$missing $s"
done
ok $([ -z "$missing" ]; echo $?) "ptt.conf has a section for every service and the zone (missing:${missing:- none})"
[ "$(value pttd services)" = "dns resolver acme relay signer spamfilter mx submission" ]
ok $? "pttd runs every service, ptt-acme included"
[ "$(value mx listen)" = '*:25' ] && [ "$(value submission listen_submission)" = '*:587' ] &&
	[ "$(value submission listen_smtps)" = '*:465' ] && [ "$(value dns listen)" = '*:53' ]
ok $? "the public listeners: 25, 587, 465 and 53, IPv6 and IPv4"
[ "$(value mx hostname)" = mail.example.test ] && [ "$(value acme names)" = mail.example.test ] &&
	[ "$(value zone mail_host)" = mail.example.test ]
ok $? "one mail host, mail.example.test: the mx's name, the certificate's, the MX target"
[ "$(value mx cert)" = "$PTT_STATE/certs/mail.example.test.pem" ] &&
	[ "$(value submission key)" = "$PTT_STATE/certs/mail.example.test.key" ]
ok $? "mx and submission load the certificate ptt-acme will write"
[ "$(value acme directory)" = https://acme-v02.api.letsencrypt.org/directory ]
ok $? "ptt-acme asks Let's Encrypt's production directory by default"

# every internal file a section names exists, with the right name in it
bad=""
for sv in relay signer spamfilter; do
	for k in cert key ca; do [ -s "$(value $sv $k)" ] || bad="$bad $sv.$k"; done
done
for sv in mx submission; do
	for k in internal_cert internal_key ca; do [ -s "$(value $sv $k)" ] || bad="$bad $sv.$k"; done
done
[ -s "$(value signer tsig_key)" ] || bad="$bad signer.tsig_key"
[ -s "$(value acme tsig_key)" ] || bad="$bad acme.tsig_key"
ok $([ -z "$bad" ]; echo $?) "every certificate, key and TSIG key a section names exists (missing:${bad:- none})"
openssl x509 -in "$(value mx internal_cert)" -noout -ext subjectAltName | grep -q 'DNS:mx.internal' &&
	openssl verify -CAfile "$(value mx ca)" "$(value relay cert)" > /dev/null
ok $? "the mx's internal certificate names mx.internal; the relay's verifies against the CA"
[ "$(stat -c %a "$PTT_STATE")" = 711 ] && [ "$(stat -c %a "$PTT_STATE/tls")" = 700 ]
ok $? "the state directory is 0711, its secrets' directories 0700"
q=$(value relay queue_dir)
[ "$q" = "$WORK/queue" ] && [ "$(stat -c %a "$q")" = 700 ]
ok $? "the relay's queue beside the state directory, 0700 ($q)"

"$PTT" check > "$WORK/check.out" 2>&1
ok $? "ptt check: $(cat "$WORK/check.out")"
grep -q 'the sections of 8 services' "$WORK/check.out"
ok $? "ptt check ran the eight services' sections through their own tables"
sed -i 's/^\[relay\]$/[relay]\nretry_mni = 5m/' "$C" && G commit -qam "a typo in [relay]"
"$PTT" check > "$WORK/check2.out" 2>&1; r=$?
line=$(grep -n '^retry_mni' "$C" | cut -d: -f1)
ok $([ $r -ne 0 ] && grep -q "\[relay\]: ptt.conf:$line: unknown parameter \"retry_mni\"" "$WORK/check2.out"; echo $?) \
	"a misspelt relay parameter fails ptt check with its line: $(cat "$WORK/check2.out")"
G revert --no-edit HEAD > "$WORK/revert.log" 2>&1 || diag "revert: $(cat "$WORK/revert.log")"
sed -i 's/^\[dns\]$/[dns]\nreload-intervall = 1s/' "$C" && G commit -qam "a typo in [dns]"
"$PTT" check > "$WORK/check3.out" 2>&1; r=$?
ok $([ $r -ne 0 ] && grep -q '\[dns\]: ptt.conf:[0-9]*: unknown parameter "reload-intervall"' "$WORK/check3.out"; echo $?) \
	"ptt-dns's section is checked the same way (it reads -c ptt.conf now): $(cat "$WORK/check3.out")"
G revert --no-edit HEAD > "$WORK/revert.log" 2>&1 || diag "revert: $(cat "$WORK/revert.log")"
"$PTT" check > /dev/null 2>&1; ok $? "reverted: ptt check passes again"

# the zone
Z=$PTT_CONFIG/zones/example.test.zone
ldns-read-zone "$Z" > "$WORK/zone.canon" 2>&1; ok $? "the committed zone parses (ldns-read-zone)"
for t in "IN	SOA	ns1.example.test. hostmaster.example.test." "IN	NS	ns1.example.test." \
    "ns1.example.test.	3600	IN	A	127.0.0.1" "mail.example.test.	3600	IN	AAAA	::1" \
    "IN	MX	10 mail.example.test." '"v=spf1 ip4:127.0.0.1 ip6:::1 -all"' \
    '_dmarc.example.test.	3600	IN	TXT	"v=DMARC1; p=reject; rua=mailto:postmaster@example.test"'; do
	grep -qF "$t" "$WORK/zone.canon" || { diag "missing: $t"; false; }
done; ok $? "SOA, NS and glue, the mail host's A/AAAA, MX, SPF and DMARC"
ok $([ "$(stat -c %U "$PTT_CONFIG/zones")" = nobody ] && [ "$(stat -c %U "$Z")" = nobody ] &&
	[ "$(stat -c %A "$C" | cut -c8)" = r ]; echo $?) \
	"zones/ belongs to the user ptt-dns runs as; the rest of the repository is readable by the services"

# ptt-dns as pttd starts it (-c ptt.conf), on another port than 53
P=$(free_port)
start_bg dnsd "$DNSD" -c "$C" -o "listen=127.0.0.1:$P" -o reload-interval=1s
for i in $(seq 50); do kdig +short +time=1 +retry=0 @127.0.0.1 -p "$P" example.test SOA 2>/dev/null | grep -q hostmaster && break; sleep 0.1; done
kdig +short @127.0.0.1 -p "$P" example.test MX | grep -qx '10 mail.example.test.' &&
	kdig +short @127.0.0.1 -p "$P" mail.example.test A | grep -qx '127.0.0.1'
ok $? "ptt-dns from the [dns] section serves the zone init committed"
S=$(cut -d: -f3 "$PTT_STATE/tsig/ptt.key")
nsupdate -y "hmac-sha256:ptt:$S" > "$WORK/nsupdate.out" 2>&1 <<E
server 127.0.0.1 $P
zone example.test.
update add ptt-ed25519._domainkey.example.test. 60 TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
update add _acme-challenge.mail.example.test. 60 TXT "token"
send
E
ok $? "nsupdate with the key init made: a DKIM key and an ACME challenge for the mail host (dns.policy)"
for i in $(seq 50); do G log -1 --format=%s | grep -q 'key ptt' && break; sleep 0.1; done
G log -1 --format=%s | grep -q 'key ptt' && G show HEAD:zones/example.test.zone | grep -q 'ptt-ed25519._domainkey'
ok $? "ptt-dns, running as nobody, committed the update to the repository: $(G log -1 --format=%s)"
nsupdate -y "hmac-sha256:ptt:$S" > "$WORK/nsupdate2.out" 2>&1 <<E
server 127.0.0.1 $P
zone example.test.
update add example.test. 60 MX 5 evil.example.net.
send
E
ok $([ $? -ne 0 ] && grep -q REFUSED "$WORK/nsupdate2.out"; echo $?) "the same key may not change the MX (REFUSED)"

printf 'server:\n    do-not-query-localhost: no\n    local-zone: "test." nodefault\n' > "$WORK/unbound.conf"
"$PTT" dns-check --dns "127.0.0.1:$P" --dns-config "$WORK/unbound.conf" > "$WORK/dnscheck.out" 2>&1
ok $? "ptt dns-check against it: every record it expects is there"
sed 's/^/# /' "$WORK/dnscheck.out"
grep -q 'ok.*DKIM' "$WORK/dnscheck.out"; ok $? "including the DKIM key just published"
# (last: git rewrites the zone file as root) a zone that does not parse
echo 'broken IN A not-an-address' >> "$PTT_CONFIG/zones/example.test.zone" && G commit -qam "a zone that does not parse"
"$PTT" check > "$WORK/check4.out" 2>&1; r=$?
ok $([ $r -ne 0 ] && grep -q '\[dns\]: .*example.test.zone:[0-9]*:' "$WORK/check4.out"; echo $?) \
	"a zone that does not parse fails ptt check with its file and line"
sed 's/^/# /' "$WORK/check4.out" | head -3
done_testing
