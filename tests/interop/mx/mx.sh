#!/usr/bin/env bash
# mx.sh - ptt-mx end to end on loopback: ptt-dns serves the sender
# domains' SPF, DKIM and DMARC records; swaks (and Postfix's smtp-source)
# send over STARTTLS to a user made with `ptt adduser`; messages signed by
# dkimpy pass DKIM; unknown users, foreign domains and a DMARC p=reject
# failure are refused; a forged Authentication-Results claiming our
# authserv-id is removed; the message reaches a stand-in spamfilter
# (ptt-sink with mutual TLS) with one Authentication-Results field that
# python3-authres parses; `ptt check-message` prints the same results; a
# DNS server that never answers gives 451 4.4.3.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"
PTT=$PTT_BUILD/src/ptt/ptt
MX=$PTT_BUILD/src/mx/ptt-mx
SINK=$PTT_BUILD/src/sink/ptt-sink
CFG=$WORK/config
ST=$WORK/state
P="$PTT --config $CFG --state $ST"
AUTHSERV=mx.example.test

$P init --bare example.test > "$WORK/init.log" 2>&1
ok $? "ptt init --bare example.test"
echo 'correct horse' | $P adduser alice --forward alice@real.test --password-stdin > /dev/null 2>&1
ok $? "ptt adduser alice"
make_ca "$WORK/pub"		# the certificate the Internet sees (mx.example.test)
chmod -R o+rX "$CFG"

# The sender domains: sender.test signs with DKIM (key made here, used by
# dkimpy) and publishes SPF for 127.0.0.1 and p=reject; strict.test has
# p=reject and an SPF record that does not list us.
openssl genrsa -out "$WORK/dkim.key" 2048 2>/dev/null
pub=$(openssl rsa -in "$WORK/dkim.key" -pubout -outform DER 2>/dev/null | base64 -w0)
split=$(echo "v=DKIM1; k=rsa; p=$pub" | sed -E 's/(.{200})/\1" "/g')
write_zone example.test 1 > "$ZONES/example.test.zone"
zone_head() {
	printf '$ORIGIN %s.\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n' "$1"
}
{ zone_head sender.test
  echo '@ TXT "v=spf1 ip4:127.0.0.1 -all"'
  echo '_dmarc TXT "v=DMARC1; p=reject"'
  echo "sel._domainkey TXT \"$split\""
} > "$ZONES/sender.test.zone"
{ zone_head strict.test
  echo '@ TXT "v=spf1 ip4:192.0.2.1 -all"'
  echo '_dmarc TXT "v=DMARC1; p=reject"'
} > "$ZONES/strict.test.zone"
{ zone_head quar.test
  echo '@ TXT "v=spf1 -all"'
  echo '_dmarc TXT "v=DMARC1; p=quarantine"'
} > "$ZONES/quar.test.zone"
# libunbound answers RFC 6761 names itself unless told not to.
printf 'server:\n    local-zone: "test." nodefault\n' > "$WORK/unbound.conf"
dns_port=$(free_port)
start_dnsd "$dns_port" --no-sandbox
ok $? "ptt-dns serves the sender domains"
ok $(kdig +short @127.0.0.1 -p $dns_port sel._domainkey.sender.test TXT | grep -q 'v=DKIM1'; echo $?) \
	"the DKIM key is published"

# A DNS server that takes every query and never answers.
hole_port=$(free_port)
start_bg hole $PY -c '
import socket, sys, time
p = int(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", p)); t.listen(64)
conns = []
t.setblocking(False)
while True:
    try:
        u.setblocking(False); u.recv(4096)
    except BlockingIOError:
        pass
    try:
        conns.append(t.accept()[0])
    except BlockingIOError:
        pass
    time.sleep(0.01)
' $hole_port

sink_port=$(free_port)
mkdir -p "$WORK/sink"
start_bg sink "$SINK" -L 127.0.0.1:$sink_port --cert "$ST/tls/spamfilter.pem" \
	--key "$ST/tls/spamfilter.key" --ca "$ST/ca/ca.pem" -d "$WORK/sink" \
	--hostname spamfilter.internal
start_mx() {	# start_mx NAME PORT DNSPORT [extra -o ...]
	local name=$1 port=$2 dport=$3; shift 3
	start_bg $name "$MX" -o listen=127.0.0.1:$port -o hostname=mx.example.test \
		-o domain=example.test -o authserv_id=$AUTHSERV \
		-o cert="$WORK/pub/server.pem" -o key="$WORK/pub/server.key" \
		-o internal_cert="$ST/tls/mx.pem" -o internal_key="$ST/tls/mx.key" \
		-o ca="$ST/ca/ca.pem" -o spamfilter=127.0.0.1:$sink_port \
		-o config_repo="$CFG" -o reload_interval=1s -o postmaster=alice -o srs_secret="$ST/srs.key" \
		-o dns_stub=127.0.0.1@$dport -o dns_allow_localhost=yes \
		-o dns_config_file="$WORK/unbound.conf" -o sandbox=$SANDBOX \
		-o sandbox_debug=yes "$@"
}
# Under ASan, LeakSanitizer cannot read /proc/self/task after the uid
# change: sanitizer builds run the mx unsandboxed.
SANDBOX=yes
ldd "$MX" 2>/dev/null | grep -q libasan && SANDBOX=no
mx_port=$(free_port); mx2_port=$(free_port)
start_mx mx $mx_port $dns_port
start_mx mx2 $mx2_port $hole_port -o dns_timeout=1s -o check_timeout=3s
wait_port $sink_port && wait_port $mx_port && wait_port $mx2_port
ok $? "sink (as spamfilter), mx and an mx with a silent DNS are up"
if [ $SANDBOX = yes ]; then
	ok $(grep -q "sandbox entered" "$WORK/mx.log"; echo $?) "the mx entered its sandbox"
else
	skip "the mx entered its sandbox" "sanitizer build"
fi

SW="swaks --server 127.0.0.1 --tls --tls-verify --tls-ca-path $WORK/pub/ca.pem --tls-sni mx.example.test --timeout 30 --ehlo mail.sender.test"
count() { ls "$WORK/sink" | wc -l; }
last() { echo "$WORK/sink/$(ls -t "$WORK/sink" | head -1)"; }
fail_line() { echo "$1" | grep -E "^<~?\*+ +$2" > /dev/null; echo $?; }

# A message from bob@sender.test, signed by dkimpy, with a forged result
# claiming our authserv-id on top (added after signing) and a foreign one.
cat > "$WORK/sign.py" <<'PY'
import sys, dkim, email.utils
msg = (b"From: Bob <bob@sender.test>\r\nTo: alice@example.test\r\n"
       b"Subject: hello from dkimpy\r\nDate: " + email.utils.formatdate().encode() +
       b"\r\nMessage-ID: <" + sys.argv[2].encode() + b"@sender.test>\r\n"
       b"Authentication-Results: other.example.net; spf=pass smtp.mailfrom=sender.test\r\n"
       b"\r\nHello Alice.\r\n")
sig = dkim.sign(msg, b"sel", b"sender.test", open(sys.argv[1], "rb").read(),
                canonicalize=(b"relaxed", b"simple"))
forged = (b"Authentication-Results: " + sys.argv[3].encode() +
          b"; dkim=pass header.d=forged.example; dmarc=pass header.from=sender.test\r\n")
sys.stdout.buffer.write(forged + sig + msg)
PY
$PY "$WORK/sign.py" "$WORK/dkim.key" "m$RANDOM" $AUTHSERV > "$WORK/signed.eml"
ok $? "dkimpy signs a message as sender.test"

n0=$(count)
out=$($SW --port $mx_port --from bob@sender.test --to alice@example.test --data "$WORK/signed.eml" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "swaks STARTTLS: 250 from the mx after the spamfilter"
ok $([ "$(count)" = $((n0 + 1)) ]; echo $?) "the spamfilter got it"
f=$(last)
ok $(grep -q "^X-Ptt-Sink-Tls:" "$f"; echo $?) "over TLS (mutual, the sink verifies the mx's certificate)"
ok $(grep -q "^X-Ptt-Sink-Rcpt-To: <alice@example.test>" "$f"; echo $?) "for alice@example.test"
ok $(grep -q "forged.example" "$f"; [ $? -ne 0 ]; echo $?) "the forged Authentication-Results is gone"
ok $(grep -q "other.example.net" "$f"; echo $?) "a foreign one is kept"
ok $(grep -q "^Received: from mail.sender.test (\[127.0.0.1\])" "$f"; echo $?) "a Received field"

cat > "$WORK/ar.py" <<'PY'
import sys, email, authres
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw)
ours = [v for v in m.get_all("Authentication-Results", [])
        if authres.AuthenticationResultsHeader.parse(
            "Authentication-Results: " + " ".join(str(v).split())).authserv_id == sys.argv[2]]
print(len(ours))
for v in ours:
    h = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + " ".join(str(v).split()))
    print(" ".join("%s=%s" % (r.method, r.result) for r in h.results))
    print(" ".join("%s.%s=%s" % (p.type, p.name, p.value) for r in h.results for p in r.properties))
PY
res=$($PY "$WORK/ar.py" "$f" $AUTHSERV 2>&1)
diag "$res"
ok $([ "$(echo "$res" | head -1)" = 1 ]; echo $?) "exactly one Authentication-Results with our authserv-id"
methods=$(echo "$res" | sed -n 2p)
ok $([ "$methods" = "spf=pass spf=none dkim=pass dmarc=pass arc=none" ]; echo $?) \
	"python3-authres parses it: $methods"
props=$(echo "$res" | sed -n 3p)
ok $(echo "$props" | grep -q "smtp.mailfrom=bob@sender.test.*header.d=sender.test.*header.from=sender.test"; echo $?) \
	"with smtp.mailfrom, header.d and header.from"

# ptt check-message prints the same results.
out=$($PTT check-message --ip 127.0.0.1 --helo mail.sender.test --mail-from bob@sender.test \
	--dns 127.0.0.1:$dns_port --dns-config "$WORK/unbound.conf" --authserv-id $AUTHSERV < "$WORK/signed.eml" 2>"$WORK/cm.err")
ok $? "ptt check-message runs"
printf '%s\r\n\r\n' "$out" > "$WORK/cm.eml"
cm=$($PY "$WORK/ar.py" "$WORK/cm.eml" $AUTHSERV 2>&1)
ok $([ "$(echo "$cm" | sed -n 2,3p)" = "$(echo "$res" | sed -n 2,3p)" ]; echo $?) \
	"ptt check-message prints the same results: $(echo "$cm" | sed -n 2p)"
ok $(grep -q "verdict: accept" "$WORK/cm.err"; echo $?) "and the verdict accept"

# The mx logs one line per message with the verdicts.
ok $(grep -q "message from=<bob@sender.test> .*spf=pass.*dkim=pass:sender.test dmarc=pass.*verdict=accept forged_ar_removed=yes" "$WORK/mx.log"; echo $?) \
	"one log line with the verdicts"

# Altered in transit: DKIM fails, SPF still passes and aligns.
sed 's/Hello Alice/Hello Mallory/' "$WORK/signed.eml" > "$WORK/altered.eml"
out=$($SW --port $mx_port --from bob@sender.test --to alice+news@example.test --data "$WORK/altered.eml" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "an altered message to alice+news is accepted (SPF aligns)"
res=$($PY "$WORK/ar.py" "$(last)" $AUTHSERV | sed -n 2p)
ok $([ "$res" = "spf=pass spf=none dkim=fail dmarc=pass arc=none" ]; echo $?) "dkim=fail: $res"

# Refusals.
out=$($SW --port $mx_port --from bob@sender.test --to nobody@example.test 2>&1)
ok $(fail_line "$out" '550 5.1.1') "unknown user: 550 5.1.1"
out=$($SW --port $mx_port --from bob@sender.test --to someone@elsewhere.test 2>&1)
ok $(fail_line "$out" '550 5.7.1 relaying denied') "foreign domain: 550 5.7.1 relaying denied"
out=$($SW --port $mx_port --from carol@strict.test --to alice@example.test \
	--h-From 'Carol <carol@strict.test>' 2>&1)
ok $(fail_line "$out" '550 5.7.1 .*DMARC') "DMARC p=reject failure: 550 5.7.1"
ok $(grep -q "verdict=reject" "$WORK/mx.log"; echo $?) "logged as a reject"
printf 'From: carol@strict.test\r\nSubject: x\r\n\r\nx\r\n' | $PTT check-message --ip 127.0.0.1 \
	--mail-from carol@strict.test --dns 127.0.0.1:$dns_port --dns-config "$WORK/unbound.conf" \
	--authserv-id $AUTHSERV > "$WORK/cm2.out" 2> "$WORK/cm2.err"
ok $(grep -q "dmarc=fail (p=reject dis=reject) header.from=strict.test" "$WORK/cm2.out" &&
	grep -q "verdict: 550 5.7.1" "$WORK/cm2.err"; echo $?) "ptt check-message shows the same DMARC reject"
out=$($SW --port $mx_port --from dave@quar.test --to alice@example.test --h-From 'Dave <dave@quar.test>' 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "DMARC p=quarantine failure: accepted"
ok $(grep -q "^X-Ptt-Quarantine: dmarc (p=quarantine dis=quarantine header.from=quar.test)" "$(last)"; echo $?) \
	"and marked for quarantine with a header"
n1=$(count)
out=$($SW --port $mx2_port --from bob@sender.test --to alice@example.test --data "$WORK/signed.eml" 2>&1)
ok $(fail_line "$out" '451 4.4.3') "DNS that times out: 451 4.4.3"
ok $([ "$(count)" = $n1 ]; echo $?) "and nothing was handed on"

# postmaster is accepted and goes to the user named by the postmaster parameter.
# (HELO sender.test: SPF passes for the HELO identity and aligns.)
out=$($SW --port $mx_port --ehlo sender.test --from '<>' --to postmaster@example.test \
	--h-From 'MAILER-DAEMON <mailer-daemon@sender.test>' 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "postmaster@example.test is accepted (null sender)"
ok $(grep -q "^X-Ptt-Sink-Rcpt-To: <alice@example.test>" "$(last)"; echo $?) "and handed on for alice"

# Postfix's smtp-source, plaintext (STARTTLS is offered, not required).
if command -v smtp-source > /dev/null; then
	n2=$(count)
	smtp-source -s 1 -m 2 -f bob@sender.test -t alice@example.test -M mail.sender.test \
		127.0.0.1:$mx_port > "$WORK/smtp-source.log" 2>&1
	ok $([ $? -eq 0 ] && [ "$(count)" = $((n2 + 2)) ]; echo $?) "smtp-source delivers two messages"
else
	skip "smtp-source delivers two messages" "Postfix not installed"
fi

# A new user is picked up without a restart.
echo 'battery staple' | $P adduser carol --forward carol@real.test --password-stdin > /dev/null 2>&1
chmod -R o+rX "$CFG"
wait_line "$WORK/mx.log" "users: now 2 users" 10
out=$($SW --port $mx_port --from bob@sender.test --to carol@example.test --data "$WORK/signed.eml" 2>&1)
ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "a user added to the repository receives without a restart"

# A renewed certificate (as ptt-acme writes it: a new file renamed over
# the old, readable by the service's user) is served after SIGHUP, without
# a restart; a session open across the reload keeps working.
serial() {
	openssl s_client -connect 127.0.0.1:$mx_port -starttls smtp -servername mx.example.test \
		</dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null
}
old=$(serial)
exec 7<>/dev/tcp/127.0.0.1/$mx_port
read -r -t 5 banner <&7
renew_cert "$WORK/pub" "DNS:mx.example.test,IP:127.0.0.1"
kill -HUP "$(cat "$WORK/mx.pid")"
wait_line "$WORK/mx.log" "certificate reloaded" 5
ok $? "SIGHUP: the mx reloads its certificate"
new=$(serial)
ok $([ -n "$new" ] && [ "$new" != "$old" ]; echo $?) "new sessions get the renewed certificate ($old -> $new)"
printf 'NOOP\r\n' >&7; read -r -t 5 reply <&7; exec 7>&-
ok $(case "$reply" in 250*) echo 0;; *) echo 1;; esac) "a session opened before the reload still answers (${reply%$'\r'})"

# Optional refusal of mail scored far above the spam threshold (550 before
# the acknowledgement, so nothing is lost silently): a corpus spam the
# model is sure of is refused, a corpus ham is accepted. The message keeps
# its words; its sender becomes one whose SPF passes here.
if corpus=$("$PTT_SRC/scripts/spam-corpus.sh" --offline 2>/dev/null); then
	MODEL=$PTT_BUILD/src/spamtool/spam.model
	spam=$($PTT spam classify -m "$MODEL" "$corpus/spam-2" 2>/dev/null | awk -F'\t' '$3 == "1.0000" {print $1; exit}')
	ham=$(ls "$corpus"/easy-ham-2/*.txt | head -1)
	as_local() {	# the corpus message with From: bob@sender.test, CRLF
		$PY - "$1" "$2" <<'PY'
import sys, re
raw = open(sys.argv[1], "rb").read()
if raw.startswith(b"From "): raw = raw[raw.index(b"\n") + 1:]
raw = raw.replace(b"\r\n", b"\n")
head, _, body = raw.partition(b"\n\n")
keep = [l for l in re.split(rb"\n(?![ \t])", head)
        if not re.match(rb"(?i)(from|dkim-signature|domainkey-signature|return-path|received):", l)]
out = b"From: Bob <bob@sender.test>\n" + b"\n".join(keep) + b"\n\n" + body
open(sys.argv[2], "wb").write(out.replace(b"\n", b"\r\n"))
PY
	}
	as_local "$spam" "$WORK/corpus-spam.eml" && as_local "$ham" "$WORK/corpus-ham.eml"
	mx3_port=$(free_port)
	start_mx mx3 $mx3_port $dns_port -o spam_refuse=4 -o spam_model="$MODEL"
	wait_port $mx3_port
	out=$($SW --port $mx3_port --from bob@sender.test --to alice@example.test --data "$WORK/corpus-spam.eml" 2>&1)
	ok $(echo "$out" | grep -q '550 5.7.1 message refused as spam'; echo $?) \
		"spam_refuse=4: a spam the model is sure of gets 550 5.7.1 before the acknowledgement"
	ok $(grep -q 'verdict=reject (spam)' "$WORK/mx3.log"; echo $?) "one log line says so"
	out=$($SW --port $mx3_port --from bob@sender.test --to alice@example.test --data "$WORK/corpus-ham.eml" 2>&1)
	ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "a ham message goes through the same mx"
	out=$($SW --port $mx_port --from bob@sender.test --to alice@example.test --data "$WORK/corpus-spam.eml" 2>&1)
	ok $(echo "$out" | grep -q '^<~  250 2.0.0'; echo $?) "without spam_refuse the same spam is accepted (the spamfilter labels it)"
	kill "$(cat "$WORK/mx3.pid")"
else
	skip "spam_refuse: refusal of a sure spam" "SpamAssassin corpus unavailable"
fi

# A graceful stop (SIGTERM); under sanitizers, no report.
for m in mx mx2; do
	pid=$(cat "$WORK/$m.pid"); kill "$pid"
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	ok $(kill -0 "$pid" 2>/dev/null; [ $? -ne 0 ]; echo $?) "$m stops on SIGTERM"
	ok $(grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error" "$WORK/$m.log"; [ $? -ne 0 ]; echo $?) \
		"$m: no sanitizer report"
done
done_testing
