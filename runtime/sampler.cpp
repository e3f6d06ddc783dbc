#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace ternary::runtime {

Sampler::Sampler(const SamplerOptions& options) : options_(options), rng_(options.seed) {
  if (!(options.temperature >= 0)) throw std::invalid_argument("--temperature must be >= 0");
  if (options.top_k < 0) throw std::invalid_argument("--top-k must be >= 0");
  if (!(options.top_p > 0 && options.top_p <= 1)) throw std::invalid_argument("--top-p must be in (0, 1]");
}

int32_t Sampler::sample(const float* logits, int64_t vocab) {
  if (vocab <= 0) throw std::invalid_argument("sample: the vocabulary is empty");
  for (int64_t i = 0; i < vocab; ++i)
    if (!std::isfinite(logits[i]))
      throw std::runtime_error("the model produced a non-finite logit (NaN or Inf) for token " + std::to_string(i) +
                               ": its weights are damaged or come from a diverged run; re-export a good checkpoint");
  if (options_.temperature == 0) return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  const int64_t k = options_.top_k > 0 ? std::min(options_.top_k, vocab) : vocab;
  std::vector<double> probs(static_cast<size_t>(k));
  double total = 0;
  for (int64_t i = 0; i < k; ++i)
    total += probs[static_cast<size_t>(i)] = std::exp((logits[order[static_cast<size_t>(i)]] - logits[order[0]]) / options_.temperature);
  int64_t keep = 0;
  double mass = 0;
  while (keep < k && mass < options_.top_p * total) mass += probs[static_cast<size_t>(keep++)];
  std::uniform_real_distribution<double> uniform(0.0, mass);
  double r = uniform(rng_);
  for (int64_t i = 0; i < keep; ++i)
    if ((r -= probs[static_cast<size_t>(i)]) <= 0) return order[static_cast<size_t>(i)];
  return order[static_cast<size_t>(keep - 1)];
}

}  // namespace ternary::runtime
