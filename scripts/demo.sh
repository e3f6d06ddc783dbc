#!/usr/bin/env bash
# The README's main job: installs what is missing, builds, then runs the quantization-aware
# training example (float vs ternary MLP, YAML recipe, save/load). Later issues turn this into
# train -> export -> run of configs/llama_qat.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="$(scripts/build.sh | tail -n 1)"
"$BUILD_DIR/examples/quantize_model" "$@"
