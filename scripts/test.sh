#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every test (ctest),
# including the install + find_package check of examples/; then
#  - the whole suite again built with ASan + UBSan (GCC, LibTorch parts included; measured: the
#    266 tests take 400 s on 2 cores, the build ~10-20 min cold, seconds with a warm ccache);
#    TERNARY_SANITIZE_SUITE=0 skips it;
#  - the sanitizer and fuzzing job (scripts/sanitize_and_fuzz.sh: clang ASan + UBSan build of the
#    LibTorch-free parts and loaders, their tests, each fuzz target for TERNARY_FUZZ_SECONDS,
#    default 30; 0 skips the timed fuzzing).
# Idempotent; fast the second time.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${TERNARY_JOBS:-$(nproc)}"
BUILD_DIR="$(scripts/build.sh | tail -n 1)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "$@"
if [ "${TERNARY_SANITIZE_SUITE:-1}" != 0 ]; then
  ASAN_DIR="$(TERNARY_BUILD_DIR="${TERNARY_ASAN_BUILD_DIR:-build-asan}" \
              scripts/build.sh -DTERNARY_SANITIZE=address,undefined -DTERNARY_BUILD_BENCH=OFF | tail -n 1)"
  # The install check builds examples/ against the package without sanitizer flags: not here.
  ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" \
    ctest --test-dir "$ASAN_DIR" --output-on-failure -j "$JOBS" -E install_and_build_examples "$@"
fi
scripts/sanitize_and_fuzz.sh
