#!/usr/bin/env bash
# console_bench: the console's own costs (bench_console: first frame, CPU per frame, bytes per
# changed device) and its responsiveness in a real terminal while it polls a big fleet: the time
# from a key sent through tmux to its echo on the screen, while poll cycles over 10,000 fleetsim
# devices run back to back. Prints figures (docs/benchmarks.md, "Console"); not a test.
#
#   tests/bench/console_bench.sh [--build DIR] [--devices N] [--keys K]
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build devices=10000 nkeys=40
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--devices) devices=$2; shift 2 ;;
	--keys) nkeys=$2; shift 2 ;;
	*) echo "console_bench: unknown argument $1" >&2; exit 2 ;;
	esac
done
FD=$build/fleetdeck SIM=$build/fleetsim BC=$build/tests/bench_console
for b in "$FD" "$SIM" "$BC"; do [ -x "$b" ] || { echo "console_bench: missing $b (build first)" >&2; exit 2; }; done
ulimit -n "$(ulimit -Hn)" 2>/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/fleetdeck-consolebench.XXXXXX")
sock=fdcb$$
pids=()
cleanup() {
	tmux -L "$sock" kill-server 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
export XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
"$BC" "$devices" 200 50

# the fleet: simulators of at most 5,000 devices each (a socket per device and port)
half=$(( (devices + 1) / 2 ))
inv=()
for k in 1 2; do
	n=$half; [ $k = 2 ] && n=$((devices - half))
	[ "$n" -gt 0 ] || continue
	mkdir -p "$work/s$k"
	"$SIM" --devices "$n" --factories 50 --seed $k --base "127.$((95 + k)).0.1" --clock manual \
		--write-inventory "$work/s$k" --ready-file "$work/s$k/ready" >/dev/null 2>"$work/s$k/err" &
	pids+=($!)
	inv+=(-i "$work/s$k/fleet.ini")
done
for k in 1 2; do
	[ -d "$work/s$k" ] || continue
	for _ in $(seq 1200); do [ -s "$work/s$k/ready" ] && break; sleep 0.05; done
	[ -s "$work/s$k/ready" ] || { echo "console_bench: fleetsim $k did not start"; cat "$work/s$k/err"; exit 1; }
done
tm() { tmux -L "$sock" "$@"; }
tm new-session -d -s c -x 200 -y 50 "$(printf '%q ' "$FD" "${inv[@]}" --interval 0.2 --refresh 0.5 --no-history)"
for _ in $(seq 600); do tm capture-pane -p -t c | grep -q 'cycle .* ago' && break; sleep 0.05; done
tm capture-pane -p -t c | grep -o 'cycle [^ ]* ago, [0-9.]* s' | head -1 | sed 's/^/  console polling: /'
# command mode, then each key's echo on the status line; cycles run back to back meanwhile
tm send-keys -t c :
lat=()
for i in $(seq "$nkeys"); do
	ch=$(printf '\\x%x' $((97 + i % 26)))
	ch=$(printf "$ch")
	before=$(tm capture-pane -p -t c | tail -2 | head -1)
	t0=$(date +%s%N)
	tm send-keys -t c -l "$ch"
	for _ in $(seq 2000); do
		now=$(tm capture-pane -p -t c | tail -2 | head -1)
		[ "$now" != "$before" ] && break
	done
	t1=$(date +%s%N)
	lat+=($(( (t1 - t0) / 100000 )))
done
tm send-keys -t c Escape q
printf '%s\n' "${lat[@]}" | sort -n | awk -v n="$nkeys" -v dev="$devices" '
	{ v[NR] = $1 / 10 }
	END { printf "  key to screen in tmux, %d devices polled back to back: median %.1f ms, p95 %.1f ms, max %.1f ms (%d keys; includes tmux capture-pane)\n",
	      dev, v[int((n + 1) / 2)], v[int(n * 0.95 + 0.5)], v[n], n }'
