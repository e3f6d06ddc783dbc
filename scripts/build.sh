#!/usr/bin/env bash
# Configures and builds the project (Release, Ninja, ccache, precompiled LibTorch header).
# Usage: scripts/build.sh [extra cmake -D args]. Build dir: $TERNARY_BUILD_DIR or ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_ROOT="$(scripts/setup.sh | tail -n 1)"
BUILD_DIR="${TERNARY_BUILD_DIR:-build}"
# The PCH's timestamps and __DATE__ do not change our objects; let ccache reuse them.
# Paths relative to the checkout, so a fresh clone (CI) hits the cache too.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
JOBS="${TERNARY_JOBS:-$(nproc)}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERNARY_TORCH_ROOT="$TORCH_ROOT" "$@" >&2
elif [ $# -gt 0 ]; then
  cmake "$BUILD_DIR" "$@" >&2
fi
cmake --build "$BUILD_DIR" -j "$JOBS" >&2
echo "$BUILD_DIR"
