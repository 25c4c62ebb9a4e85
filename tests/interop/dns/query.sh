#!/bin/bash
# query.sh - kdig and dig against ptt-dns over UDP and TCP: answers, CNAME,
# NXDOMAIN/NODATA, referral with glue, wildcard, minimal ANY, EDNS (BADVERS,
# truncation and TCP fallback), REFUSED for other zones, reload of a changed
# zone file and refusal (with line and reason) of a broken one.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"

P=$(free_port)
write_zone example.test 1 > "$ZONES/example.test.zone"
# a big RRset that cannot fit 512 bytes
for i in $(seq 1 20); do
	echo "big TXT \"record number $i padded with some text to make it large\"" >> "$ZONES/example.test.zone"
done
for_sandbox
start_dnsd "$P"
check "ptt-dns starts" test -s "$WORK/dnsd.pid"

for t in "" "+tcp"; do
	tr=${t:-+notcp}
	out=$(kdig @127.0.0.1 -p "$P" $t example.test SOA)
	echo "$out" | grep -qi 'flags: qr aa' && echo "$out" | grep -q 'status: NOERROR'
	ok $? "kdig $tr: SOA is authoritative"
	out=$(dig @127.0.0.1 -p "$P" $t www.example.test A)
	echo "$out" | grep -q 'www.example.test.*CNAME.*example.test.' &&
	echo "$out" | grep -qE '^example.test\..*A.*127.0.0.1'
	ok $? "dig $tr: CNAME chased within the zone"
	out=$(dig @127.0.0.1 -p "$P" $t nope.example.test A)
	echo "$out" | grep -q 'status: NXDOMAIN' && echo "$out" | grep -q 'AUTHORITY: 1'
	ok $? "dig $tr: NXDOMAIN with the SOA"
	out=$(kdig @127.0.0.1 -p "$P" $t mx.example.test TXT)
	echo "$out" | grep -q 'status: NOERROR' && echo "$out" | grep -q 'ANSWER: 0' &&
	echo "$out" | grep -q 'SOA'
	ok $? "kdig $tr: NODATA with the SOA"
	out=$(kdig @127.0.0.1 -p "$P" $t b.c.example.test A)
	echo "$out" | grep -q 'status: NOERROR' && echo "$out" | grep -q 'ANSWER: 0'
	ok $? "kdig $tr: empty non-terminal is NODATA"
	out=$(dig @127.0.0.1 -p "$P" $t +norec host.sub.example.test A)
	! echo "$out" | grep -qi 'flags: qr aa' && echo "$out" | grep -q 'AUTHORITY: 1' &&
	echo "$out" | grep -q 'ns.sub.example.test.*127.0.0.2'
	ok $? "dig $tr: referral with glue, no AA"
	out=$(kdig +short @127.0.0.1 -p "$P" $t x.y.wild.example.test TXT)
	[ "$out" = '"wildcard"' ]; ok $? "kdig $tr: wildcard answer"
	n=$(dig @127.0.0.1 -p "$P" $t example.test ANY +noall +answer | wc -l)
	[ "$n" -eq 1 ]; ok $? "dig $tr: ANY gets one RRset (RFC 8482), got $n"
	out=$(kdig @127.0.0.1 -p "$P" $t example.com A)
	echo "$out" | grep -q 'status: REFUSED'; ok $? "kdig $tr: REFUSED outside our zones"
done

out=$(dig @127.0.0.1 -p "$P" +edns=1 +noednsnegotiation example.test SOA)
echo "$out" | grep -q 'status: BADVERS'; ok $? "EDNS version 1 gets BADVERS"
out=$(kdig @127.0.0.1 -p "$P" +notcp +noedns +ignore big.example.test TXT)
echo "$out" | grep -qi 'flags: qr aa tc'; ok $? "UDP answer over 512 bytes without EDNS is truncated (TC)"
out=$(dig @127.0.0.1 -p "$P" +bufsize=4096 big.example.test TXT)
echo "$out" | grep -q 'ANSWER: 20'; ok $? "dig falls back to TCP / EDNS and gets all 20 records"
n=$(kdig @127.0.0.1 -p "$P" +notcp +bufsize=1232 +ignore big.example.test TXT | grep -c 'IN.TXT')
diag "with EDNS 1232 over UDP: $n records"
out=$(dig @127.0.0.1 -p "$P" +tcp +keepopen example.test SOA mx.example.test A www.example.test A)
[ "$(echo "$out" | grep -c 'status: NOERROR')" -eq 3 ]
ok $? "three queries on one TCP connection"
out=$(dig @127.0.0.1 -p "$P" +opcode=2 example.test SOA 2>&1)
echo "$out" | grep -q 'status: NOTIMP'; ok $? "unknown opcode gets NOTIMP"

# reload: a new serial on disk is served without a restart
write_zone example.test 2 > "$ZONES/example.test.zone.new"
echo 'added A 127.0.0.42' >> "$ZONES/example.test.zone.new"
mv "$ZONES/example.test.zone.new" "$ZONES/example.test.zone"
for i in $(seq 40); do [ "$(serial "$P")" = 2 ] && break; sleep 0.1; done
[ "$(serial "$P")" = 2 ] && [ "$(kdig +short @127.0.0.1 -p "$P" added.example.test A)" = 127.0.0.42 ]
ok $? "changed zone file reloaded without restart"
# a broken file is refused with line and reason, serial 2 stays
write_zone example.test 3 > "$ZONES/example.test.zone.new"
echo 'broken A 999.1.1.1' >> "$ZONES/example.test.zone.new"
mv "$ZONES/example.test.zone.new" "$ZONES/example.test.zone"
for i in $(seq 40); do grep -q 'refused' "$WORK/dnsd.log" && break; sleep 0.1; done
grep -qE 'zone example.test. refused: .*example.test.zone:18: .*still serving serial 2' "$WORK/dnsd.log"
ok $? "broken zone refused with file:line and reason"
grep 'refused' "$WORK/dnsd.log" | sed 's/^/# /'
[ "$(serial "$P")" = 2 ]; ok $? "last good version still served"
# SIGHUP reloads too
write_zone example.test 4 > "$ZONES/example.test.zone"
kill -HUP "$(cat "$WORK/dnsd.pid")"
for i in $(seq 20); do [ "$(serial "$P")" = 4 ] && break; sleep 0.1; done
[ "$(serial "$P")" = 4 ]; ok $? "SIGHUP reloads"
# TCP: idle connections are closed, and no more than tcp-max at once
P2=$(free_port)
start_bg dnsd2 "$DNSD" --zones "$ZONES" -l "127.0.0.1:$P2" --tcp-idle 1s --tcp-max 3
wait_port "$P2"
out=$($PY - "$P2" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def closed(s):
    s.settimeout(0.5)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
time.sleep(0.3)
extra = socket.create_connection(("127.0.0.1", port))
print("limit" if closed(extra) else "nolimit")
time.sleep(1.8)
print("idle" if all(closed(c) for c in conns) else "noidle")
PY
)
echo "$out" | grep -q '^limit'; ok $? "a TCP connection past tcp-max is closed"
echo "$out" | grep -q '^idle'; ok $? "idle TCP connections are closed after tcp-idle"
kill -0 "$(cat "$WORK/dnsd.pid")"; ok $? "ptt-dns (sandboxed) still running"
done_testing
