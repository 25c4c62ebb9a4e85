#!/bin/bash
# resolver.sh - ptt-resolver (Debian's Unbound, configured by ptt) stubbed
# to ptt-dns serving a DNSSEC-signed example.test, the zone's DS as trust
# anchor. Through resolve.c's resolver mode (DNS over TLS, certificate
# resolver.internal from the internal CA of `ptt init`) an MX comes back
# secure; a wrong certificate name is refused; kdig +tls verifies the DoT
# port with the internal CA; a tampered anchor (bogus answers) gives a
# failure, never data: DNS_BOGUS when libunbound validates, SERVFAIL (a
# temporary failure) when the resolver does; SIGTERM stops Unbound.
# Queries in flight at once, and rounds of them, share one connection.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"
PTT=$PTT_BUILD/src/ptt/ptt
RESOLVER=$PTT_BUILD/src/resolver/ptt-resolver
PROBE=$PTT_BUILD/tests/interop/resolver/dns_probe
export PTT_CONFIG=$WORK/config PTT_STATE=$WORK/state
export GIT_CONFIG_NOSYSTEM=1 HOME=$WORK

"$PTT" init --bare example.test > "$WORK/init.out" 2>&1; ok $? "ptt init (internal CA, resolver.internal certificate)"
CA=$PTT_STATE/ca/ca.pem
openssl x509 -in "$PTT_STATE/tls/resolver.pem" -noout -ext subjectAltName 2>/dev/null | grep -q DNS:resolver.internal
ok $? "tls/resolver.pem names resolver.internal"

# the signed primary
P=$(free_port)
write_zone example.test 1 > "$ZONES/example.test.zone"
DSTATE=$WORK/dnsstate
"$DNSD" --zones "$ZONES" --state "$DSTATE" --print-ds example.test > "$WORK/ds.txt"
ok $? "ptt-dns --print-ds"
DS=$(head -1 "$WORK/ds.txt")
for_sandbox "$DSTATE" "$DSTATE/Kexample.test.private" "$ZONES/example.test.zone"
start_dnsd "$P" --state "$DSTATE" --dnssec example.test; ok $? "ptt-dns serves the signed zone"

# run_resolver NAME ANCHOR: ptt-resolver with its own state copy; sets RP, RT
run_resolver() {
	RP=$(free_port); RT=$(free_port)
	"$RESOLVER" -o state="$PTT_STATE" -o listen="127.0.0.1:$RP" \
		-o listen_tls="127.0.0.1:$RT" -o stub="example.test@127.0.0.1:$P" \
		-o trust_anchor="$2" -o verbosity=1 --print-config > "$WORK/$1.conf" || return 1
	start_bg "$1" "$RESOLVER" -o state="$PTT_STATE" -o listen="127.0.0.1:$RP" \
		-o listen_tls="127.0.0.1:$RT" -o stub="example.test@127.0.0.1:$P" \
		-o trust_anchor="$2" -o verbosity=1
	wait_port "$RT" 127.0.0.1 20
}
run_resolver resolver "$DS"; ok $? "ptt-resolver runs unbound with plain DNS and DoT"
unbound-checkconf "$WORK/resolver.conf" > /dev/null; ok $? "--print-config passes unbound-checkconf"
grep -q '^stub-zone:' "$WORK/resolver.conf" && ! grep -q 'forward-zone' "$WORK/resolver.conf" &&
	grep -A2 'name: "\."' "$WORK/resolver.conf" | grep -q "stub-addr: 127.0.0.1@$P"
ok $? "stub zones only, \".\" to the local primary (no forwarder, no real roots)"
"$RESOLVER" -o state=/var/lib/ptt/state --print-config > "$WORK/prod.conf"
grep -q 'directory: "/var/lib/ptt/state/resolver"' "$WORK/prod.conf" &&
	grep -q 'auto-trust-anchor-file: "root.key"' "$WORK/prod.conf" &&
	grep -q 'interface: 127.0.0.1@10853' "$WORK/prod.conf" && grep -q 'tls-port: 10853' "$WORK/prod.conf" &&
	grep -q 'access-control: 0.0.0.0/0 refuse' "$WORK/prod.conf" && ! grep -qE 'stub-zone|forward-zone' "$WORK/prod.conf"
ok $? "default config: roots only, root anchor (RFC 5011) in the state dir, DoT on 127.0.0.1:10853, loopback only"
pid=$(cat "$WORK/resolver.pid")
[ "$(readlink /proc/$pid/exe)" = "$(readlink -f "$(command -v unbound)")" ]
ok $? "ptt-resolver became unbound (one process, pid $pid)"
[ "$(ps -o user= -p "$pid")" = unbound ]; ok $? "unbound runs as user unbound (started as root)"

out=$("$PROBE" --dot "127.0.0.1:$RT" --ca "$CA" --anchor "$DS" example.test MX 2>&1)
echo "$out" | sed 's/^/# /'
[ "$(echo "$out" | head -1)" = "ok secure" ] && echo "$out" | grep -q '^MX 10 mx.example.test$'
ok $? "resolve.c over DoT: example.test MX, secure"
out=$("$PROBE" --dot "127.0.0.1:$RT" --ca "$CA" --anchor "$DS" mx.example.test A 2>&1)
[ "$(echo "$out" | head -1)" = "ok secure" ] && echo "$out" | grep -q '^A 127.0.0.1$'
ok $? "resolve.c over DoT: mx.example.test A, secure"
out=$("$PROBE" --dot "127.0.0.1:$RT" --ca "$CA" --anchor "$DS" nope.example.test A 2>&1)
[ "$(echo "$out" | head -1)" = "nxdomain secure" ]; ok $? "validated NXDOMAIN ($out)"
out=$("$PROBE" --dot "127.0.0.1:$RT" --ca "$CA" --repeat 25 --rounds 3 --pause-ms 300 mx.example.test A 2>&1)
ok $([ "$out" = "answers=75 ok=75 connections=1" ]; echo $?) \
	"75 queries in three rounds of 25 in flight share one TLS connection to Unbound ($out)"
out=$("$PROBE" --dot "127.0.0.1:$RT" --ca "$CA" --anchor "$DS" --name relay.internal example.test MX 2>/dev/null)
[ "$out" = "tempfail insecure" ]; ok $? "certificate name other than expected: failure ($out)"
make_ca "$WORK/otherca" > /dev/null 2>&1
out=$("$PROBE" --dot "127.0.0.1:$RT" --ca "$WORK/otherca/ca.pem" --anchor "$DS" example.test MX 2>/dev/null)
[ "$out" = "tempfail insecure" ]; ok $? "another CA: failure ($out)"

f=$(kdig +tls-ca="$CA" +tls-hostname=resolver.internal +dnssec +time=5 +retry=0 @127.0.0.1 -p "$RT" example.test MX)
echo "$f" | grep -q 'status: NOERROR' && echo "$f" | grep -qE '^;; Flags:.* ad' && echo "$f" | grep -q 'MX.*10 mx.example.test.'
ok $? "kdig +tls with the internal CA and resolver.internal: MX with AD"
echo "$f" | grep -E '^;; (TLS|Flags)' | sed 's/^/# /'
kdig +tls-ca="$CA" +tls-hostname=wrong.internal +time=3 +retry=0 @127.0.0.1 -p "$RT" example.test MX > "$WORK/kdig-bad" 2>&1
! grep -q 'status: NOERROR' "$WORK/kdig-bad"; ok $? "kdig +tls with a wrong hostname: no answer"
kdig +short +time=3 +retry=0 @127.0.0.1 -p "$RP" mx.example.test A | grep -qx 127.0.0.1
ok $? "plain DNS on the loopback port"
kdig +time=3 +retry=0 @127.0.0.1 -p "$RP" www.example.com A | grep -q 'status: SERVFAIL'
ok $? "a name outside the stubs goes nowhere (SERVFAIL, the real roots are not asked)"

# bogus: libunbound (plain forwarding to the resolver) validating with a
# tampered anchor
bad=$(echo "$DS" | awk '{d=$NF; c=substr(d,1,1); r=(c=="0")?"1":"0"; $NF=r substr(d,2); print}')
printf 'server:\n    local-zone: "test." nodefault\n' > "$WORK/ub.conf"
out=$("$PROBE" --forward "127.0.0.1:$RP" --config "$WORK/ub.conf" --anchor "$DS" example.test MX 2>&1)
[ "$(echo "$out" | head -1)" = "ok secure" ]; ok $? "libunbound forwarding to the resolver, zone anchor: secure"
out=$("$PROBE" --forward "127.0.0.1:$RP" --config "$WORK/ub.conf" --anchor "$bad" example.test MX 2>&1)
echo "$out" | sed 's/^/# /'
[ "$out" = "bogus bogus" ]; ok $? "tampered anchor in libunbound: DNS_BOGUS, no records"
# bogus: the resolver validating with a tampered anchor
run_resolver resolver_bad "$bad"; ok $? "ptt-resolver with a tampered anchor starts"
out=$("$PROBE" --dot "127.0.0.1:$RT" --ca "$CA" --anchor "$DS" example.test MX 2>&1)
[ "$out" = "bogus bogus" ]
ok $? "resolver says SERVFAIL with EDE DNSSEC Bogus: DNS_BOGUS, no records ($out)"
grep -q 'validation failure' "$WORK/resolver_bad.log"; ok $? "unbound logs the validation failure"

pid=$(cat "$WORK/resolver.pid")
kill -TERM "$pid"
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pid" 2>/dev/null; ok $? "SIGTERM stops unbound"
done_testing
