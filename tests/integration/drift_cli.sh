#!/usr/bin/env bash
# drift_cli: `fleetdeck drift` as people and scripts use it: the verdicts and exit
# statuses for no drift, a warning and a critical drift, thresholds from the command
# line, the JSON's keys, and `FILE: what is wrong` with exit 2 for every bad input.
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
work=$(mktemp -d "${TMPDIR:-/tmp}/fleetdeck-drift-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

# doc FILE N SHIFT: features "a" = SHIFT .. SHIFT+N-1 and "b" = 0 .. N-1, so that
# against the baseline (SHIFT 0) "a" has KS = SHIFT/N exactly and "b" none
doc() {
  local f=$1 n=$2 s=$3 i a="" b=""
  for ((i = 0; i < n; i++)); do a+="${a:+, }$((i + s))"; b+="${b:+, }$i"; done
  printf '{"window": %d, "features": {"a": [%s], "b": [%s]}}\n' "$n" "$a" "$b" >"$f"
}
doc base.json 100 0
doc same.json 100 5      # KS 0.05
doc warn.json 100 12     # KS 0.12: warning (< 0.15)
doc crit.json 100 20     # KS 0.20: critical

# run NAME WANT_RC ARGS...: output in $out, stderr in $errout
run() {
  local name=$1 want=$2; shift 2
  "$FD" drift "$@" >out.txt 2>err.txt
  local rc=$?
  out=$(cat out.txt); errout=$(cat err.txt)
  if [ "$rc" -eq "$want" ]; then ok "$name: exit $rc"; else bad "$name: exit $rc, want $want (stderr: $errout)"; fi
}
has() { # has NAME TEXT PATTERN
  if grep -qE -- "$3" <<<"$2"; then ok "$1"; else bad "$1: no /$3/ in: $2"; fi
}
jq_py() { /usr/bin/python3 -c "import json,sys; d=json.load(open('out.txt')); print($1)"; }

run "no drift" 0 base.json same.json
has "no drift: text says so" "$out" "no drift, max KS 0\.0500"
has "no drift: a row per feature" "$out" "^a +0\.0500 "
run "warning" 1 base.json warn.json --json
[ "$(jq_py 'd["severity"], d["drifted"], d["features"]["a"]["drifted"], d["features"]["b"]["drifted"]')" = "warning True True False" ] \
  && ok "warning: severity and per-feature verdicts" || bad "warning: $(cat out.txt)"
[ "$(jq_py 'sorted(d), sorted(d["features"]["a"])')" = "['drifted', 'features', 'max_ks', 'severity'] ['drifted', 'ks_pvalue', 'ks_statistic', 'severity', 'threshold', 'wasserstein']" ] \
  && ok "JSON keys: the seed's names" || bad "JSON keys: $(cat out.txt)"
[ "$(jq_py 'd["features"]["a"]["ks_statistic"], round(d["features"]["a"]["wasserstein"], 9), d["max_ks"]')" = "0.12 12.0 0.12" ] \
  && ok "JSON values: KS and Wasserstein of a shift" || bad "JSON values: $(cat out.txt)"
run "critical" 1 base.json crit.json --json
[ "$(jq_py 'd["severity"], d["features"]["a"]["severity"]')" = "critical critical" ] && ok "critical: severity" || bad "critical: $(cat out.txt)"
run "critical, text" 1 base.json crit.json
has "critical: text names it" "$out" "drift \(critical\), 1 of 2 features, max KS 0\.2000"
run "--threshold 0.25: none" 0 base.json crit.json --threshold 0.25
run "--threshold 0.15: a warning" 1 --threshold 0.15 base.json crit.json --json
[ "$(jq_py 'd["severity"]')" = "warning" ] && ok "--threshold 0.15: 0.20 < 0.225 is a warning" || bad "--threshold: $(cat out.txt)"
run "--feature-threshold a=0.3" 0 base.json crit.json --feature-threshold a=0.3
run "--feature-threshold a=0.3 over --threshold 0.01" 0 base.json crit.json --threshold 0.01 --feature-threshold a=0.3
run "--feature-threshold b=0.3 leaves a" 1 base.json crit.json --feature-threshold b=0.3
run "baseline and window swapped" 1 crit.json base.json --json
[ "$(jq_py 'd["features"]["a"]["ks_statistic"]')" = "0.2" ] && ok "swapped: the same statistic" || bad "swapped: $(cat out.txt)"

# bad input: exit 2, the file and what is wrong
printf '{"window": 2, "features": {"a": [1, NaN], "b": [1, 2]}}' >nan.json
run "NaN refused" 2 base.json nan.json
has "NaN: file and feature named" "$errout" "^fleetdeck drift: nan\.json: line 1, column [0-9]+: feature \"a\": value 1 is NaN"
printf '{"window": 2, "features": {"a": [1, 1e400], "b": [1, 2]}}' >inf.json
run "1e400 refused" 2 inf.json base.json
has "1e400: out of range" "$errout" "inf\.json: .*feature \"a\": value 1 \(1e400\) is out of range"
printf '{"window": 3, "features": {"a": [1, 2], "b": [1, 2, 3]}}' >short.json
run "short feature refused" 2 base.json short.json
has "short: counts named" "$errout" "short\.json: .*feature \"a\": 2 values, but \"window\" is 3"
printf '{"window": 1, "features": {"a": [1]}}' >onlya.json
run "missing feature refused" 2 base.json onlya.json
has "missing feature: named" "$errout" "onlya\.json: feature \"b\" is in the baseline but not in the window"
run "missing file" 2 base.json nosuch.json
has "missing file: named" "$errout" "nosuch\.json: No such file or directory"
printf 'not json' >text.json
run "not JSON" 2 text.json base.json
has "not JSON: where" "$errout" "text\.json: line 1, column 1: expected '\{'"
truncate -s 65M huge.json
run "oversized file" 2 base.json huge.json
has "oversized: says so" "$errout" "huge\.json: .*(larger|more) than the [0-9]+ bytes"
run "--threshold 0" 2 base.json same.json --threshold 0
run "--threshold nan" 2 base.json same.json --threshold nan
run "--feature-threshold without =" 2 base.json same.json --feature-threshold a
run "--feature-threshold for no feature" 2 base.json same.json --feature-threshold zz=0.2
has "--feature-threshold zz: named" "$errout" "feature \"zz\" has a threshold but is in neither document"
run "one file" 2 base.json
run "three files" 2 base.json same.json crit.json
"$FD" help drift >out.txt 2>&1 && grep -q "^usage: fleetdeck drift" out.txt && ok "help drift" || bad "help drift: $(cat out.txt)"
"$FD" --help | grep -qE "^  drift " && ok "drift in --help" || bad "drift not in --help"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
