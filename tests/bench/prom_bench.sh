#!/usr/bin/env bash
# prom_bench: throughput of the exposition parser on real exporters' output (not a ctest test;
# prints figures for docs/benchmarks.md, "Metrics"). Usage:
#
#   tests/bench/prom_bench.sh [--build DIR] [--runs N]
#
#   node_exporter   its /metrics with the default collectors, on a loopback address
#   fleetsim        /metrics of 1,000 simulated devices, each parsed on its own, and the
#                   device readings (devmetrics) taken from each as the poller does
#   Python          prometheus_client's own parser on the same text, for reference
# The build should be RelWithDebInfo (-O2).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build runs=5
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "prom_bench: unknown argument $1" >&2; exit 2 ;;
	esac
done
BENCH=$build/tests/bench_prom SIM=$build/fleetsim NE=/usr/bin/prometheus-node-exporter
for b in "$BENCH" "$SIM" "$NE"; do [ -x "$b" ] || { echo "prom_bench: no $b" >&2; exit 2; }; done
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null

NEADDR=127.88.104.1:19100
"$NE" --web.listen-address=$NEADDR >/dev/null 2>&1 &
pids+=($!)
"$SIM" --devices 1000 --factories 10 --base 127.88.100.1 --ready-file "$tmp/ready" >/dev/null 2>"$tmp/sim.err" &
pids+=($!)
for i in $(seq 600); do # bounded: 60 s for both to listen
	[ -s "$tmp/ready" ] && curl -sf -o "$tmp/node.txt" "http://$NEADDR/metrics" && break
	sleep 0.1
done
[ -s "$tmp/ready" ] && [ -s "$tmp/node.txt" ] || { echo "prom_bench: exporters did not start" >&2; cat "$tmp/sim.err" >&2; exit 1; }

mkdir "$tmp/fs"
args=()
for i in $(seq 0 999); do
	a=127.88.$((100 + i / 254)).$((1 + i % 254))
	args+=(-o "$tmp/fs/$i.txt" "http://$a:8000/metrics")
done
curl -s --parallel --parallel-max 64 "${args[@]}" 2>/dev/null
n=$(find "$tmp/fs" -name '*.txt' -size +0 | wc -l)
[ "$n" -eq 1000 ] || { echo "prom_bench: $n of 1000 fleetsim expositions fetched" >&2; exit 1; }

echo "== fleetdeck's parser =="
"$BENCH" --runs "$runs" --label "node_exporter (default collectors)" "$tmp/node.txt"
"$BENCH" --runs "$runs" --devmetrics --label "fleetsim, 1,000 devices" "$tmp"/fs/*.txt

echo "== prometheus_client's parser (Python), for reference =="
/usr/bin/python3 - "$tmp/node.txt" "$tmp/fs" <<'PY'
import os, sys, time
from prometheus_client.parser import text_string_to_metric_families as parse
def bench(label, texts):
    size = sum(len(t) for t in texts)
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        n = sum(len(f.samples) for t in texts for f in parse(t))
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    print(f"{label}: {size / best / 1e6:.2f} MB/s  {n / best:.0f} samples/s  {best * 1e3:.1f} ms per round")
node = open(sys.argv[1]).read()
fs = [open(os.path.join(sys.argv[2], f)).read() for f in os.listdir(sys.argv[2])]
bench("node_exporter", [node])
bench("fleetsim, 1,000 devices", fs)
PY
