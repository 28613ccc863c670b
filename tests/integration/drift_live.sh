#!/usr/bin/env bash
# drift_live: live drift end to end against fleetsim and its registry: each device's /drift window
# against the baseline of the model version it runs (index.json, then the entry's baseline), in
# --report's ALERT blocks and JSON with the right severity (a critical and a warning device, the
# undrifted ones without alerts), each factory's windows pooled (checked against `fleetdeck drift`
# on the same windows pooled by hand), the history's drift_samples, an alert resolving when the
# device's inputs come back, per-feature thresholds from the settings file, and a registry that
# is down or serves bad baselines (a clear error per device, no crash). fleetsim runs on a manual
# clock, so every window is the same on every read. Addresses 127.85.x.x.
. "$(dirname "$0")/lib/simtest.sh"

REG=127.85.1.1:5000 CTL=127.85.1.1:5001
"$SIM" --devices 10 --factories 2 --seed 5 --clock manual --base 127.85.0.1 --registry $REG --control $CTL \
	--write-inventory "$tmp/inv" --ready-file "$tmp/ready" >"$tmp/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -s "$tmp/ready" ] && break; sleep 0.05; done
[ -s "$tmp/ready" ] || { bad "fleetsim did not start"; cat "$tmp/sim.log"; echo "$passed passed, $failed failed"; exit 1; }
INV=$tmp/inv/fleet.ini
set_drift() { curl -sf -XPOST "http://$CTL/devices/$1/set" -d "{\"drift\": $2}" >/dev/null; }
set_drift edge-ams-01 1.5   # far off: critical
set_drift edge-ber-02 0.1   # a little: KS about 0.125, a warning

# ---- the text report ----
"$FD" --report -i "$INV" --no-history >"$tmp/r.txt" 2>"$tmp/r.err"; rc=$?
check "report with drifted devices exits 1" test "$rc" -eq 1
block() { awk -v h="ALERT: $1" '$0 == h {p=1} p && /^$/ {exit} p' "$tmp/r.txt"; }
check "the far-off device has an ALERT block with a critical drift alert" \
	grep -q "^  Alert:         critical drift: input drift against defect-detection:3.1's baseline: " <<<"$(block edge-ams-01)"
check "its block shows the drift line with the drifted features" \
	grep -Eq "^  Drift:         critical, max KS 0\.[0-9]{3} against defect-detection:3\.1 \(brightness " <<<"$(block edge-ams-01)"
check "the slightly drifted device has a warning drift alert" \
	grep -q "^  Alert:         warning drift: " <<<"$(block edge-ber-02)"
check "an undrifted device has no ALERT block" test -z "$(block edge-ams-03)"
check "exactly two ALERT blocks" test "$(grep -c '^ALERT: ' "$tmp/r.txt")" -eq 2
check "the pooled factory with the drifted device is listed" grep -q "^FACTORY DRIFT: factory_amsterdam (5 devices pooled)" "$tmp/r.txt"
check "the pooled factory without one is not" test "$(grep -c '^FACTORY DRIFT: factory_berlin' "$tmp/r.txt")" -eq 0
check "nothing on stderr" test ! -s "$tmp/r.err"

# ---- JSON ----
"$FD" --report -i "$INV" --json --no-history >"$tmp/r.json"; rc=$?
check "JSON report exits 1" test "$rc" -eq 1
check "JSON: severities per device, alerts, and features with statistics" "$PY" - "$tmp/r.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
dev = {d["host"]: d for d in j["devices"]}
dr = {h: d["drift"] for h, d in dev.items()}
assert all(d is not None and d["error"] is None for d in dr.values()), dr
assert dr["edge-ams-01"]["severity"] == "critical" and dr["edge-ams-01"]["max_ks"] >= 0.15, dr["edge-ams-01"]
assert dr["edge-ber-02"]["severity"] == "warning" and 0.1 < dr["edge-ber-02"]["max_ks"] < 0.15, dr["edge-ber-02"]
others = [h for h in dr if h not in ("edge-ams-01", "edge-ber-02")]
assert all(dr[h]["severity"] == "none" and dr[h]["max_ks"] <= 0.1 for h in others), [(h, dr[h]["max_ks"]) for h in others]
for h, d in dr.items():
    assert d["baseline"] == "defect-detection:3.1" and d["samples"] == 500, d
    f = d["features"]
    assert sorted(f) == ["brightness", "contrast", "mean_intensity", "std_intensity"], f
    for name, x in f.items():
        assert set(x) == {"ks_statistic", "ks_pvalue", "wasserstein", "threshold", "drifted", "severity"}, x
        assert x["threshold"] == 0.1 and 0 <= x["ks_pvalue"] <= 1 and x["wasserstein"] >= 0
        assert x["drifted"] == (x["ks_statistic"] > 0.1)
    assert abs(d["max_ks"] - max(x["ks_statistic"] for x in f.values())) < 1e-12
drift_alerts = sorted((a["host"], a["severity"]) for a in j["alerts"] if a["rule"] == "drift")
assert drift_alerts == [("edge-ams-01", "critical"), ("edge-ber-02", "warning")], drift_alerts
fd = {g["factory"]: g for g in j["factory_drift"]}
assert sorted(fd) == ["factory_amsterdam", "factory_berlin"], fd
assert all(g["devices"] == 5 and g["samples"] == 2500 and g["baseline"] == "defect-detection:3.1" for g in fd.values())
assert fd["factory_amsterdam"]["severity"] == "warning", fd["factory_amsterdam"]["max_ks"]
assert fd["factory_berlin"]["severity"] == "none", fd["factory_berlin"]["max_ks"]
EOF

# the pooled figures, independently: the five windows of a factory pooled by hand and compared
# with the registry's baseline by `fleetdeck drift` (exact p-values; the KS statistic and the
# Wasserstein distance are the same figures)
curl -sf "http://$REG/models/defect-detection-v3.1-baseline.json" >"$tmp/base.json"
for i in 1 2 3 4 5; do curl -sf "http://127.85.0.$i:8080/drift" >"$tmp/w$i.json"; done
"$PY" - "$tmp" <<'EOF'
import json, sys
t = sys.argv[1]
ws = [json.load(open(f"{t}/w{i}.json")) for i in range(1, 6)]
pool = {k: sum((w["features"][k] for w in ws), []) for k in ws[0]["features"]}
json.dump({"window": 5 * ws[0]["window"], "features": pool}, open(f"{t}/pool.json", "w"))
EOF
"$FD" drift "$tmp/base.json" "$tmp/pool.json" --json >"$tmp/pool.out"
check "pooled KS and Wasserstein per feature equal fleetdeck drift on the windows pooled by hand" "$PY" - "$tmp/r.json" "$tmp/pool.out" <<'EOF'
import json, sys
live = {g["factory"]: g for g in json.load(open(sys.argv[1]))["factory_drift"]}["factory_amsterdam"]["features"]
ref = json.load(open(sys.argv[2]))["features"]
for k, r in ref.items():
    assert abs(live[k]["ks_statistic"] - r["ks_statistic"]) < 1e-9, (k, live[k], r)
    assert abs(live[k]["wasserstein"] - r["wasserstein"]) <= 1e-9 * max(1, r["wasserstein"]), (k, live[k], r)
    assert live[k]["severity"] == r["severity"], (k, live[k], r)
EOF

# each device's p-values are scipy's: ks_2samp's default "auto" (exact where scipy would be)
check "per-device KS p-values equal scipy.stats.ks_2samp (method auto) on the same windows" /usr/bin/python3 - "$tmp" "$INV" <<'EOF'
import json, re, sys
from scipy import stats
t, inv = sys.argv[1], sys.argv[2]
rep = {d["host"]: d["drift"] for d in json.load(open(f"{t}/r.json"))["devices"]}
base = json.load(open(f"{t}/base.json"))["features"]
addr = dict(re.findall(r"^(\S+) .*ansible_host=(\S+)", open(inv).read(), re.M))
n = 0
for i in range(1, 6):
    host = [h for h, a in addr.items() if a == f"127.85.0.{i}"][0]
    w = json.load(open(f"{t}/w{i}.json"))["features"]
    for k, x in rep[host]["features"].items():
        r = stats.ks_2samp(base[k], w[k])
        assert abs(x["ks_statistic"] - r.statistic) <= 1e-12, (host, k, x, r)
        assert abs(x["ks_pvalue"] - r.pvalue) <= 1e-9 * max(r.pvalue, 1e-300), (host, k, x["ks_pvalue"], r.pvalue)
        assert abs(x["wasserstein"] - stats.wasserstein_distance(base[k], w[k])) <= 1e-9, (host, k)
        n += 1
assert n == 20, n
EOF

# drift in the Prometheus export: the worst KS and the verdict per device, and promtool accepts it
"$FD" --report -i "$INV" --no-history --format prometheus >"$tmp/r.prom"
check "report --format prometheus: drift severity per device (2 critical, 1 warning, 0 none)" /usr/bin/python3 - "$tmp/r.prom" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
sev = {}
ks = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for smp in fam.samples:
        if smp.name == "fleetdeck_device_drift_severity":
            sev[smp.labels["device"]] = smp.value
        if smp.name == "fleetdeck_device_drift_ks":
            ks[smp.labels["device"]] = smp.value
assert len(sev) == 10 and len(ks) == 10, (sev, ks)
assert sev["edge-ams-01"] == 2 and sev["edge-ber-02"] == 1, sev
assert all(v == 0 for h, v in sev.items() if h not in ("edge-ams-01", "edge-ber-02")), sev
assert ks["edge-ams-01"] >= 0.15 and 0.1 < ks["edge-ber-02"] < 0.15, ks
EOF
if command -v promtool >/dev/null; then
	check "promtool check metrics accepts the export with drift" bash -c "promtool check metrics <'$tmp/r.prom'"
fi

# ---- history: drift_samples, and the alert resolving ----
DB=$tmp/h.db
"$FD" --report -i "$INV" --db "$DB" >/dev/null
set_drift edge-ams-01 0
"$FD" --report -i "$INV" --db "$DB" >"$tmp/r2.txt"
check "once its inputs are back, the device has no ALERT block" test -z "$(awk '$0 == "ALERT: edge-ams-01"' "$tmp/r2.txt")"
check "history: a drift sample per device and window, with per-feature KS; the alert resolved" "$PY" - "$DB" <<'EOF'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute("PRAGMA user_version").fetchone()[0] >= 4
rows = db.execute("SELECT host, baseline, max_ks_ppm, severity, features FROM drift_samples ORDER BY ts").fetchall()
assert len(rows) == 20, len(rows)
ams = [r for r in rows if r[0] == "edge-ams-01"]
assert [r[3] for r in ams] == ["critical", "none"], ams
for host, base, ppm, sev, feats in rows:
    f = json.loads(feats)
    assert base == "defect-detection:3.1" and sorted(f) == ["brightness", "contrast", "mean_intensity", "std_intensity"]
    assert abs(max(f.values()) * 1e6 - ppm) <= 1, (ppm, f)
ppm = db.execute("SELECT s.drift_ppm FROM samples s JOIN devices d ON d.id = s.device_id WHERE d.host = 'edge-ams-01' ORDER BY s.ts").fetchall()
assert len(ppm) == 2 and ppm[0][0] > 150000 and ppm[1][0] < 100000, ppm
al = db.execute("SELECT severity, resolved_at FROM alerts WHERE host = 'edge-ams-01' AND rule = 'drift'").fetchall()
assert len(al) == 1 and al[0][0] == "critical" and al[0][1] is not None, al
al = db.execute("SELECT resolved_at FROM alerts WHERE host = 'edge-ber-02' AND rule = 'drift'").fetchall()
assert len(al) == 1 and al[0][0] is None, al
EOF

# ---- per-feature thresholds from the settings file ----
cat >"$tmp/cfg.yaml" <<'EOF'
alerts:
  drift_ks: 0.1
  drift_features:
    brightness: 0.5
    contrast: 0.5
    mean_intensity: 0.5
    std_intensity: 0.5
EOF
"$FD" --config "$tmp/cfg.yaml" --report -i "$INV" --json --no-history >"$tmp/r3.json"
check "per-feature thresholds from alerts.drift_features decide the severity" "$PY" - "$tmp/r3.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
d = {x["host"]: x["drift"] for x in j["devices"]}
assert d["edge-ber-02"]["severity"] == "none", d["edge-ber-02"]
assert all(f["threshold"] == 0.5 for f in d["edge-ber-02"]["features"].values())
assert not [a for a in j["alerts"] if a["rule"] == "drift"], j["alerts"]
EOF
printf 'alerts:\n  drift_features:\n    contrast: 2\n' >"$tmp/bad.yaml"
"$FD" --config "$tmp/bad.yaml" --report -i "$INV" --no-history >/dev/null 2>"$tmp/bad.err"; rc=$?
check "a threshold out of range is a clear error naming the setting and its line" \
	grep -q "bad.yaml:3: alerts.drift_features.contrast: expected a number from" "$tmp/bad.err"
check "... and exit 2" test "$rc" -eq 2

# ---- a registry that is down, and one that serves bad baselines ----
sed 's|^model_registry=.*|model_registry=127.85.1.9:9|' "$INV" >"$tmp/down.ini"
"$FD" --report -i "$tmp/down.ini" --json --no-history --connect-timeout 1 --timeout 2 >"$tmp/down.json"; rc=$?
check "registry down: the report still runs, without drift alerts, exit 0" test "$rc" -eq 0
check "registry down: each device's drift says why" "$PY" - "$tmp/down.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
for d in j["devices"]:
    e = d["drift"]["error"]
    assert e and "registry index" in e and "127.85.1.9:9/models/index.json" in e, e
    assert d["drift"]["severity"] is None and d["drift"]["features"] == {}
assert j["factory_drift"] == [], j["factory_drift"]
EOF

mkdir -p "$tmp/bad/models"
cat >"$tmp/badreg.py" <<'EOF'
# A registry with one bad baseline per version the devices are made to run.
import json, sys, os
from http.server import ThreadingHTTPServer, SimpleHTTPRequestHandler
host, port, root, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
base = f"http://{host}:{port}"
idx = {
    "defect-detection:8.0": {"name": "defect-detection", "version": "8.0", "baseline": "file:///etc/passwd"},
    "defect-detection:8.1": {"name": "defect-detection", "version": "8.1", "baseline": base + "/models/garbage.json"},
    "defect-detection:8.2": {"name": "defect-detection", "version": "8.2", "baseline": "/models/onefeature.json"},
    "defect-detection:8.3": {"name": "defect-detection", "version": "8.3"},
}
os.makedirs(f"{root}/models", exist_ok=True)
json.dump(idx, open(f"{root}/models/index.json", "w"))
open(f"{root}/models/garbage.json", "w").write('{"window": 2, "features": {"brightness": [1, NaN]}}')
json.dump({"window": 3, "features": {"brightness": [0.1, 0.2, 0.3]}}, open(f"{root}/models/onefeature.json", "w"))
class H(SimpleHTTPRequestHandler):
    def __init__(self, *a, **k): super().__init__(*a, directory=root, **k)
    def log_message(self, *a): pass
srv = ThreadingHTTPServer((host, port), H)
open(ready + ".tmp", "w").write("ready\n"); os.rename(ready + ".tmp", ready)
srv.serve_forever()
EOF
"$PY" "$tmp/badreg.py" 127.85.2.1 5002 "$tmp/bad" "$tmp/badreg.ready" 2>"$tmp/badreg.log" &
pids+=($!)
for _ in $(seq 200); do [ -s "$tmp/badreg.ready" ] && break; sleep 0.05; done
sed 's|^model_registry=.*|model_registry=127.85.2.1:5002|' "$INV" >"$tmp/badreg.ini"
vers=(8.0 8.1 8.2 8.3 3.1)
for i in 0 1 2 3; do curl -sf -XPOST "http://$CTL/devices/edge-ams-0$((i + 1))/set" -d "{\"model_version\": \"${vers[$i]}\"}" >/dev/null; done
"$FD" --report -i "$tmp/badreg.ini" --json --no-history >"$tmp/badreg.json" 2>"$tmp/badreg.err"; rc=$?
check "bad baselines: the report runs to the end" test -s "$tmp/badreg.json" -a "$rc" -le 1
check "bad baselines: each device's drift names what is wrong" "$PY" - "$tmp/badreg.json" <<'EOF'
import json, sys
d = {x["host"]: x["drift"] for x in json.load(open(sys.argv[1]))["devices"]}
want = {
    "edge-ams-01": "not an http(s) URL",
    "edge-ams-02": "NaN, not a finite number",
    "edge-ams-03": "is in the window but not in the baseline",
    "edge-ams-04": "has no baseline",
    "edge-ams-05": "the registry's index has no defect-detection:3.1",
}
for h, w in want.items():
    assert d[h]["error"] and w in d[h]["error"], (h, d[h]["error"])
    assert d[h]["severity"] is None
EOF
check "bad baselines: nothing on stderr" test ! -s "$tmp/badreg.err"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
