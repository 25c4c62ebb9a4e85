# setup.sh - the outbound stack (ptt-dns, relay, signer, submission) as
# pttd runs it from ptt.conf, and ptt-sink as the outside MX; shared by
# pttd.sh and the browser test. Source after lib.sh and dns/common.sh.
# Sets CFG ST P PTTD_URL SINK SUB_PORT and the helpers below.
B=$PTT_BUILD
CFG=$WORK/config; ST=$WORK/state
P="$B/src/ptt/ptt --config $CFG --state $ST"

$P init example.test > "$WORK/init.log" 2>&1 &&
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


[dns]
listen = 127.0.0.1:$dns_port
zones = $ZONES
tsig-dir = $KEYS
policy = $WORK/policy
reload-interval = 1s
no-sandbox = yes

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
git -C "$CFG" add ptt.conf && git -C "$CFG" -c user.name=test -c user.email=test@example.test \
	commit -qm "pttd runs the outbound stack" ptt.conf
ok $? "ptt.conf with [pttd] and every service's section committed"
chmod -R o+rX "$CFG"

PTTD_URL=http://127.0.0.1:$status_port
# `ptt up` execs pttd (same pid) with the repository and state directory.
start_bg pttd $P up

# status_json: the JSON status; svc_field NAME FIELD: one field of a service.
status_json() { curl -fs --max-time 5 "$PTTD_URL/api/status"; }
svc_field() {
	status_json | $PY -c 'import json,sys; j=json.load(sys.stdin); print([s for s in j["services"] if s["name"]==sys.argv[1]][0][sys.argv[2]])' "$1" "$2" 2>/dev/null
}
all_healthy() {
	status_json | $PY -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if all(s["state"]=="healthy" for s in j["services"]) else 1)' 2>/dev/null
}
wait_healthy() {	# wait_healthy [SECONDS]
	local i
	for i in $(seq $(( ${1:-30} * 5 ))); do all_healthy && return 0; sleep 0.2; done
	return 1
}
# commit_conf MESSAGE: commit the work tree's ptt.conf.
commit_conf() {
	git -C "$CFG" -c user.name=test -c user.email=test@example.test commit -qm "$1" ptt.conf
	chmod -R o+rX "$CFG"
}
