#!/bin/bash
# dot_reuse.sh - the DNS over TLS backend of relay and mx (src/lib/dns/dot.c)
# against a scripted server (dot_server.py):
#  - queries in flight at once go down one connection, and answers that
#    come back in reverse order reach the right queries;
#  - a connection the server closed after answering (its idle limit) is
#    replaced: the next queries succeed on a new connection; queries in
#    flight when a connection that had worked closes are sent again, once;
#  - a new connection closed unanswered fails its queries (TEMPFAIL) once,
#    without a loop of reconnections.
. "$PTT_SRC/tests/interop/lib.sh"
PROBE=$PTT_BUILD/tests/interop/resolver/dns_probe
SERVER=$PTT_SRC/tests/interop/resolver/dot_server.py
make_ca "$WORK/ca"
start_server() {	# start_server NAME MODE: the server's port
	local p; p=$(free_port)
	start_bg "$1" $PY "$SERVER" "$WORK/ca/server.pem" "$WORK/ca/server.key" "$p" "$2" "$WORK/$1.events"
	wait_line "$WORK/$1.events" listening 10 && wait_port "$p" && echo "$p"
}
probe() {	# probe PORT ARGS...: dns_probe over DoT to the scripted server
	local p=$1; shift
	"$PROBE" --dot "127.0.0.1:$p" --ca "$WORK/ca/ca.pem" --name mx.example.test "$@" 2>>"$WORK/probe.err"
}

P=$(start_server reverse reverse); ok $? "scripted DoT server (answers each batch in reverse order)"
out=$(probe "$P" h7.example.test A | tr '\n' ' ')
ok $([ "$out" = "ok insecure A 192.0.2.7 " ]; echo $?) "one query: answered ($out)"
out=$(probe "$P" --repeat 20 --rounds 2 --pause-ms 200 'h%d.example.test' A)
ok $([ "$out" = "answers=40 ok=40 connections=1 matched=40" ]; echo $?) \
	"two rounds of 20 queries in flight: one connection, each answer, sent in reverse order, reached its own query ($out)"
grep -qE '^batch ([2-9]|1[0-9]|20)$' "$WORK/reverse.events"
ok $? "the server saw several queries pipelined before it answered ($(grep batch "$WORK/reverse.events" | tr '\n' ' '))"

P=$(start_server close close); ok $? "scripted DoT server that closes each connection after answering"
out=$(probe "$P" --repeat 5 --rounds 3 --pause-ms 300 'h%d.example.test' A)
ok $([ "$out" = "answers=15 ok=15 connections=3 matched=15" ]; echo $?) \
	"after the server closed it, the next round goes to a new connection ($out)"

P=$(start_server once once); ok $? "scripted DoT server that drops the queries of the second batch on a connection"
out=$(probe "$P" --repeat 6 --rounds 2 'h%d.example.test' A)
ok $([ "$out" = "answers=12 ok=12 connections=2 matched=12" ] && grep -q '^dropped' "$WORK/once.events"; echo $?) \
	"queries in flight on a connection that had worked are sent again on a new one ($out)"

P=$(start_server mute mute); ok $? "scripted DoT server that closes connections unanswered"
out=$(probe "$P" --repeat 5 host.example.test A)
n=$(grep -c connection "$WORK/mute.events")
ok $([ "$out" = "answers=5 ok=0 connections=1" ] && [ "$n" -eq 1 ]; echo $?) \
	"a new connection closed unanswered: its queries fail, no reconnection loop ($out; server saw $n)"
done_testing
