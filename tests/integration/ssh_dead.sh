#!/usr/bin/env bash
# ssh_dead: dead SSH devices do not hold up live ones. Four agentless devices on a real
# OpenSSH sshd share a poll with 24 devices whose connects are never answered (a listener
# whose accept queue is full drops every SYN: the connect times out), 8 tarpits (they take
# the connection and never send an SSH banner) and 5 that refuse at once -- twice as many
# dead devices as the SSH pool has worker threads (16). The live devices
# answer in milliseconds while the dead ones wait out their connect timeout, a cycle takes
# about one connect timeout (not one per 16 dead devices), and in the third cycle the
# dead devices back off: it takes as long as the live devices need. Then the same devices
# through a jump host (an sshd on loopback, one session, a direct-tcpip channel each).
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
SRC=${FLEETDECK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$SRC/tests/integration/lib/sshd.sh"
tmp=$(mktemp -d)
S=$(( $$ % 200 + 20 ))
NET=127.87.$S
P=$(( 20000 + $$ % 20000 ))   # the live devices' local service
PY=/usr/bin/python3
helpers=()
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }
cleanup() {
	sshd_cleanup
	for p in "${helpers[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${helpers[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/home/.ssh" "$tmp/models"
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data
unset SSH_AUTH_SOCK
sshd_keys "$tmp" || { bad "ssh-keygen"; finish; }
printf '3.2\n' >"$tmp/models/current_version"
ln -s defect-detection-v3.2-int8.onnx "$tmp/models/active_model.onnx"

wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

# the live devices' inference service: its local /health
cat >"$tmp/svc.py" <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        data = json.dumps({"status": "healthy", "model_loaded": True}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers()
        self.wfile.write(data)
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
open(sys.argv[2], "w").write("ready")
s.serve_forever()
PY
"$PY" "$tmp/svc.py" "$P" "$tmp/svc.ready" >"$tmp/svc.log" 2>&1 &
helpers+=($!)
wait_file "$tmp/svc.ready" || { bad "the local service starts"; finish; }

# blackholes: listen(0) and one connection never accepted fill the accept queue, and the
# kernel drops every later SYN (tcp_abort_on_overflow is 0): connects hang until they time out
# tarpits (addresses after "--"): accept, then never say a word
cat >"$tmp/blackhole.py" <<'PY'
import select, socket, sys
keep, tarpits, args = [], [], sys.argv[2:]
split = args.index("--") if "--" in args else len(args)
for i, a in enumerate(args):
    if a == "--":
        continue
    host, port = a.rsplit(":", 1)
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, int(port)))
    if i < split:
        l.listen(0)
        f = socket.socket(); f.connect((host, int(port)))
        keep += [l, f]
    else:
        l.listen(64)
        tarpits.append(l)
open(sys.argv[1], "w").write("ready")
while True:
    for l in select.select(tarpits, [], [], 3600)[0]:
        keep.append(l.accept()[0])
PY
dead=() refused=() tarpit=()
for k in $(seq 50 73); do dead+=("$NET.$k"); done
for k in $(seq 80 87); do tarpit+=("$NET.$k"); done
for k in $(seq 100 104); do refused+=("$NET.$k"); done
"$PY" "$tmp/blackhole.py" "$tmp/bh.ready" $(for a in "${dead[@]}"; do echo "$a:2222"; done) -- \
	$(for a in "${tarpit[@]}"; do echo "$a:2222"; done) >"$tmp/bh.log" 2>&1 &
helpers+=($!)
wait_file "$tmp/bh.ready" || { bad "blackholes start: $(cat "$tmp/bh.log")"; finish; }
t0=$(date +%s%N)
if timeout 1 bash -c "exec 3<>/dev/tcp/${dead[0]}/2222" 2>/dev/null; then
	bad "a blackholed address accepted a connection"
else
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$ms" -ge 900 ] && ok "a blackholed address leaves the connect hanging ($ms ms, cut at 1 s)" || bad "blackhole answered in $ms ms"
fi
if timeout 1 bash -c "exec 3<>/dev/tcp/${refused[0]}/2222" 2>/dev/null; then bad "refused address accepted"; else ok "a closed port refuses"; fi
if timeout 1 bash -c "exec 3<>/dev/tcp/${tarpit[0]}/2222; read -r -t 0.5 l <&3; [ -z \"\$l\" ]" 2>/dev/null; then
	ok "a tarpit takes the connection and says nothing"
else
	bad "tarpit"
fi

live=("$NET.1:2222" "$NET.2:2222" "$NET.3:2222" "$NET.4:2222")
sshd_start live "$tmp" "${live[@]}" || { bad "sshd starts"; finish; }
sshd_known_hosts "$tmp" "${live[@]}" >"$HOME/.ssh/known_hosts"

# the dead devices first, so that they are asked first
{
	echo "[dead]"
	for a in "${dead[@]}"; do echo "dead-${a##*.} ansible_host=$a"; done
	for a in "${tarpit[@]}"; do echo "dead-${a##*.} ansible_host=$a"; done
	for a in "${refused[@]}"; do echo "gone-${a##*.} ansible_host=$a"; done
	echo "[live]"
	for a in "${live[@]}"; do a=${a%:*}; echo "live-${a##*.} ansible_host=$a"; done
	echo "[all:vars]"
	echo "ansible_port=2222"
	echo "ansible_user=root"
	echo "ansible_ssh_private_key_file=$tmp/client_key"
	echo "fleetdeck_transport=ssh"
	echo "fleetdeck_model_dir=$tmp/models"
	echo "fleetdeck_agent_port=$P"
} >"$tmp/inv.ini"

CT=2   # connect timeout, s
timeout 60 "$FD" poll -i "$tmp/inv.ini" --count 3 --interval 1 --connect-timeout $CT --timeout 4 --retries 1 \
	--forks 64 --slow-every 0 --json >"$tmp/cycles.json" 2>"$tmp/poll.err"
rc=$?
[ "$rc" = 0 ] && ok "three cycles polled" || bad "fleetdeck poll exited $rc: $(cat "$tmp/poll.err")"

# per cycle: the live devices' states and slowest answer, the dead ones' reasons, the cycle's time
cat >"$tmp/summary.py" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    c = json.loads(line)
    live = [d for d in c["devices"] if d["host"].startswith("live-")]
    dead = [d for d in c["devices"] if d["host"].startswith("dead-")]
    gone = [d for d in c["devices"] if d["host"].startswith("gone-")]
    polled = lambda ds: [d for d in ds if d["polled_at_ms"] >= c["start_ms"]]
    rtt = max((d["fetch"].get("status", {}).get("rtt_ms", 1e9) for d in live), default=1e9)
    states = sorted({d["state"] for d in live})
    dreasons = sorted({d["reason"] or "-" for d in polled(dead)})
    greasons = sorted({d["reason"] or "-" for d in polled(gone)})
    print(c["cycle"], round(c["duration_ms"]), round(rtt), ",".join(states), len(polled(dead)),
          ",".join(dreasons) or "-", len(polled(gone)), ",".join(greasons) or "-", c["skipped"])
PY
"$PY" "$tmp/summary.py" "$tmp/cycles.json" >"$tmp/summary"
cat "$tmp/summary" | sed 's/^/   cycle /'
limit=$((CT * 1000 / 2))
while read -r cyc dur rtt states ndead dreason ngone greason skipped; do
	[ "$states" = healthy ] && ok "cycle $cyc: the 4 live devices healthy" || bad "cycle $cyc: live devices $states"
	[ "$rtt" -lt "$limit" ] && ok "cycle $cyc: the slowest live device answered in $rtt ms (< $limit ms, half the connect timeout)" ||
		bad "cycle $cyc: a live device took $rtt ms: it waited behind the dead ones"
	if [ "$cyc" -le 2 ]; then
		[ "$ndead" = 32 ] && [ "$dreason" = timeout ] && ok "cycle $cyc: the 32 blackholed and tarpit devices asked, timed out" ||
			bad "cycle $cyc: blackholed: $ndead polled, reasons $dreason"
		[ "$ngone" = 5 ] && [ "$greason" = refused ] && ok "cycle $cyc: the 5 closed ports refused" ||
			bad "cycle $cyc: refused: $ngone polled, reasons $greason"
		# one connect timeout (plus the live devices' work), not one per 16 dead devices
		[ "$dur" -lt $((CT * 1000 * 3 / 2)) ] && ok "cycle $cyc took $dur ms (connect timeout $((CT * 1000)) ms, 37 dead, 16 workers)" ||
			bad "cycle $cyc took $dur ms"
	else
		# twice failed: 2 intervals (+-25%) of backoff from the failure, so the devices that timed
		# out (at the end of cycle 2) are not asked; a refused one may be due again
		[ "$skipped" -ge 32 ] && [ "$skipped" -le 37 ] && ok "cycle $cyc: the dead devices back off ($skipped of 37 not asked)" ||
			bad "cycle $cyc: $skipped devices skipped"
		[ "$dur" -lt "$limit" ] && ok "cycle $cyc took $dur ms with the dead devices backing off" || bad "cycle $cyc took $dur ms"
	fi
done <"$tmp/summary"
[ "$(wc -l <"$tmp/summary")" = 3 ] || bad "expected 3 cycles, got $(wc -l <"$tmp/summary")"
n=$(grep -c 'Accepted publickey' "${SSHD_LOG[live]}")
[ "$n" = 4 ] && ok "one session per live device, kept across cycles ($n logins)" || bad "$n logins for 4 live devices"

# ---- the same devices behind a jump host: the channels to dead ones hold no worker either ----
JUMP=$NET.9:2222
sshd_start jump "$tmp" --log VERBOSE "$JUMP" || { bad "jump host sshd starts"; finish; }
sshd_known_hosts "$tmp" "${live[@]}" "$JUMP" >"$HOME/.ssh/known_hosts"
{ cat "$tmp/inv.ini"; echo "ansible_ssh_common_args='-o ProxyJump=root@$JUMP'"; } >"$tmp/jump.ini"
timeout 60 "$FD" poll -i "$tmp/jump.ini" --count 2 --interval 1 --connect-timeout $CT --timeout 4 --retries 1 \
	--forks 64 --slow-every 0 --json >"$tmp/cycles.json" 2>"$tmp/poll.err"
rc=$?
[ "$rc" = 0 ] && ok "through the jump host: two cycles polled" || bad "fleetdeck poll exited $rc: $(cat "$tmp/poll.err")"
"$PY" "$tmp/summary.py" "$tmp/cycles.json" >"$tmp/summary"
sed 's/^/   cycle /' "$tmp/summary"
while read -r cyc dur rtt states ndead dreason ngone greason skipped; do
	[ "$states" = healthy ] && ok "jump, cycle $cyc: the 4 live devices healthy" || bad "jump, cycle $cyc: live devices $states"
	[ "$rtt" -lt "$limit" ] && ok "jump, cycle $cyc: the slowest live device answered in $rtt ms (< $limit ms)" ||
		bad "jump, cycle $cyc: a live device took $rtt ms"
	[ "$ndead" = 32 ] && [ "$dreason" = timeout ] && ok "jump, cycle $cyc: the 32 blackholed and tarpit devices timed out" ||
		bad "jump, cycle $cyc: blackholed: $ndead polled, reasons $dreason"
	[ "$ngone" = 5 ] && [ "$greason" != timeout ] && ok "jump, cycle $cyc: the 5 closed ports failed at once ($greason)" ||
		bad "jump, cycle $cyc: refused: $ngone polled, reasons $greason"
	[ "$dur" -lt $((CT * 1000 * 3 / 2)) ] && ok "jump, cycle $cyc took $dur ms" || bad "jump, cycle $cyc took $dur ms"
done <"$tmp/summary"
[ "$(wc -l <"$tmp/summary")" = 2 ] || bad "expected 2 cycles, got $(wc -l <"$tmp/summary")"
n=$(grep -c 'Accepted publickey' "${SSHD_LOG[jump]}")
[ "$n" = 1 ] && ok "one session on the jump host for all 41 devices" || bad "$n logins on the jump host"
finish
