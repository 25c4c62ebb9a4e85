#!/bin/bash
# python.sh - Python peers against ptt-sink (raw.py): smtplib STARTTLS and
# SMTP_SSL verifying the test CA, SMTPUTF8, BDAT over a raw socket, the
# SMTP smuggling variants, and the STARTTLS plaintext-injection test.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/smtpd/common.sh"

make_ca "$WORK/ca"
start_sink p --cert "$WORK/ca/server.pem" --key "$WORK/ca/server.key" -L auto
if [ -z "$SINK_PORT" ] || [ -z "$SINK_TLS_PORT" ]; then
	ok 1 "ptt-sink started"; done_testing; exit 1
fi
$PY "$PTT_SRC/tests/interop/smtpd/raw.py" "$SINK_PORT" "$SINK_TLS_PORT" "$WORK/ca/ca.pem" "$WORK/p.out" > "$WORK/raw.tap"
rc=$?
cat "$WORK/raw.tap"
T_N=$(grep -cE '^(not )?ok ' "$WORK/raw.tap")
T_FAILED=$(grep -c '^not ok ' "$WORK/raw.tap")
[ $rc -ne 0 ] && [ "$T_FAILED" -eq 0 ] && { T_N=$((T_N + 1)); echo "not ok $T_N - raw.py exited $rc"; T_FAILED=1; }
grep -q 'discarded .* bytes pipelined after STARTTLS' "$WORK/p.log"; ok $? "the sink logged the discarded injection"
stop_sink p; ok $? "clean stop"
done_testing
