#!/usr/bin/env bash
# Builds Ternary Engine with its CUDA kernels (TERNARY_ENABLE_CUDA=ON) on a GPU machine that has
# PyTorch (CUDA) and nvcc but no package registry:
#   LibTorch       the machine's own PyTorch (torch.utils.cmake_prefix_path)
#   other deps     Debian packages, downloaded beforehand on a machine with apt and unpacked here
#                  into a local prefix (nothing is installed system-wide)
#
#   scripts/build_gpu.sh fetch            on a Debian machine with apt: .debs into .gpu-debs/
#   scripts/build_gpu.sh build [DIR]      on the GPU machine: unpack, configure, build (default build-gpu/)
#   scripts/build_gpu.sh test [DIR]       build, then the whole suite (the GPU tests included)
# CUDA_ARCHS (default 90: H100/H200) picks the GPU architectures. See docs/cuda.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DEBS_DIR=.gpu-debs
PREFIX="$PWD/.gpu-deps"
DEB_PACKAGES=(libyaml-cpp-dev libyaml-cpp0.7 libeigen3-dev libgtest-dev libgmock-dev nlohmann-json3-dev
              libcli11-dev libsentencepiece-dev libsentencepiece0 libprotobuf-lite32)
log() { echo "[build_gpu] $*" >&2; }

fetch() {
  mkdir -p "$DEBS_DIR"
  (cd "$DEBS_DIR" && apt-get download "${DEB_PACKAGES[@]}")
  log "downloaded $(ls "$DEBS_DIR" | wc -l) packages into $DEBS_DIR/ (carry it to the GPU machine)"
}

unpack() {
  [ -d "$DEBS_DIR" ] && ls "$DEBS_DIR"/*.deb >/dev/null 2>&1 ||
    { log "error: no packages in $DEBS_DIR/; run 'scripts/build_gpu.sh fetch' on a machine with apt first"; exit 1; }
  if [ ! -f "$PREFIX/.complete" ]; then
    rm -rf "$PREFIX"
    for deb in "$DEBS_DIR"/*.deb; do dpkg -x "$deb" "$PREFIX"; done
    touch "$PREFIX/.complete"
  fi
  local lib="$PREFIX/usr/lib/x86_64-linux-gnu"
  export CPATH="$PREFIX/usr/include${CPATH:+:$CPATH}"
  export LIBRARY_PATH="$lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

build() {
  local dir="$1"
  unpack
  command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || { log "error: nvcc not found"; exit 1; }
  local torch_prefix
  torch_prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')" ||
    { log "error: python3 cannot import torch; this script needs the machine's PyTorch"; exit 1; }
  python3 -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' ||
    { log "error: the machine's PyTorch is a CPU build; a CUDA build is needed"; exit 1; }
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERNARY_ENABLE_CUDA=ON \
    -DTERNARY_TORCH_FROM_CONFIG=ON -DCMAKE_PREFIX_PATH="$torch_prefix;$PREFIX/usr" \
    -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" -DTERNARY_USE_PCH=ON >&2
  cmake --build "$dir" -j "$(nproc)" >&2
  echo "$dir"
}

case "${1:-build}" in
  fetch) fetch ;;
  build) build "${2:-build-gpu}" ;;
  test)
    unpack  # LD_LIBRARY_PATH for the tests (build runs in a subshell)
    dir="$(build "${2:-build-gpu}")"
    ctest --test-dir "$dir" --output-on-failure -j 4 ;;
  *) log "usage: scripts/build_gpu.sh fetch | build [DIR] | test [DIR]"; exit 2 ;;
esac
