#include "runtime/perplexity.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace ternary::runtime {

PerplexityResult perplexity(LlamaRuntime& model, const std::vector<int32_t>& tokens, int64_t window,
                            int64_t max_windows) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (window <= 0 || window > model.shape().context_length)
    throw std::invalid_argument("perplexity window " + std::to_string(window) + " must be in 1.." +
                                std::to_string(model.shape().context_length));
  int64_t windows = (n - 1) / window;
  if (max_windows > 0) windows = std::min(windows, max_windows);
  if (windows < 1)
    throw std::invalid_argument("perplexity needs at least " + std::to_string(window + 1) + " tokens, the text has " +
                                std::to_string(n));
  const int64_t vocab = model.shape().vocab_size;
  double total = 0;
  for (int64_t w = 0; w < windows; ++w) {
    const auto begin = tokens.begin() + w * window;
    model.reset();
    const std::vector<float> logits = model.forward(std::vector<int32_t>(begin, begin + window), /*all_logits=*/true);
    for (int64_t t = 0; t < window; ++t) {
      const float* row = logits.data() + t * vocab;
      const float max = *std::max_element(row, row + vocab);
      double sum = 0;
      for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(row[i] - max));
      total += std::log(sum) + max - row[*(begin + t + 1)];
    }
  }
  PerplexityResult r;
  r.tokens = windows * window;
  r.windows = windows;
  r.mean_nll = total / static_cast<double>(r.tokens);
  r.perplexity = std::exp(r.mean_nll);
  if (!std::isfinite(r.mean_nll))
    throw std::runtime_error("the perplexity is not finite (the model produced NaN or Inf logits): its weights are "
                             "damaged or come from a diverged run; re-export a good checkpoint");
  return r;
}

}  // namespace ternary::runtime
