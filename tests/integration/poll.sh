#!/usr/bin/env bash
# poll: the poller against fleetsim: every fault kind classified, a cycle bounded by the timeout
# with 10% of devices hanging, changes made through the control API seen in the next cycle,
# connections kept alive between cycles, the slow cadence of /metrics and /drift, backoff.
# Synchronisation is by READY files, the control API's answers and the poller's own cycle
# times, never by sleeping a guessed time. All traffic stays on one /16 of 127.0.0.0/8.
. "$(dirname "${BASH_SOURCE[0]}")/lib/simtest.sh"

wait_ready() {
	local i
	for i in $(seq 600); do
		[ -s "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
start() {
	local name=$1; shift
	"$SIM" "$@" --ready-file "$tmp/$name.ready" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	last_pid=$!
	pids+=("$last_pid")
	wait_ready "$tmp/$name.ready" "$last_pid"
}
ctl() { curl -sf --max-time 10 -X POST "http://$CTL$1" -d "$2" >/dev/null; }
ms() { date +%s%3N; }

# A /16 of our own: a random one, another if a concurrent run (of this test in another
# checkout, say) holds it.
mkdir -p "$tmp/inv"
up=0
for try in 1 2 3 4 5 6; do
	NET=$((100 + RANDOM % 150))
	CTL=127.$NET.255.1:7999
	if start main --devices 100 --factories 4 --seed 7 --base 127.$NET.0.1 --control $CTL --clock manual \
		--write-inventory "$tmp/inv" --oversize-mib 4; then up=1; break; fi
	grep -q "Address already in use" "$tmp/main.err" || break
done
if [ "$up" != 1 ]; then
	bad "fleetsim starts 100 devices"; cat "$tmp/main.err"; echo "$passed passed, $failed failed"; exit 1
fi
INV=$tmp/inv/fleet.ini
hosts=($(awk '/ansible_host=/{print $1}' "$INV"))
check "inventory has 100 devices" test "${#hosts[@]}" -eq 100

# ---- every fault kind, one device each ----
kinds=(unreachable refused hang slow http500 malformed truncated oversized reset)
for i in "${!kinds[@]}"; do ctl "/devices/${hosts[$i]}/set" "{\"fault\": \"${kinds[$i]}\", \"slow_ms\": 300}"; done
"$FD" report -i "$INV" --format json --no-history --timeout 2 --connect-timeout 1 >"$tmp/faults.json"
rc=$?
check "report with faults exits 1" test "$rc" -eq 1
check_dev() { # host state reason [python condition on d]
	"$PY" - "$tmp/faults.json" "$1" "$2" "$3" "${4:-True}" <<'EOF'
import json, sys
path, host, state, reason, cond = sys.argv[1:]
d = next(x for x in json.load(open(path))["devices"] if x["host"] == host)
want_reason = None if reason == "-" else reason
ok = d["state"] == state and d["reason"] == want_reason and eval(cond)
if not ok: print("   got", json.dumps(d, sort_keys=True))
sys.exit(0 if ok else 1)
EOF
}
check "unreachable (SYN dropped): unreachable, timeout on connect" \
	check_dev "${hosts[0]}" unreachable timeout '"connect" in d["detail"].lower() and d["gpu_temp"] is None and d["last_seen"] is None'
check "refused: unreachable, refused, retried once" \
	check_dev "${hosts[1]}" unreachable refused 'd["attempts"] == 2 and d["model_version"] is None'
check "hang (accepted, no answer): unreachable, timeout" check_dev "${hosts[2]}" unreachable timeout
check "slow (300 ms): healthy, round trip at least 300 ms" \
	check_dev "${hosts[3]}" healthy - 'd["rtt_ms"] >= 300 and d["model_version"] is not None'
check "http500: unhealthy, http, HTTP 500" check_dev "${hosts[4]}" unhealthy http '"HTTP 500" in d["detail"]'
check "malformed: unhealthy, malformed" check_dev "${hosts[5]}" unhealthy malformed '"/status" in d["detail"]'
check "truncated: unhealthy, truncated" check_dev "${hosts[6]}" unhealthy truncated
check "oversized (4 MiB): unhealthy, oversized" check_dev "${hosts[7]}" unhealthy oversized '"1048576" in d["detail"]'
check "reset: unreachable, reset" check_dev "${hosts[8]}" unreachable reset
check "the other 91 devices are healthy, with every field" "$PY" - "$tmp/faults.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
rest = j["devices"][9:]
assert len(rest) == 91
for d in rest:
    assert d["state"] == "healthy" and d["reason"] is None, d
    assert isinstance(d["gpu_temp"], float) and isinstance(d["uptime_hours"], float), d
    assert d["model_loaded"] is True and d["last_seen"].endswith("Z"), d
    assert d["factory"].startswith("factory_"), d
assert j["summary"]["healthy"] == 92 and j["summary"]["unreachable"] == 4 and j["summary"]["unhealthy"] == 4, j["summary"]
EOF
# slow beyond the timeout is a timeout
ctl "/devices/${hosts[3]}/set" '{"slow_ms": 3000}'
"$FD" report -i "$INV" --limit "${hosts[3]}" --format json --no-history --timeout 1 >"$tmp/faults.json"
check "slow (3 s) with a 1 s timeout: unreachable, timeout" check_dev "${hosts[3]}" unreachable timeout

# the same faults under valgrind (plain builds only: a sanitizer build cannot run under it)
if command -v valgrind >/dev/null && ! grep -q 'FLEETDECK_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	for i in "${!kinds[@]}"; do ctl "/devices/${hosts[$i]}/set" "{\"fault\": \"${kinds[$i]}\", \"slow_ms\": 300}"; done
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
		"$FD" report -i "$INV" --limit "${hosts[0]}:${hosts[1]}:${hosts[2]}:${hosts[3]}:${hosts[4]}:${hosts[5]}:${hosts[6]}:${hosts[7]}:${hosts[8]}:${hosts[9]}" \
		--format json --db "$tmp/vg.db" --timeout 2 --connect-timeout 1 >/dev/null 2>"$tmp/vg.err"
	rc=$?
	check "report over every fault kind is valgrind-clean (exit 1: alerts)" test "$rc" -eq 1
	[ "$rc" -eq 1 ] || cat "$tmp/vg.err"
fi

# ---- a cycle is bounded by the timeout with 10% of devices hanging ----
ctl /devices/all/set '{"fault": null}'
ctl /faults '{"kind": "hang", "fraction": 0.1, "seed": 3}'
t0=$(ms)
"$FD" report -i "$INV" --format json --no-history --timeout 2 >"$tmp/hang.json"
t1=$(ms)
el=$((t1 - t0))
echo "     (100 devices, 10 hanging, --timeout 2: ${el} ms start to exit)"
check "10% hanging: the report ends within the timeout (+1 s)" test "$el" -lt 3000
check "10% hanging: 10 unreachable by timeout, 90 healthy" "$PY" - "$tmp/hang.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
gone = [d for d in j["devices"] if d["state"] == "unreachable"]
assert len(gone) == 10 and all(d["reason"] == "timeout" for d in gone), gone
assert j["summary"]["healthy"] == 90, j["summary"]
EOF
ctl /devices/all/set '{"fault": null}'

# ---- cycles: keep-alive, slow cadence, a change through the control API ----
# The driver reads the poller's lines as they come; after cycle 1 it changes a device and
# notes when the control API answered (the change is live then); the first cycle that
# started after that must show it.
"$PY" - "$FD" "$INV" "$CTL" "${hosts[10]}" "$tmp/cycles.json" <<'EOF' >"$tmp/driver.out" 2>&1
import json, subprocess, sys, time, urllib.request
fd, inv, ctl, host, out = sys.argv[1:]
p = subprocess.Popen([fd, "poll", "-i", inv, "--json", "--count", "4", "--interval", "0.5", "--slow-every", "2"],
                     stdout=subprocess.PIPE, text=True)
lines, changed_at = [], None
for line in p.stdout:
    lines.append(json.loads(line))
    if len(lines) == 1:
        rq = urllib.request.Request(f"http://{ctl}/devices/{host}/set", method="POST",
                                    data=b'{"gpu_temp": 97, "temp_trend": 0, "status": "unhealthy", "model_version": "2.9"}')
        urllib.request.urlopen(rq, timeout=10).read()
        changed_at = int(time.time() * 1000)
p.wait(timeout=60)
json.dump({"lines": lines, "changed_at": changed_at, "rc": p.returncode}, open(out, "w"))
EOF
check "poll --count 4 prints 4 cycles and exits 0" "$PY" -c "
import json; j=json.load(open('$tmp/cycles.json')); assert j['rc']==0 and [l['cycle'] for l in j['lines']]==[1,2,3,4], j['rc']"
check "connections are kept alive: cycle 1 opens one per device and port, later cycles none" "$PY" -c "
import json; L=json.load(open('$tmp/cycles.json'))['lines']
assert L[0]['connects'] >= 100, L[0]['connects']
assert all(l['connects'] == 0 for l in L[1:]), [l['connects'] for l in L]"
check "/health, /metrics and /drift every 2nd cycle, /status every cycle" "$PY" -c "
import json; L=json.load(open('$tmp/cycles.json'))['lines']
assert [l['fetched']['metrics'] for l in L]==[100,0,100,0], [l['fetched'] for l in L]
assert [l['fetched']['drift'] for l in L]==[100,0,100,0]
assert [l['fetched']['health'] for l in L]==[100,0,100,0]
assert all(l['fetched']['status']==100 for l in L)
d=L[0]['devices'][20]['fetch']
assert d['metrics']['ok'] and d['metrics']['bytes']>1000 and d['drift']['ok'] and d['drift']['bytes']>1000, d"
check "a change through the control API shows in the next cycle" "$PY" - "$tmp/cycles.json" "${hosts[10]}" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1])); host = sys.argv[2]
after = [l for l in j["lines"] if l["start_ms"] >= j["changed_at"]]
assert after, "no cycle started after the change"
first = after[0]
d = next(x for x in first["devices"] if x["host"] == host)
assert d["state"] == "unhealthy" and d["reason"] == "reported" and d["model_version"] == "2.9", d
assert 96 <= d["gpu_temp"] <= 98, d
rules = sorted(a["rule"] for a in first["alerts"] if a["host"] == host)
assert rules == ["gpu_temp", "health", "version_skew"], rules
before = next(x for x in j["lines"][0]["devices"] if x["host"] == host)
assert before["state"] == "healthy", before
EOF
ctl "/devices/${hosts[10]}/set" '{"status": null, "model_version": "3.1", "gpu_temp": 55}'

# ---- backoff: an unreachable device is polled less often ----
ctl "/devices/${hosts[0]}/set" '{"fault": "refused"}'
"$FD" poll -i "$INV" --limit "${hosts[0]}:${hosts[1]}" --json --count 3 --interval 1 --retries 0 \
	--slow-every 0 --backoff-max 60 >"$tmp/backoff.jsonl"
check "backoff: polled in cycles 1-2, skipped in 3 (2 intervals ±25% after the 2nd failure)" "$PY" - "$tmp/backoff.jsonl" "${hosts[0]}" <<'EOF'
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
host = sys.argv[2]
assert [l["polled"] for l in L] == [2, 2, 1], [l["polled"] for l in L]
assert [l["skipped"] for l in L] == [0, 0, 1]
d = [next(x for x in l["devices"] if x["host"] == host) for l in L]
assert [x["failures"] for x in d] == [1, 2, 2], [x["failures"] for x in d]
assert d[1]["next_poll_ms"] > d[1]["polled_at_ms"] + 1490, d[1]
assert d[2]["state"] == "unreachable" and d[2]["reason"] == "refused"
assert d[2]["polled_at_ms"] == d[1]["polled_at_ms"]
EOF
ctl "/devices/${hosts[0]}/set" '{"fault": null}'

# ---- jitter: each device starts at a random offset in [0, jitter) ----
"$FD" poll -i "$INV" --json --count 1 --jitter 0.5 --slow-every 0 >"$tmp/jitter.jsonl"
check "--jitter 0.5 spreads the 100 starts: the cycle lasts at least 0.4 s" "$PY" -c "
import json; l=json.loads(open('$tmp/jitter.jsonl').readline())
assert l['duration_ms'] >= 400 and l['summary']['healthy'] == 100, (l['duration_ms'], l['summary'])"

# ---- the poller's process: SIGTERM stops it cleanly ----
"$FD" poll -i "$INV" --interval 0.2 >"$tmp/sig.out" 2>&1 &
pp=$!
for i in $(seq 200); do [ -s "$tmp/sig.out" ] && break; sleep 0.05; done
kill -TERM $pp
wait $pp; rc=$?
check "poll stops on SIGTERM with exit 0 after printing cycles" test "$rc" -eq 0 -a -n "$(grep '^cycle 1: 100 devices' "$tmp/sig.out")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
