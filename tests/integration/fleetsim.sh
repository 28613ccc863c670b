#!/usr/bin/env bash
# fleetsim: the device simulator as clients see it: every endpoint, /metrics through the Python client's parser, updates, rollbacks, every fault kind, the control API, inventories through ansible-inventory, determinism, 1,000 devices.
# Synchronisation is by READY files and bounded polling, never by sleeping a guessed time.
# All traffic stays on 127.0.0.0/8; addresses 127.77-127.80.x.x and ports 18000/18080 keep
# clear of other tests that use the default layout.
set -u
BUILD=${FLEETDECK_BUILD:?set FLEETDECK_BUILD to the build directory}
SIM=$BUILD/fleetsim
[ -x "$SIM" ] || { echo "FAIL no simulator at $SIM"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

# The Python client's parser lives in Debian's python3-prometheus-client, which only the
# system interpreter sees (a pyenv python3 may come first in PATH).
PY=python3
for cand in /usr/bin/python3 python3; do
	if "$cand" -c 'import prometheus_client' 2>/dev/null; then PY=$cand; break; fi
done
"$PY" -c 'import prometheus_client' 2>/dev/null && HAVE_PROM=1 || HAVE_PROM=0

# wait_ready FILE PID: bounded wait for the ready file (or the process dying).
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
# start NAME ARGS...: starts fleetsim, waits until it is ready; sets $last_pid.
start() {
	local name=$1; shift
	"$SIM" "$@" --ready-file "$tmp/$name.ready" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	last_pid=$!
	pids+=("$last_pid")
	wait_ready "$tmp/$name.ready" "$last_pid"
}
json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); $1"; }
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }

# ---- command line ----
out=$("$SIM" --help 2>&1); rc=$?
check "--help exits 0 and shows usage" test "$rc" -eq 0 -a -n "$(printf '%s' "$out" | grep '^usage: fleetsim')"
"$SIM" --frobnicate >/dev/null 2>&1; check "unknown option exits 2" test $? -eq 2
"$SIM" --fault meteor=0.1 >/dev/null 2>&1; check "unknown fault kind exits 2" test $? -eq 2
"$SIM" --control 10.0.0.1:7999 >/dev/null 2>&1; check "non-loopback control address exits 2" test $? -eq 2
"$SIM" --devices 0 >/dev/null 2>&1; check "--devices 0 exits 2" test $? -eq 2
echo '{"factories": [{"name": "x", "devices": "many"}]}' >"$tmp/badfleet.json"
"$SIM" --fleet "$tmp/badfleet.json" >/dev/null 2>"$tmp/badfleet.err"; rc=$?
check "a broken fleet file exits 2 naming the file" test "$rc" -eq 2 -a -n "$(grep badfleet.json "$tmp/badfleet.err")"

# ---- the main fleet: 50 devices, registry, control, manual clock ----
CTL=127.77.255.1:7999
REG=127.77.255.1:5000
mkdir -p "$tmp/inv"
if ! start main --devices 50 --factories 5 --seed 1 --base 127.77.0.1 --registry $REG --control $CTL \
	--clock manual --write-inventory "$tmp/inv" --pid-file "$tmp/main.pid" --load-delay-ms 600 \
	--slow-ms 1500 --oversize-mib 8 --model-kib 256; then
	bad "fleetsim starts 50 devices"; cat "$tmp/main.err"
	echo "$passed passed, $failed failed"; exit 1
fi
MAIN=$last_pid
check "READY line on stdout" grep -qx 'READY 50 devices' "$tmp/main.out"
check "pid file holds the pid" test "$(cat "$tmp/main.pid")" = "$MAIN"

# every device answers on both ports: 127.77.0.1 .. 127.77.0.50
urls=(); for i in $(seq 50); do urls+=(-o /dev/null "http://127.77.0.$i:8080/health" -o /dev/null "http://127.77.0.$i:8000/metrics"); done
codes=$(curl -s -w '%{http_code}\n' --max-time 10 "${urls[@]}" | sort | uniq -c | awk '{print $1" "$2}')
check "all 50 devices answer /health and /metrics" test "$codes" = "100 200"

D=127.77.0.7
curl -s $D:8080/status >"$tmp/status.json"
check "/status has the required and optional fields with the right types" json '
req={"status":str,"model_name":str,"model_version":str,"gpu_temp":float,"uptime_hours":float}
opt={"gpu_type":str,"gpu_util":float,"gpu_mem_used":int,"gpu_mem_total":int,"power_w":float,"latency_p95_ms":float,"error_rate":float}
for k,t in {**req,**opt}.items(): assert isinstance(d[k],t),k
assert d["status"] in ("healthy","degraded","unhealthy")
assert d["model_name"]=="defect-detection" and d["model_version"]=="3.1"
assert 20<d["gpu_temp"]<95 and 0<=d["error_rate"]<=1 and d["gpu_mem_used"]<d["gpu_mem_total"]
assert d["last_update_error"] is None and d["hostname"]=="edge-ams-07"' <"$tmp/status.json"
check "/health answers status and model_loaded" json 'assert d=={"status":"healthy","model_loaded":True}, d' < <(curl -s $D:8080/health)
check "/drift: a window per feature, N floats each" json '
assert d["window"]==25 and sorted(d["features"])==["brightness","contrast","mean_intensity","std_intensity"]
assert all(len(v)==25 and all(isinstance(x,float) for x in v) for v in d["features"].values())' < <(curl -s "$D:8080/drift?window=25")
check "/drift default window is 500" json 'assert d["window"]==500 and len(d["features"]["contrast"])==500' < <(curl -s $D:8080/drift)
check "/drift?window=0 is a 400" test "$(code "$D:8080/drift?window=0")" = 400

# uptime grows with (simulated) time
u0=$(curl -s $D:8080/status | json 'print(d["uptime_hours"])')
curl -s -X POST $CTL/clock -d '{"advance_s": 3600}' >/dev/null
u1=$(curl -s $D:8080/status | json 'print(d["uptime_hours"])')
check "uptime grows by an hour when the clock moves an hour" "$PY" -c "assert abs($u1-$u0-1.0)<0.011, ($u0,$u1)"

# ---- /metrics ----
curl -s $D:8000/metrics >"$tmp/metrics.txt"
curl -s $D:8080/status >"$tmp/status.json"
ctype=$(curl -s -o /dev/null -w '%{content_type}' $D:8000/metrics)
check "/metrics content type is the exposition format 0.0.4" test "$ctype" = "text/plain; version=0.0.4; charset=utf-8"
if [ "$HAVE_PROM" = 1 ]; then
	check "/metrics parses with prometheus_client and has every contract metric" "$PY" - "$tmp/metrics.txt" "$tmp/status.json" <<'EOF'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read(); st = json.load(open(sys.argv[2]))
fams = {f.name: f for f in text_string_to_metric_families(text)}
want = {"inference_latency_seconds": "histogram", "inference_requests": "counter",
        "inference_active_requests": "gauge", "inference_queue_depth": "gauge",
        "gpu_utilization_percent": "gauge", "gpu_memory_used_bytes": "gauge", "gpu_memory_total_bytes": "gauge",
        "gpu_temperature_celsius": "gauge", "gpu_power_watts": "gauge", "cpu_utilization_percent": "gauge",
        "memory_used_bytes": "gauge", "memory_total_bytes": "gauge", "disk_used_bytes": "gauge",
        "model_loaded": "gauge", "model_load_time_seconds": "histogram", "device_health_status": "gauge",
        "edge_device_info": "gauge"}
for n, t in want.items():
    assert n in fams and fams[n].type == t, (n, fams.get(n))
h = fams["inference_latency_seconds"].samples
buckets = [s for s in h if s.name.endswith("_bucket")]
assert [s.labels["le"] for s in buckets] == ["0.01","0.02","0.03","0.05","0.1","0.2","0.5","1.0","+Inf"]
vals = [s.value for s in buckets]
assert vals == sorted(vals) and vals[-1] > 0
count = [s.value for s in h if s.name.endswith("_count")][0]
assert count == vals[-1]
reqs = {s.labels["status"]: s.value for s in fams["inference_requests"].samples if s.name.endswith("_total")}
assert reqs["success"] > 0 and set(reqs) <= {"success", "error"}
one = lambda n: fams[n].samples[0].value
assert one("gpu_temperature_celsius") == st["gpu_temp"]
assert one("gpu_utilization_percent") == st["gpu_util"]
assert one("gpu_power_watts") == st["power_w"]
assert one("gpu_memory_used_bytes") == st["gpu_mem_used"] and one("gpu_memory_total_bytes") == st["gpu_mem_total"]
assert one("device_health_status") == 1.0
ml = [(s.labels, s.value) for s in fams["model_loaded"].samples]
assert ml == [({"model_name": "defect-detection", "version": "3.1"}, 1.0)], ml
info = fams["edge_device_info"].samples[0].labels
assert info["device_id"] == "edge-ams-07" and set(info) == {"device_id", "platform", "cuda_version"}
EOF
	check "/metrics is byte for byte what prometheus_client writes for the same samples" "$PY" - "$tmp/metrics.txt" <<'EOF'
import sys
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
fams = list(text_string_to_metric_families(text))
class Replay:
    def collect(self):
        return fams
reg = CollectorRegistry(); reg.register(Replay())
assert generate_latest(reg).decode() == text
EOF
else
	echo "skip prometheus_client checks (install python3-prometheus-client)"
fi
if command -v promtool >/dev/null; then
	check "promtool check metrics accepts /metrics" sh -c "promtool check metrics <'$tmp/metrics.txt' >/dev/null 2>&1"
else
	echo "skip promtool (install prometheus)"
fi

# ---- registry ----
curl -s $REG/models/index.json >"$tmp/index.json"
check "index.json has the seed's metadata per name:version" json '
e=d["defect-detection:3.2"]
for k in ("name","version","architecture","framework","precision","input_shape","mAP","latency_ms","model_size_mb","training_date","checksum","tags","description","baseline"): assert k in e,k
assert len(e["checksum"])==64 and sorted(d)==["defect-detection:3.0","defect-detection:3.1","defect-detection:3.2"]' <"$tmp/index.json"
SUM=$(json 'print(d["defect-detection:3.2"]["checksum"])' <"$tmp/index.json")
MODEL=http://$REG/models/defect-detection-v3.2-int8.onnx
got=$(curl -s "$MODEL" | sha256sum | cut -d' ' -f1)
check "index checksum is the real SHA-256 of the model file" test "$got" = "$SUM"
BASE=$(json 'print(d["defect-detection:3.2"]["baseline"])' <"$tmp/index.json")
check "baseline URL serves /drift-shaped samples" json 'assert d["window"]==1000 and len(d["features"]["mean_intensity"])==1000' < <(curl -s "$BASE")
check "registry 404 for an unknown model" test "$(code http://$REG/models/nope-v1-int8.onnx)" = 404

# ---- update, validate, rollback ----
U=127.77.0.11
st() { curl -s $U:8080/status | json "print(d[\"$1\"])"; }
loaded() { curl -s $U:8080/health | json 'print(d["model_loaded"])'; }
# is FIELD VALUE: for poll, which must re-read the status on every try
is() { [ "$(st "$1")" = "$2" ]; }
is_loaded() { [ "$(loaded)" = True ]; }
r=$(curl -s -w ' %{http_code}' -X POST $U:8080/update -d "{\"version\":\"3.2\",\"model_url\":\"$MODEL\",\"checksum\":\"sha256:$SUM\"}")
check "POST /update is accepted with 202" test "${r##* }" = 202
check "model_loaded is false right after the update began" test "$(loaded)" = False
check "model_loaded becomes true again (bounded wait)" poll 100 is_loaded
check "the new version is active" test "$(st model_version)" = 3.2
check "no update error after a good update" test "$(st last_update_error)" = None
curl -s $U:8000/metrics >"$tmp/m2.txt"
check "model_loaded series: old version 0, new version 1" sh -c "grep -q 'model_loaded{model_name=\"defect-detection\",version=\"3.1\"} 0.0' '$tmp/m2.txt' && grep -q 'model_loaded{model_name=\"defect-detection\",version=\"3.2\"} 1.0' '$tmp/m2.txt'"
v=$(curl -s -X POST $U:8080/validate -d '{"test_image":"/opt/test-data/reference.jpg","expected_class":"no_defect","min_confidence":0.85}')
check "/validate passes on a good version" json 'assert d["passed"] is True and d["class"]=="no_defect" and d["confidence"]>=0.85' <<<"$v"
curl -s -X POST $CTL/devices/edge-ber-01/set -d '{"bad_version":"3.2"}' >/dev/null
v=$(curl -s -X POST $U:8080/validate -d '{"test_image":"/opt/test-data/reference.jpg","expected_class":"no_defect","min_confidence":0.85}')
check "/validate fails once the version is marked bad" json 'assert d["passed"] is False and d["confidence"]<0.85' <<<"$v"

wrong=$(printf 'f%.0s' $(seq 64))
r=$(curl -s -w ' %{http_code}' -X POST $U:8080/update -d "{\"version\":\"3.0\",\"model_url\":\"http://$REG/models/defect-detection-v3.0-int8.onnx\",\"checksum\":\"sha256:$wrong\"}")
check "an update with a wrong checksum is still accepted (202)" test "${r##* }" = 202
check "...and ends (bounded wait)" poll 100 is update_state idle
check "...leaving the old version active" test "$(st model_version)" = 3.2
check "...with the checksum mismatch in last_update_error" sh -c "curl -s $U:8080/status | grep -q 'checksum mismatch'"
check "...and the model loaded" test "$(loaded)" = True
curl -s -X POST $U:8080/update -d "{\"version\":\"3.3\",\"model_url\":\"http://$REG/models/defect-detection-v3.3-int8.onnx\",\"checksum\":\"sha256:$SUM\"}" >/dev/null
check "a failed download is recorded (HTTP 404)" poll 100 sh -c "curl -s $U:8080/status | grep -q 'update to 3.3 failed: download failed: HTTP 404'"
check "rollback to a version the device has: 202" test "$(code -X POST $U:8080/rollback -d '{"version":"3.1"}')" = 202
check "rollback completes (bounded wait)" poll 100 is model_version 3.1
check "rollback to a version it never had: 409" test "$(code -X POST $U:8080/rollback -d '{"version":"2.9"}')" = 409

# ---- bad requests ----
check "malformed JSON body: 400 with an error" json 'assert "error" in d' < <(curl -s -X POST $U:8080/update -d '{bad')
check "missing checksum: 400" test "$(code -X POST $U:8080/update -d '{"version":"3.2","model_url":"http://x/y"}')" = 400
check "checksum not sha256:<hex>: 400" test "$(code -X POST $U:8080/update -d "{\"version\":\"3.2\",\"model_url\":\"$MODEL\",\"checksum\":\"md5:abc\"}")" = 400
check "a file:// model_url is refused: 400" test "$(code -X POST $U:8080/update -d "{\"version\":\"3.2\",\"model_url\":\"file:///etc/passwd\",\"checksum\":\"sha256:$SUM\"}")" = 400
check "validate without expected_class: 400" test "$(code -X POST $U:8080/validate -d '{"test_image":"x"}')" = 400
check "GET /update: 405" test "$(code $U:8080/update)" = 405
check "unknown path: 404" test "$(code $U:8080/nope)" = 404
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
check "a 70 KB body: 413" test "$(printf '{"x":"%s"}' "$big" | curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @- $U:8080/validate)" = 413

# ---- control API: changes are seen by the next request ----
F=127.77.0.21
host=$(curl -s $CTL/devices | json 'print([x["host"] for x in d["devices"] if x["address"]=="127.77.0.21"][0])')
check "GET /devices lists 50 devices" json 'assert d["count"]==50 and len(d["devices"])==50' < <(curl -s $CTL/devices)
check "GET /devices/HOST describes it" json "assert d['host']=='$host' and d['address']=='$F'" < <(curl -s $CTL/devices/$host)
check "unknown device: 404" test "$(code $CTL/devices/edge-nope-01)" = 404
check "unknown setting: 400" test "$(code -X POST $CTL/devices/$host/set -d '{"colour":"red"}')" = 400
curl -s -X POST $CTL/devices/$host/set -d '{"gpu_temp": 93}' >/dev/null
check "set gpu_temp: the next /status shows it (and throttling degrades it)" json 'assert d["gpu_temp"]==93.0 and d["status"]=="degraded", d' < <(curl -s $F:8080/status)
check "...and /metrics agrees" grep -qx 'gpu_temperature_celsius 93.0' <(curl -s $F:8000/metrics)
curl -s -X POST $CTL/devices/$host/set -d '{"gpu_temp": 60, "status": "unhealthy"}' >/dev/null
check "set status unhealthy: /health says so" json 'assert d["status"]=="unhealthy"' < <(curl -s $F:8080/health)
check "...and device_health_status is 0" grep -qx 'device_health_status 0.0' <(curl -s $F:8000/metrics)
curl -s -X POST $CTL/devices/$host/set -d '{"status": "auto", "drift": 2.0}' >/dev/null
check "set drift: the feature window shifts" json 'm=sum(d["features"]["mean_intensity"])/500; assert abs(m-128)>20, m' < <(curl -s $F:8080/drift)
curl -s -X POST $CTL/devices/$host/set -d '{"temp_trend": 6.0}' >/dev/null
t0=$(curl -s $F:8080/status | json 'print(d["gpu_temp"])')
curl -s -X POST $CTL/clock -d '{"advance_s": 300}' >/dev/null
t1=$(curl -s $F:8080/status | json 'print(d["gpu_temp"])')
check "temp_trend 6 °C/min heats the device over 5 simulated minutes" "$PY" -c "assert $t1-$t0>15, ($t0,$t1)"
curl -s -X POST $CTL/devices/$host/set -d '{"reachable": false}' >/dev/null
check "reachable=false: connections time out" test "$(curl -s -o /dev/null -w '%{exitcode}' --connect-timeout 1 $F:8080/health)" = 28
curl -s -X POST $CTL/devices/$host/set -d '{"reachable": true}' >/dev/null
check "reachable=true: it answers again" test "$(code $F:8080/health)" = 200

# ---- every fault kind, on both ports ----
FH=$(curl -s $CTL/devices | json 'print([x["host"] for x in d["devices"] if x["address"]=="127.77.0.30"][0])')
FA=127.77.0.30
fault() { curl -s -o /dev/null -X POST $CTL/devices/$FH/set -d "{\"fault\":\"$1\",\"slow_ms\":1500}"; }
probe() { curl -s -o "$tmp/probe.body" -w '%{http_code} %{exitcode} %{time_connect} %{time_total} %{size_download}' --max-time 3 --connect-timeout 1 "$1"; }
for port in 8080 8000; do
	path=/status; [ $port = 8000 ] && path=/metrics
	u=$FA:$port$path
	fault unreachable; read -r hc ex tc tt sz <<<"$(probe $u)"
	check "unreachable :$port: connect times out (exit 28, never connected)" test "$ex" = 28 -a "$tc" = 0.000000
	fault refused; read -r hc ex tc tt sz <<<"$(probe $u)"
	check "refused :$port: connection refused (exit 7)" test "$ex" = 7
	fault hang; read -r hc ex tc tt sz <<<"$(probe $u)"
	check "hang :$port: connects, no answer (exit 28, connected)" test "$ex" = 28 -a "$tc" != 0.000000 -a "$hc" = 000
	fault slow; read -r hc ex tc tt sz <<<"$(probe $u)"
	check "slow :$port: answers 200 after ~1.5 s" "$PY" -c "assert '$hc'=='200' and 1.4<=$tt<3, ('$hc',$tt)"
	fault http500; read -r hc ex tc tt sz <<<"$(probe $u)"
	check "http500 :$port: HTTP 500" test "$hc" = 500
	fault malformed; read -r hc ex tc tt sz <<<"$(probe $u)"
	if [ $port = 8080 ]; then
		check "malformed :$port: 200 but not JSON" sh -c "[ $hc = 200 ] && ! $PY -c 'import json,sys; json.load(open(sys.argv[1]))' '$tmp/probe.body' 2>/dev/null"
	elif [ "$HAVE_PROM" = 1 ]; then
		check "malformed :$port: 200 but not Prometheus text" sh -c "[ $hc = 200 ] && ! $PY -c 'import sys; from prometheus_client.parser import text_string_to_metric_families as p; list(p(open(sys.argv[1]).read()))' '$tmp/probe.body' 2>/dev/null"
	fi
	fault truncated; read -r hc ex tc tt sz <<<"$(probe $u)"
	check "truncated :$port: fewer bytes than Content-Length (exit 18)" test "$ex" = 18
	fault oversized; read -r hc ex tc tt sz <<<"$(probe $u)"
	check "oversized :$port: 8 MiB of valid JSON" sh -c "[ $sz = 8388608 ] && $PY -c 'import json,sys; json.load(open(sys.argv[1]))' '$tmp/probe.body'"
	fault reset; read -r hc ex tc tt sz <<<"$(probe $u)"
	check "reset :$port: connection reset mid-answer (exit 56)" test "$ex" = 56
	fault none
	check "fault none :$port: answers again" test "$(code $u)" = 200
done
# a keep-alive connection opened before a fault gets it too
fault none
check "faults reach requests on connections opened before them" "$PY" - "$FA" "$CTL" "$FH" <<'EOF2'
import http.client, json, sys, urllib.request
addr, ctl, host = sys.argv[1:]
def setfault(kind):
    req = urllib.request.Request(f"http://{ctl}/devices/{host}/set", data=json.dumps({"fault": kind}).encode(), method="POST")
    urllib.request.urlopen(req, timeout=10).read()
c = http.client.HTTPConnection(addr, 8080, timeout=5)
c.request("GET", "/health"); r = c.getresponse(); r.read(); assert r.status == 200
setfault("http500")
c.request("GET", "/health"); r = c.getresponse(); r.read(); assert r.status == 500, r.status
setfault("reset")
c.request("GET", "/health")
try:
    c.getresponse().read(); raise SystemExit("answered despite reset")
except (ConnectionError, http.client.RemoteDisconnected):
    pass
setfault("none")
EOF2
fault none

# faults by fraction, seeded
r=$(curl -s -X POST $CTL/faults -d '{"kind":"refused","fraction":0.1,"seed":3}')
check "POST /faults picks 10% of the fleet" json 'assert d["count"]==5 and len(d["hosts"])==5' <<<"$r"
victim=$(json 'print(d["hosts"][0])' <<<"$r")
vaddr=$(curl -s $CTL/devices/$victim | json 'print(d["address"])')
check "a chosen device refuses connections" test "$(curl -s -o /dev/null -w '%{exitcode}' $vaddr:8080/health)" = 7
r2=$(curl -s -X POST $CTL/faults -d '{"kind":"none","fraction":1.0}')
check "kind none clears them" json 'assert d["count"]==5' <<<"$r2"
check "...and the device answers again" test "$(code $vaddr:8080/health)" = 200

# ---- inventories ----
if command -v ansible-inventory >/dev/null; then
	for f in fleet.ini fleet.yml; do
		ANSIBLE_LOCALHOST_WARNING=0 ansible-inventory -i "$tmp/inv/$f" --list >"$tmp/$f.json" 2>"$tmp/$f.err"
		check "ansible-inventory reads $f: 50 hosts, 5 factory groups, registry var" "$PY" - "$tmp/$f.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
hv = d["_meta"]["hostvars"]
assert len(hv) == 50, len(hv)
groups = [g for g in d if g.startswith("factory_")]
assert sorted(groups) == ["factory_amsterdam", "factory_berlin", "factory_madrid", "factory_milan", "factory_paris"], groups
assert all(len(d[g]["hosts"]) == 10 for g in groups)
h = hv["edge-ams-01"]
assert h["ansible_host"] == "127.77.0.1" and h["gpu_type"] in ("orin_nano", "orin_nx", "agx_orin", "xavier_nx")
assert h["model_registry"] == "http://127.77.255.1:5000"
assert "fleetdeck_agent_port" not in h
EOF
	done
else
	echo "skip ansible-inventory (install ansible-core)"
fi

# ---- determinism: same seed, same bodies (manual clock: every field) ----
start detA --devices 10 --factories 2 --seed 7 --base 127.79.0.1 --clock manual --control 127.79.255.1:7999 || bad "detA starts"
start detB --devices 10 --factories 2 --seed 7 --base 127.79.1.1 --clock manual --control 127.79.255.2:7999 || bad "detB starts"
start detC --devices 10 --factories 2 --seed 8 --base 127.79.2.1 --clock manual || bad "detC starts"
same=0; differ=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	a=$(curl -s 127.79.0.$i:8080/status); b=$(curl -s 127.79.1.$i:8080/status); c=$(curl -s 127.79.2.$i:8080/status)
	[ -n "$a" ] && [ "$a" = "$b" ] && same=$((same+1))
	[ "$a" != "$c" ] && differ=$((differ+1))
done
check "same seed: identical /status on all 10 devices" test $same -eq 10
check "another seed: different devices" test $differ -ge 9
curl -s -X POST 127.79.255.1:7999/clock -d '{"advance_s": 600}' >/dev/null
curl -s -X POST 127.79.255.2:7999/clock -d '{"advance_s": 600}' >/dev/null
a=$(curl -s 127.79.0.4:8080/status; curl -s 127.79.0.4:8080/drift?window=50)
b=$(curl -s 127.79.1.4:8080/status; curl -s 127.79.1.4:8080/drift?window=50)
check "same seed after 10 simulated minutes: identical /status and /drift" test -n "$a" -a "$a" = "$b"

# ---- the default layout, non-default ports in the inventory ----
mkdir -p "$tmp/inv2"
if start layout --devices 6 --factories 3 --agent-port 18080 --metrics-port 18000 --write-inventory "$tmp/inv2"; then
	check "default layout: 127.0.<factory+1>.<device+1>" test "$(code 127.0.3.2:18080/health)" = 200
	check "inventory carries non-default ports" sh -c "grep -qx 'fleetdeck_agent_port=18080' '$tmp/inv2/fleet.ini' && grep -qx 'fleetdeck_metrics_port=18000' '$tmp/inv2/fleet.ini' && grep -qx 'edge-par-02 ansible_host=127.0.3.2 gpu_type=[a-z_]*' '$tmp/inv2/fleet.ini'"
else
	bad "default-layout fleet starts"; cat "$tmp/layout.err"
fi

# ---- clean shutdown ----
kill -TERM "$MAIN"
for i in $(seq 100); do kill -0 "$MAIN" 2>/dev/null || break; sleep 0.05; done
wait "$MAIN"; rc=$?
check "SIGTERM: exits 0" test "$rc" -eq 0
check "SIGTERM: ready and pid files removed" test ! -e "$tmp/main.ready" -a ! -e "$tmp/main.pid"
check "SIGTERM: nothing on stderr" test ! -s "$tmp/main.err"
check "after shutdown the addresses refuse" test "$(curl -s -o /dev/null -w '%{exitcode}' 127.77.0.1:8080/health)" = 7

# ---- 1,000 devices ----
t0=$(date +%s%N)
if start big --devices 1000 --factories 15 --base 127.80.0.1; then
	t1=$(date +%s%N)
	echo "info 1,000 devices ready in $(( (t1-t0)/1000000 )) ms, RSS $(awk '/VmRSS/{print $2" "$3}' /proc/$last_pid/status)"
	# a spread of devices (addresses skip .0 and .255): device k is base + k + skipped
	urls=(); for a in 127.80.0.1 127.80.0.254 127.80.1.1 127.80.2.100 127.80.3.238; do urls+=(-o /dev/null "http://$a:8080/health" -o /dev/null "http://$a:8000/metrics"); done
	codes=$(curl -s -w '%{http_code}\n' --max-time 10 "${urls[@]}" | sort | uniq -c | awk '{print $1" "$2}')
	check "1,000 devices: first, last and between answer on both ports" test "$codes" = "10 200"
	check "1,000 devices: the address after the last refuses" test "$(curl -s -o /dev/null -w '%{exitcode}' 127.80.3.239:8080/health)" = 7
else
	bad "1,000 devices start"; cat "$tmp/big.err"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
