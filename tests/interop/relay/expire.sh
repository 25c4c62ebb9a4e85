#!/bin/bash
# Expiry: a message whose MX stays down is retried until max_lifetime, then
# bounces with Status 4.4.7 (RFC 3463) in a DSN that reaches the sender's
# MX; a bounce of a bounce (null sender) is dropped and logged, never sent.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/relay/common.sh"
common_setup || { echo "1..0 # SKIP no local DNS"; exit 0; }

start_sink sendermx 127.0.0.3
start_relay -o max_lifetime=4s
ok $? "relay starts (max_lifetime 4s)"
write_msg "doomed" > "$WORK/msg.eml"
inject alice@sender.test zed@later.test
ok $? "message for a down MX accepted"
expired() { grep -l 'Final-Recipient: rfc822; zed@later.test' "$WORK/sendermx"/*.eml 2>/dev/null; }
wait_for 20 '[ -n "$(expired)" ]'
ok $? "after max_lifetime a DSN reached the sender"
d=$(expired | head -1)
grep -q 'Status: 4.4.7' "$d" 2>/dev/null && grep -q 'Action: failed' "$d"
ok $? "Action: failed, Status: 4.4.7"
grep -q 'Subject: doomed' "$d"
ok $? "the original message is returned"
grep -q 'to=<zed@later.test>.*status=expired' "$WORK/relay.log"
ok $? "logged as expired"
[ "$(grep -c 'to=<zed@later.test>.*status=deferred' "$WORK/relay.log")" -ge 2 ]
ok $? "retried before it expired"

# A bounce of a bounce: the null sender gets no DSN.
write_msg "from nobody" > "$WORK/msg.eml"
"$SEND" --server 127.0.0.1:$RPORT --tls verified --ca "$CA/ca.pem" \
	--sni localhost --cert "$CA/signer.internal.pem" --key "$CA/signer.internal.key" \
	--from '' --to nobody@nullmx.test -q "$WORK/msg.eml"
ok $? "a message from the null sender is accepted"
wait_for 10 "grep -q 'to=<nobody@nullmx.test>, status=bounced: no DSN to the null sender' '$WORK/relay.log'"
ok $? "its failure is logged, no DSN is sent"
wait_for 10 '[ "$(ls "$QDIR/env" | wc -l)" -eq 0 ]'
ok $? "the queue is empty"
[ "$(ls "$WORK/sendermx" | wc -l)" -eq 1 ]
ok $? "the sender's MX got exactly the one DSN"
kill "$(cat "$WORK/relay.pid")"
wait_for 10 "grep -q 'stopped' '$WORK/relay.log'"
! grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error' "$WORK/relay.log"
ok $? "no sanitizer report in the relay's log"
[ "$T_FAILED" -eq 0 ] || sed 's/^/# /' "$WORK/relay.log" | tail -40
done_testing
