#!/usr/bin/env bash
# registry: `fleetdeck registry` end to end: list, show, verify and compare against the registry
# fleetsim serves (by --registry URL and by the inventory's model_registry), add into a directory
# (checksums and sizes against sha256sum, duplicates refused, --force), the same directory served
# by python3's http.server, a corrupted and a missing file found by verify (read and downloaded),
# broken indexes refused with file:line and never rewritten, the settings file's registry:, and
# an index over the size cap. Addresses 127.86.x.x keep clear of the other tests.
# Synchronisation by ready files and bounded polling.
set -u
. "$(dirname "$0")/lib/simtest.sh"
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

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
json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); $1"; }
# has TEXT PATTERN: TEXT contains the fixed string PATTERN
has() { printf '%s' "$1" | grep -qF -- "$2"; }

SIMREG=127.86.255.1:5000
"$SIM" --devices 4 --factories 2 --seed 5 --base 127.86.0.1 --registry $SIMREG --model-kib 64 \
	--write-inventory "$tmp" --ready-file "$tmp/sim.ready" >"$tmp/sim.out" 2>"$tmp/sim.err" &
pids+=($!)
if ! wait_ready "$tmp/sim.ready" "${pids[0]}"; then
	bad "fleetsim starts"; cat "$tmp/sim.err"; finish
fi
URL=http://$SIMREG

# ---- the registry fleetsim serves ----
out=$("$FD" registry list --registry "$URL" 2>&1); rc=$?
check "list (fleetsim URL) exits 0" test "$rc" -eq 0
check "list shows the three versions, 3.2 the latest" \
	bash -c '[ "$(printf "%s\n" "$1" | grep -c "^defect-detection ")" = 3 ] && printf "%s\n" "$1" | grep -q "^defect-detection  *3\.2 \*"' _ "$out"
out=$("$FD" -i "$tmp/fleet.ini" registry list --json 2>&1); rc=$?
check "list finds the registry through the inventory's model_registry" test "$rc" -eq 0 -a \
	"$(printf '%s' "$out" | json 'm=d["models"][0]; print(m["name"], m["latest"], len(m["versions"]), d["registry"])')" \
	= "defect-detection 3.2 3 $URL"
# model_registry without a scheme means http
sed "s|model_registry=$URL|model_registry=$SIMREG|" "$tmp/fleet.ini" >"$tmp/noscheme.ini"
out=$("$FD" registry list -i "$tmp/noscheme.ini" --json 2>&1); rc=$?
check "model_registry without a scheme is http" test "$rc" -eq 0 -a \
	"$(printf '%s' "$out" | json 'print(d["registry"])')" = "$URL"
out=$("$FD" registry list --tag candidate --registry "$URL" --json); rc=$?
check "list --tag keeps only the tagged versions" test "$rc" -eq 0 -a \
	"$(printf '%s' "$out" | json 'print([v["version"] for m in d["models"] for v in m["versions"]])')" = "['3.2']"
out=$("$FD" registry verify --registry "$URL" 2>&1); rc=$?
check "verify (downloads from fleetsim) finds every file good" test "$rc" -eq 0 -a -n "$(printf '%s' "$out" | grep -x '3 ok, 0 failed')"
out=$("$FD" registry show defect-detection --registry "$URL" 2>&1); rc=$?
check "show NAME is the latest" bash -c '[ "$2" -eq 0 ] && printf "%s" "$1" | head -1 | grep -qx "defect-detection:3.2 (latest)"' _ "$out" "$rc"
out=$("$FD" registry show defect-detection:v3.1.0 --registry "$URL" --json); rc=$?
check "show NAME:VERSION finds 3.1 by an equal version, with all its metadata" test "$rc" -eq 0 -a \
	"$(printf '%s' "$out" | json 'm=d["metadata"]; print(d["key"], d["latest"], m["mAP"], m["latency_ms"], m["architecture"], m["input_shape"], len(m["checksum"]))')" \
	= "defect-detection:3.1 False 38.1 19.2 YOLOv8 [1, 3, 640, 640] 64"
base=$(printf '%s' "$out" | json 'print(d["baseline_url"])')
check "the baseline URL serves a /drift-shaped document" test \
	"$(curl -s --max-time 10 "$base" | json 'print(sorted(d["features"]) == ["brightness", "contrast", "mean_intensity", "std_intensity"] and d["window"] > 0)')" = True
sum=$(curl -s --max-time 10 "$(printf '%s' "$out" | json 'print(d["file"])')" | sha256sum | cut -d' ' -f1)
check "the file URL serves the bytes of the index's checksum" test "$sum" = "$(printf '%s' "$out" | json 'print(d["metadata"]["checksum"])')"
out=$("$FD" registry compare defect-detection 3.1 3.2 --registry "$URL" --json); rc=$?
check "compare: mAP, latency_ms and size deltas, absolute and %" test "$rc" -eq 0 -a \
	"$(printf '%s' "$out" | json 'm=d["metrics"]; print(m["mAP"]["delta"], m["mAP"]["delta_pct"], m["latency_ms"]["delta"], m["latency_ms"]["delta_pct"], m["model_size_mb"]["delta"])')" \
	= "1.3 3.41 -0.3 -1.56 0.0"
out=$("$FD" registry compare defect-detection 3.1 3.2 --registry "$URL"); rc=$?
check "compare (text) shows both and the deltas" bash -c 'printf "%s\n" "$1" | grep -Eq "^mAP +38\.1 +39\.4 +\+1\.3 +\+3\.41%$"' _ "$out"
"$FD" registry compare defect-detection 3.1 9.9 --registry "$URL" >/dev/null 2>"$tmp/err"; rc=$?
check "compare with an unknown version exits 2 and says so" test "$rc" -eq 2 -a -n "$(grep 'defect-detection:9.9 is not in the registry' "$tmp/err")"
"$FD" registry show nothing --registry "$URL" >/dev/null 2>"$tmp/err"; rc=$?
check "show of an unknown model exits 2" test "$rc" -eq 2
"$FD" registry list --registry http://127.86.255.9:5000 >/dev/null 2>"$tmp/err"; rc=$?
check "an unreachable registry exits 2 with its URL" test "$rc" -eq 2 -a -n "$(grep -F 'http://127.86.255.9:5000/models/index.json' "$tmp/err")"
"$FD" registry list >/dev/null 2>"$tmp/err"; rc=$?
check "no registry known: exit 2, says how to give one" test "$rc" -eq 2 -a -n "$(grep -F 'give --registry' "$tmp/err")"

# ---- a directory: add ----
REG=$tmp/reg
head -c 300000 /dev/urandom >"$tmp/a.onnx"
head -c 120000 /dev/urandom >"$tmp/b.onnx"
head -c 5000 /dev/urandom >"$tmp/rc.onnx"
out=$("$FD" registry add "$tmp/a.onnx" --registry "$REG" --name yolov8n --version v1.0.0 --map 37.3 \
	--latency-ms 18.5 --tag production --tag jetson-orin --architecture YOLOv8 --framework TensorRT \
	--input-shape 1,3,640,640 --training-date 2025-01-10 --description 'Initial production model' 2>&1); rc=$?
check "add v1.0.0 into a new directory exits 0" test "$rc" -eq 0
"$FD" registry add "$tmp/b.onnx" --registry "$REG" --name yolov8n --version 1.1.0 --map 38.1 --latency-ms 19.2 \
	--tag production --tag improved-accuracy >/dev/null 2>&1
"$FD" registry add "$tmp/rc.onnx" --registry "$REG" --name yolov8n --version 2.0.0-rc.1 --precision FP16 \
	--map 40 --latency-ms 21 >/dev/null 2>&1
check "the files are under models/ with the contract's names" test \
	-f "$REG/models/yolov8n-v1.0.0-int8.onnx" -a -f "$REG/models/yolov8n-v1.1.0-int8.onnx" -a -f "$REG/models/yolov8n-v2.0.0-rc.1-fp16.onnx"
check "index.json: keys name:version, checksums are sha256sum's, sizes in MB" test \
	"$("$PY" -c '
import json,sys
d=json.load(open(sys.argv[1]))
print(sorted(d), d["yolov8n:v1.0.0"]["checksum"], d["yolov8n:v1.0.0"]["model_size_mb"], d["yolov8n:1.1.0"]["model_size_mb"], d["yolov8n:v1.0.0"]["input_shape"], d["yolov8n:v1.0.0"]["tags"])' "$REG/models/index.json")" \
	= "['yolov8n:1.1.0', 'yolov8n:2.0.0-rc.1', 'yolov8n:v1.0.0'] $(sha256sum "$tmp/a.onnx" | cut -d' ' -f1) 0.3 0.12 [1, 3, 640, 640] ['production', 'jetson-orin']"
check "the copies are byte for byte" cmp -s "$tmp/b.onnx" "$REG/models/yolov8n-v1.1.0-int8.onnx"
cp "$REG/models/index.json" "$tmp/index.before"
"$FD" registry add "$tmp/b.onnx" --registry "$REG" --name yolov8n --version 1.0 >/dev/null 2>"$tmp/err"; rc=$?
check "add of an existing version (1.0 = v1.0.0) is refused with exit 2" test "$rc" -eq 2 -a \
	-n "$(grep -F 'yolov8n:1.0 is already registered as yolov8n:v1.0.0' "$tmp/err")"
check "... and changes nothing" bash -c 'cmp -s "$1" "$2/models/index.json" && cmp -s "$3" "$2/models/yolov8n-v1.0.0-int8.onnx"' _ "$tmp/index.before" "$REG" "$tmp/a.onnx"
"$FD" registry add "$tmp/a.onnx" --registry "$REG" --name yolov8n --version 1.1.0 --map 38.2 --force >/dev/null 2>&1; rc=$?
check "add --force replaces a version" test "$rc" -eq 0 -a \
	"$("$PY" -c 'import json,sys; e=json.load(open(sys.argv[1]))["yolov8n:1.1.0"]; print(e["mAP"], e["model_size_mb"])' "$REG/models/index.json")" = "38.2 0.3"
"$FD" registry add "$tmp/b.onnx" --registry "$REG" --name yolov8n --version 1.1.0 --map 38.1 --latency-ms 19.2 \
	--tag production --tag improved-accuracy --force >/dev/null 2>&1
"$FD" registry add "$tmp/b.onnx" --registry "$REG" --name ../x --version 1 >/dev/null 2>"$tmp/err"; rc=$?
check "add refuses a name that is not a file name" test "$rc" -eq 2 -a ! -e "$REG/x-v1-int8.onnx"
"$FD" registry add "$tmp/b.onnx" --registry "$REG" --name y --version 1.x >/dev/null 2>"$tmp/err"; rc=$?
check "add refuses a version that is not semantic" test "$rc" -eq 2 -a -n "$(grep 'not a semantic version' "$tmp/err")"
"$FD" registry add "$tmp/b.onnx" --registry "$URL" --name y --version 1 >/dev/null 2>"$tmp/err"; rc=$?
check "add to a URL is refused" test "$rc" -eq 2
out=$("$FD" registry list --registry "$REG"); rc=$?
check "list (directory): 1.1.0 is the latest, not the pre-release" \
	bash -c '[ "$2" -eq 0 ] && printf "%s\n" "$1" | grep -q "^yolov8n  *1\.1\.0 \*" && printf "%s\n" "$1" | grep -q "^yolov8n  *2\.0\.0-rc\.1 "' _ "$out" "$rc"
check "list orders versions semantically" test \
	"$("$FD" registry list --registry "$REG" --json | json 'print(" ".join(v["version"] for v in d["models"][0]["versions"]))')" = "v1.0.0 1.1.0 2.0.0-rc.1"
out=$("$FD" registry compare yolov8n 1.0.0 v1.1.0 --registry "$REG" --json)
check "compare (directory)" test "$(printf '%s' "$out" | json 'm=d["metrics"]; print(m["mAP"]["delta"], m["mAP"]["delta_pct"], m["latency_ms"]["delta"], m["model_size_mb"]["delta"], m["model_size_mb"]["delta_pct"])')" \
	= "0.8 2.14 0.7 -0.18 -60.0"
out=$("$FD" registry verify --registry "$REG"); rc=$?
check "verify (directory) finds every file good" test "$rc" -eq 0 -a -n "$(printf '%s' "$out" | grep -x '3 ok, 0 failed')"

# ---- the directory served by any HTTP server ----
HTTP=127.86.255.2:18686
"$PY" -m http.server 18686 --bind 127.86.255.2 --directory "$REG" >"$tmp/http.log" 2>&1 &
pids+=($!)
if poll 100 curl -sf -o /dev/null --max-time 2 "http://$HTTP/models/index.json"; then
	out=$("$FD" registry list --registry "http://$HTTP/" --json); rc=$?
	check "list through python3 -m http.server" test "$rc" -eq 0 -a \
		"$(printf '%s' "$out" | json 'print(d["models"][0]["latest"], len(d["models"][0]["versions"]))')" = "1.1.0 3"
	out=$("$FD" registry verify yolov8n --registry "http://$HTTP"); rc=$?
	check "verify downloads through python3 -m http.server" test "$rc" -eq 0 -a -n "$(printf '%s' "$out" | grep -x '3 ok, 0 failed')"
else
	bad "python3 -m http.server answers"
fi

# ---- verify finds corruption ----
printf 'X' | dd of="$REG/models/yolov8n-v1.1.0-int8.onnx" bs=1 seek=1000 conv=notrunc status=none
out=$("$FD" registry verify --registry "$REG"); rc=$?
check "verify finds a corrupted file (exit 1, MISMATCH)" test "$rc" -eq 1 -a \
	-n "$(printf '%s' "$out" | grep '^MISMATCH  yolov8n:1.1.0 ')" -a -n "$(printf '%s' "$out" | grep -x '2 ok, 1 failed')"
out=$("$FD" registry verify --registry "http://$HTTP" --json); rc=$?
check "verify over HTTP finds it too" test "$rc" -eq 1 -a \
	"$(printf '%s' "$out" | json 'print([(r["key"], r["status"]) for r in d["results"] if r["status"] != "ok"], d["failed"])')" = "[('yolov8n:1.1.0', 'mismatch')] 1"
out=$("$FD" registry verify yolov8n:v1.0.0 --registry "$REG"); rc=$?
check "verify NAME:VERSION checks that one only" test "$rc" -eq 0 -a -n "$(printf '%s' "$out" | grep -x '1 ok, 0 failed')"
mv "$REG/models/yolov8n-v2.0.0-rc.1-fp16.onnx" "$tmp/rc.moved"
out=$("$FD" registry verify --registry "$REG" --json); rc=$?
check "verify finds a missing file (exit 1, missing)" test "$rc" -eq 1 -a \
	"$(printf '%s' "$out" | json 'print(sorted((r["key"], r["status"]) for r in d["results"]))')" \
	= "[('yolov8n:1.1.0', 'mismatch'), ('yolov8n:2.0.0-rc.1', 'missing'), ('yolov8n:v1.0.0', 'ok')]"
out=$("$FD" registry verify yolov8n:2.0.0-rc.1 --registry "http://$HTTP"); rc=$?
check "verify over HTTP: a 404 is missing" test "$rc" -eq 1 -a -n "$(printf '%s' "$out" | grep '^MISSING .*HTTP 404')"
mv "$tmp/rc.moved" "$REG/models/yolov8n-v2.0.0-rc.1-fp16.onnx"

# ---- broken indexes: file:line, and nothing rewritten ----
cp "$REG/models/index.json" "$tmp/index.good"
# a syntax error on line 5
"$PY" - "$REG/models/index.json" <<'EOF'
import sys
p=sys.argv[1]; lines=open(p).read().split("\n")
lines[4] = lines[4].rstrip(",") + ",,"
open(p,"w").write("\n".join(lines))
EOF
cp "$REG/models/index.json" "$tmp/index.broken"
"$FD" registry list --registry "$REG" >/dev/null 2>"$tmp/err"; rc=$?
check "a syntax error: exit 2, INDEX:5: what" test "$rc" -eq 2 -a -n "$(grep -F "$REG/models/index.json:5: " "$tmp/err")"
"$FD" registry add "$tmp/a.onnx" --registry "$REG" --name other --version 1 >/dev/null 2>"$tmp/err"; rc=$?
check "add onto a broken index is refused and rewrites nothing" test "$rc" -eq 2 -a ! -e "$REG/models/other-v1-int8.onnx" -a \
	-n "$(grep -F "index.json:5: " "$tmp/err")"
check "... the broken index is kept as it was" cmp -s "$tmp/index.broken" "$REG/models/index.json"
# a wrong type: the line of the field
"$PY" - "$tmp/index.good" "$REG/models/index.json" <<'EOF'
import json,sys
d=json.load(open(sys.argv[1]))
d["yolov8n:1.1.0"]["mAP"]="high"
text=json.dumps(d, indent=2, sort_keys=True)
open(sys.argv[2],"w").write(text)
line=[i+1 for i,l in enumerate(text.split("\n")) if '"high"' in l][0]
open(sys.argv[2]+".line","w").write(str(line))
EOF
line=$(cat "$REG/models/index.json.line"); rm "$REG/models/index.json.line"
"$FD" registry verify --registry "$REG" >/dev/null 2>"$tmp/err"; rc=$?
check "a wrong type: exit 2, INDEX:LINE of the field" test "$rc" -eq 2 -a \
	-n "$(grep -F "index.json:$line: yolov8n:1.1.0: mAP: expected a number" "$tmp/err")"
cp "$tmp/index.good" "$REG/models/index.json"
# control characters in the index never reach the terminal
EVIL=$tmp/evil
mkdir -p "$EVIL/models"
"$PY" - "$EVIL/models/index.json" <<'EOF'
import json,sys
e={"name": "m", "version": "1.0", "checksum": "0"*64, "description": "\u001b]0;owned\u0007\u001b[2J\u009b31m",
   "tags": ["\u001b[31mred"], "architecture": "\r\n"}
json.dump({"m:1.0": e}, open(sys.argv[1], "w"))
EOF
{ "$FD" registry show m --registry "$EVIL"; "$FD" registry list --registry "$EVIL"; } >"$tmp/evil.out" 2>&1
no_controls() { [ -s "$1" ] && ! tr -d '\n' <"$1" | LC_ALL=C grep -q '[[:cntrl:]]' && ! LC_ALL=C grep -qP '\xc2[\x80-\x9f]' "$1"; }
check "show and list print no control characters from the index" no_controls "$tmp/evil.out"
check "... and show the rest of the text" grep -q 'description *?]0;owned??\[2J??31m' "$tmp/evil.out"
"$PY" -c 'import sys; open(sys.argv[1],"w").write("{\"m\\u001b[2J:1\": {\"name\": \"m\\u001b[2J\"}}")' "$EVIL/models/index.json"
"$FD" registry list --registry "$EVIL" >/dev/null 2>"$tmp/evil.err"
check "errors about the index print no control characters" no_controls "$tmp/evil.err"

# ---- the settings file's registry: (relative to the file) ----
mkdir -p "$XDG_CONFIG_HOME/fleetdeck"
ln -s "$REG" "$XDG_CONFIG_HOME/fleetdeck/models-reg"
printf 'registry: models-reg\n' >"$XDG_CONFIG_HOME/fleetdeck/config.yaml"
out=$("$FD" registry show yolov8n --json 2>&1); rc=$?
check "registry: in the settings file, relative to it" test "$rc" -eq 0 -a "$(printf '%s' "$out" | json 'print(d["key"])')" = "yolov8n:1.1.0"
out=$("$FD" registry list -i "$tmp/fleet.ini" --json 2>&1); rc=$?
check "the inventory's model_registry comes before the settings file" test "$rc" -eq 0 -a \
	"$(printf '%s' "$out" | json 'print(d["registry"])')" = "$URL"
out=$("$FD" registry list --registry "$URL" --json 2>&1)
check "--registry comes before both" test "$(printf '%s' "$out" | json 'print(d["registry"])')" = "$URL"
rm "$XDG_CONFIG_HOME/fleetdeck/config.yaml"

# ---- an index over the size cap (16 MiB) ----
BIG=$tmp/big
mkdir -p "$BIG/models"
"$PY" -c 'import sys; open(sys.argv[1],"w").write("{\"pad\": \"" + "x"*(17<<20) + "\"}")' "$BIG/models/index.json"
"$FD" registry list --registry "$BIG" >/dev/null 2>"$tmp/err"; rc=$?
check "an index over 16 MiB is refused (directory)" test "$rc" -eq 2 -a -n "$(grep 'larger than' "$tmp/err")"
"$PY" -m http.server 18687 --bind 127.86.255.3 --directory "$BIG" >"$tmp/http2.log" 2>&1 &
pids+=($!)
if poll 100 curl -sf -o /dev/null --max-time 2 -r 0-0 "http://127.86.255.3:18687/models/index.json"; then
	"$FD" registry list --registry http://127.86.255.3:18687 >/dev/null 2>"$tmp/err"; rc=$?
	check "an index over 16 MiB is refused (HTTP)" test "$rc" -eq 2 -a -n "$(grep 'larger than' "$tmp/err")"
else
	bad "second http.server answers"
fi

finish
