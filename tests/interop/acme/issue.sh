#!/bin/bash
# issue.sh - ptt-acme against Debian's pebble (RFC 8555 test CA) with
# DNS-01 through ptt-dns: pebble validates at ptt-dns (-dnsserver), ptt-acme
# publishes the challenge records by TSIG-signed UPDATE. A certificate for
# two names is issued and verifies against pebble's root and intermediate,
# the records are gone afterwards, the updates were committed to the
# zone's git repository, a service is sent SIGHUP; a forced renewal
# (SIGUSR1) replaces certificate and key; --once leaves a good certificate
# alone; a wrong TSIG key fails with a clear line.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"

ACME=$PTT_BUILD/src/acme/ptt-acme
command -v pebble >/dev/null || { skip "pebble is not installed" "scripts/deps.sh"; done_testing; exit; }

# ---- ptt-dns with example.test in git and a key for _acme-challenge ----
P=$(free_port)
G() { git -c safe.directory='*' -C "$ZONES" "$@"; }
write_zone example.test 1 > "$ZONES/example.test.zone"
G init -q && G add . && G -c user.name=t -c user.email=t@t commit -qm "initial zone"
for_sandbox
chown -R nobody "$ZONES"
make_key ptt-acme > /dev/null
echo 'key ptt-acme may update _acme-challenge.* TXT' > "$WORK/policy"
start_dnsd "$P" --tsig-dir "$KEYS" --policy "$WORK/policy"
# a record an interrupted run left behind
"$DNSUPD" -s "127.0.0.1:$P" -z example.test. -k "$KEYS/ptt-acme" \
	add '_acme-challenge.mail.example.test. 60 TXT "stale"' > /dev/null
[ "$(kdig +short @127.0.0.1 -p "$P" _acme-challenge.mail.example.test TXT)" = '"stale"' ]
ok $? "a stale challenge record is served before ptt-acme starts"

# ---- pebble with its own WFE certificate, validating at ptt-dns ----
make_ca "$WORK/wfe"
AP=$(free_port); MP=$(free_port); HP=$(free_port); TP=$(free_port)
cat > "$WORK/pebble.json" <<E
{ "pebble": {
    "listenAddress": "127.0.0.1:$AP",
    "managementListenAddress": "127.0.0.1:$MP",
    "certificate": "$WORK/wfe/server.pem",
    "privateKey": "$WORK/wfe/server.key",
    "httpPort": $HP, "tlsPort": $TP,
    "ocspResponderURL": "", "externalAccountBindingRequired": false } }
E
# NOSLEEP: no random validation delay; NONCEREJECT: pebble refuses 30%
# of the nonces (badNonce), which ptt-acme must retry (up to 10 times)
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=30 PEBBLE_AUTHZREUSE=0 \
	start_bg pebble pebble -config "$WORK/pebble.json" -dnsserver "127.0.0.1:$P" -strict
C() { curl -fsS --cacert "$WORK/wfe/ca.pem" "$@"; }
for i in $(seq 100); do C "https://127.0.0.1:$AP/dir" >/dev/null 2>&1 && break; sleep 0.1; done
C "https://127.0.0.1:$MP/roots/0" > "$WORK/root.pem" &&
	C "https://127.0.0.1:$MP/intermediates/0" > "$WORK/intermediate.pem"
ok $? "pebble is up; its root and intermediate fetched"

# ---- a stand-in service that wants SIGHUP after a new certificate ----
cat > "$WORK/svc.sh" <<'E'
trap 'echo hup >> "$1/hups"' HUP
echo $$ > "$1/svc.pid"
while :; do sleep 0.1; done
E
start_bg svc bash "$WORK/svc.sh" "$WORK"
wait_line "$WORK/svc.pid" '^[0-9]+$' 5

# ---- ptt-acme ----
STATE=$WORK/state
cat > "$WORK/ptt.conf" <<E
domain = example.test
[acme]
directory = https://localhost:$AP/dir
ca = $WORK/wfe/ca.pem
contact = mailto:hostmaster@example.test
names = mail.example.test mx.example.test
zone = example.test
dns_primary = 127.0.0.1:$P
tsig_key = $KEYS/ptt-acme
propagation_wait = 0
retry_min = 1s
state = $STATE
notify_pidfiles = $WORK/svc.pid $WORK/probe.pid
E
CERT=$STATE/certs/mail.example.test.pem
KEY=$STATE/certs/mail.example.test.key
start_bg acme "$ACME" -c "$WORK/ptt.conf"
wait_line "$WORK/acme.log" 'issued|renewal failed' 40
grep -q 'issued' "$WORK/acme.log"; ok $? "ptt-acme got a certificate from pebble"
grep -E 'issued|failed|problem' "$WORK/acme.log" | sed 's/^/# /'

openssl verify -CAfile "$WORK/root.pem" -untrusted "$WORK/intermediate.pem" "$CERT" > "$WORK/verify.out" 2>&1
ok $? "it verifies against pebble's root and intermediate"
san=$(openssl x509 -in "$CERT" -noout -ext subjectAltName 2>/dev/null | tail -1)
[[ $san == *DNS:mail.example.test* && $san == *DNS:mx.example.test* ]]
ok $? "both names are in it ($(echo $san))"
[ "$(openssl x509 -in "$CERT" -noout -pubkey | openssl sha256)" = "$(openssl pkey -in "$KEY" -pubout | openssl sha256)" ]
ok $? "the key written beside it is its key"
openssl pkey -in "$KEY" -noout -text 2>/dev/null | grep -q 'prime256v1'
ok $? "a new ECDSA P-256 key"
[ "$(stat -c %a "$KEY")" = 600 ] && [ "$(stat -c %a "$CERT")" = 644 ] &&
	[ "$(stat -c %a "$STATE/acme/account.key")" = 600 ]
ok $? "modes: key 0600, chain 0644, account key 0600"
[ "$(grep -c 'BEGIN CERTIFICATE' "$CERT")" -ge 2 ]; ok $? "the file holds the chain"

grep -q 'published _acme-challenge.mail.example.test. TXT' "$WORK/acme.log" &&
	grep -q 'removed _acme-challenge.mx.example.test. TXT' "$WORK/acme.log"
ok $? "challenge records published and removed (logged)"
[ -z "$(kdig +short @127.0.0.1 -p "$P" _acme-challenge.mail.example.test TXT)" ] &&
	[ -z "$(kdig +short @127.0.0.1 -p "$P" _acme-challenge.mx.example.test TXT)" ]
ok $? "no _acme-challenge TXT is served afterwards (the stale one is gone too)"
n=$(G log --format=%s | grep -c 'by key ptt-acme')
[ "$n" -ge 4 ]; ok $? "the updates were committed to the zone's git repository ($n commits)"
! grep -q '_acme-challenge' "$ZONES/example.test.zone"; ok $? "and the zone file is clean again"
wait_line "$WORK/hups" hup 5; ok $? "the service got SIGHUP"

# ---- forced renewal, seen by a TLS server that reloads on SIGHUP ----
s1=$(openssl x509 -in "$CERT" -noout -serial)
k1=$(openssl pkey -in "$KEY" -pubout | openssl sha256)
TP=$(free_port)
start_bg probe "$PTT_BUILD/tests/interop/acme/acme_tls_probe" "127.0.0.1:$TP" "$CERT" "$KEY" "$WORK/probe.pid"
wait_line "$WORK/probe.log" listening 5
cat > "$WORK/renew.sh" <<E
kill -USR1 \$(cat "$WORK/acme.pid")
for i in \$(seq 200); do [ "\$(grep -c issued "$WORK/acme.log")" -ge 2 ] && break
	grep -q 'renewal failed' "$WORK/acme.log" && break; sleep 0.1; done
for i in \$(seq 50); do grep -q reload "$WORK/probe.log" && break; sleep 0.1; done
E
cat > "$WORK/client.py" <<'E'
import hashlib, socket, ssl, subprocess, sys
port, root, trigger = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=root)
def connect():
    t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="mx.example.test")
    return t, hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()
a, fa = connect()
a.sendall(b"one\n"); a.recv(64)
subprocess.run(["bash", trigger], check=True)
b, fb = connect()
a.sendall(b"still here\n")
print(fa, fb, a.recv(64).decode().strip().replace(" ", "_"))
E
read -r fa fb echo < <($PY "$WORK/client.py" "$TP" "$WORK/root.pem" "$WORK/renew.sh" 2>"$WORK/client.err")
fp() { openssl x509 -in "$1" -outform der | sha256sum | cut -d' ' -f1; }
[ "$(grep -c 'issued' "$WORK/acme.log")" = 2 ]; ok $? "SIGUSR1 forces a renewal"
s2=$(openssl x509 -in "$CERT" -noout -serial)
[ "$s1" != "$s2" ]; ok $? "the certificate was replaced ($s1 -> $s2)"
[ "$(openssl pkey -in "$KEY" -pubout | openssl sha256)" != "$k1" ]; ok $? "with a new key"
openssl verify -CAfile "$WORK/root.pem" -untrusted "$WORK/intermediate.pem" "$CERT" >/dev/null 2>&1
ok $? "the new one verifies too"
for i in $(seq 50); do [ "$(grep -c hup "$WORK/hups")" -ge 2 ] && break; sleep 0.1; done
[ "$(grep -c hup "$WORK/hups")" = 2 ]; ok $? "the service got a second SIGHUP"
n=$(grep -c 'badNonce, retrying' "$WORK/acme.log")
[ "$n" -ge 1 ]; ok $? "pebble's badNonce refusals were retried, over two issuances ($n)"
grep -q '^reloaded' "$WORK/probe.log"; ok $? "a TLS server told by SIGHUP reloaded it (tls_server_reload)"
[ -n "${fb:-}" ] && [ "$fb" = "$(fp "$CERT")" ] && [ "$fa" != "$fb" ]
ok $? "new connections get the new certificate, verified by Python's ssl"
[ "${echo:-}" = "still_here" ]; ok $? "a connection made before the reload still carries data"
[ -s "$WORK/client.err" ] && sed 's/^/# /' "$WORK/client.err"
kill "$(cat "$WORK/acme.pid")"
for i in $(seq 50); do kill -0 "$(cat "$WORK/acme.pid")" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$(cat "$WORK/acme.pid")" 2>/dev/null; ok $? "SIGTERM stops ptt-acme (helper and worker)"

# ---- ptt acme status ----
out=$("$PTT_BUILD/src/ptt/ptt" --state "$STATE" acme status 2>&1)
rc=$?
[ $rc = 0 ] && [[ $out == "mail.example.test.pem: names=mail.example.test,mx.example.test"* ]] &&
	[[ $out == *"${s2#serial=}"*"key=ok: ok" ]]
ok $? "ptt acme status shows the certificate, its renewal time and key (exit $rc)"
echo "$out" | sed 's/^/# /'
chmod 644 "$KEY"
"$PTT_BUILD/src/ptt/ptt" --state "$STATE" acme status > "$WORK/status.out" 2>&1
rc=$?
chmod 600 "$KEY"
[ $rc = 1 ] && grep -q 'key=mode 0644' "$WORK/status.out"; ok $? "and complains about a key readable by others (exit $rc)"

# ---- --once: a good certificate is left alone ----
# (without the sandbox: LeakSanitizer cannot read /proc after the uid
# change, and here it checks this path for leaks in sanitizer builds)
"$ACME" -c "$WORK/ptt.conf" -o notify_pidfiles= -o sandbox=no --once > "$WORK/once.log" 2>&1
rc=$?
[ $rc = 0 ] && grep -q 'renewal in' "$WORK/once.log" && [ "$(openssl x509 -in "$CERT" -noout -serial)" = "$s2" ]
ok $? "--once keeps a certificate that is not due (exit $rc)"

# ---- a wrong TSIG key: a clear failure, nothing changed ----
(umask 077; echo "ptt-acme:hmac-sha256:$(openssl rand -base64 32)" > "$WORK/wrong.key")
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	"$ACME" -c "$WORK/ptt.conf" -o notify_pidfiles= -o tsig_key="$WORK/wrong.key" --once --force > "$WORK/bad.log" 2>&1
rc=$?
[ $rc = 1 ] && grep -q 'renewal failed.*NOTAUTH tsig=BADSIG' "$WORK/bad.log"
ok $? "a wrong TSIG key fails with the reason (exit $rc)"
grep 'renewal failed' "$WORK/bad.log" | sed 's/^/# /'
[ "$(openssl x509 -in "$CERT" -noout -serial)" = "$s2" ]; ok $? "and the certificate stays"

# ---- --once --force: one more issuance, leak-checked in sanitizer builds ----
"$ACME" -c "$WORK/ptt.conf" -o notify_pidfiles= -o sandbox=no --once --force > "$WORK/force.log" 2>&1
rc=$?
[ $rc = 0 ] && [ "$(openssl x509 -in "$CERT" -noout -serial)" != "$s2" ] &&
	openssl verify -CAfile "$WORK/root.pem" -untrusted "$WORK/intermediate.pem" "$CERT" >/dev/null 2>&1
ok $? "--once --force issues a new certificate and exits 0 (exit $rc)"
[ $rc = 0 ] || sed 's/^/# /' "$WORK/force.log" | tail -20

# ---- an unreachable CA: failures back off exponentially up to retry_max ----
CP=$(free_port)
start_bg backoff "$ACME" -c "$WORK/ptt.conf" -o notify_pidfiles= -o names=other.example.test \
	-o directory="https://127.0.0.1:$CP/dir" -o retry_max=2s
for i in $(seq 100); do [ "$(grep -c 'renewal failed' "$WORK/backoff.log")" -ge 3 ] && break; sleep 0.1; done
kill "$(cat "$WORK/backoff.pid")"
waits=$(grep -o 'next attempt in [0-9]*s' "$WORK/backoff.log" | head -3 | awk '{print $4}' | tr '\n' ' ')
[ "$waits" = "1s 2s 2s " ]; ok $? "unreachable CA: retried after 1s, 2s, 2s (doubling, capped)"
grep -m1 'renewal failed' "$WORK/backoff.log" | sed 's/^/# /'

done_testing
