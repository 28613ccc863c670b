#!/usr/bin/env bash
# The README's first command: install what is needed, build, and open the console on the demo
# fleet (the simulator's 15 factories, 200 devices). With arguments, runs fleetdeck with them.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
if [ $# -eq 0 ]; then
	exec ./build/fleetdeck --demo
fi
exec ./build/fleetdeck "$@"
