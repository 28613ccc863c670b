#!/usr/bin/env bash
# alertmanager: `fleetdeck --report --alertmanager URL` against Debian's real Alertmanager, started
# here on loopback with its own config, storage and clustering off. An unreachable and a hot
# fleetsim device become alerts with the right labels and annotations; the next report after the
# unreachable one is fixed resolves it (gone from the active alerts) while the hot one keeps its
# startsAt; an Alertmanager that cannot be reached or refuses gives exit 3 with the report still
# printed, and what was due to resolve is resolved on the next run that gets through.
# Addresses 127.84.20-21.x. Waits are ready files and bounded polls.
. "$(dirname "${BASH_SOURCE[0]}")/lib/simtest.sh"
unset FLEETDECK_INVENTORY
PY=/usr/bin/python3
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }
AMBIN=$(command -v prometheus-alertmanager || true)
[ -n "$AMBIN" ] || { bad "prometheus-alertmanager is installed (packaging/install-deps.sh)"; finish; }

wait_ready() {
	local i
	for i in $(seq 600); do
		[ -s "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
poll() {
	local n=$1 i; shift
	for i in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
CTL=127.84.20.254:7999
ctl() { curl -sf --max-time 10 -X POST "http://$CTL$1" -d "$2" >/dev/null; }

"$SIM" --devices 4 --factories 2 --seed 7 --base 127.84.20.1 --control $CTL --clock manual \
	--write-inventory "$tmp/inv" --ready-file "$tmp/sim.ready" >/dev/null 2>"$tmp/sim.err" &
pids+=($!)
wait_ready "$tmp/sim.ready" "${pids[0]}" || { bad "fleetsim starts"; cat "$tmp/sim.err"; finish; }
INI=$tmp/inv/fleet.ini
mapfile -t hosts < <(awk '/ansible_host=/{print $1}' "$INI")

AMADDR=127.84.21.1:9093
AM=http://$AMADDR
mkdir -p "$tmp/am"
cat >"$tmp/am/am.yml" <<'EOF'
route:
  receiver: "null"
  group_wait: 1s
receivers:
  - name: "null"
EOF
"$AMBIN" --config.file="$tmp/am/am.yml" --storage.path="$tmp/am/data" --web.listen-address=$AMADDR \
	--cluster.listen-address= >"$tmp/am/log" 2>&1 &
pids+=($!)
am_ready() { curl -sf --max-time 2 "$AM/-/ready" >/dev/null; }
poll 300 am_ready || { bad "Alertmanager starts"; tail -20 "$tmp/am/log"; finish; }
ok "Alertmanager runs on $AMADDR (clustering off)"
# active alerts: Alertmanager's own view, as JSON in $tmp/active.json
active() { curl -sf --max-time 5 "$AM/api/v2/alerts?active=true&silenced=false&inhibited=false" -o "$tmp/active.json"; }
has_alerts() { active && "$PY" -c "
import json, sys; names = sorted(a['labels']['alertname'] + '/' + a['labels']['device'] for a in json.load(open('$tmp/active.json')))
sys.exit(names != sorted(sys.argv[1:]))" "$@"; }

DB=$tmp/hist.db
STATE=$DB.alertmanager.json
ctl "/devices/${hosts[1]}/set" '{"fault": "refused"}'
ctl "/devices/${hosts[2]}/set" '{"gpu_temp": 93, "temp_trend": 0, "status": "healthy"}'
"$FD" --report -i "$INI" --db "$DB" --alertmanager "$AM" >"$tmp/r1.out" 2>"$tmp/r1.err"; rc=$?
check "report with two alerts: exit 1, the report printed, nothing on stderr" test "$rc" -eq 1 -a \
	"$(grep -c '^ALERT: ' "$tmp/r1.out")" = 2 -a ! -s "$tmp/r1.err"
check "Alertmanager has both alerts active" poll 50 has_alerts "DeviceUnreachable/${hosts[1]}" "GpuTemperatureHigh/${hosts[2]}"
check "labels (alertname, device, factory, severity, rule), annotations and times as sent" "$PY" - "$tmp/active.json" "$INI" "${hosts[1]}" "${hosts[2]}" <<'EOF'
import json, re, sys, datetime
alerts, ini, down, hot = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
group, fac = None, {}
for line in open(ini):
    m = re.match(r"\[(factory_\w+)\]", line)
    if m: group = m.group(1)
    elif line.startswith("edge-"): fac[line.split()[0]] = group
by = {a["labels"]["alertname"]: a for a in alerts}
u, h = by["DeviceUnreachable"], by["GpuTemperatureHigh"]
assert u["labels"] == {"alertname": "DeviceUnreachable", "device": down, "factory": fac[down], "severity": "critical",
                       "rule": "unreachable", "source": "fleetdeck"}, u["labels"]
assert h["labels"]["device"] == hot and h["labels"]["severity"] == "critical" and h["labels"]["factory"] == fac[hot]
assert u["annotations"]["summary"].startswith(down + ": ") and "connection refused" in u["annotations"]["description"]
assert "93.0" in h["annotations"]["description"], h["annotations"]
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
now = datetime.datetime.now(datetime.timezone.utc)
assert abs((t(u["startsAt"]) - now).total_seconds()) < 60
ttl = (t(u["endsAt"]) - t(u["startsAt"])).total_seconds()
assert 890 <= ttl <= 910, ttl  # the default --alert-ttl, 900 s
assert u["status"]["state"] == "active"
EOF
check "the state file beside the history database holds both alerts" "$PY" -c "
import json; s = json.load(open('$STATE')); assert len(s['alerts']) == 2, s"
starts_hot=$("$PY" -c "import json; print([a['startsAt'] for a in json.load(open('$tmp/active.json')) if a['labels']['alertname'] == 'GpuTemperatureHigh'][0])")

# ---- a report of other devices (--limit) resolves nothing of these ----
"$FD" --report -i "$INI" --db "$DB" --limit "${hosts[0]}" --alertmanager "$AM" >/dev/null 2>"$tmp/rl.err"; rc=$?
check "a report with --limit of a healthy device: exit 0, nothing on stderr" test "$rc" -eq 0 -a ! -s "$tmp/rl.err"
check "...both alerts still active in Alertmanager" has_alerts "DeviceUnreachable/${hosts[1]}" "GpuTemperatureHigh/${hosts[2]}"
check "...and both still in the state file" "$PY" -c "
import json; s = json.load(open('$STATE')); assert len(s['alerts']) == 2, s"

# ---- the unreachable device is back: its alert resolves, the hot one stays ----
ctl "/devices/${hosts[1]}/set" '{"fault": null}'
"$FD" --report -i "$INI" --db "$DB" --alertmanager "$AM" >/dev/null 2>"$tmp/r2.err"; rc=$?
check "second report: exit 1 (the hot device), nothing on stderr" test "$rc" -eq 1 -a ! -s "$tmp/r2.err"
check "the unreachable alert is resolved: no longer active in Alertmanager" poll 50 has_alerts "GpuTemperatureHigh/${hosts[2]}"
check "the hot alert keeps the startsAt of its first report" "$PY" -c "
import json; a = [a for a in json.load(open('$tmp/active.json')) if a['labels']['alertname'] == 'GpuTemperatureHigh']
assert len(a) == 1 and a[0]['startsAt'] == '$starts_hot', a"
check "the state file now holds only the hot alert" "$PY" -c "
import json; s = json.load(open('$STATE')); assert [a['labels']['alertname'] for a in s['alerts']] == ['GpuTemperatureHigh'], s"

# ---- Alertmanager unreachable: exit 3, the report printed, the resolution kept for later ----
ctl "/devices/${hosts[2]}/set" '{"gpu_temp": 60}'
"$FD" --report -i "$INI" --db "$DB" --alertmanager http://127.84.21.9:9 >"$tmp/r3.out" 2>"$tmp/r3.err"; rc=$?
check "unreachable Alertmanager: exit 3, a clear error on stderr, the report still printed" test "$rc" -eq 3 -a \
	-n "$(grep '^fleetdeck report: alertmanager: http://127.84.21.9:9/api/v2/alerts: .*connect' "$tmp/r3.err")" -a \
	-n "$(grep '^fleetdeck report: 4 devices: 4 healthy' "$tmp/r3.out")"
check "...the hot alert, due to resolve, is still in the state" "$PY" -c "
import json; s = json.load(open('$STATE')); assert [a['labels']['alertname'] for a in s['alerts']] == ['GpuTemperatureHigh'], s"
check "...and still active in Alertmanager" has_alerts "GpuTemperatureHigh/${hosts[2]}"
"$FD" --report -i "$INI" --db "$DB" --alertmanager "$AM/nope" >/dev/null 2>"$tmp/r4.err"; rc=$?
check "an Alertmanager that refuses (HTTP 404): exit 3, the status in the error" test "$rc" -eq 3 -a \
	-n "$(grep "^fleetdeck report: alertmanager: $AM/nope/api/v2/alerts: HTTP 404" "$tmp/r4.err")"
"$FD" --report -i "$INI" --db "$DB" --alertmanager "$AM/" >/dev/null 2>"$tmp/r5.err"; rc=$?
check "the next run that gets through: exit 0, nothing on stderr" test "$rc" -eq 0 -a ! -s "$tmp/r5.err"
check "...resolves the hot alert: nothing active in Alertmanager" poll 50 has_alerts
check "...and the state is empty" "$PY" -c "
import json; s = json.load(open('$STATE')); assert s['alerts'] == [], s"

# ---- runs at once take turns on the state file (flock on STATE.lock) ----
flock "$STATE.lock" -c "touch '$tmp/held'; while [ ! -e '$tmp/release' ]; do sleep 0.05; done" &
holder=$!
pids+=($holder)
held() { [ -e "$tmp/held" ]; }
poll 100 held
"$FD" --report -i "$INI" --db "$DB" --alertmanager "$AM" >/dev/null 2>&1 &
waiter=$!
running() { kill -0 $waiter 2>/dev/null; }
sleep 0.5 # a window in which it would have finished (it takes about 0.1 s): what is checked is that it did not
check "a report waits while another holds the state's lock" running
touch "$tmp/release"
wait $waiter; rc=$?
check "...and goes on once it is released (exit 0)" test "$rc" -eq 0
wait $holder 2>/dev/null

# ---- options ----
"$FD" --report -i "$INI" --no-history --alertmanager 127.84.21.1:9093 >/dev/null 2>"$tmp/o.err"; rc=$?
check "--alertmanager without a scheme: exit 2, said so" test "$rc" -eq 2 -a -n "$(grep 'expected an http:// or https:// URL' "$tmp/o.err")"
"$FD" --report -i "$INI" --no-history --alert-ttl 60 >/dev/null 2>"$tmp/o.err"; rc=$?
check "--alert-ttl without --alertmanager: exit 2" test "$rc" -eq 2
ctl "/devices/${hosts[0]}/set" '{"fault": "refused"}'
"$FD" --report -i "$INI" --no-history --alertmanager "$AM" --alert-state "$tmp/own.json" --alert-ttl 120 >/dev/null; rc=$?
own_ttl() {
	test "$rc" -eq 1 -a -s "$tmp/own.json" && poll 50 has_alerts "DeviceUnreachable/${hosts[0]}" && "$PY" -c "
import json, datetime; a = json.load(open('$tmp/active.json'))[0]
t = lambda s: datetime.datetime.fromisoformat(s.replace('Z', '+00:00'))
assert 115 <= (t(a['endsAt']) - t(a['startsAt'])).total_seconds() <= 125, a"
}
check "--alert-state FILE and --alert-ttl 120 (--no-history): exit 1, the state there, endsAt 120 s on" own_ttl
echo 'not json' >"$tmp/own.json"
"$FD" --report -i "$INI" --no-history --alertmanager "$AM" --alert-state "$tmp/own.json" >/dev/null 2>"$tmp/o.err"; rc=$?
corrupt() {
	test "$rc" -eq 1 -a -n "$(grep 'starting afresh' "$tmp/o.err")" &&
		"$PY" -c "import json; assert len(json.load(open('$tmp/own.json'))['alerts']) == 1"
}
check "a corrupt state file: a warning, the alerts still sent (exit 1), the file rewritten" corrupt
finish
