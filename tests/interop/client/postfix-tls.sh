#!/bin/bash
# Interop: ptt-smtp-send against a private Postfix that offers STARTTLS with
# a certificate from the test CA and relays to an smtp-sink.
#  - policy verified with the right CA: delivered, and the Received header
#    Postfix added says the message came in over TLS
#  - policy verified with a wrong CA (or a wrong pin): fails, nothing is sent
#  - required (no verification), opportunistic, pinned certificate,
#    implicit TLS, BDAT (Postfix offers CHUNKING), 8-bit and dot lines
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/lib-postfix.sh"
SEND=$PTT_BUILD/src/tools/ptt-smtp-send

if ! pf_available; then
	skip "postfix TLS interop" "needs postfix, smtp-sink, sasl2-bin, script and root"
	done_testing; exit
fi
make_ca "$WORK/ca"
make_ca "$WORK/otherca"
if ! pf_start "$WORK/ca/server.pem" "$WORK/ca/server.key" "$WORK/ca/ca.pem"; then
	ok 1 "postfix starts"; done_testing; exit
fi
S=127.0.0.1:$PF_SMTP_PORT

msg() {	# msg SUBJECT: a small CRLF message
	printf 'From: a@example.test\r\nTo: b@example.test\r\nSubject: %s\r\n\r\nhello\r\n' "$1"
}
# dumped SUBJECT: the dump file of the message with that subject
dumped() { grep -l "^Subject: $1" "$PF_DUMP"/* 2>/dev/null | head -1; }
# dumped_big SUBJECT: the dump of a big message once smtp-sink, which writes
# large messages progressively, has written its last line (up to 10 s)
dumped_big() {
	local f i
	for i in $(seq 100); do
		f=$(dumped "$1")
		[ -n "$f" ] && grep -q '^line 03999 x' "$f" && break
		sleep 0.1
	done
	echo "$f"
}

msg verified | "$SEND" --server $S --tls verified --ca "$WORK/ca/ca.pem" --sni mx.example.test \
	--from a@example.test --to b@example.test - > "$WORK/v.out" 2>&1
ok $? "verified TLS with the test CA: delivered"
grep -q 'tls=yes' "$WORK/v.out"; ok $? "summary says TLS"
pf_wait_dump 1
f=$(dumped verified)
[ -n "$f" ] && grep -q 'using TLSv1\.[23]' "$f"
ok $? "the relayed message's Received header shows TLS"

msg byip | "$SEND" --server $S --tls verified --ca "$WORK/ca/ca.pem" \
	--from a@example.test --to b@example.test - > /dev/null 2>&1
ok $? "verified against the IP address in subjectAltName"

msg wrongca | "$SEND" --server $S --tls verified --ca "$WORK/otherca/ca.pem" --sni mx.example.test \
	--from a@example.test --to b@example.test - > "$WORK/w.out" 2>&1
ok $(( $? == 75 ? 0 : 1 )) "verified with a wrong CA: temporary failure (75)"
grep -qi 'tls' "$WORK/w.out"; ok $? "the failure names TLS"

msg wrongname | "$SEND" --server $S --tls verified --ca "$WORK/ca/ca.pem" --sni other.example.test \
	--from a@example.test --to b@example.test - > /dev/null 2>&1
ok $(( $? == 75 ? 0 : 1 )) "verified with the wrong name: fails"

pin=$(openssl x509 -in "$WORK/ca/server.pem" -outform DER | sha256sum | cut -d' ' -f1)
msg pinned | "$SEND" --server $S --tls verified --pin "sha256:$pin" \
	--from a@example.test --to b@example.test - > /dev/null 2>&1
ok $? "verified by pinned certificate"
badpin=$(openssl x509 -in "$WORK/otherca/server.pem" -outform DER | sha256sum | cut -d' ' -f1)
msg badpin | "$SEND" --server $S --tls verified --pin "sha256:$badpin" \
	--from a@example.test --to b@example.test - > /dev/null 2>&1
ok $(( $? == 75 ? 0 : 1 )) "a wrong pin fails"

msg required | "$SEND" --server $S --tls required --ca "$WORK/otherca/ca.pem" \
	--from a@example.test --to b@example.test - > /dev/null 2>&1
ok $? "policy required: encrypted without verification"
msg opportunistic | "$SEND" --server $S --tls opportunistic \
	--from a@example.test --to b@example.test - > "$WORK/o.out" 2>&1
ok $? "opportunistic: delivered"
grep -q 'tls=yes' "$WORK/o.out"; ok $? "opportunistic used the offered STARTTLS"

# nothing from the failed attempts may have reached Postfix
pf_wait_dump 5
sleep 1
for s in wrongca wrongname badpin; do
	[ -z "$(dumped $s)" ]; ok $? "nothing delivered for $s"
done
for s in verified byip pinned required opportunistic; do
	[ -n "$(dumped $s)" ]; ok $? "$s arrived at the sink"
done

{ printf 'From: a@example.test\r\nSubject: bdat\r\n\r\n.dot first\r\ncaf\xc3\xa9\r\n'
  awk 'BEGIN { for (i = 0; i < 4000; i++) printf "line %05d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", i }'
} > "$WORK/big.eml"
"$SEND" -v --server $S --tls verified --ca "$WORK/ca/ca.pem" --bdat \
	--from a@example.test --to b@example.test "$WORK/big.eml" > "$WORK/bdat.out" 2>&1
ok $? "BDAT: a 300 kB 8-bit message over TLS"
grep -q '> BDAT [0-9]* LAST' "$WORK/bdat.out"; ok $? "BDAT was used (Postfix offers CHUNKING)"
pf_wait_dump 6
f=$(dumped_big bdat)
[ -n "$f" ] && grep -q '^\.dot first' "$f" && grep -q "caf$(printf '\xc3\xa9')" "$f" &&
    grep -q '^line 03999 x' "$f"
ok $? "BDAT message arrived unchanged (no dot-stuffing, 8-bit intact)"

sed 's/^Subject: bdat/Subject: bigdata/' "$WORK/big.eml" > "$WORK/big2.eml"
"$SEND" --server $S --tls verified --ca "$WORK/ca/ca.pem" \
	--from a@example.test --to b@example.test "$WORK/big2.eml" > /dev/null 2>&1
ok $? "DATA: the same 300 kB message over TLS, dot-stuffed"
pf_wait_dump 7
f=$(dumped_big bigdata)
[ -n "$f" ] && grep -q '^\.dot first' "$f" && grep -q '^line 03999 x' "$f"
ok $? "DATA message arrived unchanged"

"$SEND" --server 127.0.0.1:$PF_SMTPS_PORT --implicit-tls --tls verified --ca "$WORK/ca/ca.pem" \
	--auth-user "$PF_USER" --auth-pass-file <(echo "$PF_PASS") \
	--from a@example.test --to b@example.test --count 1 > "$WORK/465.out" 2>&1
ok $? "implicit TLS (port 465 style) with AUTH"

# mutual TLS (the internal hops): a client certificate from the test CA
msg mtls | "$SEND" --server 127.0.0.1:$PF_MTLS_PORT --tls verified --ca "$WORK/ca/ca.pem" \
	--cert "$WORK/ca/client.pem" --key "$WORK/ca/client.key" \
	--from a@example.test --to b@example.test - > /dev/null 2>&1
ok $? "mutual TLS with a client certificate: delivered"
pf_wait_dump 9
f=$(dumped mtls)
[ -n "$f" ] && grep -q 'Client CN "client.internal".*verified OK' "$f"
ok $? "Postfix verified our client certificate (Received header)"
msg nocert | "$SEND" --server 127.0.0.1:$PF_MTLS_PORT --tls verified --ca "$WORK/ca/ca.pem" \
	--from a@example.test --to b@example.test - > /dev/null 2>&1
rc=$?
ok $(( rc != 0 ? 0 : 1 )) "no client certificate: not delivered (exit $rc)"

"$SEND" --server $S --tls verified --ca "$WORK/ca/ca.pem" --from a@example.test \
	--to b@example.test --count 40 --concurrency 4 > "$WORK/load.out" 2>&1
ok $? "40 messages over 4 verified TLS connections"
pf_wait_dump 49 30; ok $? "all of them relayed to the sink ($(pf_count))"

done_testing
