#!/usr/bin/env bash
# promexport: the fleet as Prometheus metrics against fleetsim. `--report --format prometheus`
# checked by the real promtool and read back by the Python client's parser (states one-hot,
# temperatures, versions, alerts, factory counts, cycle duration), device and factory names
# with quotes, backslashes and newlines, --output replaced atomically and read by the real
# node_exporter's textfile collector; `serve-metrics` scraped with curl and promtool, its
# rollout metrics from a real rollout database, scraped by the real Prometheus; keep-alive,
# 404/405, bad --listen, an address in use, IPv6, abusive clients (per-address limit, idle
# timeout) while polling goes on, SIGTERM, history recorded with --db.
# Addresses 127.84.10-19.x. Waits are ready files and bounded polls.
. "$(dirname "${BASH_SOURCE[0]}")/lib/simtest.sh"
unset FLEETDECK_INVENTORY
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }
PY=/usr/bin/python3 # Debian's, with python3-prometheus-client
command -v promtool >/dev/null || { bad "promtool is installed (packaging/install-deps.sh)"; finish; }

wait_ready() {
	local i
	for i in $(seq 600); do
		[ -s "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# poll TRIES CMD...: retries CMD every 0.1 s, at most TRIES times.
poll() {
	local n=$1 i; shift
	for i in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
CTL=127.84.10.254:7999
REG=127.84.10.254:5000
ctl() { curl -sf --max-time 10 -X POST "http://$CTL$1" -d "$2" >/dev/null; }
promcheck() { promtool check metrics <"$1" >"$tmp/promtool.out" 2>&1 || { cat "$tmp/promtool.out"; return 1; }; }

"$SIM" --devices 6 --factories 2 --seed 5 --base 127.84.10.1 --control $CTL --registry $REG --clock manual \
	--load-delay-ms 100 --model-kib 16 --write-inventory "$tmp/inv" --ready-file "$tmp/sim.ready" \
	>/dev/null 2>"$tmp/sim.err" &
pids+=($!)
wait_ready "$tmp/sim.ready" "${pids[0]}" || { bad "fleetsim starts"; cat "$tmp/sim.err"; finish; }
INI=$tmp/inv/fleet.ini
mapfile -t hosts < <(awk '/ansible_host=/{print $1}' "$INI")
mapfile -t addrs < <(awk '/ansible_host=/{for(i=2;i<=NF;i++) if ($i ~ /^ansible_host=/) {sub("ansible_host=","",$i); print $i}}' "$INI")

# read FILE PYTHON: the exposition parsed by prometheus_client into `m` = {(name, labels): value}
# (labels a frozenset of pairs) and `fam` = {name: (type, help)}; PYTHON asserts.
read_prom() {
	local f=$1; shift
	"$PY" - "$f" "$@" <<EOF
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
m, fam = {}, {}
for f in text_string_to_metric_families(text):
    fam[f.name] = (f.type, f.documentation)
    for s in f.samples:
        key = (s.name, frozenset(s.labels.items()))
        assert key not in m, key
        m[key] = s.value
def v(name, **labels):
    return m.get((name, frozenset(labels.items())))
def series(name):
    return {k[1]: val for k, val in m.items() if k[0] == name}
args = sys.argv[2:]
$(cat)
EOF
}

# ---- a healthy fleet ----
"$FD" --report -i "$INI" --no-history --format prometheus >"$tmp/ok.prom"; rc=$?
check "healthy fleet: exit 0" test "$rc" -eq 0
check "healthy fleet: promtool check metrics passes" promcheck "$tmp/ok.prom"
check "healthy fleet: 6 healthy devices, no alerts, the cycle's duration" read_prom "$tmp/ok.prom" <<'EOF'
assert v("fleetdeck_devices", state="healthy") == 6 and v("fleetdeck_devices", state="unreachable") == 0
assert v("fleetdeck_alerts", severity="critical") == 0 and v("fleetdeck_alerts", severity="warning") == 0
assert 0 < v("fleetdeck_cycle_duration_seconds") < 30
assert fam["fleetdeck_device_gpu_temperature_celsius"][0] == "gauge"
assert all(k.startswith("fleetdeck_") for k in fam), list(fam)
assert len(series("fleetdeck_device_gpu_temperature_celsius")) == 6
EOF

# ---- faults: down, unhealthy, hot, old version ----
ctl "/devices/${hosts[1]}/set" '{"fault": "refused"}'
ctl "/devices/${hosts[2]}/set" '{"status": "unhealthy"}'
ctl "/devices/${hosts[3]}/set" '{"gpu_temp": 93, "temp_trend": 0, "status": "healthy"}'
ctl "/devices/${hosts[4]}/set" '{"model_version": "2.9"}'
"$FD" --report -i "$INI" --no-history --format prometheus >"$tmp/bad.prom"; rc=$?
check "alerts: exit 1, as the text report" test "$rc" -eq 1
check "alerts: promtool check metrics passes" promcheck "$tmp/bad.prom"
check "alerts: states one-hot, temperature, versions, last seen, alerts, factory counts" read_prom "$tmp/bad.prom" "${hosts[@]}" <<'EOF'
h = args
import collections
fac = {}
for labels in series("fleetdeck_device_up"):
    d = dict(labels); fac[d["device"]] = d["factory"]
assert sorted(fac) == sorted(h), fac
for dev in h:
    states = {dict(l)["state"]: val for l, val in series("fleetdeck_device_state").items() if dict(l)["device"] == dev}
    assert sorted(states) == ["degraded", "healthy", "pending", "stale", "unhealthy", "unreachable"], states
    assert sum(states.values()) == 1, (dev, states)
def state(dev):
    return [dict(l)["state"] for l, val in series("fleetdeck_device_state").items() if dict(l)["device"] == dev and val == 1][0]
assert state(h[1]) == "unreachable" and state(h[2]) == "unhealthy" and state(h[3]) == "healthy" and state(h[0]) == "healthy"
assert v("fleetdeck_device_up", device=h[1], factory=fac[h[1]]) == 0 and v("fleetdeck_device_up", device=h[0], factory=fac[h[0]]) == 1
temps = {dict(l)["device"]: val for l, val in series("fleetdeck_device_gpu_temperature_celsius").items()}
assert h[1] not in temps and abs(temps[h[3]] - 93) < 0.5 and len(temps) == 5, temps
seen = {dict(l)["device"] for l in series("fleetdeck_device_last_seen_timestamp_seconds")}
assert h[1] not in seen and len(seen) == 5, seen
info = {dict(l)["device"]: dict(l) for l in series("fleetdeck_device_model_info")}
assert info[h[4]]["version"] == "2.9" and info[h[0]]["version"] == "3.1" and info[h[0]]["model"] == "defect-detection", info
assert h[1] not in info
alerts = sorted((dict(l)["device"], dict(l)["rule"], dict(l)["severity"]) for l in series("fleetdeck_alert"))
assert alerts == sorted([(h[1], "unreachable", "critical"), (h[2], "health", "critical"), (h[3], "gpu_temp", "critical"),
                         (h[4], "version_skew", "warning")]), alerts
assert v("fleetdeck_alerts", severity="critical") == 3 and v("fleetdeck_alerts", severity="warning") == 1
assert v("fleetdeck_devices", state="healthy") == 4 and v("fleetdeck_devices", state="unreachable") == 1
per = collections.Counter()
for l, val in series("fleetdeck_factory_devices").items():
    per[(dict(l)["factory"], dict(l)["state"])] += val
assert per[(fac[h[1]], "unreachable")] == 1 and sum(per.values()) == 6, per
assert sum(val for (f, s), val in per.items() if f == fac[h[0]]) == 3
p95 = series("fleetdeck_device_latency_p95_seconds")
err = series("fleetdeck_device_error_ratio")
assert len(p95) == 5 and all(0 < x < 10 for x in p95.values()), p95
assert len(err) == 5 and all(0 <= x <= 1 for x in err.values()), err
EOF
check "no timestamps on samples (the textfile collector refuses them)" test -z "$(grep -v '^#' "$tmp/bad.prom" | awk 'NF != 2')"

# ---- a host that cannot be polled (a bad variable): counted, not a fake device ----
printf '[g]\nbadport ansible_host=127.84.10.200 fleetdeck_agent_port=http\n%s ansible_host=%s\n' "${hosts[0]}" "${addrs[0]}" >"$tmp/badvar.ini"
"$FD" --report -i "$tmp/badvar.ini" --no-history --format prometheus >"$tmp/skip.prom" 2>"$tmp/skip.err"; rc=$?
skipped_ok() {
	test "$rc" -eq 0 -a "$(grep -c '^fleetdeck_devices_not_polled 1$' "$tmp/skip.prom")" = 1 -a \
		"$(grep -c '^fleetdeck_device_up{' "$tmp/skip.prom")" = 1 && promcheck "$tmp/skip.prom"
}
check "a host with a bad variable: exit 0, promtool passes, fleetdeck_devices_not_polled 1, one device" skipped_ok

# ---- names with quotes, backslashes and newlines ----
cat >"$tmp/odd.yml" <<EOF
all:
  children:
    factory_odd:
      hosts:
        "quote\"d":
          ansible_host: ${addrs[0]}
          fleetdeck_factory_group: "fac\"tory \\\\ one\\nline two"
        "back\\\\slash":
          ansible_host: ${addrs[3]}
        "new\\nline":
          ansible_host: ${addrs[1]}
        "} 1\\nfleetdeck_fake 1":
          ansible_host: ${addrs[2]}
EOF
"$FD" --report -i "$tmp/odd.yml" --no-history --format prometheus >"$tmp/odd.prom" 2>"$tmp/odd.err"; rc=$?
check "odd names: the report runs (exit 1: alerts)" test "$rc" -eq 1
check "odd names: promtool check metrics passes" promcheck "$tmp/odd.prom"
check "odd names: no injected metric, each name read back exactly" read_prom "$tmp/odd.prom" <<'EOF'
assert "fleetdeck_fake" not in fam, list(fam)
devs = {dict(l)["device"]: dict(l).get("factory") for l in series("fleetdeck_device_up")}
assert sorted(devs) == sorted(['quote"d', "back\\slash", "new\nline", "} 1\nfleetdeck_fake 1"]), devs
assert devs['quote"d'] == 'fac"tory \\ one\nline two', devs
assert devs["back\\slash"] == "factory_odd"
down = [dict(l)["device"] for l, val in series("fleetdeck_device_state").items() if dict(l)["state"] == "unreachable" and val == 1]
assert down == ["new\nline"], down
EOF

# ---- --output: atomic replacement, for node_exporter's textfile collector ----
mkdir -p "$tmp/textfile"
OUT=$tmp/textfile/fleetdeck.prom
"$FD" --report -i "$INI" --no-history --format prometheus --output "$OUT" >"$tmp/o.stdout"; rc=$?
check "--output: exit 1 (alerts), nothing on stdout, the file written" test "$rc" -eq 1 -a ! -s "$tmp/o.stdout" -a -s "$OUT"
check "--output: mode 0644 (node_exporter reads it as another user)" test "$(stat -c %a "$OUT")" = 644
check "--output: the file passes promtool" promcheck "$OUT"
ino1=$(stat -c %i "$OUT")
"$FD" --report -i "$INI" --no-history --format prometheus --output "$OUT" >/dev/null
check "--output again: a new file renamed over the old (new inode), no temporary left" test \
	"$(stat -c %i "$OUT")" != "$ino1" -a "$(ls -A "$tmp/textfile")" = fleetdeck.prom
cp "$OUT" "$tmp/keep.prom"
"$FD" --report -i "$INI" --no-history --format prometheus --output "$tmp/nodir/x.prom" >/dev/null 2>"$tmp/o.err"; rc=$?
check "--output into a missing directory: exit 2 and a clear error" test "$rc" -eq 2 -a \
	-n "$(grep "fleetdeck report: $tmp/nodir/x.prom: cannot create a temporary file beside it: No such file or directory" "$tmp/o.err")"
"$FD" --report -i "$INI" --no-history --output "$OUT" >/dev/null 2>"$tmp/o.err"; rc=$?
check "--output without --format prometheus: exit 2, the file untouched" test "$rc" -eq 2 -a \
	-n "$(grep 'is for --format prometheus' "$tmp/o.err")" && cmp -s "$OUT" "$tmp/keep.prom"
NE=$(command -v prometheus-node-exporter || true)
if [ -n "$NE" ]; then
	"$NE" --web.listen-address=127.84.11.3:9100 --collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$tmp/textfile" >"$tmp/ne.log" 2>&1 &
	pids+=($!)
	scrape_ne() { curl -sf --max-time 5 http://127.84.11.3:9100/metrics >"$tmp/ne.prom"; }
	poll 100 scrape_ne
	check "node_exporter's textfile collector serves the file's metrics without error" "$PY" - "$tmp/ne.prom" <<'EOF'
import sys
t = open(sys.argv[1]).read()
assert 'fleetdeck_devices{state="healthy"} 4' in t, t[:2000]
assert "node_textfile_scrape_error 0" in t, [l for l in t.splitlines() if "textfile" in l]
EOF
else
	bad "prometheus-node-exporter is installed (packaging/install-deps.sh)"
fi

# ---- serve-metrics ----
ctl "/devices/all/set" '{"fault": null, "status": "auto", "model_version": "3.1"}'
ctl "/devices/${hosts[3]}/set" '{"gpu_temp": 60, "temp_trend": 0}'
# a rollout database: one completed, one failed at its gate, one waiting for approval
DB=$tmp/roll.db
fast=(--wait-tries 100 --wait-delay-ms 50 --connect-timeout-ms 1000 --timeout-ms 5000)
"$FD" --db "$DB" rollout start -i "$INI" --model defect-detection --version 3.2 --serial 3 "${fast[@]}" --foreground >"$tmp/r1.out" 2>&1; r1=$?
ctl "/devices/${hosts[0]}/set" '{"bad_version": "3.0"}'
"$FD" --db "$DB" rollout start -i "$INI" --model defect-detection --version 3.0 --serial 1,50% "${fast[@]}" --foreground >"$tmp/r2.out" 2>&1; r2=$?
ctl "/devices/${hosts[0]}/set" '{"bad_versions": [], "fault": "refused"}'
"$FD" --db "$DB" rollout start -i "$INI" --model defect-detection --version 3.1 --serial 1 "${fast[@]}" --foreground >"$tmp/r3.out" 2>&1; r3=$?
ctl "/devices/${hosts[0]}/set" '{"fault": null}'
check "three rollouts recorded (completed, failed, waiting)" test "$r1" -eq 0 -a "$r2" -eq 1 -a \
	"$("$FD" --db "$DB" rollout list --json | "$PY" -c 'import json,sys; print(sorted(r["state"] for r in json.load(sys.stdin)))')" = "['awaiting_approval', 'completed', 'failed']" \
	|| { cat "$tmp/r1.out" "$tmp/r2.out" "$tmp/r3.out"; false; }

LISTEN=127.84.11.1:9464
"$FD" serve-metrics -i "$INI" --listen $LISTEN --interval 0.3 --db "$DB" --no-history \
	--max-clients-per-address 4 --client-timeout 3 >"$tmp/srv.out" 2>"$tmp/srv.err" &
srv=$!
pids+=($srv)
scrape() { curl -sf --max-time 5 "http://$LISTEN/metrics" -o "$tmp/srv.prom"; }
cycles() { scrape && awk '$1 == "fleetdeck_cycles_total" {print int($2)}' "$tmp/srv.prom"; }
at_least() { local c; c=$(cycles) && [ -n "$c" ] && [ "$c" -ge "$1" ]; }
check "serve-metrics answers /metrics after its first cycles" poll 100 at_least 2
check "serve-metrics: promtool check metrics passes" promcheck "$tmp/srv.prom"
curl -s -D "$tmp/hdr" -o /dev/null "http://$LISTEN/metrics"
check "serve-metrics: Content-Type is the text format 0.0.4" grep -qi '^content-type: text/plain; version=0.0.4' "$tmp/hdr"
check "serve-metrics: the fleet and the rollouts" read_prom "$tmp/srv.prom" "${hosts[@]}" <<'EOF'
h = args
assert v("fleetdeck_devices", state="healthy") == 6, series("fleetdeck_devices")
assert v("fleetdeck_cycles_total") >= 2 and fam["fleetdeck_cycles"][0] == "counter"  # the client names a counter family without _total
assert 0 < v("fleetdeck_cycle_duration_seconds") < 30
assert len(series("fleetdeck_device_gpu_temperature_celsius")) == 6
assert v("fleetdeck_rollouts_active") == 1
assert v("fleetdeck_rollouts", state="completed") == 1 and v("fleetdeck_rollouts", state="failed") == 1
assert v("fleetdeck_rollouts", state="awaiting_approval") == 1 and v("fleetdeck_rollouts", state="running") == 0
info = {dict(l)["rollout"]: dict(l) for l in series("fleetdeck_rollout_info")}
assert info["1"]["state"] == "completed" and info["1"]["version"] == "3.2" and info["1"]["model"] == "defect-detection", info
assert info["2"]["state"] == "failed" and info["3"]["state"] == "awaiting_approval", info
assert v("fleetdeck_rollout_devices_done", rollout="1") == 6 and v("fleetdeck_rollout_devices_failed", rollout="1") == 0
assert v("fleetdeck_rollout_devices_failed", rollout="2") == 1 and v("fleetdeck_rollout_devices", rollout="2", step="pending") == 5
assert v("fleetdeck_rollout_devices", rollout="3", step="unreachable") == 1
assert sum(val for l, val in series("fleetdeck_rollout_devices").items() if dict(l)["rollout"] == "1") == 6
EOF
ctl "/devices/${hosts[5]}/set" '{"fault": "refused"}'
down() { scrape && grep -q "^fleetdeck_device_state{device=\"${hosts[5]}\",factory=\"[a-z_]*\",state=\"unreachable\"} 1$" "$tmp/srv.prom"; }
check "serve-metrics follows the fleet: a device refused shows unreachable" poll 100 down
keepalive() { curl -sv --max-time 5 "http://$LISTEN/metrics" "http://$LISTEN/metrics" -o /dev/null -o /dev/null 2>&1 | grep -q 'Re-using existing connection'; }
check "serve-metrics keeps a scraper's connection alive between requests" keepalive
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
check "serve-metrics: another path is 404, POST is 405" test "$(code "http://$LISTEN/nope")" = 404 -a \
	"$(code -X POST -d x "http://$LISTEN/metrics")" = 405

# the alerting rules shipped for Prometheus: valid, and their own unit tests pass
RULES=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../packaging/prometheus" && pwd)
quiet() { "$@" >"$tmp/quiet.out" 2>&1 || { cat "$tmp/quiet.out"; return 1; }; }
check "packaging/prometheus/fleetdeck.rules.yml: promtool check rules" quiet promtool check rules "$RULES/fleetdeck.rules.yml"
check "packaging/prometheus/fleetdeck.rules.test.yml: promtool test rules" \
	quiet sh -c 'cd "$1" && promtool test rules fleetdeck.rules.test.yml' sh "$RULES"

# a real Prometheus scraping serve-metrics, with those rules
PROM=$(command -v prometheus || true)
if [ -n "$PROM" ]; then
	mkdir -p "$tmp/prom"
	cat >"$tmp/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES/fleetdeck.rules.yml
scrape_configs:
  - job_name: fleetdeck
    static_configs:
      - targets: ["$LISTEN"]
EOF
	"$PROM" --config.file="$tmp/prom/prometheus.yml" --storage.tsdb.path="$tmp/prom/data" \
		--web.listen-address=127.84.13.1:9090 >"$tmp/prom/log" 2>&1 &
	prom=$!
	pids+=($prom)
	q() { curl -sf --max-time 5 "http://127.84.13.1:9090/api/v1/query" --data-urlencode "query=$1" -o "$tmp/q.json" &&
		"$PY" -c "import json,sys; r=json.load(open('$tmp/q.json'))['data']['result']; sys.exit(not (len(r) == 1 and r[0]['value'][1] == sys.argv[1]))" "$2"; }
	check "Prometheus scrapes serve-metrics: up{job=\"fleetdeck\"} is 1" poll 300 q 'up{job="fleetdeck"}' 1 || tail -5 "$tmp/prom/log"
	check "...and sees the fleet: 6 devices with a GPU temperature, 1 unreachable" q \
		'count(fleetdeck_device_gpu_temperature_celsius) + on() fleetdeck_devices{state="unreachable"}' 6
	check "...and the rollout that waits for approval" q 'fleetdeck_rollout_info{state="awaiting_approval"}' 1
	pending() { curl -sf --max-time 5 "http://127.84.13.1:9090/api/v1/alerts" -o "$tmp/alerts.json" && "$PY" -c "
import json, sys; a = json.load(open('$tmp/alerts.json'))['data']['alerts']
sys.exit(not any(x['labels']['alertname'] == 'FleetdeckDeviceUnreachable' and x['labels']['device'] == sys.argv[1]
                 and x['state'] == 'pending' for x in a))" "${hosts[5]}"; }
	check "...and its rules hold FleetdeckDeviceUnreachable pending for the refused device" poll 100 pending
	kill $prom
	wait $prom 2>/dev/null
else
	bad "prometheus is installed (packaging/install-deps.sh)"
fi

# abusive clients: 20 idle connections from one address, while another address scrapes
"$PY" - "$LISTEN" >"$tmp/abuse.out" 2>&1 <<'EOF' &
import selectors, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
sel = selectors.DefaultSelector()
refused = 0
t0 = time.monotonic()
for i in range(20):
    s = socket.socket()
    s.bind(("127.84.12.1", 0))
    s.settimeout(5)
    try:
        s.connect((host, int(port)))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finishes the request
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    except OSError:
        refused += 1
        s.close()
# the server closes the connections over its per-address limit at once, the rest after the idle timeout
fast = idle = 0
while sel.get_map() and time.monotonic() - t0 < 12:
    for key, _ in sel.select(timeout=0.5):
        try:
            data = key.fileobj.recv(1)
        except OSError:
            data = b""
        if data == b"":
            dt = time.monotonic() - t0
            if dt < 2: fast += 1
            else: idle += 1
            sel.unregister(key.fileobj)
            key.fileobj.close()
print(refused + fast, idle, len(sel.get_map()))
EOF
abuser=$!
fast_scrape() { curl -sf --max-time 1 --interface 127.84.12.2 "http://$LISTEN/metrics" -o /dev/null; }
check "while one address holds idle connections, another scrapes within 1 s" poll 20 fast_scrape
c0=$(cycles)
wait $abuser
read -r nfast nidle nopen <"$tmp/abuse.out"
check "abusive client: 16 of 20 connections dropped at once (4 per address), the 4 kept closed by the idle timeout" \
	test "${nfast:-0}" -eq 16 -a "${nidle:-0}" -eq 4 -a "${nopen:-1}" -eq 0 || cat "$tmp/abuse.out"
c1=$(cycles)
check "polling went on meanwhile (cycles $c0 -> $c1)" test -n "$c0" -a -n "$c1" -a "${c1:-0}" -gt "${c0:-0}"

"$FD" serve-metrics -i "$INI" --listen $LISTEN >/dev/null 2>"$tmp/inuse.err"; rc=$?
check "an address in use: exit 2, said so" test "$rc" -eq 2 -a \
	-n "$(grep "fleetdeck serve-metrics: cannot listen on $LISTEN: Address already in use" "$tmp/inuse.err")"
kill -TERM $srv
stopped() { ! kill -0 $srv 2>/dev/null; }
check "SIGTERM stops serve-metrics within 5 s" poll 50 stopped
wait $srv; rc=$?
check "...with exit 0, and the port is free again" test "$rc" -eq 0 -a -z "$(ss -Hltn src "$LISTEN" 2>/dev/null)"
# IPv6 loopback, where the machine has it
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
	"$FD" serve-metrics -i "$INI" --listen '[::1]:19464' --interval 0.3 >/dev/null 2>"$tmp/v6.err" &
	srv=$!
	pids+=($srv)
	v6() { curl -sf --max-time 5 'http://[::1]:19464/metrics' | grep -q '^fleetdeck_devices{state="healthy"}'; }
	check "serve-metrics --listen '[::1]:19464' serves over IPv6" poll 100 v6 || cat "$tmp/v6.err"
	kill -TERM $srv
	wait $srv
fi

# with a fresh --db and history on: cycles recorded, no rollouts yet
HDB=$tmp/hist.db
"$FD" serve-metrics -i "$INI" --listen $LISTEN --interval 0.3 --db "$HDB" >/dev/null 2>"$tmp/srv2.err" &
srv=$!
pids+=($srv)
check "serve-metrics --db (new database): answers with no rollouts" poll 100 at_least 2 && \
	check "...fleetdeck_rollouts_active 0" grep -q '^fleetdeck_rollouts_active 0$' "$tmp/srv.prom"
kill -TERM $srv
wait $srv; rc=$?
samples() { "$FD" history --db "$HDB" samples "${hosts[0]}" --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
check "...exit 0 on SIGTERM, and its cycles are in the history" test "$rc" -eq 0 -a "$(samples)" -ge 2 || cat "$tmp/srv2.err"
for l in 127.84.11.1 127.84.11.1:0 127.84.11.1:http localhost:9464 300.1.1.1:80 "[::1:80" ""; do
	"$FD" serve-metrics -i "$INI" --listen "$l" >/dev/null 2>"$tmp/l.err"; rc=$?
	check "--listen '$l': exit 2 and a clear error" test "$rc" -eq 2 -a -n "$(grep -- '--listen' "$tmp/l.err")"
done
"$FD" serve-metrics -i "$INI" >/dev/null 2>"$tmp/l.err"; rc=$?
check "no --listen: exit 2, said so" test "$rc" -eq 2 -a -n "$(grep -- '--listen ADDR:PORT is required' "$tmp/l.err")"
finish
