# status.sh - helpers for tests that run pttd from a configuration
# repository: committing ptt.conf, starting pttd, reading its status.
# Source after lib.sh, with CFG (the repository), P (the ptt command with
# --config and --state) and PTTD_URL (http://host:port of the page) set.

# commit_conf MESSAGE: commit the work tree's ptt.conf (readable by the
# services, which drop to nobody).
commit_conf() {
	git -C "$CFG" add ptt.conf &&
	git -C "$CFG" -c user.name=test -c user.email=test@example.test commit -qm "$1" ptt.conf
	local r=$?
	chmod -R o+rX "$CFG"
	return $r
}
# start_pttd: `ptt up` execs pttd (same pid) with the repository and
# state directory; $WORK/pttd.pid, $WORK/pttd.log.
start_pttd() { start_bg pttd $P up; }

# status_json: the JSON status; svc_field NAME FIELD: one field of a service.
status_json() { curl -fs --max-time 5 "$PTTD_URL/api/status"; }
svc_field() {
	status_json | $PY -c 'import json,sys; j=json.load(sys.stdin); print([s for s in j["services"] if s["name"]==sys.argv[1]][0][sys.argv[2]])' "$1" "$2" 2>/dev/null
}
all_healthy() {
	status_json | $PY -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if all(s["state"]=="healthy" for s in j["services"]) else 1)' 2>/dev/null
}
wait_healthy() {	# wait_healthy [SECONDS]
	local i
	for i in $(seq $(( ${1:-30} * 5 ))); do all_healthy && return 0; sleep 0.2; done
	return 1
}
# wait_deploy COMMIT OUTCOME-REGEX: until the status lists that deploy;
# last_deploy: the newest deploy as "commit12 outcome detail".
wait_deploy() {
	local i
	for i in $(seq 300); do
		status_json | grep -q "\"commit\":\"$1\",\"outcome\":\"$2\"" && return 0
		sleep 0.2
	done
	return 1
}
last_deploy() {
	status_json | $PY -c 'import json,sys; d=json.load(sys.stdin)["deploys"][0]; print(d["commit"][:12], d["outcome"], d["detail"])'
}
