# common.sh - shared setup for the ptt-dns interop tests: a zones directory
# with example.test, a TSIG key, a policy, and a running ptt-dns.
# Source after lib.sh.

DNSD=$PTT_BUILD/src/dns/ptt-dns
DNSUPD=$PTT_BUILD/src/dns/ptt-dns-update
ZONES=$WORK/zones
KEYS=$WORK/keys
mkdir -p "$ZONES" "$KEYS"

# for_sandbox: ptt-dns drops to "nobody" when it enters its sandbox as root
# (it does unless the zones are in git): let it reach the zones and write
# them back under the private work directory.
for_sandbox() {
	chmod 711 "$WORK"
	chown nobody "$ZONES" "$@"
}

write_zone() {	# write_zone ZONE SERIAL > file
	cat <<Z
\$ORIGIN $1.
\$TTL 60
@       SOA ns1 hostmaster $2 3600 600 86400 60
@       NS  ns1
ns1     A   127.0.0.1
@       A   127.0.0.1
@       MX  10 mx
mx      A   127.0.0.1
mx      AAAA ::1
@       TXT "v=spf1 ip4:127.0.0.0/8 ip6:::1 -all"
_dmarc  TXT "v=DMARC1; p=reject; rua=mailto:dmarc@$1"
www     CNAME @
alias   CNAME mx
sub     NS  ns.sub
ns.sub  A   127.0.0.2
*.wild  TXT "wildcard"
a.b.c   A   127.0.0.3
Z
}

# make_key NAME: a TSIG key file $KEYS/NAME and its secret in $SECRET_NAME
make_key() {
	local s; s=$(openssl rand -base64 32)
	(umask 077; echo "$1:hmac-sha256:$s" > "$KEYS/$1")
	echo "$s"
}

# start_dnsd PORT args...: ptt-dns on 127.0.0.1:PORT, waits until it answers
# for $DNSD_PROBE (default example.test)
start_dnsd() {
	local port=$1; shift
	start_bg dnsd "$DNSD" --zones "$ZONES" -l "127.0.0.1:$port" \
		--reload-interval 1s "$@"
	local i
	for i in $(seq 50); do
		kdig +short +time=1 +retry=0 @127.0.0.1 -p "$port" "${DNSD_PROBE:-example.test}" SOA \
			2>/dev/null | grep -q hostmaster && return 0
		sleep 0.1
	done
	diag "ptt-dns did not start:"; sed 's/^/# /' "$WORK/dnsd.log"
	return 1
}

# serial PORT: the SOA serial ptt-dns serves for example.test
serial() {
	kdig +short @127.0.0.1 -p "$1" example.test SOA | awk '{print $3}'
}
