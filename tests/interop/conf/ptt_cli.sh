#!/bin/bash
# Interop: the ptt command end to end on a local repository — init,
# adduser (--password-stdin and a terminal prompt), users, passwd, deluser —
# checked with the git and openssl commands: one commit per command, a clean
# work tree, no plaintext password anywhere, certificates that verify.
. "$PTT_SRC/tests/interop/lib.sh"
PTT=$PTT_BUILD/src/ptt/ptt
export PTT_CONFIG=$WORK/config PTT_STATE=$WORK/state
export GIT_AUTHOR_NAME="Test Admin" GIT_AUTHOR_EMAIL=admin@example.test
export GIT_CONFIG_NOSYSTEM=1 HOME=$WORK

commits() { git -C "$PTT_CONFIG" rev-list --count HEAD; }

"$PTT" init --bare example.test > "$WORK/init.out" 2>&1
ok $? "ptt init --bare example.test"
[ "$(commits)" = 1 ]; ok $? "init made one commit"
git -C "$PTT_CONFIG" ls-tree -r --name-only HEAD | sort | tr '\n' ' ' > "$WORK/tree"
[ "$(cat "$WORK/tree")" = "dns.policy ptt.conf users/.keep zones/.keep " ]; ok $? "ptt.conf, users/, zones/, dns.policy ($(cat "$WORK/tree"))"
grep -q '^domain = example.test$' "$PTT_CONFIG/ptt.conf"; ok $? "ptt.conf names the domain"
[ "$(stat -c %a "$PTT_STATE")" = 711 ]; ok $? "state directory is 0711 (not listable)"
[ "$(stat -c %a "$PTT_STATE/ca/ca.key")" = 600 ]; ok $? "CA key is 0600"
bad=0
for s in submission signer relay mx spamfilter dns; do
	openssl verify -CAfile "$PTT_STATE/ca/ca.pem" "$PTT_STATE/tls/$s.pem" >/dev/null 2>&1 || bad=1
	openssl x509 -in "$PTT_STATE/tls/$s.pem" -noout -ext subjectAltName | grep -q "DNS:$s.internal" || bad=1
	[ "$(stat -c %a "$PTT_STATE/tls/$s.key")" = 600 ] || bad=1
done
ok $bad "a verified certificate and a 0600 key per service"
"$PTT" init --bare example.test > /dev/null 2>&1
[ $? = 1 ]; ok $? "second init refused"

echo 'alice-secret-1' | "$PTT" adduser alice --forward alice@real.example \
	--forward alice2@other.example --password-stdin > "$WORK/add.out" 2>&1
ok $? "adduser alice --password-stdin"
[ "$(commits)" = 2 ]; ok $? "adduser made one commit"
git -C "$PTT_CONFIG" log -1 --format=%s | grep -q '^adduser alice: forward to alice@real.example, alice2@other.example$'
ok $? "commit message says what happened"
[ "$(git -C "$PTT_CONFIG" log -1 --format='%an <%ae>')" = "Test Admin <admin@example.test>" ]
ok $? "commit author is the operator"
grep -q '^password = \$argon2id\$v=19\$m=' "$PTT_CONFIG/users/alice"; ok $? "users/alice holds an argon2id hash"
! git -C "$PTT_CONFIG" grep -q alice-secret-1 $(git -C "$PTT_CONFIG" rev-list --all); ok $? "plaintext password in no commit"
[ -z "$(git -C "$PTT_CONFIG" status --porcelain)" ]; ok $? "work tree clean"

echo 'bob-secret-22' | "$PTT" adduser bob --forward bob@real.example --require-tls \
	--send-as postmaster@example.test --password-stdin > /dev/null 2>&1
ok $? "adduser bob --require-tls --send-as"

# errors: the right exit status and a message naming the problem
echo 'x-secret-123' | "$PTT" adduser alice --forward a@b.example --password-stdin > "$WORK/e1" 2>&1
[ $? = 1 ] && grep -q 'alice exists already' "$WORK/e1"; ok $? "adduser of an existing user fails: $(head -1 "$WORK/e1")"
echo 'x-secret-123' | "$PTT" adduser carol --forward 'carol@@real.example' --password-stdin > "$WORK/e2" 2>&1
[ $? = 2 ] && grep -q '"carol@@real.example"' "$WORK/e2"; ok $? "bad address refused by name: $(head -1 "$WORK/e2")"
echo 'x-secret-123' | "$PTT" adduser carol --password-stdin > "$WORK/e3" 2>&1
[ $? = 2 ] && grep -q 'at least one --forward' "$WORK/e3"; ok $? "adduser without --forward refused"
echo 'x-secret-123' | "$PTT" adduser Carol/x --forward c@x.example --password-stdin > "$WORK/e4" 2>&1
[ $? = 2 ] && grep -q 'bad user name' "$WORK/e4"; ok $? "bad user name refused"
"$PTT" adduser carol --forward > "$WORK/e4b" 2>&1 </dev/null
[ $? = 2 ] && grep -q -- '--forward needs an address' "$WORK/e4b"; ok $? "--forward without an address refused"
echo 'short' | "$PTT" adduser carol --forward c@x.example --password-stdin > "$WORK/e5" 2>&1
[ $? = 2 ] && grep -q 'shorter than' "$WORK/e5"; ok $? "short password refused"
"$PTT" adduser carol --forward c@x.example < /dev/null > "$WORK/e6" 2>&1 </dev/null
[ $? != 0 ]; ok $? "no terminal and no --password-stdin refused"
"$PTT" deluser nobody > "$WORK/e7" 2>&1
[ $? = 1 ] && grep -q 'no user nobody' "$WORK/e7"; ok $? "deluser of an unknown user fails"
"$PTT" frobnicate > /dev/null 2>&1
[ $? = 2 ]; ok $? "unknown command: exit 2"
[ "$(commits)" = 3 ]; ok $? "failed commands made no commit"

# a password typed at a terminal, twice, not echoed
if command -v script > /dev/null; then
	(sleep 0.5; printf 'carol-secret-9\n'; sleep 0.3; printf 'carol-secret-9\n') | \
		script -qec "$PTT adduser carol --forward carol@real.example" /dev/null > "$WORK/tty.out" 2>&1
	ok $? "adduser carol with the password typed twice at a terminal"
	! grep -q carol-secret-9 "$WORK/tty.out"; ok $? "the password was not echoed"
else
	skip "terminal prompt" "no script(1)"; skip "no echo" "no script(1)"
fi

"$PTT" users > "$WORK/users.out" 2>&1
ok $? "ptt users"
grep -q "^alice	forward=alice@real.example,alice2@other.example	require_tls=no" "$WORK/users.out"; ok $? "alice listed with forwards and policy"
grep -q "^bob	forward=bob@real.example	require_tls=yes	send_as=postmaster@example.test" "$WORK/users.out"; ok $? "bob listed with require_tls and send_as"
! grep -q 'argon2' "$WORK/users.out"; ok $? "ptt users shows no hash"

sed -i '1a # hand edit: keep me' "$PTT_CONFIG/users/alice"
git -C "$PTT_CONFIG" -c user.name=t -c user.email=t@x commit -qam "note on alice"
old=$(sed -n 's/^password = //p' "$PTT_CONFIG/users/alice")
echo 'alice-secret-2' | "$PTT" passwd alice --password-stdin > /dev/null 2>&1
ok $? "passwd alice"
new=$(sed -n 's/^password = //p' "$PTT_CONFIG/users/alice")
[ -n "$new" ] && [ "$old" != "$new" ]; ok $? "hash changed"
git -C "$PTT_CONFIG" log -1 --format=%s | grep -q '^passwd alice'; ok $? "passwd commit"
grep -q '^forward = alice@real.example, alice2@other.example$' "$PTT_CONFIG/users/alice"; ok $? "passwd kept the forwards"
grep -q '^# hand edit: keep me$' "$PTT_CONFIG/users/alice"; ok $? "passwd kept a hand-written comment"

"$PTT" deluser bob > /dev/null 2>&1
ok $? "deluser bob"
[ ! -e "$PTT_CONFIG/users/bob" ]; ok $? "users/bob gone from the work tree"
! git -C "$PTT_CONFIG" cat-file -e HEAD:users/bob 2>/dev/null; ok $? "and from the head commit"

git -C "$PTT_CONFIG" log --oneline > "$WORK/log"
diag "$(tr '\n' '|' < "$WORK/log")"
[ "$(wc -l < "$WORK/log")" = 7 ]; ok $? "git log --oneline: one commit per command (6, and one by hand)"
[ -z "$(git -C "$PTT_CONFIG" status --porcelain)" ]; ok $? "work tree still clean"
git -C "$PTT_CONFIG" fsck --no-progress > /dev/null 2>&1; ok $? "git fsck"

# --config/--state options override the environment
env -u PTT_CONFIG -u PTT_STATE "$PTT" --config "$PTT_CONFIG" users --state "$PTT_STATE" > /dev/null 2>&1
ok $? "--config and --state options"
env -u PTT_CONFIG "$PTT" --config "$WORK/none" users > "$WORK/e8" 2>&1
[ $? = 1 ] && grep -q "$WORK/none" "$WORK/e8"; ok $? "missing repository named: $(head -1 "$WORK/e8")"

"$PTT" check > "$WORK/check.out" 2>&1
[ $? = 0 ] && grep -q 'ptt.conf and 2 users check' "$WORK/check.out"; ok $? "ptt check: $(cat "$WORK/check.out")"
# a hand-edited bad users file is reported with its line
printf 'password = hunter2\nforward = x@y.example\n' > "$PTT_CONFIG/users/eve"
git -C "$PTT_CONFIG" add users/eve && git -C "$PTT_CONFIG" -c user.name=t -c user.email=t@x commit -qm eve
"$PTT" users > "$WORK/e9" 2>&1
[ $? = 1 ] && grep -q 'users/eve:1' "$WORK/e9"; ok $? "bad users file reported: $(head -1 "$WORK/e9")"
"$PTT" check > "$WORK/e9b" 2>&1
[ $? = 1 ] && grep -q 'users/eve:1' "$WORK/e9b"; ok $? "ptt check refuses the commit"
"$PTT" check "$(git -C "$PTT_CONFIG" rev-parse HEAD~1)" > /dev/null 2>&1
ok $? "ptt check of the commit before it passes"
"$PTT" check HEAD > /dev/null 2>&1
[ $? = 2 ]; ok $? "ptt check wants a full commit id"

# certificates: nothing to do when fresh; a world-readable key is refused
"$PTT" certs > "$WORK/certs.out" 2>&1
[ $? = 0 ] && [ ! -s "$WORK/certs.out" ]; ok $? "ptt certs: nothing to re-issue"
chmod 644 "$PTT_STATE/tls/relay.key"
"$PTT" certs > "$WORK/e10" 2>&1
[ $? = 1 ] && grep -q 'mode 0644' "$WORK/e10"; ok $? "0644 key refused: $(head -1 "$WORK/e10")"
chmod 600 "$PTT_STATE/tls/relay.key"
"$PTT" certs --force > "$WORK/certs2.out" 2>&1
[ $? = 0 ] && grep -q 'issued .*relay.pem' "$WORK/certs2.out"; ok $? "ptt certs --force re-issues"
done_testing
