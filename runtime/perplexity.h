// Perplexity as the trainer's eval measures it: consecutive non-overlapping windows of `window`
// tokens, each predicting its next tokens from a fresh context; the mean cross-entropy over all.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/llama_runtime.h"

namespace ternary::runtime {

struct PerplexityResult {
  double mean_nll = 0;  // nats per token (the trainer's "val loss")
  double perplexity = 0;
  int64_t tokens = 0, windows = 0;
};

// Throws std::invalid_argument when `tokens` holds less than one window plus one.
PerplexityResult perplexity(LlamaRuntime& model, const std::vector<int32_t>& tokens, int64_t window,
                            int64_t max_windows = 0);

}  // namespace ternary::runtime
