// Next-token sampling for ternary-run: greedy at temperature 0, else softmax(logits / T)
// restricted to the top-k tokens and then to the smallest set whose probability reaches top-p,
// drawn with a seeded generator (same seed, same text).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace ternary::runtime {

struct SamplerOptions {
  double temperature = 0.8;
  int64_t top_k = 40;   // 0 = all
  double top_p = 0.95;  // 1 = all
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& options);  // throws std::invalid_argument for bad options
  // Throws std::runtime_error when a logit is NaN or Inf (a damaged or diverged model).
  int32_t sample(const float* logits, int64_t vocab);

 private:
  SamplerOptions options_;
  std::mt19937_64 rng_;
};

}  // namespace ternary::runtime
