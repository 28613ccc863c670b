#!/usr/bin/env bash
# The README's second command (and CI's): install what is needed, build, run every test:
# the plain build's suite, the ASan+UBSan build's suite, the unit tests under valgrind,
# and each libFuzzer target for a short while.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh

jobs=$(nproc)
fuzz_seconds=${FLEETDECK_FUZZ_SECONDS:-30}
status=0
suites_passed=0; suites_failed=0
suite() { if [ "$1" -eq 0 ]; then suites_passed=$((suites_passed+1)); else suites_failed=$((suites_failed+1)); status=1; fi; }

step() { printf '\n==== %s\n' "$*"; }

step "plain build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
step "plain build: tests"
rc=0; (cd build && ctest --output-on-failure -j"$jobs") || rc=1; suite $rc

step "sanitizer build (ASan+UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFLEETDECK_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
step "sanitizer build: tests"
rc=0
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"$jobs") || rc=1; suite $rc

step "valgrind: unit tests and the inventory commands"
vg=(valgrind -q --suppressions=tests/valgrind.supp --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99)
vg_failed=0; vg_passed=0
for t in build/tests/test_*; do
  [ -x "$t" ] || continue
  if "${vg[@]}" "$t" >/dev/null 2>build/valgrind.log; then vg_passed=$((vg_passed+1)); else
    echo "valgrind: $t failed"; cat build/valgrind.log; vg_failed=$((vg_failed+1)); fi
done
for args in "--list" "--graph" "--hosts all" "--host edge-ams-01"; do
  # shellcheck disable=SC2086
  if "${vg[@]}" build/fleetdeck inventory -i inventory/demo $args >/dev/null 2>build/valgrind.log; then
    vg_passed=$((vg_passed+1)); else echo "valgrind: fleetdeck inventory $args failed"; cat build/valgrind.log; vg_failed=$((vg_failed+1)); fi
done
# the SSH transport against real sshd, under valgrind (the unit run above skips it)
if FLEETDECK_SSH_VALGRIND=1 FLEETDECK_BUILD="$PWD/build" FLEETDECK_SRC="$PWD" bash tests/integration/ssh.sh >build/valgrind-ssh.log 2>&1; then
  vg_passed=$((vg_passed+1)); else echo "valgrind: tests/integration/ssh.sh failed"; grep -v '^ok' build/valgrind-ssh.log; vg_failed=$((vg_failed+1)); fi
# a rollout to agentless devices over real sshd, its runner under valgrind
if FLEETDECK_ROLLOUT_VALGRIND=1 FLEETDECK="$PWD/build/fleetdeck" FLEETDECK_BUILD="$PWD/build" FLEETDECK_SRC="$PWD" bash tests/integration/rollout_ssh.sh >build/valgrind-rollout-ssh.log 2>&1; then
  vg_passed=$((vg_passed+1)); else echo "valgrind: tests/integration/rollout_ssh.sh failed"; grep -v '^ok' build/valgrind-rollout-ssh.log; vg_failed=$((vg_failed+1)); fi
echo "valgrind: $vg_passed passed, $vg_failed failed"
suite "$vg_failed"

step "fuzz targets (${fuzz_seconds}s each)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DFLEETDECK_FUZZ=ON -DFLEETDECK_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$jobs"
fz_failed=0; fz_passed=0
for f in build-fuzz/tests/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f"); corpus=tests/fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d)
  if "$f" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 "$work" "$corpus" >build-fuzz/"$name".log 2>&1; then
    fz_passed=$((fz_passed+1)); echo "fuzz: $name ok ($(grep -c . build-fuzz/"$name".log) log lines)"
  else
    fz_failed=$((fz_failed+1)); echo "fuzz: $name FAILED"; tail -40 build-fuzz/"$name".log
  fi
  rm -rf "$work"
done
echo "fuzz: $fz_passed passed, $fz_failed failed"
suite "$fz_failed"

step "done"
echo "suites: $suites_passed passed, $suites_failed failed"
exit "$status"
