#!/bin/bash
# install.sh - what `make install` puts in place is a working ptt: meson
# installs the build into a scratch root (--destdir), and there
#  - every program pttd starts is beside pttd, with ptt and the spam model
#    where ptt-spamfilter looks for it by default;
#  - pttd's systemd unit starts the installed pttd;
#  - the installed ptt runs `init` and `check`, which finds the installed
#    services and runs each section through them.
. "$PTT_SRC/tests/interop/lib.sh"
ptt_repo_env
R=$WORK/root
meson install -C "$PTT_BUILD" --destdir "$R" --no-rebuild --quiet > "$WORK/install.log" 2>&1
ok $? "meson install --destdir (what make install runs)"
prefix=$(meson introspect "$PTT_BUILD" --buildoptions | $PY -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
B=$R$prefix/bin
missing=""
for p in pttd ptt ptt-dns ptt-resolver ptt-acme ptt-relay ptt-signer ptt-spamfilter ptt-mx ptt-submission; do
	[ -x "$B/$p" ] || missing="$missing $p"
done
ok $([ -z "$missing" ]; echo $?) "pttd, ptt and every service in $prefix/bin (missing:${missing:- none})"
[ -s "$R$prefix/share/ptt/spam.model" ] &&
	"$B/ptt-spamfilter" --defaults | grep -qx "model = $prefix/share/ptt/spam.model"
ok $? "the spam model is installed where ptt-spamfilter reads it by default"
unit=$R$prefix/lib/systemd/system/pttd.service
exe=$(sed -n 's/^ExecStart=//p' "$unit" 2>/dev/null)
[ -n "$exe" ] && [ -x "$R$exe" ] && grep -q '^Environment=PTT_CONFIG=/var/lib/ptt/config PTT_STATE=/var/lib/ptt/state$' "$unit"
ok $? "pttd.service starts the installed pttd ($exe) on the default paths"
"$B/ptt" init example.test --ip 127.0.0.1 > "$WORK/init.out" 2>&1
ok $? "the installed ptt runs init"
"$B/ptt" check > "$WORK/check.out" 2>&1 && grep -q 'the sections of 8 services' "$WORK/check.out"
ok $? "and check, through the installed services: $(cat "$WORK/check.out")"
done_testing
