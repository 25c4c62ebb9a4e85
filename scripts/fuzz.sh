#!/usr/bin/env bash
# fuzz.sh BUILD SECONDS - run every libFuzzer harness of a -Dfuzzing=true build
# for SECONDS each, on a scratch copy of its corpus (the committed corpus is
# only added to by hand: copy a new interesting input from the scratch dir).
set -eu
B=$1; S=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ptt-fuzz.XXXXXX")
rc=0
for h in $(find "$(realpath "$B")/tests/fuzz" -type f -executable -name 'fuzz_*' | sort); do
	name=$(basename "$h"); area=$(basename "$(dirname "$h")")
	corpus=$root/tests/fuzz/$area/$name
	mkdir -p "$scratch/$name"
	[ -d "$corpus" ] && cp -r "$corpus/." "$scratch/$name/"
	echo "== $name ($S s)"
	if ! (cd "$scratch" && "$h" -max_total_time="$S" -max_len=65536 -timeout=10 -rss_limit_mb=2048 "$scratch/$name" 2>&1 | grep -E '^(Done [0-9]+ runs|==.*ERROR|SUMMARY|artifact)' ); then :; fi
	ls "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* 2>/dev/null && { echo "$name: found a failure (inputs in $scratch)"; rc=1; }
done
[ $rc -eq 0 ] && rm -rf "$scratch"
exit $rc
