#!/usr/bin/env bash
# rollout_bench: a staged rollout over 200 fleetsim devices in 10% batches (the seed's serial),
# small load delays: the wall time, the CPU the runner spent (getrusage of the foreground
# runner process: user + system), and that CPU per device step. Not a ctest test: it prints
# figures. Usage:
#
#   tests/bench/rollout_bench.sh [--build DIR] [--devices N] [--forks N] [--load-delay-ms MS]
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build devices=200 forks=20 delay=50
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--devices) devices=$2; shift 2 ;;
	--forks) forks=$2; shift 2 ;;
	--load-delay-ms) delay=$2; shift 2 ;;
	-h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
"$SIM" --devices "$devices" --factories 10 --base 127.95.0.1 --registry 127.95.255.1:5000 \
	--control 127.95.255.1:7999 --load-delay-ms "$delay" --model-kib 64 --write-inventory "$work" \
	--ready-file "$work/ready" >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
for i in $(seq 600); do [ -s "$work/ready" ] && break; sleep 0.05; done
[ -s "$work/ready" ] || { echo "rollout_bench: fleetsim did not start" >&2; cat "$work/sim.err" >&2; exit 1; }
python3 - "$FD" "$work" "$forks" "$devices" "$delay" <<'PY'
import json, resource, sqlite3, subprocess, sys, time
fd, work, forks, devices, delay = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
db = work + "/h.db"
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.monotonic()
p = subprocess.run([fd, "--db", db, "rollout", "start", "-i", work + "/fleet.ini", "--model", "defect-detection",
                    "--version", "3.2", "--serial", "10%", "--forks", forks, "--wait-tries", "200",
                    "--wait-delay-ms", "20", "--foreground"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
print(f"rollout: {devices} devices, {batches} batches (serial 10%), forks {forks}, load delay {delay} ms: {state}, {updated} updated")
print(f"wall time           {wall:8.2f} s")
print(f"runner CPU          {cpu:8.3f} s  (user {user:.3f}, system {sys_:.3f}; {100 * cpu / wall:.1f}% of one core)")
print(f"device steps        {steps:8d}")
print(f"CPU per device step {1e6 * cpu / steps:8.0f} us")
PY
