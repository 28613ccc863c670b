#!/usr/bin/env bash
# drift: live drift in the real console (tmux, read back with capture-pane) against fleetsim and
# its registry: the devices table's DRIFT column coloured by severity, the factories pane's drift
# mark, the drift view (d and :drift: factories x features, the drifting devices), the help
# listing both, and a drift alert resolving once the device's inputs come back.
# Every wait is a bounded poll of the screen. Addresses 127.85.3.x and a private tmux socket.
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
BUILD=${FLEETDECK_BUILD:?set FLEETDECK_BUILD}
SIM=$BUILD/fleetsim
command -v tmux >/dev/null || { echo "FAIL tmux is not installed"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d)
sock=fddrift$$
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

REG=127.85.3.250:5000 CTL=127.85.3.250:5001
"$SIM" --devices 10 --factories 2 --seed 5 --clock manual --base 127.85.3.1 --registry $REG --control $CTL \
	--write-inventory "$tmp/inv" --ready-file "$tmp/ready" >"$tmp/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -s "$tmp/ready" ] && break; sleep 0.05; done
[ -s "$tmp/ready" ] || { bad "fleetsim did not start"; cat "$tmp/sim.log"; echo "$passed passed, $failed failed"; exit 1; }
INV=$tmp/inv/fleet.ini
curl -sf -XPOST "http://$CTL/devices/edge-ams-01/set" -d '{"drift": 1.5}' >/dev/null || bad "control: set drift"
export XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config
mkdir -p "$XDG_CONFIG_HOME/fleetdeck"
printf 'poll:\n  slow_every: 1\n' >"$XDG_CONFIG_HOME/fleetdeck/config.yaml" # /drift every cycle
unset NO_COLOR

tm() { tmux -L "$sock" "$@"; }
screen() { tm capture-pane -p -t "$1"; }
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
# a device's row with its colours (SGR sequences), from the alert mark on
row_sgr() { tm capture-pane -e -p -t "$1" | grep -a -- "$2 " | head -1; }

start main 150 40 TERM=xterm-256color LANG=C.UTF-8 -- -i "$INV" --interval 1 --refresh 0.1 --timeout 1
expect "first frame" main 'Devices \(10 of 10\)'
expect "the drifted device's DRIFT cell shows its KS, with a critical alert mark" main '!edge-ams-01 .* 0\.[3-9][0-9]{2} +[0-9]+s'
expect "an undrifted device's DRIFT cell shows a small KS" main ' edge-ams-03 .* 0\.0[0-9]{2} +[0-9]+s'
# the critical slot is colour 1 (red) in the default theme; no drift stays uncoloured. The
# selection (the first row) is moved off the drifted device first.
keys main j
red=$'\e\\[[0-9;]*31m[^\e]*0\\.[3-9][0-9]{2}'
for _ in $(seq 200); do row_sgr main 'edge-ams-01' | grep -Eq "$red" && break; sleep 0.05; done
r=$(row_sgr main 'edge-ams-01')
if printf '%s' "$r" | grep -Eq "$red"; then ok "the drifted device's KS is red (critical)"; else
	bad "the drifted device's KS is red"; printf '%s\n' "$r" | cat -v | sed 's/^/    | /'; fi
r=$(row_sgr main 'edge-ams-03')
if printf '%s' "$r" | grep -Eq $'\e\\[[0-9;]*3[13]m[^\e]*0\\.0[0-9]{2}'; then bad "an undrifted KS is not coloured"; printf '%s\n' "$r" | cat -v; else
	ok "an undrifted KS is not coloured"; fi
if screen main | grep -Eq '^ factory_amsterdam .*~'; then ok "the factories pane marks the drifting factory"; else
	bad "the factories pane marks the drifting factory"; screen main | head -8; fi
if screen main | grep -Eq '^ factory_berlin .*~'; then bad "the quiet factory has no drift mark"; else ok "the quiet factory has no drift mark"; fi

keys main : 'host edge-ams-01' Enter
expect "the detail view has the device's drift comparison" main "Drift against defect-detection:3\.1's baseline \(500 samples"
expect "... per feature, KS, p-value, Wasserstein, threshold, severity" main 'brightness +0\.[3-9][0-9]{2} +[0-9.e+-]+ +[0-9.e+-]+ +0\.100 +critical'
expect "... and a drift sparkline from the history" main 'drift \(KS\) +.*(▁|▂|▃|▄|▅|▆|▇|█)'
keys main Escape
expect "back from the detail" main 'Devices \(10 of 10\)'
keys main d
expect "d opens the drift view" main 'Drift: KS of each factory'
expect "the view's columns are the features" main 'FACTORY +MODEL +DEV +brightness +contrast +mean_intensity +std_intensity +MAX'
expect "a row per factory and model version, with pooled KS" main 'factory_amsterdam +defect-detection:3\.1 +5 +0\.[0-9]{3} +0\.[0-9]{3}'
expect "the quiet factory's row" main 'factory_berlin +defect-detection:3\.1 +5 +0\.0[0-9]{2}'
r=$(tm capture-pane -e -p -t main | grep -a 'factory_amsterdam' | grep -a 'defect-detection' | head -1)
if printf '%s' "$r" | grep -Eq $'\e\\[[0-9;]*3[13]m *0\\.1[0-9]{2}'; then ok "the drifting factory's heat cells are coloured by severity"; else
	bad "the drifting factory's heat cells are coloured"; printf '%s\n' "$r" | cat -v | sed 's/^/    | /'; fi
r=$(tm capture-pane -e -p -t main | grep -a 'factory_berlin' | grep -a 'defect-detection' | head -1)
if [ -z "$r" ] || printf '%s' "$r" | grep -Eq $'\e\\[[0-9;]*3[13]m *0\\.[0-9]{3}'; then bad "the quiet factory's cells are plain"; printf '%s\n' "$r" | cat -v; else
	ok "the quiet factory's cells are plain"; fi
expect "the drifting devices under it" main 'Drifting devices \(1\)'
expect "... with severity and the drifted features" main 'edge-ams-01 +critical +KS 0\.[3-9][0-9]{2} +vs defect-detection:3\.1 +brightness'
keys main Escape
expect "Esc goes back" main 'Devices \(10 of 10\)'
keys main : drift Enter
expect ":drift opens the drift view" main 'Drift: KS of each factory'
keys main Escape
expect "back again" main 'Devices \(10 of 10\)'
keys main '?'
expect "help lists the d key" main 'd +drift: factories x features'
keys main G
expect "help lists :drift" main ':drift +the drift view'
keys main Escape
expect "help closes" main 'Devices \(10 of 10\)'

# the device's inputs come back: the alert resolves within a few cycles
curl -sf -XPOST "http://$CTL/devices/edge-ams-01/set" -d '{"drift": 0}' >/dev/null || bad "control: clear drift"
expect "the alert mark goes when the drift does" main ' edge-ams-01 .* 0\.0[0-9]{2} +[0-9]+s'
expect "the events say the drift alert resolved" main 'edge-ams-01 +resolved drift'
keys main d
expect "no drifting devices in the view any more" main 'Drifting devices \(0\)'
keys main Escape q
for _ in $(seq 100); do [ -s "$tmp/main.rc" ] && break; sleep 0.05; done
if [ "$(cat "$tmp/main.rc" 2>/dev/null)" = 0 ]; then ok "q quits with status 0"; else bad "q quits with status 0"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
