#!/usr/bin/env bash
# drift: `fleetdeck drift` against scipy.stats: for sample pairs of many sizes and shapes
# (tiny, tied, identical, disjoint, shifted, scaled; below, at and above the exact/asymptotic
# border) the KS statistic, its p-value and the Wasserstein distance agree to 1e-9 relative,
# and the verdict and the exit status are the ones the thresholds give.
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
SRC=${FLEETDECK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PY=/usr/bin/python3
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

if ! $PY -c 'import numpy, scipy' 2>/dev/null; then
  bad "python3-numpy and python3-scipy are needed (packaging/install-deps.sh installs them)"
  finish
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/fleetdeck-drift.XXXXXX")
trap 'rm -rf "$work"' EXIT

if $PY "$SRC/tests/parity/drift_cases.py" gen "$work"; then ok "drift cases generated with scipy"
else bad "drift case generation"; finish; fi

for base in "$work"/*.base.json; do
  case=${base%.base.json}
  timeout 60 "$FD" drift "$base" "$case.win.json" --json >"$case.out.json" 2>"$case.err"
  echo $? >"$case.rc"
done

$PY "$SRC/tests/parity/drift_cases.py" check "$work"
if [ -s "$work/counts" ]; then
  read -r p f <"$work/counts"
  passed=$((passed+p)); failed=$((failed+f))
else
  bad "drift parity check did not run"
fi
finish
