#!/usr/bin/env bash
# parity: `fleetdeck inventory` against the real ansible-core (ansible-inventory / ansible), case by
# case over tests/parity/corpus: --list and --host as JSON values, --graph byte for byte, --hosts
# PATTERN line for line, and the FILE:LINE of inventories ansible cannot parse. See README.md.
#
#   FLEETDECK=build/fleetdeck tests/parity/parity.sh [CASE-GLOB...]
#
# Environment: FLEETDECK (required), FLEETDECK_SRC (default: this checkout), PARITY_CASES
# (space-separated case-name globs, like the arguments), PARITY_JOBS (default: nproc),
# PARITY_TIMEOUT (seconds per fleetdeck run, default 60), PARITY_KEEP=1 (keep the work dir).
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
SRC=${FLEETDECK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
HERE=$SRC/tests/parity
CORPUS=$HERE/corpus
JOBS=${PARITY_JOBS:-$(nproc 2>/dev/null || echo 2)}
TIMEOUT=${PARITY_TIMEOUT:-60}
start=$(date +%s)

die() { echo "FAIL parity: $*"; echo "0 passed, 1 failed"; exit 1; }

case $FD in /*) ;; *) FD=$PWD/$FD ;; esac   # fleetdeck runs from another directory
[ -x "$FD" ] || die "FLEETDECK=$FD is not an executable"

# ansible's own interpreter (its modules live in that Python's dist-packages)
ai=$(command -v ansible-inventory) || die "ansible-inventory is not installed (apt-get install ansible-core)"
command -v ansible >/dev/null || die "ansible is not installed (apt-get install ansible-core)"
read -r -a shebang < <(sed -n '1s/^#! *//p' "$ai")
PY=${shebang[0]:-python3}
[ "$(basename "$PY")" = env ] && PY=${shebang[1]:-python3}
"$PY" -c 'import ansible' 2>/dev/null || die "$PY cannot import ansible"

# A clean ansible: no user config, no ANSIBLE_* from the caller, private home and temp dirs,
# and a neutral cwd (ansible-inventory also reads ./group_vars and ./host_vars of its cwd).
while read -r v; do unset "$v"; done < <(compgen -e | grep '^ANSIBLE_')
work=$(mktemp -d "${TMPDIR:-/tmp}/fleetdeck-parity.XXXXXX") || die "mktemp failed"
if [ "${PARITY_KEEP:-0}" = 1 ]; then echo "parity: work dir $work"; else trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$work/home" "$work/tmp" "$work/cwd" "$work/xdg" "$work/cases"
: >"$work/ansible.cfg"
export ANSIBLE_CONFIG=$work/ansible.cfg ANSIBLE_HOME=$work/home ANSIBLE_LOCAL_TEMP=$work/tmp \
  ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0 ANSIBLE_NOCOLOR=1 \
  ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_RETRY_FILES_ENABLED=0
# and a clean fleetdeck: -i only
export XDG_CONFIG_HOME=$work/xdg
unset FLEETDECK_INVENTORY

# Which cases
globs=("$@")
[ ${#globs[@]} -eq 0 ] && [ -n "${PARITY_CASES:-}" ] && read -r -a globs <<<"$PARITY_CASES"
[ ${#globs[@]} -eq 0 ] && globs=('*')
cases=()
for d in "$CORPUS"/*/; do
  name=$(basename "$d")
  [ -f "$d/case" ] || continue
  for g in "${globs[@]}"; do
    # shellcheck disable=SC2053
    if [[ $name == $g ]]; then cases+=("$name"); break; fi
  done
done
[ ${#cases[@]} -gt 0 ] || die "no case in $CORPUS matches: ${globs[*]}"
echo "parity: ${#cases[@]} cases, ansible-core $("$PY" -c 'import ansible.release as r; print(r.__version__)'), fleetdeck=$FD"

# 1. ansible: every case once, in processes forked from one that imported ansible
"$PY" "$HERE/ansible_dump.py" --corpus "$CORPUS" --work "$work/cases" --jobs "$JOBS" "${cases[@]}" \
  >"$work/dump.log" 2>&1 || { cat "$work/dump.log"; die "ansible_dump.py failed"; }

# 2. fleetdeck: one run per check, cases in parallel. fd_case NAME leaves WORK/NAME/fd/STEM.{out,err,rc}.
fd_case() {
  local name=$1 dir=$CORPUS/$1 cw=$work/cases/$1
  local -a inv=() graphs=() pats=() upats=()
  local expect='' same='' key value line i h g p
  mkdir -p "$cw/fd"
  while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    key=${line%%:*}; value=${line#*:}
    value=${value#"${value%%[![:space:]]*}"}; value=${value%"${value##*[![:space:]]}"}
    case $key in
      source) inv+=(-i "$dir/$value") ;;
      pattern) pats+=("$value") ;;
      pattern-unordered) upats+=("$value") ;;
      graph) graphs+=("$value") ;;
      expect) expect=$value ;;
      same-list) same=$value ;;
    esac
  done <"$dir/case"
  pats+=("${upats[@]}")  # numbered as compare.py does: pattern: lines, then pattern-unordered:
  fd() {  # fd STEM ARGS...: one fleetdeck run, from the neutral cwd
    local stem=$1; shift
    (cd "$work/cwd" && exec timeout -k 5 "$TIMEOUT" "$FD" inventory "$@") \
      >"$cw/fd/$stem.out" 2>"$cw/fd/$stem.err" </dev/null
    echo $? >"$cw/fd/$stem.rc"
  }
  fd list "${inv[@]}" --list
  [ "$expect" = error ] && return
  i=0
  if [ -f "$cw/ansible.json.hosts" ]; then
    while IFS= read -r h; do fd "host.$i" "${inv[@]}" --host "$h"; i=$((i + 1)); done <"$cw/ansible.json.hosts"
  fi
  fd graph.0 "${inv[@]}" --graph
  i=1
  for g in "${graphs[@]}"; do fd "graph.$i" "${inv[@]}" --graph "$g"; i=$((i + 1)); done
  i=0
  for p in "${pats[@]}"; do fd "pattern.$i" "${inv[@]}" --hosts "$p"; i=$((i + 1)); done
  [ -n "$same" ] && fd same-list -i "$dir/$same" --list
  return 0
}
for c in "${cases[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  fd_case "$c" &
done
wait

# 3. compare, print, count
"$PY" "$HERE/compare.py" "$CORPUS" "$work/cases" "${cases[@]}" >"$work/report" 2>&1
grep -v '^counts ' "$work/report"
counts=$(grep '^counts ' "$work/report" | tail -1)
[ -n "$counts" ] || die "compare.py crashed"
read -r _ passed failed <<<"$counts"
echo "parity: ${#cases[@]} cases in $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
