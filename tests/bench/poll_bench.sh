#!/usr/bin/env bash
# poll_bench: how long a poll cycle takes, side by side with curl and Ansible on the same fleet.
# Not a ctest test: it prints figures (docs/benchmarks.md, "Polling"). Usage:
#
#   tests/bench/poll_bench.sh [--build DIR] [--runs N] [--skip-ansible] [--skip-10k]
#
#   1,000 fleetsim devices:
#     bench_poll            one cold cycle (new connections) and warm cycles (kept alive)
#     curl --parallel       the same 1,000 /status URLs, --parallel-max 256 (one request each;
#                           fleetdeck's cycle makes two per device: /status and /health)
#     fleetdeck --report    start to exit (--no-history, and with a history database)
#     ansible-playbook      the seed's check: uri to every device's /status, connection: local,
#                           forks 50
#   10,000 fleetsim devices (two simulators of 5,000: each needs a socket per device and
#   port plus one per connection, under the open-files limit):
#     bench_poll            cycle times, CPU and peak RSS; fleetdeck --report start to exit and RSS;
#     curl --parallel       the 10,000 /status URLs, for reference
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build runs=5 skip_ansible=0 skip_10k=0
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--skip-ansible) skip_ansible=1; shift ;;
	--skip-10k) skip_10k=1; shift ;;
	-h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "poll_bench: unknown argument $1" >&2; exit 2 ;;
	esac
done
FD=$build/fleetdeck SIM=$build/fleetsim BP=$build/tests/bench_poll
for b in "$FD" "$SIM" "$BP"; do [ -x "$b" ] || { echo "poll_bench: missing $b (build first)" >&2; exit 2; }; done
ulimit -n "$(ulimit -Hn)" 2>/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/fleetdeck-pollbench.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work/home XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data
mkdir -p "$HOME"

start_sim() { # name args...
	local name=$1 i; shift
	mkdir -p "$work/$name"
	"$SIM" "$@" --clock manual --write-inventory "$work/$name" --ready-file "$work/$name/ready" \
		>/dev/null 2>"$work/$name/err" &
	pids+=($!)
	for i in $(seq 1200); do [ -s "$work/$name/ready" ] && return 0; sleep 0.05; done
	echo "poll_bench: fleetsim $name did not start:"; cat "$work/$name/err"; exit 1
}
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }

echo "poll_bench: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg), $(curl --version | head -1 | cut -d" " -f1-2), runs=$runs"
echo
echo "== 1,000 devices =="
start_sim k1 --devices 1000 --factories 10 --seed 5 --base 127.86.0.1
INV=$work/k1/fleet.ini
awk '/ansible_host=/{split($2,a,"="); print "url = \"http://" a[2] ":8080/status\"\noutput = \"/dev/null\""}' "$INV" >"$work/curl.cfg"

# warm everything once
"$BP" -i "$INV" --cycles 1 >/dev/null
fd_cold=() fd_warm=() curl_t=() rep_t=() reph_t=()
for r in $(seq "$runs"); do
	out=$("$BP" -i "$INV" --cycles 3)
	fd_cold+=("$(sed -n 's/^cycle 1: \([0-9.]*\) ms.*/\1/p' <<<"$out")")
	fd_warm+=("$(sed -n 's/^cycle 3: \([0-9.]*\) ms.*/\1/p' <<<"$out")")
	t0=$(now); curl -s --parallel --parallel-max 256 -K "$work/curl.cfg" 2>/dev/null; t1=$(now)
	curl_t+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) * 1000}')")
	t0=$(now); "$FD" --report -i "$INV" --no-history >/dev/null; t1=$(now)
	rep_t+=("$(secs "$t0" "$t1")")
	t0=$(now); "$FD" --report -i "$INV" --db "$work/hist.db" >/dev/null; t1=$(now)
	reph_t+=("$(secs "$t0" "$t1")")
done
m_cold=$(printf '%s\n' "${fd_cold[@]}" | median)
m_warm=$(printf '%s\n' "${fd_warm[@]}" | median)
m_curl=$(printf '%s\n' "${curl_t[@]}" | median)
echo "fleetdeck cycle, cold (new connections; /status+/health): median ${m_cold} ms  (runs: ${fd_cold[*]})"
echo "fleetdeck cycle, warm (kept alive; /status+/health):      median ${m_warm} ms  (runs: ${fd_warm[*]})"
echo "curl --parallel --parallel-max 256, 1,000 x /status:      median ${m_curl} ms  (runs: ${curl_t[*]})"
awk -v c="$m_cold" -v w="$m_warm" -v u="$m_curl" 'BEGIN {printf "ratio fleetdeck/curl: cold %.2fx, warm %.2fx (target: within 1.5x)\n", c / u, w / u}'
echo "fleetdeck --report, start to exit, --no-history: median $(printf '%s\n' "${rep_t[@]}" | median) s (target < 2 s)"
echo "fleetdeck --report, start to exit, with history:  median $(printf '%s\n' "${reph_t[@]}" | median) s"
/usr/bin/time -f '%M' -o "$work/rss" "$FD" --report -i "$INV" --no-history >/dev/null
echo "fleetdeck --report peak RSS: $(awk '{printf "%.1f", $1 / 1024}' "$work/rss") MB"

if [ "$skip_ansible" = 0 ] && command -v ansible-playbook >/dev/null; then
	cat >"$work/check_fleet.yml" <<'EOF'
- name: Check edge AI fleet health
  hosts: all
  connection: local
  gather_facts: no
  tasks:
    - name: Get device status
      uri:
        url: "http://{{ ansible_host }}:8080/status"
        return_content: yes
        timeout: 5
      register: status
      ignore_errors: yes
    - name: Report unhealthy devices
      debug:
        msg: "ALERT: {{ inventory_hostname }} {{ status.json.status | default('UNREACHABLE') }}"
      when: status.failed or status.json.status != 'healthy'
EOF
	t0=$(now)
	ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_PYTHON_INTERPRETER=auto_silent \
		ansible-playbook -i "$INV" -f 50 "$work/check_fleet.yml" >"$work/ansible.out" 2>&1
	arc=$?
	t1=$(now)
	at=$(secs "$t0" "$t1")
	okc=$(grep -c '^ok: \[' "$work/ansible.out")
	echo "ansible-playbook (uri, connection: local, forks 50): ${at} s, exit $arc, $(grep -o 'ok=[0-9]*' "$work/ansible.out" | wc -l) hosts in the recap"
	awk -v a="$at" -v c="$m_cold" -v r="$(printf '%s\n' "${rep_t[@]}" | median)" \
		'BEGIN {printf "ratio ansible/fleetdeck: %.0fx the cold cycle, %.0fx fleetdeck --report start to exit\n", a * 1000 / c, a / r}'
	: "$okc"
fi

kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null; pids=()

if [ "$skip_10k" = 0 ]; then
	echo
	echo "== 10,000 devices (two simulators of 5,000) =="
	start_sim a --devices 5000 --factories 50 --seed 21 --base 127.87.0.1
	start_sim b --devices 5000 --factories 50 --seed 22 --base 127.88.0.1
	# both simulators name their hosts alike: the second one's get a prefix
	sed 's/^edge-/b-edge-/' "$work/b/fleet.ini" >"$work/b/fleet-b.ini"
	cat "$work/a/fleet.ini" "$work/b/fleet-b.ini" | sed 's/^\[factory_/[f_/' >"$work/k10.ini"
	# groups of the same name merge; that is fine: what matters is 10,000 distinct hosts
	n=$("$FD" inventory -i "$work/k10.ini" --hosts all | wc -l)
	echo "inventory: $n hosts"
	sa=$(ps -o times= -p "${pids[0]}"); sb=$(ps -o times= -p "${pids[1]}")
	/usr/bin/time -f '%U %S' -o "$work/cpu10" "$BP" -i "$work/k10.ini" --cycles 4 | tee "$work/k10.out"
	sa=$(( $(ps -o times= -p "${pids[0]}") - sa )); sb=$(( $(ps -o times= -p "${pids[1]}") - sb ))
	awk -v s="$((sa + sb))" '{printf "CPU per cycle: fleetdeck %.2f s (user+sys, setup included), the two simulators %.2f s\n", ($1 + $2) / 4, s / 4}' "$work/cpu10"
	echo "(target: a cycle under 3 s, peak RSS under 100 MB)"
	awk '/ansible_host=/{split($2,a,"="); print "url = \"http://" a[2] ":8080/status\"\noutput = \"/dev/null\""}' "$work/k10.ini" >"$work/curl10.cfg"
	t0=$(now); curl -s --parallel --parallel-max 256 -K "$work/curl10.cfg" 2>/dev/null; t1=$(now)
	echo "curl --parallel --parallel-max 256, 10,000 x /status (new connections): $(secs "$t0" "$t1") s"
	t0=$(now)
	/usr/bin/time -f '%M' -o "$work/rss10" "$FD" --report -i "$work/k10.ini" --no-history >"$work/k10.rep"
	t1=$(now)
	echo "fleetdeck --report over 10,000: $(secs "$t0" "$t1") s start to exit, peak RSS $(awk '{printf "%.1f", $1 / 1024}' "$work/rss10") MB; $(tail -1 "$work/k10.rep")"
fi
