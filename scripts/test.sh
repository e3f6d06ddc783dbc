#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every test (ctest),
# including the install + find_package check of examples/. Idempotent; fast the second time.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="$(scripts/build.sh | tail -n 1)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${TERNARY_JOBS:-$(nproc)}" "$@"
