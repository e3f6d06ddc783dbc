#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every test (ctest),
# including the install + find_package check of examples/, then the sanitizer and fuzzing job
# (scripts/sanitize_and_fuzz.sh: ASan + UBSan build of the LibTorch-free parts, their tests, and
# each fuzz target for TERNARY_FUZZ_SECONDS, default 30; 0 skips the timed fuzzing).
# Idempotent; fast the second time.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="$(scripts/build.sh | tail -n 1)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${TERNARY_JOBS:-$(nproc)}" "$@"
scripts/sanitize_and_fuzz.sh
