#!/bin/bash
# deploy.sh - a deployment as the README tells it, on a machine of its own:
# a private network namespace (only lo: nothing leaves it) where ptt owns
# the real ports 25, 465, 587 and 53.
#   ptt init example.test --ip 127.0.0.1 --acme <pebble>
#   ptt adduser alice --forward alice@outside.test
#   ptt up
# The only changes to what init wrote are those a lab needs instead of the
# Internet (one commit): pebble's CA for ptt-acme, ptt-resolver stubbed to
# ptt-dns for example.test and outside.test (no root servers here), the
# mx bound to 127.0.0.1 so that outside.test's MX (ptt-sink) can be
# 127.0.0.2:25, and the spam model of the build tree.
# Then:
#  - ptt-acme gets mail.example.test's certificate from pebble by DNS-01
#    through ptt-dns; mx (25) and submission (587) serve it, and after a
#    forced renewal serve the new one without a restart;
#  - every service is healthy (ptt status);
#  - the signer published its DKIM keys at ptt-dns, and ptt dns-check
#    (through ptt-resolver over DNS over TLS) finds every record;
#  - alice sends to bob@outside.test through 587 (STARTTLS, AUTH, swaks):
#    it reaches outside.test's MX by MX lookup, and dkimpy verifies
#    example.test's signature with the key from ptt-dns;
#  - bob@outside.test sends to alice@example.test on port 25 (swaks): it is
#    forwarded to alice@outside.test with SRS, Authentication-Results
#    (spf=pass) and an ARC set that dkimpy verifies.
if [ -z "${PTT_IN_NETNS:-}" ]; then
	if [ "$(id -u)" != 0 ] || ! unshare -n true 2>/dev/null; then
		echo "1..0 # SKIP needs root and unshare -n (a network namespace)"
		exit 0
	fi
	PTT_IN_NETNS=1 exec unshare -n bash "$0" "$@"
fi
ip link set lo up
. "$PTT_SRC/tests/interop/lib.sh"
PTT=$PTT_BUILD/src/ptt/ptt
ptt_repo_env
C=$PTT_CONFIG/ptt.conf
for p in pebble swaks; do
	command -v $p > /dev/null || { skip "$p is not installed" "scripts/deps.sh"; done_testing; exit; }
done
# add_to SECTION LINE: a line at the end of [SECTION] of ptt.conf
add_to() { sed -i "/^\[$1\]\$/a $2" "$C"; }
# dnsq NAME TYPE: ptt-dns's answer
dnsq() { kdig +short +time=2 +retry=0 @127.0.0.1 "$1" "$2" 2>/dev/null; }

# ---- pebble, validating at 127.0.0.1:53 (ptt-dns, once it runs) ----
make_ca "$WORK/wfe"
cat > "$WORK/pebble.json" <<E
{ "pebble": {
    "listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
    "certificate": "$WORK/wfe/server.pem", "privateKey": "$WORK/wfe/server.key",
    "httpPort": 5002, "tlsPort": 5001,
    "ocspResponderURL": "", "externalAccountBindingRequired": false } }
E
PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 start_bg pebble pebble -config "$WORK/pebble.json" -dnsserver 127.0.0.1:53
wait_port 14000 127.0.0.1 20; ok $? "pebble listens (ACME directory https://127.0.0.1:14000/dir)"

# ---- the operator's commands ----
"$PTT" init example.test --ip 127.0.0.1 --acme https://127.0.0.1:14000/dir > "$WORK/init.out" 2>&1
ok $? "ptt init example.test --ip 127.0.0.1 --acme <pebble>"
printf 'correct horse battery\n' | "$PTT" adduser alice --forward alice@outside.test --password-stdin > "$WORK/adduser.out" 2>&1
ok $? "ptt adduser alice --forward alice@outside.test"

# ---- the lab instead of the Internet: one commit ----
printf 'server:\n    do-not-query-localhost: no\n    local-zone: "test." nodefault\n' > "$WORK/unbound.conf"
add_to acme "ca = $WORK/wfe/ca.pem"
add_to acme "retry_min = 2s"
add_to acme "propagation_wait = 0"
add_to resolver "stub = example.test@127.0.0.1:53 outside.test@127.0.0.1:53"
add_to resolver "domain_insecure = example.test outside.test"
add_to relay "dns_config_file = $WORK/unbound.conf"
add_to relay "retry_min = 5s"
add_to mx "dns_config_file = $WORK/unbound.conf"
sed -i '/^\[mx\]$/,/^\[/ s/^listen = \*:25$/listen = 127.0.0.1:25/' "$C"
add_to spamfilter "model = $PTT_BUILD/src/spamtool/spam.model"
add_to pttd "health_interval = 1s"
add_to pttd "restart_max = 5s"
add_to pttd "poll_interval = 2s"
cat > "$PTT_CONFIG/zones/outside.test.zone" <<E
\$ORIGIN outside.test.
\$TTL 60
@   SOA ns1 hostmaster 1 3600 600 86400 60
@   NS  ns1
ns1 A   127.0.0.1
@   MX  10 mx
mx  A   127.0.0.2
@   TXT "v=spf1 ip4:127.0.0.1 -all"
_dmarc TXT "v=DMARC1; p=none"
E
G add -A && G commit -qm "lab: pebble, no root servers, outside.test's MX at 127.0.0.2"
ok $? "the lab's changes committed"
"$PTT" check > "$WORK/check.out" 2>&1; ok $? "ptt check: $(cat "$WORK/check.out")"
chmod -R o+rX "$PTT_CONFIG"; chmod o+rx "$WORK"
mkdir -p "$WORK/outside"
start_bg sink "$PTT_BUILD/src/sink/ptt-sink" -l 127.0.0.2:25 -d "$WORK/outside" --hostname mx.outside.test
start_bg pttd "$PTT" up
PTTD_URL=http://127.0.0.1:8080

# ---- the certificate ----
CERT=$PTT_STATE/certs/mail.example.test.pem
for i in $(seq 120); do [ -s "$CERT" ] && break; sleep 0.5; done
[ -s "$CERT" ]; ok $? "ptt-acme wrote $CERT"
[ -s "$CERT" ] || { tail -20 "$PTT_STATE/pttd/logs/acme.log" 2>/dev/null | sed 's/^/# /'; }
curl -fsS --cacert "$WORK/wfe/ca.pem" https://127.0.0.1:15000/roots/0 > "$WORK/root.pem" &&
	curl -fsS --cacert "$WORK/wfe/ca.pem" https://127.0.0.1:15000/intermediates/0 > "$WORK/int.pem" &&
	openssl verify -CAfile "$WORK/root.pem" -untrusted "$WORK/int.pem" "$CERT" > /dev/null
ok $? "it chains to pebble's root"
want=$(openssl x509 -in "$CERT" -noout -fingerprint -sha256 2>/dev/null)
served() {	# served PORT: the fingerprint of the certificate STARTTLS offers
	openssl s_client -connect "127.0.0.1:$1" -starttls smtp -servername mail.example.test < /dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
for i in $(seq 120); do [ -n "$want" ] && [ "$(served 25)" = "$want" ] && [ "$(served 587)" = "$want" ] && break; sleep 0.5; done
[ "$(served 25)" = "$want" ]; ok $? "the mx on port 25 offers it with STARTTLS"
[ "$(served 587)" = "$want" ]; ok $? "submission on port 587 offers it"

# ---- a renewal reaches the running services (pttd's SIGHUP) ----
. "$PTT_SRC/tests/interop/pttd/status.sh"
mxpid=$(svc_field mx pid); subpid=$(svc_field submission pid)
"$PTT" acme renew > "$WORK/renew.out" 2>&1
ok $? "ptt acme renew: $(cat "$WORK/renew.out")"
new=$want
for i in $(seq 120); do
	new=$(openssl x509 -in "$CERT" -noout -fingerprint -sha256 2>/dev/null)
	[ -n "$new" ] && [ "$new" != "$want" ] && break
	sleep 0.5
done
ok $([ -n "$new" ] && [ "$new" != "$want" ]; echo $?) "ptt-acme wrote a new certificate"
for i in $(seq 120); do [ "$(served 25)" = "$new" ] && [ "$(served 587)" = "$new" ] && break; sleep 0.5; done
[ "$(served 25)" = "$new" ] && [ "$(served 587)" = "$new" ]
ok $? "mx and submission offer the new one"
[ "$(svc_field mx pid)" = "$mxpid" ] && [ "$(svc_field submission pid)" = "$subpid" ]
ok $? "without a restart (the same processes: pttd sent SIGHUP)"

# ---- every service healthy ----
healthy() {
	curl -fs --max-time 5 "$PTTD_URL/api/status" | $PY -c '
import json, sys
j = json.load(sys.stdin)
bad = [s["name"] + "=" + s["state"] for s in j["services"] if s["name"] != "acme" and s["state"] != "healthy"]
print(" ".join(bad)); sys.exit(1 if bad else 0)' 2>/dev/null
}
for i in $(seq 120); do healthy > "$WORK/unhealthy" && break; sleep 0.5; done
healthy > "$WORK/unhealthy"; ok $? "every service is healthy (not: $(cat "$WORK/unhealthy"))"
"$PTT" status > "$WORK/status.out" 2>&1
n=$(grep -cE '^(dns|resolver|acme|relay|signer|spamfilter|mx|submission) +healthy ' "$WORK/status.out")
ok $([ "$n" -eq 8 ]; echo $?) "ptt status shows the eight services healthy ($n)"
sed 's/^/# /' "$WORK/status.out"

# ---- DNS: the DKIM keys the signer published, then dns-check ----
for i in $(seq 60); do dnsq ptt-ed25519._domainkey.example.test TXT | grep -q 'k=ed25519' && break; sleep 0.5; done
dnsq ptt-rsa._domainkey.example.test TXT | grep -q 'k=rsa' && dnsq ptt-ed25519._domainkey.example.test TXT | grep -q 'k=ed25519'
ok $? "the signer published both DKIM keys at ptt-dns (TSIG UPDATE with init's key)"
G log --format=%s | grep -q 'by key ptt' ; ok $? "ptt-dns committed them to the repository"
"$PTT" dns-check > "$WORK/dnscheck.out" 2>&1; ok $? "ptt dns-check through ptt-resolver (DoT): every record ok"
sed 's/^/# /' "$WORK/dnscheck.out"

# ---- outbound: alice through 587 ----
swaks --server 127.0.0.1:587 --tls --auth PLAIN --auth-user alice --auth-password 'correct horse battery' \
	--from alice@example.test --to bob@outside.test --h-Subject "deployed outbound" \
	--body "from a ptt init deployment" > "$WORK/swaks-out.log" 2>&1
ok $? "swaks: alice sends to bob@outside.test over 587 with STARTTLS and AUTH"
landed() {	# landed SUBJECT: the file at outside.test's MX
	local f i
	for i in $(seq 120); do
		f=$(grep -l "^Subject: $1" "$WORK"/outside/*.eml 2>/dev/null | head -1)
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.5
	done
	return 1
}
out=$(landed "deployed outbound"); ok $? "it reached outside.test's MX (127.0.0.2:25, found by MX lookup)"
cat > "$WORK/verify.py" <<'E'
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
def txt(name, timeout=5):
    a = r.resolve(name.decode().rstrip("."), "TXT")
    return b"".join(a[0].strings)
msg = open(sys.argv[2], "rb").read()
if sys.argv[1] == "dkim":
    ok = dkim.verify(msg, dnsfunc=txt)
else:
    cv, res, why = dkim.arc_verify(msg, dnsfunc=txt)
    ok = cv == dkim.CV_Pass
sys.exit(0 if ok else 1)
E
[ -n "$out" ] && grep -q '^DKIM-Signature:.*d=example.test' "$out" && $PY "$WORK/verify.py" dkim "$out"
ok $? "dkimpy verifies example.test's signature with the key ptt-dns serves"

# ---- inbound: bob to alice on 25 ----
swaks --server 127.0.0.1:25 --tls --from bob@outside.test --to alice@example.test \
	--h-Subject "deployed inbound" --body "to a ptt init deployment" > "$WORK/swaks-in.log" 2>&1
ok $? "swaks: bob@outside.test sends to alice@example.test on port 25"
in=$(landed "deployed inbound"); ok $? "it was forwarded to alice@outside.test"
[ -n "$in" ] && grep -q '^Authentication-Results: mail.example.test;' "$in" && grep -q 'spf=pass smtp.mailfrom=bob@outside.test' "$in"
ok $? "with the mx's Authentication-Results (spf=pass)"
srs=$(sed -n 's/^X-Ptt-Sink-Mail-From: <\(.*\)>\r\?$/\1/p' "${in:-/dev/null}")
ok $(echo "$srs" | grep -qE '^SRS0=[^=]+=[^=]+=outside\.test=bob@example\.test$'; echo $?) \
	"the envelope sender is rewritten with SRS: $srs"
[ -n "$in" ] && grep -q '^ARC-Seal: i=1' "$in" && $PY "$WORK/verify.py" arc "$in"
ok $? "the ARC set verifies (dkimpy)"
done_testing
