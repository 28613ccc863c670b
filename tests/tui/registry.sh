#!/usr/bin/env bash
# registry: the console's model registry view in a real terminal (tmux) against fleetsim's
# registry: m and :registry open it, every version with its metadata and the number of devices
# on it (following the devices as they change version, and a version the registry lacks), the
# help lists it, Esc goes back; a registry from the settings file, a broken index shown with its
# line, and R reading it again once fixed.
# Every wait is a bounded poll of the screen for what must appear; nothing sleeps a guessed time.
# Addresses 127.86.2xx.x and a private tmux socket keep clear of other tests.
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
BUILD=${FLEETDECK_BUILD:?set FLEETDECK_BUILD}
SIM=$BUILD/fleetsim
command -v tmux >/dev/null || { echo "FAIL tmux is not installed"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d)
sock=fdreg$$
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

CTL=127.86.254.1:7999
REG=127.86.254.1:5000
"$SIM" --devices 12 --factories 2 --seed 4 --base 127.86.200.1 --control $CTL --registry $REG --model-kib 16 \
	--write-inventory "$tmp/inv" --ready-file "$tmp/ready" >"$tmp/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -s "$tmp/ready" ] && break; sleep 0.05; done
[ -s "$tmp/ready" ] || { bad "fleetsim did not start"; cat "$tmp/sim.log"; echo "$passed passed, $failed failed"; exit 1; }
INV=$tmp/inv/fleet.ini
export XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config
unset NO_COLOR
ctl() { curl -s --max-time 10 "http://$CTL$1" "${@:2}"; }
set_version() { ctl "/devices/$1/set" -X POST -d "{\"model_version\": \"$2\"}" >/dev/null; }
HOSTS=$(awk '/^edge-/ {print $1}' "$INV")
H1=$(echo "$HOSTS" | sed -n 1p)
H2=$(echo "$HOSTS" | sed -n 2p)
H3=$(echo "$HOSTS" | sed -n 3p)
set_version all 3.1
set_version "$H1" 3.2
set_version "$H2" 3.9

tm() { tmux -L "$sock" "$@"; }
screen() { tm capture-pane -p -t "$1"; }
# wait_for SESSION REGEX [TRIES]: polls the screen (every 0.05 s, 10 s by default)
wait_for() {
	local s=$1 re=$2 n=${3:-200} i
	for i in $(seq "$n"); do
		screen "$s" 2>/dev/null | grep -Eq -- "$re" && return 0
		sleep 0.05
	done
	return 1
}
expect() {
	if wait_for "$2" "$3"; then ok "$1"; else bad "$1: screen lacks /$3/"; screen "$2" | head -50 | sed 's/^/    | /'; fi
}
keys() { tm send-keys -t "$1" "${@:2}"; }
start() {
	local s=$1 cols=$2 rows=$3; shift 3
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	local cmd
	cmd=$(printf '%q ' env "${envs[@]}" "$FD" "$@")
	tm new-session -d -s "$s" -x "$cols" -y "$rows" "$cmd; echo \$? >$tmp/$s.rc; sleep 60"
}

# ---- the inventory's model_registry (fleetsim's) ----
start main 120 40 TERM=xterm-256color LANG=C.UTF-8 -- -i "$INV" --interval 1 --refresh 0.1 --timeout 1
expect "the console starts and the devices answer" main 'healthy'
expect "the key bar offers the registry on F9" main '9Models'
keys main m
expect "m opens the registry view with its location" main "Model registry http://$REG"
expect "the model, its latest version and its device count" main 'defect-detection +latest 3\.2, 3 versions, 11 devices'
expect "each version: devices, mAP, latency, size, date, tags" main '^  3\.1 +10 +38\.1 +19\.2 ms +0\.01 +2025-02-14 +production,jetson-orin,improved-accuracy'
expect "the latest is marked" main '^  3\.2 \* +1 +39\.4'
expect "an unused version shows 0 devices" main '^  3\.0 +0 +37\.3'
expect "each version's metadata line" main 'YOLOv8 TensorRT INT8 input 1x3x640x640  sha256 [0-9a-f]{12}  New augmentation pipeline'
expect "a version the registry lacks is shown with its devices" main '^  3\.9 +1  not in the registry'
set_version "$H3" 3.2
expect "the counts follow the devices" main '^  3\.2 \* +2 +39\.4'
keys main Escape
expect "Esc goes back to the fleet" main 'Devices \(12 of 12\)'
keys main : registry Enter
expect ":registry opens it too" main "Model registry http://$REG"
keys main m
expect "m again goes back" main 'Devices \(12 of 12\)'
keys main '?'
expect "the help lists the key" main 'm F9 +the model registry'
keys main q q
for _ in $(seq 100); do [ -s "$tmp/main.rc" ] && break; sleep 0.05; done
if [ "$(cat "$tmp/main.rc" 2>/dev/null)" = 0 ]; then ok "quits with status 0"; else bad "quit status: $(cat "$tmp/main.rc" 2>/dev/null)"; fi

# ---- the settings file's registry: a broken index, then R once it is fixed ----
DIR=$tmp/models-repo
mkdir -p "$DIR/models" "$XDG_CONFIG_HOME/fleetdeck"
printf '{\n  "tiny:1.0": {"name": "tiny", "version": "1.0",\n    "checksum": "abc"}\n}\n' >"$DIR/models/index.json"
printf 'registry: %s\n' "$DIR" >"$XDG_CONFIG_HOME/fleetdeck/config.yaml"
grep -v model_registry "$INV" >"$tmp/noreg.ini"
start cfg 120 40 TERM=xterm-256color LANG=C.UTF-8 -- -i "$tmp/noreg.ini" --interval 1 --refresh 0.1 --timeout 1
expect "second console starts" cfg 'Devices \(12 of 12\)'
keys cfg m
expect "the settings file's registry" cfg "Model registry $DIR"
expect "a broken index is shown with its line" cfg "index\.json:3: tiny:1\.0: checksum: expected a SHA-256"
printf '{\n  "tiny:1.0": {"name": "tiny", "version": "1.0",\n    "checksum": "%s", "tags": ["edge"]}\n}\n' \
	"$(printf '%064d' 0)" >"$DIR/models/index.json"
keys cfg R
expect "R reads it again" cfg 'tiny +latest 1\.0, 1 version, 0 devices'
expect "devices on a model the registry lacks are listed" cfg 'defect-detection 3\.1: [0-9]+ devices, not in the registry'
keys cfg q q
for _ in $(seq 100); do [ -s "$tmp/cfg.rc" ] && break; sleep 0.05; done
if [ "$(cat "$tmp/cfg.rc" 2>/dev/null)" = 0 ]; then ok "the second quits with status 0"; else bad "quit status: $(cat "$tmp/cfg.rc" 2>/dev/null)"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
