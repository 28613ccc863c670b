#!/usr/bin/env bash
# console: the real fleetdeck console in a real terminal (tmux), driven by keys and read back with
# capture-pane, against fleetsim: first frame, navigation, detail, filter (text and Ansible
# patterns), sort, commands, themes, resize down to tiny sizes, ASCII and no-colour terminals, a
# device going unreachable within a cycle, quitting cleanly, and --demo.
# Every wait is a bounded poll of the screen for what must appear; nothing sleeps a guessed time.
# Addresses 127.94.x.x and a private tmux socket keep clear of other tests.
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
BUILD=${FLEETDECK_BUILD:?set FLEETDECK_BUILD}
SIM=$BUILD/fleetsim
command -v tmux >/dev/null || { echo "FAIL tmux is not installed"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d)
sock=fdtui$$
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

CTL=127.94.255.1:7999
"$SIM" --devices 30 --factories 3 --seed 3 --base 127.94.0.1 --control $CTL \
	--write-inventory "$tmp/inv" --ready-file "$tmp/ready" >"$tmp/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -s "$tmp/ready" ] && break; sleep 0.05; done
[ -s "$tmp/ready" ] || { bad "fleetsim did not start"; cat "$tmp/sim.log"; echo "$passed passed, $failed failed"; exit 1; }
INV=$tmp/inv/fleet.ini
export XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config
unset NO_COLOR

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
# expect NAME SESSION REGEX: waits for REGEX on the screen
expect() {
	if wait_for "$2" "$3"; then ok "$1"; else bad "$1: screen lacks /$3/"; screen "$2" | head -50 | sed 's/^/    | /'; fi
}
expect_not() {
	if screen "$2" | grep -Eq -- "$3"; then bad "$1: screen shows /$3/"; screen "$2" | head -30 | sed 's/^/    | /'; else ok "$1"; fi
}
keys() { tm send-keys -t "$1" "${@:2}"; }
# start SESSION COLS ROWS ENV... -- ARGS...: runs fleetdeck in a new tmux session; its exit status
# goes to $tmp/SESSION.rc
start() {
	local s=$1 cols=$2 rows=$3; shift 3
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	local cmd
	cmd=$(printf '%q ' env "${envs[@]}" "$FD" "$@")
	tm new-session -d -s "$s" -x "$cols" -y "$rows" "$cmd; echo \$? >$tmp/$s.rc; sleep 60"
}
# the devices table's rows: what follows the pane separator, from the alert mark on
devrows() { screen "$1" | sed -n -E 's/^(.*│)?([ *!]edge-)/\2/p'; }

# ---- the main session: 120x40, 256 colours ----
start main 120 40 TERM=xterm-256color LANG=C.UTF-8 -- -i "$INV" --interval 1 --refresh 0.1 --timeout 1
expect "first frame shows the inventory" main 'Devices \(30 of 30\)'
expect "the devices answer" main 'healthy'
expect "header totals by state" main '● 30 healthy|30 healthy'
expect "factories pane lists the factories" main 'factory_amsterdam'
expect "UTF-8 box characters" main '│'

# navigation and detail: the third row in host order
third=$(devrows main | grep -oE 'edge-[a-z]+-[0-9]+' | sed -n 3p)
keys main j j Enter
expect "Enter opens the selected device ($third)" main "Device $third"
expect "detail shows the last answers" main '/status +200'
expect "detail shows a GPU temperature sparkline from the history" main 'GPU temperature +.*(▁|▂|▃|▄|▅|▆|▇|█)'

keys main G
expect "detail scrolls to its inventory variables" main 'ansible_host +127\.94\.'
keys main Escape
expect "Esc goes back" main 'Devices \(30 of 30\)'

# filter: a text, then an Ansible pattern
keys main / a m s
expect "a text filter narrows as it is typed" main 'Devices \([0-9]+ of 30\) +filter ams'
keys main Enter
if devrows main | grep -q 'edge-ber-'; then bad "the text filter hides other factories"; else ok "the text filter hides other factories"; fi
keys main Escape
expect "Esc clears the filter" main 'Devices \(30 of 30\)'
keys main / 'factory_*:!factory_amsterdam' Enter
expect "an Ansible pattern filters" main 'Devices \(20 of 30\)'
if devrows main | grep -q 'edge-ams-'; then bad "the pattern excludes amsterdam"; else ok "the pattern excludes amsterdam"; fi
keys main / C-u '~edge-(' Enter
expect "an invalid pattern is an error, said" main 'Invalid host list pattern'
expect "and the previous filter stays" main 'Devices \(20 of 30\)'
keys main Escape
expect "filter cleared again" main 'Devices \(30 of 30\)'

# factories pane: Tab to it, pick the second factory, Enter shows its devices
keys main BTab Home j Enter
expect "Enter on a factory shows its devices" main 'Devices \(10 of 30\) +factory '
keys main Escape
expect "Esc shows every factory again" main 'Devices \(30 of 30\)'

# sort: :sort temp puts the hottest first
keys main : 'sort temp' Enter
expect "sorted by temperature, descending" main 'sort GPU°C▼'
temps=$(devrows main | awk '{print $5}' | grep -E '^[0-9]+\.[0-9]$' | head -20)
if [ -n "$temps" ] && [ "$temps" = "$(printf '%s\n' "$temps" | sort -rn)" ]; then ok "rows are in descending temperature"; else
	bad "rows are not in descending temperature"; printf '%s\n' "$temps" | head -5; fi
keys main s
expect "s moves the sort to the next column" main 'sort GPU%▼'
keys main : 'sort host' Enter

# commands and themes
keys main : 'theme light' Enter
expect ":theme light" main 'theme light'
keys main : 'theme nosuch' Enter
expect ":theme with a missing theme is an error" main "no theme 'nosuch'"
keys main : 'columns -factory' Enter
expect ":columns -factory hides a column" main 'STATE +VERSION'
keys main : 'frobnicate' Enter
expect "an unknown command says so" main "no command ':frobnicate'"
keys main '?'
expect "? shows the help with every key" main 'poll every device now'
keys main Escape
keys main @
expect "@ shows the command log" main 'GET http://127\.94\.0\.[0-9]+:8080/status 200'
keys main Escape

# a device going unreachable shows within one cycle
victim=edge-ams-02
keys main g
curl -s -o /dev/null -X POST "http://$CTL/devices/$victim/set" -d '{"reachable": false}'
expect "an unreachable device shows within a cycle" main "$victim +unreach"
expect "and the event is logged" main "$victim +healthy -> unreachable"
curl -s -o /dev/null -X POST "http://$CTL/devices/$victim/set" -d '{"reachable": true}'
keys main r
expect "r polls at once; the device is back" main "$victim +healthy"

# resize at any moment: below 80x24 the devices list alone, and it says so
tm resize-window -t main -x 70 -y 20
expect "below 80x24: devices only, and it says so" main 'small terminal: devices only'
expect_not "no factories pane when small" main 'Factories \('
tm resize-window -t main -x 30 -y 8
expect "30x8 still shows devices" main 'edge-'
tm resize-window -t main -x 15 -y 3
expect "15x3: too small, said" main 'too small'
tm resize-window -t main -x 120 -y 40
expect "back to 120x40: all panes" main 'Factories \(3\)'

keys main q
for _ in $(seq 100); do [ -s "$tmp/main.rc" ] && break; sleep 0.05; done
[ "$(cat "$tmp/main.rc" 2>/dev/null)" = 0 ] && ok "q quits with status 0" || bad "q: exit status '$(cat "$tmp/main.rc" 2>/dev/null)'"
expect_not "the terminal is restored (no panes left)" main 'Factories \('

# ---- LANG=C on the Linux console: ASCII only ----
start ascii 100 30 TERM=linux LANG=C LC_ALL=C -- -i "$INV" --interval 1 --refresh 0.1 --timeout 1
expect "ASCII: first frame" ascii 'Devices \(30 of 30\)  sort HOST\^'
expect "ASCII: separator is |" ascii '\| HOST'
if screen ascii | LC_ALL=C grep -q '[^ -~]'; then bad "ASCII: non-ASCII bytes on screen"; screen ascii | LC_ALL=C grep -n '[^ -~]' | head -3; else ok "ASCII: nothing but ASCII on screen"; fi
keys ascii q

# ---- no colour: NO_COLOR, 8-colour terminal ----
start nocolor 100 30 TERM=xterm NO_COLOR=1 -- -i "$INV" --interval 1 --refresh 0.1 --timeout 1
expect "NO_COLOR: the console runs" nocolor 'healthy'
keys nocolor q

# ---- a broken user theme: file:line, and the default theme ----
mkdir -p "$XDG_CONFIG_HOME/fleetdeck/themes"
printf 'header = red\nstate_healthy = greeen\n' >"$XDG_CONFIG_HOME/fleetdeck/themes/mine.theme"
start theme 120 30 TERM=xterm-256color -- -i "$INV" --theme mine --interval 1 --timeout 1
expect "a broken theme: file:line and the fallback" theme "mine.theme:2: 'greeen' is not a colour"
expect "and the console runs on" theme 'Devices \(30 of 30\)'
keys theme q

# ---- --read-only is shown ----
start ro 120 30 TERM=xterm-256color -- -i "$INV" --read-only --interval 1 --timeout 1
expect "--read-only is shown in the header" ro '\[read-only\]'
keys ro q

# ---- not a terminal: refused with a pointer to --report ----
out=$("$FD" console -i "$INV" </dev/null 2>&1); rc=$?
[ "$rc" = 2 ] && printf '%s' "$out" | grep -q -- '--report' && ok "no terminal: exit 2 and a pointer to --report" || bad "no terminal: exit $rc: $out"

# ---- --demo: the simulator's demo fleet ----
start demo 140 45 TERM=xterm-256color -- --demo --interval 1 --timeout 1
expect "--demo opens the demo fleet (200 devices)" demo 'Devices \(200 of 200\)'
expect "--demo: the devices answer" demo '[0-9]+ healthy'
keys demo q
for _ in $(seq 200); do [ -s "$tmp/demo.rc" ] && break; sleep 0.05; done
[ "$(cat "$tmp/demo.rc" 2>/dev/null)" = 0 ] && ok "--demo quits with status 0" || bad "--demo: exit status '$(cat "$tmp/demo.rc" 2>/dev/null)'"
if pgrep -f 'fleetsim --demo --write-inventory /tmp/fleetdeck-demo' >/dev/null; then bad "--demo left its simulator running"; else ok "--demo stops its simulator"; fi

# the console killed outright: its demo simulator goes too
start demo2 120 40 TERM=xterm-256color -- --demo --interval 1 --timeout 1
expect "--demo again" demo2 'Devices \(200 of 200\)'
fdpid=$(pgrep -f -- "$FD --demo --interval 1" | head -1)
if [ -n "$fdpid" ]; then
	kill -9 "$fdpid"
	gone=0
	for _ in $(seq 200); do pgrep -f 'fleetsim --demo --write-inventory /tmp/fleetdeck-demo' >/dev/null || { gone=1; break; }; sleep 0.05; done
	[ $gone = 1 ] && ok "kill -9 of the console takes its demo simulator with it" || bad "the demo simulator outlived a killed console"
else
	bad "no console process to kill"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
