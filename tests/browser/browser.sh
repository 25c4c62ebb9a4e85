#!/usr/bin/env bash
# browser.sh - pttd's status page in headless Chromium (Debian's
# /usr/bin/chromium, driven by playwright-core from npm, pinned by
# package-lock.json; scripts/deps.sh installs both): pttd runs the
# outbound stack (tests/interop/pttd/setup.sh); the page shows every
# service healthy, and after SIGKILL of the relay it shows restarting,
# then healthy again. Skips (TAP) only when chromium is not installed.
. "$PTT_SRC/tests/interop/lib.sh"
HERE=$PTT_SRC/tests/browser
if [ ! -x /usr/bin/chromium ]; then
	skip "the status page in Chromium" "/usr/bin/chromium is not installed (scripts/deps.sh installs it)"
	done_testing; exit
fi
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
	ok 1 "playwright-core is installed in tests/browser/node_modules (scripts/deps.sh: npm ci there)"
	done_testing; exit
fi
. "$PTT_SRC/tests/interop/dns/common.sh"
# Restarts wait 3 s, so the page (read every second) sees "restarting".
PTTD_RESTART_DELAY=3s
. "$PTT_SRC/tests/interop/pttd/setup.sh"
wait_healthy 60
ok $? "pttd runs the outbound stack, every service healthy"
mkdir -p "$WORK/shots"
timeout 180 node "$HERE/page.js" "$PTTD_URL/" relay "$WORK/shots" > "$WORK/page.out" 2>&1
while read -r verdict rest; do
	case $verdict in
	PASS) ok 0 "$rest" ;;
	FAIL) ok 1 "$rest" ;;
	*) diag "$verdict $rest" ;;
	esac
done < "$WORK/page.out"
grep -q '^PASS .*healthy again' "$WORK/page.out"
ok $? "the browser run completed"
done_testing
