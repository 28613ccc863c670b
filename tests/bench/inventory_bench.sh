#!/usr/bin/env bash
# inventory_bench: fleetdeck's inventory loader against ansible-inventory on a big inventory.
# Not a ctest test (it takes minutes, most of them ansible's). Usage:
#
#   tests/bench/inventory_bench.sh [--fleetdeck PATH] [--hosts N] [--groups N] [--format ini|yaml]
#                                  [--runs N] [--skip-ansible] [--keep]
#
# Generates N hosts in N groups (default 100000 / 1000, with group vars, host vars, group_vars/
# and host_vars/ files; see gen_inventory.py) into a temp dir, then measures
#   fleetdeck inventory -i X --list        wall time (hyperfine mean if installed) and peak RSS
#   ansible-inventory -i X --list          wall time and peak RSS (one run: it is slow)
#   fleetdeck inventory -i X --hosts PAT   for several patterns; "cost" is the time above the
#                                          same run with a one-host pattern (the loading part)
# and prints each figure next to its target: --list < 0.3 s and < 150 MB, a pattern < 10 ms.
# The CPU time (user+sys, the least of the runs) is printed too: on a shared machine the wall
# time also measures the neighbours. tests/bench/bench_pattern times patterns in-process.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
fd=${FLEETDECK:-$src/build/fleetdeck}
nhosts=100000 ngroups=1000 format=ini runs=10 skip_ansible=0 keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --fleetdeck) fd=$2; shift 2 ;;
    --hosts) nhosts=$2; shift 2 ;;
    --groups) ngroups=$2; shift 2 ;;
    --format) format=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --skip-ansible) skip_ansible=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "inventory_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
case $fd in /*) ;; *) fd=$PWD/$fd ;; esac
[ -x "$fd" ] || { echo "inventory_bench: no fleetdeck binary at $fd (build it, or --fleetdeck PATH)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "inventory_bench: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
have_hyperfine=0; command -v hyperfine >/dev/null && have_hyperfine=1

work=$(mktemp -d "${TMPDIR:-/tmp}/fleetdeck-bench.XXXXXX")
if [ "$keep" = 1 ]; then echo "work dir: $work"; else trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$work/inv" "$work/cwd" "$work/ansible-home"
# the same clean ansible as the parity suite
while read -r v; do unset "$v"; done < <(compgen -e | grep '^ANSIBLE_')
: >"$work/ansible.cfg"
export ANSIBLE_CONFIG=$work/ansible.cfg ANSIBLE_HOME=$work/ansible-home ANSIBLE_LOCAL_TEMP=$work/ansible-home/tmp \
  ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0 ANSIBLE_NOCOLOR=1
export XDG_CONFIG_HOME=$work/xdg
unset FLEETDECK_INVENTORY

python3 "$here/gen_inventory.py" bench "$work/inv" --hosts "$nhosts" --groups "$ngroups" --format "$format" || exit 1
inv=$work/inv/hosts.$([ "$format" = yaml ] && echo yml || echo ini)
printf 'inventory: %s hosts, %s groups, %s, %s (%s; %s vars files)\n' "$nhosts" "$ngroups" "$format" "$inv" \
  "$(du -h "$inv" | cut -f1)" "$(find "$work/inv/group_vars" "$work/inv/host_vars" -type f | wc -l)"
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
printf 'machine: %s cores (%s), %s; load average %s; fleetdeck: %s\n\n' "$(nproc)" "${cpu:-?}" "$(uname -sr)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)" "$fd"

# measure NAME CMD...: one run under /usr/bin/time; sets m_wall (s), m_cpu (user+sys s), m_rss (MB), m_rc
measure() {
  shift
  (cd "$work/cwd" && /usr/bin/time -o "$work/time.txt" -f '%e %M %U %S' "$@" >/dev/null 2>"$work/stderr.txt")
  m_rc=$?
  read -r m_wall m_kb m_user m_sys < <(tail -1 "$work/time.txt")
  m_rss=$(awk -v k="$m_kb" 'BEGIN { printf "%.1f", k / 1024 }')
  m_cpu=$(awk -v u="$m_user" -v s="$m_sys" 'BEGIN { printf "%.2f", u + s }')
}
# min_cpu CMD...: the least user+sys seconds of $runs runs (CPU time is what a loaded machine
# disturbs least; wall time on a shared machine says as much about the neighbours)
min_cpu() {
  local i best=''
  for ((i = 0; i < runs; i++)); do
    measure x "$@"
    best=$(awk -v a="$best" -v b="$m_cpu" 'BEGIN { print (a == "" || b < a) ? b : a }')
  done
  echo "$best"
}
# mean_time CMD...: mean wall seconds over $runs runs (hyperfine, or /usr/bin/time in a loop)
mean_time() {
  if [ "$have_hyperfine" = 1 ]; then
    (cd "$work/cwd" && hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/hf.json" \
      "$(printf '%q ' "$@")" >/dev/null 2>&1)
    python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$work/hf.json"
  else
    local i t total=0
    for ((i = 0; i < runs; i++)); do
      (cd "$work/cwd" && /usr/bin/time -o "$work/t1.txt" -f '%e' "$@" >/dev/null 2>&1)
      t=$(tail -1 "$work/t1.txt"); total=$(awk -v a="$total" -v b="$t" 'BEGIN { print a + b }')
    done
    awk -v a="$total" -v n="$runs" 'BEGIN { printf "%.4f", a / n }'
  fi
}
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v < t) ? "ok" : "OVER" }'; }

measure fd "$fd" inventory -i "$inv" --list
if [ "$m_rc" -ne 0 ]; then echo "fleetdeck --list failed (exit $m_rc):"; head -20 "$work/stderr.txt"; exit 1; fi
fd_rss=$m_rss
fd_wall=$(mean_time "$fd" inventory -i "$inv" --list)
fd_cpu=$(min_cpu "$fd" inventory -i "$inv" --list)
timing=$([ "$have_hyperfine" = 1 ] && echo "hyperfine mean of $runs" || echo "mean of $runs runs")
printf '%-34s %10s %10s %12s   %s\n' "" "wall s" "cpu s" "peak RSS MB" "target"
printf '%-34s %10s %10s %12s   %s\n' "fleetdeck inventory --list" "$fd_wall" "$fd_cpu" "$fd_rss" \
  "< 0.3 s: $(verdict "$fd_wall" 0.3) (cpu $(verdict "$fd_cpu" 0.3)), < 150 MB: $(verdict "$fd_rss" 150)   ($timing; cpu: least of $runs; RSS of one run)"
if [ "$skip_ansible" = 0 ]; then
  measure ansible ansible-inventory -i "$inv" --list
  if [ "$m_rc" -ne 0 ]; then echo "ansible-inventory --list failed (exit $m_rc):"; head -20 "$work/stderr.txt"
  else
    printf '%-34s %10s %10s %12s   %s\n' "ansible-inventory --list" "$m_wall" "$m_cpu" "$m_rss" "(one run)"
    printf '%-34s %10s %10s %12s\n' "ansible / fleetdeck" \
      "$(awk -v a="$m_wall" -v b="$fd_wall" 'BEGIN { printf "%.0fx", (b > 0) ? a / b : 0 }')" \
      "$(awk -v a="$m_cpu" -v b="$fd_cpu" 'BEGIN { printf "%.0fx", (b > 0) ? a / b : 0 }')" \
      "$(awk -v a="$m_rss" -v b="$fd_rss" 'BEGIN { printf "%.1fx", (b > 0) ? a / b : 0 }')"
  fi
fi

echo
echo "fleetdeck inventory --hosts PATTERN ($timing; cost = wall minus the one-host run, target < 10 ms)"
last=$(printf 'node-%06d' $((nhosts - 1)))
base=$(mean_time "$fd" inventory -i "$inv" --hosts node-000000)
printf '  %-36s %9s s  %8s\n' "node-000000 (one host: the baseline)" "$base" ""
for pat in all 'g0042' 'region_03:&canary' 'g00*:!g0001' '~node-0(1|2)[0-9]{3}7' 'g0500[0:9]' \
           'canary:!region_00' "$last,node-000001" 'region_0*[-1]'; do
  (cd "$work/cwd" && "$fd" inventory -i "$inv" --hosts "$pat" >"$work/hosts.txt" 2>"$work/stderr.txt")
  rc=$?; n=$(wc -l <"$work/hosts.txt")
  if [ "$rc" -ne 0 ]; then printf '  %-36s failed (exit %s): %s\n' "$pat" "$rc" "$(head -1 "$work/stderr.txt")"; continue; fi
  t=$(mean_time "$fd" inventory -i "$inv" --hosts "$pat")
  cost=$(awk -v a="$t" -v b="$base" 'BEGIN { printf "%.1f", (a - b) * 1000 }')
  printf '  %-36s %9s s  %+7s ms  %6s hosts  %s\n' "$pat" "$t" "$cost" "$n" "$(verdict "$cost" 10)"
done

# each pattern timed in-process (no start-up, no loading): on this inventory, then on the
# one bench_pattern builds in memory
bp=$(dirname "$fd")/tests/bench_pattern
if [ -x "$bp" ]; then
  echo
  echo "in-process, this inventory ($bp; target < 10 ms):"
  "$bp" "$inv" all 'g0042' 'region_03:&canary' 'g00*:!g0001' '~node-0(1|2)[0-9]{3}7' 'g0500[0:9]' \
    'canary:!region_00' "$last,node-000001" 'region_0*[-1]' 'node-0*' '*[50000]' | sed 's/^/  /'
  echo
  echo "in-process, the inventory bench_pattern builds (100,050 hosts, 1,014 groups):"
  "$bp" | sed 's/^/  /'
fi
