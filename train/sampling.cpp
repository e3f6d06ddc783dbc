#include "train/sampling.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace ternary {

std::vector<int32_t> generate(LlamaModel& model, std::vector<int32_t> prompt, const SamplingOptions& options,
                              at::Generator& generator) {
  TORCH_CHECK(!prompt.empty(), "generate: the prompt must have at least one token");
  TORCH_CHECK(options.temperature >= 0, "generate: temperature must be >= 0, got ", options.temperature);
  const bool was_training = model->is_training();
  model->eval();
  at::NoGradGuard no_grad;
  const int64_t window = model->config().max_seq_len;
  const auto device = model->embed_tokens->weight.device();
  for (int64_t i = 0; i < options.max_new_tokens; ++i) {
    const int64_t start = std::max<int64_t>(0, static_cast<int64_t>(prompt.size()) - window);
    std::vector<int64_t> context(prompt.begin() + start, prompt.end());
    const at::Tensor tokens = at::tensor(context, at::kLong).unsqueeze(0).to(device);
    at::Tensor logits = model->forward(tokens).select(1, -1).squeeze(0).to(at::kFloat).cpu();
    if (options.vocab_limit > 0 && options.vocab_limit < logits.size(0)) logits = logits.slice(0, 0, options.vocab_limit);
    int64_t next;
    if (options.temperature == 0) {
      next = logits.argmax().item<int64_t>();
    } else {
      logits = logits / options.temperature;
      if (options.top_k > 0 && options.top_k < logits.size(0)) {
        const at::Tensor kth = std::get<0>(logits.topk(options.top_k)).select(0, -1);
        logits = logits.masked_fill(logits < kth, -std::numeric_limits<float>::infinity());
      }
      next = at::multinomial(at::softmax(logits, 0), 1, false, generator).item<int64_t>();
    }
    prompt.push_back(static_cast<int32_t>(next));
  }
  model->train(was_training);
  return prompt;
}

}  // namespace ternary
