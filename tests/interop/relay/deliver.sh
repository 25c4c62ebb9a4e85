#!/bin/bash
# ptt-relay end to end on loopback: Knot serves the MX records, ptt-sink
# plays the remote MXs, ptt-smtp-send injects as the signer over mutual TLS.
# Cases: delivery by MX lookup past a dead preferred MX (envelope intact,
# STARTTLS used), implicit MX, null MX and NXDOMAIN bounce with a DSN that
# reaches the sender's MX and parses as multipart/report, 550 gives a DSN,
# a greylisting MX is retried until it accepts, require-TLS mail is never
# sent to an MX without STARTTLS, peers without the right certificate cannot
# inject, and `ptt-relay queue` lists and deletes.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/relay/common.sh"
common_setup || { echo "1..0 # SKIP no local DNS"; exit 0; }

start_sink mx2 127.0.0.2
start_sink sendermx 127.0.0.3
start_sink nomx 127.0.0.4
start_sink plain 127.0.0.5 --plain
start_sink grey 127.0.0.7 --reply-rcpt '*=451 4.7.1 greylisted, come back later'
start_relay -o delay_notice=3s
ok $? "relay starts and listens"

# 1. MX lookup: mx1 (pref 10) is down, mx2 (pref 20) takes it, over TLS.
write_msg "mx lookup" > "$WORK/msg.eml"
inject alice@sender.test bob@example.test
ok $? "signer.internal injects a message (250 after queue_store)"
wait_for 15 '[ "$(count_in mx2)" -ge 1 ]'
ok $? "the message reached mx2.example.test (mx1 is down)"
f=$(ls "$WORK/mx2"/*.eml 2>/dev/null | head -1)
grep -q '^X-Ptt-Sink-Mail-From: <alice@sender.test>' "$f" 2>/dev/null
ok $? "envelope sender intact"
grep -q '^X-Ptt-Sink-Rcpt-To: <bob@example.test>' "$f" 2>/dev/null
ok $? "envelope recipient intact"
grep -q '^X-Ptt-Sink-Tls: ' "$f" 2>/dev/null
ok $? "STARTTLS was used (the MX offered it)"
grep -q '^Subject: mx lookup' "$f" 2>/dev/null
ok $? "the message is intact"
grep -q 'to=<bob@example.test>, relay=mx2.example.test\[127.0.0.2\]' "$WORK/relay.log"
ok $? "one log line: delivered to mx2 with the queue id"

# 2. implicit MX: no MX record, the domain's A record.
write_msg "implicit" > "$WORK/msg.eml"
inject alice@sender.test carol@nomx.test
wait_for 15 '[ "$(count_in nomx)" -ge 1 ]'
ok $? "no MX: delivered to the domain's own address"

# 3. null MX: permanent failure 5.1.10 and a DSN to the sender's MX.
write_msg "null mx" > "$WORK/msg.eml"
inject alice@sender.test dave@nullmx.test
wait_for 15 "grep -lq 'Final-Recipient: rfc822; dave@nullmx.test' \"$WORK/sendermx\"/*.eml 2>/dev/null"
ok $? "null MX: a DSN reached the sender's MX"
d=$(grep -l 'Final-Recipient: rfc822; dave@nullmx.test' "$WORK/sendermx"/*.eml 2>/dev/null | head -1)
grep -q 'Status: 5.1.10' "$d" 2>/dev/null
ok $? "null MX: Status 5.1.10"
grep -q '^X-Ptt-Sink-Mail-From: <>' "$d" 2>/dev/null
ok $? "the DSN has the null reverse-path"
$PY - "$d" <<'PY'
import email, sys
raw = open(sys.argv[1], 'rb').read()
raw = raw[raw.index(b'\r\n', raw.rindex(b'X-Ptt-Sink-')) + 2:]
m = email.message_from_bytes(raw)
assert m.get_content_type() == 'multipart/report', m.get_content_type()
assert m.get_param('report-type') == 'delivery-status'
parts = m.get_payload()
assert parts[0].get_content_type() == 'text/plain'
assert parts[1].get_content_type() == 'message/delivery-status'
ds = parts[1].get_payload()
assert ds[0]['Reporting-MTA'] == 'dns; relay.test', ds[0]['Reporting-MTA']
assert ds[1]['Final-Recipient'] == 'rfc822; dave@nullmx.test'
assert ds[1]['Action'] == 'failed'
assert ds[1]['Status'] == '5.1.10'
assert parts[2].get_content_type() == 'message/rfc822'
assert parts[2].get_payload()[0]['Subject'] == 'null mx'
assert m['From'].endswith('<MAILER-DAEMON@relay.test>')
assert m['To'] == '<alice@sender.test>'
PY
ok $? "the DSN parses (Python email) as multipart/report with the right fields"

# 4. NXDOMAIN: 5.1.2.
write_msg "nxdomain" > "$WORK/msg.eml"
inject alice@sender.test erin@nowhere.test
wait_for 15 "grep -lq 'Final-Recipient: rfc822; erin@nowhere.test' \"$WORK/sendermx\"/*.eml 2>/dev/null"
d=$(grep -l 'Final-Recipient: rfc822; erin@nowhere.test' "$WORK/sendermx"/*.eml 2>/dev/null | head -1)
grep -q 'Status: 5.1.2' "$d" 2>/dev/null
ok $? "NXDOMAIN: DSN with Status 5.1.2"

# 5. 550 from the MX: a DSN with the remote reply.
write_msg "refused" > "$WORK/msg.eml"
stop_bg mx2
start_sink mx2 127.0.0.2 --reply-rcpt 'nobody@*=550 5.1.1 no such user here'
inject alice@sender.test nobody@example.test
wait_for 15 "grep -lq 'Final-Recipient: rfc822; nobody@example.test' \"$WORK/sendermx\"/*.eml 2>/dev/null"
ok $? "550: a DSN reached the sender's MX"
d=$(grep -l 'Final-Recipient: rfc822; nobody@example.test' "$WORK/sendermx"/*.eml 2>/dev/null | head -1)
grep -q 'Status: 5.1.1' "$d" 2>/dev/null && grep -q 'Diagnostic-Code: smtp; 550 5.1.1 no such user here' "$d" &&
	grep -q 'Remote-MTA: dns; mx2.example.test' "$d"
ok $? "550: Status 5.1.1, Diagnostic-Code and Remote-MTA from the remote reply"
grep -q 'status=bounced' "$WORK/relay.log"
ok $? "550: logged as bounced"

# 6. greylisting: 451 until the MX changes its mind.
write_msg "greylisted" > "$WORK/msg.eml"
inject alice@sender.test frank@grey.test
wait_for 15 "grep -q 'to=<frank@grey.test>.*status=deferred' \"$WORK/relay.log\""
ok $? "451: deferred"
[ "$(count_in grey)" -eq 0 ]
ok $? "451: nothing delivered yet"
stop_bg grey
start_sink grey 127.0.0.7
wait_for 20 '[ "$(count_in grey)" -ge 1 ]'
ok $? "451: retried and delivered once the MX accepts"
[ "$(count_in grey)" -eq 1 ]
ok $? "451: delivered exactly once"

# 7. require-TLS: never to an MX without STARTTLS.
write_msg "tls only" "X-Ptt-Require-TLS: yes" > "$WORK/msg.eml"
inject alice@sender.test gina@plain.test
write_msg "plain ok" > "$WORK/msg2.eml"
inject alice@sender.test hank@plain.test signer.internal "$WORK/msg2.eml"
wait_for 15 '[ "$(count_in plain)" -ge 1 ]'
ok $? "ordinary mail reaches the MX without STARTTLS (opportunistic)"
wait_for 15 "grep -q 'to=<gina@plain.test>.*status=deferred' \"$WORK/relay.log\""
ok $? "require-TLS mail to an MX without STARTTLS is deferred"
sleep 2
! grep -q 'Subject: tls only' "$WORK/plain"/*.eml 2>/dev/null
ok $? "require-TLS mail was never sent in plaintext"
! grep -qi 'X-Ptt-Require-TLS' "$WORK/plain"/*.eml "$WORK/mx2"/*.eml 2>/dev/null
ok $? "the X-Ptt-Require-TLS field never leaves the relay"
delayed() { grep -l 'Final-Recipient: rfc822; gina@plain.test' "$WORK/sendermx"/*.eml 2>/dev/null | xargs -r grep -l 'Action: delayed'; }
wait_for 15 '[ -n "$(delayed)" ]'
ok $? "a delay notice (Action: delayed) reached the sender after delay_notice"
d=$(delayed | head -1)
grep -q 'Will-Retry-Until: ' "$d" 2>/dev/null && grep -q 'Subject: Delayed Mail' "$d" &&
	grep -q 'Status: 4.7.10' "$d"
ok $? "the delay notice: Status 4.7.10, and until when it will be retried"
[ "$(delayed | wc -l)" -eq 1 ]
ok $? "only one delay notice"
"$RELAY" -o queue_dir="$QDIR" queue list > "$WORK/list.txt" 2>&1
grep -q '<gina@plain.test> pending' "$WORK/list.txt" && grep -q 'require_tls' "$WORK/list.txt"
ok $? "ptt-relay queue list shows the waiting message"
id=$(awk '/require_tls/ {print $1}' "$WORK/list.txt" | head -1)
"$RELAY" -o queue_dir="$QDIR" queue show "$id" | grep -q '^Subject: tls only'
ok $? "ptt-relay queue show prints its headers"
"$RELAY" -o queue_dir="$QDIR" queue delete "$id" | grep -q notified
ok $? "ptt-relay queue delete removes it and notifies the relay"
wait_for 10 'grep -q "$id: removed from the queue by hand" "$WORK/relay.log"'
ok $? "the relay forgets the deleted message"

# 7b. a failed STARTTLS handshake: the same host again in plaintext,
# except for require-TLS mail.
mkdir -p "$WORK/badtls"
start_bg badtls $PY "$PTT_SRC/tests/interop/relay/badtls.py" 127.0.0.8 $SPORT "$WORK/badtls"
wait_port $SPORT 127.0.0.8 10
write_msg "fallback" > "$WORK/msg.eml"
inject alice@sender.test ivan@badtls.test
write_msg "tls only 2" "X-Ptt-Require-TLS: yes" > "$WORK/msg2.eml"
inject alice@sender.test judy@badtls.test signer.internal "$WORK/msg2.eml"
wait_for 15 '[ "$(count_in badtls)" -ge 1 ]'
ok $? "handshake failed: delivered to the same host in plaintext"
grep -q 'mx.badtls.test\[127.0.0.8\]:[0-9]*: TLS handshake failed, retrying in plaintext' "$WORK/relay.log"
ok $? "the plaintext retry is logged"
wait_for 15 "grep -q 'to=<judy@badtls.test>.*status=deferred' '$WORK/relay.log'"
ok $? "require-TLS mail after a failed handshake is deferred"
sleep 1
! grep -q 'Subject: tls only 2' "$WORK/badtls"/*.eml 2>/dev/null
ok $? "require-TLS mail never went in plaintext after the failed handshake"

# NOTIFY=SUCCESS through an MX that does not offer DSN: a "relayed" DSN.
$PY - "$RPORT" "$CA" <<'PY'
import smtplib, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca + '/ca.pem')
ctx.load_cert_chain(ca + '/signer.internal.pem', ca + '/signer.internal.key')
s = smtplib.SMTP('127.0.0.1', port, local_hostname='signer.internal')
s.ehlo(); s.starttls(context=ctx); s.ehlo()
msg = b'From: <alice@sender.test>\r\nSubject: notify success\r\n\r\nhi\r\n'
s.sendmail('alice@sender.test', ['kim@badtls.test'], msg,
           mail_options=['RET=HDRS', 'ENVID=track-1'],
           rcpt_options=['NOTIFY=SUCCESS,FAILURE', 'ORCPT=rfc822;kim@badtls.test'])
s.quit()
PY
ok $? "a message with NOTIFY=SUCCESS, RET, ENVID and ORCPT is accepted (smtplib, mTLS)"
relayed() { grep -l 'Final-Recipient: rfc822; kim@badtls.test' "$WORK/sendermx"/*.eml 2>/dev/null | xargs -r grep -l 'Action: relayed'; }
wait_for 15 '[ -n "$(relayed)" ]'
ok $? "NOTIFY=SUCCESS to an MX without DSN: a relayed DSN reached the sender"
d=$(relayed | head -1)
grep -q 'Original-Envelope-Id: track-1' "$d" 2>/dev/null &&
	grep -q 'Original-Recipient: rfc822;kim@badtls.test' "$d" &&
	grep -q 'Status: 2.0.0' "$d" && grep -q 'text/rfc822-headers' "$d"
ok $? "the relayed DSN has ENVID, ORCPT, Status 2.0.0 and only the headers"

# 8. only authenticated internal peers inject.
write_msg "intruder" > "$WORK/msg.eml"
inject alice@sender.test bob@example.test evil.internal 2>/dev/null
[ $? -ne 0 ]
ok $? "a certificate with a name not in allowed_peers cannot inject"
grep -q 'refused peer' "$WORK/relay.log"
ok $? "the refused peer is logged"
"$SEND" --server 127.0.0.1:$RPORT --tls none --from a@sender.test \
	--to bob@example.test -q "$WORK/msg.eml" 2>/dev/null
[ $? -ne 0 ]
ok $? "a plaintext client cannot inject"
"$SEND" --server 127.0.0.1:$RPORT --tls required --from a@sender.test \
	--to bob@example.test -q "$WORK/msg.eml" 2>/dev/null
[ $? -ne 0 ]
ok $? "a TLS client without a certificate cannot inject"
! grep -q 'Subject: intruder' "$WORK"/mx2/*.eml 2>/dev/null
ok $? "nothing from them was delivered"

# 9. SIGTERM: clean exit.
kill "$(cat "$WORK/relay.pid")"
wait_for 10 "grep -q 'stopped' \"$WORK/relay.log\""
ok $? "SIGTERM: the relay stops cleanly"
! grep -q 'sandbox: refused' "$WORK/relay.log"
ok $? "no system call refused by the sandbox"
if [ $SANDBOX = yes ]; then
	grep -q 'sandbox entered' "$WORK/relay.log"
	ok $? "the relay ran sandboxed"
else
	skip "the relay ran sandboxed" "sanitizer build"
fi
! grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error' "$WORK/relay.log"
ok $? "no sanitizer report in the relay's log"
[ "$T_FAILED" -eq 0 ] || sed 's/^/# /' "$WORK/relay.log" | tail -60
done_testing
