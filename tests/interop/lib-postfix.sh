# lib-postfix.sh - a private Postfix instance for interop tests, relaying
# everything to an smtp-sink that dumps each message to a file.
# Source after lib.sh:  . "$PTT_SRC/tests/interop/lib-postfix.sh"
#
#   pf_start CERT KEY CA  starts smtp-sink and postfix (own config and queue
#                       under $WORK/pf; every listener on 127.0.0.1):
#     $PF_SINK_PORT  smtp-sink (no TLS), dumps to $PF_DUMP/
#     $PF_SMTP_PORT  smtpd, STARTTLS offered (may), relays to the sink
#     $PF_SUBM_PORT  submission: STARTTLS required, Cyrus SASL AUTH
#     $PF_SMTPS_PORT implicit TLS (wrappermode) + AUTH
#     $PF_MTLS_PORT  STARTTLS required with a client certificate from CA
#   SASL user: $PF_USER / $PF_PASS.  Log: $PF_LOG.  Stopped at exit.
#   pf_wait_dump N [SECS]  waits until the sink dumped N messages.
#   pf_count               how many messages the sink dumped.
#
# Pitfalls (see shared/peers): postfix reports errors only to a tty or
# syslog (run it under script(1)); the chroot column must be 'n';
# maillog_file must match maillog_file_prefixes; Debian's smtpd reads SASL
# settings from $config_directory/sasl/smtpd.conf.

PF=$WORK/pf
PF_DUMP=$PF/dump
PF_LOG=$PF/maillog
PF_USER=alice@example.test
PF_PASS=secret123

pf_cmd() { script -qec "postfix -c $PF/conf $*" /dev/null; }

pf_available() {
	command -v postfix >/dev/null && command -v smtp-sink >/dev/null &&
	    command -v saslpasswd2 >/dev/null && command -v script >/dev/null &&
	    [ "$(id -u)" = 0 ]
}

pf_count() { find "$PF_DUMP" -type f 2>/dev/null | wc -l; }

pf_wait_dump() {
	local want=$1 i
	for i in $(seq $(( ${2:-20} * 10 ))); do
		[ "$(pf_count)" -ge "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

pf_start() {
	local cert=$1 key=$2 ca=$3
	PF_SINK_PORT=$(free_port); PF_SMTP_PORT=$(free_port)
	PF_SUBM_PORT=$(free_port); PF_SMTPS_PORT=$(free_port); PF_MTLS_PORT=$(free_port)
	chmod 755 "$WORK"
	mkdir -p "$PF/conf/sasl" "$PF/queue" "$PF/data" "$PF_DUMP"
	chmod 777 "$PF_DUMP"
	chown postfix "$PF/data"
	cp "$cert" "$PF/conf/cert.pem"; cp "$key" "$PF/conf/key.pem"; chmod 600 "$PF/conf/key.pem"
	cp "$ca" "$PF/conf/ca.pem"
	start_bg pf-sink smtp-sink -u nobody -d "$PF_DUMP/%H%M%S." "127.0.0.1:$PF_SINK_PORT" 100
	cat > "$PF/conf/main.cf" <<EOC
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = example.test
alias_maps =
alias_database =
relayhost = [127.0.0.1]:$PF_SINK_PORT
smtp_tls_security_level = none
maillog_file_prefixes = /var, /dev/stdout, /tmp, $WORK
maillog_file = $PF_LOG
smtpd_tls_cert_file = $PF/conf/cert.pem
smtpd_tls_key_file = $PF/conf/key.pem
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $PF/conf/sasl
smtpd_sasl_security_options = noanonymous
smtpd_tls_auth_only = yes
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination
EOC
	local R='-o smtpd_sasl_auth_enable=yes -o smtpd_client_restrictions=permit_sasl_authenticated,reject -o smtpd_relay_restrictions=permit_sasl_authenticated,reject'
	{
		echo "127.0.0.1:$PF_SMTP_PORT inet n - n - - smtpd"
		echo "127.0.0.1:$PF_SUBM_PORT inet n - n - - smtpd -o smtpd_tls_security_level=encrypt $R"
		echo "127.0.0.1:$PF_SMTPS_PORT inet n - n - - smtpd -o smtpd_tls_wrappermode=yes $R"
		echo "127.0.0.1:$PF_MTLS_PORT inet n - n - - smtpd -o smtpd_tls_security_level=encrypt -o smtpd_tls_ask_ccert=yes -o smtpd_tls_req_ccert=yes -o smtpd_tls_CAfile=$PF/conf/ca.pem"
		local l
		for l in "pickup unix n - n 60 1 pickup" "cleanup unix n - n - 0 cleanup" "qmgr unix n - n 300 1 qmgr" \
		    "tlsmgr unix - - n 1000? 1 tlsmgr" "rewrite unix - - n - - trivial-rewrite" "bounce unix - - n - 0 bounce" \
		    "defer unix - - n - 0 bounce" "trace unix - - n - 0 bounce" "verify unix - - n - 1 verify" \
		    "flush unix n - n 1000? 0 flush" "proxymap unix - - n - - proxymap" "proxywrite unix - - n - 1 proxymap" \
		    "smtp unix - - n - - smtp" "relay unix - - n - - smtp" "showq unix n - n - - showq" "error unix - - n - - error" \
		    "retry unix - - n - - error" "discard unix - - n - - discard" "local unix - n n - - local" \
		    "lmtp unix - - n - - lmtp" "anvil unix - - n - 1 anvil" "scache unix - - n - 1 scache" \
		    "postlog unix-dgram n - n - 1 postlogd"; do echo "$l"; done
	} > "$PF/conf/master.cf"
	cat > "$PF/conf/sasl/smtpd.conf" <<EOC
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $PF/conf/sasl/sasldb2
mech_list: PLAIN LOGIN
EOC
	echo "$PF_PASS" | saslpasswd2 -c -p -f "$PF/conf/sasl/sasldb2" -u example.test alice
	chown postfix "$PF/conf/sasl/sasldb2"
	pf_cmd check > "$PF/check.log" 2>&1 || { cat "$PF/check.log"; return 1; }
	CLEANUP+=("script -qec 'postfix -c $PF/conf stop' /dev/null")
	pf_cmd start > "$PF/start.log" 2>&1 || { cat "$PF/start.log"; return 1; }
	wait_port "$PF_SINK_PORT" && wait_port "$PF_SMTP_PORT" && wait_port "$PF_SUBM_PORT" &&
	    wait_port "$PF_SMTPS_PORT" && wait_port "$PF_MTLS_PORT"
}
