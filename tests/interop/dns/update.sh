#!/bin/bash
# update.sh - RFC 2136 updates against ptt-dns from BIND's nsupdate, Knot's
# knsupdate and ptt-dns-update: a good key is applied, visible to dig,
# written back and committed to git; a wrong secret gets NOTAUTH/BADSIG
# and changes nothing; an unsigned update is refused; the policy limits
# names and types; prerequisites are honoured.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"

P=$(free_port)
# the zones belong to the daemon's user, git runs as root in its helper
G() { git -c safe.directory='*' -C "$ZONES" "$@"; }
write_zone example.test 1 > "$ZONES/example.test.zone"
G init -q && G add . &&
	G -c user.name=t -c user.email=t@t commit -qm "initial zone"
# a remote: each commit is pushed there too
git init -q --bare "$WORK/remote.git"
G remote add origin "$WORK/remote.git"
G push -q origin HEAD 2>/dev/null
for_sandbox
chown -R nobody "$ZONES"
S=$(make_key ptt-signer)
cat > "$WORK/policy" <<P
key ptt-signer may update _acme-challenge.* TXT
key ptt-signer may update *._domainkey.example.test. TXT
key ptt-signer may update *.example.test. A AAAA TXT
P
start_dnsd "$P" --tsig-dir "$KEYS" --policy "$WORK/policy"
commits() { G rev-list --count HEAD; }

# nsupdate with the good key
nsupdate -y "hmac-sha256:ptt-signer:$S" > "$WORK/ns1.out" 2>&1 <<E
server 127.0.0.1 $P
zone example.test
update add sel1._domainkey.example.test. 60 TXT "v=DKIM1; k=ed25519; p=placeholder"
send
E
ok $? "nsupdate with the good key succeeds"
[ "$(dig +short @127.0.0.1 -p "$P" sel1._domainkey.example.test TXT)" = '"v=DKIM1; k=ed25519; p=placeholder"' ]
ok $? "the record is served"
[ "$(serial "$P")" = 2 ]; ok $? "serial 1 -> 2"
grep -q 'sel1._domainkey.example.test.' "$ZONES/example.test.zone"; ok $? "written back to the zone file"
[ "$(commits)" = 2 ] && G log -1 --format=%s | grep -q 'ptt-dns: update example.test by key ptt-signer.'
ok $? "committed to git with the key in the message"
G log -1 --format=%s | sed 's/^/# /'
[ "$(git -c safe.directory="*" -C "$WORK/remote.git" rev-parse HEAD)" = "$(G rev-parse HEAD)" ]
ok $? "and pushed to the remote"
[ -z "$(G status --porcelain)" ]; ok $? "work tree clean after the commit"

# knsupdate with the good key (TCP)
knsupdate -y "hmac-sha256:ptt-signer:$S" > "$WORK/kn1.out" 2>&1 <<E
server 127.0.0.1 $P
zone example.test.
add _acme-challenge.example.test. 60 TXT "knsupdate-token"
send
quit
E
ok $? "knsupdate with the good key succeeds"
[ "$(kdig +short +tcp @127.0.0.1 -p "$P" _acme-challenge.example.test TXT)" = '"knsupdate-token"' ]
ok $? "knsupdate's record is served"
[ "$(commits)" = 3 ]; ok $? "second commit"

# wrong secret: NOTAUTH / BADSIG, nothing changed, no commit
before=$(serial "$P")
nsupdate -y "hmac-sha256:ptt-signer:$(openssl rand -base64 32)" > "$WORK/ns2.out" 2>&1 <<E
server 127.0.0.1 $P
zone example.test
update add bad.example.test. 60 A 127.0.0.9
send
E
[ $? -ne 0 ] && grep -q 'BADSIG' "$WORK/ns2.out"; ok $? "nsupdate with a wrong secret: BADSIG"
sed 's/^/# /' "$WORK/ns2.out" | grep -i badsig
knsupdate -y "hmac-sha256:ptt-signer:$(openssl rand -base64 32)" > "$WORK/kn2.out" 2>&1 <<E
server 127.0.0.1 $P
zone example.test.
add bad.example.test. 60 A 127.0.0.9
send
quit
E
grep -q 'BADSIG' "$WORK/kn2.out"; ok $? "knsupdate with a wrong secret: BADSIG"
# unknown key name
nsupdate -y "hmac-sha256:nobody-key:$S" > "$WORK/ns3.out" 2>&1 <<E
server 127.0.0.1 $P
zone example.test
update add bad.example.test. 60 A 127.0.0.9
send
E
grep -q 'BADKEY' "$WORK/ns3.out"; ok $? "unknown key name: BADKEY"
# unsigned
nsupdate > "$WORK/ns4.out" 2>&1 <<E
server 127.0.0.1 $P
zone example.test
update add bad.example.test. 60 A 127.0.0.9
send
E
grep -q 'REFUSED' "$WORK/ns4.out"; ok $? "unsigned update: REFUSED"
[ -z "$(kdig +short @127.0.0.1 -p "$P" bad.example.test A)" ] && [ "$(serial "$P")" = "$before" ] &&
	[ "$(commits)" = 3 ] && ! grep -q '^bad' "$ZONES/example.test.zone"
ok $? "rejected updates changed nothing (record, serial, file, git)"
grep -c 'refused' "$WORK/dnsd.log" | sed 's/^/# refusals logged: /'

# policy: MX is not allowed for this key, nor the apex
out=$("$DNSUPD" -s "127.0.0.1:$P" -z example.test. -k "$KEYS/ptt-signer" add "example.test. 60 MX 5 evil.example.")
[ "$out" = REFUSED ]; ok $? "update outside the policy: REFUSED ($out)"

# the library client sees the same BADSIG
(umask 077; echo "ptt-signer:hmac-sha256:$(openssl rand -base64 32)" > "$WORK/wrong.key")
out=$("$DNSUPD" -s "127.0.0.1:$P" -z example.test. -k "$WORK/wrong.key" add "w.example.test. 60 A 127.0.0.1" 2>/dev/null)
[ "$out" = "NOTAUTH tsig=BADSIG" ]; ok $? "ptt-dns-update with a wrong secret: $out"

# prerequisites (RFC 2136 2.4), with ptt-dns-update
U() { "$DNSUPD" -s "127.0.0.1:$P" -z example.test. -k "$KEYS/ptt-signer" "$@"; }
[ "$(U nxdomain "new.example.test." add "new.example.test. 60 A 127.0.0.5")" = NOERROR ]
ok $? "prereq name not in use + add"
[ "$(U nxdomain "new.example.test." add "new.example.test. 60 A 127.0.0.6")" = YXDOMAIN ]
ok $? "prereq name not in use fails: YXDOMAIN"
[ "$(U yxdomain "nothere.example.test." add "nothere.example.test. 60 A 127.0.0.6")" = NXDOMAIN ]
ok $? "prereq name in use fails: NXDOMAIN"
[ "$(U nxrrset "new.example.test. A" add "new.example.test. 60 A 127.0.0.6")" = YXRRSET ]
ok $? "prereq RRset does not exist fails: YXRRSET"
[ "$(U yxrrset "new.example.test. AAAA" add "new.example.test. 60 AAAA ::5")" = NXRRSET ]
ok $? "prereq RRset exists fails: NXRRSET"
[ "$(U yxrrset-value "new.example.test. A 127.0.0.9" replace "new.example.test. 60 A 127.0.0.7")" = NXRRSET ]
ok $? "prereq RRset with value fails: NXRRSET"
[ "$(U yxrrset-value "new.example.test. A 127.0.0.5" replace "new.example.test. 60 A 127.0.0.7")" = NOERROR ] &&
	[ "$(kdig +short @127.0.0.1 -p "$P" new.example.test A)" = 127.0.0.7 ]
ok $? "prereq RRset with value holds: replaced atomically"
[ "$(U -T del-rrset "new.example.test. A")" = NOERROR ] &&
	[ -z "$(kdig +short @127.0.0.1 -p "$P" new.example.test A)" ]
ok $? "delete an RRset over TCP"
n=$(commits)
[ "$(U add "t1.example.test. 60 A 127.0.0.1" add "t2.example.test. 60 MX 1 x.")" = REFUSED ] &&
	[ -z "$(kdig +short @127.0.0.1 -p "$P" t1.example.test A)" ] && [ "$(commits)" = "$n" ]
ok $? "an update with one forbidden record changes nothing"
# An update that cannot be stored is refused, never acknowledged: the
# zones directory taken away from the daemon's user.
n=$(commits); s0=$(serial "$P")
chown root "$ZONES"; chmod 755 "$ZONES"
[ "$(U add "durable.example.test. 60 A 127.0.0.4")" = SERVFAIL ] &&
	[ -z "$(kdig +short @127.0.0.1 -p "$P" durable.example.test A)" ] &&
	[ "$(serial "$P")" = "$s0" ] && [ "$(commits)" = "$n" ]
ok $? "an update the daemon cannot write to the zone file: SERVFAIL, not served, serial and git unchanged"
grep -q 'durable\|cannot store the zone' "$WORK/dnsd.log"; ok $? "and one log line says why"
chown nobody "$ZONES"
[ "$(U add "durable.example.test. 60 A 127.0.0.4")" = NOERROR ] &&
	[ "$(kdig +short @127.0.0.1 -p "$P" durable.example.test A)" = 127.0.0.4 ] &&
	grep -q '^durable' "$ZONES/example.test.zone"
ok $? "writable again: the same update is stored, then served"
grep -q 'sandbox: entered' "$WORK/dnsd.log"; ok $? "ptt-dns runs sandboxed, commits through its git helper"
kill -0 "$(cat "$WORK/dnsd.pid")"; ok $? "ptt-dns still running"
done_testing
