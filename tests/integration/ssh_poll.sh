#!/usr/bin/env bash
# ssh_poll: devices polled through real OpenSSH, end to end through `fleetdeck --report`:
# an agentless device (fleetdeck_transport=ssh: the status script over a kept-open session),
# its service's health going down, known_hosts refusals (unknown host, changed key), and two
# devices that only a bastion can reach -- an agentless one and an HTTP one -- reached through
# ONE bastion session. The topology is made of network namespaces: fleetdeck in the root
# namespace reaches the bastion's namespace only; the devices' namespace is reachable only
# from the bastion's (no route from here at all).
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
SRC=${FLEETDECK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$SRC/tests/integration/lib/sshd.sh"
tmp=$(mktemp -d)
S=$(( $$ % 200 + 20 ))
LOCAL=127.93.$S.1
P=$(( 20000 + $$ % 20000 ))   # the services' local agent port
NB=fdpb$$ ND=fdpd$$
V1=fdq${$}a V2=fdq${$}b V3=fdq${$}c V4=fdq${$}d
BOUT=10.202.$S.2 ROOTSIDE=10.202.$S.1 BIN=10.203.$S.1 DEV=10.203.$S.2
helpers=()
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }
cleanup() {
	sshd_cleanup
	for p in "${helpers[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${helpers[@]}"; do wait "$p" 2>/dev/null; done
	ip route del unreachable "10.203.$S.0/30" 2>/dev/null
	ip link del "$V1" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
	ip netns del "$ND" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/home/.ssh" "$tmp/models" "$tmp/nsmodels"
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data
unset SSH_AUTH_SOCK
sshd_keys "$tmp" || { bad "ssh-keygen"; finish; }

# an agent's /status and /health (a real HTTP server); the file $4 switches its health
cat >"$tmp/agent.py" <<'PY'
import http.server, json, os, sys
addr, port, ready, health_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
version = sys.argv[5] if len(sys.argv) > 5 else "3.2"
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        state = open(health_file).read().strip() if os.path.exists(health_file) else "healthy"
        if state == "down":
            self.send_response(503); self.end_headers(); return
        body = {"/health": {"status": state, "model_loaded": True},
                "/status": {"status": state, "model_name": "defect-detection", "model_version": version,
                            "gpu_temp": 61.5, "uptime_hours": 12.0}}.get(self.path)
        if body is None:
            self.send_response(404); self.end_headers(); return
        data = json.dumps(body).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
s = http.server.ThreadingHTTPServer((addr, port), H)
open(ready, "w").write("ready")
s.serve_forever()
PY
PY=/usr/bin/python3
agent() { # NS ADDR PORT NAME [VERSION]
	local pre=(); [ -n "$1" ] && pre=(ip netns exec "$1")
	"${pre[@]}" "$PY" "$tmp/agent.py" "$2" "$3" "$tmp/$4.ready" "$tmp/$4.health" "${5:-3.2}" >"$tmp/$4.log" 2>&1 &
	helpers+=($!)
	for _ in $(seq 200); do [ -s "$tmp/$4.ready" ] && return 0; sleep 0.05; done
	return 1
}
# the model directory the status script reads
printf '3.2\n' >"$tmp/models/current_version"
ln -s defect-detection-v3.2-int8.onnx "$tmp/models/active_model.onnx"
printf '3.1\n' >"$tmp/nsmodels/current_version"
ln -s defect-detection-v3.1-int8.onnx "$tmp/nsmodels/active_model.onnx"

# ---- the agentless device here: sshd on loopback, its service on 127.0.0.1:$P ----
sshd_start local "$tmp" "$LOCAL:2222" || { bad "local sshd starts"; finish; }
agent "" 127.0.0.1 "$P" localsvc || { bad "local service starts"; finish; }
sshd_known_hosts "$tmp" "$LOCAL:2222" >"$HOME/.ssh/known_hosts"
cat >"$tmp/local.ini" <<INI
[factory_here]
cam-ssh ansible_host=$LOCAL ansible_port=2222 ansible_user=root ansible_ssh_private_key_file=$tmp/client_key fleetdeck_transport=ssh fleetdeck_model_dir=$tmp/models fleetdeck_agent_port=$P
INI
report() { "$FD" --report -i "$1" --format json --no-history --timeout 4 "${@:2}" 2>"$tmp/report.err"; }
field() { /usr/bin/python3 -c "import json,sys; d={x['host']: x for x in json.load(sys.stdin)['devices']}; print(d['$1'].get('$2'))"; }

out=$(report "$tmp/local.ini"); rc=$?
if [ "$(printf '%s' "$out" | field cam-ssh state)" = healthy ]; then ok "agentless device over SSH: healthy"; else bad "agentless device: $out $(cat "$tmp/report.err")"; fi
[ "$(printf '%s' "$out" | field cam-ssh model_version)" = 3.2 ] && ok "its version from current_version" || bad "version: $out"
[ "$(printf '%s' "$out" | field cam-ssh gpu_temp)" = None ] && ok "no GPU thermal zone here: gpu_temp null, not zero" || bad "gpu_temp: $out"
[ "$(printf '%s' "$out" | field cam-ssh uptime_hours)" != None ] && ok "uptime from /proc/uptime" || bad "uptime: $out"
[ "$rc" = 0 ] && ok "no alert: exit 0" || bad "exit $rc"

echo down >"$tmp/localsvc.health"
out=$(report "$tmp/local.ini"); rc=$?
[ "$(printf '%s' "$out" | field cam-ssh state)" = unhealthy ] && ok "service down, SSH up: unhealthy, not unreachable" || bad "service down: $out"
[ "$rc" = 1 ] && ok "and an alert: exit 1" || bad "exit $rc"
echo healthy >"$tmp/localsvc.health"

# known_hosts: an unknown host is refused; a changed key is refused, said, and nothing runs
: >"$HOME/.ssh/known_hosts"
out=$(report "$tmp/local.ini")
[ "$(printf '%s' "$out" | field cam-ssh reason)" = hostkey ] && ok "unknown host key: refused (hostkey)" || bad "unknown host: $out"
key=$(cut -d' ' -f1,2 "$tmp/other_host_ed25519.pub")
echo "[$LOCAL]:2222 $key" >"$HOME/.ssh/known_hosts"
before=$(grep -c 'Accepted publickey' "${SSHD_LOG[local]}")
out=$(report "$tmp/local.ini"); rc=$?
[ "$(printf '%s' "$out" | field cam-ssh reason)" = hostkey ] && ok "changed host key: refused (hostkey)" || bad "changed key: $out"
printf '%s' "$out" | grep -q 'changed' && ok "the alert says the key changed" || bad "changed key message: $out"
[ "$(grep -c 'Accepted publickey' "${SSHD_LOG[local]}")" = "$before" ] && ok "no login to a host whose key changed" || bad "logged in despite a changed key"
[ "$rc" = 1 ] && ok "changed key: exit 1" || bad "exit $rc"
sshd_known_hosts "$tmp" "$LOCAL:2222" >"$HOME/.ssh/known_hosts"

# hostile values never reach a shell: a model dir with a quote is refused before any SSH
cat >"$tmp/hostile.ini" <<INI
[x]
cam-evil ansible_host=$LOCAL ansible_port=2222 ansible_user=root ansible_ssh_private_key_file=$tmp/client_key fleetdeck_transport=ssh "fleetdeck_model_dir=/opt/m';touch $tmp/pwned;'"
INI
report "$tmp/hostile.ini" >/dev/null
[ ! -e "$tmp/pwned" ] && ok "a hostile fleetdeck_model_dir runs nothing" || bad "a hostile model dir ran a command"

# ---- behind a bastion: root ns -> bastion ns -> devices ns ----
topo=0
if ip netns add "$NB" && ip netns add "$ND" &&
	ip link add "$V1" type veth peer name "$V2" && ip link set "$V2" netns "$NB" &&
	ip addr add "$ROOTSIDE/30" dev "$V1" && ip link set "$V1" up &&
	ip netns exec "$NB" ip addr add "$BOUT/30" dev "$V2" && ip netns exec "$NB" ip link set "$V2" up &&
	ip netns exec "$NB" ip link add "$V3" type veth peer name "$V4" && ip netns exec "$NB" ip link set "$V4" netns "$ND" &&
	ip netns exec "$NB" ip addr add "$BIN/30" dev "$V3" && ip netns exec "$NB" ip link set "$V3" up &&
	ip netns exec "$ND" ip addr add "$DEV/30" dev "$V4" && ip netns exec "$ND" ip link set "$V4" up &&
	ip netns exec "$NB" ip link set lo up && ip netns exec "$ND" ip link set lo up &&
	ip route add unreachable "10.203.$S.0/30"; then
	# (the unreachable route keeps every packet for the devices' addresses on this machine)
	topo=1; ok "namespaces: bastion $BOUT, devices $DEV behind it"
else
	bad "namespace topology"
fi
if [ $topo = 1 ]; then
	if timeout 2 bash -c "exec 3<>/dev/tcp/$DEV/2222" 2>/dev/null; then bad "the devices' namespace is reachable directly"; else ok "no route from here to the devices' namespace"; fi
	sshd_start bastion "$tmp" --netns "$NB" --log DEBUG1 "$BOUT:22" || bad "bastion sshd"
	sshd_start nsdev "$tmp" --netns "$ND" "$DEV:2222" || bad "device sshd in the devices' namespace"
	agent "$ND" "$DEV" 8080 nshttp 3.1 || bad "HTTP agent in the devices' namespace"
	agent "$ND" 127.0.0.1 "$P" nssvc || bad "the agentless device's service"
	sshd_known_hosts "$tmp" "$LOCAL:2222" "$BOUT:22" "$DEV:2222" >"$HOME/.ssh/known_hosts"
	cat >"$tmp/bastion.ini" <<INI
[factory_far]
cam-far-ssh ansible_host=$DEV ansible_port=2222 fleetdeck_transport=ssh fleetdeck_model_dir=$tmp/nsmodels fleetdeck_agent_port=$P
cam-far-ssh2 ansible_host=$DEV ansible_port=2222 fleetdeck_transport=ssh fleetdeck_model_dir=$tmp/nsmodels fleetdeck_agent_port=$P
cam-far-http ansible_host=$DEV fleetdeck_agent_port=8080
[factory_far:vars]
ansible_user=root
ansible_ssh_private_key_file=$tmp/client_key
ansible_ssh_common_args='-o ProxyJump=root@$BOUT:22'
INI
	out=$(report "$tmp/bastion.ini"); rc=$?
	[ "$(printf '%s' "$out" | field cam-far-ssh state)" = healthy ] && ok "agentless device behind the bastion: healthy" || bad "behind the bastion (ssh): $out $(cat "$tmp/report.err")"
	[ "$(printf '%s' "$out" | field cam-far-ssh model_version)" = 3.1 ] && ok "its version, read over the jump" || bad "version behind the bastion: $out"
	[ "$(printf '%s' "$out" | field cam-far-ssh2 state)" = healthy ] && ok "a second device behind the same bastion: healthy" || bad "behind the bastion (second): $out"
	[ "$(printf '%s' "$out" | field cam-far-http state)" = healthy ] && ok "HTTP device behind the bastion: polled through it" || bad "behind the bastion (http): $out $(cat "$tmp/report.err")"
	[ "$(printf '%s' "$out" | field cam-far-http gpu_temp)" = 61.5 ] && ok "its /status came through the tunnel" || bad "http through the tunnel: $out"
	[ "$rc" = 0 ] && ok "no alert: exit 0" || bad "exit $rc"
	n=$(grep -c 'Accepted publickey' "${SSHD_LOG[bastion]}")
	[ "$n" = 1 ] && ok "ONE session on the bastion for all three devices" || bad "$n sessions on the bastion"
	fwd=$(grep -c 'direct-tcpip' "${SSHD_LOG[bastion]}")
	[ "$fwd" -ge 3 ] && ok "each connection through its own direct-tcpip channel ($fwd)" || bad "$fwd direct-tcpip channels"
	# the bastion's key changed: nothing behind it is reached, and the reason says why
	key=$(cut -d' ' -f1,2 "$tmp/other_host_ed25519.pub")
	{ sshd_known_hosts "$tmp" "$DEV:2222"; echo "$BOUT $key"; } >"$HOME/.ssh/known_hosts"
	out=$(report "$tmp/bastion.ini")
	r1=$(printf '%s' "$out" | field cam-far-ssh reason); r2=$(printf '%s' "$out" | field cam-far-http reason)
	[ "$r1" = hostkey ] && [ "$r2" = hostkey ] && ok "the bastion's key changed: SSH and HTTP devices refused (hostkey)" || bad "bastion key changed: $r1 $r2 $out"
	[ "$(grep -c 'Accepted publickey' "${SSHD_LOG[bastion]}")" = 1 ] && ok "no login to the bastion whose key changed" || bad "logged in to a changed bastion"
fi
finish
