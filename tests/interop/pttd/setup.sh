# setup.sh - the outbound stack (ptt-dns, relay, signer, submission) as
# pttd runs it from ptt.conf, and ptt-sink as the outside MX; shared by
# pttd.sh, source.sh and the browser test. Source after lib.sh and
# dns/common.sh.
# Sets CFG ST P PTTD_URL SINK SUB_PORT, the helpers of status.sh and
# those below.
B=$PTT_BUILD
CFG=$WORK/config; ST=$WORK/state
P="$B/src/ptt/ptt --config $CFG --state $ST"

$P init --bare example.test > "$WORK/init.log" 2>&1 &&
echo 'correct horse' | $P adduser alice --forward alice@real.test --password-stdin > /dev/null 2>&1
ok $? "ptt init and adduser"
chmod -R o+rX "$CFG"
make_ca "$WORK/pub"
make_cert "$WORK/pub" mx.dest.test "DNS:mx.dest.test,IP:127.0.0.1"

dns_port=$(free_port); mx_port=$(free_port); relay_port=$(free_port)
signer_port=$(free_port); SUB_PORT=$(free_port); status_port=$(free_port)
write_zone example.test 1 > "$ZONES/example.test.zone"
printf '$ORIGIN dest.test.\n$TTL 60\n@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n@ MX 10 mx\nmx A 127.0.0.1\n' > "$ZONES/dest.test.zone"
make_key signer-key > /dev/null
echo "key signer-key. may update *._domainkey.example.test. TXT" > "$WORK/policy"
printf 'server:\n    local-zone: "test." nodefault\n    do-not-query-localhost: no\n' > "$WORK/unbound.conf"
chmod 644 "$WORK/unbound.conf"
SINK=$WORK/mx
mkdir -p "$SINK" "$WORK/queue"
start_bg mx "$B/src/sink/ptt-sink" -l 127.0.0.1:$mx_port --cert "$WORK/pub/mx.dest.test.pem" \
	--key "$WORK/pub/mx.dest.test.key" -d "$SINK" --hostname mx.dest.test

# PTTD_RESTART_DELAY: the first restart delay (the browser test wants 3s).
cat >> "$CFG/ptt.conf" <<CONF

[pttd]
services = dns relay signer submission
status = 127.0.0.1:$status_port
poll_interval = 1s
health_interval = 1s
health_timeout = 5s
restart_delay = ${PTTD_RESTART_DELAY:-1s}
restart_max = 4s
stop_timeout = 30s
${PTTD_EXTRA:-}


[dns]
listen = 127.0.0.1:$dns_port
zones = $ZONES
tsig-dir = $KEYS
policy = $WORK/policy
reload-interval = 1s
sandbox = no

[relay]
listen = 127.0.0.1:$relay_port
cert = $ST/tls/relay.pem
key = $ST/tls/relay.key
ca = $ST/ca/ca.pem
queue_dir = $WORK/queue
dns_stub = 127.0.0.1@$dns_port
dns_allow_localhost = yes
dns_config_file = $WORK/unbound.conf
remote_port = $mx_port
helo_name = relay.example.test

[signer]
listen = 127.0.0.1:$signer_port
cert = $ST/tls/signer.pem
key = $ST/tls/signer.key
ca = $ST/ca/ca.pem
relay = 127.0.0.1:$relay_port
domains = example.test
state = $ST
dns_primary = 127.0.0.1:$dns_port
tsig_key = $KEYS/signer-key

[submission]
listen_submission =
listen_smtps = 127.0.0.1:$SUB_PORT
hostname = mail.example.test
domain = example.test
cert = $WORK/pub/server.pem
key = $WORK/pub/server.key
internal_cert = $ST/tls/submission.pem
internal_key = $ST/tls/submission.key
ca = $ST/ca/ca.pem
signer = 127.0.0.1:$signer_port
config_repo = $CFG
CONF
PTTD_URL=http://127.0.0.1:$status_port
. "$PTT_SRC/tests/interop/pttd/status.sh"
commit_conf "pttd runs the outbound stack"
ok $? "ptt.conf with [pttd] and every service's section committed"
start_pttd

# The steady load: one message per session, each with its own subject;
# load.log gets "OK n" or "FAIL n reason" per session.
echo -n 'correct horse' > "$WORK/pass"
load() {	# load TAG: until $WORK/stop-TAG exists
	local n=0 out
	while [ ! -e "$WORK/stop-$1" ]; do
		n=$((n + 1))
		printf 'From: alice@example.test\r\nTo: bob@dest.test\r\nSubject: load %s %d\r\n\r\nmessage %s %d\r\n' \
			"$1" $n "$1" $n > "$WORK/msg-$1"
		if out=$("$B/src/tools/ptt-smtp-send" --server 127.0.0.1:$SUB_PORT --implicit-tls \
			--tls verified --ca "$WORK/pub/ca.pem" --sni mx.example.test --auth-user alice \
			--auth-pass-file "$WORK/pass" --from alice@example.test --to bob@dest.test \
			--timeout 60 "$WORK/msg-$1" 2>&1); then
			echo "OK $n" >> "$WORK/load-$1.log"
		else
			echo "FAIL $n $(echo "$out" | tr '\n' ' ' | cut -c1-300)" >> "$WORK/load-$1.log"
		fi
		sleep 0.05
	done
}
start_load() { : > "$WORK/load-$1.log"; load "$1" & LOAD_PID=$!; CLEANUP+=("touch $WORK/stop-$1"); }
stop_load() { touch "$WORK/stop-$1"; wait $LOAD_PID; }
sessions() { grep -c "^$2 " "$WORK/load-$1.log"; }
# lost TAG: accepted messages (OK n) that are not in the sink, after the
# queue had time to drain.
lost() {
	local missing=0 i
	awk '/^OK /{print $2}' "$WORK/load-$1.log" | sort -u > "$WORK/acked-$1"
	for i in $(seq 150); do
		grep -h "^Subject: load $1 " "$SINK"/* 2>/dev/null | tr -d '\r' |
			awk '{print $4}' | sort -u > "$WORK/arrived-$1"
		missing=$(comm -23 "$WORK/acked-$1" "$WORK/arrived-$1" | wc -l)
		[ "$missing" -eq 0 ] && break
		sleep 0.2
	done
	echo "$missing"
}
wait_sessions() {	# wait_sessions TAG N: until N more sessions finished
	local start i
	start=$(wc -l < "$WORK/load-$1.log")
	for i in $(seq 600); do
		[ $(( $(wc -l < "$WORK/load-$1.log") - start )) -ge $2 ] && return 0
		sleep 0.1
	done
	return 1
}

