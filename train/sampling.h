// Text generation from a LlamaModel during training (eval samples): temperature and top-k
// sampling from a caller-owned generator, greedy when temperature is 0. Recomputes the whole
// window each token (no KV cache): fine for a few hundred tokens at eval; the runtime has the
// fast path.
#pragma once

#include <ATen/core/Generator.h>

#include <cstdint>
#include <vector>

#include "models/llama_model.h"

namespace ternary {

struct SamplingOptions {
  int64_t max_new_tokens = 200;
  double temperature = 0.8;  // 0 = greedy (argmax)
  int64_t top_k = 0;         // 0 = whole vocabulary
  int64_t vocab_limit = 0;   // sample only ids below this (a model vocabulary can outgrow its tokenizer); 0 = all
};

// The prompt followed by up to max_new_tokens sampled ids. The context is cropped to the last
// max_seq_len tokens. The model is left in the train/eval mode it was in.
std::vector<int32_t> generate(LlamaModel& model, std::vector<int32_t> prompt, const SamplingOptions& options,
                              at::Generator& generator);

}  // namespace ternary
