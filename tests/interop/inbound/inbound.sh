#!/usr/bin/env bash
# inbound.sh - the whole inbound path on loopback, every hop real:
# swaks, as the outside MTA of sender.test (SPF for its address, a DKIM
# signature made by dkimpy, DMARC p=reject), sends to alice@example.test
# over STARTTLS to ptt-mx -> ptt-spamfilter -> ptt-signer (ARC seal, key
# published to ptt-dns by TSIG UPDATE) -> ptt-relay, which replaces alice
# by her forward address, rewrites the envelope sender with SRS and
# delivers to alice's real MX (ptt-sink), found by MX lookup through
# ptt-dns. At the far end: python3-authres parses ptt's
# Authentication-Results (spf, dkim, dmarc pass), dkimpy's arc_verify
# passes the ARC set, the spamfilter's X-Spam-Status is there.
# Then the way back: a DSN from the real MX to the SRS address reaches
# sender.test's MX (null sender, original recipient); SRS addresses made
# by an independent implementation (Python, PostSRSd's format) with the
# same secret are accepted when fresh and refused when expired (550
# 5.1.1) or forged (550 5.7.1); a DMARC p=reject failure gets 550 5.7.1;
# a forward that the real MX refuses makes the relay's own DSN, which goes
# to the original sender, decoded from the SRS address, never to <>.
# Users added while running are forwarded after the hot reload. Outbound
# mail from ptt-submission to a local user reaches the user's real
# address too (our own sender, not rewritten, DKIM-signed), and to a
# local address that is nobody's is refused with the relay's 550 5.1.1.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"
B=$PTT_BUILD
CFG=$WORK/config; ST=$WORK/state
P="$B/src/ptt/ptt --config $CFG --state $ST"
AUTHSERV=mx.example.test

$P init --bare example.test > "$WORK/init.log" 2>&1 &&
echo 'correct horse' | $P adduser alice --forward alice@real.test --password-stdin > /dev/null 2>&1 &&
echo 'battery staple' | $P adduser carol --forward gone@real.test --password-stdin > /dev/null 2>&1
ok $? "ptt init, adduser alice and carol (forward addresses at real.test)"
chmod -R o+rX "$CFG"
make_ca "$WORK/pub"				# certificates the outside sees
make_cert "$WORK/pub" mx.real.test "DNS:mx.real.test,IP:127.0.0.1"
make_cert "$WORK/pub" mx.sender.test "DNS:mx.sender.test,IP:127.0.0.2"

dns_port=$(free_port); remote_port=$(free_port); relay_port=$(free_port)
signer_port=$(free_port); mx_port=$(free_port); sf_port=$(free_port)
p587=$(free_port); p465=$(free_port)

# DNS. example.test: ours (the signer publishes its keys into it).
# real.test: alice's real mailbox, MX on 127.0.0.1. sender.test: the
# outside sender: SPF for 127.0.0.1, DKIM key "sel", DMARC p=reject, MX on
# 127.0.0.2 (the same port: the relay has one remote_port). strict.test:
# p=reject and an SPF record that does not list us.
openssl genrsa -out "$WORK/dkim.key" 2048 2>/dev/null
pub=$(openssl rsa -in "$WORK/dkim.key" -pubout -outform DER 2>/dev/null | base64 -w0)
split=$(echo "v=DKIM1; k=rsa; p=$pub" | sed -E 's/(.{200})/\1" "/g')
zone_head() {
	printf '$ORIGIN %s.\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n' "$1"
}
write_zone example.test 1 > "$ZONES/example.test.zone"
{ zone_head real.test
  echo '@ MX 10 mx'; echo 'mx A 127.0.0.1'; echo 'mx TXT "v=spf1 a -all"'
} > "$ZONES/real.test.zone"
{ zone_head sender.test
  echo '@ TXT "v=spf1 ip4:127.0.0.1 -all"'
  echo '_dmarc TXT "v=DMARC1; p=reject"'
  echo "sel._domainkey TXT \"$split\""
  echo '@ MX 10 mx'; echo 'mx A 127.0.0.2'
} > "$ZONES/sender.test.zone"
{ zone_head strict.test
  echo '@ TXT "v=spf1 ip4:192.0.2.1 -all"'
  echo '_dmarc TXT "v=DMARC1; p=reject"'
} > "$ZONES/strict.test.zone"
make_key signer-key > /dev/null
echo "key signer-key. may update *._domainkey.example.test. TXT" > "$WORK/policy"
start_dnsd "$dns_port" --tsig-dir "$KEYS" --policy "$WORK/policy" --no-sandbox
ok $? "ptt-dns serves example.test, real.test, sender.test and strict.test"
printf 'server:\n    local-zone: "test." nodefault\n    do-not-query-localhost: no\n' > "$WORK/unbound.conf"
chmod 644 "$WORK/unbound.conf"
DNSO="-o dns_stub=127.0.0.1@$dns_port -o dns_allow_localhost=yes -o dns_config_file=$WORK/unbound.conf"

# Under ASan, LeakSanitizer cannot read /proc/self/task after the uid
# change: sanitizer builds run the daemons that would drop it unsandboxed.
SANDBOX=yes
ldd "$B/src/mx/ptt-mx" 2>/dev/null | grep -q libasan && SANDBOX=no

mkdir -p "$WORK/real" "$WORK/sender" "$WORK/queue"
start_bg real "$B/src/sink/ptt-sink" -l 127.0.0.1:$remote_port --cert "$WORK/pub/mx.real.test.pem" \
	--key "$WORK/pub/mx.real.test.key" -d "$WORK/real" --hostname mx.real.test \
	--reply-rcpt 'gone@*=550 5.1.1 no such mailbox here'
start_bg sender "$B/src/sink/ptt-sink" -l 127.0.0.2:$remote_port --cert "$WORK/pub/mx.sender.test.pem" \
	--key "$WORK/pub/mx.sender.test.key" -d "$WORK/sender" --hostname mx.sender.test
start_bg relay "$B/src/relay/ptt-relay" -o listen=127.0.0.1:$relay_port \
	-o cert="$ST/tls/relay.pem" -o key="$ST/tls/relay.key" -o ca="$ST/ca/ca.pem" \
	-o queue_dir="$WORK/queue" $DNSO -o remote_port=$remote_port -o helo_name=relay.example.test \
	-o domains=example.test -o config_repo="$CFG" -o srs_secret="$ST/srs.key" \
	-o reload_interval=1s -o sandbox=$SANDBOX
start_bg spamfilter "$B/src/spamfilter/ptt-spamfilter" -o listen=127.0.0.1:$sf_port \
	-o cert="$ST/tls/spamfilter.pem" -o key="$ST/tls/spamfilter.key" -o ca="$ST/ca/ca.pem" \
	-o model="$PTT_SRC/data/spam.model" -o signer=127.0.0.1:$signer_port -o sandbox=$SANDBOX
start_bg signer "$B/src/signer/ptt-signer" -o listen=127.0.0.1:$signer_port \
	-o cert="$ST/tls/signer.pem" -o key="$ST/tls/signer.key" -o ca="$ST/ca/ca.pem" \
	-o relay=127.0.0.1:$relay_port -o domains=example.test -o state="$ST" \
	-o authserv_id=$AUTHSERV -o dns_primary=127.0.0.1:$dns_port -o tsig_key="$KEYS/signer-key"
start_bg mx "$B/src/mx/ptt-mx" -o listen=127.0.0.1:$mx_port -o hostname=mx.example.test \
	-o domain=example.test -o authserv_id=$AUTHSERV \
	-o cert="$WORK/pub/server.pem" -o key="$WORK/pub/server.key" \
	-o internal_cert="$ST/tls/mx.pem" -o internal_key="$ST/tls/mx.key" -o ca="$ST/ca/ca.pem" \
	-o spamfilter=127.0.0.1:$sf_port \
	-o config_repo="$CFG" -o reload_interval=1s -o postmaster=alice \
	-o srs_secret="$ST/srs.key" $DNSO -o sandbox=$SANDBOX
start_bg sub "$B/src/submission/ptt-submission" -o listen_submission=127.0.0.1:$p587 \
	-o listen_smtps=127.0.0.1:$p465 -o hostname=mail.example.test -o domain=example.test \
	-o cert="$WORK/pub/server.pem" -o key="$WORK/pub/server.key" \
	-o internal_cert="$ST/tls/submission.pem" -o internal_key="$ST/tls/submission.key" \
	-o ca="$ST/ca/ca.pem" -o signer=127.0.0.1:$signer_port -o config_repo="$CFG"
wait_port $p587 && wait_port $remote_port && wait_port $remote_port 127.0.0.2 && wait_port $relay_port &&
	wait_port $signer_port && wait_port $sf_port && wait_port $mx_port
ok $? "real MXs, relay, signer, spamfilter, mx and submission are up"
ok $([ "$(stat -c %a "$ST/srs.key")" = 600 ]; echo $?) "the SRS secret exists with mode 0600"
ok $(grep -q "forwarding for example.test: 2 users" "$WORK/relay.log"; echo $?) \
	"the relay forwards for example.test with the users from git"

SW="swaks --server 127.0.0.1 --port $mx_port --tls --tls-verify --tls-ca-path $WORK/pub/ca.pem --tls-sni mx.example.test --timeout 30"
fail_line() { echo "$1" | grep -E "^<~?\*+ +$2" > /dev/null; echo $?; }
wait_file() {	# wait_file DIR REGEX: the first file in DIR with a line matching REGEX
	local i f
	for i in $(seq 200); do
		f=$(grep -lE "$2" "$1"/* 2>/dev/null | head -1)
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.1
	done
	return 1
}
export PYTHONPATH=$PTT_SRC/tests/interop	# pttmail.py: dnsfunc, unsink
strip_sink() {	# the message as the sink got it, without its X-Ptt-Sink- envelope lines
	/usr/bin/python3 -c 'import sys, pttmail; sys.stdout.buffer.write(pttmail.unsink(sys.argv[1]))' "$1"
}

cat > "$WORK/sign.py" <<'PY'
import sys, dkim, email.utils
msg = (b"From: Bob <bob@sender.test>\r\nTo: alice@example.test\r\n"
       b"Subject: " + sys.argv[3].encode() + b"\r\nDate: " + email.utils.formatdate().encode() +
       b"\r\nMessage-ID: <" + sys.argv[2].encode() + b"@sender.test>\r\n"
       b"\r\nHello Alice, this is Bob.\r\n")
sig = dkim.sign(msg, b"sel", b"sender.test", open(sys.argv[1], "rb").read(),
                canonicalize=(b"relaxed", b"relaxed"))
sys.stdout.buffer.write(sig + msg)
PY
/usr/bin/python3 "$WORK/sign.py" "$WORK/dkim.key" "in$RANDOM" "inbound to alice" > "$WORK/signed.eml"
ok $? "dkimpy signs a message as sender.test"

out=$($SW --ehlo mail.sender.test --from bob@sender.test --to alice@example.test --data "$WORK/signed.eml" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "swaks to alice@example.test: 250 once every hop said 250"
f=$(wait_file "$WORK/real" '^Subject: inbound to alice')
ok $? "the message reached alice's real MX, found by MX lookup"
f=${f:-/dev/null}
ok $(grep -q '^X-Ptt-Sink-Rcpt-To: <alice@real.test>' "$f"; echo $?) "the envelope recipient is alice's forward address"
srs=$(sed -n 's/^X-Ptt-Sink-Mail-From: <\(.*\)>\r\?$/\1/p' "$f")
ok $(echo "$srs" | grep -qE '^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=sender\.test=bob@example\.test$'; echo $?) \
	"the envelope sender is rewritten by SRS: $srs"
ok $(grep -q '^X-Ptt-Sink-Tls: version=TLSv1' "$f"; echo $?) "the relay delivered over STARTTLS"
id=$(sed -n 's/.* info: \([A-Z0-9]*\): to=<alice@real.test>, forwarded for <alice@example.test>.*/\1/p' "$WORK/relay.log" | head -1)
ok $([ -n "$id" ] && grep -q "$id: to=<alice@real.test>, relay=.*status=sent" "$WORK/relay.log"; echo $?) \
	"the relay logs the expansion and the delivery under one queue id (${id:-none})"

strip_sink "$f" > "$WORK/got.eml"
cat > "$WORK/ar.py" <<'PY'
import sys, email, authres
m = email.message_from_bytes(open(sys.argv[1], "rb").read())
ours = []
for v in m.get_all("Authentication-Results", []):
    h = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + " ".join(str(v).split()))
    if h.authserv_id == sys.argv[2]:
        ours.append(h)
print(len(ours))
for h in ours:
    print(" ".join("%s=%s" % (r.method, r.result) for r in h.results))
PY
res=$(/usr/bin/python3 "$WORK/ar.py" "$WORK/got.eml" $AUTHSERV 2>&1)
ok $([ "$(echo "$res" | head -1)" = 1 ]; echo $?) "one Authentication-Results from ptt ($AUTHSERV)"
methods=$(echo "$res" | sed -n 2p)
ok $(echo " $methods " | grep -q ' spf=pass ' && echo " $methods " | grep -q ' dkim=pass ' &&
	echo " $methods " | grep -q ' dmarc=pass '; echo $?) "python3-authres parses it: $methods"

out=$(/usr/bin/python3 -c '
import sys, dkim, pttmail
cv, res, reason = dkim.arc_verify(open(sys.argv[1], "rb").read(), dnsfunc=pttmail.dnsfunc(sys.argv[2]))
print(cv.decode() if cv else "ended", reason, [(x["instance"], x["as-domain"]) for x in res])
sys.exit(0 if cv == dkim.CV_Pass else 1)' "$WORK/got.eml" "$dns_port" 2>&1)
ok $? "dkimpy's arc_verify passes the ARC set sealed by the signer: $out"
ok $(grep -q '^ARC-Authentication-Results: i=1; mx.example.test;' "$WORK/got.eml"; echo $?) \
	"ARC-Authentication-Results carries the mx's results"
out=$(/usr/bin/python3 -c '
import sys, dkim, pttmail
sys.exit(0 if dkim.verify(open(sys.argv[1], "rb").read(), dnsfunc=pttmail.dnsfunc(sys.argv[2])) else 1)' \
	"$WORK/got.eml" "$dns_port" 2>&1)
ok $? "sender.test's DKIM signature still verifies at the far end${out:+: $out}"
ok $([ "$(grep -c '^X-Spam-Status:' "$WORK/got.eml")" = 1 ]; echo $?) \
	"one X-Spam-Status from the spamfilter: $(grep '^X-Spam-Status:' "$WORK/got.eml" | head -1 | tr -d '\r')"

# The way back: alice's MX bounces to the SRS address through our mx.
cat > "$WORK/dsn.eml" <<EOF
From: Mail Delivery System <MAILER-DAEMON@mx.real.test>
To: $srs
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message to alice@real.test could not be delivered (over quota).

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.real.test

Final-Recipient: rfc822; alice@real.test
Action: failed
Status: 5.2.2

--b1--
EOF
out=$($SW --ehlo mx.real.test --from '<>' --to "$srs" --data "$WORK/dsn.eml" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "a DSN to the SRS address is accepted by the mx (null sender)"
ok $(grep -q "SRS address <$srs> verified: bounce to <bob@sender.test>" "$WORK/mx.log"; echo $?) "the mx logs the verified SRS address"
b=$(wait_file "$WORK/sender" '^Subject: Undelivered Mail Returned to Sender')
ok $? "the bounce reached the original sender's MX (sender.test, by MX lookup)"
b=${b:-/dev/null}
ok $(grep -q '^X-Ptt-Sink-Rcpt-To: <bob@sender.test>' "$b" && grep -q '^X-Ptt-Sink-Mail-From: <>' "$b"; echo $?) \
	"to bob@sender.test, with the null sender kept"

# SRS addresses made by an independent implementation (PostSRSd's format:
# HMAC-SHA1 over TT, domain and local part lowercased, base64, 4 chars).
cat > "$WORK/srs.py" <<'PY'
import sys, hmac, hashlib, base64, time
secret = [l.strip() for l in open(sys.argv[1], "rb") if l.strip() and not l.startswith(b"#")][0]
days = int(time.time() // 86400) - int(sys.argv[2])
b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
tt = b32[(days >> 5) & 31] + b32[days & 31]
local, dom = sys.argv[3].rsplit("@", 1)
h = base64.b64encode(hmac.new(secret, (tt + dom + local).lower().encode(), hashlib.sha1).digest()).decode()[:4]
print("SRS0=%s=%s=%s=%s@example.test" % (h, tt, dom, local))
PY
fresh=$(/usr/bin/python3 "$WORK/srs.py" "$ST/srs.key" 0 someone@sender.test)
out=$($SW --ehlo mx.real.test --from '<>' --to "$fresh" --quit-after RCPT 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.1.5'; echo $?) "an SRS address made by Python with the same secret is accepted: $fresh"
old=$(/usr/bin/python3 "$WORK/srs.py" "$ST/srs.key" 30 someone@sender.test)
out=$($SW --ehlo mx.real.test --from '<>' --to "$old" --quit-after RCPT 2>&1)
ok $(fail_line "$out" '550 5.1.1 SRS address expired') "one 30 days old: 550 5.1.1 SRS address expired"
h=$(echo "$srs" | cut -c6-9)
forged="SRS0=$( [ "$h" = AAAA ] && echo BBBB || echo AAAA )${srs#SRS0=????}"
out=$($SW --ehlo mx.real.test --from '<>' --to "$forged" --quit-after RCPT 2>&1)
ok $(fail_line "$out" '550 5.7.1 SRS hash does not match') "a forged SRS address: 550 5.7.1 ($forged)"
out=$($SW --ehlo mx.real.test --from '<>' --to "SRS0=xxxx@example.test" --quit-after RCPT 2>&1)
ok $(fail_line "$out" '550 5.1.1') "a malformed SRS address: 550 5.1.1"
ok $([ "$(grep -c 'reject: SRS address' "$WORK/mx.log")" = 3 ]; echo $?) "one log line per refused SRS address"

# DMARC: sender domain with p=reject whose SPF does not list us, unsigned.
out=$($SW --ehlo mail.strict.test --from carol@strict.test --to alice@example.test \
	--h-From 'Carol <carol@strict.test>' 2>&1)
ok $(fail_line "$out" '550 5.7.1 .*DMARC') "DMARC p=reject failure: 550 5.7.1"

# A forward the real MX refuses: the relay's own DSN goes to the original
# sender (decoded from the SRS sender), not to our mx nor to <>.
/usr/bin/python3 "$WORK/sign.py" "$WORK/dkim.key" "gone$RANDOM" "to carol" | sed 's/^To: alice@/To: carol@/' > "$WORK/carol.eml"
out=$($SW --ehlo mail.sender.test --from bob@sender.test --to carol@example.test --data "$WORK/carol.eml" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "a message to carol (forwarded to a mailbox that is gone): 250"
d=$(wait_file "$WORK/sender" 'gone@real.test')
ok $? "the relay's DSN for the failed forward reached the original sender's MX"
d=${d:-/dev/null}
ok $(grep -q '^X-Ptt-Sink-Rcpt-To: <bob@sender.test>' "$d" && grep -q '^X-Ptt-Sink-Mail-From: <>' "$d"; echo $?) \
	"to bob@sender.test from <>"
ok $(grep -qi '^Original-Recipient: rfc822; *carol@example.test' "$d" && grep -q '^Status: 5.1.1' "$d"; echo $?) \
	"naming carol@example.test as the original recipient, status 5.1.1"
ok $(grep -q 'notification to <SRS0=.*@example.test> goes to <bob@sender.test>' "$WORK/relay.log"; echo $?) \
	"the relay logs where the notification went"
# A new user, committed while everything runs: the mx and the relay (in
# its sandbox) reload the users and dave's mail is forwarded at once.
echo 'tr0ub4dor' | $P adduser dave --forward dave@real.test --password-stdin > /dev/null 2>&1 && chmod -R o+rX "$CFG"
ok $? "ptt adduser dave while the services run"
wait_line "$WORK/relay.log" 'users: now 3 users' 20 && wait_line "$WORK/mx.log" 'users: now 3 users' 20
ok $? "the relay and the mx reload the users"
/usr/bin/python3 "$WORK/sign.py" "$WORK/dkim.key" "dave$RANDOM" "to dave" | sed 's/^To: alice@/To: dave@/' > "$WORK/dave.eml"
out=$($SW --ehlo mail.sender.test --from bob@sender.test --to dave@example.test --data "$WORK/dave.eml" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "a message to dave: 250"
f=$(wait_file "$WORK/real" '^Subject: to dave')
ok $(grep -q '^X-Ptt-Sink-Rcpt-To: <dave@real.test>' "${f:-/dev/null}"; echo $?) "forwarded to dave's real address"
# Outbound mail to a local user takes the same rule: alice submits to
# dave@example.test and to an outside address; dave's copy goes to his
# real address with alice's own (unrewritten) sender and the signer's DKIM
# signature, the other as usual; a local address that is nobody's is
# refused by the relay, and submission hands that 550 back to alice.
SUB() { swaks --server 127.0.0.1 --port $p587 --tls --tls-verify --tls-ca-path "$WORK/pub/ca.pem" \
	--tls-sni mx.example.test --timeout 30 --auth PLAIN --auth-user alice --auth-password 'correct horse' "$@"; }
out=$(SUB --from alice@example.test --to dave@example.test,bob@sender.test --h-Subject "from alice" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "alice submits to dave@example.test and bob@sender.test: 250"
f=$(wait_file "$WORK/real" '^Subject: from alice')
ok $(grep -q '^X-Ptt-Sink-Rcpt-To: <dave@real.test>' "${f:-/dev/null}" &&
	grep -q '^X-Ptt-Sink-Mail-From: <alice@example.test>' "${f:-/dev/null}"; echo $?) \
	"dave's copy reaches his real address with alice's sender (our domain: no SRS)"
out=$(/usr/bin/python3 -c '
import sys, dkim, pttmail
sys.exit(0 if dkim.verify(pttmail.unsink(sys.argv[1]), dnsfunc=pttmail.dnsfunc(sys.argv[2])) else 1)' \
	"${f:-/dev/null}" "$dns_port" 2>&1)
ok $? "with example.test's DKIM signature, which dkimpy verifies${out:+: $out}"
g=$(wait_file "$WORK/sender" '^Subject: from alice')
ok $(grep -q '^X-Ptt-Sink-Rcpt-To: <bob@sender.test>' "${g:-/dev/null}" &&
	grep -q '^X-Ptt-Sink-Mail-From: <alice@example.test>' "${g:-/dev/null}"; echo $?) \
	"bob's copy goes out as usual"
out=$(SUB --from alice@example.test --to nobody@example.test --h-Subject "to nobody" 2>&1)
ok $(fail_line "$out" '55[04] 5.1.1') "to nobody@example.test: the relay's 550 5.1.1 comes back to alice"
ok $(grep -q 'refused from=<alice@example.test>: no such user <nobody@example.test>' "$WORK/relay.log"; echo $?) \
	"and the relay logs the refusal"
done_testing
