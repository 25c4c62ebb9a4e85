# common.sh - shared setup for the ptt-relay interop tests: a Knot server on
# loopback serving a "test." zone whose MX records point at 127.0.0.x
# addresses, ptt-sink instances as the remote MXs on those addresses, an
# internal CA with client certificates, and the relay itself.
# Source after lib.sh. Everything listens on 127.0.0.0/8 only.

RELAY=$PTT_BUILD/src/relay/ptt-relay
SINK=$PTT_BUILD/src/sink/ptt-sink
SEND=$PTT_BUILD/src/tools/ptt-smtp-send
CA=$WORK/ca
KPORT=$(free_port)
SPORT=$(free_port)	# every pretend MX listens on 127.0.0.x:$SPORT
RPORT=$(free_port)	# the relay's internal listener
QDIR=$WORK/queue

need_tools() {
	local t
	for t in knotd kdig openssl; do
		command -v $t >/dev/null 2>&1 || { echo "1..0 # SKIP $t missing"; exit 0; }
	done
	[ -x "$RELAY" ] && [ -x "$SINK" ] && [ -x "$SEND" ] ||
		{ echo "1..0 # SKIP binaries not built"; exit 0; }
}

# client_cert NAME: $CA/NAME.pem and $CA/NAME.key for a client called NAME,
# signed by the test CA.
client_cert() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$CA/$1.key" -out "$CA/$1.csr" -subj "/CN=$1" 2>/dev/null
	printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n' "$1" > "$CA/$1.ext"
	openssl x509 -req -in "$CA/$1.csr" -CA "$CA/ca.pem" -CAkey "$CA/ca.key" \
		-CAcreateserial -days 2 -extfile "$CA/$1.ext" -out "$CA/$1.pem" 2>/dev/null
	chmod 600 "$CA/$1.key"
}

# A zone "test." with the domains the tests deliver to.
write_zone() {
	cat <<Z
\$ORIGIN test.
\$TTL 2
@               SOA ns1 hostmaster 1 3600 600 86400 2
@               NS  ns1
ns1             A   127.0.0.1
; two MXs: the preferred one is down, the second answers
example         MX  10 mx1.example
example         MX  20 mx2.example
mx1.example     A   127.0.0.9
mx2.example     A   127.0.0.2
; the senders' domain, where DSNs go
sender          MX  10 mx.sender
mx.sender       A   127.0.0.3
; no MX: the domain's own address is the implicit MX
nomx            A   127.0.0.4
; RFC 7505 null MX
nullmx          MX  0 .
; an MX without STARTTLS
plain           MX  10 mx.plain
mx.plain        A   127.0.0.5
; an MX that is down at first
later           MX  10 mx.later
mx.later        A   127.0.0.6
; an MX that greylists
grey            MX  10 mx.grey
mx.grey         A   127.0.0.7
; an MX whose STARTTLS handshake fails
badtls          MX  10 mx.badtls
mx.badtls       A   127.0.0.8
Z
}

start_knot() {
	local k=$WORK/knot
	mkdir -p "$k/db" "$k/zones"
	write_zone > "$k/zones/test.zone"
	cat > "$k/knot.conf" <<EOF
server:
    rundir: "$k"
    listen: 127.0.0.1@$KPORT
    pidfile: "$k/knot.pid"
database:
    storage: "$k/db"
log:
  - target: "$k/knot.log"
    any: info
template:
  - id: default
    storage: "$k/zones"
    file: "%s.zone"
zone:
  - domain: test.
EOF
	start_bg knot knotd -c "$k/knot.conf"
	local i
	for i in $(seq 100); do
		kdig +short +time=1 +retry=0 @127.0.0.1 -p "$KPORT" example.test MX \
			2>/dev/null | grep -q mx2 && return 0
		sleep 0.1
	done
	diag "knotd did not start"; sed 's/^/# /' "$k/knot.log" "$WORK/knot.log"
	return 1
}

# libunbound: RFC 6761 makes test. NXDOMAIN unless told otherwise, and it
# refuses to query 127.0.0.1 by default (PITFALLS.md).
write_unbound_conf() {
	cat > "$WORK/unbound.conf" <<EOF
server:
    local-zone: "test." nodefault
    do-not-query-localhost: no
EOF
	chmod 644 "$WORK/unbound.conf"
}

# start_sink NAME ADDR args...: ptt-sink on ADDR:$SPORT writing to
# $WORK/NAME/, with STARTTLS unless --plain comes first.
start_sink() {
	local name=$1 addr=$2; shift 2
	local tls=(--cert "$CA/server.pem" --key "$CA/server.key")
	if [ "${1:-}" = --plain ]; then tls=(); shift; fi
	mkdir -p "$WORK/$name"
	start_bg "$name" "$SINK" -l "$addr:$SPORT" -d "$WORK/$name" \
		--hostname "$name.test" "${tls[@]}" "$@"
	wait_port "$SPORT" "$addr" 10
}

stop_bg() {	# stop_bg NAME: TERM and wait
	local pid; pid=$(cat "$WORK/$1.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	local i
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
	kill -9 "$pid" 2>/dev/null
}

# Under ASan, LeakSanitizer needs /proc/self/task, which a process that
# changed its uid in the sandbox cannot read: sanitizer builds run the
# relay unsandboxed (the plain build tests the sandbox).
SANDBOX=yes
ldd "$RELAY" 2>/dev/null | grep -q libasan && SANDBOX=no

# start_relay [-o name=value]...: the relay on 127.0.0.1:$RPORT
start_relay() {
	start_bg relay "$RELAY" \
		-o listen=127.0.0.1:$RPORT \
		-o cert="$CA/server.pem" -o key="$CA/server.key" -o ca="$CA/ca.pem" \
		-o queue_dir="$QDIR" \
		-o dns_stub=127.0.0.1@$KPORT -o dns_allow_localhost=yes \
		-o dns_config_file="$WORK/unbound.conf" -o dns_timeout=3s \
		-o remote_port=$SPORT -o helo_name=relay.test \
		-o retry_min=1s -o retry_max=2s -o delay_notice=0 \
		-o reuse_idle=1s -o connect_timeout=3s -o stop_timeout=5s \
		-o sandbox=$SANDBOX -o sandbox_debug=yes "$@"
	wait_port "$RPORT" 127.0.0.1 10
}

# inject FROM TO [CERTNAME] [FILE]: hand a message to the relay as CERTNAME
# (default signer.internal) over verified mutual TLS.
inject() {
	local from=$1 to=$2 who=${3:-signer.internal} file=${4:-$WORK/msg.eml}
	"$SEND" --server 127.0.0.1:$RPORT --tls verified --ca "$CA/ca.pem" \
		--sni localhost --cert "$CA/$who.pem" --key "$CA/$who.key" \
		--from "$from" --to "$to" -q "$file"
}

write_msg() {	# write_msg SUBJECT [EXTRA-HEADER] > file
	printf 'From: <alice@sender.test>\r\nTo: <bob@example.test>\r\nSubject: %s\r\nMessage-ID: <%s@sender.test>\r\n%s\r\nHello from the relay tests.\r\n' \
		"$1" "$RANDOM$RANDOM" "${2:+$2$'\r\n'}"
}

# count_in DIR: messages a sink stored
count_in() { ls "$WORK/$1" 2>/dev/null | grep -vc '^\.' ; }

# wait_for SECONDS 'shell condition': until it holds (evaluated each time)
wait_for() {
	local s=$1 i; shift
	for i in $(seq $((s * 10))); do eval "$1" && return 0; sleep 0.1; done
	return 1
}

common_setup() {
	need_tools
	make_ca "$CA"
	client_cert signer.internal
	client_cert evil.internal
	write_unbound_conf
	chmod 711 "$WORK"
	chmod 644 "$CA"/*.pem
	start_knot
}
