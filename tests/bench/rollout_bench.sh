#!/usr/bin/env bash
# rollout_bench: a staged rollout over 1,000 fleetsim devices in 10% batches (the seed's serial):
# the wall time, the CPU the runner spent (getrusage of the foreground runner process: user +
# system), its share of the wall time, that CPU per device step, and how much of the wall the
# devices' own delays (model loads, waited for by polling /health) account for. Not a ctest
# test: it prints figures, with the load average. Usage:
#
#   tests/bench/rollout_bench.sh [--build DIR] [--devices N] [--forks N] [--load-delay-ms MS]
#                                [--wait-delay-ms MS] [--base A.B.C.D] [--soak SECONDS]
#
# --soak: each batch soaks (the canary gate: every device's /metrics scraped at the start
# and the end of the soak); the last batch ends inconclusive, awaiting approval.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build devices=1000 forks=50 delay=2000 poll=500 base=127.81.8.1 soak=
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--devices) devices=$2; shift 2 ;;
	--forks) forks=$2; shift 2 ;;
	--load-delay-ms) delay=$2; shift 2 ;;
	--wait-delay-ms) poll=$2; shift 2 ;;
	--base) base=$2; shift 2 ;;
	--soak) soak=$2; shift 2 ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "rollout_bench: unknown argument $1" >&2; exit 2 ;;
	esac
done
FD=$build/fleetdeck SIM=$build/fleetsim
for b in "$FD" "$SIM"; do [ -x "$b" ] || { echo "rollout_bench: missing $b (build first)" >&2; exit 2; }; done
work=$(mktemp -d "${TMPDIR:-/tmp}/fleetdeck-rollbench.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
ctl=${base%.*.*}.253.1
"$SIM" --devices "$devices" --factories 10 --base "$base" --registry "$ctl:5000" \
	--control "$ctl:7999" --load-delay-ms "$delay" --model-kib 64 --write-inventory "$work" \
	--ready-file "$work/ready" >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
for i in $(seq 600); do [ -s "$work/ready" ] && break; sleep 0.05; done
[ -s "$work/ready" ] || { echo "rollout_bench: fleetsim did not start" >&2; cat "$work/sim.err" >&2; exit 1; }
python3 - "$FD" "$work" "$forks" "$devices" "$delay" "$poll" "$soak" <<'PY'
import json, os, resource, sqlite3, subprocess, sys, time
fd, work, forks, devices, delay, poll, soak = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
db = work + "/h.db"
load0 = os.getloadavg()
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.monotonic()
p = subprocess.run([fd, "--db", db, "rollout", "start", "-i", work + "/fleet.ini", "--model", "defect-detection",
                    "--version", "3.2", "--serial", "10%", "--forks", forks, "--wait-tries", "200",
                    "--wait-delay-ms", poll, "--foreground"] + (["--soak", soak, "--min-samples", "10"] if soak else []), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
wall = time.monotonic() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
if p.returncode != 0:
    sys.exit("rollout_bench: the rollout failed:\n" + p.stdout[-2000:])
c = sqlite3.connect(db)
state = c.execute("SELECT state FROM rollouts WHERE id = 1").fetchone()[0]
steps = c.execute("SELECT count(*) FROM rollout_log WHERE host IS NOT NULL AND event = 'start'").fetchone()[0]
updated = c.execute("SELECT count(*) FROM rollout_devices WHERE step = 'updated'").fetchone()[0]
batches = len(json.loads(c.execute("SELECT batches FROM rollouts WHERE id = 1").fetchone()[0]))
user = after.ru_utime - before.ru_utime
sys_ = after.ru_stime - before.ru_stime
cpu = user + sys_
load1 = os.getloadavg()
# the devices' side: per device, from POST /update's end to the wait step's end is the model
# load as the runner saw it (the device's delay plus at most one poll interval)
waits = [r[0] for r in c.execute(
    "SELECT e.ts - s.ts FROM rollout_log s JOIN rollout_log e ON e.rollout_id = s.rollout_id AND e.host = s.host "
    "AND e.step = s.step AND e.event = 'end' AND e.id > s.id WHERE s.step = 'wait' AND s.event = 'start' "
    "AND NOT EXISTS (SELECT 1 FROM rollout_log m WHERE m.rollout_id = s.rollout_id AND m.host = s.host "
    "AND m.step = s.step AND m.id > s.id AND m.id < e.id)")]
slots = int(forks)
sizes = [len(b) for b in json.loads(c.execute("SELECT batches FROM rollouts WHERE id = 1").fetchone()[0])]
rounds = sum(-(-n // slots) for n in sizes)
floor_s = rounds * int(delay) / 1000.0
print(f"rollout: {devices} devices, {batches} batches (serial 10%), forks {forks}, load delay {delay} ms: {state}, {updated} updated")
print(f"wall time           {wall:8.2f} s")
print(f"runner CPU          {cpu:8.3f} s  (user {user:.3f}, system {sys_:.3f}; {100 * cpu / wall:.1f}% of one core)")
print(f"device steps        {steps:8d}")
print(f"CPU per device step {1e6 * cpu / steps:8.0f} us")
print(f"share of wall in fleetdeck {100 * cpu / wall:5.2f}%  (runner CPU / wall time; target < 5%)")
if waits:
    print(f"model loads waited  {sum(waits) / len(waits) / 1000:8.2f} s per device (device delay {int(delay) / 1000:.2f} s, polled every {poll} ms)")
print(f"devices' delays     {floor_s:8.2f} s  ({rounds} rounds of at most {slots} devices x {int(delay) / 1000:.2f} s load: {100 * floor_s / wall:.0f}% of the wall)")
gates = [json.loads(f) for (f,) in c.execute("SELECT figures FROM rollout_gates WHERE rollout_id = 1")]
if gates:
    sc = [g["scrape_ms"] for g in gates]
    print(f"soak gates          {len(gates):8d}  ({', '.join(g['outcome'] for g in gates)}); first scrape of every device "
          f"{min(sc)}-{max(sc)} ms; soak time {sum(g['soak_ms'] for g in gates) / 1000:.1f} s of the wall")
print(f"load average        {load0[0]:.2f} before, {load1[0]:.2f} after (1 min)")
PY
