#!/usr/bin/env bash
# pttd.sh - pttd running the outbound stack (ptt-dns, relay, signer,
# submission; ptt-sink is the outside MX) from ptt.conf, under a steady
# load of single-message sessions from ptt-smtp-send:
#  - every service turns healthy (SMTP EHLO/NOOP, TLS as pttd.internal,
#    SOA), the status JSON, /metrics, `ptt status` and `ptt logs` show it;
#  - SIGKILL of each service in turn: pttd restarts it, and every message
#    a client got 250 for reaches the sink;
#  - a configuration commit touching every service: each is rolled over
#    to a new process with zero failed SMTP sessions and no lost message;
#  - a commit with a broken ptt.conf, or with a value the signer's own
#    parameter table refuses: `ptt check` rejects it, the old instances
#    keep running, the status shows why;
#  - a commit that checks but whose signer cannot start: the old signer
#    stays;
#  - SIGTERM to pttd stops every service.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"
. "$PTT_SRC/tests/interop/pttd/setup.sh"

wait_healthy 60
ok $? "pttd starts dns, relay, signer and submission and each passes its health check"
if ! all_healthy; then
	diag "status: $(status_json)"; sed 's/^/# /' "$WORK/pttd.log" | tail -20
fi
for s in dns relay signer submission; do
	diag "$s: $(svc_field $s health_msg)"
done
out=$(curl -fs "$PTTD_URL/metrics")
ok $(echo "$out" | grep -q '^ptt_service_up{service="relay"} 1$' &&
	echo "$out" | grep -q '^# TYPE ptt_messages_total counter$'; echo $?) "/metrics in Prometheus text format"
out=$(curl -fs "$PTTD_URL/")
ok $(echo "$out" | grep -q '<title>ptt status</title>'; echo $?) "the status page is served"
out=$($P status 2>&1)
ok $(echo "$out" | grep -Eq '^relay +healthy' && echo "$out" | grep -Eq '^signer +healthy'; echo $?) "ptt status lists the services as healthy"
echo "$out" | sed 's/^/# /'
out=$($P logs relay 2>&1)
ok $(echo "$out" | grep -q 'ptt-relay\[[0-9]*\]: info: listening on'; echo $?) "ptt logs relay shows the relay's own log lines"
# ptt-dns takes its UDP socket from pttd too (LISTEN_FDS, as under systemd)
users=$(ss -Hulpn "sport = :$dns_port" 2>/dev/null | grep -o '"[a-z-]*"' | sort -u | tr '\n' ' ')
ok $(echo "$users" | grep -q '"pttd"' && echo "$users" | grep -q '"ptt-dns"'; echo $?) \
	"ptt-dns's UDP socket on port $dns_port is the one pttd opened ($users)"
kdig +short +time=2 +retry=0 @127.0.0.1 -p "$dns_port" example.test SOA | grep -q hostmaster
ok $? "ptt-dns answers over UDP on it"

# A configured token is required, also on loopback: a second pttd with
# no services and only a status page.
tok_port=$(free_port)
start_bg pttd2 "$B/src/pttd/pttd" --config "$CFG" --state "$ST" -o services= \
	-o status=127.0.0.1:$tok_port -o token=s3cret
wait_port $tok_port
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
ok $([ "$(code "http://127.0.0.1:$tok_port/api/status")" = 401 ] &&
	[ "$(code -H 'Authorization: Bearer wrong' "http://127.0.0.1:$tok_port/metrics")" = 401 ] &&
	[ "$(code -H 'Authorization: Bearer s3cret' "http://127.0.0.1:$tok_port/api/status")" = 200 ] &&
	[ "$(code "http://127.0.0.1:$tok_port/?token=s3cret")" = 200 ]; echo $?) \
	"with a token: 401 without it or with a wrong one, 200 with it (header or ?token=)"
out=$($P status --url "http://127.0.0.1:$tok_port" --token s3cret 2>&1)
ok $(echo "$out" | grep -q '^pttd .*, config '; echo $?) "ptt status --url --token reads it"
kill "$(cat "$WORK/pttd2.pid")"

# 1. SIGKILL each service in turn.
start_load kill
wait_sessions kill 3
for s in dns relay signer submission; do
	pid=$(svc_field $s pid); restarts=$(svc_field $s restarts)
	kill -9 "$pid"
	for i in $(seq 150); do
		[ "$(svc_field $s restarts)" = $((restarts + 1)) ] && [ "$(svc_field $s pid)" != "$pid" ] &&
			[ "$(svc_field $s state)" = healthy ] && break
		sleep 0.2
	done
	ok $([ "$(svc_field $s state)" = healthy ] && [ "$(svc_field $s pid)" != "$pid" ]; echo $?) \
		"SIGKILL of $s (pid $pid): pttd restarts it (pid $(svc_field $s pid), restarts $(svc_field $s restarts)) and it is healthy again"
	diag "$s last exit: $(svc_field $s last_exit)"
	wait_sessions kill 2
done
stop_load kill
ok_n=$(sessions kill OK); fail_n=$(sessions kill FAIL)
ok $([ "$ok_n" -ge 8 ]; echo $?) "under load while services were killed: $ok_n sessions got 250, $fail_n failed"
missing=$(lost kill)
ok $([ "$missing" -eq 0 ]; echo $?) "every message that got 250 ($ok_n) reached the outside MX ($missing missing)"
[ "$fail_n" -gt 0 ] && grep FAIL "$WORK/load-kill.log" | head -3 | sed 's/^/# /'

# 2. A commit that touches every service, under load.
declare -A before
for s in dns relay signer submission; do before[$s]=$(svc_field $s pid); done
start_load roll
wait_sessions roll 3
/usr/bin/python3 - "$CFG/ptt.conf" <<'PY'
import sys
p = sys.argv[1]; t = open(p).read()
add = {"dns": "tcp-max = 256", "relay": "max_rcpts = 1000", "signer": "max_rcpts = 1000",
       "submission": "max_rcpts = 100"}
for sec, line in add.items():
    t = t.replace("[%s]\n" % sec, "[%s]\n%s\n" % (sec, line), 1)
open(p, "w").write(t)
PY
commit_conf "every service: its default written out"
new=$(git -C "$CFG" rev-parse HEAD)
kill -HUP "$(cat "$WORK/pttd.pid")"
wait_deploy "$new" '\(deployed\|failed\)'
out=$(last_deploy)
ok $(echo "$out" | grep -q "^${new:0:12} deployed"; echo $?) "the commit is deployed: $out"
wait_sessions roll 3
stop_load roll
changed=0
for s in dns relay signer submission; do
	p=$(svc_field $s pid)
	[ "$p" != "${before[$s]}" ] && [ "$(svc_field $s config)" = "$new" ] && changed=$((changed + 1))
done
ok $([ $changed -eq 4 ]; echo $?) "every service runs a new process with the new configuration ($changed of 4)"
ok_n=$(sessions roll OK); fail_n=$(sessions roll FAIL)
# Old instances drain (smtp_server_shutdown lets each session finish a
# transaction) and hops retry a pooled connection the old instance closed
# (hop_forward), so no session may fail.
ok $([ "$ok_n" -ge 6 ]; echo $?) "the load ran through the rollover ($ok_n sessions got 250)"
ok $([ "$fail_n" -eq 0 ]; echo $?) "zero failed SMTP sessions during the rollover ($ok_n got 250, $fail_n failed)"
grep FAIL "$WORK/load-roll.log" | head -3 | cut -c1-200 | sed 's/^/# /'
missing=$(lost roll)
ok $([ "$missing" -eq 0 ]; echo $?) "zero lost messages during the rollover ($missing of $ok_n missing)"
wait_healthy 30
ok $? "every service is healthy after the rollover"

# 3. A commit that does not parse: rejected, nothing changes.
for s in dns relay signer submission; do before[$s]=$(svc_field $s pid); done
sed -i '0,/^domain = /s//this line is not a parameter\ndomain = /' "$CFG/ptt.conf"
commit_conf "a broken ptt.conf"
bad=$(git -C "$CFG" rev-parse HEAD)
kill -HUP "$(cat "$WORK/pttd.pid")"
wait_deploy "$bad" '[a-z]*'
out=$(last_deploy)
ok $(echo "$out" | grep -q "^${bad:0:12} rejected ptt check: .*ptt.conf:[0-9]*:"; echo $?) "the broken commit is rejected with ptt check's reason: $out"
same=0
for s in dns relay signer submission; do
	[ "$(svc_field $s pid)" = "${before[$s]}" ] && [ "$(svc_field $s config)" = "$new" ] && same=$((same + 1))
done
ok $([ $same -eq 4 ] && all_healthy; echo $?) "the old instances keep running, healthy ($same of 4 unchanged)"

# 4. A value the signer's own parameter table refuses: ptt check runs
# every service's section through it, so nothing is started.
sed -i '/^this line is not a parameter$/d; s/^\[signer\]$/[signer]\nmax_rcpts = lots/' "$CFG/ptt.conf"
commit_conf "the signer gets a value it cannot parse"
bad2=$(git -C "$CFG" rev-parse HEAD)
kill -HUP "$(cat "$WORK/pttd.pid")"
wait_deploy "$bad2" '[a-z]*'
out=$(last_deploy)
ok $(echo "$out" | grep -q "^${bad2:0:12} rejected ptt check: .*\[signer\]: ptt.conf:[0-9]*: max_rcpts"; echo $?) \
	"a bad value in the signer's section is rejected by ptt check, naming section and line: $out"
ok $([ "$(svc_field signer pid)" = "${before[signer]}" ]; echo $?) "the signer was not touched"

# 5. A commit that checks but that the signer refuses at start (its
# certificate is missing): its new instance exits, the old one keeps
# serving, the deploy shows why.
sed -i 's/^max_rcpts = lots$/cert = \/nonexistent\/signer.pem/' "$CFG/ptt.conf"
sed -i '/^\[signer\]$/,/^\[/{/^cert = .*tls\/signer.pem$/d}' "$CFG/ptt.conf"
commit_conf "the signer's certificate is missing"
bad3=$(git -C "$CFG" rev-parse HEAD)
kill -HUP "$(cat "$WORK/pttd.pid")"
wait_deploy "$bad3" failed
out=$(last_deploy)
ok $(echo "$out" | grep -q "^${bad3:0:12} failed signer: the new instance exited with status [0-9]"; echo $?) "a new signer that exits is not rolled in: $out"
ok $([ "$(svc_field signer pid)" = "${before[signer]}" ] && [ "$(svc_field signer config)" = "$new" ] && all_healthy; echo $?) \
	"the old signer keeps serving the previous configuration, every service healthy"

# 6. SIGTERM: every service stops, then pttd.
pids=""; for s in dns relay signer submission; do pids="$pids $(svc_field $s pid)"; done
kill -TERM "$(cat "$WORK/pttd.pid")"
for i in $(seq 200); do kill -0 "$(cat "$WORK/pttd.pid")" 2>/dev/null || break; sleep 0.1; done
alive=0; for p in $pids; do kill -0 $p 2>/dev/null && alive=$((alive + 1)); done
ok $( ! kill -0 "$(cat "$WORK/pttd.pid")" 2>/dev/null && [ $alive -eq 0 ]; echo $?) "SIGTERM: pttd stops every service and exits"
# Under ASan/UBSan: nothing reported by pttd itself (the services' own
# reports, if any, are in their logs and shown here).
! grep -q "Sanitizer\|runtime error" "$WORK/pttd.log"
ok $? "pttd: no sanitizer report"
grep -h "ERROR: .*Sanitizer\|runtime error" "$ST"/pttd/logs/*.log 2>/dev/null | head -5 | sed 's/^/# service: /'
done_testing
