#!/usr/bin/env bash
# The main job: installs what is missing, configures, builds, then runs `pushpull validate` with its defaults,
# writes the HDF5 report (validation-report.h5) and prints the summary table. Extra arguments go to validate.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/cmake/bootstrap.sh"
exec "$PUSHPULL_BUILD_DIR/pushpull" validate "$@"
