#!/usr/bin/env bash
# ssh: the SSH transport (tests/unit/test_ssh.c) against real OpenSSH: a device sshd
# on loopback, a bastion sshd on loopback, device sshds and an HTTP server that live
# only inside a network namespace made here, an ssh-agent, and two hostile servers
# (one speaks garbage, one never speaks). Waits are bounded; the trap cleans up.
set -u
BUILD=${FLEETDECK_BUILD:?set FLEETDECK_BUILD to the build directory}
SRC=${FLEETDECK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
DRIVER=$BUILD/tests/test_ssh
. "$SRC/tests/integration/lib/sshd.sh"
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }
[ -x "$DRIVER" ] || { bad "no test driver at $DRIVER"; finish; }

tmp=$(mktemp -d)
S=$(( $$ % 250 + 1 ))          # this run's own addresses
A=127.91.$S.1                 # the device sshd
B=127.91.$S.2                 # the bastion sshd
NS=fdssh$$
NSADDR=10.201.$S.2
HOSTADDR=10.201.$S.1
VA=fdv${$}a; VB=fdv${$}b
helpers=()
agent_pid=
cleanup() {
	sshd_cleanup
	for p in "${helpers[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${helpers[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
	ip link del "$VA" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/scratch" "$tmp/home/.ssh" "$tmp/www"
export HOME=$tmp/home          # no real ~/.ssh keys or config leak in
unset SSH_AUTH_SOCK
sshd_keys "$tmp" || { bad "ssh-keygen"; finish; }

# ---- the device sshd, and the bastion ----
if sshd_start dev "$tmp" "$A:2222"; then ok "device sshd listens on $A:2222"; else bad "device sshd starts"; finish; fi
if sshd_start bastion "$tmp" --log DEBUG1 "$B:2222"; then ok "bastion sshd listens on $B:2222"; else bad "bastion sshd starts"; finish; fi

# ---- the namespace: devices reachable only from the root namespace's veth ----
ns_ok=0
if ip netns add "$NS" && ip link add "$VA" type veth peer name "$VB" && ip link set "$VB" netns "$NS" &&
	ip addr add "$HOSTADDR/30" dev "$VA" && ip link set "$VA" up &&
	ip netns exec "$NS" ip addr add "$NSADDR/30" dev "$VB" && ip netns exec "$NS" ip link set "$VB" up &&
	ip netns exec "$NS" ip link set lo up; then
	ns_ok=1; ok "network namespace $NS with $NSADDR"
else
	bad "network namespace setup"
fi
NS_PORTS="22,2201,2202,2203"
if [ $ns_ok = 1 ]; then
	listen=(); for p in ${NS_PORTS//,/ }; do listen+=("$NSADDR:$p"); done
	if sshd_start nsdev "$tmp" --netns "$NS" "${listen[@]}"; then ok "device sshd inside the namespace on ${#listen[@]} ports"; else bad "namespace sshd"; ns_ok=0; fi
	echo "fleetdeck-tunnel-ok" >"$tmp/www/hello.txt"
	ip netns exec "$NS" python3 -m http.server 8080 --bind "$NSADDR" --directory "$tmp/www" >"$tmp/http.log" 2>&1 &
	helpers+=($!)
	if sshd_wait_port "$NSADDR" 8080 "$NS"; then ok "HTTP server inside the namespace"; else bad "HTTP server in the namespace"; fi
fi

# ---- hostile servers: garbage after a banner, and silence ----
cat >"$tmp/hostile.py" <<'PY'
import os, socket, sys, threading, time
addr, port, mode, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(16)
open(ready, "w").write("ready\n")
def serve(c):
    try:
        if mode == "garbage":
            c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" + os.urandom(65536))
            time.sleep(0.5)
        else:
            time.sleep(60)
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
for m in garbage:2223 silent:2224; do
	python3 "$tmp/hostile.py" "$A" "${m#*:}" "${m%:*}" "$tmp/${m%:*}.ready" &
	helpers+=($!)
done
for m in garbage silent; do
	for i in $(seq 100); do [ -s "$tmp/$m.ready" ] && break; sleep 0.05; done
	[ -s "$tmp/$m.ready" ] && ok "$m server up" || bad "$m server up"
done

# ---- known_hosts: plain, hashed, and one where the device's key has changed ----
{
	sshd_known_hosts "$tmp" "$A:2222" "$B:2222"
	for p in ${NS_PORTS//,/ }; do sshd_known_hosts "$tmp" "$NSADDR:$p"; done
} >"$tmp/known_hosts"
cp "$tmp/known_hosts" "$tmp/known_hosts_hashed"
ssh-keygen -q -H -f "$tmp/known_hosts_hashed" >/dev/null 2>&1; rm -f "$tmp/known_hosts_hashed.old"
grep -q '^|1|' "$tmp/known_hosts_hashed" && ok "hashed known_hosts made" || bad "hashed known_hosts made"
echo "[$A]:2222 $(cut -d' ' -f1,2 "$tmp/other_host_ed25519.pub")" >"$tmp/known_hosts_changed"
# the devices are known, the bastion's key has changed
{ grep -v "^\[$B\]:2222 " "$tmp/known_hosts"; echo "[$B]:2222 $(cut -d' ' -f1,2 "$tmp/other_host_ed25519.pub")"; } >"$tmp/known_hosts_bastion_changed"

# ---- an agent holding the client key ----
eval "$(ssh-agent -s -a "$tmp/agent.sock")" >/dev/null
agent_pid=${SSH_AGENT_PID:-}
if ssh-add "$tmp/client_key" >/dev/null 2>&1; then ok "ssh-agent holds the client key"; else bad "ssh-agent"; fi
unset SSH_AUTH_SOCK SSH_AGENT_PID

# ---- the driver ----
export FLEETDECK_TEST_SSHD=$tmp
export FLEETDECK_TEST_SSHD_ADDR=$A FLEETDECK_TEST_SSHD_PORT=2222
export FLEETDECK_TEST_SSHD_PID=${SSHD_PID[dev]} FLEETDECK_TEST_SSHD_LOG=${SSHD_LOG[dev]}
export FLEETDECK_TEST_REFUSED_PORT=2999 FLEETDECK_TEST_GARBAGE_PORT=2223 FLEETDECK_TEST_SILENT_PORT=2224
export FLEETDECK_TEST_AGENT_SOCK=$tmp/agent.sock
export FLEETDECK_TEST_BASTION=$B:2222 FLEETDECK_TEST_BASTION_PID=${SSHD_PID[bastion]}
export FLEETDECK_TEST_BASTION_LOG=${SSHD_LOG[bastion]}
if [ $ns_ok = 1 ]; then
	export FLEETDECK_TEST_NS_ADDR=$NSADDR FLEETDECK_TEST_NS_PORTS=$NS_PORTS FLEETDECK_TEST_NS_HTTP=8080
fi
# an `ssh` first in PATH that leaves a mark: fleetdeck must never run it (libssh's own
# config reader would, for ProxyJump)
mkdir -p "$tmp/bin"
printf '#!/bin/sh\ntouch "%s/ssh-binary-ran"\nexit 255\n' "$tmp" >"$tmp/bin/ssh"
chmod +x "$tmp/bin/ssh"
runner=()
[ "${FLEETDECK_SSH_VALGRIND:-0}" = 1 ] && runner=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99)
PATH="$tmp/bin:$PATH" timeout 300 "${runner[@]}" "$DRIVER" >"$tmp/driver.out" 2>&1
rc=$?
while IFS= read -r line; do
	case $line in
	"[       OK ] "*) ok "${line#\[       OK \] }" ;;
	"[  FAILED  ] "*tests*) ;;
	"[  FAILED  ] "*) bad "${line#\[  FAILED  \] }" ;;
	"[  SKIPPED ] "*tests*) ;;
	"[  SKIPPED ] "*) bad "${line#\[  SKIPPED \] } (skipped: its environment was not set up)" ;;
	esac
done <"$tmp/driver.out"
if [ $rc -ne 0 ]; then
	bad "test_ssh exits 0 (rc $rc)"; sed 's/^/    /' "$tmp/driver.out" | grep -v '^\s*\[ RUN\|OK \]' | head -60
fi

[ ! -e "$tmp/ssh-binary-ran" ] && ok "no ssh binary was run, ProxyJump included" || bad "an ssh binary was run"

# ---- afterwards: nothing left behind on the servers' side ----
for i in $(seq 100); do [ -z "$(sshd_children "${SSHD_PID[bastion]}")" ] && break; sleep 0.05; done
[ -z "$(sshd_children "${SSHD_PID[bastion]}")" ] && ok "bastion sessions all closed after the pools are freed" || bad "bastion sessions left open"
finish
