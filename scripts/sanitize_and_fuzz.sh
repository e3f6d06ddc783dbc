#!/usr/bin/env bash
# The sanitizer and fuzzing job (scripts/test.sh runs it after the suite; CI runs scripts/test.sh):
#  1. the LibTorch-free parts (common, kernels, loaders, runtime) built with clang, ASan + UBSan;
#  2. their test suite, and every fuzz target over its committed seeds and regression inputs;
#  3. each fuzz target for TERNARY_FUZZ_SECONDS (default 30), new inputs kept in the build dir.
# A finding (crash, sanitizer report, leak, timeout) fails the job; its input is saved under
# $BUILD_DIR/findings/<target>/ to be committed to tests/fuzz/regressions/<target>/ with the fix.
# docs/reliability.md says why the LibTorch parts are not in this build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh > /dev/null
BUILD_DIR="${TERNARY_FUZZ_BUILD_DIR:-build-fuzz}"
FUZZ_SECONDS="${TERNARY_FUZZ_SECONDS:-30}"
FUZZ_SEED="${TERNARY_FUZZ_SEED:-1}"  # fixed, so a CI run explores the same way twice
JOBS="${TERNARY_JOBS:-$(nproc)}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTERNARY_WITHOUT_LIBTORCH=ON -DTERNARY_FUZZ=ON -DTERNARY_SANITIZE=address,undefined >&2
fi
cmake --build "$BUILD_DIR" -j "$JOBS" >&2
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMP_WAIT_POLICY=PASSIVE
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
[ "$FUZZ_SECONDS" -gt 0 ] || exit 0
for fuzzer in "$BUILD_DIR"/fuzz/*_fuzz; do
  name="$(basename "$fuzzer" _fuzz)"
  mkdir -p "$BUILD_DIR/corpus/$name" "$BUILD_DIR/findings/$name"
  echo "[fuzz] $name: $FUZZ_SECONDS s" >&2
  "$fuzzer" -seed="$FUZZ_SEED" -max_total_time="$FUZZ_SECONDS" -timeout=20 -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="$BUILD_DIR/findings/$name/" "$BUILD_DIR/corpus/$name" \
    "tests/fuzz/corpus/$name" "tests/fuzz/regressions/$name" 2> "$BUILD_DIR/findings/$name.log" ||
    { tail -n 40 "$BUILD_DIR/findings/$name.log" >&2; echo "[fuzz] $name: FINDING, see $BUILD_DIR/findings/$name/" >&2; exit 1; }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$BUILD_DIR/findings/$name.log" | tr '\n' ' ' >&2; echo >&2
done
