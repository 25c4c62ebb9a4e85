#!/usr/bin/env bash
# dkimrotate.sh - `ptt dkim rotate` end to end on loopback: the operator
# commits the intent to the configuration repository; the signer (started
# as root, sandboxed as nobody) generates the new keys itself, publishes
# them to ptt-dns with TSIG-signed UPDATEs, signs with them once ptt-dns
# serves them, keeps the old records for the grace period, then deletes
# the old records and the old private key files. dkimpy verifies mail
# signed before and after the rotation through DNS; kdig checks what the
# zone holds at each stage; `ptt dkim status` shows each key's state.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"
SIGNER=$PTT_BUILD/src/signer/ptt-signer
SINK=$PTT_BUILD/src/sink/ptt-sink
SEND=$PTT_BUILD/src/tools/ptt-smtp-send
PTT=$PTT_BUILD/src/ptt/ptt
CFG=$WORK/config; ST=$WORK/state
GRACE=15

"$PTT" --config "$CFG" --state "$ST" init --bare example.test > "$WORK/init.log" 2>&1
ok $? "ptt init makes the repository, the state directory and the certificates"
chmod -R o+rX "$CFG"
chmod 711 "$WORK"
ok $([ -f "$ST/tls/submission.pem" ] && [ -f "$ST/tls/relay.pem" ]; echo $?) "service certificates exist"

dns_port=$(free_port)
write_zone example.test 1 > "$ZONES/example.test.zone"
make_key signer-key >/dev/null
echo "key signer-key. may update *._domainkey.example.test. TXT" > "$WORK/policy"
start_dnsd "$dns_port" --tsig-dir "$KEYS" --policy "$WORK/policy" --no-sandbox
ok $? "ptt-dns serves example.test"

relay_port=$(free_port)
mkdir -p "$WORK/relay"
start_bg relay "$SINK" -L "127.0.0.1:$relay_port" --cert "$ST/tls/relay.pem" \
	--key "$ST/tls/relay.key" --ca "$ST/ca/ca.pem" -d "$WORK/relay" --hostname relay.internal
wait_port "$relay_port"
ok $? "stand-in relay (ptt-sink, mutual TLS) is up"

signer_port=$(free_port)
start_bg signer "$SIGNER" -o listen=127.0.0.1:$signer_port \
	-o cert="$ST/tls/signer.pem" -o key="$ST/tls/signer.key" -o ca="$ST/ca/ca.pem" \
	-o relay=127.0.0.1:$relay_port -o relay_implicit_tls=yes -o domains=example.test \
	-o state="$ST" -o config_repo="$CFG" -o reload_interval=1s \
	-o dkim_grace=${GRACE}s -o dkim_publish_wait=1s -o dkim_retry=1s \
	-o dns_primary=127.0.0.1:$dns_port -o tsig_key="$KEYS/signer-key"
wait_port "$signer_port"
ok $? "ptt-signer starts (as root, then nobody in its sandbox)"

txt() { kdig +short @127.0.0.1 -p "$dns_port" "$1._domainkey.example.test" TXT | tr -d '" \n'; }
ok $(case "$(txt ptt-rsa)" in v=DKIM1\;k=rsa\;p=MII*) echo 0;; *) echo 1;; esac) "the first RSA key is published"
ok $(case "$(txt ptt-ed25519)" in v=DKIM1\;k=ed25519\;p=*) echo 0;; *) echo 1;; esac) "the first Ed25519 key is published"

V="/usr/bin/python3 $PTT_SRC/tests/interop/signer/dkimverify.py"
n=0
send() {	# send -> the relay's copy's path
	n=$((n + 1))
	printf 'From: Alice <alice@example.test>\r\nTo: bob@example.net\r\nSubject: rotation %d\r\nDate: %s\r\nMessage-ID: <rot%d.%s@example.test>\r\n\r\nHello Bob.\r\n' \
		"$n" "$(date -R)" "$n" "$RANDOM" > "$WORK/msg.eml"
	before=$(ls "$WORK/relay" | sort)
	"$SEND" --server 127.0.0.1:$signer_port --implicit-tls --tls verified --ca "$ST/ca/ca.pem" \
		--sni signer.internal --cert "$ST/tls/submission.pem" --key "$ST/tls/submission.key" \
		--from alice@example.test --to bob@example.net "$WORK/msg.eml" > /dev/null 2>&1 || return 1
	comm -13 <(echo "$before") <(ls "$WORK/relay" | sort) | head -1 | sed "s|^|$WORK/relay/|"
}
f1=$(send)
res=$($V "$f1" "$dns_port" 2>&1)
ok $? "before the rotation dkimpy verifies both signatures: $res"
ok $(echo "$res" | grep -q "^ptt-ed25519 ptt-rsa "; echo $?) "signed with ptt-rsa and ptt-ed25519"

st=$("$PTT" --config "$CFG" --state "$ST" dkim status 2>&1)
ok $(echo "$st" | grep -q "^ptt-rsa._domainkey.example.test rsa active since"; echo $?) "ptt dkim status: ptt-rsa active"
echo "$st" | sed "s/^/# /"

out=$("$PTT" --config "$CFG" --state "$ST" dkim rotate 2>&1)
ok $? "ptt dkim rotate commits: $out"
new_rsa=$(git -C "$CFG" show HEAD:dkim/example.test | awk '$1=="rsa"{print $2}')
new_ed=$(git -C "$CFG" show HEAD:dkim/example.test | awk '$1=="ed25519"{print $2}')
ok $(case "$new_rsa" in ptt-rsa-2*) echo 0;; *) echo 1;; esac) "dkim/example.test names the new RSA selector $new_rsa"
ok $([ -n "$new_ed" ] && [ "$new_ed" != ptt-ed25519 ]; echo $?) "and the new Ed25519 selector $new_ed"
ok $(ls "$ST/dkim/example.test/$new_rsa.key" > /dev/null 2>&1; [ $? -ne 0 ]; echo $?) \
	"ptt itself created no key (the signer will)"

wait_line "$WORK/signer.log" "$new_rsa._domainkey.example.test \(rsa\) active" 30
ok $? "the signer made, published and activated $new_rsa"
wait_line "$WORK/signer.log" "$new_ed._domainkey.example.test \(ed25519\) active" 30
ok $? "and $new_ed"
ok $(grep -q "published $new_rsa._domainkey.example.test" "$WORK/signer.log"; echo $?) "it published the new record by UPDATE"
ok $([ "$(stat -c %a "$ST/dkim/example.test/$new_rsa.key")" = 600 ]; echo $?) "the new key file has mode 0600"
ok $(case "$(txt "$new_rsa")" in v=DKIM1\;k=rsa\;p=MII*) echo 0;; *) echo 1;; esac) "kdig: $new_rsa is in DNS"
ok $([ -n "$(txt ptt-rsa)" ] && [ -n "$(txt ptt-ed25519)" ]; echo $?) "kdig: the old records are still published"
st=$("$PTT" --config "$CFG" --state "$ST" dkim status 2>&1)
ok $(echo "$st" | grep -q "^ptt-rsa._domainkey.example.test rsa retiring since .* removed after"; echo $?) \
	"ptt dkim status: ptt-rsa retiring"
echo "$st" | sed "s/^/# /"

f2=$(send)
res=$($V "$f2" "$dns_port" 2>&1)
ok $? "after the rotation dkimpy verifies both signatures: $res"
ok $(echo "$res" | grep -q "^$new_ed $new_rsa "; echo $?) "signed with the new selectors only"
res=$($V "$f1" "$dns_port" 2>&1)
ok $? "mail signed before the rotation still verifies during the grace period"

# After the grace period: the old records, then the old keys, go.
wait_line "$WORK/signer.log" "ptt-ed25519._domainkey.example.test \(ed25519\) removed" $((GRACE + 30))
wait_line "$WORK/signer.log" "ptt-rsa._domainkey.example.test \(rsa\) removed" 10
ok $? "after the grace period the signer retired the old keys"
ok $([ -z "$(txt ptt-rsa)" ] && [ -z "$(txt ptt-ed25519)" ]; echo $?) "kdig: the old records are gone"
ok $([ ! -e "$ST/dkim/example.test/ptt-rsa.key" ] && [ ! -e "$ST/dkim/example.test/ptt-ed25519.key" ]; echo $?) \
	"the old private key files are gone"
ok $([ -n "$(txt "$new_rsa")" ] && [ -f "$ST/dkim/example.test/$new_rsa.key" ]; echo $?) "the new key stays"
st=$("$PTT" --config "$CFG" --state "$ST" dkim status 2>&1)
ok $([ "$(echo "$st" | grep -c "_domainkey.example.test .* active since")" = 2 ] && \
	! echo "$st" | grep -q retiring; echo $?) "ptt dkim status: two active keys, nothing retiring"
f3=$(send)
res=$($V "$f3" "$dns_port" 2>&1)
ok $? "and mail still verifies: $res"

# A restart keeps the rotated state.
kill "$(cat "$WORK/signer.pid")"; sleep 0.5
start_bg signer2 "$SIGNER" -o listen=127.0.0.1:$signer_port \
	-o cert="$ST/tls/signer.pem" -o key="$ST/tls/signer.key" -o ca="$ST/ca/ca.pem" \
	-o relay=127.0.0.1:$relay_port -o relay_implicit_tls=yes -o domains=example.test \
	-o state="$ST" -o config_repo="$CFG" -o dns_primary=127.0.0.1:$dns_port -o tsig_key="$KEYS/signer-key"
wait_port "$signer_port"
ok $? "the signer restarts"
ok $(! grep -q ") created" "$WORK/signer2.log"; echo $?) "it creates no key"
f4=$(send)
res=$($V "$f4" "$dns_port" 2>&1)
ok $([ $? -eq 0 ] && echo "$res" | grep -q "^$new_ed $new_rsa "; echo $?) "it signs with the rotated selectors: $res"

out=$("$PTT" --config "$CFG" --state "$ST" dkim rotate --rsa "bad_sel" 2>&1)
ok $([ $? -eq 2 ]; echo $?) "a bad selector is refused: $(echo "$out" | head -1)"
done_testing
