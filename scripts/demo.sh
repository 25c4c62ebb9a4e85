#!/usr/bin/env bash
# demo.sh BUILD - what ptt can do today, on loopback: start ptt-sink (the
# stand-in MX built on ptt's SMTP server) with STARTTLS, deliver a message
# to it with ptt-smtp-send (ptt's SMTP client) verifying the server's
# certificate, and show what arrived. Everything lives in ./demo.
set -eu
B=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
D=$root/demo
mkdir -p "$D/sink"
sink=$root/$B/src/sink/ptt-sink
send=$root/$B/src/tools/ptt-smtp-send

if [ ! -f "$D/ca.pem" ]; then
	echo "demo: making a throwaway CA and a certificate for mx.demo.test"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$D/ca.key" -out "$D/ca.pem" -days 30 -subj /CN=ptt-demo-ca \
		-addext basicConstraints=critical,CA:TRUE 2>/dev/null
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$D/mx.key" -out "$D/mx.csr" -subj /CN=mx.demo.test 2>/dev/null
	printf 'subjectAltName=DNS:mx.demo.test,IP:127.0.0.1\n' > "$D/mx.ext"
	openssl x509 -req -in "$D/mx.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" \
		-CAcreateserial -days 30 -extfile "$D/mx.ext" -out "$D/mx.pem" 2>/dev/null
	chmod 600 "$D"/*.key
fi

"$sink" -l 127.0.0.1:0 --cert "$D/mx.pem" --key "$D/mx.key" -d "$D/sink" \
	--hostname mx.demo.test > "$D/sink.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	port=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$D/sink.log" | head -1)
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "${port:-}" ] || { echo "demo: ptt-sink did not start:"; cat "$D/sink.log"; exit 1; }
echo "demo: ptt-sink listening on 127.0.0.1:$port (STARTTLS offered)"

before=$(ls "$D/sink" | wc -l)
printf 'From: Alice <alice@demo.test>\r\nTo: Bob <bob@outside.test>\r\nSubject: Hello from ptt\r\nDate: %s\r\nMessage-ID: <%s@demo.test>\r\n\r\nThis message crossed ptt'"'"'s SMTP client and server over verified TLS.\r\n' \
	"$(date -R)" "$(date +%s).$$" > "$D/message.eml"
echo "demo: sending with ptt-smtp-send --tls verified"
"$send" --server "127.0.0.1:$port" --tls verified --ca "$D/ca.pem" \
	--sni mx.demo.test --helo client.demo.test --from alice@demo.test \
	--to bob@outside.test "$D/message.eml"
after=$(ls "$D/sink" | wc -l)
[ "$after" -gt "$before" ] || { echo "demo: nothing arrived"; cat "$D/sink.log"; exit 1; }
f=$(ls -t "$D/sink" | head -1)
echo
echo "demo: it arrived as $D/sink/$f:"
echo "----------------------------------------------------------------------"
tr -d '\r' < "$D/sink/$f"
echo "----------------------------------------------------------------------"
echo "demo: the server's log:"
sed 's/^/  /' "$D/sink.log"
