#!/bin/bash
# knot_secondary.sh - a Knot 3.2 secondary (its own knotd and config on
# another loopback port) transfers example.test from ptt-dns with TSIG
# (AXFR at start), then, after an update on the primary, gets ptt-dns'
# NOTIFY (TSIG-signed: Knot's ACL asks for the key) and follows with IXFR:
# the new record and serial show up on the secondary.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"

P=$(free_port)
KP=$(free_port)
write_zone example.test 1 > "$ZONES/example.test.zone"
S=$(make_key ptt-signer)
X=$(make_key xfr-key)
cat > "$WORK/policy" <<E
key ptt-signer may update *.example.test. A TXT
key xfr-key may transfer example.test
notify example.test 127.0.0.1:$KP key xfr-key
E
for_sandbox "$ZONES/example.test.zone"
start_dnsd "$P" --tsig-dir "$KEYS" --policy "$WORK/policy"

# without the key, a transfer is refused
out=$(kdig @127.0.0.1 -p "$P" example.test AXFR 2>&1)
echo "$out" | grep -qi 'refused'; ok $? "AXFR without the transfer key: REFUSED"
n=$(kdig @127.0.0.1 -p "$P" -y "hmac-sha256:xfr-key:$X" example.test AXFR +noall +answer | grep -c 'IN')
[ "$n" -eq 16 ]; ok $? "kdig AXFR with the key: 15 records and the closing SOA ($n)"

K=$WORK/knot
mkdir -p "$K/db" "$K/zones"
cat > "$K/knot.conf" <<E
server:
    rundir: "$K"
    listen: 127.0.0.1@$KP
    pidfile: "$K/knot.pid"
database:
    storage: "$K/db"
log:
  - target: "$K/knot.log"
    any: debug
key:
  - id: xfr-key
    algorithm: hmac-sha256
    secret: $X
remote:
  - id: primary
    address: 127.0.0.1@$P
    key: xfr-key
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    action: notify
    key: xfr-key
zone:
  - domain: example.test
    storage: "$K/zones"
    master: primary
    acl: notify_from_primary
E
knotc -c "$K/knot.conf" conf-check > /dev/null 2>&1; ok $? "knot config checks"
start_bg knotd knotd -c "$K/knot.conf"
# knotd may still be starting when the test ends: wait for it to go
CLEANUP+=("for i in \$(seq 40); do kill -0 \$(cat $WORK/knotd.pid) || break; sleep 0.05; done; kill -9 \$(cat $WORK/knotd.pid)")
for i in $(seq 100); do
	[ "$(kdig +short @127.0.0.1 -p "$KP" example.test SOA 2>/dev/null | awk '{print $3}')" = 1 ] && break
	sleep 0.1
done
[ "$(kdig +short @127.0.0.1 -p "$KP" example.test SOA | awk '{print $3}')" = 1 ]
ok $? "secondary loaded serial 1 by AXFR"
[ "$(kdig +short @127.0.0.1 -p "$KP" x.y.wild.example.test TXT)" = '"wildcard"' ]
ok $? "secondary answers from the transferred zone"

out=$("$DNSUPD" -s "127.0.0.1:$P" -z example.test. -k "$KEYS/ptt-signer" add "fresh.example.test. 60 A 127.0.0.77")
[ "$out" = NOERROR ]; ok $? "update on the primary"
for i in $(seq 100); do
	[ "$(kdig +short @127.0.0.1 -p "$KP" fresh.example.test A 2>/dev/null)" = 127.0.0.77 ] && break
	sleep 0.1
done
[ "$(kdig +short @127.0.0.1 -p "$KP" fresh.example.test A)" = 127.0.0.77 ] &&
	[ "$(kdig +short @127.0.0.1 -p "$KP" example.test SOA | awk '{print $3}')" = 2 ]
ok $? "after NOTIFY the secondary has the update (serial 2)"
grep -q 'notify example.test. serial 2 to' "$WORK/dnsd.log"; ok $? "ptt-dns logged the NOTIFY"
grep -qiE 'IXFR|AXFR' "$WORK/dnsd.log" && grep -E 'IXFR|AXFR' "$WORK/dnsd.log" | sed 's/^/# /'
grep -iE 'notify|refresh' "$K/knot.log" | tail -3 | sed 's/^/# knot: /'
# a second change, to exercise IXFR from the journal
out=$("$DNSUPD" -s "127.0.0.1:$P" -z example.test. -k "$KEYS/ptt-signer" del-rrset "fresh.example.test. A")
for i in $(seq 100); do
	[ -z "$(kdig +short @127.0.0.1 -p "$KP" fresh.example.test A 2>/dev/null)" ] && break
	sleep 0.1
done
[ -z "$(kdig +short @127.0.0.1 -p "$KP" fresh.example.test A)" ] &&
	[ "$(kdig +short @127.0.0.1 -p "$KP" example.test SOA | awk '{print $3}')" = 3 ]
ok $? "deletion reaches the secondary too (serial 3)"
grep -q 'IXFR of example.test. serial 3' "$WORK/dnsd.log"; ok $? "the secondary used IXFR"
done_testing
