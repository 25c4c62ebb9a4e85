#!/bin/bash
# Interop: ptt-smtp-send's AUTH (RFC 4954 PLAIN and LOGIN) against Postfix
# submission with Cyrus SASL (STARTTLS required there), and the rule that
# credentials never travel without TLS.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/lib-postfix.sh"
SEND=$PTT_BUILD/src/tools/ptt-smtp-send

if ! pf_available; then
	skip "postfix AUTH interop" "needs postfix, smtp-sink, sasl2-bin, script and root"
	done_testing; exit
fi
make_ca "$WORK/ca"
if ! pf_start "$WORK/ca/server.pem" "$WORK/ca/server.key" "$WORK/ca/ca.pem"; then
	ok 1 "postfix starts"; done_testing; exit
fi
S=127.0.0.1:$PF_SUBM_PORT
echo "$PF_PASS" > "$WORK/pass"; echo wrong > "$WORK/bad"; chmod 600 "$WORK/pass" "$WORK/bad"

"$SEND" -v --server $S --tls verified --ca "$WORK/ca/ca.pem" --auth-user "$PF_USER" \
	--auth-pass-file "$WORK/pass" --from "$PF_USER" --to bob@example.test --count 1 > "$WORK/ok.out" 2>&1
ok $? "submission: STARTTLS + AUTH, delivered"
grep -q "authenticated as $PF_USER" "$WORK/ok.out"; ok $? "authenticated"
! grep -q "$PF_PASS" "$WORK/ok.out"; ok $? "the password is not logged"
pf_wait_dump 1; ok $? "relayed to the sink"
grep -q 'sasl_username=alice@example.test' "$PF_LOG"; ok $? "Postfix logged the SASL login"

"$SEND" -v --server $S --tls verified --ca "$WORK/ca/ca.pem" --auth-user "$PF_USER" \
	--auth-pass-file "$WORK/pass" --auth-mech LOGIN --from "$PF_USER" --to bob@example.test \
	--count 1 > "$WORK/login.out" 2>&1
ok $? "AUTH LOGIN: delivered"
grep -q 'authenticated as' "$WORK/login.out" && ! grep -q "$PF_PASS" "$WORK/login.out"
ok $? "AUTH LOGIN: authenticated, password not logged"
pf_wait_dump 2; ok $? "relayed to the sink"

"$SEND" --server $S --tls verified --ca "$WORK/ca/ca.pem" --auth-user "$PF_USER" \
	--auth-pass-file "$WORK/bad" --from "$PF_USER" --to bob@example.test --count 1 > "$WORK/bad.out" 2>&1
rc=$?
ok $(( rc == 1 ? 0 : 1 )) "wrong password: permanent failure (exit 1)"
[ $rc -eq 1 ] || sed 's/^/# /' "$WORK/bad.out"
grep -q '535' "$WORK/bad.out"; ok $? "535 reported"

"$SEND" --server $S --tls none --auth-user "$PF_USER" --auth-pass-file "$WORK/pass" \
	--from "$PF_USER" --to bob@example.test --count 1 > "$WORK/plain.out" 2>&1
ok $(( $? == 1 ? 0 : 1 )) "no TLS: refuses to authenticate (exit 1)"

"$SEND" --server $S --tls required --from "$PF_USER" --to bob@example.test --count 1 > "$WORK/noauth.out" 2>&1
ok $(( $? == 1 ? 0 : 1 )) "no credentials: relay refused by submission (exit 1)"

"$SEND" --server $S --tls none --from "$PF_USER" --to bob@example.test --count 1 > "$WORK/nt.out" 2>&1
rc=$?
ok $(( rc == 1 || rc == 75 ? 0 : 1 )) "plaintext MAIL refused by a TLS-only submission port"

"$SEND" --server 127.0.0.1:$PF_SMTPS_PORT --implicit-tls --tls verified --ca "$WORK/ca/ca.pem" \
	--auth-user "$PF_USER" --auth-pass-file "$WORK/pass" --from "$PF_USER" \
	--to bob@example.test --to carol@example.test --count 5 --concurrency 2 > "$WORK/465.out" 2>&1
ok $? "implicit TLS + AUTH, 5 messages over 2 connections"
pf_wait_dump 7; ok $? "all relayed ($(pf_count))"

done_testing
