#!/bin/bash
# dnscmd.sh - ptt spf, ptt dns-records and ptt dns-check against ptt-dns
# serving the zone of a `ptt init` configuration (zones/ in its git
# repository) and ptt-resolver stubbed to it: dns-records output is a zone
# file (ldns-read-zone, and ptt-dns serves it); ptt spf twice leaves one SPF
# record (kdig) and each change is a git commit; dns-check says ok for all,
# then "missing" after nsupdate deletes the DMARC record and "different"
# after it changes the TLS-RPT record.
. "$PTT_SRC/tests/interop/lib.sh"
PTT=$PTT_BUILD/src/ptt/ptt
DNSD=$PTT_BUILD/src/dns/ptt-dns
RESOLVER=$PTT_BUILD/src/resolver/ptt-resolver
ptt_repo_env

"$PTT" init --bare example.test > "$WORK/init.out" 2>&1; ok $? "ptt init example.test"
P=$(free_port); RP=$(free_port); RT=$(free_port)
cat >> "$PTT_CONFIG/ptt.conf" <<C

[zone]
primary = 127.0.0.1:$P
mail_host = mx.example.test
mail_ipv4 = 127.0.0.1
mail_ipv6 = ::1
ns = ns1.example.test
mx_cert = $PTT_STATE/tls/mx.pem
mta_sts = testing
tls_rpt = mailto:tlsrpt@example.test
ttl = 60
resolver = 127.0.0.1:$RT
C
G commit -qam "zone settings" ; ok $? "[zone] section committed"

"$PTT" dns-records > "$WORK/records.txt" 2> "$WORK/records.err"; ok $? "ptt dns-records"
sed 's/^/# /' "$WORK/records.txt"
"$PTT" dns-records --zone > "$WORK/zone.txt"; ok $? "ptt dns-records --zone"
ldns-read-zone "$WORK/zone.txt" > "$WORK/zone.canon" 2>&1; ok $? "--zone output parses as a zone file (ldns-read-zone)"
for t in "IN	NS	ns1.example.test." "IN	MX	10 mx.example.test." "IN	A	127.0.0.1" "IN	AAAA	::1" \
    '"v=spf1 ip4:127.0.0.1 ip6:::1 -all"' '"v=DMARC1; p=reject; rua=mailto:postmaster@example.test"' \
    "_25._tcp.mx.example.test.	60	IN	TLSA	3 1 1 " '_mta-sts.example.test.	60	IN	TXT	"v=STSv1; id=' \
    '_smtp._tls.example.test.	60	IN	TXT	"v=TLSRPTv1; rua=mailto:tlsrpt@example.test"'; do
	grep -qF "$t" "$WORK/zone.canon" || { diag "missing: $t"; false; }
done; ok $? "NS, glue, A/AAAA, MX, SPF, DMARC, TLSA, MTA-STS, TLS-RPT records"
want=$(openssl x509 -in "$PTT_STATE/tls/mx.pem" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
grep -q "TLSA	3 1 1 $want" "$WORK/zone.canon"; ok $? "TLSA 3 1 1 is the SHA-256 of the mx key (openssl)"

# the zone in the configuration repository, with a DKIM key as the signer
# would have published it
cp "$WORK/zone.txt" "$PTT_CONFIG/zones/example.test.zone"
echo 'ptt-ed25519._domainkey.example.test. 60 IN TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="' >> "$PTT_CONFIG/zones/example.test.zone"
G add zones/example.test.zone && G commit -qm "zone example.test"; ok $? "zone committed"
"$PTT" dns-records | grep -q '^ptt-ed25519._domainkey.example.test. 60 IN TXT "v=DKIM1; k=ed25519; p=11qY'
ok $? "dns-records shows the DKIM key published in the repository's zone"

# ptt-dns on the repository's zones/, with the key ptt init made (and
# its dns.policy, plus names this test changes with nsupdate)
ok $([ "$(stat -c %a "$PTT_STATE/tsig/ptt.key")" = 600 ] && grep -q '^ptt:hmac-sha256:' "$PTT_STATE/tsig/ptt.key" &&
	grep -q '^key ptt. may update example.test. TXT' "$PTT_CONFIG/dns.policy"; echo $?) \
	"ptt init made the TSIG key (0600) and dns.policy"
S=$(cut -d: -f3 "$PTT_STATE/tsig/ptt.key")
{ cat "$PTT_CONFIG/dns.policy"; printf 'key ptt may update %s TXT\n' _dmarc.example.test. _smtp._tls.example.test.; } > "$WORK/policy"
DSTATE=$WORK/dnsstate
"$DNSD" --zones "$PTT_CONFIG/zones" --state "$DSTATE" --print-ds example.test > "$WORK/ds.txt"
ok $? "ptt-dns --print-ds (the zone will be signed)"
chmod 711 "$PTT_CONFIG"; chown -R nobody "$PTT_CONFIG/zones" "$DSTATE"
start_bg dnsd "$DNSD" --zones "$PTT_CONFIG/zones" -l "127.0.0.1:$P" --reload-interval 1s \
	--tsig-dir "$PTT_STATE/tsig" --policy "$WORK/policy" --state "$DSTATE" --dnssec example.test
for i in $(seq 50); do kdig +short +time=1 +retry=0 @127.0.0.1 -p "$P" example.test SOA 2>/dev/null | grep -q hostmaster && break; sleep 0.1; done
kdig +short @127.0.0.1 -p "$P" example.test MX | grep -qx '10 mx.example.test.'
ok $? "ptt-dns serves the zone from dns-records --zone"

echo "dnssec = yes" >> "$PTT_CONFIG/ptt.conf" && G commit -qam "the zone is signed"
"$PTT" dns-records > "$WORK/records2.txt" 2>&1
want=$(awk '{print toupper($NF)}' "$WORK/ds.txt" | head -1)
grep -E '^example.test. 60 IN DS [0-9]+ 13 2 ' "$WORK/records2.txt" | awk '{print toupper($NF)}' | grep -qx "$want"
ok $? "dnssec = yes: dns-records prints the DS of the served KSK, as ptt-dns --print-ds"
"$PTT" dns-records --zone | grep -q ' IN DS '; [ $? = 1 ]; ok $? "--zone leaves the DS out (it is the parent's)"
spfs() { kdig +short @127.0.0.1 -p "$P" example.test TXT | grep -c '^"v=spf1'; }
n0=$(G rev-list --count HEAD)
"$PTT" spf --ip 127.0.0.1 > "$WORK/spf1.out" 2>&1; ok $? "ptt spf --ip 127.0.0.1 ($(cat "$WORK/spf1.out"))"
"$PTT" spf --ip 127.0.0.1 > "$WORK/spf2.out" 2>&1; ok $? "ptt spf --ip 127.0.0.1 again ($(cat "$WORK/spf2.out"))"
[ "$(spfs)" = 1 ] && kdig +short @127.0.0.1 -p "$P" example.test TXT | grep -qx '"v=spf1 ip4:127.0.0.1 -all"'
ok $? "exactly one SPF record: v=spf1 ip4:127.0.0.1 -all"
"$PTT" spf --ip 127.0.0.2 --ip 2001:db8::1/64 > "$WORK/spf3.out" 2>&1; ok $? "ptt spf with other addresses"
[ "$(spfs)" = 1 ] && kdig +short @127.0.0.1 -p "$P" example.test TXT | grep -qx '"v=spf1 ip4:127.0.0.2 ip6:2001:db8::1/64 -all"'
ok $? "still exactly one SPF record, the new one"
sleep 1
n1=$(G rev-list --count HEAD)
[ "$n1" -ge $((n0 + 2)) ] && G log -1 --format=%B | grep -q ptt && grep -q 'ip4:127.0.0.2' "$PTT_CONFIG/zones/example.test.zone"
ok $? "each update committed to git ($n0 -> $n1 commits) and written to the zone file"
[ "$(grep -c 'v=spf1' "$PTT_CONFIG/zones/example.test.zone")" = 1 ]; ok $? "one SPF record in the committed zone"
"$PTT" spf --ip 127.0.0.300 > /dev/null 2>&1; [ $? = 2 ]; ok $? "a bad address is a usage error"
"$PTT" spf --ip 127.0.0.1 --key /nonexistent > /dev/null 2>&1; [ $? = 1 ]; ok $? "a missing key fails"

# the resolver, stubbed to ptt-dns (unsigned zone: answers are insecure)
start_bg resolver "$RESOLVER" -o state="$PTT_STATE" -o listen="127.0.0.1:$RP" \
	-o listen_tls="127.0.0.1:$RT" -o stub="example.test@127.0.0.1:$P" -o cache_max_ttl=1
wait_port "$RT" 127.0.0.1 20; ok $? "ptt-resolver up"
"$PTT" dns-check > "$WORK/check1.out" 2>&1; r=$?
sed 's/^/# /' "$WORK/check1.out"
[ $r = 0 ] && ! grep -qvE '^(ok |not checked |          \(the parent|.* 0 not ok$)' "$WORK/check1.out" &&
	grep -qE '^not checked DS' "$WORK/check1.out"
ok $? "dns-check over DoT: every record ok (the DS is the parent's), exit 0"

nsupdate -y "hmac-sha256:ptt:$S" > "$WORK/ns1.out" 2>&1 <<E
server 127.0.0.1 $P
zone example.test
update delete _dmarc.example.test. TXT
update delete _smtp._tls.example.test. TXT
update add _smtp._tls.example.test. 60 TXT "v=TLSRPTv1; rua=mailto:other@example.test"
send
E
ok $? "nsupdate deletes DMARC and changes TLS-RPT"
sleep 2
"$PTT" dns-check > "$WORK/check2.out" 2>&1; r=$?
sed 's/^/# /' "$WORK/check2.out"
[ $r = 1 ]; ok $? "dns-check exits 1"
grep -qE '^missing +DMARC +_dmarc.example.test. TXT "v=DMARC1' "$WORK/check2.out"; ok $? "DMARC: missing"
grep -qE '^different +TLS-RPT' "$WORK/check2.out" && grep -qF 'want: "v=TLSRPTv1; rua=mailto:tlsrpt@example.test"' "$WORK/check2.out" &&
	grep -qF 'have: "v=TLSRPTv1; rua=mailto:other@example.test"' "$WORK/check2.out"
ok $? "TLS-RPT: different, with both values"
grep -qE '^ok +MX ' "$WORK/check2.out"; ok $? "the others still ok"
# a second SPF record next to the right one is a difference too
cur=$(kdig +short @127.0.0.1 -p "$P" example.test TXT | grep '^"v=spf1')
nsupdate -y "hmac-sha256:ptt:$S" > "$WORK/ns2.out" 2>&1 <<E
server 127.0.0.1 $P
zone example.test
update add example.test. 60 TXT "v=spf1 ip4:192.0.2.99 -all"
send
E
sleep 2
"$PTT" dns-check > "$WORK/check4.out" 2>&1
grep -qE '^different +SPF' "$WORK/check4.out" && grep -qF 'v=spf1 ip4:192.0.2.99 -all' "$WORK/check4.out" &&
	grep -qF 'v=spf1 ip4:127.0.0.2 ip6:2001:db8::1/64 -all' "$WORK/check4.out"
ok $? "two SPF records: different, both shown"
"$PTT" spf --ip 127.0.0.2 --ip 2001:db8::1/64 > /dev/null 2>&1 && [ "$(spfs)" = 1 ]
ok $? "ptt spf puts it right: one SPF record again"
printf 'server:\n    local-zone: "test." nodefault\n' > "$WORK/ub.conf"
"$PTT" dns-check --dns "127.0.0.1:$RP" --dns-config "$WORK/ub.conf" > "$WORK/check3.out" 2>&1
[ $? = 1 ] && grep -qE '^missing +DMARC' "$WORK/check3.out" && grep -qE '^ok +DKIM ' "$WORK/check3.out"
ok $? "dns-check --dns (plain DNS through libunbound): the same verdicts, DKIM ok"
"$PTT" spf > "$WORK/spf4.out" 2>&1 && [ "$(spfs)" = 1 ] &&
	kdig +short @127.0.0.1 -p "$P" example.test TXT | grep -qx '"v=spf1 ip4:127.0.0.1 ip6:::1 -all"'
ok $? "ptt spf without --ip: the mail host's addresses from [zone] ($(cat "$WORK/spf4.out"))"
done_testing
