#!/usr/bin/env bash
# bench/inbound/run.sh [BUILD] - the receiving side: throughput, latency,
# CPU per message and memory of ptt's whole inbound path beside Postfix
# with OpenDKIM and OpenDMARC, in the same run on the same machine.
#
# Everything runs inside a network namespace made for the run (only its
# loopback exists; deleted at exit). In it, 192.0.2.10 (TEST-NET-1) on lo
# is the outside MTA of sender.outside.test: a policy routing rule gives
# the load generator's connections to the two port-25 listeners that
# source address, so SPF is evaluated for a real client address (libspf2,
# which OpenDMARC uses, passes any 127.x client without looking at DNS).
#
#   ptt (`ptt demo`, under pttd): ptt-smtp-send --STARTTLS--> ptt-mx (SPF,
#       DKIM, DMARC, ARC verdicts, Authentication-Results) --mTLS-->
#       ptt-spamfilter --mTLS--> ptt-signer (ARC seal) --mTLS--> ptt-relay
#       (durable queue, alice@demo.test -> alice@outside.test with SRS,
#       MX lookup through ptt-resolver) --STARTTLS--> ptt-sink
#   Postfix: ptt-smtp-send --STARTTLS--> Postfix smtpd + OpenDKIM (verify)
#       + OpenDMARC (SPFSelfValidate) milters --virtual_alias_maps-->
#       queue --fixed relayhost, STARTTLS--> the same ptt-sink
#
# DNS: ptt-dns (the demo's) serves outside.test; sender.outside.test's
# SPF, DMARC and DKIM records are added to it by TSIG UPDATE. ptt asks it
# through ptt-resolver; the milters through an Unbound on 127.0.0.1:53 in
# the namespace (/etc/netns/NAME/resolv.conf, so the host's resolv.conf is
# untouched). Knobs: N (messages per round, default 1000), C (concurrent
# sessions, default 8), SIZE (body bytes, default 4096), ROUNDS (default
# 3; Postfix's round then ptt's, medians reported), OUT (report file,
# default bench/inbound/RESULTS.md).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/bench/inbound
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespace, private Postfix)"; exit 1; }

# ------------------------------------------------ the namespace (outer run)
if [ -z "${PTT_BENCH_NS:-}" ]; then
	ns=ptt-inbound-$$
	ip netns add "$ns"
	outer_exit() {
		# processes still in the namespace are this run's: end them by id
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
		rm -rf "/etc/netns/$ns"
	}
	trap outer_exit EXIT
	trap 'exit 130' INT TERM
	mkdir -p "/etc/netns/$ns"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:2\n' > "/etc/netns/$ns/resolv.conf"
	rc=0
	ip netns exec "$ns" env PTT_BENCH_NS="$ns" bash "$0" "$@" || rc=$?
	exit $rc
fi

# ------------------------------------------------- inside the namespace
case ${1:-build} in /*) build=$1 ;; *) build=$root/${1:-build} ;; esac
export PTT_SRC=$root PTT_BUILD=$build
. "$root/tests/interop/lib.sh"
. "$root/tests/interop/lib-postfix.sh"
N=${N:-1000}; C=${C:-8}; SIZE=${SIZE:-4096}; ROUNDS=${ROUNDS:-3}
B=$PTT_BUILD
PT="$PY $root/bench/outbound/proctime.py"
OUTSIDE_IP=192.0.2.10
fail() { echo "bench: $*" >&2; exit 1; }
[ -x "$B/src/ptt/ptt" ] || fail "no ptt in $B (build it first)"

ip link set lo up
ip addr add $OUTSIDE_IP/32 dev lo

# ptt: the demo stack (pttd, every service, ptt-dns, ptt-sink)
start_bg demo "$B/src/ptt/ptt" demo --dir "$WORK/demo"
wait_line "$WORK/demo.log" 'running until interrupted|FAILED|demo: stopped' 180
grep -q 'running until interrupted' "$WORK/demo.log" || { tail -30 "$WORK/demo.log"; fail "ptt demo did not come up"; }
. "$WORK/demo/demo.env"
demo_pid=$(cat "$WORK/demo.pid")
# pids of the demo's processes by name (comm), among its descendants
pids_named() {
	local p all
	all=$($PY - "$demo_pid" <<'EOF'
import os, sys
kids = {}
for p in filter(str.isdigit, os.listdir("/proc")):
    try: st = open("/proc/%s/stat" % p).read()
    except OSError: continue
    kids.setdefault(int(st[st.rindex(")") + 2:].split()[1]), []).append(int(p))
todo, seen = [int(sys.argv[1])], []
while todo:
    p = todo.pop(); seen.append(p); todo += kids.get(p, [])
print(" ".join(map(str, seen)))
EOF
)
	for p in $all; do
		case " $* " in *" $(cat /proc/$p/comm 2>/dev/null) "*) echo "$p" ;; esac
	done
}
sink_pid=$(pids_named ptt-sink)
sink_port=$(tr '\0' '\n' < /proc/$sink_pid/cmdline | sed -n '/^-l$/{n;p}' | sed 's/.*://')
[ -n "$sink_port" ] || fail "cannot find ptt-sink's port"
count() { find "$PTT_SINK_DIR" -name '*.eml' | wc -l; }
wait_count() { local i; for i in $(seq $(( $2 * 10 ))); do [ "$(count)" -ge "$1" ] && return 0; sleep 0.1; done; return 1; }

# sender.outside.test: SPF for the outside MTA's address, DMARC p=reject,
# its own DKIM key (strict alignment everywhere)
openssl genrsa -out "$WORK/sender.key" 2048 2>/dev/null
pub=$(openssl rsa -in "$WORK/sender.key" -pubout -outform DER 2>/dev/null | base64 -w0)
split=$(echo "v=DKIM1; k=rsa; p=$pub" | sed -E 's/(.{200})/\1" "/g')
# ptt-dns serves the zone files of the demo's repository and reloads one
# when its mtime changes (its TSIG policy lets ptt. update demo.test only)
zf=$PTT_CONFIG/zones/outside.test.zone
[ -f "$zf" ] || fail "no $zf"
cat >> "$zf" <<EOF
sender.outside.test. 60 TXT "v=spf1 ip4:$OUTSIDE_IP -all"
_dmarc.sender.outside.test. 60 TXT "v=DMARC1; p=reject"
bench._domainkey.sender.outside.test. 60 TXT "$split"
mx.sender.outside.test. 60 A $OUTSIDE_IP
mx.sender.outside.test. 60 TXT "v=spf1 a -all"
EOF
for _ in $(seq 50); do
	kdig -p "${PTT_DNS##*:}" @127.0.0.1 +short TXT _dmarc.sender.outside.test 2>/dev/null | grep -q DMARC1 && break
	sleep 0.2
done
kdig -p "${PTT_DNS##*:}" @127.0.0.1 +short TXT bench._domainkey.sender.outside.test | grep -q 'p=' ||
	fail "ptt-dns does not serve sender.outside.test's records"

# the message, signed once by dkimpy and sent N times per round
{
	printf 'From: Bob <bob@sender.outside.test>\r\nTo: Alice <alice@demo.test>\r\nSubject: inbound benchmark\r\n'
	printf 'Date: Sun, 22 Nov 2026 11:00:00 +0000\r\nMessage-ID: <bench@sender.outside.test>\r\n'
	printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
	head -c "$SIZE" /dev/urandom | base64 -w 76 | sed 's/$/\r/'
} > "$WORK/msg.raw"
$PY - "$WORK/msg.raw" "$WORK/sender.key" > "$WORK/msg.eml" <<'EOF'
import sys, dkim
msg = open(sys.argv[1], "rb").read()
sig = dkim.sign(msg, b"bench", b"sender.outside.test", open(sys.argv[2], "rb").read(),
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id",
                                 b"mime-version", b"content-type"])
sys.stdout.buffer.write(sig + msg)
EOF
chmod 644 "$WORK/msg.eml"

# Unbound on 127.0.0.1:53 of the namespace, for the milters (libc and
# libunbound): outside.test and demo.test stubbed to ptt-dns, nothing else
# goes anywhere (there is nowhere to go)
cat > "$WORK/unbound.conf" <<EOF
server:
    interface: 127.0.0.1
    port: 53
    username: ""
    chroot: ""
    directory: "$WORK"
    pidfile: ""
    use-syslog: no
    logfile: ""
    num-threads: 1
    do-not-query-localhost: no
    local-zone: "test." nodefault
    domain-insecure: "test."
    access-control: 127.0.0.0/8 allow
stub-zone:
    name: "outside.test."
    stub-addr: 127.0.0.1@${PTT_DNS##*:}
stub-zone:
    name: "demo.test."
    stub-addr: 127.0.0.1@${PTT_DNS##*:}
EOF
start_bg unbound unbound -d -c "$WORK/unbound.conf"
wait_port 53 || { cat "$WORK/unbound.log"; fail "unbound did not start"; }

# ------------------------------------------------------------- Postfix
make_ca "$WORK/pub"
pf_start "$WORK/pub/server.pem" "$WORK/pub/server.key" "$WORK/pub/ca.pem"
# the milters on UNIX sockets, as Debian configures them (on loopback TCP
# Postfix ran at half the rate: see NOTES.md)
odkim_sock=$WORK/opendkim.sock; odmarc_sock=$WORK/opendmarc.sock
printf 'server:\n    do-not-query-localhost: no\n    local-zone: "test." nodefault\nforward-zone:\n    name: "."\n    forward-addr: 127.0.0.1@53\n' > "$WORK/ub-opendkim.conf"
cat > "$WORK/opendkim.conf" <<EOC
Mode v
Socket local:$odkim_sock
UMask 000
AuthservID mx.example.test
ResolverConfiguration $WORK/ub-opendkim.conf
Background no
Syslog no
EOC
cat > "$WORK/opendmarc.conf" <<EOC
Socket local:$odmarc_sock
UMask 000
AuthservID mx.example.test
TrustedAuthservIDs mx.example.test
SPFSelfValidate true
SPFIgnoreResults true
RejectFailures false
FailureReports false
Syslog false
PidFile $WORK/opendmarc.pidfile
EOC
cc -shared -fPIC -O2 -o "$WORK/ubconfig_lock.so" "$here/ubconfig_lock.c" -ldl -lpthread ||
	fail "cannot build ubconfig_lock.so"
start_bg opendkim env LD_PRELOAD="$WORK/ubconfig_lock.so" opendkim -f -x "$WORK/opendkim.conf"
start_bg opendmarc opendmarc -f -c "$WORK/opendmarc.conf"
for _ in $(seq 100); do [ -S "$odkim_sock" ] && [ -S "$odmarc_sock" ] && break; sleep 0.1; done
[ -S "$odkim_sock" ] || { cat "$WORK/opendkim.log"; fail "opendkim did not start"; }
[ -S "$odmarc_sock" ] || { cat "$WORK/opendmarc.log"; fail "opendmarc did not start"; }
postconf -c "$PF/conf" -e \
	"smtpd_milters = unix:$odkim_sock, unix:$odmarc_sock" \
	"milter_default_action = tempfail" "relay_domains = demo.test" \
	"virtual_alias_maps = inline:{ alice@demo.test=alice@outside.test }" \
	"relayhost = [127.0.0.1]:$sink_port" "smtp_tls_security_level = may" \
	"default_process_limit = 100" > /dev/null
pf_cmd reload > /dev/null 2>&1
sleep 1
pf_pids="$(tr -d ' ' < "$PF/queue/pid/master.pid") $(cat "$WORK/opendkim.pid") $(cat "$WORK/opendmarc.pid") $(cat "$WORK/unbound.pid")"
# ptt's inbound path: mx, spamfilter, signer, relay and its resolver
# (pttd, ptt-dns, submission, acme and the sink are outside the path)
ptt_pids=$(pids_named ptt-mx ptt-spamfilter ptt-signer ptt-relay unbound ptt-resolver | tr '\n' ' ')
[ "$(echo $ptt_pids | wc -w)" -ge 5 ] || fail "not all of ptt's inbound services found: $ptt_pids"
names() { local p; for p in "$@"; do cat /proc/$p/comm; done | sort | uniq -c | awk '{printf "%s%s%s", sep, $2, ($1 > 1 ? " x" $1 : ""); sep=", "}'; }
pf_names="$(names $pf_pids) (each with its children)"; ptt_names=$(names $ptt_pids)
echo "# measured: Postfix side: $pf_names; ptt side: $ptt_names"

# the outside MTA's connections to both port-25 listeners leave from
# OUTSIDE_IP: rules before the local table, matching those ports only
ip route add local 127.0.0.1 dev lo src $OUTSIDE_IP table 142
for port in "${PTT_MX##*:}" "$PF_SMTP_PORT"; do
	ip rule add pref 10 ipproto tcp dport "$port" lookup 142
done
ip rule add pref 100 lookup local
ip rule del pref 0

sample_mem() {	# sample_mem OUTFILE PID...: peak summed RSS and PSS (KiB)
	local out=$1 rss pss mr=0 mp=0; shift
	echo "0 0" > "$out"
	while :; do
		read -r rss pss < <($PY "$here/memsum.py" "$@")
		[ "$rss" -gt "$mr" ] && mr=$rss
		[ "$pss" -gt "$mp" ] && mp=$pss
		echo "$mr $mp" > "$out"
		sleep 0.2
	done
}
run_load() {	# run_load NAME PORT COUNT [CONCURRENCY]
	"$B/src/tools/ptt-smtp-send" --server "127.0.0.1:$2" --tls required \
		--helo mx.sender.outside.test --from bob@sender.outside.test \
		--to alice@demo.test --count "$3" --concurrency "${4:-$C}" "$WORK/msg.eml" \
		> "$WORK/$1.load" 2>&1 || true
	sed "s/^/# $1: /" "$WORK/$1.load"
}
round() {	# round SIDE PORT R -> $WORK/SIDE.R.{load,times,rss}
	local side=$1 port=$2 r=$3 pids base cpu0 cpu1 t0 t1 srss acc
	if [ "$side" = pf ]; then pids=$pf_pids; else pids=$ptt_pids; fi
	base=$(count)
	read -r cpu0 _ < <($PT $pids)
	sample_mem "$WORK/$side.$r.mem" $pids & srss=$!
	t0=$(date +%s.%N)
	run_load "$side.$r" "$port" "$N"
	acc=$(sed -n 's/.* \([0-9]*\) accepted,.*/\1/p' "$WORK/$side.$r.load" | head -1)
	wait_count $((base + ${acc:-0})) 600 || echo "# $side: not all delivered"
	t1=$(date +%s.%N)
	kill $srss; wait $srss 2>/dev/null || true
	read -r cpu1 _ < <($PT $pids)
	echo "$t0 $t1 $cpu0 $cpu1 $(( $(count) - base ))" > "$WORK/$side.$r.times"
}

# warm-up, and the proof that both sides verify for real: the newest
# delivered message of each carries spf, dkim and dmarc pass in the
# Authentication-Results its receiver wrote (the message arrives with none)
verdicts() {	# verdicts NAME: "authserv-id method=result..." of the newest file
	local f
	f=$(ls -t "$PTT_SINK_DIR"/*.eml | head -1)
	cp "$f" "$WORK/landed.$1.eml"
	$PY - "$f" <<'EOF'
import sys, re, email.parser, email.policy
m = email.parser.BytesParser(policy=email.policy.compat32).parse(open(sys.argv[1], "rb"))
ids, out = set(), set()
for v in m.get_all("Authentication-Results", []):
    v = re.sub(r"\s+", " ", v)
    ids.add(v.split(";")[0].strip())
    out |= {"%s=%s" % kv for kv in re.findall(r"\b(spf|dkim|dmarc)=(\w+)", v)}
print(",".join(sorted(ids)), " ".join(sorted(out)))
EOF
}
base=$(count)
# OpenDKIM sets libunbound up at its first query, unlocked: two first
# queries at once parse its configuration together and crash it (flex)
run_load pf-first "$PF_SMTP_PORT" 1 1 > /dev/null
run_load pf-warm "$PF_SMTP_PORT" 20 > /dev/null
wait_count $((base + 21)) 60 || { tail -5 "$PF_LOG"; fail "Postfix warm-up did not arrive"; }
pf_ar=$(verdicts pf)
base=$(count)
run_load ptt-warm "${PTT_MX##*:}" 20 > /dev/null
wait_count $((base + 20)) 60 || fail "ptt warm-up did not arrive"
ptt_ar=$(verdicts ptt)
echo "# Postfix: $pf_ar"; echo "# ptt: $ptt_ar"
for side in "Postfix:$pf_ar" "ptt:$ptt_ar"; do
	for want in dkim=pass dmarc=pass spf=pass; do
		case " ${side#*:} " in *" $want "*) ;; *) fail "${side%%:*}: no $want in its Authentication-Results (${side#*:})" ;; esac
	done
done
grep -q "client=.*\[$OUTSIDE_IP\]" "$PF_LOG" || fail "Postfix did not see the client as $OUTSIDE_IP"
grep -q "^X-Ptt-Sink-Mail-From: <SRS0=" "$WORK/landed.ptt.eml" || fail "ptt's forward has no SRS sender"
grep -q "^ARC-Seal:" "$WORK/landed.ptt.eml" || fail "ptt's forward has no ARC set"

for r in $(seq "$ROUNDS"); do
	round pf "$PF_SMTP_PORT" "$r"
	round ptt "${PTT_MX##*:}" "$r"
done

# every message of the rounds and warm-ups: spf, dkim and dmarc pass?
# (ptt's forwards have an SRS sender, Postfix's the original one)
passes=$($PY - "$PTT_SINK_DIR" <<'EOF'
import os, re, sys
n = {"ptt": [0, 0], "pf": [0, 0]}
for f in os.listdir(sys.argv[1]):
    if not f.endswith(".eml"):
        continue
    t = open(os.path.join(sys.argv[1], f), "rb").read().decode("utf-8", "replace")
    if "Message-ID: <bench@sender.outside.test>" not in t:
        continue
    side = "ptt" if "X-Ptt-Sink-Mail-From: <SRS0=" in t else "pf"
    ar = " ".join(re.sub(r"\s+", " ", v) for v in re.findall(r"(?ms)^Authentication-Results:(.*?)(?=^\S)", t))
    n[side][0] += 1
    n[side][1] += all(re.search(r"\b%s=pass\b" % m, ar) for m in ("spf", "dkim", "dmarc"))
print("%d %d %d %d" % (n["pf"][1], n["pf"][0], n["ptt"][1], n["ptt"][0]))
EOF
)
echo "# spf, dkim and dmarc pass / delivered: Postfix and ptt: $passes"

# ---------------------------------------------------------------- report
$PY "$here/report.py" "$WORK" "$N" "$C" "$SIZE" "$ROUNDS" "$pf_ar" "$ptt_ar" \
	"$(cut -d' ' -f1-3 /proc/loadavg)" "${OUT:-$here/RESULTS.md}" "$here/NOTES.md" \
	"$passes" "$pf_names" "$ptt_names"
