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
# bench/outbound/RESULTS.md. Knobs: N (messages per round, default 2000),
# C (concurrent sessions, default 8), SIZE (body bytes, default 4096),
# ROUNDS (default 3): both systems stay up and their loads alternate,
# Postfix then ptt, ROUNDS times; the report gives each measure's median
# over the rounds, so a noisy neighbour on a shared machine hurts one
# round of one side rather than the comparison. ONLY=ptt skips Postfix
# (profiling); PERF=FILE records `perf record -g` of ptt's daemons over
# its rounds into FILE. RELAY_BIN=PATH runs another ptt-relay binary
# (to measure a relay change before it lands); OUT=FILE writes the report
# there instead of RESULTS.md; SIGNER_OPTS="-o name=value ..." adds
# signer options.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
export PTT_SRC=$root PTT_BUILD=$root/${1:-build}
. "$root/tests/interop/lib.sh"
. "$root/tests/interop/lib-postfix.sh"
. "$root/tests/interop/dns/common.sh"
N=${N:-2000}; C=${C:-8}; SIZE=${SIZE:-4096}; ROUNDS=${ROUNDS:-3}; ONLY=${ONLY:-}
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
if [ "$ONLY" != ptt ]; then
	N_SAVE=$N; N=20; run_load pf-warm "$PF_SUBM_PORT" "$PF_USER" alice@example.test > /dev/null
	pf_wait_dump 20 30 || true
	N=$N_SAVE
fi

pf_round() {	# pf_round R -> $WORK/pf.R.{load,times,rss}
	local r=$1 base cpu0 cpu1 t0 t1 srss
	base=$(pf_count)
	read -r cpu0 _ < <($PT "$pf_master" "$odkim_pid")
	sample_rss "$WORK/pf.$r.rss" "$pf_master" "$odkim_pid" & srss=$!
	t0=$(date +%s.%N)
	run_load "pf.$r" "$PF_SUBM_PORT" "$PF_USER" alice@example.test
	pf_wait_dump $((base + N)) 600 || echo "# postfix: not all delivered"
	t1=$(date +%s.%N)
	kill $srss; wait $srss 2>/dev/null || true
	read -r cpu1 _ < <($PT "$pf_master" "$odkim_pid")
	echo "$t0 $t1 $cpu0 $cpu1" > "$WORK/pf.$r.times"
}

# -------------------------------------------------------------------- ptt
CFG=$WORK/config; ST=$WORK/state
"$B/src/ptt/ptt" --config "$CFG" --state "$ST" init --bare example.test > /dev/null
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
QDIR=${QDIR:-$WORK/queue}; mkdir -p "$QDIR"
start_bg relay "${RELAY_BIN:-$B/src/relay/ptt-relay}" -o listen=127.0.0.1:$relay_port \
	-o cert="$ST/tls/relay.pem" -o key="$ST/tls/relay.key" -o ca="$ST/ca/ca.pem" \
	-o queue_dir="$QDIR" -o dns_stub=127.0.0.1@$dns_port -o dns_allow_localhost=yes \
	-o dns_config_file="$WORK/unbound.conf" -o remote_port=$sink_port -o helo_name=relay.example.test \
	-o outbound_tls=none
start_bg signer "$B/src/signer/ptt-signer" -o listen=127.0.0.1:$signer_port \
	-o cert="$ST/tls/signer.pem" -o key="$ST/tls/signer.key" -o ca="$ST/ca/ca.pem" \
	-o relay=127.0.0.1:$relay_port -o relay_implicit_tls=no -o domains=example.test -o state="$ST" ${SIGNER_OPTS:-}
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

ptt_round() {	# ptt_round R -> $WORK/ptt.R.{load,times,rss}
	local r=$1 base cpu0 cpu1 t0 t1 srss
	base=$(count)
	read -r cpu0 _ < <($PT $pids)
	sample_rss "$WORK/ptt.$r.rss" $pids & srss=$!
	t0=$(date +%s.%N)
	run_load "ptt.$r" "$sub_port" alice alice@example.test
	wait_count $((base + N)) 600 || echo "# ptt: not all delivered"
	t1=$(date +%s.%N)
	kill $srss; wait $srss 2>/dev/null || true
	read -r cpu1 _ < <($PT $pids)
	echo "$t0 $t1 $cpu0 $cpu1" > "$WORK/ptt.$r.times"
}

read -r fs_file0 fs_dir0 < <(/usr/bin/python3 "$root/bench/outbound/fsyncprobe.py" "$WORK")
if [ -n "${PERF:-}" ]; then
	perf record -g -o "$PERF" -p "$(echo $pids | tr ' ' ,)" > /dev/null 2>&1 & perf_pid=$!
	sleep 0.5
fi
for r in $(seq "$ROUNDS"); do
	[ "$ONLY" = ptt ] || pf_round "$r"
	ptt_round "$r"
done
[ -n "${PERF:-}" ] && { kill -INT $perf_pid; wait $perf_pid 2>/dev/null || true; }
read -r fs_file1 fs_dir1 < <(/usr/bin/python3 "$root/bench/outbound/fsyncprobe.py" "$WORK")
pf_dkim=0
[ "$ONLY" = ptt ] || pf_dkim=$(grep -c '^DKIM-Signature:' "$(find "$PF_DUMP" -type f | tail -1)" || true)
ptt_dkim=$(grep -c '^DKIM-Signature:' "$(find "$WORK/sinkdump" -type f | tail -1)" || true)
pf_cmd stop > /dev/null 2>&1 || true
kill "$odkim_pid" 2>/dev/null || true

# ---------------------------------------------------------------- report
/usr/bin/python3 - "$WORK" "$N" "$C" "$SIZE" "$ROUNDS" "$pf_dkim" "$ptt_dkim" \
	"${OUT:-$root/bench/outbound/RESULTS.md}" "$ONLY" "$fs_file0 $fs_dir0 $fs_file1 $fs_dir1" \
	"$(cat /proc/loadavg | cut -d' ' -f1-3)" <<'PY'
import re, sys, datetime, os, statistics
(work, n, c, size, rounds, pfd, ptd, out, only, fsp, load) = sys.argv[1:]
fsp = [float(x) for x in fsp.split()]
n, rounds = int(n), int(rounds)
def side(name):
    rows = []
    for r in range(1, rounds + 1):
        s = open(os.path.join(work, "%s.%d.load" % (name, r))).read()
        m = re.search(r"(\d+) accepted.*?([\d.]+) msg/s", s)
        l = re.search(r"p50=([\d.]+)ms p99=([\d.]+)ms", s)
        t0, t1, c0, c1 = map(float, open(os.path.join(work, "%s.%d.times" % (name, r))).read().split())
        rss = int(open(os.path.join(work, "%s.%d.rss" % (name, r))).read()) / 1024
        rows.append(dict(acc=int(m.group(1)) if m else 0, rate=float(m.group(2)) if m else 0.0,
                         p50=float(l.group(1)) if l else float("nan"),
                         p99=float(l.group(2)) if l else float("nan"),
                         e2e=n / (t1 - t0), cpu=(c1 - c0) * 1000 / n, rss=rss))
    return rows
def med(rows, k):
    return statistics.median(r[k] for r in rows)
pt = side("ptt")
pf = side("pf") if only != "ptt" else pt
def ratio(a, b):
    return a / b if b else 0
def each(rows, k, f):
    return " ".join(f % r[k] for r in rows)
rows = [
    ("accepted by submission (per round)", each(pf, "acc", "%d"), each(pt, "acc", "%d"), ""),
    ("submission rate (msg/s)", "%.1f" % med(pf, "rate"), "%.1f" % med(pt, "rate"), "%.2fx" % ratio(med(pt, "rate"), med(pf, "rate"))),
    ("end to end, delivered at the sink (msg/s)", "%.1f" % med(pf, "e2e"), "%.1f" % med(pt, "e2e"), "%.2fx" % ratio(med(pt, "e2e"), med(pf, "e2e"))),
    ("latency p50 (ms)", "%.1f" % med(pf, "p50"), "%.1f" % med(pt, "p50"), "%.2fx faster" % ratio(med(pf, "p50"), med(pt, "p50"))),
    ("latency p99 (ms)", "%.1f" % med(pf, "p99"), "%.1f" % med(pt, "p99"), "%.2fx faster" % ratio(med(pf, "p99"), med(pt, "p99"))),
    ("CPU per message (ms)", "%.2f" % med(pf, "cpu"), "%.2f" % med(pt, "cpu"), "%.2fx less" % ratio(med(pf, "cpu"), med(pt, "cpu"))),
    ("peak resident memory (MiB)", "%.1f" % max(r["rss"] for r in pf), "%.1f" % max(r["rss"] for r in pt), "%.2fx" % ratio(max(r["rss"] for r in pt), max(r["rss"] for r in pf))),
    ("DKIM signatures per message", pfd, ptd, ""),
]
text = ["# Outbound benchmark: ptt vs Postfix + OpenDKIM", "",
        "Run %s on this machine (%d cores); %d rounds, each of %d messages of %s body bytes over %s concurrent "
        "AUTH+STARTTLS sessions, Postfix's round then ptt's, each system to its own smtp-sink on loopback. "
        "Postfix relays to a fixed relayhost; ptt's relay looks the MX up through ptt-dns. "
        "ptt signs twice (rsa-sha256 2048 and ed25519-sha256), OpenDKIM once (rsa-sha256 2048). "
        "Medians over the rounds (memory: the peak)."
        % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"), os.cpu_count(), rounds, n, size, c),
        "", "| measure | Postfix + OpenDKIM | ptt | ptt vs Postfix |", "|---|---|---|---|"]
text += ["| %s | %s | %s | %s |" % r for r in rows]
text += ["", "Per round, end to end msg/s: Postfix %s; ptt %s." % (each(pf, "e2e", "%.1f"), each(pt, "e2e", "%.1f")),
         "", "The disk meanwhile (bench/outbound/fsyncprobe.py, medians): a 5 KiB file's fsync "
         "%.2f ms before the rounds and %.2f ms after; its directory's fsync %.2f and %.2f ms. "
         "Load average at the end: %s." % (fsp[0], fsp[2], fsp[1], fsp[3], load),
         "", "Reproduce: `make bench` (or `ROUNDS=5 N=5000 C=16 bench/outbound/run.sh BUILDDIR`).", ""]
if only == "ptt":
    out = os.path.join(work, "RESULTS.ptt-only.md")
    text[0] += " (ptt only: ratios meaningless)"
notes = os.path.join(os.path.dirname(out), "NOTES.md")
body = "\n".join(text)
if only != "ptt" and os.path.exists(notes):
    body += "\n" + open(notes).read()
open(out, "w").write(body)
print("\n".join(text))
PY
done_testing >/dev/null || true
