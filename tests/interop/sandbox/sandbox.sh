#!/usr/bin/env bash
# sandbox.sh - each daemon's sandbox holds against code running inside it.
# probe.so, preloaded into the unmodified daemons, stands for an attacker
# who got code execution: on SIGUSR2 it tries to connect to port 25 and
# to open a file (see probe.c). Issue #7's claims, shown on real binaries:
#   - the signer can neither connect to port 25 (Landlock: EACCES) nor
#     open any file (seccomp: killed with SIGSYS);
#   - the mx cannot read the DKIM key, even made world-readable
#     (Landlock: EACCES), and keeps serving;
#   - in debug mode a refused system call is named in the log;
# and, as controls, the same probe in the same daemons started with
# sandbox=no succeeds, so the refusals come from the sandbox.
. "$PTT_SRC/tests/interop/lib.sh"
PTT=$PTT_BUILD/src/ptt/ptt
SIGNER=$PTT_BUILD/src/signer/ptt-signer
MX=$PTT_BUILD/src/mx/ptt-mx
CFG=$WORK/config
ST=$WORK/state
# Sanitizer builds: the probe links its own copy of the runtime, and
# LeakSanitizer cannot run after the uid change (leaks are checked by the
# other tests); the sandbox itself is the same.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:detect_leaks=0

$PTT --config "$CFG" --state "$ST" init --bare example.test > "$WORK/init.log" 2>&1
ok $? "ptt init --bare example.test"
chmod -R o+rX "$CFG" "$ST/ca" "$ST/tls"

# probe NAME: signal the daemon NAME, wait for the probe's last line or the
# process's end; r is "exited N" when it ended (wait needs this shell, not
# a command substitution's).
probe() {
	local name=$1 pid i
	r=running
	pid=$(cat "$WORK/$name.pid")
	kill -USR2 "$pid"
	for i in $(seq 100); do
		grep -q '^probe: done' "$WORK/$name.log" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	r="exited $?"
}
line() { grep -m1 "^probe: $2" "$WORK/$1.log"; }

# --- the signer --------------------------------------------------------
start_signer() {	# start_signer NAME PORT SANDBOX OPENPATH
	LD_PRELOAD=$PTT_PROBE PTT_PROBE_CONNECT=25 PTT_PROBE_OPEN=$4 \
	start_bg $1 "$SIGNER" -o listen=127.0.0.1:$2 \
		-o cert="$ST/tls/signer.pem" -o key="$ST/tls/signer.key" -o ca="$ST/ca/ca.pem" \
		-o relay=127.0.0.1:$(free_port) -o domains=example.test -o state="$ST" \
		-o selector_rsa=sbx-r -o selector_ed25519=sbx-e -o sandbox=$3
	wait_port $2 && wait_line "$WORK/$1.log" "signing for"
}
echo "public" > "$WORK/public.txt"; chmod 644 "$WORK/public.txt"

p=$(free_port)
start_signer signer-open $p no "$WORK/public.txt"
ok $? "control: a signer without its sandbox starts with the probe loaded"
probe signer-open
ok $(line signer-open "connect 25" | grep -q 'allowed'; echo $?) \
	"control: without the sandbox the probe reaches port 25 ($(line signer-open 'connect 25'))"
ok $(line signer-open "open" | grep -q 'allowed (read a byte)'; echo $?) \
	"control: without the sandbox the probe reads a world-readable file"

p=$(free_port)
start_signer signer $p yes "$WORK/public.txt"
ok $? "the sandboxed signer starts with the probe loaded"
ok $(grep -q "sandbox: entered" "$WORK/signer.log"; echo $?) "the signer logged its sandbox"
probe signer
ok $(line signer "connect 25" | grep -q 'refused by policy'; echo $?) \
	"the signer cannot connect to port 25 ($(line signer 'connect 25'))"
# Normally the open kills it (no file calls in its seccomp list); sanitizer
# builds allow read-only opens for their runtime, and Landlock refuses.
ok $( { [ "$r" = "exited 159" ] && ! line signer "open" >/dev/null; } ||
	line signer "open" | grep -q 'refused by policy'; echo $?) \
	"the signer cannot open a file ($r; $(line signer open | sed 's/.*: //'))"

# --- the mx ------------------------------------------------------------
# The signer above created the DKIM keys; make one world-readable so that
# only the sandbox, not the file mode or the uid, stands in the way.
KEYFILE=$ST/dkim/example.test/sbx-r.key
ok $([ -s "$KEYFILE" ]; echo $?) "the signer created its DKIM key"
chmod o+x "$ST" "$ST/dkim" "$ST/dkim/example.test"; chmod 644 "$KEYFILE"
printf 'server:\n    local-zone: "test." nodefault\n' > "$WORK/unbound.conf"
make_ca "$WORK/pub"
start_mx() {	# start_mx NAME PORT SANDBOX [extra -o ...]
	local name=$1 port=$2 sbx=$3; shift 3
	LD_PRELOAD=$PTT_PROBE PTT_PROBE_OPEN=${PROBE_OPEN-$KEYFILE} PTT_PROBE_EXEC=${PROBE_EXEC-} \
	start_bg $name "$MX" -o listen=127.0.0.1:$port -o hostname=mx.example.test \
		-o domain=example.test -o cert="$WORK/pub/server.pem" -o key="$WORK/pub/server.key" \
		-o internal_cert="$ST/tls/mx.pem" -o internal_key="$ST/tls/mx.key" \
		-o ca="$ST/ca/ca.pem" -o spamfilter=127.0.0.1:$(free_port) \
		-o config_repo="$CFG" -o srs_secret="$ST/srs.key" -o dns_stub=127.0.0.1@$(free_port) -o dns_allow_localhost=yes \
		-o dns_config_file="$WORK/unbound.conf" -o sandbox=$sbx "$@"
	wait_port $port || return 1
	[ $sbx = no ] || wait_line "$WORK/$name.log" "sandbox entered"
}
p=$(free_port)
start_mx mx-open $p no
ok $? "control: an mx without its sandbox starts"
probe mx-open
ok $(line mx-open "open" | grep -q 'allowed (read a byte)'; echo $?) \
	"control: without the sandbox the probe reads the key file"

p=$(free_port)
start_mx mx $p yes
ok $? "the sandboxed mx starts and logs its sandbox"
probe mx
ok $(line mx "open" | grep -q 'refused by policy'; echo $?) \
	"the mx cannot read the DKIM key ($(line mx open | sed 's/.*: //'))"
ok $(kill -0 "$(cat "$WORK/mx.pid")" 2>/dev/null && \
	printf 'EHLO t\r\nQUIT\r\n' | timeout 5 $PY -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
f = s.makefile("rb")
assert f.readline().startswith(b"220")
s.sendall(b"EHLO t\r\n")
while True:
    l = f.readline()
    if not l.startswith(b"250-"): break
assert l.startswith(b"250 ")
s.sendall(b"QUIT\r\n")' $p; echo $?) "after the refusal the mx still answers EHLO"

# --- debug mode names the refused call ----------------------------------
# The mx never runs programs: execve is outside its seccomp list. Without
# debug the call kills it; with sandbox_debug=yes the log names the call.
p=$(free_port)
PROBE_OPEN= PROBE_EXEC=/bin/true start_mx mx-exec $p yes
probe mx-exec
ok $([ "$r" = "exited 159" ]; echo $?) "an execve in the mx kills it with SIGSYS ($r)"
p=$(free_port)
PROBE_OPEN= PROBE_EXEC=/bin/true start_mx mx-debug $p yes -o sandbox_debug=yes
probe mx-debug
ok $(grep -q "refused system call execve" "$WORK/mx-debug.log"; echo $?) \
	"debug mode names the refused call: $(grep -m1 -o 'refused system call [a-z0-9_]* ([0-9]*)' "$WORK/mx-debug.log")"

done_testing
