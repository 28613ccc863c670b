#!/usr/bin/env bash
# rollouts: the console's rollouts view in a real terminal (tmux) over a real rollout against
# fleetsim: the active rollout in the header, batches and device steps, pause and resume from the
# keyboard, verbs that do not apply, a rollback behind a typed confirmation (a wrong answer does
# nothing), abort behind y/N, approve of a gate that paused, read-only consoles that cannot change
# anything, and every action audited with who did it.
# Waits are bounded polls of the screen or of `fleetdeck rollout status`; nothing sleeps a guessed time.
# Addresses 127.80.x.x and a private tmux socket keep clear of other tests.
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
BUILD=${FLEETDECK_BUILD:?set FLEETDECK_BUILD}
SIM=$BUILD/fleetsim
command -v tmux >/dev/null || { echo "FAIL tmux is not installed"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d)
sock=fdro$$
pids=()
cleanup() {
	tmux -L "$sock" kill-server 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	if [ -f "$tmp/h.db" ]; then
		for p in $(python3 -c "
import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
for (o,) in c.execute('SELECT lease_owner FROM rollouts WHERE lease_owner IS NOT NULL'): print(o.split(':')[1])
" "$tmp/h.db" 2>/dev/null); do kill "$p" 2>/dev/null; done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }
poll() { local n=$1 i; shift; for i in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }

CTL=127.80.255.1:7999
REG=127.80.255.1:5000
"$SIM" --devices 8 --factories 2 --seed 3 --base 127.80.0.1 --registry $REG --control $CTL \
	--load-delay-ms 100 --model-kib 16 --write-inventory "$tmp" --ready-file "$tmp/ready" >"$tmp/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -s "$tmp/ready" ] && break; sleep 0.05; done
[ -s "$tmp/ready" ] || { bad "fleetsim did not start"; cat "$tmp/sim.log"; finish; }
INV=$tmp/fleet.ini
DB=$tmp/h.db
HOSTS=$(awk '/^edge-/ {print $1}' "$INV")
export XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config
unset NO_COLOR

ctl() { curl -s --max-time 10 "http://$CTL$1" "${@:2}"; }
set_dev() { ctl "/devices/$1/set" -X POST -d "$2" >/dev/null; }
version_of() { ctl "/devices/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["model_version"])'; }
all_on() { local h; for h in $HOSTS; do [ "$(version_of "$h")" = "$1" ] || return 1; done; }
st() { "$FD" --db "$DB" rollout status "$1" --json | python3 -c "import json,sys; r=json.load(sys.stdin); print($2)"; }
state_is() { [ "$(st "$1" 'r["state"]')" = "$2" ]; }
fast=(--wait-tries 200 --wait-delay-ms 50 --connect-timeout-ms 1000 --timeout-ms 5000)

tm() { tmux -L "$sock" "$@"; }
screen() { tm capture-pane -p -t "$1"; }
wait_for() {
	local s=$1 re=$2 n=${3:-300} i
	for i in $(seq "$n"); do
		screen "$s" 2>/dev/null | grep -Eq -- "$re" && return 0
		sleep 0.05
	done
	return 1
}
expect() {
	if wait_for "$2" "$3"; then ok "$1"; else bad "$1: screen lacks /$3/"; screen "$2" | head -40 | sed 's/^/    | /'; fi
}
expect_not() {
	if screen "$2" | grep -Eq -- "$3"; then bad "$1: screen shows /$3/"; screen "$2" | head -30 | sed 's/^/    | /'; else ok "$1"; fi
}
keys() { tm send-keys -t "$1" "${@:2}"; }
start() {
	local s=$1; shift
	local cmd
	cmd=$(printf '%q ' env TERM=xterm-256color LANG=C.UTF-8 USER=carol SSH_CONNECTION="10.9.8.7 40000 10.0.0.1 22" \
		"$FD" -i "$INV" --db "$DB" --interval 1 --refresh 0.1 --timeout 1 "$@")
	tm new-session -d -s "$s" -x 150 -y 45 "$cmd; echo \$? >$tmp/$s.rc; sleep 60"
}

# ---- a slow rollout, watched and steered from the console ----
set_dev all '{"load_delay_ms": 1500}'
start main
expect "the console is up" main 'Devices \(8 of 8\)'
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 --serial 2 "${fast[@]}" \
	>"$tmp/start.out" 2>&1 || { bad "rollout start"; cat "$tmp/start.out"; }
expect "the header shows the active rollout" main 'rollout #1 defect-detection 3.2 running'
keys main o
expect "o opens the rollouts view" main 'Rollouts .*p pause/resume'
expect "the batches with their progress" main 'batch 4 .*0/2'
expect "each device's step" main 'edge-[a-z]+-0[0-9] +1 +(health|record|update|wait|validate|updated)'
keys main p
check "p pauses the rollout" poll 100 state_is 1 paused
expect "the view and the header say paused" main 'defect-detection 3.2 paused'
expect "the result of the command is shown" main 'pause rollout #1: rollout 1: running -> paused'
keys main p
check "p again resumes it, and it completes" poll 600 state_is 1 completed
check "every device on 3.2" all_on 3.2
expect "the view shows it completed" main '#1 +defect-detection +3.2 +completed'
expect_not "a completed rollout leaves the header" main '^ fleetdeck.*rollout #1'

# verbs that do not apply say so and change nothing
keys main x
expect "abort of a completed rollout does not apply" main 'rollout #1 is completed: abort does not apply'
check "... and nothing changed" state_is 1 completed

# rollback behind a typed confirmation
keys main b
expect "rollback asks for the rollout's number to be typed" main 'Type 1 and Enter to confirm'
expect "the question names what it will do" main 'every updated device \(8 of 8\) goes back'
keys main 7 Enter
expect "a wrong answer does nothing" main "'7' is not '1': nothing done"
check "... the rollout is still completed" state_is 1 completed
keys main b
expect "asked again" main 'Type 1 and Enter'
keys main Escape
expect "Esc cancels" main 'rollback rollout #1: cancelled, nothing done'
keys main b
expect "asked a third time" main 'Type 1 and Enter'
keys main 1 Enter
check "typing 1 rolls the rollout back" poll 600 state_is 1 rolled_back
check "every device back on 3.1" all_on 3.1
audit=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT group_concat(actor||'|'||action||'|'||coalesce(detail,''), ';') FROM audit\").fetchone()[0])" "$DB")
check "the console's pause, resume and rollback are audited with who and from where" \
	bash -c "echo '$audit' | grep -q 'carol from 10.9.8.7|rollout.pause|from the console' &&
		echo '$audit' | grep -q 'carol from 10.9.8.7|rollout.resume' &&
		echo '$audit' | grep -q 'carol from 10.9.8.7|rollout.rollback'"

# ---- abort behind y/N ----
set_dev all '{"load_delay_ms": 2000}'
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 --serial 2 "${fast[@]}" \
	>"$tmp/start2.out" 2>&1 || bad "second rollout start"
expect "the view follows the new rollout" main '#2 +defect-detection +3.2 +running'
keys main x
expect "abort asks, naming what it does" main 'Abort rollout #2 .*no new device starts'
keys main n
expect "n cancels" main 'abort rollout #2: cancelled, nothing done'
check "... still running" state_is 2 running
keys main x
expect "asked again" main 'Abort rollout #2'
keys main y
check "y aborts" poll 600 state_is 2 aborted
check "no device of rollout 2 left half-way" test "$(st 2 'all(d["step"] in ("updated","reverted","pending","current","failed","unreachable") for d in r["devices"])')" = True

# ---- approve a gate that paused: the first batch unreachable ----
set_dev all '{"load_delay_ms": 100}'
for h in $(echo "$HOSTS" | head -2); do set_dev "$h" '{"fault": "refused"}'; done
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 --serial 2 "${fast[@]}" \
	>"$tmp/start3.out" 2>&1 || bad "third rollout start"
check "a batch with every device unreachable awaits approval" poll 300 state_is 3 awaiting_approval
expect "the view shows it and why" main '#3 .*awaiting_approval'
keys main a
expect "approve asks, naming the next batch" main 'Approve rollout #3 .*batch 2 of 4 starts'
keys main y
check "y approves: the rollout goes on and completes" poll 600 state_is 3 completed
for h in $(echo "$HOSTS" | head -2); do set_dev "$h" '{"fault": null}'; done

# ---- the start dialog: fields, the plan previewed, a confirmation ----
nrollouts() { "$FD" --db "$DB" rollout list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
keys main n
expect "n opens the start dialog" main 'New rollout'
expect "the dialog reads the registry of the inventory" main 'registry http://127.80.255.1:5000: 1 model'
expect "the model and its latest version are chosen from the registry" main 'Version +< 3.2 +>'
expect "... with the version's metadata" main 'latest +mAP [0-9.]+ +latency [0-9.]+ ms'
keys main Down Left
expect "Left/Right choose among the registry's versions" main 'Version +< 3.1 +>'
keys main Up
keys main C-u defect-detection Tab C-u 3.2 Tab C-u 'factory_a*' Tab C-u 3 Tab C-u 10 Tab C-u 'canary from the console'
expect "the plan is previewed from the fields" main 'Plan: 4 devices in 2 batches \(3, 1\)'
expect "... with each batch's devices" main 'batch 1 +3: edge-ams-01 edge-ams-02 edge-ams-03'
keys main Up Up C-u 2
expect "the preview follows an edit" main 'Plan: 4 devices in 2 batches \(2, 2\)'
before=$(nrollouts)
keys main Down Down Down Enter
expect "start asks, naming what it will do" main 'Start a rollout of defect-detection 3.2 to 4 devices in 2 batches \(the first of 2\)'
keys main n
expect "n cancels the start" main 'cancelled, nothing done'
check "... and nothing was started" test "$(nrollouts)" = "$before"
keys main n
expect "the dialog keeps what was typed" main 'Serial +\[ 2 '
keys main Down Down Down Down Down Down Enter
expect "asked again" main 'Start a rollout of defect-detection'
keys main y
count_is() { [ "$(nrollouts)" = "$1" ]; }
check "y starts it: a fourth rollout" poll 100 count_is $((before + 1))
check "... over the factory's 4 devices in batches of 2, max fail 10%" test \
	"$(st 4 '[len(b) for b in r["batches"]], r["params"]["max_fail"]')" = "[2, 2] 10.0"
check "... and it completes" poll 600 state_is 4 completed
audit=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT group_concat(actor||'|'||action||'|'||coalesce(detail,''), ';') FROM audit\").fetchone()[0])" "$DB")
check "the start is audited with the reason typed" bash -c "echo '$audit' | grep -q 'carol from 10.9.8.7|rollout.start|canary from the console'"

# ---- a runner killed with -9: the next console to start finishes its rollout ----
set_dev all '{"model_version": "3.1", "load_delay_ms": 1500}'
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 --serial 4 --lease-ms 1000 "${fast[@]}" \
	>"$tmp/start5.out" 2>&1 || bad "fifth rollout start"
in_wait() { [ "$(st 5 'sum(d["step"] == "wait" for d in r["devices"])')" -gt 0 ]; }
check "the fifth rollout's devices are loading the model" poll 300 in_wait
runner=$(st 5 'r["lease_owner"].split(":")[1]')
kill -9 "$runner"
lease_gone() { [ "$(st 5 'r["lease_expiry"] < __import__("time").time() * 1000')" = True ]; }
check "the runner is killed and its lease runs out" poll 100 lease_gone
check "... the rollout is left running, nobody working on it" state_is 5 running
keys main q
start adopt
expect "a new console says the rollout had no runner and resumes it" adopt 'rollout #5 had no runner: resume'
check "the rollout completes" poll 600 state_is 5 completed
check "every device on 3.2" all_on 3.2
check "no device was updated twice" test "$(st 5 'all(d["attempts"] == 1 and d["step"] == "updated" for d in r["devices"])')" = True
keys adopt q

# ---- a read-only console: it shows, and changes nothing ----
start ro --read-only
expect "read-only console is up" ro 'Devices \(8 of 8\)'
keys ro o
expect "read-only: the rollouts view shows the rollouts" ro '#3 +defect-detection'
expect_not "read-only: no action keys offered" ro 'p pause/resume'
before=$("$FD" --db "$DB" rollout status 3 --json)
keys ro b
expect "read-only: b says no" ro 'read-only: nothing that changes a device'
keys ro n
expect_not "read-only: no start dialog" ro 'New rollout'
keys ro R
check "read-only: nothing changed" test "$before" = "$("$FD" --db "$DB" rollout status 3 --json)"
expect_not "read-only: no confirmation was asked" ro 'Confirm'
keys ro q
expect "q leaves the rollouts view" ro 'Devices \(8 of 8\)'
keys ro q
check "the read-only console quits cleanly" poll 100 test -s "$tmp/ro.rc"
check "... with status 0" test "$(cat "$tmp/ro.rc" 2>/dev/null)" = 0
finish
