#!/usr/bin/env bash
# signer.sh - ptt-signer end to end on loopback: a submission-like client
# (ptt-smtp-send with the submission.internal certificate) hands mail to the
# signer over mutual TLS; the signer publishes its keys to ptt-dns with a
# TSIG-signed UPDATE, signs with rsa-sha256 and ed25519-sha256, and passes
# the message to a stand-in relay (ptt-sink with mutual TLS). dkimpy checks
# both signatures with keys fetched from ptt-dns over real DNS. Forwarded
# inbound mail handed in as spamfilter.internal is ARC-sealed instead
# (RFC 8617), on top of any chain it carries, and dkimpy's arc_verify
# accepts the result.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"
SIGNER=$PTT_BUILD/src/signer/ptt-signer
SINK=$PTT_BUILD/src/sink/ptt-sink
SEND=$PTT_BUILD/src/tools/ptt-smtp-send

C=$WORK/ca
make_ca "$C"
for n in signer.internal relay.internal submission.internal spamfilter.internal evil.internal pttd.internal; do
	make_cert "$C" $n
done

dns_port=$(free_port)
write_zone example.test 1 > "$ZONES/example.test.zone"
make_key signer-key >/dev/null
echo "key signer-key. may update *._domainkey.example.test. TXT" > "$WORK/policy"
# Port 53 on a random loopback address too, for OpenDKIM, which asks the
# resolver of resolv.conf (random, so concurrent runs do not collide).
odk_ip=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
start_dnsd "$dns_port" --tsig-dir "$KEYS" --policy "$WORK/policy" --no-sandbox -l $odk_ip:53
ok $? "ptt-dns serves example.test"

relay_port=$(free_port)
mkdir -p "$WORK/relay"
start_bg relay "$SINK" -L "127.0.0.1:$relay_port" --cert "$C/relay.internal.pem" \
	--key "$C/relay.internal.key" --ca "$C/ca.pem" -d "$WORK/relay" --hostname relay.internal
wait_port "$relay_port"
ok $? "stand-in relay (ptt-sink, mutual TLS) is up"

signer_port=$(free_port)
start_signer() {
	start_bg signer "$SIGNER" -o listen=127.0.0.1:$signer_port \
		-o cert="$C/signer.internal.pem" -o key="$C/signer.internal.key" -o ca="$C/ca.pem" \
		-o relay=127.0.0.1:$relay_port -o relay_implicit_tls=yes -o domains=example.test -o state="$WORK/state" \
		-o dns_primary=127.0.0.1:$dns_port -o tsig_key="$KEYS/signer-key" \
		-o selector_rsa=r2026 -o selector_ed25519=e2026 -o authserv_id=mx.example.test
	wait_port "$signer_port"
}
start_signer
ok $? "ptt-signer starts"
ok $([ "$(stat -c %a "$WORK/state/dkim/example.test/r2026.key")" = 600 ]; echo $?) \
	"the RSA key was created with mode 0600"

# The keys are in DNS, published through TSIG-signed updates.
rsa_txt=$(kdig +short @127.0.0.1 -p "$dns_port" r2026._domainkey.example.test TXT | tr -d '" \n')
ed_txt=$(kdig +short @127.0.0.1 -p "$dns_port" e2026._domainkey.example.test TXT | tr -d '" \n')
ok $(case "$rsa_txt" in v=DKIM1\;k=rsa\;p=MII*) echo 0;; *) echo 1;; esac) "RSA key published: ${rsa_txt:0:40}..."
ok $(case "$ed_txt" in v=DKIM1\;k=ed25519\;p=*) echo 0;; *) echo 1;; esac) "Ed25519 key published"
ok $(grep -q "published r2026._domainkey" "$WORK/signer.log"; echo $?) "the signer logged the publication"

send() {	# send CERTNAME FROM [extra args]
	local cert=$1 from=$2; shift 2
	printf 'From: Alice <%s>\r\nTo: bob@example.net\r\nSubject: signed by ptt\r\nDate: %s\r\nMessage-ID: <%s@example.test>\r\n\r\nHello Bob.\r\n' \
		"$from" "$(date -R)" "$RANDOM$RANDOM" > "$WORK/msg.eml"
	"$SEND" --server 127.0.0.1:$signer_port --implicit-tls --tls verified --ca "$C/ca.pem" \
		--sni signer.internal --cert "$C/$cert.pem" --key "$C/$cert.key" \
		--from "$from" --to bob@example.net "$@" "$WORK/msg.eml"
}

out=$(send submission.internal alice@example.test 2>&1)
ok $? "submission hands a message to the signer: $(echo "$out" | grep -m1 accepted)"
f=$(ls "$WORK/relay" | head -1)
ok $([ -n "$f" ]; echo $?) "the relay received it"
ok $([ "$(grep -c '^DKIM-Signature:' "$WORK/relay/$f")" = 2 ]; echo $?) "it carries two DKIM signatures"

res=$(/usr/bin/python3 "$PTT_SRC/tests/interop/signer/dkimverify.py" "$WORK/relay/$f" "$dns_port" 2>&1)
ok $? "dkimpy verifies both signatures through DNS: $res"
ok $(echo "$res" | grep -q "| ed25519-sha256 rsa-sha256 "; echo $?) "one rsa-sha256 and one ed25519-sha256"

# OpenDKIM's verifier, in a mount namespace whose resolv.conf names ptt-dns.
echo "nameserver $odk_ip" > "$WORK/resolv.conf"
sed -n '/^DKIM-Signature:/,$p' "$WORK/relay/$f" > "$WORK/signed.eml"
for alg in rsa-sha256 ed25519-sha256; do
	# One signature at a time: keep only the one of this algorithm.
	/usr/bin/python3 - "$WORK/signed.eml" "$alg" > "$WORK/one.eml" <<'PY'
import sys, re
m = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
head, body = m.split(b"\n\n", 1)
fields = re.split(rb"\n(?=[^ \t])", head)
keep = [f for f in fields if not f.lower().startswith(b"dkim-signature:") or (b"a=" + sys.argv[2].encode()) in f]
sys.stdout.buffer.write(b"\n".join(keep) + b"\n\n" + body)
PY
	out=$(unshare -m sh -c "mount --bind '$WORK/resolv.conf' /etc/resolv.conf && opendkim-testmsg < '$WORK/one.eml'" 2>&1)
	ok $? "OpenDKIM verifies the $alg signature${out:+: $out}"
done
sed -i 's/Hello Bob/Hello Rob/' "$WORK/one.eml"
out=$(unshare -m sh -c "mount --bind '$WORK/resolv.conf' /etc/resolv.conf && opendkim-testmsg < '$WORK/one.eml'" 2>&1)
ok $([ -n "$out" ]; echo $?) "OpenDKIM rejects an altered copy: $out"

# ARC: the spam filter hands in forwarded inbound mail; the signer seals it.
cat > "$WORK/arcverify.py" <<'PY'
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]; r.port = int(sys.argv[2])
D = "/usr/lib/python3/dist-packages/dkim/tests/data/"
local = {"test._domainkey.example.com": open(D + "test.txt").read().replace("\n", "")}
def dnsfunc(name, timeout=5):
    name = name.decode().rstrip(".")
    if name in local:
        return local[name].encode()
    try:
        a = r.resolve(name, "TXT")
    except Exception:
        return b""
    return b"".join(b"".join(x.strings) for x in a)
raw = open(sys.argv[1], "rb").read()
lines = raw.split(b"\r\n")
while lines and lines[0].startswith(b"X-Ptt-Sink-"):   # the sink's envelope
    lines.pop(0)
msg = b"\r\n".join(lines)
cv, res, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc)
print(cv.decode() if cv else "ended", reason)
sys.exit(0 if cv == dkim.CV_Pass else 1)
PY
# A message as the mx leaves it: a foreign author, our Authentication-Results.
# argv: FILE ARC (none: no chain; pass: dkimpy seals one first; broken: a
# chain whose body was changed afterwards, which the mx recorded as fail).
cat > "$WORK/arcmsg.py" <<'PY'
import sys, dkim
D = "/usr/lib/python3/dist-packages/dkim/tests/data/"
body = (b"From: Carol <carol@example.com>\r\nTo: alice@example.test\r\n"
        b"Subject: forwarded\r\nDate: Sun, 22 Nov 2026 06:00:00 +0000\r\n"
        b"Message-ID: <fw%s@example.com>\r\n\r\nHello Alice.\r\n" % sys.argv[2].encode())
if sys.argv[2] == "garbage":
    body = b"ARC-Seal: i=0; cv=none; a=rsa-sha256; d=x.example; s=y; b=AAAA\r\n" + body
elif sys.argv[2] != "none":
    m = b"Authentication-Results: lists.example.com; spf=pass smtp.mailfrom=example.com\r\n" + body
    m = b"".join(dkim.arc_sign(m, b"test", b"example.com", open(D + "test.private", "rb").read(),
                               b"lists.example.com")) + m
    if sys.argv[2] == "broken":
        m = m.replace(b"Hello Alice.", b"Hello Alice!")
    body = m
res = {"none": "arc=none", "pass": "arc=pass header.oldest-pass=0", "broken": "arc=fail",
       "garbage": "arc=fail"}[sys.argv[2]]
open(sys.argv[1], "wb").write(
    b"Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=example.com;\r\n"
    b"\tdkim=none; dmarc=none header.from=example.com; " + res.encode() + b"\r\n" + body)
PY
send_arc() {	# send_arc ARC  -> prints the relay's copy's path
	/usr/bin/python3 "$WORK/arcmsg.py" "$WORK/fw.eml" "$1" || return 1
	before=$(ls "$WORK/relay" | sort)
	"$SEND" --server 127.0.0.1:$signer_port --implicit-tls --tls verified --ca "$C/ca.pem" \
		--sni signer.internal --cert "$C/spamfilter.internal.pem" --key "$C/spamfilter.internal.key" \
		--from carol@example.com --to alice@example.test "$WORK/fw.eml" >/dev/null 2>&1 || return 1
	comm -13 <(echo "$before") <(ls "$WORK/relay" | sort) | head -1 | sed "s|^|$WORK/relay/|"
}
g=$(send_arc none)
ok $([ -f "$g" ]; echo $?) "the spam filter hands in a forwarded message; the relay has it"
ok $(grep -q "^ARC-Seal: i=1; cv=none; a=rsa-sha256; d=example.test; s=r2026;" "$g"; echo $?) \
	"it is ARC-sealed as instance 1, cv=none, with the domain's RSA key"
ok $(grep -q "^ARC-Authentication-Results: i=1; mx.example.test;" "$g" && ! grep -q "^DKIM-Signature:" "$g"; echo $?) \
	"its AAR copies the mx's results, and it is not DKIM-signed"
res=$(/usr/bin/python3 "$WORK/arcverify.py" "$g" "$dns_port" 2>&1)
ok $? "dkimpy's arc_verify accepts the seal through DNS: $res"
ok $(grep -q "sealed from=<carol@example.com> nrcpt=1 .* arc i=1 cv=none d=example.test" "$WORK/signer.log"; echo $?) "and the signer logged it"
g=$(send_arc pass)
ok $(grep -q "^ARC-Seal: i=2; cv=pass; a=rsa-sha256; d=example.test;" "$g"; echo $?) \
	"on a chain the mx found passing: instance 2, cv=pass"
res=$(/usr/bin/python3 "$WORK/arcverify.py" "$g" "$dns_port" 2>&1)
ok $? "dkimpy's arc_verify accepts the chain of 2 (dkimpy's seal, then ptt's): $res"
sed -i 's/Hello Alice\./Hello Alicia./' "$g"
res=$(/usr/bin/python3 "$WORK/arcverify.py" "$g" "$dns_port" 2>&1)
ok $([ $? -ne 0 ]; echo $?) "an altered copy fails: $res"
g=$(send_arc broken)
ok $(grep -q "^ARC-Seal: i=2; cv=fail;" "$g"; echo $?) "on a chain the mx found failing: cv=fail"
res=$(/usr/bin/python3 "$WORK/arcverify.py" "$g" "$dns_port" 2>&1)
ok $([ $? -ne 0 ]; echo $?) "which dkimpy reads as an ended chain: $res"
g=$(send_arc garbage)
ok $(grep -q "^ARC-Seal: i=1; cv=fail;" "$g"; echo $?) "ARC fields without a valid instance: a failed chain, sealed cv=fail"

# Who may hand in mail, and for which domains.
out=$(send evil.internal alice@example.test 2>&1)
ok $([ $? -ne 0 ]; echo $?) "a peer with another service name is refused"
ok $(grep -q "refused peer" "$WORK/signer.log"; echo $?) "and logged"
# The supervisor (pttd.internal) may look but not hand in mail.
n_refused=$(grep -c "refused peer" "$WORK/signer.log")
out=$(send pttd.internal alice@example.test 2>&1)
ok $(echo "$out" | grep -q "550 5.7.1 this peer may not hand in mail"; echo $?) \
	"pttd.internal gets through TLS and EHLO, and 550 at MAIL: $(echo "$out" | grep -m1 -o '550 .*mail')"
ok $([ "$(grep -c "refused peer" "$WORK/signer.log")" = "$n_refused" ]; echo $?) \
	"a health check is not logged as a refused peer"
out=$(send submission.internal alice@other.test 2>&1)
ok $(echo "$out" | grep -q "550"; echo $?) "From: a foreign domain gets 550: $(echo "$out" | grep -m1 550)"
n=$(ls "$WORK/relay" | wc -l)

# The relay is down: the signer must not say 250.
kill -9 "$(cat "$WORK/relay.pid")"; sleep 0.3
out=$(send submission.internal alice@example.test 2>&1); rc=$?
ok $([ $rc -eq 75 ] && echo "$out" | grep -q " 451 "; echo $?) "relay down: 451, never 250 (exit $rc)"

# A restart keeps the keys and does not publish again.
kill "$(cat "$WORK/signer.pid")"; sleep 0.3
serial_before=$(serial "$dns_port")
before=$(sha256sum "$WORK/state/dkim/example.test/r2026.key")
start_signer
ok $? "the signer restarts"
ok $([ "$before" = "$(sha256sum "$WORK/state/dkim/example.test/r2026.key")" ]; echo $?) "the key is kept"
ok $(grep -q "already published" "$WORK/signer.log"; echo $?) "the published key is found, not republished"
ok $([ "$serial_before" = "$(serial "$dns_port")" ]; echo $?) "the zone serial did not move"
done_testing
