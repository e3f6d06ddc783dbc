// ternary-export --random CONFIG.yaml: a model file with the shape and tokenizer of a training
// config and random weights, in seconds, so benchmarks and tests can run real-sized models (a
// 1B shape with a 32k vocabulary) without training one. Every linear is ternary as the default
// preset (bitnet_b158: one absmean scale per tensor, int8 per-token inputs) lays it out:
//   trits uniform in {-1, 0, 1}, scale sqrt(1.5 / in) (unit-variance outputs for unit-variance
//   inputs: 2/3 of the trits are nonzero); norms 1; embedding N(0, 1) and output N(0, 1 / dim)
//   (unit-variance logits), written as --output-type says.
// The same seed gives the same file. LibTorch-free.
#pragma once

#include <cstdint>
#include <string>

#include "export/gguf_export.h"
#include "train/train_config.h"

namespace ternary {

ExportSummary write_random_model(const TrainConfig& config, const std::string& out_path, const ExportOptions& options,
                                 uint64_t seed);

}  // namespace ternary
