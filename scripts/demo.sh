#!/usr/bin/env bash
# The README's main job: installs what is missing, builds, then
#   1. trains configs/llama_qat.yaml (a ternary BitNet b1.58 LLaMA on the bundled tinyshakespeare,
#      about 5 minutes on 2 cores) into a new runs/llama_qat-<time>/ directory,
#   2. exports its final checkpoint to runs/llama_qat-<time>/model.gguf (TQ2_0),
#   3. generates a sample with the LibTorch-free runtime, ternary-run.
# Extra arguments go to ternary-train (e.g. --set training.steps=300 for a quick look).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="$(scripts/build.sh | tail -n 1)"
RUN_DIR="runs/llama_qat-$(date +%Y%m%d-%H%M%S)"
"$BUILD_DIR/bin/ternary-train" --config configs/llama_qat.yaml --set output_dir="$RUN_DIR" "$@"
"$BUILD_DIR/bin/ternary-export" --checkpoint "$RUN_DIR" --out "$RUN_DIR/model.gguf"
echo "--- ternary-run sample ---"
"$BUILD_DIR/bin/ternary-run" --model "$RUN_DIR/model.gguf" --prompt "ROMEO:" -n 300 --seed 1
