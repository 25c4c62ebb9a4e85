#!/usr/bin/env bash
# bench/outbound/run.sh [BUILD] - the outbound path's throughput, latency,
# CPU per message and memory, ptt beside Postfix + OpenDKIM, in the same
# run on the same machine, all on loopback.
#
#   ptt:     ptt-smtp-send --AUTH/STARTTLS--> ptt-submission --mTLS-->
#            ptt-signer (rsa-sha256 2048 + ed25519) --mTLS--> ptt-relay
#            --MX lookup via ptt-dns--> smtp-sink
#   Postfix: ptt-smtp-send --AUTH/STARTTLS--> Postfix submission (Cyrus
#            SASL) + OpenDKIM milter (rsa-sha256 2048) --relayhost-->
#            smtp-sink
# The same load generator, message, concurrency and sink for both. Postfix
# gets a fixed relayhost (no DNS), which favours it. Results go to
# bench/outbound/RESULTS.md. Knobs: N (messages, default 2000), C
# (concurrent sessions, default 8), SIZE (body bytes, default 4096).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
export PTT_SRC=$root PTT_BUILD=$root/${1:-build}
. "$root/tests/interop/lib.sh"
. "$root/tests/interop/lib-postfix.sh"
. "$root/tests/interop/dns/common.sh"
N=${N:-2000}; C=${C:-8}; SIZE=${SIZE:-4096}
B=$PTT_BUILD
PT="/usr/bin/python3 $root/bench/outbound/proctime.py"
[ "$(id -u)" = 0 ] || { echo "bench: needs root (private Postfix)"; exit 1; }

# The message: a realistic header block and a text body of SIZE bytes.
{
	printf 'From: Alice <alice@example.test>\r\nTo: Bob <bob@sink.test>\r\nSubject: benchmark\r\n'
	printf 'Date: Sun, 22 Nov 2026 07:00:00 +0000\r\nMessage-ID: <bench@example.test>\r\n'
	printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
	head -c "$SIZE" /dev/urandom | base64 -w 76 | sed 's/$/\r/'
} > "$WORK/msg.eml"
echo -n "secret123" > "$WORK/pass"

# Sample the peak resident memory of a set of processes while load runs.
sample_rss() {	# sample_rss OUTFILE PID...
	local out=$1; shift
	echo 0 > "$out"
	while :; do
		set -- "$@"
		r=$($PT "$@" | awk '{print $2}')
		[ "$r" -gt "$(cat "$out")" ] && echo "$r" > "$out"
		sleep 0.2
	done
}

run_load() {	# run_load NAME PORT USER FROM -> sets T_* variables
	local name=$1 port=$2 user=$3 from=$4; shift 4
	"$B/src/tools/ptt-smtp-send" --server "127.0.0.1:$port" --tls required \
		--auth-user "$user" --auth-pass-file "$WORK/pass" --from "$from" \
		--to bob@sink.test --count "$N" --concurrency "$C" "$WORK/msg.eml" \
		> "$WORK/$name.load" 2>&1 || true
	cat "$WORK/$name.load" | sed "s/^/# $name: /"
}

# ---------------------------------------------------------------- Postfix
make_ca "$WORK/pub"
pf_start "$WORK/pub/server.pem" "$WORK/pub/server.key" "$WORK/pub/ca.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/odkim.key" 2>/dev/null
chmod 600 "$WORK/odkim.key"
odkim_port=$(free_port)
cat > "$WORK/opendkim.conf" <<EOC
Mode s
Domain example.test
Selector bench
KeyFile $WORK/odkim.key
Socket inet:$odkim_port@127.0.0.1
Canonicalization relaxed/relaxed
SignatureAlgorithm rsa-sha256
Background no
Syslog no
RequireSafeKeys no
EOC
start_bg opendkim opendkim -f -x "$WORK/opendkim.conf"
wait_port "$odkim_port" || { echo "bench: opendkim did not start"; cat "$WORK/opendkim.log"; exit 1; }
postconf -c "$PF/conf" -e "smtpd_milters = inet:127.0.0.1:$odkim_port" \
	"milter_default_action = tempfail" "relay_domains = example.test sink.test" \
	"default_process_limit = 100" > /dev/null
pf_cmd reload > /dev/null 2>&1
sleep 1
pf_master=$(cat "$PF/queue/pid/master.pid" | tr -d ' ')
odkim_pid=$(cat "$WORK/opendkim.pid")

# warm-up
N_SAVE=$N; N=20; run_load pf-warm "$PF_SUBM_PORT" "$PF_USER" alice@example.test > /dev/null
pf_wait_dump 20 30 || true
N=$N_SAVE
base=$(pf_count)
read -r cpu0 _ < <($PT "$pf_master" "$odkim_pid")
sample_rss "$WORK/pf.rss" "$pf_master" "$odkim_pid" & srss=$!
t0=$(date +%s.%N)
run_load postfix "$PF_SUBM_PORT" "$PF_USER" alice@example.test
pf_wait_dump $((base + N)) 600 || echo "# postfix: not all delivered"
t1=$(date +%s.%N)
kill $srss; wait $srss 2>/dev/null || true
read -r cpu1 _ < <($PT "$pf_master" "$odkim_pid")
pf_dkim=$(grep -c '^DKIM-Signature:' "$(find "$PF_DUMP" -type f | tail -1)" || true)
pf_cmd stop > /dev/null 2>&1 || true
kill "$odkim_pid" 2>/dev/null || true

# -------------------------------------------------------------------- ptt
CFG=$WORK/config; ST=$WORK/state
"$B/src/ptt/ptt" --config "$CFG" --state "$ST" init example.test > /dev/null
echo secret123 | "$B/src/ptt/ptt" --config "$CFG" --state "$ST" adduser alice \
	--forward alice@real.test --password-stdin > /dev/null
chmod -R o+rX "$CFG"
dns_port=$(free_port); sink_port=$(free_port); relay_port=$(free_port)
signer_port=$(free_port); sub_port=$(free_port)
write_zone example.test 1 > "$ZONES/example.test.zone"
printf '$ORIGIN sink.test.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n@ MX 10 mx\nmx A 127.0.0.1\n' > "$ZONES/sink.test.zone"
start_dnsd "$dns_port" --no-sandbox
printf 'server:\n    local-zone: "test." nodefault\n    do-not-query-localhost: no\n' > "$WORK/unbound.conf"
chmod 644 "$WORK/unbound.conf"
mkdir -p "$WORK/sinkdump"; chmod 777 "$WORK/sinkdump"
start_bg sink smtp-sink -u nobody -d "$WORK/sinkdump/%H%M%S." "127.0.0.1:$sink_port" 100
mkdir -p "$WORK/queue"
start_bg relay "$B/src/relay/ptt-relay" -o listen=127.0.0.1:$relay_port \
	-o cert="$ST/tls/relay.pem" -o key="$ST/tls/relay.key" -o ca="$ST/ca/ca.pem" \
	-o queue_dir="$WORK/queue" -o dns_stub=127.0.0.1@$dns_port -o dns_allow_localhost=yes \
	-o dns_config_file="$WORK/unbound.conf" -o remote_port=$sink_port -o helo_name=relay.example.test \
	-o outbound_tls=none
start_bg signer "$B/src/signer/ptt-signer" -o listen=127.0.0.1:$signer_port \
	-o cert="$ST/tls/signer.pem" -o key="$ST/tls/signer.key" -o ca="$ST/ca/ca.pem" \
	-o relay=127.0.0.1:$relay_port -o relay_implicit_tls=no -o domains=example.test -o state="$ST"
start_bg sub "$B/src/submission/ptt-submission" -o listen_submission=127.0.0.1:$sub_port \
	-o listen_smtps= -o hostname=mail.example.test -o domain=example.test \
	-o cert="$WORK/pub/server.pem" -o key="$WORK/pub/server.key" \
	-o internal_cert="$ST/tls/submission.pem" -o internal_key="$ST/tls/submission.key" \
	-o ca="$ST/ca/ca.pem" -o signer=127.0.0.1:$signer_port -o config_repo="$CFG"
wait_port $sink_port && wait_port $relay_port && wait_port $signer_port && wait_port $sub_port
pids="$(cat "$WORK/sub.pid") $(cat "$WORK/signer.pid") $(cat "$WORK/relay.pid")"
count() { find "$WORK/sinkdump" -type f | wc -l; }
wait_count() { local i; for i in $(seq $(( $2 * 10 ))); do [ "$(count)" -ge "$1" ] && return 0; sleep 0.1; done; return 1; }

N_SAVE=$N; N=20; run_load ptt-warm "$sub_port" alice alice@example.test > /dev/null
wait_count 20 30 || { echo "bench: ptt warm-up did not arrive"; tail -5 "$WORK"/relay.log; }
N=$N_SAVE
base=$(count)
read -r cpu2 _ < <($PT $pids)
sample_rss "$WORK/ptt.rss" $pids & srss=$!
t2=$(date +%s.%N)
run_load ptt "$sub_port" alice alice@example.test
wait_count $((base + N)) 600 || echo "# ptt: not all delivered"
t3=$(date +%s.%N)
kill $srss; wait $srss 2>/dev/null || true
read -r cpu3 _ < <($PT $pids)
ptt_dkim=$(grep -c '^DKIM-Signature:' "$(find "$WORK/sinkdump" -type f | tail -1)" || true)

# ---------------------------------------------------------------- report
/usr/bin/python3 - "$WORK" "$N" "$C" "$SIZE" "$t0" "$t1" "$t2" "$t3" "$cpu0" "$cpu1" "$cpu2" "$cpu3" \
	"$pf_dkim" "$ptt_dkim" "$root/bench/outbound/RESULTS.md" <<'PY'
import re, sys, datetime, os
(work, n, c, size, t0, t1, t2, t3, c0, c1, c2, c3, pfd, ptd, out) = sys.argv[1:]
n = int(n)
def load(name):
    s = open(os.path.join(work, name + ".load")).read()
    m = re.search(r"(\d+) accepted.*?([\d.]+) msg/s", s)
    l = re.search(r"p50=([\d.]+)ms p99=([\d.]+)ms", s)
    return (int(m.group(1)) if m else 0, float(m.group(2)) if m else 0.0,
            float(l.group(1)) if l else float("nan"), float(l.group(2)) if l else float("nan"))
pf, pt = load("postfix"), load("ptt")
pf_e2e = n / (float(t1) - float(t0)); pt_e2e = n / (float(t3) - float(t2))
pf_cpu = (float(c1) - float(c0)) * 1000 / n; pt_cpu = (float(c3) - float(c2)) * 1000 / n
pf_rss = int(open(os.path.join(work, "pf.rss")).read()) / 1024
pt_rss = int(open(os.path.join(work, "ptt.rss")).read()) / 1024
rows = [
    ("accepted by submission", "%d" % pf[0], "%d" % pt[0], ""),
    ("submission rate (msg/s)", "%.1f" % pf[1], "%.1f" % pt[1], "%.2fx" % (pt[1] / pf[1] if pf[1] else 0)),
    ("end to end, delivered at the sink (msg/s)", "%.1f" % pf_e2e, "%.1f" % pt_e2e, "%.2fx" % (pt_e2e / pf_e2e)),
    ("latency p50 (ms)", "%.1f" % pf[2], "%.1f" % pt[2], "%.2fx faster" % (pf[2] / pt[2] if pt[2] else 0)),
    ("latency p99 (ms)", "%.1f" % pf[3], "%.1f" % pt[3], "%.2fx faster" % (pf[3] / pt[3] if pt[3] else 0)),
    ("CPU per message (ms)", "%.2f" % pf_cpu, "%.2f" % pt_cpu, "%.2fx less" % (pf_cpu / pt_cpu if pt_cpu else 0)),
    ("peak resident memory (MiB)", "%.1f" % pf_rss, "%.1f" % pt_rss, "%.2fx" % (pt_rss / pf_rss if pf_rss else 0)),
    ("DKIM signatures per message", pfd, ptd, ""),
]
text = ["# Outbound benchmark: ptt vs Postfix + OpenDKIM", "",
        "Run %s on this machine (%d cores); %d messages of %s body bytes over %s concurrent "
        "AUTH+STARTTLS sessions, each system to its own smtp-sink on loopback. "
        "Postfix relays to a fixed relayhost; ptt's relay looks the MX up through ptt-dns. "
        "ptt signs twice (rsa-sha256 2048 and ed25519-sha256), OpenDKIM once (rsa-sha256 2048)."
        % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"), os.cpu_count(), n, size, c),
        "", "| measure | Postfix + OpenDKIM | ptt | ptt vs Postfix |", "|---|---|---|---|"]
text += ["| %s | %s | %s | %s |" % r for r in rows]
text += ["", "Reproduce: `make bench` (or `N=5000 C=16 bench/outbound/run.sh`).", ""]
open(out, "w").write("\n".join(text))
print("\n".join(text))
PY
done_testing >/dev/null || true
