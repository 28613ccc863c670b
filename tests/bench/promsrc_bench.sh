#!/usr/bin/env bash
# promsrc_bench: `fleetdeck --report` reading N devices' state from a real Prometheus server
# against polling the same devices directly (not a ctest test; prints figures for
# docs/benchmarks.md, "Prometheus as the source"). Usage:
#
#   tests/bench/promsrc_bench.sh [--build DIR] [--devices N] [--runs R]
#
# Starts fleetsim with N devices (default 1000) on 127.83.64.x and up, Debian's prometheus
# scraping all of them every 5 s, waits until every target is up and was scraped twice, then
# runs each report R times (default 5) and prints the best and median wall time, the cycle's
# duration as the report measured it, its requests and new connections, and the CPU time.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build devices=1000 runs=5
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--devices) devices=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "promsrc_bench: unknown argument $1" >&2; exit 2 ;;
	esac
done
FD=$build/fleetdeck SIM=$build/fleetsim PROM=$(command -v prometheus || true)
for b in "$FD" "$SIM" "$PROM"; do [ -x "$b" ] || { echo "promsrc_bench: no $b" >&2; exit 2; }; done
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null
PROMADDR=127.83.63.1:19190
"$SIM" --devices "$devices" --factories 10 --base 127.83.64.1 --agent-port 18300 --metrics-port 18300 \
	--write-inventory "$tmp" --ready-file "$tmp/ready" >/dev/null 2>"$tmp/sim.err" &
pids+=($!)
for i in $(seq 600); do [ -s "$tmp/ready" ] && break; sleep 0.1; done
[ -s "$tmp/ready" ] || { echo "promsrc_bench: fleetsim did not start" >&2; cat "$tmp/sim.err" >&2; exit 1; }
{
	echo "global: {scrape_interval: 5s, scrape_timeout: 4s}"
	echo "scrape_configs:"
	echo "  - job_name: edge"
	echo "    static_configs:"
	echo "      - targets:"
	sed -n 's/.*ansible_host=\([0-9.]*\).*/        - \1:18300/p' "$tmp/fleet.ini"
} >"$tmp/prometheus.yml"
"$PROM" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" --web.listen-address=$PROMADDR \
	>"$tmp/prom.log" 2>&1 &
pids+=($!)
scraped() {
	curl -s --max-time 5 "http://$PROMADDR/api/v1/query" --data-urlencode \
		'query=count(count_over_time(up{job="edge"}[1m]) >= 2 and up{job="edge"} == 1)' |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; sys.exit(0 if r and int(r[0]["value"][1]) == int(sys.argv[1]) else 1)' "$devices" 2>/dev/null
}
for i in $(seq 600); do scraped && break; sleep 0.5; done # bounded: 5 minutes
scraped || { echo "promsrc_bench: Prometheus did not scrape every device twice" >&2; tail -5 "$tmp/prom.log" >&2; exit 1; }

measure() { # LABEL ARGS...
	local label=$1; shift
	local i
	: >"$tmp/runs"
	for i in $(seq "$runs"); do
		local t0 t1
		t0=$(date +%s%N)
		/usr/bin/time -f '%U %S' -o "$tmp/time" "$FD" --report -i "$tmp/fleet.ini" --no-history --json \
			--forks 1000 "$@" >"$tmp/out.json" 2>/dev/null
		t1=$(date +%s%N)
		python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; u,c=open(sys.argv[2]).read().split()
print((int(sys.argv[3]) - int(sys.argv[4])) // 1000000, s["duration_ms"], round((float(u)+float(c))*1000), s["requests"], s["connects"], s["healthy"])' \
			"$tmp/out.json" "$tmp/time" "$t1" "$t0" >>"$tmp/runs"
	done
	python3 - "$label" "$tmp/runs" <<'PY'
import sys, statistics
label, rows = sys.argv[1], [l.split() for l in open(sys.argv[2])]
col = lambda i: sorted(float(r[i]) for r in rows)
w, c, u = col(0), col(1), col(2)
print("%-20s wall %5.0f / %5.0f ms; cycle %6.1f / %6.1f ms; cpu %4.0f / %4.0f ms (best / median); %s requests, %s connects; %s healthy" % (
    label, w[0], statistics.median(w), c[0], statistics.median(c), u[0], statistics.median(u), rows[-1][3], rows[-1][4], rows[-1][5]))
PY
}
echo "== $devices devices, load $(cut -d' ' -f1-3 /proc/loadavg) =="
measure "polling the devices"
measure "from Prometheus" --source "prometheus=http://$PROMADDR"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
