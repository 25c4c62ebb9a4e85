#!/usr/bin/env bash
# certs.sh - pttd and the mx's public certificate, as ptt-acme provides
# it in the state directory (certs/NAME.pem and NAME.key, owned by the
# user the services become):
#  - configured before it exists, the mx is not started but "waiting for
#    certificate PATH" in the status JSON, `ptt status` and /metrics, with
#    no restart counted; a configuration commit meanwhile is deployed
#    to it without starting it; once the files appear pttd starts it
#    (with that configuration) and its STARTTLS (openssl s_client)
#    presents that certificate;
#  - the files replaced the way ptt-acme does (temporary files, rename
#    the certificate, rename the key) with a certificate for another
#    name: pttd sends the mx one SIGHUP, new handshakes present the new
#    certificate, the mx keeps its pid, and an SMTP session (Python
#    smtplib, STARTTLS) opened before the change completes a transaction
#    afterwards, through ptt-sink standing in for the spamfilter;
#  - a certificate renewed for the same key (only the .pem replaced) is
#    handed over the same way, with one more SIGHUP.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"
B=$PTT_BUILD
CFG=$WORK/config; ST=$WORK/state
P="$B/src/ptt/ptt --config $CFG --state $ST"

$P init --bare example.test > "$WORK/init.log" 2>&1 &&
echo 'correct horse' | $P adduser alice --forward alice@real.test --password-stdin > /dev/null 2>&1
ok $? "ptt init and adduser"
make_ca "$WORK/pub"		# server.pem: mx.example.test, IP:127.0.0.1
make_cert "$WORK/pub" renewed.example.test "DNS:renewed.example.test,IP:127.0.0.1"

# DNS for the mx's SPF/DMARC checks of sender.test; ptt-sink as the
# spamfilter (mutual TLS with the internal CA).
write_zone example.test 1 > "$ZONES/example.test.zone"
write_zone sender.test 1 > "$ZONES/sender.test.zone"
printf 'server:\n    local-zone: "test." nodefault\n' > "$WORK/unbound.conf"
chmod 644 "$WORK/unbound.conf"
dns_port=$(free_port); sink_port=$(free_port); mx_port=$(free_port); status_port=$(free_port)
start_dnsd "$dns_port" --no-sandbox
ok $? "ptt-dns serves sender.test"
mkdir -p "$WORK/sink"
start_bg sink "$B/src/sink/ptt-sink" -L 127.0.0.1:$sink_port --cert "$ST/tls/spamfilter.pem" \
	--key "$ST/tls/spamfilter.key" --ca "$ST/ca/ca.pem" -d "$WORK/sink" \
	--hostname spamfilter.internal

# The certificate files where ptt-acme writes them, not there yet.
CERTS=$ST/certs
PEM=$CERTS/mail.example.test.pem; KEY=$CERTS/mail.example.test.key
mkdir -p "$CERTS"; chown nobody "$CERTS"; chmod 700 "$CERTS"
# Under ASan, LeakSanitizer cannot read /proc/self/task after the uid
# change: sanitizer builds run the mx unsandboxed (as tests/interop/mx).
SANDBOX=yes
ldd "$B/src/mx/ptt-mx" 2>/dev/null | grep -q libasan && SANDBOX=no

# The whole ptt.conf is written here (whatever sections ptt init wrote).
cat > "$CFG/ptt.conf" <<CONF
domain = example.test

[pttd]
services = mx
status = 127.0.0.1:$status_port
poll_interval = 1s
health_interval = 1s
health_timeout = 5s
restart_delay = 1s
restart_max = 4s
stop_timeout = 30s

[mx]
listen = 127.0.0.1:$mx_port
hostname = mx.example.test
domain = example.test
authserv_id = mx.example.test
cert = $PEM
key = $KEY
internal_cert = $ST/tls/mx.pem
internal_key = $ST/tls/mx.key
ca = $ST/ca/ca.pem
spamfilter = 127.0.0.1:$sink_port
config_repo = $CFG
reload_interval = 1s
postmaster = alice
srs_secret = $ST/srs.key
dns_stub = 127.0.0.1@$dns_port
dns_allow_localhost = yes
dns_config_file = $WORK/unbound.conf
sandbox = $SANDBOX
CONF
PTTD_URL=http://127.0.0.1:$status_port
. "$PTT_SRC/tests/interop/pttd/status.sh"
commit_conf "pttd runs the mx, whose certificate ptt-acme has not obtained yet"
ok $? "ptt.conf with [pttd] and [mx] committed"
start_pttd
mx_field() { svc_field mx "$1"; }
wait_state() {	# wait_state STATE [SECONDS]
	local i
	for i in $(seq $(( ${2:-60} * 5 ))); do [ "$(mx_field state)" = "$1" ] && return 0; sleep 0.2; done
	return 1
}
# subject: the subject of the certificate a new STARTTLS handshake shows.
subject() {
	timeout 30 openssl s_client -starttls smtp -connect 127.0.0.1:$mx_port \
		-servername mx.example.test < /dev/null 2>/dev/null |
		openssl x509 -noout -subject -nameopt RFC2253 2>/dev/null
}
# wait_subject CN: until a new handshake shows CN (at most a minute);
# prints the last subject seen.
wait_subject() {
	local i s
	for i in $(seq 120); do
		s=$(subject); echo "$s" | grep -q "CN=$1" && break
		sleep 0.5
	done
	echo "$s"
}
# install DIR NAME: the certificate and key the way ptt-acme writes them:
# each to a temporary file, then rename the certificate, then the key.
install_pair() {
	cp "$1/$2.pem" "$CERTS/.pem.tmp" && cp "$1/$2.key" "$CERTS/.key.tmp" &&
	chown nobody "$CERTS/.pem.tmp" "$CERTS/.key.tmp" &&
	chmod 644 "$CERTS/.pem.tmp" && chmod 600 "$CERTS/.key.tmp" &&
	mv "$CERTS/.pem.tmp" "$PEM" && mv "$CERTS/.key.tmp" "$KEY"
}

# 1. No certificate yet: waiting, not crash-looping.
wait_state waiting 60
ok $? "the mx waits for its certificate"
ok $([ "$(mx_field waiting)" = "waiting for certificate $PEM" ] && [ "$(mx_field pid)" = 0 ]; echo $?) \
	"the status names the missing file: $(mx_field waiting)"
out=$($P status 2>&1)
ok $(echo "$out" | grep -Eq "^mx +waiting .*waiting for certificate $PEM"; echo $?) "ptt status shows the mx waiting, and why"
echo "$out" | grep '^mx ' | sed 's/^/# /'
out=$(curl -fs "$PTTD_URL/metrics")
ok $(echo "$out" | grep -qF "ptt_service_waiting{service=\"mx\",reason=\"waiting for certificate $PEM\"} 1"; echo $?) \
	"/metrics: ptt_service_waiting with the reason"
# Health ticks go by (1s apart): without the wait, the mx would have
# exited on the missing file and been restarted by now.
sleep 4
ok $([ "$(mx_field state)" = waiting ] && [ "$(mx_field restarts)" = 0 ] &&
	! grep -q "started pid" "$WORK/pttd.log"; echo $?) \
	"still waiting after several health ticks: no start, no restart counted ($(mx_field restarts))"
# A configuration commit meanwhile: the waiting mx takes it, to start
# with it later; the deploy does not fail on it.
sed -i 's/^\[mx\]$/[mx]\nmax_rcpts = 50/' "$CFG/ptt.conf"
commit_conf "the mx takes at most 50 recipients"
new=$(git -C "$CFG" rev-parse HEAD)
kill -HUP "$(cat "$WORK/pttd.pid")"
wait_deploy "$new" '\(deployed\|failed\)'
ok $(last_deploy | grep -q "^${new:0:12} deployed"; echo $?) "a commit while it waits is deployed: $(last_deploy)"
ok $([ "$(mx_field state)" = waiting ] && [ "$(mx_field config)" = "$new" ] && [ "$(mx_field restarts)" = 0 ]; echo $?) \
	"the mx still waits, now with the new configuration"

# 2. ptt-acme obtains the certificate: the mx starts and presents it.
install_pair "$WORK/pub" server
ok $? "the certificate and key are written as ptt-acme does"
wait_state healthy 90
ok $? "pttd starts the mx once the files exist, and it is healthy"
ok $([ "$(mx_field restarts)" = 0 ] && [ "$(mx_field waiting)" = "" ] && [ "$(mx_field config)" = "$new" ]; echo $?) \
	"no restart counted, no longer waiting, running the configuration committed meanwhile"
pid=$(mx_field pid)
s=$(subject)
ok $(echo "$s" | grep -q "CN=mx.example.test"; echo $?) "STARTTLS presents the certificate that appeared: $s"

# 3. A session opened now (STARTTLS with the first certificate) stays
# open across the renewal and sends afterwards.
cat > "$WORK/session.py" <<'PY'
import os, smtplib, ssl, sys, time
port, ca, ready, go = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
s = smtplib.SMTP("127.0.0.1", int(port), timeout=300)
s.ehlo("client.sender.test")
s.starttls(context=ctx)
s.ehlo("client.sender.test")
cn = dict(x[0] for x in s.sock.getpeercert()["subject"])["commonName"]
open(ready, "w").write(cn + "\n")
for _ in range(3000):
    if os.path.exists(go):
        break
    time.sleep(0.1)
msg = ("From: bob@sender.test\r\nTo: alice@example.test\r\n"
       "Subject: opened before the renewal\r\n\r\nhello\r\n")
try:
    s.sendmail("bob@sender.test", ["alice@example.test"], msg)
    print("OK", cn)
except Exception as e:
    print("FAIL", e)
s.quit()
PY
$PY "$WORK/session.py" $mx_port "$WORK/pub/ca.pem" "$WORK/ready" "$WORK/go" > "$WORK/session.out" 2>&1 &
SESSION=$!
for i in $(seq 300); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
ok $(grep -qx mx.example.test "$WORK/ready" 2>/dev/null; echo $?) "a session is open with STARTTLS on the first certificate"

# 4. Renewal: another certificate replaces the pair.
install_pair "$WORK/pub" renewed.example.test
ok $? "the pair is replaced (rename certificate, rename key) by one for renewed.example.test"
s=$(wait_subject renewed.example.test)
ok $(echo "$s" | grep -q "CN=renewed.example.test"; echo $?) "a new STARTTLS handshake presents the renewed certificate: $s"
ok $([ "$(mx_field pid)" = "$pid" ] && [ "$(mx_field restarts)" = 0 ] && [ "$(mx_field state)" = healthy ]; echo $?) \
	"the same mx process (pid $pid) serves it: no restart"
n=$(grep -c "mx: certificate $CERTS/mail.example.test.\(pem\|key\) changed, SIGHUP to pid $pid" "$WORK/pttd.log")
ok $([ "$n" = 1 ]; echo $?) "pttd logged one SIGHUP to pid $pid for the pair ($n)"
grep "SIGHUP to pid" "$WORK/pttd.log" | sed 's/^/# /'
# A certificate renewed for the same key: only the .pem changes; pttd
# signals once the pair stopped changing for a tick.
openssl req -new -key "$WORK/pub/renewed.example.test.key" -subj /CN=again.example.test \
	-out "$WORK/pub/again.csr" 2>/dev/null &&
printf 'subjectAltName=DNS:again.example.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$WORK/pub/again.ext" &&
openssl x509 -req -in "$WORK/pub/again.csr" -CA "$WORK/pub/ca.pem" -CAkey "$WORK/pub/ca.key" \
	-CAcreateserial -days 2 -extfile "$WORK/pub/again.ext" -out "$WORK/pub/again.pem" 2>/dev/null &&
cp "$WORK/pub/again.pem" "$CERTS/.pem.tmp" && chmod 644 "$CERTS/.pem.tmp" && mv "$CERTS/.pem.tmp" "$PEM"
ok $? "the certificate alone is replaced (same key, name again.example.test)"
s=$(wait_subject again.example.test)
ok $(echo "$s" | grep -q "CN=again.example.test"; echo $?) "new handshakes present it: $s"
n=$(grep -c "mx: certificate $PEM changed, SIGHUP to pid $pid" "$WORK/pttd.log")
ok $([ "$n" = 2 ] && [ "$(mx_field pid)" = "$pid" ]; echo $?) "one more SIGHUP to the same pid ($n in all)"
touch "$WORK/go"
for i in $(seq 600); do kill -0 $SESSION 2>/dev/null || break; sleep 0.1; done
ok $(grep -q "^OK mx.example.test" "$WORK/session.out"; echo $?) \
	"the session opened before the renewal completes a transaction: $(head -c 300 "$WORK/session.out")"
ok $(grep -lq "^Subject: opened before the renewal" "$WORK/sink"/* 2>/dev/null; echo $?) "the message reached the spamfilter"

# 5. SIGTERM: pttd stops the mx and exits; no sanitizer report.
mxpid=$(mx_field pid)
kill -TERM "$(cat "$WORK/pttd.pid")"
for i in $(seq 200); do kill -0 "$(cat "$WORK/pttd.pid")" 2>/dev/null || break; sleep 0.1; done
ok $( ! kill -0 "$(cat "$WORK/pttd.pid")" 2>/dev/null && ! kill -0 "$mxpid" 2>/dev/null; echo $?) "SIGTERM: pttd stops the mx and exits"
! grep -q "Sanitizer\|runtime error" "$WORK/pttd.log"
ok $? "pttd: no sanitizer report"
done_testing
