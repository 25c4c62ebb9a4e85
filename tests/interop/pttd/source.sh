#!/usr/bin/env bash
# source.sh - pttd following a branch of the ptt source repository
# (source_repo): a local git repository stands in for it, whose build
# script copies this build's daemons into build/src/<dir>/ (compiling ptt
# would be far too slow here) and whose test script fails when the commit
# holds a file FAIL; the build script fails (status 2) when it holds
# BUILDFAIL. pttd runs the outbound stack of setup.sh:
#  - the branch's head is built, tested and every service rolls over to
#    the executables in source_dir/<commit> (/proc/PID/exe), the status
#    shows the commit as each service's version;
#  - old checkouts no service runs are removed, their logs kept;
#  - a new commit, under a steady SMTP load: every service rolls over to
#    its build, zero failed sessions, no lost message;
#  - a commit whose tests fail, then one whose build fails: the deploy is
#    shown as failed with the step and the last lines of its output, and
#    every service keeps its process and executable;
#  - a restarted pttd starts the services from the build deployed and
#    does not try the failed commit again;
#  - a build whose signer cannot start: the services rolled over before
#    it are rolled back, so every service runs the previous build.
. "$PTT_SRC/tests/interop/lib.sh"
. "$PTT_SRC/tests/interop/dns/common.sh"

SRC=$WORK/ptt-source
mkdir -p "$SRC"
git -C "$SRC" init -q -b main
cat > "$SRC/build.sh" <<'SH'
# build.sh BUILD: "builds" ptt by copying BUILD's daemons.
set -e
[ ! -e BUILDFAIL ] || { echo "build: BUILDFAIL says no" >&2; exit 2; }
for d in dns relay signer submission ptt; do
	mkdir -p build/src/$d
	for f in "$1"/src/$d/ptt "$1"/src/$d/ptt-*; do
		[ -f "$f" ] && [ -x "$f" ] && cp "$f" build/src/$d/
	done
done
if [ -e BADSIGNER ]; then
	printf '#!/bin/sh\necho "ptt-signer: this build is broken"\nexit 1\n' > build/src/signer/ptt-signer
fi
git rev-parse HEAD > build/marker
echo "build: done"
SH
cat > "$SRC/test.sh" <<'SH'
echo "unit tests: 1..1"
if [ -e FAIL ]; then echo "not ok 1 - the FAIL file says so"; exit 1; fi
echo "ok 1"
SH
echo one > "$SRC/VERSION"
gitc() { git -C "$SRC" -c user.name=test -c user.email=test@example.test "$@"; }
gitc add -A && gitc commit -qm "first"
first=$(git -C "$SRC" rev-parse HEAD)

PTTD_EXTRA="source_repo = $SRC
source_branch = main
source_poll = 1s
source_build = sh build.sh $PTT_BUILD
source_test = sh test.sh
source_timeout = 2m"
. "$PTT_SRC/tests/interop/pttd/setup.sh"
BUILDS=$ST/pttd/builds

wait_healthy 60
ok $? "pttd starts dns, relay, signer and submission, healthy"

# svc_exe NAME: the executable the service's current process runs.
svc_exe() { readlink "/proc/$(svc_field $1 pid)/exe"; }
# on_build COMMIT: every service runs that build, healthy, with it as version.
on_build() {
	local s n=0
	for s in dns relay signer submission; do
		case "$(svc_exe $s)" in
		"$BUILDS/$1/build/src/"*/ptt-$s) ;;
		*) diag "$s runs $(svc_exe $s), version $(svc_field $s version)"; continue ;;
		esac
		[ "$(svc_field $s version)" = "$1" ] || { diag "$s version $(svc_field $s version)"; continue; }
		n=$((n + 1))
	done
	[ $n -eq 4 ]
}
source_field() {
	status_json | $PY -c 'import json,sys; print(json.load(sys.stdin)["source"][sys.argv[1]])' "$1"
}

# 1. The branch's head at start.
wait_deploy "$first" '\(deployed\|failed\)'
out=$(last_deploy)
ok $(echo "$out" | grep -q "^${first:0:12} deployed rolled over: dns relay signer submission"; echo $?) \
	"the branch's head is built, tested and deployed: $out"
ok $([ "$(cat "$BUILDS/$first/build/marker")" = "$first" ] &&
	grep -q "unit tests" "$BUILDS/$first.log"; echo $?) "built in a fresh checkout of the commit, output in its log"
wait_healthy 30
ok $(on_build "$first"; echo $?) "every service runs the executables of $BUILDS/${first:0:12}, version ${first:0:12}"
ok $([ "$(source_field commit)" = "$first" ] && [ "$(source_field state)" = idle ]; echo $?) \
	"the status shows the source commit deployed"
ok $(status_json | grep -q '"kind":"source","commit":"'$first'"'; echo $?) "the deploy is listed with kind source"

# 2. A new commit, under load.
declare -A before exe
start_load src
wait_sessions src 3
echo two > "$SRC/VERSION"
gitc commit -qam "second"
second=$(git -C "$SRC" rev-parse HEAD)
wait_deploy "$second" '\(deployed\|failed\)'
out=$(last_deploy)
ok $(echo "$out" | grep -q "^${second:0:12} deployed"; echo $?) "a new commit is deployed: $out"
wait_sessions src 3
stop_load src
wait_healthy 30
ok $(on_build "$second"; echo $?) "every service rolled over to the executables of ${second:0:12}"
ok_n=$(sessions src OK); fail_n=$(sessions src FAIL)
ok $([ "$ok_n" -ge 6 ] && [ "$fail_n" -eq 0 ]; echo $?) \
	"zero failed SMTP sessions during the source rollover ($ok_n got 250, $fail_n failed)"
grep FAIL "$WORK/load-src.log" | head -3 | cut -c1-200 | sed 's/^/# /'
missing=$(lost src)
ok $([ "$missing" -eq 0 ]; echo $?) "zero lost messages ($missing of $ok_n missing)"

# unchanged: every service kept its process and its executable.
snapshot() { local s; for s in dns relay signer submission; do before[$s]=$(svc_field $s pid); exe[$s]=$(svc_exe $s); done; }
unchanged() {
	local s n=0
	for s in dns relay signer submission; do
		[ "$(svc_field $s pid)" = "${before[$s]}" ] && [ "$(svc_exe $s)" = "${exe[$s]}" ] &&
			[ "$(svc_field $s version)" = "$second" ] && n=$((n + 1))
	done
	[ $n -eq 4 ] && all_healthy
}

# 3. A commit whose tests fail.
snapshot
touch "$SRC/FAIL"
gitc add FAIL && gitc commit -qm "the tests fail"
bad=$(git -C "$SRC" rev-parse HEAD)
wait_deploy "$bad" '[a-z]*'
out=$(last_deploy)
ok $(echo "$out" | grep -q "^${bad:0:12} failed the tests exited with status 1: .*not ok 1 - the FAIL file says so"; echo $?) \
	"a commit whose tests fail is not deployed, the status says why: $out"
ok $(unchanged; echo $?) "every service keeps its process and executable"
ok $([ "$(source_field commit)" = "$second" ]; echo $?) "the source commit shown is still ${second:0:12}"

# 4. A commit whose build fails.
gitc rm -q FAIL && touch "$SRC/BUILDFAIL" && gitc add BUILDFAIL && gitc commit -qm "the build fails"
bad2=$(git -C "$SRC" rev-parse HEAD)
wait_deploy "$bad2" '[a-z]*'
out=$(last_deploy)
ok $(echo "$out" | grep -q "^${bad2:0:12} failed the build exited with status 2: .*BUILDFAIL says no"; echo $?) \
	"a commit whose build fails is not deployed, the status says why: $out"
ok $(unchanged; echo $?) "every service still keeps its process and executable"

# 5. Old checkouts go once nothing runs them; the logs stay.
mkdir -p "$BUILDS/not-a-build"
for i in $(seq 150); do
	[ "$(cd "$BUILDS" && ls -d */ | tr -d / | sort | tr '\n' ' ')" = "$second not-a-build " ] && break
	sleep 0.2
done
ok $([ "$(cd "$BUILDS" && ls -d */ | tr -d / | sort | tr '\n' ' ')" = "$second not-a-build " ] &&
	[ -s "$BUILDS/$first.log" ] && [ -s "$BUILDS/$bad2.log" ]; echo $?) \
	"the checkouts no service runs are removed, their logs and other directories stay: $(cd "$BUILDS" && ls -d */ | tr '\n' ' ')"

kill "$(cat "$WORK/pttd.pid")"
for i in $(seq 150); do kill -0 "$(cat "$WORK/pttd.pid")" 2>/dev/null || break; sleep 0.2; done
ok $(! kill -0 "$(cat "$WORK/pttd.pid")" 2>/dev/null; echo $?) "SIGTERM stops pttd"
! grep -q "Sanitizer\|runtime error" "$WORK/pttd.log"
ok $? "pttd: no sanitizer report"

# 6. A restarted pttd starts the services from the build deployed, and
# does not try the failed commit again.
start_bg pttd-again $P up
wait_healthy 60
ok $(on_build "$second"; echo $?) "after a restart every service runs the build of ${second:0:12} again"
rm "$SRC/BUILDFAIL" && echo three > "$SRC/VERSION" && gitc add -A && gitc commit -qm "third"
third=$(git -C "$SRC" rev-parse HEAD)
wait_deploy "$third" '\(deployed\|failed\)'
out=$(last_deploy)
wait_healthy 30
ok $(echo "$out" | grep -q "^${third:0:12} deployed" && on_build "$third"; echo $?) "the next commit rolls over: $out"
ok $(! status_json | grep -q "$bad2"; echo $?) "the failed commit was not built again"

# 7. A build whose signer cannot start: dns and relay roll over to it
# first; then the deploy fails and they go back to the build of third.
sig=$(svc_field signer pid)
touch "$SRC/BADSIGNER" && gitc add BADSIGNER && gitc commit -qm "the signer is broken"
bad3=$(git -C "$SRC" rev-parse HEAD)
wait_deploy "$bad3" failed
for i in $(seq 300); do last_deploy | grep -q "rolled back after" && break; sleep 0.2; done
out=$(status_json | $PY -c 'import json,sys; print([d["detail"] for d in json.load(sys.stdin)["deploys"] if d["commit"]==sys.argv[1]][0])' "$bad3")
ok $(echo "$out" | grep -q "^signer: the new instance exited with status 1: ptt-signer: this build is broken (2 of 4 services rolled over before, rolled back;"; echo $?) \
	"a build whose signer fails is not deployed: $out"
out=$(last_deploy)
wait_healthy 30
ok $(echo "$out" | grep -q "^${third:0:12} deployed rolled back after the failed deploy: dns relay;" &&
	on_build "$third" && [ "$(svc_field signer pid)" = "$sig" ]; echo $?) \
	"dns and relay are rolled back, every service runs ${third:0:12} again, the signer never stopped: $out"

kill "$(cat "$WORK/pttd-again.pid")"
for i in $(seq 150); do kill -0 "$(cat "$WORK/pttd-again.pid")" 2>/dev/null || break; sleep 0.2; done
! grep -q "Sanitizer\|runtime error" "$WORK/pttd-again.log"
ok $? "pttd (restarted): no sanitizer report"
done_testing
