#!/usr/bin/env bash
# serial: `fleetdeck rollout plan` batches against the batches real ansible-playbook forms for a
# play with the same `serial` (and hosts/--limit), over several inventories and serial forms.
# Each ansible run is a play whose only task prints ansible_play_batch once per batch.
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
SRC=${FLEETDECK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
command -v ansible-playbook >/dev/null || { bad "ansible-playbook is not installed"; echo "$passed passed, $failed failed"; exit 1; }

while read -r v; do unset "$v"; done < <(compgen -e | grep '^ANSIBLE_')
work=$(mktemp -d "${TMPDIR:-/tmp}/fleetdeck-serial.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/tmp" "$work/xdg"
: >"$work/ansible.cfg"
export ANSIBLE_CONFIG=$work/ansible.cfg ANSIBLE_HOME=$work/home ANSIBLE_LOCAL_TEMP=$work/tmp \
  ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_NOCOLOR=1 ANSIBLE_DEPRECATION_WARNINGS=0 \
  ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_FORKS=20 XDG_CONFIG_HOME=$work/xdg
unset FLEETDECK_INVENTORY

# a 37-host inventory over three groups, one host in two of them
{
  echo "[line_a]"; for i in $(seq -w 1 15); do echo "cam-a$i"; done
  echo "[line_b]"; for i in $(seq -w 1 21); do echo "cam-b$i"; done; echo "cam-a03"
  echo "[spare]"; echo "cam-x1"
} >"$work/cams.ini"
printf '[one]\nsolo\n' >"$work/one.ini"

# ansible_batches INV HOSTS LIMIT SERIAL_YAML: one line per batch, hosts space-separated
ansible_batches() {
  local inv=$1 hosts=$2 limit=$3 serial=$4
  {
    echo "- hosts: '$hosts'"
    echo "  gather_facts: false"
    [ -n "$serial" ] && echo "  serial: $serial"
    echo "  tasks:"
    echo "    - debug:"
    echo "        msg: \"BATCH {{ ansible_play_batch | join(' ') }}\""
    echo "      run_once: true"
  } >"$work/play.yml"
  local args=(-i "$inv" "$work/play.yml")
  [ -n "$limit" ] && args+=(--limit "$limit")
  ansible-playbook "${args[@]}" 2>"$work/ansible.err" | sed -n 's/^ *"msg": "BATCH \(.*\)"$/\1/p'
}

# fleetdeck_batches INV HOSTS LIMIT ARGS...
fleetdeck_batches() {
  local inv=$1 hosts=$2 limit=$3; shift 3
  local args=(rollout plan -i "$inv" --model m --version 1.0 --hosts "$hosts" --json "$@")
  [ -n "$limit" ] && args+=(--limit "$limit")
  "$FD" "${args[@]}" | /usr/bin/python3 -c 'import json,sys; [print(" ".join(b)) for b in json.load(sys.stdin)["batches"]]'
}

# compare MODE NAME INV HOSTS LIMIT SERIAL_YAML FLEETDECK_ARGS...
# MODE exact: the same batches, host for host. MODE sizes: the same batch sizes and the same hosts
# overall; for inventories with groups nested two deep or more, where Ansible's own host order
# comes from Python's set iteration and changes from run to run (docs/guide.md).
compare() {
  local mode=$1 name=$2 inv=$3 hosts=$4 limit=$5 serial=$6; shift 6
  local a f
  a=$(ansible_batches "$inv" "$hosts" "$limit" "$serial")
  f=$(fleetdeck_batches "$inv" "$hosts" "$limit" "$@")
  if [ -z "$a" ]; then bad "$name: ansible formed no batch"; sed 's/^/    /' "$work/ansible.err" | head -5; return; fi
  if [ "$mode" = sizes ]; then
    a=$(printf '%s\n' "$a" | awk '{print NF}'; printf '%s\n' "$a" | tr ' ' '\n' | sort)
    f=$(printf '%s\n' "$f" | awk '{print NF}'; printf '%s\n' "$f" | tr ' ' '\n' | sort)
  fi
  if [ "$a" = "$f" ]; then ok "$name ($mode)"; else
    bad "$name ($mode)"; diff <(printf '%s\n' "$a") <(printf '%s\n' "$f") | head -10 | sed 's/^/    /'; fi
}

yaml_of() { printf '[%s]' "$(printf '%s' "$1" | sed -E 's/([0-9-]+%)/"\1"/g')"; }

demo=$SRC/inventory/demo
seed=$SRC/inventory/edge_devices.ini
# 203 devices in 15 flat factory groups, uneven, some in two groups
{
  n=0
  for f in $(seq -w 1 15); do
    echo "[factory_$f]"
    for d in $(seq -w 1 $((5 + (10#$f * 7) % 19))); do echo "dev-$f-$d"; n=$((n+1)); done
    [ "$f" = 07 ] && echo "dev-03-01"
  done
} >"$work/flat.ini"
for spec in "1" "3" "10%" "1,5,10%" "30%,2" "0" "-1" "100%" "150%" "7,0" "2%" "33%" "1,2,3"; do
  compare exact "flat serial $spec" "$work/flat.ini" all "" "$(yaml_of "$spec")" --serial "$spec"
done
for spec in "10%" "1,5,10%" "-1"; do
  compare sizes "demo serial $spec" "$demo" all "" "$(yaml_of "$spec")" --serial "$spec"
done
for spec in "2%" "10%" "4" "1,50%"; do
  compare exact "seed serial $spec" "$seed" all "" "$(yaml_of "$spec")" --serial "$spec"
  compare exact "cams serial $spec" "$work/cams.ini" all "" "$(yaml_of "$spec")" --serial "$spec"
done
compare exact "no serial: one batch" "$work/cams.ini" all "" "" --serial all
compare exact "one host, 10%" "$work/one.ini" all "" '["10%"]' --serial 10%
compare exact "pattern and limit" "$work/cams.ini" 'line_b:spare' 'cam-b0*:cam-x1' '["25%", 2]' --serial 25%,2
compare exact "pattern with exclusion" "$work/flat.ini" 'factory_*:!factory_03' '' '[5]' --serial 5
compare exact "pattern, limit with intersection" "$work/flat.ini" 'all' 'factory_0*:&dev-0[1-4]-*' '["40%"]' --serial 40%
compare sizes "demo, a region less" "$demo" 'all:!europe' '' '[7]' --serial 7
compare exact "strategy rolling" "$work/flat.ini" all '' '[10]' --strategy rolling
compare exact "strategy canary" "$work/flat.ini" all '' '["5%", 10]' --strategy canary
compare exact "strategy canary, batch 25" "$work/cams.ini" all '' '["5%", 25]' --strategy canary --batch-size 25
compare exact "strategy all-at-once" "$work/flat.ini" all '' '' --strategy all-at-once

# refusals: what Ansible cannot read as serial, fleetdeck refuses with exit 2
for spec in "12.5%" "abc" "1,,2" "5x"; do
  "$FD" rollout plan -i "$seed" --model m --version 1 --serial "$spec" >/dev/null 2>"$work/err"; rc=$?
  if [ "$rc" = 2 ] && grep -q 'serial' "$work/err"; then ok "serial '$spec' refused"; else bad "serial '$spec': exit $rc"; fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
