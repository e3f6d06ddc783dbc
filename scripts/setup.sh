#!/usr/bin/env bash
# Installs everything the build needs, idempotently: Debian packages with apt-get, and
# LibTorch (CPU part of the pinned `torch` wheel from PyPI) into a cache outside the repo.
# Prints the LibTorch root on its last line. Fast the second time: checks, then returns.
set -euo pipefail

TORCH_VERSION="2.15.0"
# libtorch_cpu.so of the PyPI wheel links these two CUDA libraries (loaded, never used on CPU).
CUDA_RUNTIME_WHEEL="nvidia-cuda-runtime==13.2.86"
CUDA_CUPTI_WHEEL="nvidia-cuda-cupti==13.2.86"
CACHE_ROOT="${TERNARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ternary-engine}"
TORCH_ROOT="$CACHE_ROOT/libtorch-$TORCH_VERSION"

APT_PACKAGES=(build-essential cmake ninja-build ccache pkg-config python3 python3-pip unzip
              libyaml-cpp-dev libeigen3-dev libgtest-dev libgmock-dev nlohmann-json3-dev
              libcli11-dev libsentencepiece-dev libgloo-dev
              clang libclang-rt-14-dev libomp-dev llvm)  # the last four: sanitizer and fuzzing job

log() { echo "[setup] $*" >&2; }

install_apt_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_libtorch() {
  [ -f "$TORCH_ROOT/.complete" ] && return 0
  log "installing LibTorch $TORCH_VERSION (CPU libraries of the PyPI torch wheel) into $TORCH_ROOT"
  local work; work="$(mktemp -d "$CACHE_ROOT/tmp.XXXXXX")"
  trap 'rm -rf "$work"' RETURN
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_25_x86_64 \
      --platform manylinux_2_17_x86_64 -d "$work/wheels" \
      "torch==$TORCH_VERSION" "$CUDA_RUNTIME_WHEEL" "$CUDA_CUPTI_WHEEL"
  mkdir -p "$work/x"
  unzip -q "$work"/wheels/torch-*.whl -d "$work/x" 'torch/include/*' 'torch/share/*' \
      'torch/lib/libc10.so' 'torch/lib/libtorch_cpu.so' 'torch/lib/libgomp.so.1'
  unzip -q -o "$work"/wheels/nvidia_cuda_runtime-*.whl -d "$work/x" '*/libcudart.so.13'
  unzip -q -o "$work"/wheels/nvidia_cuda_cupti-*.whl -d "$work/x" '*/libcupti.so.13'
  local staged="$work/libtorch"
  mkdir -p "$staged/lib"
  mv "$work/x/torch/include" "$work/x/torch/share" "$staged/"
  mv "$work"/x/torch/lib/* "$staged/lib/"
  find "$work/x/nvidia" -name 'lib*.so.13' -exec mv {} "$staged/lib/" \;
  echo "$TORCH_VERSION" > "$staged/.complete"
  rm -rf "$TORCH_ROOT"
  mv "$staged" "$TORCH_ROOT"   # atomic: a half-installed cache is never marked complete
}

mkdir -p "$CACHE_ROOT"
install_apt_packages
install_libtorch
echo "$TORCH_ROOT"
