#!/usr/bin/env bash
# The README's first command: install what is needed, build, and run fleetdeck on the demo fleet.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
exec ./build/fleetdeck -i inventory/demo "$@"
