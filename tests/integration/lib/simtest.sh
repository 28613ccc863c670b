# simtest.sh: sourced by the integration tests that run fleetdeck against fleetsim: the binaries
# from ctest's environment, a private temp dir, HOME and XDG dirs (no user config leaks in), the
# simulators started in $pids stopped on exit, and the ok/bad/check counters; a test ends with
#   echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
BUILD=${FLEETDECK_BUILD:?set FLEETDECK_BUILD to the build directory}
SIM=$BUILD/fleetsim
[ -x "$SIM" ] || { echo "FAIL no simulator at $SIM"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0; failed=0
ok()  { passed=$((passed+1)); echo "ok   $*"; }
bad() { failed=$((failed+1)); echo "FAIL $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
PY=python3
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data
mkdir -p "$HOME"
