#!/usr/bin/env bash
# rollout_crash: the runner killed with -9 twenty times over one rollout, each kill on the N-th
# committed device step (found by polling the database, spread over the whole rollout), each
# followed by `rollout resume`, which must take over at once (the dead runner ran here: its
# lease is not waited out). At the end the fleet is compared device by device with an
# uninterrupted run of the same rollout on the same fleet: the same final step and version,
# one accepted POST /update per device (fleetsim's counter), every device idle with its model
# loaded (none half-switched). One device fails validation and is rolled back in both runs.
# Each kill comes `step` committed step ends after the new runner took over (an eighth of the
# uninterrupted run's ends spread over the kills), so the kills cover the rollout from its first
# batch on, at whatever point of a device's steps the count falls; every fourth kill comes
# instead at a random moment (seeded) within 0.3 s of the take-over, while the new runner starts.
# Addresses 127.81.4.x and 127.81.254.1. No sleeps as synchronisation: bounded polling.
set -u
BUILD=${FLEETDECK_BUILD:?set FLEETDECK_BUILD to the build directory}
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
SIM=$BUILD/fleetsim
KILLS=${ROLLOUT_CRASH_KILLS:-20}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	for db in "$tmp"/*.db; do
		[ -f "$db" ] || continue
		for p in $(python3 -c "
import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
for (o,) in c.execute('SELECT lease_owner FROM rollouts WHERE lease_owner IS NOT NULL'): print(o.split(':')[1])
" "$db" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	[ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
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
poll() {
	local n=$1 i; shift
	for i in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}

CTL=127.81.254.1:7999
REG=127.81.254.1:5000
"$SIM" --devices 40 --factories 4 --seed 5 --base 127.81.4.1 --registry $REG --control $CTL \
	--load-delay-ms 1000 --model-kib 16 --write-inventory "$tmp" --ready-file "$tmp/sim.ready" \
	>"$tmp/sim.out" 2>"$tmp/sim.err" &
pids+=($!)
if ! wait_ready "$tmp/sim.ready" "${pids[0]}"; then
	bad "fleetsim starts"; cat "$tmp/sim.err"; finish
fi
INV=$tmp/fleet.ini
BAD=$(awk '/^edge-/ {print $1}' "$INV" | sed -n 7p)
ctl() { curl -s --max-time 10 "http://$CTL$1" "${@:2}"; }
reset_fleet() {
	ctl /devices/all/set -X POST -d '{"model_version": "3.1", "bad_versions": []}' >/dev/null
	ctl "/devices/$BAD/set" -X POST -d '{"bad_version": "3.2"}' >/dev/null
}
# every device: host version update_state model_loaded updates_accepted
fleet_state() {
	ctl /devices | python3 -c '
import json,sys
for d in json.load(sys.stdin)["devices"]:
    print(d["host"], d["model_version"], d["update_state"], d["model_loaded"], d["updates_accepted"])'
}
# host step, from the database
db_steps() { "$FD" --db "$1" rollout status 1 --json | python3 -c '
import json,sys
for d in json.load(sys.stdin)["devices"]: print(d["host"], d["step"])'; }
q() { python3 -c "import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone(); print('' if r is None or r[0] is None else r[0])" "$@"; }
state_is() { [ "$(q "$1" "SELECT state FROM rollouts WHERE id = 1")" = "$2" ]; }
args=(rollout start -i "$INV" --model defect-detection --version 3.2 --serial 4 --forks 2 --max-fail 50
	--wait-tries 200 --wait-delay-ms 50 --connect-timeout-ms 1000 --timeout-ms 5000)

# ---- the uninterrupted run ----
reset_fleet
fleet_state >"$tmp/ref.before"
"$FD" --db "$tmp/ref.db" "${args[@]}" --foreground >"$tmp/ref.out" 2>&1
check "the uninterrupted rollout completes" state_is "$tmp/ref.db" completed
fleet_state >"$tmp/ref.after"
db_steps "$tmp/ref.db" >"$tmp/ref.steps"
ref_ends=$(q "$tmp/ref.db" "SELECT count(*) FROM rollout_log WHERE host IS NOT NULL AND event = 'end'")
check "...with the bad device failed and rolled back, the others updated" test \
	"$(grep -c ' updated$' "$tmp/ref.steps")|$(grep "^$BAD " "$tmp/ref.steps" | cut -d' ' -f2)" = "39|failed"

# ---- the same rollout, the runner killed -9 $KILLS times ----
reset_fleet
fleet_state >"$tmp/crash.before"
DB=$tmp/crash.db
"$FD" --db "$DB" "${args[@]}" >"$tmp/start.out" 2>&1
# The kill loop in one Python process: polling the database every 20 ms costs little there.
# Each kill: wait for a live runner holding the lease, wait for `step` more committed step
# ends, kill -9, wait until it is gone, `rollout resume`, time until a new runner holds it.
read -r kills resumed slow_takeover step told < <(python3 - "$FD" "$DB" "$KILLS" "$ref_ends" "$tmp" <<'PY'
import os, random, signal, sqlite3, subprocess, sys, time
fd, db, nkills, ref_ends, tmp = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
step = max(1, ref_ends // (8 * nkills))
c = sqlite3.connect(db, timeout=10)
def one(sql):
    for _ in range(50):
        try:
            return c.execute(sql).fetchone()[0]
        except sqlite3.OperationalError:
            time.sleep(0.02)
    return None
def ends(): return one("SELECT count(*) FROM rollout_log WHERE host IS NOT NULL AND event = 'end'")
def running(): return one("SELECT state FROM rollouts WHERE id = 1") == "running"
def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
def owner():
    o = one("SELECT lease_owner FROM rollouts WHERE id = 1")
    return int(o.split(":")[1]) if o else None
def wait(cond, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond(): return True
        time.sleep(0.02)
    return False
kills = resumed = slow = told = 0
last = None
rnd = random.Random(7)
for k in range(1, nkills + 1):
    if not wait(lambda: (owner() not in (None, last) and alive(owner())) or not running(), 30) or not running():
        break
    if k % 4 == 0:
        # every fourth: a random moment soon after the take-over (the runner starting,
        # reading the rollout, in its first requests or transactions)
        time.sleep(rnd.uniform(0, 0.3))
    else:
        target = ends() + step
        if not wait(lambda: ends() >= target or not running(), 60) or not running():
            break
    pid = owner()
    if pid is None or pid == last:
        continue
    os.kill(pid, signal.SIGKILL)
    kills += 1
    last = pid
    wait(lambda: not alive(pid), 10)
    st = subprocess.run([fd, "--db", db, "rollout", "status", "1"], stdout=subprocess.PIPE, text=True).stdout
    told += "its process is gone" in st or not running()
    t0 = time.monotonic()
    with open(f"{tmp}/resume.{k}", "w") as out:
        rc = subprocess.run([fd, "--db", db, "rollout", "resume", "1", "--reason", f"crash test {k}"],
                            stdout=out, stderr=subprocess.STDOUT).returncode
    resumed += rc == 0
    wait(lambda: (owner() not in (None, last) and alive(owner())) or not running(), 30)
    # the dead runner's lease had 30 s to run: within 10 s is not waiting it out
    slow += time.monotonic() - t0 >= 10
print(kills, resumed, slow, step, told)
PY
)
check "$KILLS kills -9 spread over the rollout (every $step committed steps; $kills made)" test "$kills" -eq "$KILLS"
check "after each kill, rollout status says the runner's process is gone" test "$told" -eq "$kills"
check "every resume after a kill started a new runner at once (exit 0)" test "$resumed" -eq "$kills"
check "...which took the dead runner's lease within 10 s, not after its 30 s" test "$slow_takeover" -eq 0
check "the takeovers are in the rollout's log" test "$(q "$DB" "SELECT count(*) FROM rollout_log WHERE step = 'lease' AND detail LIKE 'lease taken over from %'")" -ge "$kills"
check "the interrupted rollout completes" poll 900 state_is "$DB" completed
fleet_state >"$tmp/crash.after"
db_steps "$DB" >"$tmp/crash.steps"
check "device by device, the same final steps as the uninterrupted run" diff "$tmp/ref.steps" "$tmp/crash.steps"
# versions, idle, loaded, and the number of accepted updates during the run
delta() { join "$1" "$2" | awk '{print $1, $6, $7, $8, $9 - $5}'; }
delta "$tmp/ref.before" "$tmp/ref.after" >"$tmp/ref.cmp"
delta "$tmp/crash.before" "$tmp/crash.after" >"$tmp/crash.cmp"
check "device by device, the same versions and update counts as the uninterrupted run" diff "$tmp/ref.cmp" "$tmp/crash.cmp"
check "every device took exactly one update (fleetsim's accepted POST /update)" test \
	"$(awk '{print $5}' "$tmp/crash.cmp" | sort -u)" = 1
check "none half-switched: every device idle with its model loaded" test \
	"$(awk '{print $3, $4}' "$tmp/crash.cmp" | sort -u)" = "idle True"
check "the updated devices run 3.2, the failed one 3.1" test \
	"$(join "$tmp/crash.steps" "$tmp/crash.cmp" | awk '{print $2, $3}' | sort -u | tr '\n' ,)" = "failed 3.1,updated 3.2,"
check "no sanitizer report from any runner" test -z "$(grep -l 'Sanitizer\|runtime error:' "$tmp"/*.log "$tmp"/*.out 2>/dev/null)"
finish
