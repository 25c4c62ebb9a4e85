#!/bin/bash
# smtp_source.sh - Postfix's smtp-source pushes thousands of messages over
# 20 parallel sessions into ptt-sink; every one must be on disk (files ==
# messages sent), none lost, none duplicated. Then the same with the hooks
# answering asynchronously (--delay-ms) and with PIPELINING disabled on the
# client side (-c counts, -d disconnect each message).
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/smtpd/common.sh"

SRC=/usr/sbin/smtp-source
if [ ! -x $SRC ]; then skip "smtp-source" "postfix not installed"; done_testing; exit 0; fi

# --no-fsync: this run measures the SMTP side, not the disk
start_sink a --no-fsync
timeout 240 $SRC -s 20 -m 5000 -l 2000 -f sender@example.test -t rcpt@example.test \
	127.0.0.1:$SINK_PORT > "$WORK/src-a.log" 2>&1
ok $? "smtp-source -s 20 -m 5000 finished"
n=$(count_msgs a)
test "$n" -eq 5000; ok $? "5000 messages stored (got $n)"
ids=$(grep -h '^X-Ptt-Sink-Id:' "$WORK"/a.out/*.eml | sort | uniq | wc -l)
test "$ids" -ge 20; ok $? "spread over many sessions ($ids)"
f=$(ls "$WORK"/a.out/*.eml | head -1)
grep -q '^X-Ptt-Sink-Mail-From: <sender@example.test>' "$f"; ok $? "envelope in the files"
test -z "$(ls -A "$WORK/a.out" | grep '^\.tmp')"; ok $? "no temporary files left"
stop_sink a; ok $? "clean stop"

start_sink b --delay-ms 2
timeout 240 $SRC -s 10 -m 1000 -d -r 3 -f sender@example.test -t rcpt@example.test \
	127.0.0.1:$SINK_PORT > "$WORK/src-b.log" 2>&1
ok $? "smtp-source with asynchronous hooks, 3 recipients, disconnecting each time"
n=$(count_msgs b)
test "$n" -eq 1000; ok $? "1000 messages stored (got $n)"
r=$(grep -h '^X-Ptt-Sink-Rcpt-To:' "$WORK"/b.out/*.eml | wc -l)
test "$r" -eq 3000; ok $? "3 recipients each ($r)"
stop_sink b; ok $? "clean stop"
done_testing
