#!/usr/bin/env bash
# rollout_canary: the batch gate's soak analysis against fleetsim, whose control API makes a
# model version slower, erroring or nearly idle (version_profiles): a good version passes the
# soak batch after batch (the last batch, with nothing left to compare with, waits for
# approve); a version with a doubled p95 fails the first soak and its batch is rolled back; a
# version with a 10% error rate fails on errors; a version that serves too few requests is
# inconclusive and the rollout waits for a person. The gate's figures are in `rollout status`
# (text and --json). Also the audit trail of the verbs (`history --audit`).
# Addresses 127.81.0.x-127.81.1.x. Synchronisation by ready files and bounded polling.
set -u
BUILD=${FLEETDECK_BUILD:?set FLEETDECK_BUILD to the build directory}
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
SIM=$BUILD/fleetsim
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

CTL=127.81.255.1:7999
REG=127.81.255.1:5000
# --speed 10: ten simulated seconds per wall second, so a 2 s soak sees ~20 s of requests
"$SIM" --devices 20 --factories 2 --seed 3 --base 127.81.0.1 --registry $REG --control $CTL \
	--load-delay-ms 100 --model-kib 16 --speed 10 --write-inventory "$tmp" --ready-file "$tmp/sim.ready" \
	>"$tmp/sim.out" 2>"$tmp/sim.err" &
pids+=($!)
if ! wait_ready "$tmp/sim.ready" "${pids[0]}"; then
	bad "fleetsim starts"; cat "$tmp/sim.err"; finish
fi
INV=$tmp/fleet.ini
HOSTS=$(awk '/^edge-/ {print $1}' "$INV")
ctl() { curl -s --max-time 10 "http://$CTL$1" "${@:2}"; }
set_dev() { ctl "/devices/$1/set" -X POST -d "$2"; }
version_of() { ctl "/devices/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["model_version"])'; }
count_on() { local h n=0; for h in $HOSTS; do [ "$(version_of "$h")" = "$1" ] && n=$((n+1)); done; echo $n; }
reset_fleet() { set_dev all '{"model_version": "3.1", "bad_versions": [], "version_profiles": '"$1"'}' >/dev/null; }
st() { "$FD" --db "$1" rollout status 1 --json | python3 -c "import json,sys; r=json.load(sys.stdin); print($2)"; }
# gate DB EXPR: EXPR over the first gate's figures `g` and the status `r`
gate() { "$FD" --db "$1" rollout status 1 --json | python3 -c "import json,sys; r=json.load(sys.stdin); g=r['gates'][0]['figures']; print($2)"; }
fast=(--serial 2,50% --wait-tries 100 --wait-delay-ms 50 --connect-timeout-ms 1000 --timeout-ms 5000 --soak 2)

# ---- the control: a version's profile is taken, shown, and refused when wrong ----
out=$(set_dev edge-ams-01 '{"version_profiles": {"3.2": {"latency_factor": 2, "error_rate": 0.1, "rate_factor": 0.5}}}')
check "fleetsim takes a version profile and shows it" test "$(echo "$out" | python3 -c 'import json,sys; p=json.load(sys.stdin)["version_profiles"]["3.2"]; print(p["latency_factor"], p["error_rate"], p["rate_factor"])')" = "2.0 0.1 0.5"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$CTL/devices/edge-ams-01/set" -X POST -d '{"version_profiles": {"3.2": {"latency_factor": -1}}}')
check "a profile out of range is a 400" test "$code" = 400
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$CTL/devices/edge-ams-01/set" -X POST -d '{"version_profiles": {"3.2": {"speed": 2}}}')
check "an unknown profile key is a 400" test "$code" = 400

# ---- a good version: every soak with something to compare passes ----
DB=$tmp/good.db
reset_fleet '{}'
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 "${fast[@]}" \
	--foreground >"$tmp/good.out" 2>&1; rc=$?
check "a good version soaks through batches 1 and 2" test "$(st "$DB" '[g["outcome"] for g in r["gates"]]')" = "['pass', 'pass', 'inconclusive']"
check "...and waits for approval after the last batch, nothing left to compare with" test "$rc" -eq 0 -a \
	"$(st "$DB" 'r["state"] + "|" + str("no not-updated devices" in r["stop_reason"])')" = "awaiting_approval|True"
check "the first gate's figures: the canaries' requests (>= 100) and both p95s" test \
	"$(gate "$DB" 'g["canary"]["devices"], g["canary"]["requests"] >= 100, g["baseline"]["devices"], g["canary"]["p95_ms"] > 0, g["baseline"]["p95_ms"] > 0, abs(g["p95_increase_pct"]) <= 15, g["limits"]["max_error_rate_pct"], g["limits"]["max_p95_increase_pct"]')" = "2 True 18 True True True 2.0 15.0"
text=$("$FD" --db "$DB" rollout status 1)
check "rollout status shows the gates" test -n "$(echo "$text" | grep -E '^gate: batch 1 soak 2\.[0-9] s: pass; batch [0-9]+ req, errors [0-9.]+%, p95 [0-9.]+ ms; not-updated')"
USER=carol "$FD" --db "$DB" rollout approve 1 --reason "soak figures look right" --foreground >/dev/null 2>&1; rc=$?
check "approve completes it" test "$rc" -eq 0 -a "$(st "$DB" 'r["state"]')" = completed
check "every device on 3.2" test "$(count_on 3.2)" = 20

# ---- a slower version: the first soak fails on p95, its batch goes back ----
DB=$tmp/slow.db
reset_fleet '{"3.2": {"latency_factor": 2}}'
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 "${fast[@]}" \
	--foreground >"$tmp/slow.out" 2>&1; rc=$?
check "a version with twice the latency fails the first soak (exit 1)" test "$rc" -eq 1 -a \
	"$(st "$DB" 'r["state"] + "|" + r["gates"][0]["outcome"] + "|" + str(len(r["gates"]))')" = "failed|fail|1"
check "...because of its p95 (more than 15% above the not-updated devices')" test \
	"$(gate "$DB" 'g["p95_increase_pct"] > 15 and "p95 latency" in r["stop_reason"]')" = True
check "the batch was rolled back: its devices reverted, on 3.1" test \
	"$(st "$DB" '[d["step"] for d in r["devices"][:2]]')" = "['reverted', 'reverted']" -a "$(count_on 3.1)" = 20
check "the later batches were not touched" test "$(st "$DB" 'sorted(set(d["step"] for d in r["devices"][2:]))')" = "['pending']"

# ---- a version that errors: the soak fails on the error rate ----
DB=$tmp/err.db
reset_fleet '{"3.2": {"error_rate": 0.1}}'
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 "${fast[@]}" \
	--foreground >"$tmp/err.out" 2>&1; rc=$?
check "a version with 10% errors fails the first soak on its error rate" test "$rc" -eq 1 -a \
	"$(st "$DB" 'r["state"] + "|" + str("error rate" in r["stop_reason"]) + "|" + str(r["gates"][0]["figures"]["canary"]["error_rate_pct"] > 2)')" = "failed|True|True"
check "...and its batch is back on 3.1" test "$(count_on 3.1)" = 20

# ---- a version with too few requests: inconclusive, the rollout waits ----
DB=$tmp/idle.db
reset_fleet '{"3.2": {"rate_factor": 0.005}}'
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 "${fast[@]}" \
	--foreground >"$tmp/idle.out" 2>&1; rc=$?
check "a version that serves too few requests is inconclusive and waits for approval" test "$rc" -eq 0 -a \
	"$(st "$DB" 'r["state"] + "|" + r["gates"][0]["outcome"] + "|" + str("too few requests" in r["stop_reason"])')" = "awaiting_approval|inconclusive|True"
check "...with the canaries updated and the rest untouched" test \
	"$(st "$DB" '",".join(sorted(set(d["step"] for d in r["devices"][:2]))) + "|" + ",".join(sorted(set(d["step"] for d in r["devices"][2:])))')" = "updated|pending"
USER=dave SSH_CONNECTION="10.9.8.7 40000 10.0.0.1 22" "$FD" --db "$DB" rollout rollback 1 --reason "too quiet to judge" \
	--foreground >/dev/null 2>&1; rc=$?
check "a person rolls it back instead" test "$rc" -eq 0 -a "$(st "$DB" 'r["state"]')" = rolled_back -a "$(count_on 3.1)" = 20

# ---- the audit trail: who, when, from where, why, done or refused ----
USER=erin "$FD" --db "$DB" rollout approve 1 --reason "second thoughts" >/dev/null 2>&1
aud() { "$FD" --db "$DB" history --audit "$@" --json | python3 -c "import json,sys; a=json.load(sys.stdin)['audit']; print($AUD)"; }
AUD='",".join(e["action"] + ":" + e["outcome"].split(":")[0] for e in a)'
check "history --audit lists start, rollback and the refused approve in order" test "$(aud --rollout 1)" = \
	"rollout.start:done,rollout.rollback:done,rollout.approve:refused"
AUD='[(e["user"], e["ssh_connection"], e["host"], e["reason"], e["rollout_id"], e["pid"] > 0) for e in a if e["action"] == "rollout.rollback"][0]'
check "...the rollback with its user, SSH connection, machine, reason and rollout" test "$(aud)" = \
	"('dave', '10.9.8.7 40000 10.0.0.1 22', '$(hostname)', 'too quiet to judge', 1, True)"
AUD='[e["reason"] + "|" + e["outcome"] for e in a if e["action"] == "rollout.approve"][0]'
check "...the refused approve says why it was refused" test "$(aud)" = "second thoughts|refused: the rollout is rolled_back"
AUD='len(a)'
check "--since in the future lists nothing" test "$(aud --since @4000000000)" = 0
check "--rollout of another rollout lists nothing" test "$(aud --rollout 7)" = 0
text=$("$FD" --db "$DB" history --audit --rollout 1)
check "the text table shows who and from where" test -n "$(echo "$text" | grep -E "dave +10\.9\.8\.7 via $(hostname) +rollout\.rollback +rollout 1 +done +too quiet to judge")"
DBG=$tmp/good.db
check "the good rollout's approve is audited with its reason" test -n "$("$FD" --db "$DBG" history audit --rollout 1 | grep -E 'carol .*rollout\.approve .*soak figures look right')"
"$FD" --db "$DB" history --audit --rollout x >/dev/null 2>&1; rc=$?
check "--rollout x is refused" test "$rc" -eq 2

# ---- a pause during a soak: the soak is abandoned at once, nothing judged ----
DB=$tmp/pause.db
reset_fleet '{}'
"$FD" --db "$DB" rollout start -i "$INV" --model defect-detection --version 3.2 "${fast[@]}" --soak 120 >/dev/null 2>&1
q() { python3 -c "import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone(); print('' if r is None or r[0] is None else r[0])" "$@"; }
soaking() { [ "$(q "$DB" "SELECT count(*) FROM rollout_log WHERE step = 'soak'")" -ge 1 ]; }
poll() { local n=$1 i; shift; for i in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
check "the first batch's soak begins (logged)" poll 300 soaking
check "status shows the soak under way (text and --json)" test -n "$("$FD" --db "$DB" rollout status 1 | grep -E '^soaking: batch 1 soak of 120\.0 s begins: 2 devices of the batch, 18 not updated')" -a \
	"$(st "$DB" 'r["soaking"]["since"] > 0')" = True
"$FD" --db "$DB" rollout pause 1 --reason "checking the dashboards" >/dev/null; rc=$?
let_go() { [ -z "$(q "$DB" "SELECT lease_owner FROM rollouts WHERE id = 1")" ]; }
check "pause during a 120 s soak: the runner lets go within 10 s" test "$rc" -eq 0 -a "$(poll 100 let_go && echo y)" = y
check "...and once paused, no soak is shown" test "$(st "$DB" 'r["soaking"]')" = None
check "...paused, no gate judged, the batch updated and the rest pending" test \
	"$(st "$DB" 'r["state"] + "|" + str(len(r["gates"])) + "|" + ",".join(sorted(set(d["step"] for d in r["devices"][:2]))) + "|" + ",".join(sorted(set(d["step"] for d in r["devices"][2:])))')" = "paused|0|updated|pending"
"$FD" --db "$DB" rollout start -i "$INV" --limit edge-ams-05 --model defect-detection --version 3.0 >/dev/null 2>&1; rc=$?
check "a start on a held device is refused (exit 2)..." test "$rc" -eq 2
AUD='[e["target"] + "|" + e["outcome"] for e in a if e["action"] == "rollout.start" and e["rollout_id"] is None][0]'
check "...and audited as refused, naming the model and the holder" test -n "$(aud | grep '^defect-detection 3.0|refused: device edge-ams-05 is held by rollout 1')"
"$FD" --db "$DB" rollout rollback 1 --foreground >/dev/null 2>&1
check "rolled back after all" test "$(st "$DB" 'r["state"]')" = rolled_back

# ---- bad parameters ----
"$FD" --db "$tmp/x.db" rollout start -i "$INV" --model defect-detection --version 3.2 --soak -1 >/dev/null 2>&1; rc=$?
check "--soak -1 is refused" test "$rc" -eq 2
"$FD" --db "$tmp/x.db" rollout start -i "$INV" --model defect-detection --version 3.2 --max-error-rate 3 >/dev/null 2>"$tmp/x.err"; rc=$?
check "--max-error-rate without --soak is refused, saying why" test "$rc" -eq 2 -a -n "$(grep 'give --soak' "$tmp/x.err")"
"$FD" --db "$tmp/x.db" rollout start -i "$INV" --model defect-detection --version 3.2 --soak 1 --min-samples 1.5 >/dev/null 2>&1; rc=$?
check "--min-samples 1.5 is refused" test "$rc" -eq 2

check "no sanitizer report" test -z "$(grep -l 'Sanitizer\|runtime error:' "$tmp"/*.out 2>/dev/null)"
finish
