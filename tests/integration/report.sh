#!/usr/bin/env bash
# report: `fleetdeck --report` against fleetsim: ALERT blocks and the summary, --format json,
# --quiet, exit codes 0/1/2, thresholds from flags and the settings file, history recorded and
# alerts resolved, --limit with Ansible patterns. All traffic stays on one /16 of 127.0.0.0/8.
. "$(dirname "${BASH_SOURCE[0]}")/lib/simtest.sh"
unset FLEETDECK_INVENTORY

wait_ready() {
	local i
	for i in $(seq 600); do
		[ -s "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
ctl() { curl -sf --max-time 10 -X POST "http://$CTL$1" -d "$2" >/dev/null; }

# A /16 of our own: a random one, another if a concurrent run holds it.
mkdir -p "$tmp/inv"
up=0
for try in 1 2 3 4 5 6; do
	NET=$((100 + RANDOM % 150))
	CTL=127.$NET.255.1:7999
	rm -f "$tmp/sim.ready"
	"$SIM" --devices 12 --factories 3 --seed 11 --base 127.$NET.0.1 --control $CTL --clock manual \
		--write-inventory "$tmp/inv" --ready-file "$tmp/sim.ready" >/dev/null 2>"$tmp/sim.err" &
	sim=$!
	if wait_ready "$tmp/sim.ready" "$sim"; then pids+=($sim); up=1; break; fi
	wait "$sim" 2>/dev/null
	grep -q "Address already in use" "$tmp/sim.err" || break
done
if [ "$up" != 1 ]; then
	bad "fleetsim starts"; cat "$tmp/sim.err"; echo "$passed passed, $failed failed"; exit 1
fi
INI=$tmp/inv/fleet.ini
YML=$tmp/inv/fleet.yml
mapfile -t hosts < <(awk '/ansible_host=/{print $1}' "$INI")
mapfile -t groups < <(sed -n 's/^\[\(factory_[a-z]*\)\]$/\1/p' "$INI")
check "fleet of 12 devices in 3 factories" test "${#hosts[@]}" -eq 12 -a "${#groups[@]}" -eq 3
DB=$tmp/hist.db

# ---- a healthy fleet ----
out=$("$FD" --report -i "$INI" --db "$DB"); rc=$?
check "healthy fleet: exit 0" test "$rc" -eq 0
check "healthy fleet: no ALERT, a one-line summary" test -z "$(grep ALERT <<<"$out")" -a \
	"$(grep -c '^fleetdeck report: 12 devices: 12 healthy, 0 degraded, 0 unhealthy, 0 unreachable; 0 alerts' <<<"$out")" = 1
out=$("$FD" --report -i "$INI" --quiet --db "$DB"); rc=$?
check "healthy fleet --quiet: prints nothing, exit 0" test "$rc" -eq 0 -a -z "$out"
out2=$("$FD" report -i "$INI" --no-history | sed 's/; [0-9.]* s$//')
out1=$("$FD" --report -i "$INI" --no-history | sed 's/; [0-9.]* s$//')
check "fleetdeck report is fleetdeck --report" test "$out1" = "$out2" -a -n "$out1"

# ---- alerts: down, unhealthy, hot, skewed ----
ctl "/devices/${hosts[1]}/set" '{"fault": "refused"}'
ctl "/devices/${hosts[4]}/set" '{"status": "unhealthy"}'
# (a hot device degrades by itself; held healthy here so only the temperature alerts)
ctl "/devices/${hosts[7]}/set" '{"gpu_temp": 93, "temp_trend": 0, "status": "healthy"}'
ctl "/devices/${hosts[10]}/set" '{"model_version": "2.9"}'
"$FD" --report -i "$INI" --db "$DB" >"$tmp/alerts.txt"; rc=$?
check "alerts: exit 1" test "$rc" -eq 1
check "one ALERT block per alerting device, in inventory order" test \
	"$(sed -n 's/^ALERT: //p' "$tmp/alerts.txt" | tr '\n' ' ')" = "${hosts[1]} ${hosts[4]} ${hosts[7]} ${hosts[10]} "
block() { awk -v h="ALERT: $1" '$0==h{on=1;print;next} on&&/^$/{exit} on{print}' "$tmp/alerts.txt"; }
check "unreachable block: host, factory, UNREACHABLE, unknown version, N/A temperature and uptime" "$PY" - "$(block "${hosts[1]}")" "${groups[0]}" <<'EOF'
import sys
b, factory = sys.argv[1], sys.argv[2]
lines = b.splitlines()
assert lines[1] == f"  Factory:       {factory}", lines
assert lines[2].startswith("  Status:        UNREACHABLE (refused: /status:"), lines
assert lines[3] == "  Model version: unknown" and lines[4] == "  GPU Temp:      N/A" and lines[5] == "  Uptime:        N/A", lines
assert lines[6].startswith("  Alert:         critical unreachable: connection refused"), lines
EOF
check "unhealthy block: the reported status, version, temperature and uptime" "$PY" - "$(block "${hosts[4]}")" <<'EOF'
import re, sys
lines = sys.argv[1].splitlines()
assert lines[2] == "  Status:        unhealthy", lines
assert lines[3] == "  Model version: 3.1", lines
assert re.fullmatch(r"  GPU Temp:      \d+\.\d °C", lines[4]) and re.fullmatch(r"  Uptime:        \d+\.\d h", lines[5]), lines
assert any(l.startswith("  Alert:         critical health: unhealthy") for l in lines), lines
EOF
check "hot block: a critical gpu_temp alert at 93 °C" grep -q "^  Alert:         critical gpu_temp: GPU temperature 93.0 °C" <<<"$(block "${hosts[7]}")"
check "skewed block: a version_skew warning naming 2.9 and 3.1" grep -q "^  Alert:         warning version_skew: model defect-detection is at version 2.9, the fleet's is 3.1" <<<"$(block "${hosts[10]}")"
check "summary line counts states and alerts" grep -q "^fleetdeck report: 12 devices: 10 healthy, 0 degraded, 1 unhealthy, 1 unreachable; 4 alerts (3 critical, 1 warning); " "$tmp/alerts.txt"
"$FD" --report -i "$INI" --quiet --no-history >"$tmp/quiet.txt"; rc=$?
check "--quiet with alerts prints the same blocks, exit 1" test "$rc" -eq 1 -a "$(grep -c '^ALERT: ' "$tmp/quiet.txt")" = 4

# ---- JSON ----
"$FD" --report -i "$YML" --format json --no-history >"$tmp/r.json"; rc=$?
check "--format json (YAML inventory): exit 1" test "$rc" -eq 1
check "JSON: devices, alerts and summary with stable keys" "$PY" - "$tmp/r.json" "${hosts[1]}" "${hosts[4]}" "${hosts[7]}" "${hosts[10]}" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1])); down, sick, hot, old = sys.argv[2:]
assert sorted(j) == ["alerts", "devices", "factory_drift", "summary"]
keys = {"host", "factory", "state", "reason", "detail", "status", "model_name", "model_version", "gpu_type",
        "gpu_temp", "uptime_hours", "model_loaded", "last_seen", "last_seen_ms", "polled_at", "rtt_ms", "attempts",
        "drift"}
assert all(set(d) == keys for d in j["devices"]), set(j["devices"][0]) ^ keys
dev = {d["host"]: d for d in j["devices"]}
assert len(dev) == 12
assert dev[down]["state"] == "unreachable" and dev[down]["reason"] == "refused" and dev[down]["gpu_temp"] is None
assert dev[down]["last_seen"] is None and dev[down]["model_version"] is None
assert dev[sick]["state"] == "unhealthy" and dev[sick]["reason"] == "reported" and dev[sick]["status"] == "unhealthy"
assert abs(dev[hot]["gpu_temp"] - 93) < 0.5 and dev[hot]["state"] == "healthy"
assert dev[old]["model_version"] == "2.9"
alerts = sorted((a["host"], a["rule"], a["severity"]) for a in j["alerts"])
assert alerts == sorted([(down, "unreachable", "critical"), (sick, "health", "critical"), (hot, "gpu_temp", "critical"),
                         (old, "version_skew", "warning")]), alerts
assert all(set(a) == {"host", "factory", "severity", "rule", "message"} for a in j["alerts"])
s = j["summary"]
assert (s["total"], s["healthy"], s["unhealthy"], s["unreachable"], s["degraded"], s["stale"]) == (12, 10, 1, 1, 0, 0), s
assert (s["alerts"], s["critical"], s["warning"]) == (4, 3, 1), s
EOF
"$FD" --report -i "$INI" --format json --quiet --no-history --limit "${hosts[0]}" >"$tmp/q.json"; rc=$?
check "--format json --quiet with nothing alerting still prints the JSON (for scripts), exit 0" "$PY" -c "
import json; j=json.load(open('$tmp/q.json')); assert $rc==0 and j['alerts']==[] and len(j['devices'])==1"

# ---- thresholds: flags and the settings file ----
"$FD" --report -i "$INI" --no-history --limit "${hosts[7]}" --gpu-temp-warn 94 --gpu-temp-crit 99 >/dev/null; rc=$?
check "--gpu-temp-warn/--gpu-temp-crit above 93 °C: no alert, exit 0" test "$rc" -eq 0
"$FD" --report -i "$INI" --no-history --limit "${hosts[10]}" --expected-version 2.9 >/dev/null; rc=$?
check "--expected-version 2.9: the 2.9 device no longer skews" test "$rc" -eq 0
gpu7=$(awk -v h="${hosts[7]}" '$1==h{for(i=2;i<=NF;i++) if ($i ~ /^gpu_type=/) {sub("gpu_type=","",$i); print $i}}' "$INI")
mkdir -p "$tmp/config/fleetdeck"
printf 'alerts:\n  gpu_temp:\n    %s:\n      warning: 95\n      critical: 99\n' "$gpu7" >"$tmp/config/fleetdeck/config.yaml"
"$FD" --report -i "$INI" --no-history --limit "${hosts[7]}" >/dev/null; rc=$?
check "config.yaml alerts.gpu_temp.$gpu7 (95/99): no alert at 93 °C" test "$rc" -eq 0
printf 'alerts:\n  gpu_temp_warning: 70\n  gpu_temp_critical: 80\n  disable: [version_skew]\n' >"$tmp/config/fleetdeck/config.yaml"
"$FD" --report -i "$INI" --no-history --limit "${hosts[7]}:${hosts[10]}" --format json >"$tmp/c.json"
check "config.yaml thresholds and disabled rules apply" "$PY" -c "
import json; a=json.load(open('$tmp/c.json'))['alerts']
assert [(x['host'], x['rule'], x['severity']) for x in a] == [('${hosts[7]}', 'gpu_temp', 'critical')], a"
printf 'alerts:\n  gpu_temp_warning: hot\n' >"$tmp/config/fleetdeck/config.yaml"
"$FD" --report -i "$INI" --no-history >/dev/null 2>"$tmp/err"; rc=$?
check "a bad setting: exit 2 and file:line: what is wrong" test "$rc" -eq 2 -a \
	"$(cat "$tmp/err")" = "fleetdeck: $tmp/config/fleetdeck/config.yaml:2: alerts.gpu_temp_warning: expected a number from -50 to 200, got 'hot'"
rm -f "$tmp/config/fleetdeck/config.yaml"

# ---- could not run: exit 2 ----
"$FD" --report -i "$tmp/nope.ini" --no-history >/dev/null 2>&1; rc=$?
check "missing inventory: exit 2" test "$rc" -eq 2
"$FD" --report -i "$INI" --format xml --no-history >/dev/null 2>&1; rc=$?
check "--format xml: exit 2" test "$rc" -eq 2
"$FD" --report -i "$INI" --timeout 0 --no-history >/dev/null 2>&1; rc=$?
check "--timeout 0: exit 2" test "$rc" -eq 2
"$FD" --report -i "$INI" --limit nosuchhost --no-history >/dev/null 2>"$tmp/err"; rc=$?
check "--limit matching nothing: exit 2, said so" test "$rc" -eq 2 -a -n "$(grep 'no devices selected' "$tmp/err")"
out=$("$FD" --report -i "$INI" --db "$tmp" 2>"$tmp/err"); rc=$?
check "history that cannot be written: exit 2, the report still printed" test "$rc" -eq 2 -a \
	-n "$(grep 'history:' "$tmp/err")" -a -n "$(grep '^ALERT: ' <<<"$out")"
printf '[g]\nbadport ansible_host=127.%s.0.1 fleetdeck_agent_port=http\n' "$NET" >"$tmp/badvar.ini"
"$FD" --report -i "$tmp/badvar.ini" --no-history >/dev/null 2>"$tmp/err"; rc=$?
check "a host variable of the wrong shape: named, exit 2 when nothing is left to poll" test "$rc" -eq 2 -a \
	-n "$(grep 'badport: fleetdeck_agent_port: expected a port' "$tmp/err")"

# ---- history ----
check "history: three report cycles recorded" test "$(sqlite3 "$DB" "SELECT count(*) FROM cycles")" = 3
check "history: every device sampled in each cycle" test "$(sqlite3 "$DB" "SELECT count(*) FROM samples")" = 36
"$FD" history --db "$DB" alerts --active --json >"$tmp/h.json"
check "history: the four alerts are firing" "$PY" - "$tmp/h.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
rows = j if isinstance(j, list) else j.get("alerts", j)
assert sorted(a["rule"] for a in rows) == ["gpu_temp", "health", "unreachable", "version_skew"], rows
EOF
ctl "/devices/${hosts[1]}/set" '{"fault": null}'
ctl "/devices/${hosts[4]}/set" '{"status": null}'
"$FD" --report -i "$INI" --db "$DB" >/dev/null
"$FD" history --db "$DB" alerts --active --json >"$tmp/h.json"
check "history: alerts that stopped firing are resolved" "$PY" - "$tmp/h.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
rows = j if isinstance(j, list) else j.get("alerts", j)
assert sorted(a["rule"] for a in rows) == ["gpu_temp", "version_skew"], rows
EOF
"$FD" history --db "$DB" events "${hosts[1]}" --json >"$tmp/ev.json"
check "history: the down device's recovery is an event" "$PY" -c "
import json; j=json.load(open('$tmp/ev.json')); rows=j if isinstance(j,list) else j.get('events',j)
assert [(e['from'],e['to']) for e in rows][-1:] == [('unreachable','healthy')], rows"

# ---- --limit with Ansible patterns ----
lim() { "$FD" --report -i "$INI" --no-history --format json --limit "$1" | "$PY" -c "
import json,sys; print(' '.join(d['host'] for d in json.load(sys.stdin)['devices']))"; }
want() { "$FD" inventory -i "$INI" --hosts "$1" | tr '\n' ' ' | sed 's/ $//'; }
for pat in "${groups[1]}" "${groups[0]}:${groups[2]}" "all:!${groups[0]}" "${groups[0]}[1:2]" "edge-*-02" \
	"~edge-.*-0[13]" "${groups[1]}:&~.*-0[12]"; do
	got=$(lim "$pat"); exp=$(want "$pat")
	check "--limit '$pat': the hosts Ansible selects ($exp)" test -n "$exp" -a "$got" = "$exp"
done
check "--limit 'b,a': in inventory order, as ansible --limit" test "$(lim "${hosts[5]},${hosts[0]}")" = "${hosts[0]} ${hosts[5]}"
printf '%s\n%s\n' "${hosts[3]}" "${hosts[9]}" >"$tmp/limit.txt"
check "--limit @file" test "$(lim "@$tmp/limit.txt")" = "${hosts[3]} ${hosts[9]}"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
