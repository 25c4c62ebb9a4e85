#!/usr/bin/env bash
# outbound.sh - the whole outbound path on loopback, every hop real:
# swaks submits as a user over 587 (STARTTLS) and 465 (implicit TLS) to
# ptt-submission -> ptt-signer (keys published to ptt-dns by TSIG UPDATE)
# -> ptt-relay, which finds the recipient's MX through ptt-dns and
# delivers over STARTTLS to a remote MX (ptt-sink). At the far end dkimpy
# and OpenDKIM verify the rsa-sha256 and ed25519-sha256 signatures.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"
B=$PTT_BUILD
CFG=$WORK/config; ST=$WORK/state
P="$B/src/ptt/ptt --config $CFG --state $ST"

$P init --bare example.test > "$WORK/init.log" 2>&1 &&
echo 'correct horse' | $P adduser alice --forward alice@real.test --password-stdin > /dev/null 2>&1
ok $? "ptt init and adduser"
chmod -R o+rX "$CFG"
make_ca "$WORK/pub"				# certificates the outside sees
make_cert "$WORK/pub" mx.dest.test "DNS:mx.dest.test,IP:127.0.0.1"

dns_port=$(free_port); mx_port=$(free_port); relay_port=$(free_port)
signer_port=$(free_port); p587=$(free_port); p465=$(free_port)

# DNS: our domain (the signer publishes into it) and the recipient's,
# whose MX is mx.dest.test on 127.0.0.1; also port 53 on a random
# loopback address for OpenDKIM, which asks the resolver of resolv.conf.
odk_ip=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
write_zone example.test 1 > "$ZONES/example.test.zone"
printf '$ORIGIN dest.test.\n$TTL 60\n@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n@ MX 10 mx\nmx A 127.0.0.1\n' > "$ZONES/dest.test.zone"
make_key signer-key > /dev/null
echo "key signer-key. may update *._domainkey.example.test. TXT" > "$WORK/policy"
start_dnsd "$dns_port" --tsig-dir "$KEYS" --policy "$WORK/policy" --no-sandbox -l $odk_ip:53
ok $? "ptt-dns serves example.test and dest.test"
printf 'server:\n    local-zone: "test." nodefault\n    do-not-query-localhost: no\n' > "$WORK/unbound.conf"
chmod 644 "$WORK/unbound.conf"

mkdir -p "$WORK/mx" "$WORK/queue"
start_bg mx "$B/src/sink/ptt-sink" -l 127.0.0.1:$mx_port --cert "$WORK/pub/mx.dest.test.pem" \
	--key "$WORK/pub/mx.dest.test.key" -d "$WORK/mx" --hostname mx.dest.test
start_bg relay "$B/src/relay/ptt-relay" -o listen=127.0.0.1:$relay_port \
	-o cert="$ST/tls/relay.pem" -o key="$ST/tls/relay.key" -o ca="$ST/ca/ca.pem" \
	-o queue_dir="$WORK/queue" -o dns_stub=127.0.0.1@$dns_port -o dns_allow_localhost=yes \
	-o dns_config_file="$WORK/unbound.conf" -o remote_port=$mx_port -o helo_name=relay.example.test
start_bg signer "$B/src/signer/ptt-signer" -o listen=127.0.0.1:$signer_port \
	-o cert="$ST/tls/signer.pem" -o key="$ST/tls/signer.key" -o ca="$ST/ca/ca.pem" \
	-o relay=127.0.0.1:$relay_port -o domains=example.test -o state="$ST" \
	-o dns_primary=127.0.0.1:$dns_port -o tsig_key="$KEYS/signer-key"
start_bg sub "$B/src/submission/ptt-submission" -o listen_submission=127.0.0.1:$p587 \
	-o listen_smtps=127.0.0.1:$p465 -o hostname=mail.example.test -o domain=example.test \
	-o cert="$WORK/pub/server.pem" -o key="$WORK/pub/server.key" \
	-o internal_cert="$ST/tls/submission.pem" -o internal_key="$ST/tls/submission.key" \
	-o ca="$ST/ca/ca.pem" -o signer=127.0.0.1:$signer_port -o config_repo="$CFG"
wait_port $mx_port && wait_port $relay_port && wait_port $signer_port && wait_port $p587 && wait_port $p465
ok $? "remote MX, relay, signer and submission are up"

SW="swaks --server 127.0.0.1 --tls-verify --tls-ca-path $WORK/pub/ca.pem --tls-sni mx.example.test --timeout 30"
out=$($SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password 'correct horse' \
	--from alice@example.test --to bob@dest.test --h-Subject "via 587" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "swaks over 587 (STARTTLS, AUTH PLAIN): 250 after every hop said 250"
out=$($SW --port $p465 --tlsc --auth LOGIN --auth-user alice --auth-password 'correct horse' \
	--from alice@example.test --to carol@dest.test --h-Subject "via 465" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "swaks over 465 (implicit TLS, AUTH LOGIN): 250"

arrived() { [ "$(ls "$WORK/mx" | wc -l)" -ge 2 ]; }
for i in $(seq 200); do arrived && break; sleep 0.1; done
ok $(arrived; echo $?) "both messages reached the recipient's MX, found by MX lookup"
f587=$(grep -l '^Subject: via 587' "$WORK"/mx/* | head -1)
f465=$(grep -l '^Subject: via 465' "$WORK"/mx/* | head -1)
ok $(grep -q '^X-Ptt-Sink-Rcpt-To: <bob@dest.test>' "$f587"; echo $?) "the envelope recipient is intact"
ok $(grep -q '^X-Ptt-Sink-Mail-From: <alice@example.test>' "$f587"; echo $?) "the envelope sender is intact"
ok $(grep -q '^X-Ptt-Sink-Tls: version=TLSv1' "$f587"; echo $?) "the relay delivered over STARTTLS"
ok $(grep -q "delivered\|status=sent" "$WORK/relay.log"; echo $?) "the relay logged the delivery"

cat > "$WORK/verify.py" <<'PY'
import sys, dkim, pttmail          # tests/interop/pttmail.py
dnsfunc = pttmail.dnsfunc(sys.argv[2])
msg = pttmail.unsink(sys.argv[1])  # past the sink's envelope lines
d = dkim.DKIM(msg)
sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
res = {dkim.util.parse_tag_value(h[1])[b"a"].decode(): d.verify(idx=i, dnsfunc=dnsfunc) for i, h in enumerate(sigs)}
print(res)
sys.exit(0 if res.get("rsa-sha256") and res.get("ed25519-sha256") else 1)
PY
for f in "$f587" "$f465"; do
	res=$(PYTHONPATH=$PTT_SRC/tests/interop /usr/bin/python3 "$WORK/verify.py" "$f" "$dns_port" 2>&1)
	ok $? "dkimpy verifies rsa-sha256 and ed25519-sha256 at the far end ($(basename "$f")): $res"
done

# OpenDKIM, through resolv.conf pointed at ptt-dns in a mount namespace,
# one signature at a time.
echo "nameserver $odk_ip" > "$WORK/resolv.conf"
for alg in rsa-sha256 ed25519-sha256; do
	/usr/bin/python3 - "$f587" "$alg" > "$WORK/one.eml" <<'PY'
import sys, re
raw = open(sys.argv[1], "rb").read()
m = raw[raw.index(b"\n", raw.rindex(b"X-Ptt-Sink-")) + 1:].replace(b"\r\n", b"\n")
head, body = m.split(b"\n\n", 1)
fields = re.split(rb"\n(?=[^ \t])", head)
keep = [f for f in fields if not f.lower().startswith(b"dkim-signature:") or (b"a=" + sys.argv[2].encode()) in f]
sys.stdout.buffer.write(b"\n".join(keep) + b"\n\n" + body)
PY
	out=$(unshare -m sh -c "mount --bind '$WORK/resolv.conf' /etc/resolv.conf && opendkim-testmsg < '$WORK/one.eml'" 2>&1)
	ok $? "OpenDKIM verifies the $alg signature at the far end${out:+: $out}"
done
# The remote MX goes down: the message waits in the queue, `ptt queue`
# shows it, and `ptt queue retry all` delivers it once the MX is back.
kill -9 "$(cat "$WORK/mx.pid")"; sleep 0.3
out=$($SW --port $p587 --tls --auth PLAIN --auth-user alice --auth-password 'correct horse' \
	--from alice@example.test --to dave@dest.test --h-Subject "while the MX was down" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "with the remote MX down, submission still gets 250 (the relay queued it)"
for i in $(seq 100); do $P queue --queue-dir "$WORK/queue" list 2>/dev/null | grep -q 'dave@dest.test' && break; sleep 0.1; done
out=$($P queue --queue-dir "$WORK/queue" list 2>&1)
ok $(echo "$out" | grep -q '^1 message' && echo "$out" | grep -q 'dave@dest.test'; echo $?) "ptt queue list shows it waiting: $(echo "$out" | head -1)"
start_bg mx2 "$B/src/sink/ptt-sink" -l 127.0.0.1:$mx_port --cert "$WORK/pub/mx.dest.test.pem" \
	--key "$WORK/pub/mx.dest.test.key" -d "$WORK/mx" --hostname mx.dest.test
wait_port $mx_port
$P queue --queue-dir "$WORK/queue" retry all > "$WORK/retry.out" 2>&1
ok $? "ptt queue retry all"
for i in $(seq 200); do grep -q '^Subject: while the MX was down' "$WORK"/mx/* 2>/dev/null && break; sleep 0.1; done
ok $(grep -q '^Subject: while the MX was down' "$WORK"/mx/*; echo $?) "the waiting message is delivered"
for i in $(seq 50); do $P queue --queue-dir "$WORK/queue" list | grep -q '^0 messages' && break; sleep 0.1; done
ok $($P queue --queue-dir "$WORK/queue" list | grep -q '^0 messages'; echo $?) "and the queue is empty"
done_testing
