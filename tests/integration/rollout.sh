#!/usr/bin/env bash
# rollout: staged model rollouts end to end against fleetsim (agent API, registry, control API):
# a good version completes, a bad one is stopped by the gate and its batch rolled back, pause and
# resume, abort, verbs that do not apply, one rollout per device, and a runner killed with -9 in
# the middle of a batch that a new one finishes without updating any device twice.
# Addresses 127.89.x.x keep clear of the other tests. Synchronisation by ready files and bounded
# polling of the database and the control API.
set -u
BUILD=${FLEETDECK_BUILD:?set FLEETDECK_BUILD to the build directory}
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
SIM=$BUILD/fleetsim
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	# detached runners of this test: each database's lease owners
	for db in "$tmp"/*.db; do
		[ -f "$db" ] || continue
		for p in $(python3 -c "
import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
for (o,) in c.execute('SELECT lease_owner FROM rollouts WHERE lease_owner IS NOT NULL'): print(o.split(':')[1])
" "$db" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

wait_ready() {
	local i
	for i in $(seq 600); do
		[ -s "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# poll TRIES CMD...: retries CMD every 0.1 s, at most TRIES times.
poll() {
	local n=$1 i; shift
	for i in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}

CTL=127.89.255.1:7999
REG=127.89.255.1:5000
"$SIM" --devices 8 --factories 2 --seed 3 --base 127.89.0.1 --registry $REG --control $CTL \
	--load-delay-ms 100 --model-kib 16 --write-inventory "$tmp" --ready-file "$tmp/sim.ready" \
	>"$tmp/sim.out" 2>"$tmp/sim.err" &
pids+=($!)
if ! wait_ready "$tmp/sim.ready" "${pids[0]}"; then
	bad "fleetsim starts"; cat "$tmp/sim.err"; finish
fi
INV=$tmp/fleet.ini
HOSTS=$(awk '/^edge-/ {print $1}' "$INV")
FIRST=$(echo "$HOSTS" | head -1)

ctl() { curl -s --max-time 10 "http://$CTL$1" "${@:2}"; }
set_dev() { ctl "/devices/$1/set" -X POST -d "$2" >/dev/null; }
version_of() { ctl "/devices/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["model_version"])'; }
# model loads so far (the exporter's model_load_time_seconds_count): one per update or rollback
loads_of() {
	local addr
	addr=$(awk -v h="$1" '$1 == h {sub("ansible_host=", "", $2); print $2}' "$INV")
	curl -s --max-time 10 "http://$addr:8000/metrics" | awk '/^model_load_time_seconds_count/ {print int($2)}'
}
all_on() { local h; for h in $HOSTS; do [ "$(version_of "$h")" = "$1" ] || return 1; done; }
reset_fleet() { set_dev all '{"model_version": "3.1", "bad_versions": [], "load_delay_ms": '"${1:-100}"'}'; }
# st DB ID EXPR: a Python expression over the status JSON `r`
st() { "$FD" --db "$1" rollout status "$2" --json | python3 -c "import json,sys; r=json.load(sys.stdin); print($3)"; }
state_is() { [ "$(st "$1" "$2" 'r["state"]')" = "$3" ]; }
fast=(--wait-tries 100 --wait-delay-ms 50 --connect-timeout-ms 1000 --timeout-ms 5000)

# ---- a good version: detached runner, every device on 3.2 ----
DB=$tmp/good.db
reset_fleet 100
out=$(USER=alice SSH_CONNECTION="10.1.2.3 50022 10.0.0.1 22" "$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 --serial 2 \
	--reason "quarterly model" "${fast[@]}" 2>&1); rc=$?
check "start exits 0 and names the rollout" test "$rc" -eq 0 -a -n "$(echo "$out" | grep '^rollout 1:')"
check "the detached runner completes the rollout" poll 300 state_is "$DB" 1 completed
check "every device on 3.2 (control API)" all_on 3.2
check "every device recorded as updated, previous version 3.1, one update each" test \
	"$(st "$DB" 1 'all(d["step"] == "updated" and d["prev_version"] == "3.1" and d["attempts"] == 1 for d in r["devices"])')" = True
check "the runner's log is beside the database" test -s "$DB.rollout-1.log"
check "the runner let go of its lease" test "$(st "$DB" 1 'r["lease_owner"]')" = None
check "4 batches of 2 recorded" test "$(st "$DB" 1 '[len(b) for b in r["batches"]]')" = "[2, 2, 2, 2]"
audit=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT actor||'|'||action||'|'||target||'|'||coalesce(detail,'') FROM audit\").fetchall())" "$DB")
check "start is audited with who (USER, SSH client), what and the reason" test -n "$(echo "$audit" | grep "alice from 10.1.2.3|rollout.start|rollout 1|quarterly model")"
steps=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM rollout_log WHERE host IS NOT NULL AND event='start'\").fetchone()[0])" "$DB")
check "every step's start is logged (8 devices x 5 steps)" test "$steps" -eq 40
list=$("$FD" --db "$DB" rollout list)
check "list shows the rollout" test -n "$(echo "$list" | grep -E '^1 +completed +defect-detection 3.2')"

# ---- verbs that do not apply: exit 2, nothing changes ----
before=$("$FD" --db "$DB" rollout status 1 --json)
for verb in pause resume approve abort; do
	"$FD" --db "$DB" rollout $verb 1 >/dev/null 2>"$tmp/verb.err"; rc=$?
	check "$verb of a completed rollout exits 2 and says why" test "$rc" -eq 2 -a -n "$(grep 'does not apply' "$tmp/verb.err")"
done
"$FD" --db "$DB" rollout retry 1 >/dev/null 2>&1; rc=$?
check "retry without failed devices exits 2" test "$rc" -eq 2
after=$("$FD" --db "$DB" rollout status 1 --json)
check "the refused verbs changed nothing" test "$before" = "$after"
"$FD" --db "$DB" rollout pause 99 >/dev/null 2>&1; rc=$?
check "a verb on an unknown rollout exits 2" test "$rc" -eq 2
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 9.9 >/dev/null 2>"$tmp/nover.err"; rc=$?
check "a version the registry lacks is refused before anything is recorded" test "$rc" -eq 2 -a \
	"$(st "$DB" 1 'r["id"]')" = 1 -a -n "$(grep 'no model defect-detection:9.9' "$tmp/nover.err")"
check "...and no second rollout was recorded" test "$("$FD" --db "$DB" rollout list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1

# ---- a bad version: the canary fails validation, the gate stops the rollout ----
DB=$tmp/bad.db
reset_fleet 100
set_dev "$FIRST" '{"bad_version": "3.2"}'
declare -A l0
for h in $HOSTS; do l0[$h]=$(loads_of "$h"); done
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 --serial 1,50% "${fast[@]}" \
	--foreground >"$tmp/bad.out" 2>&1; rc=$?
check "a foreground rollout that fails exits 1" test "$rc" -eq 1
check "the rollout failed at the gate of batch 1" test "$(st "$DB" 1 'r["state"] + "|" + str("batch 1 gate fail" in r["stop_reason"])')" = "failed|True"
check "the canary is back on 3.1" test "$(version_of "$FIRST")" = 3.1
check "the canary is recorded failed with the validation's reason" test \
	"$(st "$DB" 1 'r["devices"][0]["step"] + "|" + str("validation failed" in r["devices"][0]["error"])')" = "failed|True"
untouched=1
for h in $HOSTS; do
	[ "$h" = "$FIRST" ] && continue
	[ "$(version_of "$h")" = 3.1 ] && [ "$(loads_of "$h")" = "${l0[$h]}" ] || untouched=0
done
check "the other devices were not touched (version and model loads unchanged)" test "$untouched" = 1
check "the others are still pending" test "$(st "$DB" 1 'sorted(set(d["step"] for d in r["devices"][1:]))')" = "['pending']"

# retry: only the failed device, and with the bad version cleared the rollout goes on
set_dev "$FIRST" '{"bad_versions": []}'
"$FD" --db "$DB" rollout retry 1 --reason "fixed the canary" --foreground >"$tmp/retry.out" 2>&1; rc=$?
check "retry after the fix completes the rollout" test "$rc" -eq 0 -a "$(st "$DB" 1 'r["state"]')" = completed
check "after the retry every device is on 3.2" all_on 3.2

# rollback: every updated device back to 3.1, newest batch first
"$FD" --db "$DB" rollout rollback 1 --foreground >"$tmp/rb.out" 2>&1; rc=$?
check "rollback of a completed rollout ends rolled_back" test "$rc" -eq 0 -a "$(st "$DB" 1 'r["state"]')" = rolled_back
check "after the rollback every device is on 3.1" all_on 3.1
order=$(python3 -c "
import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
rows=c.execute(\"SELECT d.batch FROM rollout_log l JOIN rollout_devices d ON d.rollout_id=l.rollout_id AND d.host=l.host WHERE l.step='revert' AND l.event='start' ORDER BY l.id\").fetchall()
b=[r[0] for r in rows]; print(len(b) == 8 and b == sorted(b, reverse=True))" "$DB")
check "the rollback went newest batch first" test "$order" = True

# ---- an unreachable canary: the gate is inconclusive, a person approves ----
DB=$tmp/approve.db
reset_fleet 100
set_dev "$FIRST" '{"reachable": false}'
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 --serial 1,50% "${fast[@]}" \
	--connect-timeout-ms 300 --foreground >"$tmp/appr.out" 2>&1; rc=$?
check "a batch of only unreachable devices waits for approval" test "$rc" -eq 0 -a \
	"$(st "$DB" 1 'r["state"] + "|" + r["devices"][0]["step"] + "|" + str(r["current_batch"])')" = "awaiting_approval|unreachable|1"
check "...with nothing else touched" test "$(st "$DB" 1 'sorted(set(d["step"] for d in r["devices"][1:]))')" = "['pending']"
"$FD" --db "$DB" rollout resume 1 >/dev/null 2>&1; rc=$?
check "resume does not apply to a rollout awaiting approval (exit 2)" test "$rc" -eq 2
"$FD" --db "$DB" rollout approve 1 --reason "site offline, known" --foreground >"$tmp/appr2.out" 2>&1; rc=$?
check "approve goes on and completes" test "$rc" -eq 0 -a "$(st "$DB" 1 'r["state"]')" = completed
set_dev "$FIRST" '{"reachable": true}'
"$FD" --db "$DB" rollout retry 1 --foreground >/dev/null 2>&1; rc=$?
check "retry takes the unreachable device once it is back" test "$rc" -eq 0 -a "$(version_of "$FIRST")" = 3.2 -a \
	"$(st "$DB" 1 'r["devices"][0]["step"]')" = updated
check "after approve and retry every device is on 3.2" all_on 3.2

# ---- pause and resume ----
DB=$tmp/pause.db
reset_fleet 700
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 --serial 2 --forks 2 \
	"${fast[@]}" >/dev/null 2>&1
busy() { [ "$(st "$DB" 1 'sum(d["step"] in ("update", "wait", "validate", "updated") for d in r["devices"])')" -ge 1 ]; }
check "the rollout gets going" poll 200 busy
"$FD" --db "$DB" rollout pause 1 --reason "lunch" >/dev/null; rc=$?
check "pause exits 0" test "$rc" -eq 0
runner_gone() { [ "$(st "$DB" 1 'r["lease_owner"]')" = None ]; }
check "the paused runner finishes the devices in flight and lets go" poll 300 runner_gone
check "paused: no device is left mid-way, some are still pending" test \
	"$(st "$DB" 1 'r["state"] + "|" + str(all(d["step"] in ("updated", "pending") for d in r["devices"])) + "|" + str(any(d["step"] == "pending" for d in r["devices"]))')" = "paused|True|True"
"$FD" --db "$DB" rollout resume 1 >/dev/null; rc=$?
check "resume exits 0" test "$rc" -eq 0
check "the resumed rollout completes" poll 400 state_is "$DB" 1 completed
check "after pause and resume every device is on 3.2" all_on 3.2
acts=$(python3 -c "import sqlite3,sys; print(','.join(a for (a,) in sqlite3.connect(sys.argv[1]).execute('SELECT action FROM audit ORDER BY id')))" "$DB")
check "start, pause and resume are audited in order" test "$acts" = "rollout.start,rollout.pause,rollout.resume"

# ---- two rollouts on one device ----
DB=$tmp/hold.db
reset_fleet 2000 # long loads: the abort lands while a device is still loading
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 --serial 2 --forks 1 \
	"${fast[@]}" >/dev/null 2>&1
"$FD" --db "$DB" rollout pause 1 >/dev/null
"$FD" --db "$DB" rollout start -i "$INV" --limit "$FIRST" --model defect-detection --version 3.0 \
	"${fast[@]}" >/dev/null 2>"$tmp/hold.err"; rc=$?
check "a second rollout on a held device is refused (exit 2, naming the holder)" test "$rc" -eq 2 -a \
	-n "$(grep "held by rollout 1" "$tmp/hold.err")"
check "...and nothing of it was recorded" test "$("$FD" --db "$DB" rollout list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1

# ---- abort: devices mid-update finish and go back, finished ones stay ----
"$FD" --db "$DB" rollout resume 1 >/dev/null
midway() { [ "$(st "$DB" 1 'sum(d["step"] in ("update", "wait") for d in r["devices"])')" -ge 1 ]; }
check "the rollout reaches a device mid-update" poll 300 midway
"$FD" --db "$DB" rollout abort 1 --reason "wrong model" >/dev/null; rc=$?
check "abort exits 0" test "$rc" -eq 0
check "the aborted rollout ends aborted" poll 400 state_is "$DB" 1 aborted
consistent=$(st "$DB" 1 'all(d["step"] in ("updated", "reverted", "pending") for d in r["devices"]) and any(d["step"] == "reverted" for d in r["devices"])')
check "after the abort every device is updated, reverted or untouched, and one was reverted" test "$consistent" = True
match=1
for row in $(st "$DB" 1 '" ".join(d["host"] + "=" + d["step"] for d in r["devices"])'); do
	h=${row%%=*}; s=${row#*=}
	v=$(version_of "$h")
	case $s in updated) [ "$v" = 3.2 ] || match=0 ;; *) [ "$v" = 3.1 ] || match=0 ;; esac
done
check "the devices' versions match: updated on 3.2, the rest on 3.1" test "$match" = 1
"$FD" --db "$DB" rollout start -i "$INV" --limit "$FIRST" --model defect-detection --version 3.2 \
	"${fast[@]}" --foreground >/dev/null 2>&1; rc=$?
check "once aborted, its devices may join another rollout" test "$rc" -eq 0

# ---- kill -9 of the runner in the middle of a batch, then resume ----
DB=$tmp/kill.db
reset_fleet 1500
declare -A k0
for h in $HOSTS; do k0[$h]=$(loads_of "$h"); done
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 --serial 4 --forks 4 \
	--lease-ms 1500 "${fast[@]}" >/dev/null 2>&1
waiting() { [ "$(st "$DB" 1 'sum(d["step"] == "wait" for d in r["devices"])')" -ge 2 ]; }
check "the runner has devices waiting for their model" poll 300 waiting
pid=$(st "$DB" 1 'r["lease_owner"].split(":")[1]')
kill -9 "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
check "kill -9 of the runner" poll 100 gone
# (the batch may have finished and passed its gate between the poll and the kill on a loaded machine)
check "the rollout is still running" test "$(st "$DB" 1 'r["state"]')" = running
"$FD" --db "$DB" rollout resume 1 >/dev/null 2>&1; rc=$?
# the dead runner ran on this machine: resume takes its lease over at once, fresh as it is
check "resume while the dead runner's lease is fresh takes over" test "$rc" -eq 0
resume_ok() { [ "$(st "$DB" 1 'r["lease_owner"] is not None and r["lease_owner"].split(":")[1] != "'"$pid"'"')" = True ] ||
	"$FD" --db "$DB" rollout resume 1 >/dev/null 2>&1; }
check "resume starts a new runner once the lease expired" poll 100 resume_ok
check "the new runner finishes the rollout" poll 600 state_is "$DB" 1 completed
check "after the crash every device is on 3.2" all_on 3.2
twice=0
for h in $HOSTS; do [ $(( $(loads_of "$h") - ${k0[$h]} )) -eq 1 ] || twice=1; done
check "no device was updated twice (one model load each, exporter's count)" test "$twice" = 0
check "one POST /update per device recorded" test "$(st "$DB" 1 'sorted(set(d["attempts"] for d in r["devices"]))')" = "[1]"

# ---- a runner that died right after sending an update: the device is not sent another ----
# Deterministic: a finished one-device rollout is put back, in the database, to where a
# runner killed between POST /update and recording its end would have left it.
DB=$tmp/mid.db
reset_fleet 100
"$FD" --db "$DB" rollout start -i "$INV" --limit "$FIRST" --model defect-detection --version 3.2 "${fast[@]}" \
	--foreground >/dev/null 2>&1
m0=$(loads_of "$FIRST")
python3 -c "
import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
c.execute(\"UPDATE rollouts SET state='running', lease_owner=NULL, lease_expiry=NULL, current_batch=0\")
c.execute(\"UPDATE rollout_devices SET step='update', step_ended=NULL\")
c.execute(\"INSERT INTO rollout_holds(host, rollout_id) SELECT host, rollout_id FROM rollout_devices\")
c.commit()" "$DB"
"$FD" --db "$DB" rollout resume 1 --foreground >"$tmp/mid.out" 2>&1; rc=$?
check "resume of a rollout whose runner died mid-update completes it" test "$rc" -eq 0 -a "$(st "$DB" 1 'r["state"]')" = completed
check "the device already on the new version got no second POST /update" test "$(st "$DB" 1 'r["devices"][0]["attempts"]')" = 1
check "...and loaded no model again" test "$(loads_of "$FIRST")" = "$m0"
check "...and was validated again" test -n "$(grep "$FIRST: validate ok" "$tmp/mid.out")"

# ---- devices answering garbage: counted failed or unreachable, the rest go on ----
DB=$tmp/faults.db
reset_fleet 100
set_dev all '{"fault": null}'
SECOND=$(echo "$HOSTS" | sed -n 2p); THIRD=$(echo "$HOSTS" | sed -n 3p)
set_dev "$SECOND" '{"fault": "malformed"}'
set_dev "$THIRD" '{"fault": "oversized"}'
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 --serial all --max-fail 50 \
	"${fast[@]}" --foreground >"$tmp/faults.out" 2>&1; rc=$?
check "a rollout over a malformed and an oversized device completes" test "$rc" -eq 0 -a "$(st "$DB" 1 'r["state"]')" = completed
check "the malformed one failed its health check, the oversized one is unreachable (size cap)" test \
	"$(st "$DB" 1 'r["devices"][1]["step"] + "|" + r["devices"][2]["step"] + "|" + str("larger than" in r["devices"][2]["error"])')" = "failed|unreachable|True"
set_dev all '{"fault": null}'
check "the others are on 3.2" test "$(version_of "$FIRST")" = 3.2 -a "$(version_of "$(echo "$HOSTS" | tail -1)")" = 3.2

# ---- bad input ----
"$FD" --db "$tmp/x.db" rollout start -i "$INV" --model 'a/../b' --version 3.2 >/dev/null 2>&1; rc=$?
check "a model name unfit for a URL is refused" test "$rc" -eq 2
"$FD" --db "$tmp/x.db" rollout start -i "$INV" --model defect-detection --version 3.2 --forks 0 >/dev/null 2>&1; rc=$?
check "--forks 0 is refused" test "$rc" -eq 2
"$FD" --db "$tmp/x.db" rollout status abc >/dev/null 2>&1; rc=$?
check "status of a non-number exits 2" test "$rc" -eq 2

# the detached runners' logs and the foreground outputs: no sanitizer report (ASan builds)
check "no sanitizer report from any runner" test -z "$(grep -l 'Sanitizer\|runtime error:' "$tmp"/*.log "$tmp"/*.out 2>/dev/null)"

finish
