#!/usr/bin/env bash
# devmetrics: device readings from /metrics end to end: devices whose /status lacks GPU
# utilisation, latency and temperature get them from their exporter in the report (its JSON and
# the history it writes) and in the console's devices table (p95 between two scrapes); what
# /status gave is kept; a malformed exposition fails only that fetch. The devices are a small
# Python HTTP server playing three devices on 127.88.199.x with known counters, so every figure
# is exact. Waits are bounded polls of ready files and of the screen.
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
PY=/usr/bin/python3
tmp=$(mktemp -d)
sock=fddm$$
pids=()
cleanup() {
	tmux -L "$sock" kill-server 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data
mkdir -p "$HOME"

NET=127.88.199
cat >"$tmp/devices.py" <<'PY'
# Three devices on NET.1-3, agent on 8080 and exporter on 8000. Every /metrics answer adds 100
# observations in (0.05, 0.1] and 90 good and 10 failed requests: between two scrapes p95 is
# 97.5 ms and the error rate 0.1; the first scrape (all of the exporter's life) gives 90 ms.
import json, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
net, ready = sys.argv[1], sys.argv[2]
kinds = {1: "bare", 2: "bad", 3: "full"}
scrapes = {i: 0 for i in kinds}
lock = threading.Lock()

def metrics(n):
    cum = [10, 20, 30, 40 + 100 * (n - 1)]
    les = ["0.01", "0.02", "0.05", "0.1"]
    out = ["# HELP inference_latency_seconds Inference latency in seconds",
           "# TYPE inference_latency_seconds histogram"]
    out += ['inference_latency_seconds_bucket{le="%s"} %.1f' % (l, c) for l, c in zip(les, cum)]
    out += ['inference_latency_seconds_bucket{le="+Inf"} %.1f' % cum[-1],
            "inference_latency_seconds_count %.1f" % cum[-1], "inference_latency_seconds_sum 4.2",
            "# HELP inference_requests_total Total inference requests",
            "# TYPE inference_requests_total counter",
            'inference_requests_total{model="yolo",status="success"} %.1f' % (90 * n),
            'inference_requests_total{model="yolo",status="error"} %.1f' % (10 * n)]
    for name, v in (("gpu_utilization_percent", "42.4"), ("gpu_temperature_celsius", "61.0"),
                    ("gpu_power_watts", "9.5"), ("gpu_memory_used_bytes", "2.097152e+09"),
                    ("gpu_memory_total_bytes", "8.388608e+09")):
        out += ["# HELP %s x" % name, "# TYPE %s gauge" % name, "%s %s" % (name, v)]
    return "\n".join(out) + "\n"

class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body, ctype="application/json"):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        dev = int(self.server.server_address[0].rsplit(".", 1)[1])
        kind, port = kinds[dev], self.server.server_address[1]
        if port == 8000:
            if kind == "bad":
                return self.send(200, "gpu_utilization_percent{ 42\n", "text/plain; version=0.0.4")
            with lock:
                scrapes[dev] += 1
                n = scrapes[dev]
            return self.send(200, metrics(n), "text/plain; version=0.0.4")
        if self.path == "/health":
            return self.send(200, json.dumps({"status": "healthy", "model_loaded": True}))
        if self.path == "/status":
            st = {"status": "healthy", "model_name": "yolo", "model_version": "3.2", "gpu_temp": None,
                  "uptime_hours": 5.0}
            if kind == "full":
                st.update(gpu_temp=50.0, gpu_util=7.0, latency_p95_ms=12.5, error_rate=0.25)
            return self.send(200, json.dumps(st))
        return self.send(404, "{}")

servers = [ThreadingHTTPServer(("%s.%d" % (net, i), p), H) for i in kinds for p in (8080, 8000)]
for s in servers:
    threading.Thread(target=s.serve_forever, daemon=True).start()
open(ready + ".tmp", "w").write("ready\n")
import os; os.rename(ready + ".tmp", ready)
threading.Event().wait()
PY
"$PY" "$tmp/devices.py" $NET "$tmp/ready" 2>"$tmp/devices.err" &
pids+=($!)
for _ in $(seq 200); do [ -s "$tmp/ready" ] && break; kill -0 "${pids[0]}" 2>/dev/null || break; sleep 0.05; done
if [ ! -s "$tmp/ready" ]; then bad "the test devices start"; cat "$tmp/devices.err"; echo "$passed passed, $failed failed"; exit 1; fi
cat >"$tmp/inv.ini" <<EOF2
[factory_test]
dev-bare ansible_host=$NET.1
dev-bad ansible_host=$NET.2
dev-full ansible_host=$NET.3
EOF2

# ---- the report: one scrape, readings over the exporter's whole life ----
"$FD" report -i "$tmp/inv.ini" --format json --db "$tmp/h.db" >"$tmp/r.json"
check "report runs (no alerts)" test $? -eq 0
dev() { # host python-condition on d
	"$PY" - "$tmp/r.json" "$1" "$2" <<'EOF2'
import json, sys
path, host, cond = sys.argv[1:]
d = next(x for x in json.load(open(path))["devices"] if x["host"] == host)
ok = eval(cond)
if not ok: print("   got", json.dumps(d, sort_keys=True))
sys.exit(0 if ok else 1)
EOF2
}
check "report: GPU temperature from /metrics where /status says null" dev dev-bare 'd["gpu_temp"] == 61.0'
check "report: what /status gave is kept" dev dev-full 'd["gpu_temp"] == 50.0'
check "report: a malformed exposition leaves the device healthy, its temperature unknown" \
	dev dev-bad 'd["state"] == "healthy" and d["gpu_temp"] is None'
q() { sqlite3 "$tmp/h.db" "SELECT s.gpu_util_permille, s.latency_p95_us, s.error_rate_ppm, s.power_mw, s.gpu_mem_mib \
	FROM samples s JOIN devices d ON d.id = s.device_id WHERE d.host = '$1'"; }
check "history: dev-bare's GPU util, p95 (90 ms since start), error rate, power, memory from /metrics" \
	test "$(q dev-bare)" = "424|90000|100000|9500|2000"
check "history: dev-full keeps /status's GPU util, p95 and error rate" test "$(q dev-full | cut -d'|' -f1-3)" = "70|12500|250000"
check "history: dev-bad has none of them (never a zero)" test "$(q dev-bad)" = "||||"

# ---- the console: a scrape every cycle, p95 between two scrapes ----
command -v tmux >/dev/null || { bad "tmux is not installed"; echo "$passed passed, $failed failed"; exit 1; }
mkdir -p "$XDG_CONFIG_HOME/fleetdeck"
printf 'poll:\n  slow_every: 1\n' >"$XDG_CONFIG_HOME/fleetdeck/config.yaml"
tm() { tmux -L "$sock" "$@"; }
screen() { tm capture-pane -p -t main; }
cmd=$(printf '%q ' env TERM=xterm-256color LANG=C.UTF-8 "$FD" -i "$tmp/inv.ini" --db "$tmp/c.db" --interval 1 --refresh 0.1 --timeout 2)
tm new-session -d -s main -x 160 -y 70 "$cmd; sleep 60"
row() { screen | grep -E "(│|\|) +$1 " | head -1; } # the devices table's row, after the pane border
wait_row() { # host regex: polls the screen, 15 s at most
	local i
	for i in $(seq 300); do row "$1" | grep -Eq -- "$2" && return 0; sleep 0.05; done
	echo "   row: $(row "$1")"; screen | head -30 | sed 's/^/    | /'
	return 1
}
check "console: dev-bare shows GPU% 42 from /metrics" wait_row 'dev-bare' ' 42 '
check "console: dev-bare shows p95 97.5 ms between two scrapes" wait_row 'dev-bare' ' 97\.5 '
check "console: dev-full shows /status's GPU% 7 and p95 12.5" wait_row 'dev-full' ' 7 .* 12\.5 '
bad_row=$(row dev-bad)
check "console: dev-bad shows no GPU% and no p95" test -n "$bad_row" -a "$(echo "$bad_row" | grep -Ec ' (42|97\.5|90\.0) ')" = 0
wait_screen() { # regex: polls the screen, 15 s at most
	local i
	for i in $(seq 300); do screen | grep -Eq -- "$1" && return 0; sleep 0.05; done
	screen | head -40 | sed 's/^/    | /'
	return 1
}
tm send-keys -t main Enter # the first row, dev-bad
check "console: dev-bad's detail says why its /metrics failed, with the line" \
	wait_screen "/metrics +malformed answer: line 1: expected a label name or '}'"
tm send-keys -t main q
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
