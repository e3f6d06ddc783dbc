// AdamW8bit / Adam8bit: Adam with blockwise 8-bit state, bitsandbytes-equivalent.
//   ternary::AdamW8bit optimizer(model->parameters(), ternary::AdamW8bitOptions(1e-3).weight_decay(0.1));
// State per parameter: 2 bytes + 8/256 bytes per element (vs 8 for torch::optim::AdamW).
#pragma once

#include "optim/blockwise_optimizer.h"

namespace ternary {

struct AdamW8bitOptions : public torch::optim::OptimizerCloneableOptions<AdamW8bitOptions> {
  AdamW8bitOptions(double lr = 1e-3) : lr_(lr) {}
  TORCH_ARG(double, lr) = 1e-3;
  typedef std::tuple<double, double> betas_t;
  TORCH_ARG(betas_t, betas) = std::make_tuple(0.9, 0.999);
  TORCH_ARG(double, eps) = 1e-8;
  TORCH_ARG(double, weight_decay) = 1e-2;  // decoupled: p *= 1 - lr * weight_decay each step
  TORCH_ARG(int64_t, min_8bit_size) = 4096;  // smaller tensors keep fp32 state

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
  void validate() const;  // throws naming the bad value
};

class AdamW8bit : public Blockwise8bitOptimizer {
 public:
  explicit AdamW8bit(const std::vector<torch::optim::OptimizerParamGroup>& param_groups,
                     AdamW8bitOptions defaults = {});
  explicit AdamW8bit(std::vector<at::Tensor> params, AdamW8bitOptions defaults = {})
      : AdamW8bit({torch::optim::OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 protected:
  void update(at::Tensor& param, const torch::optim::OptimizerOptions& options, int64_t ordinal) override;
};

// Adam8bit: AdamW8bit with weight_decay 0 by default.
class Adam8bit : public AdamW8bit {
 public:
  explicit Adam8bit(std::vector<at::Tensor> params, AdamW8bitOptions defaults = AdamW8bitOptions().weight_decay(0.0))
      : AdamW8bit(std::move(params), std::move(defaults)) {}
  explicit Adam8bit(const std::vector<torch::optim::OptimizerParamGroup>& param_groups,
                    AdamW8bitOptions defaults = AdamW8bitOptions().weight_decay(0.0))
      : AdamW8bit(param_groups, std::move(defaults)) {}
};

}  // namespace ternary
