#!/usr/bin/env bash
# rollout_ssh: staged rollouts to agentless devices (fleetdeck_transport=ssh) end to end, over a
# real OpenSSH sshd on loopback. Each device is a fleetsim device (its agent's /health and
# /validate, reached by curl run ON the device) plus a model directory of its own and a
# service-control script of the test's (fleetdeck_service_ctl): `stop` makes the device's agent
# refuse connections (the service is down), `start`/`restart` tell fleetsim's control API to load
# the version the active_model.onnx link points at. The registry is a small HTTP server that
# logs every download. Checked device by device: a good version completes (file with the right
# SHA-256, link, current_version, running version); a version that fails validation is rolled
# back (link and current_version back); a file whose SHA-256 is not the registry's leaves the
# device untouched; the runner killed with -9 after each kind of step, and in the middle of a
# switch, then resumed: every device ends updated, none downloaded or stopped twice; abort
# mid-switch; the rollback verb; a jump host; SSH and HTTP devices in one rollout; values that
# would inject into a shell are refused before any SSH login.
# Addresses 127.82.x.y keep clear of the other tests.
set -u
BUILD=${FLEETDECK_BUILD:?set FLEETDECK_BUILD to the build directory}
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
SRC=${FLEETDECK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SIM=$BUILD/fleetsim
. "$SRC/tests/integration/lib/sshd.sh"
tmp=$(mktemp -d)
S=$(( $$ % 200 + 20 ))
NET=127.82.$S
N=4
pids=()
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }
cleanup() {
	for db in "$tmp"/*.db; do
		[ -f "$db" ] || continue
		for p in $(sql "$db" 'SELECT lease_owner FROM rollouts WHERE lease_owner IS NOT NULL' 2>/dev/null | cut -d: -f2); do
			kill "$p" 2>/dev/null
		done
	done
	sshd_cleanup
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/home/.ssh" "$tmp/reg/models"
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data
unset SSH_AUTH_SOCK

# sqlite3 with a busy timeout: the runner writes while the test reads
sql() { sqlite3 -cmd '.timeout 5000' "$@"; }
wait_ready() {
	local i
	for i in $(seq 600); do
		[ -s "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# poll TRIES CMD...: CMD every 0.05 s, at most TRIES times
poll() {
	local n=$1 i; shift
	for i in $(seq "$n"); do "$@" && return 0; sleep 0.05; done
	return 1
}

# ---- the parts: fleetsim (agents + control API), the registry, sshd ----
CTL=$NET.250:7999
"$SIM" --devices $N --factories 1 --seed 5 --base "$NET.1" --control "$CTL" --load-delay-ms 100 \
	--write-inventory "$tmp/sim" --ready-file "$tmp/sim.ready" >"$tmp/sim.out" 2>"$tmp/sim.err" &
pids+=($!)
wait_ready "$tmp/sim.ready" "${pids[0]}" || { bad "fleetsim starts"; cat "$tmp/sim.err"; finish; }
HOSTS=$(awk '/^edge-/ {print $1}' "$tmp/sim/fleet.ini")
[ "$(echo "$HOSTS" | wc -l)" = $N ] || { bad "fleetsim wrote $N devices"; finish; }

for v in 3.1 3.2 3.3; do head -c 20000 /dev/urandom >"$tmp/reg/models/defect-detection-v$v-int8.onnx"; done
python3 - "$tmp/reg/models" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
idx = {}
for v in ("3.1", "3.2", "3.3"):
    data = open(os.path.join(d, "defect-detection-v%s-int8.onnx" % v), "rb").read()
    idx["defect-detection:" + v] = {"name": "defect-detection", "version": v, "precision": "int8",
                                    "checksum": hashlib.sha256(data).hexdigest()}
json.dump(idx, open(os.path.join(d, "index.json"), "w"))
PY
cat >"$tmp/registry.py" <<'PY'
import functools, http.server, sys
addr, port, root, log, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *a):
        with open(log, "a") as f:
            f.write("%s\n" % self.requestline)
s = http.server.ThreadingHTTPServer((addr, port), functools.partial(H, directory=root))
open(ready, "w").write("ready")
s.serve_forever()
PY
REG=$NET.250:5000
python3 "$tmp/registry.py" "$NET.250" 5000 "$tmp/reg" "$tmp/reg.log" "$tmp/reg.ready" 2>"$tmp/reg.err" &
pids+=($!)
wait_ready "$tmp/reg.ready" "${pids[-1]}" || { bad "the registry starts"; cat "$tmp/reg.err"; finish; }
sum_of() { sha256sum <"$tmp/reg/models/defect-detection-v$1-int8.onnx" | cut -c1-64; }
downloads() { grep -c "GET /models/defect-detection-v$1-int8.onnx" "$tmp/reg.log" 2>/dev/null || true; }

sshd_keys "$tmp" || { bad "ssh-keygen"; finish; }
listen=(); for i in $(seq $N); do listen+=("$NET.$i:2222"); done
sshd_start dev "$tmp" "${listen[@]}" || { bad "sshd starts"; finish; }
sshd_known_hosts "$tmp" "${listen[@]}" >"$HOME/.ssh/known_hosts"
logins() { grep -c 'Accepted publickey' "${SSHD_LOG[dev]}"; }

# the service-control script the devices run (its log: one line per call)
cat >"$tmp/ctl.sh" <<SH
#!/bin/sh
# ctl.sh HOST VERB SERVICE
host=\$1 verb=\$2
dir=$tmp/dev/\$host
echo "\$host \$verb \$3" >>$tmp/ctl.log
set_dev() { curl -fsS -m 5 -X POST -d "\$1" "http://$CTL/devices/\$host/set" >/dev/null; }
case \$verb in
stop) set_dev '{"fault": "refused"}' ;;  # the service is down: nothing answers
start|restart)
	# a test's hold: wait (bounded) while $tmp/hold.HOST exists, saying so in $tmp/held.HOST
	i=0
	while [ -e $tmp/hold.\$host ] && [ \$i -lt 600 ]; do : >$tmp/held.\$host; sleep 0.05; i=\$((i+1)); done
	link=\$(readlink "\$dir/active_model.onnx"); v=\${link##*-v}; v=\${v%-int8.onnx}
	f=\$(cat $tmp/run_fault 2>/dev/null || echo null)  # how the running service behaves (a test's choice)
	set_dev "{\"model_version\": \"\$v\", \"fault\": \$f}" ;;
*) exit 2 ;;
esac
SH
chmod 755 "$tmp/ctl.sh"

# each device's model directory, on 3.1 (its file as the registry has it)
reset_devices() {
	local h
	rm -rf "$tmp/dev"; : >"$tmp/ctl.log"; : >"$tmp/reg.log"
	for h in $HOSTS; do
		mkdir -p "$tmp/dev/$h"
		cp "$tmp/reg/models/defect-detection-v3.1-int8.onnx" "$tmp/dev/$h/"
		ln -s "$tmp/dev/$h/defect-detection-v3.1-int8.onnx" "$tmp/dev/$h/active_model.onnx"
		echo 3.1 >"$tmp/dev/$h/current_version"
	done
	curl -fsS -m 5 -X POST -d '{"model_version": "3.1", "fault": null, "bad_versions": []}' "http://$CTL/devices/all/set" >/dev/null
}
sim_version() { curl -fsS -m 5 "http://$CTL/devices/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["model_version"])'; }
# on HOST VERSION: the device's files and running version all say VERSION
on() {
	local d=$tmp/dev/$1
	[ "$(readlink "$d/active_model.onnx")" = "$d/defect-detection-v$2-int8.onnx" ] &&
		[ "$(cat "$d/current_version")" = "$2" ] &&
		[ "$(sha256sum <"$d/defect-detection-v$2-int8.onnx" | cut -c1-64)" = "$(sum_of "$2")" ] &&
		[ "$(sim_version "$1")" = "$2" ]
}
all_on() { local h; for h in $HOSTS; do on "$h" "$1" || { echo "  $h is not on $1" >&2; return 1; }; done; }
ctl_calls() { grep -c "^$1 $2 " "$tmp/ctl.log" || true; }

inventory() { # FILE [extra host vars for the first host]
	local i=0 h
	{
		echo "[factory_amsterdam]"
		for h in $HOSTS; do
			i=$((i+1))
			printf '%s ansible_host=%s fleetdeck_model_dir=%s fleetdeck_service_ctl="%s %s" fleetdeck_health_url=http://%s:8080/health fleetdeck_validate_url=http://%s:8080/validate' \
				"$h" "$NET.$i" "$tmp/dev/$h" "$tmp/ctl.sh" "$h" "$NET.$i" "$NET.$i"
			[ $i = 1 ] && [ -n "${2:-}" ] && printf ' %s' "$2"
			echo
		done
		cat <<INI
[factory_amsterdam:vars]
fleetdeck_transport=ssh
ansible_port=2222
ansible_user=root
ansible_ssh_private_key_file=$tmp/client_key
model_registry=http://$REG
INI
	} >"$1"
}
inventory "$tmp/fleet.ini"
st() { "$FD" --db "$1" rollout status "$2" --json | python3 -c "import json,sys; r=json.load(sys.stdin); print($3)"; }
state_is() { [ "$(st "$1" "$2" 'r["state"]')" = "$3" ]; }
fast=(--wait-tries 50 --wait-delay-ms 50 --connect-timeout-ms 2000 --timeout-ms 8000)

# ---- injection: refused before any command is sent ----
reset_devices
l0=$(logins)
inject() { # NAME VARS
	inventory "$tmp/evil.ini" "$2"
	"$FD" --db "$tmp/evil.db" rollout start -i "$tmp/evil.ini" --model defect-detection --version 3.2 \
		"${fast[@]}" --foreground >"$tmp/evil.out" 2>&1; rc=$?
	check "injection through $1 refused (exit 2, names the variable)" test "$rc" -eq 2 -a -n "$(grep -F "$3" "$tmp/evil.out")"
}
inject "a model dir with ;" "fleetdeck_model_dir=\"/opt/m;touch $tmp/pwned\"" fleetdeck_model_dir
inject "a model dir with \$()" "fleetdeck_model_dir='/opt/\$(touch $tmp/pwned)'" fleetdeck_model_dir
inject "a model dir with quotes" "fleetdeck_model_dir=\"/opt/m';touch $tmp/pwned;'\"" fleetdeck_model_dir
inject "a relative model dir" "fleetdeck_model_dir=models" fleetdeck_model_dir
inject "the service name" "fleetdeck_service='x;touch $tmp/pwned'" fleetdeck_service
inject "the service ctl" "fleetdeck_service_ctl='systemctl \$(touch $tmp/pwned)'" fleetdeck_service_ctl
inject "the health URL" "fleetdeck_health_url='http://x/\`touch $tmp/pwned\`'" fleetdeck_health_url
"$FD" --db "$tmp/evil.db" rollout start -i "$tmp/fleet.ini" --model defect-detection --version '3.2;touch x' \
	"${fast[@]}" --foreground >"$tmp/evil.out" 2>&1; rc=$?
check "a version with ; refused (exit 2)" test "$rc" -eq 2
"$FD" --db "$tmp/evil.db" rollout start -i "$tmp/fleet.ini" --model 'defect$(touch x)' --version 3.2 \
	"${fast[@]}" --foreground >"$tmp/evil.out" 2>&1; rc=$?
check "a model name with \$() refused (exit 2)" test "$rc" -eq 2
check "no SSH login for any refused rollout, nothing ran" test "$(logins)" = "$l0" -a ! -e "$tmp/pwned" -a ! -s "$tmp/ctl.log"
check "...and nothing was recorded" test "$(sql "$tmp/evil.db" 'SELECT count(*) FROM rollouts' 2>/dev/null || echo 0)" = 0

# a device whose current_version holds shell text: refused as an answer, nothing changed
FIRST=$(echo "$HOSTS" | head -1)
printf '3.1$(touch %s/pwned)\n' "$tmp" >"$tmp/dev/$FIRST/current_version"
"$FD" --db "$tmp/hostile.db" rollout start -i "$tmp/fleet.ini" --limit "$FIRST" --model defect-detection --version 3.2 \
	"${fast[@]}" --foreground >"$tmp/hostile.out" 2>&1
check "a current_version that is not a version fails the device before any change" test \
	"$(st "$tmp/hostile.db" 1 'r["devices"][0]["step"] + "|" + str("not a version" in r["devices"][0]["error"])')" = "failed|True"
check "...nothing fetched, stopped or run" test "$(downloads 3.2)" = 0 -a ! -s "$tmp/ctl.log" -a ! -e "$tmp/pwned"

# the database edited to hold a hostile setting: the runner checks again, sends nothing
reset_devices
"$FD" --db "$tmp/edit.db" rollout start -i "$tmp/fleet.ini" --limit "$FIRST" --model defect-detection --version 3.2 \
	"${fast[@]}" --foreground >/dev/null 2>&1
reset_devices
sql "$tmp/edit.db" "UPDATE rollouts SET state='running', lease_owner=NULL, lease_expiry=NULL, current_batch=0;
	UPDATE rollout_devices SET step='pending', step_started=NULL, step_ended=NULL,
	  target=json_set(target, '\$.model_dir', '/opt/m'';touch $tmp/pwned;''');
	INSERT INTO rollout_holds(host, rollout_id) SELECT host, rollout_id FROM rollout_devices;"
l1=$(logins)
"$FD" --db "$tmp/edit.db" rollout resume 1 --foreground >"$tmp/edit.out" 2>&1
check "a hostile setting edited into the database fails the device, saying so" test \
	"$(st "$tmp/edit.db" 1 'r["devices"][0]["step"] + "|" + str("fleetdeck_model_dir" in r["devices"][0]["error"])')" = "failed|True"
check "...with no SSH login and nothing run" test "$(logins)" = "$l1" -a ! -e "$tmp/pwned" -a ! -s "$tmp/ctl.log"

# ---- the registry serves other bytes than its index's SHA-256: refused on the device, untouched ----
reset_devices
cp "$tmp/reg/models/defect-detection-v3.2-int8.onnx" "$tmp/good-3.2"
head -c 20000 /dev/urandom >"$tmp/reg/models/defect-detection-v3.2-int8.onnx"
"$FD" --db "$tmp/sum.db" rollout start -i "$tmp/fleet.ini" --limit "$FIRST" --model defect-detection --version 3.2 \
	"${fast[@]}" --foreground >"$tmp/sum.out" 2>&1
cp "$tmp/good-3.2" "$tmp/reg/models/defect-detection-v3.2-int8.onnx"
check "a file whose SHA-256 is not the registry's fails the device, saying so" test \
	"$(st "$tmp/sum.db" 1 'r["devices"][0]["step"] + "|" + str("SHA-256" in r["devices"][0]["error"])')" = "failed|True"
check "...the device untouched: on 3.1, no 3.2 file, no temporary file, the service never stopped" test \
	"$(readlink "$tmp/dev/$FIRST/active_model.onnx")" = "$tmp/dev/$FIRST/defect-detection-v3.1-int8.onnx" -a \
	"$(cat "$tmp/dev/$FIRST/current_version")" = 3.1 -a ! -e "$tmp/dev/$FIRST/defect-detection-v3.2-int8.onnx" -a \
	-z "$(find "$tmp/dev" -name '.*')" -a ! -s "$tmp/ctl.log"

# ---- a good version: every device updated ----
reset_devices
DB=$tmp/good.db
"$FD" --db "$DB" rollout start -i "$tmp/fleet.ini" --model defect-detection --version 3.2 --serial 2 \
	"${fast[@]}" >"$tmp/good.out" 2>&1; rc=$?
check "start over SSH exits 0" test "$rc" -eq 0
check "the detached runner completes the rollout" poll 600 state_is "$DB" 1 completed
check "every device on 3.2: file with the registry's SHA-256, link, current_version, running version" all_on 3.2
check "every device recorded updated from 3.1, one update each, over ssh" test \
	"$(st "$DB" 1 'all(d["step"] == "updated" and d["prev_version"] == "3.1" and d["attempts"] == 1 and d["transport"] == "ssh" for d in r["devices"])')" = True
once=1
for h in $HOSTS; do [ "$(ctl_calls "$h" stop)" = 1 ] && [ "$(ctl_calls "$h" start)" = 1 ] || once=0; done
check "one stop and one start per device (the service-control log)" test "$once" = 1
check "one download per device ($N)" test "$(downloads 3.2)" = $N
check "no temporary files left in the model directories" test -z "$(find "$tmp/dev" -name '.*' -type f -o -name '.*' -type l)"
cmds=$(sql "$DB" "SELECT detail FROM rollout_log WHERE event='note' AND detail LIKE 'ssh: %' AND host='$FIRST'")
check "the exact commands are in the rollout's log (curl, sha256sum, ln/mv -T, the service control)" \
	test -n "$(echo "$cmds" | grep -F "curl -sS")" -a -n "$(echo "$cmds" | grep -F "sha256sum")" -a \
	-n "$(echo "$cmds" | grep -F "mv -fT")" -a -n "$(echo "$cmds" | grep -F "'$tmp/ctl.sh' '$FIRST' 'stop' 'inference-engine'")"

"$FD" --db "$DB" rollout log 1 --host "$FIRST" >"$tmp/log.out" 2>&1; rc=$?
check "rollout log shows a device's commands as sent, with each step's end" test "$rc" -eq 0 -a \
	-n "$(grep -E " update +note +ssh: " "$tmp/log.out" | grep -F "sha256sum")" -a -n "$(grep -E "$FIRST +validate +end +ok" "$tmp/log.out")" -a \
	-z "$(grep -v "$FIRST" "$tmp/log.out")"
check "rollout log --json: the commands of the device's steps in order" test "$("$FD" --db "$DB" rollout log 1 --host "$FIRST" --json |
	python3 -c 'import json,sys; a=json.load(sys.stdin); print(",".join(dict.fromkeys(e["step"] for e in a if e["event"] == "note" and e["detail"].startswith("ssh: "))))')" = \
	"health,record,update,wait,validate"

# the same rollout again: every device already there, nothing touched
"$FD" --db "$tmp/again.db" rollout start -i "$tmp/fleet.ini" --model defect-detection --version 3.2 \
	"${fast[@]}" --foreground >"$tmp/again.out" 2>&1; rc=$?
check "a second rollout of the same version: every device 'current', nothing downloaded or restarted" test \
	"$rc" -eq 0 -a "$(st "$tmp/again.db" 1 'sorted(set(d["step"] for d in r["devices"]))')" = "['current']" -a \
	"$(downloads 3.2)" = $N -a "$(grep -c . "$tmp/ctl.log")" = $((2 * N))

# ---- a bad version: validation fails on the canary, which is rolled back ----
curl -fsS -m 5 -X POST -d '{"bad_versions": ["3.3"]}' "http://$CTL/devices/all/set" >/dev/null
: >"$tmp/ctl.log"
DB=$tmp/bad.db
"$FD" --db "$DB" rollout start -i "$tmp/fleet.ini" --model defect-detection --version 3.3 --serial 1 \
	"${fast[@]}" --foreground >"$tmp/bad.out" 2>&1; rc=$?
check "a rollout whose canary fails validation exits 1, failed at batch 1's gate" test "$rc" -eq 1 -a \
	"$(st "$DB" 1 'r["state"] + "|" + str("batch 1 gate fail" in (r["stop_reason"] or ""))')" = "failed|True"
check "the canary is recorded failed, with the validation's reason" test \
	"$(st "$DB" 1 'r["devices"][0]["step"] + "|" + str("validation failed" in r["devices"][0]["error"])')" = "failed|True"
check "the canary is back on 3.2: link, current_version, running version" on "$FIRST" 3.2
check "...by stop, start, restart" test "$(grep "^$FIRST " "$tmp/ctl.log" | cut -d' ' -f2 | tr '\n' ' ')" = "stop start restart "
check "...and keeps the 3.3 file it fetched" test -f "$tmp/dev/$FIRST/defect-detection-v3.3-int8.onnx"
untouched=1
for h in $HOSTS; do [ "$h" = "$FIRST" ] && continue; on "$h" 3.2 && [ "$(ctl_calls "$h" stop)" = 0 ] || untouched=0; done
check "the other devices were not touched" test "$untouched" = 1
curl -fsS -m 5 -X POST -d '{"bad_versions": []}' "http://$CTL/devices/all/set" >/dev/null

# ---- rollback verb: every updated device back to its recorded version ----
"$FD" --db "$tmp/good.db" rollout rollback 1 --foreground >"$tmp/rb.out" 2>&1; rc=$?
check "rollback of the completed good rollout ends rolled_back" test "$rc" -eq 0 -a "$(st "$tmp/good.db" 1 'r["state"]')" = rolled_back
check "every device back on 3.1 (link, current_version, running version)" all_on 3.1

# ---- kill -9 after each kind of step, then resume ----
# (the devices' service answers 400 ms late, so that a runner is caught soon after each step)
reset_devices
echo '"slow"' >"$tmp/run_fault"
curl -fsS -m 5 -X POST -d '{"fault": "slow", "slow_ms": 400}' "http://$CTL/devices/all/set" >/dev/null
DB=$tmp/kill.db
"$FD" --db "$DB" rollout start -i "$tmp/fleet.ini" --model defect-detection --version 3.2 --serial all --forks 1 \
	--lease-ms 1000 "${fast[@]}" >"$tmp/kill.out" 2>&1
runner_pid() { sql "$DB" 'SELECT lease_owner FROM rollouts WHERE id=1' | cut -d: -f2; }
# the first step end after log row M of a kind not yet in the list $2 ('health','record',...)
next_end() { sql "$DB" "SELECT step FROM rollout_log WHERE id > $1 AND host IS NOT NULL AND event='end' AND step IN ('health','record','update','wait','validate') AND step NOT IN ($2) ORDER BY id LIMIT 1"; }
completed() { [ "$(sql "$DB" 'SELECT state FROM rollouts WHERE id=1')" = completed ]; }
covered="''" kills=0 where=
for i in $(seq 12); do
	completed && break
	[ "$(echo "$covered" | tr ',' '\n' | grep -c "'[a-z]")" = 5 ] && break
	m=$(sql "$DB" 'SELECT coalesce(max(id), 0) FROM rollout_log')
	pid=$(runner_pid)
	seen() { [ -n "$(next_end "$m" "$covered")" ] || completed; }
	poll 400 seen || { bad "the runner goes on ending steps"; break; }
	completed && break
	kind=$(next_end "$m" "$covered")
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || continue
	kills=$((kills+1)) covered+=",'$kind'"
	where+="$kind>$(sql "$DB" "SELECT step FROM rollout_devices WHERE step NOT IN ('pending','updated') LIMIT 1") "
	gone() { ! kill -0 "$pid" 2>/dev/null; }
	poll 100 gone
	took() {
		local p; p=$(runner_pid)
		[ -n "$p" ] && [ "$p" != "$pid" ] && return 0
		completed && return 0
		"$FD" --db "$DB" rollout resume 1 >/dev/null 2>&1; false
	}
	poll 200 took || { bad "resume after killing the runner after a $kind step"; break; }
done
check "the runner was killed -9 after each kind of step ($kills kills, after>during: $where)" test \
	"$(echo "$covered" | tr ',' '\n' | grep -c "'[a-z]")" = 5
rm -f "$tmp/run_fault"
check "the resumed runners complete the rollout" poll 600 state_is "$DB" 1 completed
check "after the kills every device is on 3.2 (files, link, current_version, running version)" all_on 3.2
once=1
for h in $HOSTS; do [ "$(ctl_calls "$h" stop)" = 1 ] || once=0; done
check "no device stopped (switched) twice" test "$once" = 1
check "no device downloaded twice ($N downloads)" test "$(downloads 3.2)" = $N
check "every device recorded updated" test "$(st "$DB" 1 'sorted(set(d["step"] for d in r["devices"]))')" = "['updated']"

# ---- kill -9 in the middle of the switch: the service start held on the device ----
reset_devices
DB=$tmp/mid.db
: >"$tmp/hold.$FIRST"
"$FD" --db "$DB" rollout start -i "$tmp/fleet.ini" --limit "$FIRST" --model defect-detection --version 3.2 \
	--lease-ms 1000 "${fast[@]}" >"$tmp/mid.out" 2>&1
held() { [ -e "$tmp/held.$FIRST" ]; }
check "the switch reaches the service start, held there" poll 400 held
pid=$(runner_pid)
kill -9 "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
check "the runner is killed mid-switch" poll 100 gone
check "killed mid-switch: the link and current_version are already switched, the service not started" test \
	"$(readlink "$tmp/dev/$FIRST/active_model.onnx")" = "$tmp/dev/$FIRST/defect-detection-v3.2-int8.onnx" -a \
	"$(cat "$tmp/dev/$FIRST/current_version")" = 3.2 -a "$(sim_version "$FIRST")" = 3.1
rm -f "$tmp/hold.$FIRST"
took() { local p; p=$(runner_pid); [ -n "$p" ] && [ "$p" != "$pid" ] || { "$FD" --db "$DB" rollout resume 1 >/dev/null 2>&1; false; }; }
check "resume after the mid-switch kill" poll 200 took
check "the resumed rollout completes" poll 600 state_is "$DB" 1 completed
check "the device ends on 3.2, updated" test "$(st "$DB" 1 'r["devices"][0]["step"]')" = updated
check "...on 3.2 in every respect" on "$FIRST" 3.2
check "...stopped once, one download, one update counted (the resumed switch only started it)" test \
	"$(ctl_calls "$FIRST" stop)" = 1 -a "$(downloads 3.2)" = 1 -a "$(st "$DB" 1 'r["devices"][0]["attempts"]')" = 1

# ---- abort while a device is mid-switch: it finishes its update, then goes back ----
reset_devices
rm -f "$tmp/held.$FIRST"
: >"$tmp/hold.$FIRST"
DB=$tmp/abort.db
"$FD" --db "$DB" rollout start -i "$tmp/fleet.ini" --limit "$FIRST" --model defect-detection --version 3.2 \
	"${fast[@]}" >"$tmp/abort.out" 2>&1
check "the switch is held at the service start" poll 400 held
"$FD" --db "$DB" rollout abort 1 --reason "wrong model" >/dev/null 2>&1; rc=$?
rm -f "$tmp/hold.$FIRST"
check "abort mid-switch exits 0, and the rollout ends aborted" test "$rc" -eq 0 -a -n "$(poll 600 state_is "$DB" 1 aborted && echo y)"
check "...the device reverted, back on 3.1 in every respect" test "$(st "$DB" 1 'r["devices"][0]["step"]')" = reverted -a \
	-n "$(on "$FIRST" 3.1 && echo y)"
check "...by stop, start, restart" test "$(grep "^$FIRST " "$tmp/ctl.log" | cut -d' ' -f2 | tr '\n' ' ')" = "stop start restart "

# ---- through a jump host: the same steps over a direct-tcpip channel of the bastion's session ----
reset_devices
if sshd_start bastion "$tmp" --log DEBUG1 "$NET.200:22"; then
	sshd_known_hosts "$tmp" "${listen[@]}" "$NET.200:22" >"$HOME/.ssh/known_hosts"
	inventory "$tmp/jump.ini" "ansible_ssh_common_args='-o ProxyJump=root@$NET.200:22'"
	"$FD" --db "$tmp/jump.db" rollout start -i "$tmp/jump.ini" --limit "$FIRST" --model defect-detection --version 3.2 \
		"${fast[@]}" --foreground >"$tmp/jump.out" 2>&1; rc=$?
	check "a rollout through a jump host completes" test "$rc" -eq 0 -a "$(st "$tmp/jump.db" 1 'r["devices"][0]["step"]')" = updated
	check "...the device on 3.2 in every respect" on "$FIRST" 3.2
	check "...over the bastion (one login there, direct-tcpip channels)" test \
		"$(grep -c 'Accepted publickey' "${SSHD_LOG[bastion]}")" = 1 -a "$(grep -c 'direct-tcpip' "${SSHD_LOG[bastion]}")" -ge 1
else
	bad "the bastion's sshd starts"
fi

# ---- one rollout over both transports: the second device through its agent's API ----
reset_devices
SECOND=$(echo "$HOSTS" | sed -n 2p)
inventory "$tmp/mixed.ini"
sed -i "s|^$SECOND .*|& fleetdeck_transport=http|" "$tmp/mixed.ini"
"$FD" --db "$tmp/mixed.db" rollout start -i "$tmp/mixed.ini" --model defect-detection --version 3.2 --serial all \
	"${fast[@]}" --foreground >"$tmp/mixed.out" 2>&1; rc=$?
check "a rollout mixing SSH and HTTP devices completes" test "$rc" -eq 0 -a \
	"$(st "$tmp/mixed.db" 1 '",".join(d["transport"] + ":" + d["step"] for d in r["devices"])')" = "ssh:updated,http:updated,ssh:updated,ssh:updated"
mixed=1
for h in $HOSTS; do [ "$h" = "$SECOND" ] && continue; on "$h" 3.2 || mixed=0; done
check "...the SSH devices on 3.2 in every respect" test "$mixed" = 1
check "...the HTTP device on 3.2 through its agent, its model directory and service control untouched" test \
	"$(sim_version "$SECOND")" = 3.2 -a "$(cat "$tmp/dev/$SECOND/current_version")" = 3.1 -a "$(ctl_calls "$SECOND" stop)" = 0
check "...one download per device, the agent's included ($N)" test "$(downloads 3.2)" = $N

# ---- an unreachable device (its sshd address has no listener): unreachable, nothing else changes ----
cat >"$tmp/gone.ini" <<INI
[x]
gone-1 ansible_host=$NET.99 ansible_port=2222 ansible_user=root ansible_ssh_private_key_file=$tmp/client_key fleetdeck_transport=ssh model_registry=http://$REG
INI
"$FD" --db "$tmp/gone.db" rollout start -i "$tmp/gone.ini" --model defect-detection --version 3.2 \
	"${fast[@]}" --connect-timeout-ms 500 --foreground >"$tmp/gone.out" 2>&1; rc=$?
check "a device SSH cannot reach is unreachable and the rollout waits for approval" test \
	"$(st "$tmp/gone.db" 1 'r["state"] + "|" + r["devices"][0]["step"]')" = "awaiting_approval|unreachable"

# ---- under valgrind (FLEETDECK_ROLLOUT_VALGRIND=1, as packaging/test.sh runs it): every step,
# a rollback among them, in a foreground runner: no leak, no invalid access ----
if [ "${FLEETDECK_ROLLOUT_VALGRIND:-0}" = 1 ]; then
	reset_devices
	curl -fsS -m 5 -X POST -d '{"bad_versions": ["3.3"]}' "http://$CTL/devices/$FIRST/set" >/dev/null
	timeout 600 valgrind -q --suppressions="$SRC/tests/valgrind.supp" --leak-check=full \
		--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
		--error-exitcode=99 "$FD" --db "$tmp/vg.db" rollout start -i "$tmp/fleet.ini" --model defect-detection \
		--version 3.3 --serial all --max-fail 50 --wait-tries 100 --wait-delay-ms 100 --timeout-ms 20000 \
		--foreground >"$tmp/vg.out" 2>&1; rc=$?
	check "valgrind: a rollout over SSH with a rollback is clean (exit $rc)" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || grep -v '^20' "$tmp/vg.out" | head -40
	check "valgrind: ...and did its work" test \
		"$(st "$tmp/vg.db" 1 '",".join(d["step"] for d in r["devices"])')" = "failed,updated,updated,updated" -a \
		"$(cat "$tmp/dev/$FIRST/current_version")" = 3.1
fi

check "no sanitizer report from any runner" test -z "$(grep -l 'Sanitizer\|runtime error:' "$tmp"/*.log "$tmp"/*.out 2>/dev/null)"
finish
