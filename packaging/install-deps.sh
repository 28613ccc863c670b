#!/usr/bin/env bash
# Installs every Debian 12 package fleetdeck's build, demo and tests need.
# Idempotent: installs only what is missing, and touches apt only then.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config git ca-certificates
  libncurses-dev libssh-dev libcurl4-openssl-dev libsqlite3-dev libjansson-dev
  libyaml-dev libpcre2-dev libssl-dev libmicrohttpd-dev
  # tests
  libcmocka-dev ansible-core python3 python3-yaml clang libclang-rt-14-dev valgrind
  tmux openssh-server openssh-client sqlite3 iproute2 procps time hyperfine
  locales ncurses-term util-linux curl python3-prometheus-client prometheus-node-exporter prometheus
  python3-numpy python3-scipy
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 2; }
  SUDO=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
