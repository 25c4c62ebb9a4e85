# lib.sh - shared helpers for interop tests: TAP output, a throwaway work
# directory, a test CA with server/client certificates, free ports, waiting.
# Source it: . "$PTT_SRC/tests/interop/lib.sh"
# Every peer listens on loopback only.

set -u
: "${PTT_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${PTT_BUILD:=$PTT_SRC/build}"
PY=/usr/bin/python3	# Debian's python: it can import python3-* modules

T_N=0
T_FAILED=0
ok() {	# ok COND-EXIT-STATUS "name"
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then echo "ok $T_N - $2"; else echo "not ok $T_N - $2"; T_FAILED=$((T_FAILED + 1)); fi
}
check() {	# check "name" command args...  (ok when the command succeeds)
	local name=$1; shift
	"$@"; ok $? "$name"
}
skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP ${2:-}"; }
diag() { echo "# $*"; }
done_testing() { echo "1..$T_N"; [ "$T_FAILED" -eq 0 ]; }

# A work directory removed at exit; cleanup hooks run first.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ptt-test.XXXXXX")
# Daemons started as root drop to nobody: let them traverse (not list)
# the work directory; secrets inside keep their own 0600/0700 modes.
chmod 711 "$WORK"
CLEANUP=()
on_exit() { local c; [ -n "${KEEP_WORK:-}" ] && { echo "# kept $WORK"; return; }; for c in "${CLEANUP[@]}"; do eval "$c" >/dev/null 2>&1 || true; done; rm -rf "$WORK"; }
trap on_exit EXIT
trap 'exit 130' INT TERM

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT [HOST] [SECONDS]: until something accepts connections.
wait_port() {
	local port=$1 host=${2:-127.0.0.1} i
	for i in $(seq $(( ${3:-10} * 20 ))); do
		(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# make_ca DIR: a CA (ca.pem) plus server.pem/server.key for localhost,
# 127.0.0.1 and mx.example.test, and client.pem/client.key for a client
# named client.internal; all signed by the CA.
make_ca() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj /CN=ptt-test-ca \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	local n cn san
	for n in server client; do
		if [ $n = server ]; then cn=mx.example.test; san="DNS:mx.example.test,DNS:localhost,IP:127.0.0.1"
		else cn=client.internal; san="DNS:client.internal"; fi
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/$n.key" -out "$d/$n.csr" -subj "/CN=$cn" 2>/dev/null
		printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$san" > "$d/$n.ext"
		openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -extfile "$d/$n.ext" -out "$d/$n.pem" 2>/dev/null
	done
	chmod 600 "$d"/*.key
}

# start_bg NAME command...: run in the background, log to $WORK/NAME.log,
# remember the pid in $WORK/NAME.pid and kill it at exit.
start_bg() {
	local name=$1; shift
	setsid "$@" > "$WORK/$name.log" 2>&1 < /dev/null &
	echo $! > "$WORK/$name.pid"
	CLEANUP+=("kill \$(cat $WORK/$name.pid)")
}

# make_cert DIR NAME [SAN]: a certificate DIR/NAME.pem + key DIR/NAME.key for
# NAME (SAN default DNS:NAME) signed by DIR/ca.pem (from make_ca).
make_cert() {
	local d=$1 n=$2 san=${3:-DNS:$2}
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/$n.key" -out "$d/$n.csr" -subj "/CN=$n" 2>/dev/null
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$san" > "$d/$n.ext"
	openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/$n.ext" -out "$d/$n.pem" 2>/dev/null
	chmod 600 "$d/$n.key"
}

# renew_cert DIR SAN: a new certificate for SAN from DIR/ca.pem put in
# place of DIR/server.pem and server.key by rename, as ptt-acme renews
# (the key readable by services that dropped to nobody).
renew_cert() {
	make_cert "$1" renewed "$2"
	chmod 644 "$1/renewed.key"
	mv "$1/renewed.key" "$1/server.key" && mv "$1/renewed.pem" "$1/server.pem"
}

# wait_line FILE REGEX [SECONDS]: until a line matching REGEX shows up.
wait_line() {
	local i
	for i in $(seq $(( ${3:-10} * 20 ))); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# ptt_repo_env: a configuration repository and state directory in $WORK
# for the ptt command (PTT_CONFIG, PTT_STATE), a git identity for the
# commits a test makes by hand, and G: git in that repository.
ptt_repo_env() {
	export PTT_CONFIG=$WORK/config PTT_STATE=$WORK/state
	export GIT_CONFIG_NOSYSTEM=1 HOME=$WORK
	export GIT_AUTHOR_NAME="Test Admin" GIT_AUTHOR_EMAIL=admin@example.test
	export GIT_COMMITTER_NAME="Test Admin" GIT_COMMITTER_EMAIL=admin@example.test
}
G() { git -c safe.directory='*' -C "$PTT_CONFIG" "$@"; }
