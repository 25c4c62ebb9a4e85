# common.sh - start ptt-sink for the smtpd interop scripts.
# start_sink NAME [ptt-sink options...]: runs ptt-sink on a free port with
# messages in $WORK/NAME.out; sets SINK_PORT (and SINK_TLS_PORT when -L is
# among the options, given as "-L auto").
SINK=$PTT_BUILD/src/sink/ptt-sink
start_sink() {
	local name=$1; shift
	local args=() a
	mkdir -p "$WORK/$name.out"
	for a in "$@"; do
		if [ "$a" = auto ]; then args+=("127.0.0.1:0"); else args+=("$a"); fi
	done
	start_bg "$name" "$SINK" -l 127.0.0.1:0 -d "$WORK/$name.out" "${args[@]}"
	local i
	for i in $(seq 100); do
		grep -q '^listening' "$WORK/$name.log" 2>/dev/null && break
		sleep 0.05
	done
	SINK_PORT=$(awk '/^listening/ && !/tls$/ { n = split($2, a, ":"); print a[n]; exit }' "$WORK/$name.log")
	SINK_TLS_PORT=$(awk '/^listening/ && /tls$/ { n = split($2, a, ":"); print a[n]; exit }' "$WORK/$name.log")
	[ -n "$SINK_PORT" ] && wait_port "$SINK_PORT"
}
# count_msgs NAME: files in the sink's directory.
count_msgs() { find "$WORK/$1.out" -name '*.eml' | wc -l; }
# stop_sink NAME: SIGTERM, wait for the exit; fails when it hangs or a
# sanitizer (ASan/UBSan/LSan builds) reported anything.
stop_sink() {
	local pid; pid=$(cat "$WORK/$1.pid")
	kill -TERM "$pid" 2>/dev/null
	local i; for i in $(seq 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			sleep 0.1
			! grep -qE 'Sanitizer|runtime error' "$WORK/$1.log"
			return
		fi
		sleep 0.05
	done
	return 1
}
