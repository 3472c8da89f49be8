#!/usr/bin/env bash
# Shared set-up for ./tests/run.sh and ./validation/run.sh: installs the missing Debian packages (when root),
# configures and builds incrementally. Sourced, not run; sets PUSHPULL_BUILD_DIR.
set -euo pipefail
PUSHPULL_SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PUSHPULL_BUILD_DIR="${PUSHPULL_BUILD_DIR:-$PUSHPULL_SOURCE_DIR/build}"
export PUSHPULL_SOURCE_DIR PUSHPULL_BUILD_DIR

pushpull_packages=(cmake ninja-build g++ pkg-config libsundials-dev libeigen3-dev libceres-dev libhdf5-dev
                   libboost-test-dev liblemon-dev
                   python3-dev pybind11-dev python3-numpy python3-pytest python3-h5py python3-torch)
missing=()
for p in "${pushpull_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  line="apt-get install -y ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    echo "pushpull: installing missing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "pushpull: missing Debian packages. Install them with:" >&2
    echo "  sudo apt-get update && sudo $line" >&2
    exit 1
  fi
fi

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [ ! -f "$PUSHPULL_BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S "$PUSHPULL_SOURCE_DIR" -B "$PUSHPULL_BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >&2
fi
cmake --build "$PUSHPULL_BUILD_DIR" --parallel "$(nproc)" >&2
