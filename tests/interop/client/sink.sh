#!/bin/bash
# Interop: ptt-smtp-send (the SMTP client engine) against Postfix's smtp-sink:
# one message to several recipients, many messages over reused connections
# (counted in the sink's dump directory), BDAT fallback to DATA, and the
# exit status for 4xx, 5xx, 421 and a dropped connection.
. "$PTT_SRC/tests/interop/lib.sh"
SEND=$PTT_BUILD/src/tools/ptt-smtp-send

if ! command -v smtp-sink >/dev/null || [ "$(id -u)" != 0 ]; then
	skip "smtp-sink interop" "needs postfix's smtp-sink and root"
	done_testing; exit
fi
chmod 755 "$WORK"

# sink NAME [smtp-sink options...]: start one, set $PORT and $DUMP
sink() {
	local name=$1; shift
	PORT=$(free_port); DUMP=$WORK/$name.dump
	mkdir -p "$DUMP"; chmod 777 "$DUMP"
	start_bg "$name" smtp-sink -u nobody -c -d "$DUMP/%H%M%S." "$@" "127.0.0.1:$PORT" 100
	wait_port "$PORT"
}
count() { find "$1" -type f | wc -l; }

sink main
"$SEND" --server 127.0.0.1:$PORT --from a@example.test --to b@example.test \
	--to c@example.test --to d@example.test --count 1 > "$WORK/one.out"
ok $? "one message, three recipients: exit 0"
[ "$(grep -c '^to=<.*> accepted: 250' "$WORK/one.out")" = 3 ]
ok $? "three per-recipient results printed"
grep -q '^summary: 1 message, 1 accepted' "$WORK/one.out"; ok $? "summary line"

"$SEND" --server 127.0.0.1:$PORT --from a@example.test --to b@example.test \
	--count 300 --concurrency 5 > "$WORK/load.out"
ok $? "300 messages over 5 connections: exit 0"
grep -q ' 5 sessions' "$WORK/load.out"; ok $? "connections reused (5 sessions for 300 messages)"
sleep 0.5
[ "$(count "$DUMP")" = 301 ]; ok $? "the sink dumped every message ($(count "$DUMP"))"

printf 'Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n' > "$WORK/dots.eml"
rm -rf "$DUMP"/*
"$SEND" --server 127.0.0.1:$PORT --to b@example.test --bdat "$WORK/dots.eml" > /dev/null
ok $? "--bdat falls back to DATA when CHUNKING is not offered"
sleep 0.3
f=$(find "$DUMP" -type f | head -1)
[ -n "$f" ] && grep -q '^\.leading dot' "$f" && grep -q '^\.\.two' "$f" && grep -qx '.' <(tr -d '\r' < "$f")
ok $? "dot-stuffed lines arrive intact"

printf 'Subject: bare\n\nLF only\n' > "$WORK/lf.eml"
"$SEND" --server 127.0.0.1:$PORT --to b@example.test "$WORK/lf.eml" > /dev/null 2>&1
ok $(( $? == 1 ? 0 : 1 )) "bare LF message refused (exit 1)"
"$SEND" --server 127.0.0.1:$PORT --to b@example.test --crlf "$WORK/lf.eml" > /dev/null
ok $? "--crlf converts it"

sink soft -r RCPT
"$SEND" --server 127.0.0.1:$PORT --to b@example.test --count 1 > "$WORK/soft.out"
ok $(( $? == 75 ? 0 : 1 )) "RCPT 4xx: exit 75"
grep -q 'deferred: 450' "$WORK/soft.out"; ok $? "RCPT 4xx reported per recipient"

sink hard -f RCPT
"$SEND" --server 127.0.0.1:$PORT --to b@example.test --count 1 > "$WORK/hard.out"
ok $(( $? == 1 ? 0 : 1 )) "RCPT 5xx: exit 1"
grep -q 'refused: 500' "$WORK/hard.out"; ok $? "RCPT 5xx reported per recipient"

sink hardmail -f DATA
"$SEND" --server 127.0.0.1:$PORT --to b@example.test --to c@example.test --count 1 > "$WORK/hd.out"
ok $(( $? == 1 ? 0 : 1 )) "DATA 5xx: exit 1"

sink q421 -Q MAIL
"$SEND" --server 127.0.0.1:$PORT --to b@example.test --count 3 --concurrency 1 > "$WORK/421.out" 2>&1
ok $(( $? == 75 ? 0 : 1 )) "421 after MAIL: exit 75"

sink drop -q DATA
"$SEND" --server 127.0.0.1:$PORT --to b@example.test --count 1 > "$WORK/drop.out" 2>&1
ok $(( $? == 75 ? 0 : 1 )) "connection dropped after DATA: exit 75"

"$SEND" --server 127.0.0.1:$(free_port) --to b@example.test --count 1 > /dev/null 2>&1
ok $(( $? == 75 ? 0 : 1 )) "nobody listening: exit 75"

done_testing
