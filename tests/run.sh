#!/usr/bin/env bash
# Installs what is missing, configures, builds, then runs the whole Boost.Test suite through ctest.
# Exits non-zero on any failure.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/cmake/bootstrap.sh"
cd "$PUSHPULL_BUILD_DIR"
ctest --output-on-failure --parallel "$(nproc)" --timeout 900 "$@"
