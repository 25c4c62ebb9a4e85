#!/usr/bin/env bash
# bench/spam/run.sh - ptt's spam classifier against SpamAssassin 4 on the
# held-out -2 groups of the SpamAssassin public corpus, in the same run.
#
# Both are trained on the same -1 groups (easy-ham-1 + hard-ham-1 as ham,
# spam-1 as spam): ptt ships data/spam.model (trained on them by
# `ptt spam train`, the build step); SpamAssassin gets a private Bayes database filled by
# sa-learn and runs as spamd -L (local tests only: no DNS, no network),
# queried by spamc one message at a time, as an MTA would. Both run on one
# core (one `ptt spam classify` process; spamd --max-children=1).
#
# Usage: bench/spam/run.sh [BUILD_DIR]   (default: build)
# Env:   PTT (the ptt binary), MODEL (default data/spam.model),
#        WORK (scratch dir, default /tmp/ptt-spam-bench), PORT (17831),
#        LIMIT (messages per -2 group, default all), NO_SA=1 (skip SpamAssassin)
# Writes bench/spam/RESULTS.md (the tables) unless OUT= names another file.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
bin=${PTT:-$build/src/ptt/ptt}
model=${MODEL:-$top/data/spam.model}
work=${WORK:-/tmp/ptt-spam-bench}
port=${PORT:-17831}
limit=${LIMIT:-0}
out=${OUT:-$top/bench/spam/RESULTS.md}

[ -x "$bin" ] || { echo "run.sh: no ptt at $bin (build it, or set PTT)" >&2; exit 1; }
corpus=$("$top/scripts/spam-corpus.sh")
mkdir -p "$work"

# The messages, as SpamAssassin is given them: without the mbox "From " line.
prepare() {	# group
	local g=$1 d="$work/msgs/$1"
	[ -f "$d/.done" ] && return 0
	rm -rf "$d"; mkdir -p "$d"
	for f in "$corpus/$g"/*.txt; do
		sed '1{/^From /d}' "$f" > "$d/$(basename "$f")"
	done
	touch "$d/.done"
}
for g in easy-ham-1 hard-ham-1 spam-1 easy-ham-2 spam-2; do prepare $g; done

list() {	# group -> file names (LIMIT applied)
	if [ "$limit" -gt 0 ]; then ls "$work/msgs/$1"/*.txt | head -n "$limit"; else ls "$work/msgs/$1"/*.txt; fi
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
# CPU seconds used so far by a process and its reaped children, plus its
# live children (spamd's preforked child): /proc/PID/stat fields 14-17.
cpu_tree() {
	local p=$1 t=0 c
	t=$(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13 + $14 + $15}')
	for c in $(pgrep -P "$p"); do
		t=$((t + $(sed 's/.*) //' "/proc/$c/stat" | awk '{print $12 + $13}')))
	done
	calc "$t / $(getconf CLK_TCK)"
}

# ---- ptt ----
list easy-ham-2 > "$work/ham2.list"
list spam-2 > "$work/spam2.list"
nham=$(wc -l < "$work/ham2.list"); nspam=$(wc -l < "$work/spam2.list"); n=$((nham + nspam))
t0=$(now)
xargs -a "$work/ham2.list" "$bin" spam classify -m "$model" > "$work/ptt-ham2.out"
xargs -a "$work/spam2.list" "$bin" spam classify -m "$model" > "$work/ptt-spam2.out"
t1=$(now)
ptt_fp=$(grep -c $'\tspam\t' "$work/ptt-ham2.out" || true)
ptt_tp=$(grep -c $'\tspam\t' "$work/ptt-spam2.out" || true)
ptt_rate=$(calc "$n / ($t1 - $t0)")
# Speed per core: CPU seconds (user + system) of one ptt process
# classifying every file 5 times (the machine may be shared: wall time is
# reported too, but CPU time is what one core spends).
for i in 1 2 3 4 5; do cat "$work/ham2.list" "$work/spam2.list"; done > "$work/all5.list"
t0=$(now)
cpu=$( { xargs -a "$work/all5.list" "$bin" spam classify -m "$model" > /dev/null; times; } | tail -1)
t1=$(now)
# `times` prints the children's user and system time as "XmY.YYYs XmY.YYYs"
ptt_cpu=$(echo "$cpu" | awk '{ n = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); n += a[1] * 60 + a[2] } print n }')
ptt_rate5=$(calc "5 * $n / $ptt_cpu")
ptt_wall5=$(calc "5 * $n / ($t1 - $t0)")
printf 'ptt: ham flagged %d/%d, spam caught %d/%d, %.0f msgs/s per CPU second (%.0f wall)\n' \
	"$ptt_fp" "$nham" "$ptt_tp" "$nspam" "$ptt_rate5" "$ptt_wall5"

# ---- SpamAssassin ----
sa=no
if [ "${NO_SA:-0}" != 1 ] && command -v spamd >/dev/null && command -v spamc >/dev/null && command -v sa-learn >/dev/null; then
	sa=yes
	site="$work/sa-site"
	if [ ! -f "$work/bayes.done" ]; then
		rm -rf "$site" "$work/bayes"; mkdir -p "$site" "$work/bayes"
		cp /etc/spamassassin/*.pre /etc/spamassassin/*.cf "$site/"
		cat >> "$site/local.cf" <<EOF
use_bayes 1
bayes_auto_learn 0
bayes_path $work/bayes/bayes
bayes_file_mode 0777
EOF
		echo "run.sh: sa-learn on the -1 groups (a few minutes)" >&2
		sa-learn -L --siteconfigpath "$site" --ham "$work/msgs/easy-ham-1" "$work/msgs/hard-ham-1" >&2
		sa-learn -L --siteconfigpath "$site" --spam "$work/msgs/spam-1" >&2
		chmod -R a+rwX "$work/bayes"
		touch "$work/bayes.done"
	fi
	chmod a+x "$work"
	spamd -L --listen="127.0.0.1:$port" --allowed-ips=127.0.0.1 --siteconfigpath="$site" \
		--pidfile="$work/spamd.pid" --syslog="$work/spamd.log" -u nobody \
		--nouser-config --max-children=1 -d
	trap 'kill $(cat "$work/spamd.pid") 2>/dev/null || true' EXIT
	for i in $(seq 150); do spamc -d 127.0.0.1 -p "$port" -K >/dev/null 2>&1 && break; sleep 0.2; done
	sa_class() {	# list -> count of spam
		local c=0 f
		while read -r f; do
			if ! spamc -d 127.0.0.1 -p "$port" -c < "$f" > /dev/null; then c=$((c + 1)); fi
		done < "$1"
		echo $c
	}
	spid=$(cat "$work/spamd.pid")
	c0=$(cpu_tree "$spid")
	t0=$(now)
	sa_fp=$(sa_class "$work/ham2.list")
	sa_tp=$(sa_class "$work/spam2.list")
	t1=$(now)
	c1=$(cpu_tree "$spid")
	sa_rate=$(calc "$n / ($c1 - $c0)")
	sa_wall=$(calc "$n / ($t1 - $t0)")
	printf 'SpamAssassin: ham flagged %d/%d, spam caught %d/%d, %.1f msgs/s per CPU second (%.1f wall)\n' \
		"$sa_fp" "$nham" "$sa_tp" "$nspam" "$sa_rate" "$sa_wall"
fi

pct() { awk "BEGIN { printf \"%.2f\", 100 * $1 / $2 }"; }
{
	echo "# Spam filter: ptt vs SpamAssassin 4"
	echo
	echo "Generated by \`bench/spam/run.sh\` on $(date -u +%Y-%m-%d) ($(nproc) CPUs, $(uname -m))."
	echo "Held-out test set: SpamAssassin public corpus easy-ham-2 ($nham ham) and spam-2 ($nspam spam)."
	echo "Both filters trained on easy-ham-1 + hard-ham-1 (ham) and spam-1 (spam) only."
	echo
	echo "| filter | ham flagged | spam caught | messages per CPU second | messages/s wall |"
	echo "|---|---|---|---|---|"
	printf '| ptt spam classify (shipped model) | %d/%d (%s%%) | %d/%d (%s%%) | %.0f | %.0f |\n' \
		"$ptt_fp" "$nham" "$(pct "$ptt_fp" "$nham")" "$ptt_tp" "$nspam" "$(pct "$ptt_tp" "$nspam")" \
		"$ptt_rate5" "$ptt_wall5"
	if [ $sa = yes ]; then
		printf '| SpamAssassin %s, spamd -L + Bayes, via spamc | %d/%d (%s%%) | %d/%d (%s%%) | %.1f | %.1f |\n' \
			"$(spamd --version | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -1)" \
			"$sa_fp" "$nham" "$(pct "$sa_fp" "$nham")" "$sa_tp" "$nspam" "$(pct "$sa_tp" "$nspam")" \
			"$sa_rate" "$sa_wall"
		echo
		printf 'Ratios (ptt / SpamAssassin): spam caught %.3f, ham flagged %s, speed (CPU) %.0fx.\n' \
			"$(calc "$ptt_tp / ($sa_tp + 0.000001)")" \
			"$( [ "$sa_fp" -gt 0 ] && awk "BEGIN { printf \"%.2f\", $ptt_fp / $sa_fp }" || echo "n/a (SpamAssassin flagged none)")" \
			"$(calc "$ptt_rate5 / $sa_rate")"
	else
		echo
		echo "SpamAssassin was not run (not installed, or NO_SA=1)."
	fi
	echo
	echo "Speed is messages per CPU second (user + system) because the machine may be"
	echo "shared; wall-clock rates of the same run are in the last column. ptt: one"
	echo "\`ptt spam classify\` process over all the files five times (reading, MIME parsing,"
	echo "decoding, charset conversion, features, scoring); one process per group, with"
	echo "process start and model load, did $(printf '%.0f' "$ptt_rate") messages/s wall."
	echo "SpamAssassin: one spamc per message against one spamd child (-L: no network"
	echo "tests), as an MTA would call it; CPU time of spamd and its child (spamc not counted)."
	if [ $sa = yes ]; then
		echo "Its Bayes database is filled by sa-learn from the same -1 groups on the first"
		echo "run and reused from \$WORK by later runs (this one: learned $(date -u -r "$work/bayes.done" +%Y-%m-%d))."
	fi
} > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
