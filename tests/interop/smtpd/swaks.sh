#!/bin/bash
# swaks.sh - swaks against ptt-sink: plain ESMTP, STARTTLS and implicit TLS
# verified against a test CA, AUTH PLAIN and LOGIN, PIPELINING, scripted
# 4xx/5xx replies, SIZE, graceful stop on SIGTERM.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/smtpd/common.sh"

make_ca "$WORK/ca"
SW=(swaks --timeout 20 --from sender@example.test --helo client.example.test)

start_sink s --cert "$WORK/ca/server.pem" --key "$WORK/ca/server.key" -L auto \
	--auth-user alice --auth-pass 's3cret' \
	--reply-rcpt 'tempfail@*=451 4.3.0 try later' \
	--reply-rcpt 'nobody@*=550 5.1.1 no such user' \
	--reply-data 'refuse@*=554 5.7.1 content refused' \
	--reply-mail 'spammer@*=550 5.7.1 sender refused' \
	--max-size 20000
check "sink listens" test -n "$SINK_PORT"
check "sink listens with implicit TLS" test -n "$SINK_TLS_PORT"

out=$("${SW[@]}" --server 127.0.0.1:$SINK_PORT --to rcpt1@example.test 2>&1)
ok $? "plain ESMTP delivery"
check "one message stored" test "$(count_msgs s)" -eq 1
f=$(ls "$WORK"/s.out/*.eml | head -1)
check "envelope sender recorded" grep -q '^X-Ptt-Sink-Mail-From: <sender@example.test>' "$f"
check "envelope recipient recorded" grep -q '^X-Ptt-Sink-Rcpt-To: <rcpt1@example.test>' "$f"
check "message body stored" grep -q 'This is a test mailing' "$f"
check "plaintext proto ESMTP" grep -q '^X-Ptt-Sink-Proto: ESMTP' "$f"

out=$("${SW[@]}" --server 127.0.0.1:$SINK_PORT --to rcpt2@example.test --tls \
	--tls-verify --tls-ca-path "$WORK/ca/ca.pem" 2>&1)
ok $? "STARTTLS, certificate verified against the test CA"
echo "$out" | grep -q 'TLS started' ; ok $? "swaks reports TLS started"
f=$(grep -l 'rcpt2@example.test' "$WORK"/s.out/*.eml)
grep -q '^X-Ptt-Sink-Tls: .*TLSv1.3' $f; ok $? "TLS recorded in the message file"
grep -q '^X-Ptt-Sink-Proto: ESMTPS' $f; ok $? "proto ESMTPS"

out=$("${SW[@]}" --server 127.0.0.1:$SINK_TLS_PORT --to rcpt3@example.test --tlsc \
	--tls-verify --tls-ca-path "$WORK/ca/ca.pem" 2>&1)
ok $? "implicit TLS (port 465 style), verified"

out=$("${SW[@]}" --server 127.0.0.1:$SINK_PORT --to rcpt4@example.test --tls \
	--tls-ca-path "$WORK/ca/ca.pem" --auth PLAIN --auth-user alice --auth-password 's3cret' 2>&1)
ok $? "AUTH PLAIN after STARTTLS"
f=$(grep -l 'rcpt4@example.test' "$WORK"/s.out/*.eml)
grep -q '^X-Ptt-Sink-Auth: alice' $f; ok $? "auth identity recorded"
grep -q '^X-Ptt-Sink-Proto: ESMTPSA' $f; ok $? "proto ESMTPSA"

out=$("${SW[@]}" --server 127.0.0.1:$SINK_TLS_PORT --tlsc --to rcpt5@example.test \
	--auth LOGIN --auth-user alice --auth-password 's3cret' 2>&1)
ok $? "AUTH LOGIN over implicit TLS"

out=$("${SW[@]}" --server 127.0.0.1:$SINK_PORT --tls --to rcpt6@example.test \
	--auth PLAIN --auth-user alice --auth-password 'wrong' 2>&1)
echo "$out" | grep -qE '^<~?\* *535 5\.7\.8'; ok $? "wrong password: 535 5.7.8"

out=$("${SW[@]}" --server 127.0.0.1:$SINK_PORT --to rcpt7@example.test \
	--auth PLAIN --auth-user alice --auth-password 's3cret' 2>&1)
echo "$out" | grep -qi 'did not advertise authentication'; ok $? "no AUTH offered before TLS"

n0=$(count_msgs s)
out=$("${SW[@]}" --server 127.0.0.1:$SINK_PORT --pipeline \
	--to p1@example.test,tempfail@example.test,nobody@example.test,p2@example.test 2>&1)
ok $? "PIPELINING with some recipients refused"
echo "$out" | grep -q '<\*\* *451 4.3.0 try later'; ok $? "scripted 451 for tempfail@"
echo "$out" | grep -q '<\*\* *550 5.1.1 no such user'; ok $? "scripted 550 for nobody@"
f=$(grep -l '^X-Ptt-Sink-Rcpt-To: <p2@example.test>' "$WORK"/s.out/*.eml)
test -n "$f" && grep -c '^X-Ptt-Sink-Rcpt-To:' $f | grep -qx 2; ok $? "message stored for the two accepted recipients"

out=$("${SW[@]}" --server 127.0.0.1:$SINK_PORT --to refuse@example.test 2>&1)
echo "$out" | grep -q '<\*\* *554 5.7.1 content refused'; ok $? "scripted 554 after DATA"

out=$(swaks --timeout 20 --server 127.0.0.1:$SINK_PORT --from spammer@example.test --to x@example.test 2>&1)
echo "$out" | grep -q '<\*\* *550 5.7.1 sender refused'; ok $? "scripted 550 for MAIL FROM"

out=$("${SW[@]}" --server 127.0.0.1:$SINK_PORT --to big@example.test \
	--body "$(head -c 30000 /dev/zero | tr '\0' 'x' | fold -w 70)" 2>&1)
echo "$out" | grep -q '<\*\* *552 5.3.4'; ok $? "message over --max-size: 552 5.3.4"
check "nothing stored for refused messages" test -z "$(grep -l -e 'refuse@' -e 'big@' "$WORK"/s.out/*.eml)"

"${SW[@]}" --server 127.0.0.1:$SINK_PORT --to x@example.test --quit-after RCPT >/dev/null 2>&1
stop_sink s; ok $? "SIGTERM: clean exit"
grep -q 'stopped after' "$WORK/s.log"; ok $? "logged the stop"
grep -qE 'disconnect from 127.0.0.1 .*commands=' "$WORK/s.log"; ok $? "disconnect lines with command counts"

# mutual TLS: with --ca the sink demands a client certificate
start_sink m --cert "$WORK/ca/server.pem" --key "$WORK/ca/server.key" --ca "$WORK/ca/ca.pem"
out=$("${SW[@]}" --server 127.0.0.1:$SINK_PORT --to m1@example.test --tls \
	--tls-ca-path "$WORK/ca/ca.pem" 2>&1)
test "$(count_msgs m)" -eq 0; ok $? "no client certificate: no mail"
out=$("${SW[@]}" --server 127.0.0.1:$SINK_PORT --to m2@example.test --tls --tls-verify \
	--tls-ca-path "$WORK/ca/ca.pem" --tls-cert "$WORK/ca/client.pem" --tls-key "$WORK/ca/client.key" 2>&1)
ok $? "client certificate from the CA: accepted"
test "$(count_msgs m)" -eq 1; ok $? "one message over mutual TLS"
stop_sink m; ok $? "clean stop"
done_testing
