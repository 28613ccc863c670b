#!/usr/bin/env bash
# promsource: `--report --source prometheus=URL` against Debian's real Prometheus server scraping
# fleetsim's exporters: the same states, versions and temperatures as polling the devices, a device
# made unreachable once Prometheus scrapes it as down, label/template matching, the history, and
# clear errors for a Prometheus that is stopped, answers garbage or too much.
# Synchronisation is by ready files and bounded polling of Prometheus' own API, never by sleeping a
# guessed time. Addresses: 127.83.0.x (control, Prometheus), 127.83.1.x (devices).
set -u
BUILD=${FLEETDECK_BUILD:?set FLEETDECK_BUILD to the build directory}
FD=${FLEETDECK:-$BUILD/fleetdeck}
SIM=$BUILD/fleetsim
tmp=$(mktemp -d)
pids=()
sock=fdprom$$
cleanup() {
	command -v tmux >/dev/null && tmux -L "$sock" kill-server 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

PROM=$(command -v prometheus || true)
if [ -z "$PROM" ]; then
	bad "the prometheus server is not installed (packaging/install-deps.sh installs it)"
	finish
fi
PY=python3
for cand in /usr/bin/python3 python3; do "$cand" -c 'import json' 2>/dev/null && { PY=$cand; break; }; done

# poll TRIES CMD...: retries CMD every 0.1 s, at most TRIES times.
poll() {
	local n=$1 i; shift
	for i in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}

CTL=127.83.0.1:7999
PROMADDR=127.83.0.2:19090
URL=http://$PROMADDR
mkdir -p "$tmp/inv"
"$SIM" --devices 8 --factories 2 --seed 3 --base 127.83.1.1 --control $CTL --clock manual \
	--oversize-mib 8 --write-inventory "$tmp/inv" --ready-file "$tmp/sim.ready" >"$tmp/sim.out" 2>"$tmp/sim.err" &
pids+=($!)
if ! poll 300 test -s "$tmp/sim.ready"; then
	bad "fleetsim starts"; cat "$tmp/sim.err"; finish
fi
INV=$tmp/inv/fleet.ini
mapfile -t HOSTS < <(awk '/ansible_host=/{print $1}' "$INV")
mapfile -t ADDRS < <(sed -n 's/.*ansible_host=\([0-9.]*\).*/\1/p' "$INV")
check "the inventory has 8 devices" test "${#HOSTS[@]}" -eq 8
LAST=${HOSTS[7]} # in the inventory, not scraped by Prometheus

set_dev() { curl -s -f --max-time 10 -XPOST "http://$CTL/devices/$1/set" -d "$2" >/dev/null; }
clock() { curl -s -f --max-time 10 -XPOST "http://$CTL/clock" -d "{\"advance_s\": $1}" >/dev/null; }

# A fleet to tell apart: a hot device, a degraded and an unhealthy one, one on an old version.
set_dev "${HOSTS[1]}" '{"gpu_temp": 86.5}'
set_dev "${HOSTS[2]}" '{"status": "degraded"}'
set_dev "${HOSTS[3]}" '{"status": "unhealthy"}'
set_dev "${HOSTS[4]}" '{"model_version": "3.0"}'

# Prometheus: every device but the last, each target with a `device` label (for label=device),
# and Prometheus itself in another job (series that match no device).
{
	echo "global:"
	echo "  scrape_interval: 1s"
	echo "  scrape_timeout: 800ms"
	echo "scrape_configs:"
	echo "  - job_name: edge"
	echo "    static_configs:"
	for i in 0 1 2 3 4 5 6; do
		echo "      - targets: ['${ADDRS[$i]}:8000']"
		echo "        labels: {device: '${HOSTS[$i]}'}"
	done
	echo "  - job_name: self"
	echo "    static_configs:"
	echo "      - targets: ['$PROMADDR']"
} >"$tmp/prometheus.yml"
"$PROM" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" --web.listen-address=$PROMADDR \
	>"$tmp/prom.log" 2>&1 &
PROMPID=$!
pids+=($PROMPID)
ready() { curl -s -f --max-time 2 "$URL/-/ready" >/dev/null; }
if ! poll 600 ready; then
	bad "prometheus starts"; tail -20 "$tmp/prom.log"; finish
fi
ok "prometheus is ready"

# scraped_since T [HEALTH]: every edge target's last scrape is after epoch second T (and has that health).
scraped_since() {
	curl -s --max-time 5 "$URL/api/v1/targets?state=active" | "$PY" -c '
import json, sys, datetime
t, want = float(sys.argv[1]), sys.argv[2:]
ts = [x for x in json.load(sys.stdin)["data"]["activeTargets"] if x["labels"]["job"] == "edge"]
def when(s):
    s = s.replace("Z", "+00:00")
    if "." in s:
        head, rest = s.split(".", 1)
        frac = "".join(c for c in rest if c.isdigit())
        s = head + "." + frac[:6] + rest[len(frac):]
    return datetime.datetime.fromisoformat(s).timestamp()
ok = len(ts) == 7 and all(when(x["lastScrape"]) > t for x in ts)
if want:
    health = dict(x.split("=") for x in want)
    ok = ok and all(x["health"] == health.get(x["labels"]["instance"], "up") for x in ts)
sys.exit(0 if ok else 1)' "$@"
}
# The counters move only with the simulated clock: two clock steps, each scraped, give rates.
for step in 1 2 3; do
	clock 20
	t=$(date +%s.%N)
	poll 300 scraped_since "$t" || bad "prometheus scrapes after clock step $step"
done
t=$(date +%s.%N)
check "all 7 edge targets are up" poll 300 scraped_since "$t"

# ---- the same fleet read both ways ----
"$FD" --report -i "$INV" --no-history --json >"$tmp/direct.json" 2>"$tmp/direct.err"
drc=$?
"$FD" --report -i "$INV" --no-history --json --source prometheus=$URL >"$tmp/prom.json" 2>"$tmp/prom.err"
prc=$?
check "both reports find alerts (exit 1)" test "$drc" -eq 1 -a "$prc" -eq 1
compare() {
	"$PY" - "$tmp/direct.json" "$tmp/prom.json" "${HOSTS[2]}" "$LAST" "$1" <<'EOF'
import json, sys
d = {x["host"]: x for x in json.load(open(sys.argv[1]))["devices"]}
p = {x["host"]: x for x in json.load(open(sys.argv[2]))["devices"]}
degraded, last, what = sys.argv[3], sys.argv[4], sys.argv[5]
bad = []
for h, a in d.items():
    b = p.get(h)
    if b is None:
        bad.append(h + " missing")
        continue
    if h == last:
        continue
    if what == "state":
        want = "unhealthy" if h == degraded else a["state"]
        if b["state"] != want:
            bad.append("%s: %s, want %s" % (h, b["state"], want))
    elif what == "fields":
        for k in ("model_name", "model_version", "gpu_temp", "model_loaded", "factory", "gpu_type"):
            if a[k] != b[k]:
                bad.append("%s: %s %r != %r" % (h, k, b[k], a[k]))
    elif what == "uptime":
        if a["uptime_hours"] is None or b["uptime_hours"] is None or abs(a["uptime_hours"] - b["uptime_hours"]) > 0.1:
            bad.append("%s: uptime %r vs %r" % (h, b["uptime_hours"], a["uptime_hours"]))
if bad:
    print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}
check "states equal a direct --report (degraded reads as unhealthy: the gauge is 0/1)" compare state
check "model names, versions, GPU temperatures, model_loaded equal a direct --report" compare fields
check "uptime from the exporter's start time within 0.1 h of /status" compare uptime
jq_last() { "$PY" -c 'import json,sys; d={x["host"]:x for x in json.load(open(sys.argv[1]))["devices"]}[sys.argv[2]]; print(d["state"], d["reason"], d["detail"])' "$tmp/prom.json" "$LAST"; }
out=$(jq_last)
check "a device Prometheus does not scrape is unreachable, not_polled, naming its instance" \
	test -n "$(echo "$out" | grep "^unreachable not_polled .*instance=\"${ADDRS[7]}:8000\"")"
alerts() { "$PY" -c 'import json,sys; print(" ".join(sorted("%s/%s" % (a["host"], a["rule"]) for a in json.load(open(sys.argv[1]))["alerts"])))' "$1"; }
pa=$(alerts "$tmp/prom.json")
check "alerts: gpu_temp on the hot device, health on the unhealthy one, version_skew on 3.0" \
	test -n "$(echo " $pa " | grep " ${HOSTS[1]}/gpu_temp " | grep " ${HOSTS[3]}/health " | grep " ${HOSTS[4]}/version_skew ")"
check "the requests are a handful of queries, not one per device" \
	"$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; sys.exit(0 if 1 <= s["requests"] <= 6 else 1)' "$tmp/prom.json"

# label and template: the per-target `device` label against the inventory name, one job only
"$FD" --report -i "$INV" --no-history --json --source "prometheus=$URL,label=device,match={host},job=edge" \
	>"$tmp/prom2.json" 2>"$tmp/prom2.err"
check "label=device,match={host},job=edge reads the same states" \
	"$PY" -c 'import json,sys
a={x["host"]:(x["state"],x["model_version"],x["gpu_temp"]) for x in json.load(open(sys.argv[1]))["devices"]}
b={x["host"]:(x["state"],x["model_version"],x["gpu_temp"]) for x in json.load(open(sys.argv[2]))["devices"]}
sys.exit(0 if a == b else 1)' "$tmp/prom.json" "$tmp/prom2.json"
"$FD" --report -i "$INV" --no-history --json --source "prometheus=$URL,job=nosuchjob" >"$tmp/prom3.json" 2>/dev/null
check "job=nosuchjob: every device unreachable (not_polled)" \
	"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))["devices"]; sys.exit(0 if all(x["state"]=="unreachable" and x["reason"]=="not_polled" for x in d) else 1)' "$tmp/prom3.json"

# poll: cycle after cycle from Prometheus, a handful of requests each
"$FD" poll -i "$INV" --count 2 --interval 0.3 --json --source prometheus=$URL >"$tmp/poll.jsonl" 2>"$tmp/poll.err"
rc=$?
check "poll --source prometheus: exit 0, 2 cycles, 5 healthy each, at most 6 requests per cycle" \
	"$PY" -c 'import json,sys
ls=[json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if sys.argv[2] == "0" and len(ls) == 2 and all(l["summary"]["healthy"] == 5 and l["requests"] <= 6 for l in ls) else 1)' \
	"$tmp/poll.jsonl" "$rc"
[ "$failed" -eq 0 ] || { cat "$tmp/poll.err"; cut -c 1-400 "$tmp/poll.jsonl"; }

# a second Prometheus federating the first (honor_labels keeps instance and job)
FEDADDR=127.83.0.3:19091
cat >"$tmp/federate.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': ['{job="edge"}']
    static_configs:
      - targets: ['$PROMADDR']
EOF
"$PROM" --config.file="$tmp/federate.yml" --storage.tsdb.path="$tmp/tsdb-fed" --web.listen-address=$FEDADDR \
	>"$tmp/fed.log" 2>&1 &
FEDPID=$!
pids+=($FEDPID)
federated() {
	curl -s -f --max-time 2 "http://$FEDADDR/api/v1/query" --data-urlencode 'query=count(up{job="edge"} == 1)' |
		"$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; sys.exit(0 if r and r[0]["value"][1] == "7" else 1)' 2>/dev/null
}
if poll 600 federated; then
	"$FD" --report -i "$INV" --no-history --json --source "prometheus=http://$FEDADDR" >"$tmp/fed.json" 2>"$tmp/fed.err"
	check "through a federating Prometheus: the same states, versions and temperatures" \
		"$PY" -c 'import json,sys
a={x["host"]:(x["state"],x["model_version"],x["gpu_temp"]) for x in json.load(open(sys.argv[1]))["devices"]}
b={x["host"]:(x["state"],x["model_version"],x["gpu_temp"]) for x in json.load(open(sys.argv[2]))["devices"]}
sys.exit(0 if a == b else 1)' "$tmp/prom.json" "$tmp/fed.json"
else
	bad "the federating Prometheus has the edge series"; tail -5 "$tmp/fed.log"
fi
kill "$FEDPID"; wait "$FEDPID" 2>/dev/null

# the history records what Prometheus gave, rates included
"$FD" --report -i "$INV" --db "$tmp/h.db" -q --source prometheus=$URL >/dev/null 2>"$tmp/hist.err"
"$FD" history --db "$tmp/h.db" samples "${HOSTS[0]}" --json >"$tmp/samples.json" 2>>"$tmp/hist.err"
check "history: a sample with gpu_temp, p95 latency and error rate from Prometheus" \
	"$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))["samples"][-1]
sys.exit(0 if s["gpu_temp"] is not None and s["latency_p95_ms"] and 0 < s["latency_p95_ms"] < 2000 and s["error_rate"] is not None and 0 <= s["error_rate"] <= 1 else 1)' "$tmp/samples.json"

# ---- a device made unreachable, once Prometheus scrapes it as down ----
set_dev "${HOSTS[5]}" '{"reachable": false}'
set_dev "${HOSTS[6]}" '{"fault": "refused"}'
set_dev "${HOSTS[4]}" '{"fault": "http500"}'
t=$(date +%s.%N)
check "prometheus scrapes the three as down" poll 300 scraped_since "$t" "${ADDRS[5]}:8000=down" "${ADDRS[6]}:8000=down" \
	"${ADDRS[4]}:8000=down"
[ "$failed" -eq 0 ] || curl -s "$URL/api/v1/targets?state=active" | "$PY" -c 'import json,sys
for x in json.load(sys.stdin)["data"]["activeTargets"]: print(x["labels"]["instance"], x["health"], x["lastScrape"], x["lastError"][:80])'
"$FD" --report -i "$INV" --no-history --json --source prometheus=$URL >"$tmp/down.json" 2>/dev/null
down() { "$PY" -c 'import json,sys; d={x["host"]:x for x in json.load(open(sys.argv[1]))["devices"]}[sys.argv[2]]; print(d["state"], d["reason"])' "$tmp/down.json" "$1"; }
check "the unreachable device: unreachable (timeout)" test "$(down "${HOSTS[5]}")" = "unreachable timeout"
check "the refusing device: unreachable (refused)" test "$(down "${HOSTS[6]}")" = "unreachable refused"
check "an exporter answering HTTP 500: unhealthy (http), as when polling" test "$(down "${HOSTS[4]}")" = "unhealthy http"
check "the others are unchanged" test "$(down "${HOSTS[0]}")" = "healthy None"
"$FD" --report -i "$INV" --no-history --source prometheus=$URL --limit "${HOSTS[5]}" >"$tmp/down.txt" 2>&1
check "the text report's ALERT block says Prometheus' last scrape failed" \
	grep -q "UNREACHABLE (timeout: Prometheus' last scrape failed" "$tmp/down.txt"

# ---- the console on the same source, in a real terminal (tmux) ----
tm() { tmux -L "$sock" "$@"; }
# wait_screen REGEX: polls the console's screen (every 0.05 s, at most 15 s)
wait_screen() {
	local i
	for i in $(seq 300); do
		tm capture-pane -p -t prom 2>/dev/null | grep -Eq -- "$1" && return 0
		sleep 0.05
	done
	return 1
}
# expect_screen NAME REGEX: the check, with the screen shown when it fails
expect_screen() {
	if wait_screen "$2"; then ok "$1"; else bad "$1: screen lacks /$2/"; tm capture-pane -p -t prom | sed 's/^/    | /'; fi
}
HAVE_TMUX=0
if command -v tmux >/dev/null; then
	HAVE_TMUX=1
	cmd=$(printf '%q ' env TERM=xterm-256color LANG=C.UTF-8 XDG_CONFIG_HOME="$tmp/config" "$FD" -i "$INV" \
		--no-history --interval 0.5 --refresh 0.1 --source "prometheus=$URL")
	tm new-session -d -s prom -x 140 -y 40 "$cmd; sleep 60"
	expect_screen "console: every device, read from Prometheus" 'Devices \(8 of 8\)'
	expect_screen "console: 2 healthy, 3 unhealthy, 3 unreachable (the down two and the unscraped one)" \
		'● 2 healthy.*● 3 unhealthy.*● 3 unreachable'
	hot=$("$PY" -c 'import json,sys; print("%.1f" % {x["host"]:x for x in json.load(open(sys.argv[1]))["devices"]}[sys.argv[2]]["gpu_temp"])' "$tmp/prom.json" "${HOSTS[1]}")
	expect_screen "console: the hot device's temperature as the report read it" "${HOSTS[1]} .* ${hot//./\\.} "
else
	bad "tmux is not installed: the console part did not run"
fi

# ---- bad answers, bad settings, a stopped Prometheus ----
kill "$PROMPID"; wait "$PROMPID" 2>/dev/null
if [ "$HAVE_TMUX" = 1 ]; then
	expect_screen "console: a stopped Prometheus shows as the console's error" "! Prometheus at $URL: .*"
	expect_screen "console: the last states stay on screen" '● 2 healthy.*● 3 unhealthy.*● 3 unreachable'
	tm send-keys -t prom q
fi
"$FD" --report -i "$INV" --no-history --source prometheus=$URL >"$tmp/stop.out" 2>"$tmp/stop.err"
rc=$?
check "a stopped Prometheus: exit 2, 'Prometheus at $URL', connection refused, nothing on stdout" \
	test "$rc" -eq 2 -a ! -s "$tmp/stop.out" -a -n "$(grep "Prometheus at $URL: .*connect" "$tmp/stop.err")"
set_dev "${HOSTS[0]}" '{"fault": "oversized"}'
"$FD" --report -i "$INV" --no-history --source "prometheus=http://${ADDRS[1]}:8080" >"$tmp/e1.out" 2>"$tmp/e1.err"
rc=$?
check "a server that is not Prometheus: exit 2, clear error, nothing on stdout" \
	test "$rc" -eq 2 -a ! -s "$tmp/e1.out" -a -n "$(grep "Prometheus at http://${ADDRS[1]}:8080: HTTP 404" "$tmp/e1.err")"
"$FD" --report -i "$INV" --no-history --source "prometheus=http://${ADDRS[0]}:8080,max-mib=2" >/dev/null 2>"$tmp/e2.err"
rc=$?
check "an answer over the cap: exit 2, 'larger than'" test "$rc" -eq 2 -a -n "$(grep 'larger than 2097152 bytes' "$tmp/e2.err")"
set_dev "${HOSTS[2]}" '{"fault": "hang"}'
t0=$(date +%s%N)
"$FD" --report -i "$INV" --no-history -T 1 --source "prometheus=http://${ADDRS[2]}:8080" >/dev/null 2>"$tmp/e3.err"
rc=$? t1=$(date +%s%N)
check "a server that never answers: exit 2 within the timeout (1 s), 'timed out'" \
	test "$rc" -eq 2 -a $(( (t1 - t0) / 1000000 )) -lt 5000 -a -n "$(grep -i 'timed out' "$tmp/e3.err")"
for spec in "prometheus=" "prometheus=ftp://x" "prometheus=$URL,label=9x" "prometheus=$URL,match={nope}" \
	"prometheus=$URL,window=5" "prometheus=$URL,colour=red" "carrier-pigeon"; do
	"$FD" --report -i "$INV" --no-history --source "$spec" >/dev/null 2>"$tmp/spec.err"
	rc=$?
	check "--source '$spec': exit 2 with a message" test "$rc" -eq 2 -a -n "$(grep 'source' "$tmp/spec.err")"
done
finish
