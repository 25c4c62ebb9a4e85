#!/usr/bin/env bash
# demo.sh BUILD - ptt's outbound path on loopback, every hop real: a user
# made with `ptt adduser` submits over 465 (implicit TLS + AUTH) to
# ptt-submission; ptt-signer DKIM-signs (rsa-sha256 and ed25519-sha256)
# with keys it created and published to ptt-dns by TSIG UPDATE; ptt-relay
# queues durably, finds the recipient's MX through ptt-dns and delivers
# over STARTTLS to a stand-in MX (ptt-sink) for outside.test. The demo
# shows the message as it arrived and checks both signatures with dkimpy.
# Everything lives in ./demo and stops when the demo ends.
set -eu
B=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
export PTT_SRC=$root PTT_BUILD=$root/$B
D=$root/demo
rm -rf "$D"; mkdir -p "$D"
export TMPDIR=$D	# the helpers' work directory goes under ./demo
. "$root/tests/interop/lib.sh"
. "$root/tests/interop/dns/common.sh"
# Stop the daemons at the end but keep the files for the reader.
trap 'for c in "${CLEANUP[@]}"; do eval "$c" >/dev/null 2>&1 || true; done; echo; echo "demo: stopped; its files are in $WORK"' EXIT
PTT="$PTT_BUILD/src/ptt/ptt --config $WORK/config --state $WORK/state"
ST=$WORK/state
step() { printf '\n== %s\n' "$*"; }

step "ptt init demo.test, ptt adduser alice"
$PTT init demo.test | tail -1
echo 'demo password' | $PTT adduser alice --forward alice@outside.test --password-stdin | tail -1
chmod -R o+rX "$WORK/config"
make_ca "$WORK/pub" && make_cert "$WORK/pub" mx.outside.test "DNS:mx.outside.test,IP:127.0.0.1" &&
	make_cert "$WORK/pub" mail.demo.test "DNS:mail.demo.test,IP:127.0.0.1"

dns=$(free_port); mx=$(free_port); relay=$(free_port); signer=$(free_port); smtps=$(free_port)
step "ptt-dns serves demo.test and outside.test on 127.0.0.1:$dns"
write_zone demo.test 1 > "$ZONES/demo.test.zone"
printf '$ORIGIN outside.test.\n$TTL 60\n@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n@ MX 10 mx\nmx A 127.0.0.1\n' > "$ZONES/outside.test.zone"
make_key signer-key > /dev/null
echo "key signer-key. may update *._domainkey.demo.test. TXT" > "$WORK/policy"
DNSD_PROBE=demo.test start_dnsd "$dns" --tsig-dir "$KEYS" --policy "$WORK/policy" --no-sandbox
printf 'server:\n    local-zone: "test." nodefault\n    do-not-query-localhost: no\n' > "$WORK/unbound.conf"
chmod 644 "$WORK/unbound.conf"

step "starting the stand-in MX, ptt-relay, ptt-signer and ptt-submission"
mkdir -p "$WORK/outside" "$WORK/queue"
start_bg mx "$PTT_BUILD/src/sink/ptt-sink" -l 127.0.0.1:$mx --cert "$WORK/pub/mx.outside.test.pem" \
	--key "$WORK/pub/mx.outside.test.key" -d "$WORK/outside" --hostname mx.outside.test
start_bg relay "$PTT_BUILD/src/relay/ptt-relay" -o listen=127.0.0.1:$relay \
	-o cert="$ST/tls/relay.pem" -o key="$ST/tls/relay.key" -o ca="$ST/ca/ca.pem" \
	-o queue_dir="$WORK/queue" -o dns_stub=127.0.0.1@$dns -o dns_allow_localhost=yes \
	-o dns_config_file="$WORK/unbound.conf" -o remote_port=$mx -o helo_name=relay.demo.test
start_bg signer "$PTT_BUILD/src/signer/ptt-signer" -o listen=127.0.0.1:$signer \
	-o cert="$ST/tls/signer.pem" -o key="$ST/tls/signer.key" -o ca="$ST/ca/ca.pem" \
	-o relay=127.0.0.1:$relay -o domains=demo.test -o state="$ST" \
	-o dns_primary=127.0.0.1:$dns -o tsig_key="$KEYS/signer-key"
start_bg sub "$PTT_BUILD/src/submission/ptt-submission" -o listen_submission= \
	-o listen_smtps=127.0.0.1:$smtps -o hostname=mail.demo.test -o domain=demo.test \
	-o cert="$WORK/pub/mail.demo.test.pem" -o key="$WORK/pub/mail.demo.test.key" \
	-o internal_cert="$ST/tls/submission.pem" -o internal_key="$ST/tls/submission.key" \
	-o ca="$ST/ca/ca.pem" -o signer=127.0.0.1:$signer -o config_repo="$WORK/config"
wait_port $mx && wait_port $relay && wait_port $signer && wait_port $smtps
for f in relay signer sub; do grep -h "sandbox: entered\|published" "$WORK/$f.log" | sed 's/^[^ ]* /  /'; done
echo "  DKIM keys in DNS:"
for s in ptt-rsa ptt-ed25519; do
	printf '    %s._domainkey.demo.test TXT %.60s...\n' $s \
		"$(kdig +short @127.0.0.1 -p $dns $s._domainkey.demo.test TXT | tr -d '" ')"
done

step "alice submits over 465 (implicit TLS, AUTH PLAIN) to bob@outside.test"
printf 'From: Alice <alice@demo.test>\r\nTo: Bob <bob@outside.test>\r\nSubject: Hello from ptt\r\n\r\nThis message went through submission, signer and relay, all sandboxed.\r\n' > "$WORK/message.eml"
echo -n 'demo password' > "$WORK/pass"
"$PTT_BUILD/src/tools/ptt-smtp-send" --server 127.0.0.1:$smtps --implicit-tls --tls verified \
	--ca "$WORK/pub/ca.pem" --sni mail.demo.test --auth-user alice --auth-pass-file "$WORK/pass" \
	--from alice@demo.test --to bob@outside.test "$WORK/message.eml"

for i in $(seq 100); do [ -n "$(ls "$WORK/outside")" ] && break; sleep 0.1; done
f=$(ls "$WORK/outside" | head -1)
[ -n "$f" ] || { echo "demo: the message did not arrive"; tail "$WORK/relay.log"; exit 1; }
step "it arrived at outside.test's MX (found by MX lookup) as $WORK/outside/$f"
echo "----------------------------------------------------------------------"
tr -d '\r' < "$WORK/outside/$f"
echo "----------------------------------------------------------------------"
step "dkimpy checks both signatures against the keys in DNS"
/usr/bin/python3 - "$WORK/outside/$f" "$dns" <<'PY'
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False); r.nameservers = ["127.0.0.1"]; r.port = int(sys.argv[2])
def txt(name, timeout=5):
    try: return b"".join(b"".join(x.strings) for x in r.resolve(name.decode().rstrip("."), "TXT"))
    except Exception: return b""
raw = open(sys.argv[1], "rb").read()
msg = raw[raw.index(b"\n", raw.rindex(b"X-Ptt-Sink-")) + 1:]
d = dkim.DKIM(msg)
sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
for i, h in enumerate(sigs):
    a = dkim.util.parse_tag_value(h[1])[b"a"].decode()
    print("  %-15s %s" % (a, "pass" if d.verify(idx=i, dnsfunc=txt) else "FAIL"))
PY
step "the relay's log"
grep -h "delivered\|status=" "$WORK/relay.log" | sed 's/^/  /' | tail -3
