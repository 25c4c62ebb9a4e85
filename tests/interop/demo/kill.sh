#!/usr/bin/env bash
# kill.sh - the whole stack under pttd (as `ptt demo` runs it: dns,
# resolver, relay, signer, spamfilter, mx, submission) under a steady load
# both ways — submissions from alice to bob@outside.test, and DKIM-signed
# mail from bob@outside.test to alice@demo.test through the mx — while
# each service in turn is killed with SIGKILL. pttd must restart each one
# until it is healthy again, and every message that got 250 must arrive
# at the outside MX: none lost. (Sessions that hit a dead service may
# fail; the client keeps the message then, as any MTA does.)
. "$PTT_SRC/tests/interop/lib.sh"
PTT=$PTT_BUILD/src/ptt/ptt
SEND=$PTT_BUILD/src/tools/ptt-smtp-send
D=$WORK/demo

start_bg demo "$PTT" demo --dir "$D"
wait_line "$WORK/demo.log" "running until interrupted" 120
ok $? "ptt demo is up (both messages verified)"
[ -f "$D/demo.env" ] || { sed 's/^/# /' "$WORK/demo.log" | tail -30; done_testing; exit 1; }
. "$D/demo.env"
status_json() { curl -fs --max-time 5 "${PTT_DASHBOARD}api/status"; }
svc_field() {
	status_json | $PY -c 'import json,sys; j=json.load(sys.stdin); print([s for s in j["services"] if s["name"]==sys.argv[1]][0][sys.argv[2]])' "$1" "$2" 2>/dev/null
}

# The load: one message per session, alternating directions, each with a
# unique Subject; "OK subject" or "FAIL subject reason" per session.
echo -n "$PTT_PASSWORD" > "$WORK/pass"
cat > "$WORK/sign.py" <<'PY'
import sys, dkim
msg = sys.stdin.buffer.read()
sig = dkim.sign(msg, b"demo", b"outside.test", open(sys.argv[1], "rb").read(),
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
sys.stdout.buffer.write(sig + msg)
PY
load() {
	local n=0 subj
	while [ ! -e "$WORK/stop" ]; do
		n=$((n + 1)); subj="load-$n"
		if [ $((n % 2)) = 1 ]; then
			printf 'From: alice@demo.test\r\nTo: bob@outside.test\r\nSubject: %s\r\n\r\nout %s\r\n' "$subj" "$n" > "$WORK/m.eml"
			out=$("$SEND" --server "$PTT_SUBMISSION" --implicit-tls --tls verified --ca "$PTT_CA" \
				--sni mail.demo.test --auth-user alice --auth-pass-file "$WORK/pass" \
				--from alice@demo.test --to bob@outside.test --timeout 20 "$WORK/m.eml" 2>&1)
		else
			printf 'From: bob@outside.test\r\nTo: alice@demo.test\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@outside.test>\r\n\r\nin %s\r\n' \
				"$subj" "$(date -R)" "$subj.$RANDOM" "$n" | $PY "$WORK/sign.py" "$D/outside.key" > "$WORK/m.eml"
			out=$("$SEND" --server "$PTT_MX" --tls verified --ca "$PTT_CA" --sni mx.demo.test \
				--helo mx.outside.test --from bob@outside.test --to alice@demo.test --timeout 20 "$WORK/m.eml" 2>&1)
		fi
		if [ $? = 0 ]; then echo "OK $subj"; else echo "FAIL $subj $(echo "$out" | tail -1)"; fi >> "$WORK/load.log"
	done
}
: > "$WORK/load.log"
load & LOAD=$!
CLEANUP+=("touch $WORK/stop")
sessions() { wc -l < "$WORK/load.log"; }
wait_more() { local s; s=$(sessions); for i in $(seq 300); do [ "$(sessions)" -ge $((s + $1)) ] && return 0; sleep 0.1; done; return 1; }
wait_more 4

for s in dns resolver relay signer spamfilter mx submission; do
	pid=$(svc_field $s pid); restarts=$(svc_field $s restarts)
	kill -9 "$pid"
	for i in $(seq 200); do
		[ "$(svc_field $s restarts)" = $((restarts + 1)) ] && [ "$(svc_field $s pid)" != "$pid" ] &&
			[ "$(svc_field $s state)" = healthy ] && break
		sleep 0.2
	done
	ok $([ "$(svc_field $s state)" = healthy ] && [ "$(svc_field $s pid)" != "$pid" ]; echo $?) \
		"SIGKILL of $s (pid $pid): restarted (pid $(svc_field $s pid)) and healthy again"
	wait_more 2
done
touch "$WORK/stop"; wait $LOAD
ok_n=$(grep -c '^OK ' "$WORK/load.log"); fail_n=$(grep -c '^FAIL ' "$WORK/load.log")
ok $([ "$ok_n" -ge 10 ]; echo $?) "under load while every service was killed in turn: $ok_n sessions got 250, $fail_n failed"
grep '^FAIL' "$WORK/load.log" | head -3 | cut -c1-160 | sed 's/^/# /'

# Every accepted message arrives (the relay's queue survives its kill).
awk '/^OK /{print $2}' "$WORK/load.log" | sort -u > "$WORK/acked"
for i in $(seq 300); do
	grep -h '^Subject: load-' "$PTT_SINK_DIR"/* 2>/dev/null | tr -d '\r' | awk '{print $2}' | sort -u > "$WORK/arrived"
	missing=$(comm -23 "$WORK/acked" "$WORK/arrived" | wc -l)
	[ "$missing" -eq 0 ] && break
	sleep 0.2
done
ok $([ "$missing" -eq 0 ]; echo $?) "every accepted message reached the outside MX ($missing of $ok_n missing)"
[ "$missing" -eq 0 ] || comm -23 "$WORK/acked" "$WORK/arrived" | head -5 | sed 's/^/# missing: /'

# Ctrl-C stops everything.
kill -INT "$(cat "$WORK/demo.pid")"
for i in $(seq 200); do kill -0 "$(cat "$WORK/demo.pid")" 2>/dev/null || break; sleep 0.1; done
left=$(pgrep -f "$D/(config|state)" | wc -l)
ok $([ "$left" -eq 0 ]; echo $?) "SIGINT stops ptt demo and every service ($left left)"
done_testing
