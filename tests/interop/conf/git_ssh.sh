#!/bin/bash
# Interop: the configuration repository on an SSH remote. A private sshd on
# 127.0.0.1 (own config and host key, key-only, no PAM) serves a bare repo;
# ptt reaches it through libgit2/libssh2 with an ed25519 client key and a
# pinned host key: init and adduser push commits, a push made by the git
# command is picked up, and a wrong pin or an unknown client key is refused.
. "$PTT_SRC/tests/interop/lib.sh"
PTT=$PTT_BUILD/src/ptt/ptt

if [ ! -x /usr/sbin/sshd ] || [ "$(id -u)" != 0 ]; then
	skip "git over ssh" "needs openssh-server and root"
	done_testing; exit
fi
export GIT_CONFIG_NOSYSTEM=1 HOME=$WORK GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.test
export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.test
G=$WORK/ssh
mkdir -p "$G" /run/sshd && chmod 700 "$G" "$WORK"
ssh-keygen -q -t ed25519 -N '' -f "$G/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -f "$G/other_host" -C other
ssh-keygen -q -t ed25519 -N '' -f "$G/client" -C ptt-client
ssh-keygen -q -t ed25519 -N '' -f "$G/stranger" -C stranger
cp "$G/client.pub" "$G/authorized_keys" && chmod 600 "$G/authorized_keys"
PORT=$(free_port)
cat > "$G/sshd_config" <<EOC
ListenAddress 127.0.0.1:$PORT
HostKey $G/host_ed25519
PidFile $G/sshd.pid
AuthorizedKeysFile $G/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
AllowUsers root
LogLevel VERBOSE
EOC
/usr/sbin/sshd -f "$G/sshd_config" -E "$G/sshd.log"
ok $? "private sshd on 127.0.0.1:$PORT"
CLEANUP+=("kill \$(cat $G/sshd.pid)")
wait_port "$PORT" || diag "sshd did not start: $(tail -3 "$G/sshd.log")"

git init -q --bare -b main "$G/config.git"
URL="ssh://root@127.0.0.1:$PORT$G/config.git"
FP=$(ssh-keygen -lf "$G/host_ed25519.pub" | awk '{print $2}')
WRONG=$(ssh-keygen -lf "$G/other_host.pub" | awk '{print $2}')
export PTT_CONFIG=$URL PTT_STATE=$WORK/state PTT_SSH_KEY=$G/client PTT_HOST_KEY=$FP
bare_count() { git -C "$G/config.git" rev-list --count main 2>/dev/null || echo 0; }

"$PTT" init example.test > "$WORK/init.out" 2>&1
ok $? "ptt init onto the SSH remote: $(tail -1 "$WORK/init.out")"
[ "$(bare_count)" = 1 ]; ok $? "the remote has the first commit"
echo 'alice-secret-1' | "$PTT" adduser alice --forward alice@real.example --password-stdin > "$WORK/add.out" 2>&1
ok $? "adduser over SSH: $(tail -1 "$WORK/add.out")"
[ "$(bare_count)" = 2 ]; ok $? "pushed: the remote has two commits"
git -C "$G/config.git" show main:users/alice | grep -q '^password = \$argon2id\$'; ok $? "users/alice on the remote holds an argon2id hash"
[ -d "$PTT_STATE/cache/config.git" ] && [ "$(stat -c %a "$PTT_STATE/cache/config.git")" = 700 ]
ok $? "the clone is cached in the state directory (0700)"

# a long-running reader (like submission or mx) hot-reloads over SSH
PROBE=$PTT_BUILD/tests/interop/conf/reload_probe
coproc PRB { "$PROBE" "$URL" "$WORK/probe-cache" "$G/client" "$FP" 2>&1; }
CLEANUP+=("kill $PRB_PID")
ask() { echo "$1" >&"${PRB[1]}"; read -r -t 30 REPLY <&"${PRB[0]}"; echo "$REPLY"; }
R=$(ask reload); [ "$R" = "changed=1 users=1" ]; ok $? "reader loads the users: $R"
R=$(ask reload); [ "$R" = "changed=0 users=1" ]; ok $? "nothing new, nothing reloaded: $R"
R=$(ask "verify alice alice-secret-1"); [ "$R" = yes ]; ok $? "alice's password verifies in the reader"
R=$(ask "verify alice wrong-password"); [ "$R" = no ]; ok $? "a wrong password does not"
R=$(ask "verify nobody alice-secret-1"); [ "$R" = no ]; ok $? "an unknown user does not"

# a wrong pin is refused, and nothing is pushed
echo 'x-secret-123' | PTT_HOST_KEY=$WRONG "$PTT" adduser mallory --forward m@evil.example --password-stdin > "$WORK/e1" 2>&1
[ $? = 1 ] && grep -q 'does not match the pinned key' "$WORK/e1"; ok $? "wrong pinned host key refused: $(head -1 "$WORK/e1")"
PTT_HOST_KEY=$WRONG "$PTT" users > "$WORK/e2" 2>&1
[ $? = 1 ]; ok $? "ptt users with the wrong pin fails too"
[ "$(bare_count)" = 2 ]; ok $? "nothing pushed with the wrong pin"
PTT_HOST_KEY="$(cat "$G/host_ed25519.pub")" "$PTT" users > "$WORK/u1" 2>&1
[ $? = 0 ] && grep -q '^alice' "$WORK/u1"; ok $? "the host key line works as a pin"
PTT_HOST_KEY="SHA256:bogus" "$PTT" users > "$WORK/e3" 2>&1
[ $? != 0 ] && grep -q 'bad host key pin' "$WORK/e3"; ok $? "malformed pin refused: $(head -1 "$WORK/e3")"
PTT_SSH_KEY=$G/stranger "$PTT" users > "$WORK/e4" 2>&1
[ $? = 1 ]; ok $? "an unknown client key is refused: $(head -1 "$WORK/e4")"
env -u PTT_SSH_KEY "$PTT" users > "$WORK/e5" 2>&1
[ $? = 2 ] && grep -q 'ssh-key' "$WORK/e5"; ok $? "a remote without a key: usage error"

# someone else pushes with the git command; ptt sees it and builds on it
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$G/host_ed25519.pub")" > "$G/known_hosts"
export GIT_SSH_COMMAND="ssh -i $G/client -o IdentitiesOnly=yes -o UserKnownHostsFile=$G/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes"
git clone -q "$URL" "$WORK/wc" 2>"$WORK/clone.err"
ok $? "git clone over ssh"
sed "s/alice@real.example/bob@real.example/" "$WORK/wc/users/alice" > "$WORK/wc/users/bob"
git -C "$WORK/wc" add users/bob && git -C "$WORK/wc" commit -qm "add bob by hand" && git -C "$WORK/wc" push -q origin main 2>>"$WORK/clone.err"
ok $? "git push of users/bob"
"$PTT" users > "$WORK/u2" 2>&1
grep -q '^bob' "$WORK/u2"; ok $? "ptt fetched the new commit: bob listed"
R=$(ask reload); [ "$R" = "changed=1 users=2" ]; ok $? "the reader picks up the pushed commit: $R"
R=$(ask "verify bob alice-secret-1"); [ "$R" = yes ]; ok $? "bob's password verifies without a restart"
"$PTT" deluser alice > /dev/null 2>&1
ok $? "deluser alice on top of the pushed commit"
[ "$(bare_count)" = 4 ]; ok $? "remote has four commits"
R=$(ask reload); [ "$R" = "changed=1 users=1" ]; ok $? "the reader drops alice: $R"
R=$(ask "verify alice alice-secret-1"); [ "$R" = no ]; ok $? "alice can no longer log in"
git -C "$G/config.git" log --format=%s main > "$WORK/log"
diag "$(tr '\n' '|' < "$WORK/log")"
[ "$(head -1 "$WORK/log")" = "deluser alice" ]; ok $? "latest is deluser alice"
git -C "$G/config.git" fsck --no-progress > /dev/null 2>&1; ok $? "remote passes git fsck"
grep -q 'Accepted publickey for root' "$G/sshd.log"; ok $? "sshd logged public key logins"
done_testing
