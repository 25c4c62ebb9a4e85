#!/usr/bin/env bash
# submission.sh - ptt-submission end to end: swaks and Python's smtplib
# submit on 587 (STARTTLS) and 465 (implicit TLS) with AUTH PLAIN/LOGIN as
# a user made with `ptt adduser`; the real ptt-signer signs; ptt-sink
# stands in for the relay. Then everything a bad client may try.
. "$PTT_SRC/tests/interop/lib.sh"
PTT=$PTT_BUILD/src/ptt/ptt
SUB=$PTT_BUILD/src/submission/ptt-submission
SIGNER=$PTT_BUILD/src/signer/ptt-signer
SINK=$PTT_BUILD/src/sink/ptt-sink
CFG=$WORK/config
ST=$WORK/state
P="$PTT --config $CFG --state $ST"

$P init --bare example.test > "$WORK/init.log" 2>&1
ok $? "ptt init --bare example.test"
echo 'correct horse' | $P adduser alice --forward alice@real.test --send-as sales@example.test --password-stdin > /dev/null 2>&1
ok $? "ptt adduser alice"
echo 'tls only' | $P adduser carol --forward carol@real.test --require-tls --password-stdin > /dev/null 2>&1
ok $? "ptt adduser carol --require-tls"
make_ca "$WORK/pub"		# the certificate mail clients see
# The daemons drop to nobody, which must be able to read the repository
# (in a deployment it is the ptt user's group; see sandbox `user`).
chmod -R o+rX "$CFG"

relay_port=$(free_port); signer_port=$(free_port); p587=$(free_port); p465=$(free_port)
mkdir -p "$WORK/relay"
start_bg relay "$SINK" -L 127.0.0.1:$relay_port --cert "$ST/tls/relay.pem" \
	--key "$ST/tls/relay.key" --ca "$ST/ca/ca.pem" -d "$WORK/relay" --hostname relay.internal
start_bg signer "$SIGNER" -o listen=127.0.0.1:$signer_port -o cert="$ST/tls/signer.pem" \
	-o key="$ST/tls/signer.key" -o ca="$ST/ca/ca.pem" -o relay=127.0.0.1:$relay_port -o relay_implicit_tls=yes \
	-o domains=example.test -o state="$ST"
start_bg sub "$SUB" -o listen_submission=127.0.0.1:$p587 -o listen_smtps=127.0.0.1:$p465 \
	-o hostname=mail.example.test -o domain=example.test -o cert="$WORK/pub/server.pem" \
	-o key="$WORK/pub/server.key" -o internal_cert="$ST/tls/submission.pem" \
	-o internal_key="$ST/tls/submission.key" -o ca="$ST/ca/ca.pem" \
	-o signer=127.0.0.1:$signer_port -o config_repo="$CFG" -o reload_interval=1s \
	-o max_size=100k -o fail_max_delay=2s
wait_port $relay_port && wait_port $signer_port && wait_port $p587 && wait_port $p465
ok $? "sink (as relay), signer and submission are up"

SW="swaks --server 127.0.0.1 --tls-verify --tls-ca-path $WORK/pub/ca.pem --tls-sni mx.example.test --timeout 20"
count() { ls "$WORK/relay" | wc -l; }
last() { ls -t "$WORK/relay" | head -1; }

printf 'From: Alice <alice@example.test>\r\nTo: bob@example.net\r\nSubject: no date, no id\r\n\r\nHello.\r\n.\r\n' > "$WORK/bare.eml"
out=$($SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password 'correct horse' \
	--from alice@example.test --to bob@example.net --data "$WORK/bare.eml" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "587 STARTTLS + AUTH PLAIN: accepted end to end"
f=$WORK/relay/$(last)
ok $([ "$(grep -c '^DKIM-Signature:' "$f")" = 2 ]; echo $?) "the relay got it DKIM-signed twice"
ok $(grep -q '^Received: from .*(\[127.0.0.1\])' "$f"; echo $?) "a Received field names the client"
ok $(grep -q 'with ESMTPSA id' "$f"; echo $?) "with ESMTPSA (RFC 3848)"
ok $(grep -q '^Message-ID: <.*@example.test>' "$f"; echo $?) "a missing Message-ID is added"
ok $(grep -q '^Date: ' "$f"; echo $?) "a missing Date is added"

out=$($SW --port $p465 --tlsc --auth LOGIN --auth-user alice@example.test --auth-password 'correct horse' \
	--from alice+lists@example.test --to bob@example.net --h-From '<alice+lists@example.test>' 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "465 implicit TLS + AUTH LOGIN as alice@example.test, from a +detail address"
out=$($SW --port $p465 --tlsc --auth PLAIN --auth-user alice --auth-password 'correct horse' \
	--from sales@example.test --to bob@example.net --h-From 'Sales <sales@example.test>' 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "a send_as address is allowed"

cat > "$WORK/submit.py" <<'PY'
import smtplib, ssl, sys
from email.message import EmailMessage
ctx = ssl.create_default_context(cafile=sys.argv[2])
m = EmailMessage(); m["From"] = "alice@example.test"; m["To"] = "carol@example.net"
m["Subject"] = "smtplib"; m.set_content("hi\n")
s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=20)
s.login("alice", "correct horse"); print(s.send_message(m)); s.quit()
PY
/usr/bin/python3 "$WORK/submit.py" $p465 "$WORK/pub/ca.pem" > "$WORK/smtplib.out" 2>&1
ok $? "Python smtplib over implicit TLS with login"

# A user whose mail must travel over TLS: the relay is told so.
out=$($SW --port $p587 --tls --auth PLAIN --auth-user carol --auth-password 'tls only' \
	--from carol@example.test --to bob@example.net --h-Subject "carol needs tls" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "carol (require_tls) submits"
fc=$(grep -l '^Subject: carol needs tls' "$WORK"/relay/* | head -1)
ok $(grep -q '^X-Ptt-Require-TLS: yes' "$fc"; echo $?) "the relay gets X-Ptt-Require-TLS: yes for her"
ok $(grep -L '^X-Ptt-Require-TLS' "$WORK/relay/$(ls -t "$WORK/relay" | tail -1)" | grep -q .; echo $?) "and not for alice"
out=$($SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password 'correct horse' \
	--from alice@example.test --to bob@example.net --add-header 'X-Ptt-Require-TLS: no' 2>&1)
ok $(echo "$out" | grep -q '550 5.7.1'; echo $?) "a client cannot write X-Ptt-Require-TLS itself"

# What a client must not get away with.
n=$(count)
cat > "$WORK/raw.py" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
def rd():
    out = []
    while True:
        l = f.readline().decode(); out.append(l.strip())
        if len(l) < 4 or l[3] != "-": return out
rd()
s.sendall(b"EHLO x\r\n"); ehlo = rd()
print("AUTH-OFFERED" if any("AUTH" in l for l in ehlo) else "NO-AUTH")
s.sendall(b"AUTH PLAIN AGFsaWNlAGNvcnJlY3QgaG9yc2U=\r\n"); print(rd()[-1])
s.sendall(b"MAIL FROM:<alice@example.test>\r\n"); print(rd()[-1])
PY
out=$(/usr/bin/python3 "$WORK/raw.py" $p587 2>&1)
ok $(echo "$out" | grep -q "NO-AUTH"; echo $?) "no AUTH offered before TLS"
ok $(echo "$out" | sed -n 2p | grep -qE '^5(38|30|03)'; echo $?) "AUTH before TLS refused: $(echo "$out" | sed -n 2p)"
ok $(echo "$out" | sed -n 3p | grep -qE '^530'; echo $?) "MAIL without AUTH: $(echo "$out" | sed -n 3p)"

out=$($SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password wrong \
	--from alice@example.test --to bob@example.net 2>&1)
ok $(echo "$out" | grep -q '535 5.7.8'; echo $?) "wrong password: 535 5.7.8"
ok $(grep -q 'auth: failed for alice from 127.0.0.1' "$WORK/sub.log"; echo $?) "and one log line"
out=$($SW --port $p587 --tls --auth PLAIN --auth-user nosuchuser --auth-password x \
	--from alice@example.test --to bob@example.net 2>&1)
ok $(echo "$out" | grep -q '535 5.7.8'; echo $?) "unknown user: the same 535"
$SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password wrong2 --from a@example.test --to b@example.net > /dev/null 2>&1
ok $(grep -q 'answer delayed' "$WORK/sub.log"; echo $?) "repeated failures are slowed down"

out=$($SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password 'correct horse' \
	--from bob@example.test --to x@example.net 2>&1)
ok $(echo "$out" | grep -q '550 5.7.1'; echo $?) "MAIL FROM another user: 550 5.7.1"
out=$($SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password 'correct horse' \
	--from alice@elsewhere.test --to x@example.net 2>&1)
ok $(echo "$out" | grep -q '550 5.7.1'; echo $?) "MAIL FROM a foreign domain: 550 5.7.1"
out=$($SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password 'correct horse' \
	--from alice@example.test --to x@example.net --h-From 'The Boss <boss@example.test>' 2>&1)
ok $(echo "$out" | grep -q '550 5.7.1.*From:'; echo $?) "From: someone else: 550 5.7.1 with the reason"
out=$($SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password 'correct horse' \
	--from 'alice@@example.test' --to x@example.net 2>&1)
ok $(echo "$out" | grep -qE '<~\*? *501'; echo $?) "a malformed address: 501"
head -c 150000 /dev/zero | tr '\0' 'a' | fold -w 70 > "$WORK/big.txt"
out=$($SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password 'correct horse' \
	--from alice@example.test --to x@example.net --body "$WORK/big.txt" 2>&1)
ok $(echo "$out" | grep -q '552'; echo $?) "an oversize message: 552"
ok $([ "$(count)" = "$n" ]; echo $?) "none of these reached the relay"

# Users are hot-reloaded: a new password works without a restart.
echo 'battery staple' | $P passwd alice --password-stdin > /dev/null 2>&1
chmod -R o+rX "$CFG"
wait_line "$WORK/sub.log" "users: now 1 users" 10
out=$($SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password 'battery staple' \
	--from alice@example.test --to bob@example.net 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "after ptt passwd, the new password works without a restart"

# A renewed certificate (as ptt-acme writes it, readable by the service's
# user) is served on 465 after SIGHUP, without a restart.
serial() {
	openssl s_client -connect 127.0.0.1:$p465 -servername mail.example.test \
		</dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null
}
old=$(serial)
renew_cert "$WORK/pub" "DNS:mail.example.test,IP:127.0.0.1"
kill -HUP "$(cat "$WORK/sub.pid")"
wait_line "$WORK/sub.log" "certificate reloaded" 5
ok $? "SIGHUP: submission reloads its certificate"
new=$(serial)
ok $([ -n "$new" ] && [ "$new" != "$old" ]; echo $?) "new sessions on 465 get the renewed certificate ($old -> $new)"

# The signer is down: submission must not say 250.
kill -9 "$(cat "$WORK/signer.pid")"; sleep 0.3
out=$($SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password 'battery staple' \
	--from alice@example.test --to bob@example.net 2>&1)
ok $(echo "$out" | grep -q '^<~\* *451'; echo $?) "signer down: 451, never 250"
ok $(grep -q "sandbox: entered" "$WORK/sub.log"; echo $?) "the submission runs sandboxed"
done_testing
