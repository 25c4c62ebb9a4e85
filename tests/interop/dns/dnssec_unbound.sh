#!/bin/bash
# dnssec_unbound.sh - ptt-dns signs example.test (--dnssec, ECDSA P-256,
# NSEC); the Unbound daemon (own config, stub zone to ptt-dns, the DS from
# `ptt-dns --print-ds` as trust anchor) validates: answers, NXDOMAIN,
# NODATA and wildcards come back secure (AD), also after a signed update
# (re-signing); with a tampered anchor the same queries fail (SERVFAIL).
# Run as dnssec_unbound.sh [--nsec3].
# With --nsec3 the zone is denied with NSEC3 instead of NSEC.
MODE=${1:-}
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"
diag "denial: ${MODE:-NSEC}"

P=$(free_port)
write_zone example.test 1 > "$ZONES/example.test.zone"
S=$(make_key ptt-signer)
echo "key ptt-signer may update *.example.test. TXT A" > "$WORK/policy"
STATE=$WORK/state
"$DNSD" --zones "$ZONES" --state "$STATE" --print-ds example.test > "$WORK/ds.txt"
ok $? "ptt-dns --print-ds"
sed 's/^/# /' "$WORK/ds.txt"
[ "$(stat -c %a "$STATE")" = 700 ] && [ "$(stat -c %a "$STATE"/Kexample.test.private)" = 600 ]
ok $? "state directory 0700, key file 0600"
for_sandbox "$STATE" "$STATE/Kexample.test.private" "$ZONES/example.test.zone"
start_dnsd "$P" --state "$STATE" --dnssec example.test --tsig-dir "$KEYS" --policy "$WORK/policy" $MODE
out=$(kdig @127.0.0.1 -p "$P" +dnssec example.test DNSKEY +noall +answer)
echo "$out" | grep -q 'DNSKEY.*257 3 13' && echo "$out" | grep -q 'RRSIG.*DNSKEY 13'
ok $? "DNSKEY (flags 257, algorithm 13) served and signed"

if [ "$MODE" = --nsec3 ]; then
	out=$(kdig @127.0.0.1 -p "$P" +dnssec nope.example.test A +noall +authority)
	echo "$out" | grep -q 'NSEC3' && ! echo "$out" | grep -qE 'IN[[:space:]]+NSEC[[:space:]]'
	ok $? "NXDOMAIN proven with NSEC3 records"
	kdig +short @127.0.0.1 -p "$P" example.test NSEC3PARAM | grep -q '^1 0 0 -'
	ok $? "NSEC3PARAM: SHA-1, no opt-out, 0 iterations, no salt (RFC 9276)"
fi

# run_unbound NAME ANCHOR: an unbound daemon with its own config; sets UP
run_unbound() {
	local u=$WORK/$1
	UP=$(free_port)
	mkdir -p "$u"
	cat > "$u/unbound.conf" <<E
server:
    interface: 127.0.0.1@$UP
    port: $UP
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "$u"
    pidfile: "$u/unbound.pid"
    use-syslog: no
    logfile: "$u/unbound.log"
    verbosity: 1
    val-log-level: 2
    do-not-query-localhost: no
    local-zone: "test." nodefault
    module-config: "validator iterator"
    trust-anchor: "$2"
    prefetch: no
    aggressive-nsec: no
    qname-minimisation: no
    cache-max-ttl: 1
    cache-max-negative-ttl: 1
remote-control:
    control-enable: no
stub-zone:
    name: "example.test."
    stub-addr: 127.0.0.1@$P
stub-zone:
    name: "."
    stub-addr: 127.0.0.1@$P
E
	unbound-checkconf "$u/unbound.conf" > /dev/null || return 1
	start_bg "$1" unbound -d -c "$u/unbound.conf"
	wait_port "$UP"
}
flags() {	# flags QNAME TYPE: "STATUS flags..."
	kdig @127.0.0.1 -p "$UP" +dnssec +time=3 +retry=0 "$1" "$2" |
		awk '/->>HEADER<<-/{s=$6} /^;; Flags:/{f=$0} END{print s, f}'
}

run_unbound unbound "$(cat "$WORK/ds.txt")"; ok $? "unbound starts with the DS as trust anchor"
for q in "mx.example.test A" "example.test MX" "nope.example.test A" \
    "mx.example.test TXT" "b.c.example.test A" "x.wild.example.test TXT" "www.example.test A"; do
	f=$(flags $q)
	echo "$f" | grep -q ' ad' ; ok $? "secure (AD): $q -> $f"
done
echo "$(flags nope.example.test A)" | grep -q NXDOMAIN; ok $? "validated NXDOMAIN"

# a signed update is re-signed and still validates
out=$("$DNSUPD" -s "127.0.0.1:$P" -z example.test. -k "$KEYS/ptt-signer" add "new.example.test. 60 TXT \"after update\"")
[ "$out" = NOERROR ]; ok $? "update of the signed zone"
sleep 1.2
kdig +short @127.0.0.1 -p "$P" new.example.test TXT | sed "s/^/# primary: /"
f=$(flags new.example.test TXT)
echo "$f" | grep -q NOERROR && echo "$f" | grep -q ' ad'; ok $? "updated record validates: $f"

# tampered anchor: bogus, SERVFAIL
bad=$(awk '{d=$NF; c=substr(d,1,1); r=(c=="0")?"1":"0"; $NF=r substr(d,2); print}' "$WORK/ds.txt")
run_unbound unbound_bad "$bad"; ok $? "unbound with a tampered anchor starts"
f=$(flags mx.example.test A)
echo "$f" | grep -q SERVFAIL; ok $? "tampered anchor: SERVFAIL ($f)"
grep -q 'validation failure' "$WORK/unbound_bad/unbound.log"; ok $? "unbound logs the validation failure"
grep 'validation failure' "$WORK/unbound_bad/unbound.log" | head -1 | cut -c1-200 | sed 's/^/# /'
kill -0 "$(cat "$WORK/dnsd.pid")"; ok $? "ptt-dns (sandboxed) still running"
done_testing
