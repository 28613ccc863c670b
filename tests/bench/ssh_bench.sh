#!/usr/bin/env bash
# ssh_bench: figures for the SSH transport (prints numbers; not a test).
#  1. 200 sshd "devices" on loopback (13 sshd processes, 16 addresses each),
#     first cycle vs. cycles with sessions kept open;
#  2. the loopback devices again with 64 dead ones asked first (blackholed: their
#     connects are never answered), connect timeout 2 s: how long the live ones wait;
#  3. 200 devices inside a network namespace, reached through ONE bastion session
#     (SSH_BENCH_BASTION=0 skips it).
# Usage: tests/bench/ssh_bench.sh [BUILD_DIR]   (root: sshd, ip netns)
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-${FLEETDECK_BUILD:-$SRC/build}}
BENCH=$BUILD/tests/bench_ssh
[ -x "$BENCH" ] || { echo "no $BENCH: build first" >&2; exit 2; }
. "$SRC/tests/integration/lib/sshd.sh"
N=${SSH_BENCH_DEVICES:-200}
DEAD=${SSH_BENCH_DEAD:-64}
CYCLES=${SSH_BENCH_CYCLES:-10}
THREADS=${SSH_BENCH_THREADS:-16}
PER=16                          # sshd's limit of listening sockets
tmp=$(mktemp -d)
NS=fdbench$$; VA=fdb${$}a; VB=fdb${$}b
NSADDR=10.201.250.2; HOSTADDR=10.201.250.1
bh_pid=
cleanup() {
	sshd_cleanup
	[ -n "$bh_pid" ] && kill "$bh_pid" 2>/dev/null && wait "$bh_pid" 2>/dev/null
	ip link del "$VA" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp/home; mkdir -p "$HOME/.ssh"; unset SSH_AUTH_SOCK
sshd_keys "$tmp" >/dev/null || exit 1

# 1. loopback devices 127.93.x.y:2222
: >"$tmp/targets_lo"; : >"$tmp/known_hosts"
listen=(); k=0
for i in $(seq "$N"); do
	a=127.93.$((i / 250)).$((i % 250 + 1))
	echo "dev-$i $a 2222" >>"$tmp/targets_lo"
	sshd_known_hosts "$tmp" "$a:2222" >>"$tmp/known_hosts"
	listen+=("$a:2222")
	if [ ${#listen[@]} -eq $PER ] || [ "$i" -eq "$N" ]; then
		sshd_start "lo$k" "$tmp" --log ERROR "${listen[@]}" || exit 1
		listen=(); k=$((k + 1))
	fi
done
echo "== $N devices on loopback ($k sshd processes), $CYCLES cycles"
"$BENCH" --targets "$tmp/targets_lo" --identity "$tmp/client_key" --known-hosts "$tmp/known_hosts" \
	--cycles "$CYCLES" --threads "$THREADS" --label "loopback"

# 2. dead devices first: listeners whose accept queue is full (listen(0) and one connection
# never accepted) drop every SYN, so a connect to them hangs until its timeout
cat >"$tmp/blackhole.py" <<'PY'
import socket, sys, time
keep = []
for a in sys.argv[2:]:
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((a, 2222)); l.listen(0)
    f = socket.socket(); f.connect((a, 2222))
    keep += [l, f]
open(sys.argv[1], "w").write("ready")
while True:
    time.sleep(3600)
PY
: >"$tmp/targets_dead"; dead=()
for i in $(seq "$DEAD"); do
	dead+=("127.87.254.$i")
	echo "dead-$i 127.87.254.$i 2222" >>"$tmp/targets_dead"
done
/usr/bin/python3 "$tmp/blackhole.py" "$tmp/bh.ready" "${dead[@]}" &
bh_pid=$!
for _ in $(seq 200); do [ -s "$tmp/bh.ready" ] && break; sleep 0.05; done
cat "$tmp/targets_lo" >>"$tmp/targets_dead"
echo "== $DEAD dead devices (asked first) and the $N on loopback, connect timeout 2 s, $CYCLES cycles"
"$BENCH" --targets "$tmp/targets_dead" --identity "$tmp/client_key" --known-hosts "$tmp/known_hosts" \
	--cycles "$CYCLES" --threads "$THREADS" --connect-timeout 2000 --allow-failures --label "with dead devices"
echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg)"

[ "${SSH_BENCH_BASTION:-1}" = 0 ] && exit 0
# 3. the same behind one bastion: devices only inside a namespace
ip netns add "$NS" && ip link add "$VA" type veth peer name "$VB" && ip link set "$VB" netns "$NS" &&
	ip addr add "$HOSTADDR/30" dev "$VA" && ip link set "$VA" up &&
	ip netns exec "$NS" ip addr add "$NSADDR/30" dev "$VB" && ip netns exec "$NS" ip link set "$VB" up &&
	ip netns exec "$NS" ip link set lo up || { echo "cannot make the namespace" >&2; exit 1; }
sshd_start bastion "$tmp" --log VERBOSE 127.93.255.1:2222 || exit 1
sshd_known_hosts "$tmp" 127.93.255.1:2222 >>"$tmp/known_hosts"
: >"$tmp/targets_ns"; listen=(); k=0
for i in $(seq "$N"); do
	port=$((22000 + i))
	echo "behind-$i $NSADDR $port root@127.93.255.1:2222" >>"$tmp/targets_ns"
	sshd_known_hosts "$tmp" "$NSADDR:$port" >>"$tmp/known_hosts"
	listen+=("$NSADDR:$port")
	if [ ${#listen[@]} -eq $PER ] || [ "$i" -eq "$N" ]; then
		sshd_start "ns$k" "$tmp" --netns "$NS" --log ERROR "${listen[@]}" || exit 1
		listen=(); k=$((k + 1))
	fi
done
echo "== $N devices in a network namespace behind one bastion, $CYCLES cycles"
"$BENCH" --targets "$tmp/targets_ns" --identity "$tmp/client_key" --known-hosts "$tmp/known_hosts" \
	--cycles "$CYCLES" --threads "$THREADS" --label "behind one bastion"
echo "  bastion sshd: $(grep -c 'Accepted publickey' "${SSHD_LOG[bastion]}") login(s) in its log"
