#!/usr/bin/env bash
# spamfilter.sh - ptt-spamfilter on loopback: a client with the mx.internal
# certificate hands it a ham and a spam message of the SpamAssassin corpus
# (held-out groups; skipped when the corpus is not fetched) over mutual
# implicit TLS; the filter labels them (X-Spam-Status, X-Spam-Flag, forged
# X-Spam-* fields removed) and passes them to a stand-in signer (ptt-sink
# with the signer.internal certificate). A peer with another name is
# refused; with the signer down the answer is 4xx and nothing is delivered,
# and the same message goes through once it is back (nothing lost).
. "$PTT_SRC/tests/interop/lib.sh"
FILTER=$PTT_BUILD/src/spamfilter/ptt-spamfilter
SINK=$PTT_BUILD/src/sink/ptt-sink
SEND=$PTT_BUILD/src/tools/ptt-smtp-send
MODEL=$PTT_SRC/data/spam.model

if ! corpus=$("$PTT_SRC/scripts/spam-corpus.sh" --offline 2>&1); then
	echo "1..0 # SKIP SpamAssassin corpus unavailable: $corpus"
	exit 0
fi

C=$WORK/ca
make_ca "$C"
for n in spamfilter.internal signer.internal mx.internal evil.internal; do
	make_cert "$C" $n
done

sink_port=$(free_port)
mkdir -p "$WORK/signer"
start_sink() {
	start_bg signer "$SINK" -L "127.0.0.1:$sink_port" --cert "$C/signer.internal.pem" \
		--key "$C/signer.internal.key" --ca "$C/ca.pem" -d "$WORK/signer" --hostname signer.internal
	wait_port "$sink_port"
}
start_sink
ok $? "stand-in signer (ptt-sink, mutual implicit TLS) is up"

port=$(free_port)
start_bg filter "$FILTER" -o listen=127.0.0.1:$port -o model="$MODEL" \
	-o cert="$C/spamfilter.internal.pem" -o key="$C/spamfilter.internal.key" -o ca="$C/ca.pem" \
	-o signer=127.0.0.1:$sink_port -o signer_implicit_tls=yes -o pool=0
wait_port "$port"
ok $? "ptt-spamfilter starts: $(head -c 300 "$WORK/filter.log" | tr '\n' ' ')"

# A corpus message as it would arrive from the mx: no mbox From line, CRLF,
# plus any extra header lines given.
prep() {	# prep FILE OUT [extra field lines...]
	local f=$1 out=$2; shift 2
	{ for l in "$@"; do printf '%s\n' "$l"; done; sed '1{/^From /d}' "$f"; } > "$out"
}
send() {	# send CERTNAME FILE
	"$SEND" --server 127.0.0.1:$port --implicit-tls --tls verified --ca "$C/ca.pem" \
		--sni spamfilter.internal --cert "$C/$1.pem" --key "$C/$1.key" --crlf \
		--from sender@example.net --to user@example.test "$2"
}
delivered() { ls "$WORK/signer" | grep -v '^\.' | sort; }
newest() { ls -t "$WORK/signer"/* | head -1; }

ham=$(ls "$corpus"/easy-ham-2/*.txt | head -1)
spam=$(ls "$corpus"/spam-2/*.txt | head -1)

prep "$ham" "$WORK/ham.eml" "X-Spam-Flag: YES" "X-Spam-Status: Yes, score=99"
out=$(send mx.internal "$WORK/ham.eml" 2>&1)
ok $? "the mx hands in a ham message: $(echo "$out" | tail -1)"
f=$(newest)
ok $(grep -q '^X-Spam-Status: No, score=' "$f"; echo $?) "ham: $(grep -m1 '^X-Spam-Status:' "$f")"
ok $([ "$(grep -ci '^X-Spam-' "$f")" = 1 ]; echo $?) "ham: no X-Spam-Flag, the forged X-Spam-* fields are gone"
ok $(grep -q '^	tests=' "$f"; echo $?) "ham: the strongest reasons are listed: $(grep -m1 '^	tests=' "$f")"
cat > "$WORK/same.py" <<'PY'
import re, sys
got = open(sys.argv[1], "rb").read()
while got.startswith(b"X-Ptt-Sink-"):	# the sink's envelope lines
    got = got[got.index(b"\n") + 1:]
sent = open(sys.argv[2], "rb").read().replace(b"\n", b"\r\n")
def strip(m):	# without X-Spam-* fields (and their continuation lines)
    head, body = m.split(b"\r\n\r\n", 1)
    fields = re.split(rb"\r\n(?=[^ \t])", head)
    return [f for f in fields if not f.lower().startswith(b"x-spam-")], body
sys.exit(0 if strip(got) == strip(sent) else 1)
PY
ok $($PY "$WORK/same.py" "$f" "$WORK/ham.eml"; echo $?) \
	"ham: everything else arrives byte for byte"

prep "$spam" "$WORK/spam.eml" "X-Spam-Status: No, score=0" "x-spam-flag: NO"
out=$(send mx.internal "$WORK/spam.eml" 2>&1)
ok $? "the mx hands in a spam message: $(echo "$out" | tail -1)"
f=$(newest)
ok $(grep -q '^X-Spam-Status: Yes, score=' "$f"; echo $?) "spam: $(grep -m1 '^X-Spam-Status:' "$f")"
ok $(grep -q '^X-Spam-Flag: YES' "$f"; echo $?) "spam: X-Spam-Flag: YES"
ok $([ "$(grep -ci '^X-Spam-' "$f")" = 2 ]; echo $?) "spam: the forged X-Spam-* fields are gone"
ok $($PY "$WORK/same.py" "$f" "$WORK/spam.eml"; echo $?) \
	"spam: everything else arrives byte for byte"
ok $([ "$(delivered | wc -l)" = 2 ]; echo $?) "two messages delivered"

out=$(send evil.internal "$WORK/ham.eml" 2>&1)
ok $([ $? -ne 0 ] && [ "$(delivered | wc -l)" = 2 ]; echo $?) \
	"a peer named evil.internal is refused: $(echo "$out" | tail -1)"
ok $(grep -q 'refused peer .*not one of mx.internal' "$WORK/filter.log"; echo $?) "the refusal is logged"

# The signer goes away: 4xx, nothing delivered; back: the retry goes through.
kill "$(cat "$WORK/signer.pid")"
for i in $(seq 50); do kill -0 "$(cat "$WORK/signer.pid")" 2>/dev/null || break; sleep 0.1; done
out=$(send mx.internal "$WORK/ham.eml" 2>&1)
rc=$?
ok $([ $rc = 75 ] && echo "$out" | grep -q ' 4[0-9][0-9]'; echo $?) \
	"signer down: a temporary failure (exit $rc): $(echo "$out" | grep -m1 ' 4[0-9][0-9]')"
ok $([ "$(delivered | wc -l)" = 2 ]; echo $?) "signer down: nothing delivered"
start_sink
out=$(send mx.internal "$WORK/ham.eml" 2>&1)
ok $([ $? = 0 ] && [ "$(delivered | wc -l)" = 3 ]; echo $?) "signer back: the retried message is delivered"

pid=$(cat "$WORK/filter.pid")
hwm=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status)
if grep -q asan /proc/$pid/maps 2>/dev/null; then
	skip "peak memory under 64 MiB" "not measured under sanitizers (${hwm} KiB)"
else
	ok $([ "${hwm:-999999}" -lt 65536 ]; echo $?) "peak memory ${hwm} KiB (< 64 MiB)"
fi
ok $(grep -q ' spam from=<sender@example.net>' "$WORK/filter.log"; echo $?) "the verdicts are logged"
kill "$pid"
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
ok $(kill -0 "$pid" 2>/dev/null; [ $? -ne 0 ]; echo $?) "SIGTERM stops it"
done_testing
