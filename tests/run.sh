#!/usr/bin/env bash
# run.sh BUILD_DIR - run every test registered with meson (unit, fuzz corpus
# replay, interop) and end with one line: `N passed, N failed, N skipped`,
# counting TAP test points. A test program that crashed, timed out or bailed
# out counts as one failure more than the points it reported.
set -u
B=${1:-build}
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1}
meson test -C "$B" --num-processes 2 --print-errorlogs --no-rebuild
status=$?
/usr/bin/python3 "$(dirname "$0")/summary.py" "$B/meson-logs/testlog.json"
s2=$?
[ $status -eq 0 ] && [ $s2 -eq 0 ]
