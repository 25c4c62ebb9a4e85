#!/usr/bin/env bash
# demo.sh - `ptt demo --once` (what `make demo` runs, minus the waiting):
# the whole stack under pttd on loopback; it must exit 0, which it does
# only when alice's message reached outside.test's MX with both DKIM
# signatures verifying and bob's message reached alice's real mailbox with
# the mx's Authentication-Results, an SRS sender, the spamfilter's label
# and a verifying ARC chain. On top of its own checks: demo.env names
# every endpoint the issue lists, dkimpy (not ptt) verifies the outbound
# signatures and the inbound ARC chain, and nothing keeps running after.
. "$PTT_SRC/tests/interop/lib.sh"
PTT=$PTT_BUILD/src/ptt/ptt
D=$WORK/demo

timeout 240 "$PTT" demo --once --dir "$D" > "$WORK/demo.out" 2>&1
rc=$?
ok $rc "ptt demo --once exits 0 (mail both ways, verified)"
[ $rc -eq 0 ] || { sed 's/^/# /' "$WORK/demo.out" | tail -40; tail -n 20 "$D"/state/pttd/logs/*.log 2>/dev/null | sed 's/^/# /'; }
ok $(grep -c '^   ok ' "$WORK/demo.out" | grep -qx 10; echo $?) "it reports its ten checks as ok"
ok $(grep -q FAIL "$WORK/demo.out"; [ $? -ne 0 ]; echo $?) "and none as FAIL"

for k in PTT_DEMO_DIR PTT_DOMAIN PTT_OUTSIDE_DOMAIN PTT_SUBMISSION PTT_SUBMISSION_STARTTLS \
	PTT_MX PTT_DNS PTT_CA PTT_USER PTT_PASSWORD PTT_USER_REAL PTT_SINK_DIR PTT_DASHBOARD PTT_TSIG; do
	grep -q "^$k=." "$D/demo.env" || ok 1 "demo.env has $k"
done
ok $(grep -c '^PTT_' "$D/demo.env" | awk '{exit !($1 >= 14)}'; echo $?) "demo.env names every endpoint"
ok $(stat -c %a "$D/demo.env" | grep -qx 600; echo $?) "demo.env (it holds a password and a TSIG secret) is 0600"
. "$D/demo.env"
ok $([ "$PTT_DEMO_DIR" = "$D" ] && [ -f "$PTT_CA" ] && [ -d "$PTT_SINK_DIR" ]; echo $?) \
	"its paths exist"
ok $(grep -q "^PTT_TSIG=ptt:hmac-sha256:" "$D/demo.env"; echo $?) "PTT_TSIG is name:algorithm:secret"

# dkimpy's opinion of what landed (ptt demo used ptt's own code). The
# demo's DNS stopped with it: serve its zones again, as they are in git
# (with the DKIM keys the signer published).
dport=$(free_port)
start_bg dns "$PTT_BUILD/src/dns/ptt-dns" --zones "$D/config/zones" -l 127.0.0.1:$dport --no-sandbox
wait_port $dport
ok $(kdig +short @127.0.0.1 -p $dport ptt-rsa._domainkey.demo.test TXT | grep -q 'v=DKIM1'; echo $?) \
	"the signer's key is in the demo zone in git"
out=$(ls "$PTT_SINK_DIR" | wc -l)
ok $([ "$out" -eq 2 ]; echo $?) "the stand-in MX holds exactly two messages ($out)"
cat > "$WORK/verify.py" <<'PY'
import os, sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]; r.port = int(sys.argv[2])
def txt(name, timeout=5):
    try: return b"".join(b"".join(x.strings) for x in r.resolve(name.decode().rstrip("."), "TXT"))
    except Exception: return b""
for f in sorted(os.listdir(sys.argv[1])):
    raw = open(os.path.join(sys.argv[1], f), "rb").read()
    msg = raw[raw.index(b"\n", raw.rindex(b"X-Ptt-Sink-")) + 1:]
    if b"Rcpt-To: <bob@outside.test>" in raw:
        d = dkim.DKIM(msg)
        sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
        good = sum(1 for i in range(len(sigs)) if d.verify(idx=i, dnsfunc=txt))
        print("%d dkimpy verifies both signatures of the outbound message (%d of %d)" % (good != 2, good, len(sigs)))
    else:
        cv, res, why = dkim.arc_verify(msg, dnsfunc=txt)
        print("%d dkimpy's ARC verification of the forwarded message: %s %s" % (cv != b"pass", cv.decode(), why))
PY
n=0
while read -r st desc; do ok "$st" "$desc"; n=$((n + 1)); done < <($PY "$WORK/verify.py" "$PTT_SINK_DIR" $dport 2>&1)
ok $([ $n -eq 2 ]; echo $?) "dkimpy looked at both messages"

# --once stops everything it started (only the test's own ptt-dns is left).
left=$(pgrep -f "$D/(config|state)" | grep -vx "$(cat "$WORK/dns.pid")" | wc -l)
ok $([ "$left" -eq 0 ]; echo $?) "nothing of the demo keeps running ($left processes)"
done_testing
