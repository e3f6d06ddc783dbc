#!/usr/bin/env bash
# The README's main job: installs what is missing, builds, then trains configs/llama_qat.yaml
# (a ternary BitNet b1.58 LLaMA on the bundled tinyshakespeare, ~2 minutes on 2 cores) into a
# new runs/llama_qat-<time> directory, printing progress, eval losses and samples.
# Extra arguments go to ternary-train (e.g. --set training.steps=500).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="$(scripts/build.sh | tail -n 1)"
RUN_DIR="runs/llama_qat-$(date +%Y%m%d-%H%M%S)"
"$BUILD_DIR/bin/ternary-train" --config configs/llama_qat.yaml --set output_dir="$RUN_DIR" "$@"
echo "trained model: $RUN_DIR/checkpoints (metrics: $RUN_DIR/metrics.jsonl)"
