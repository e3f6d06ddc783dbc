// SGD8bit: SGD with momentum whose momentum buffer is blockwise 8-bit (bitsandbytes SGD8bit).
// Weight decay is L2 (added to the gradient), as in torch::optim::SGD.
#pragma once

#include "optim/blockwise_optimizer.h"

namespace ternary {

struct SGD8bitOptions : public torch::optim::OptimizerCloneableOptions<SGD8bitOptions> {
  SGD8bitOptions(double lr = 1e-2) : lr_(lr) {}
  TORCH_ARG(double, lr) = 1e-2;
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(double, weight_decay) = 0.0;
  TORCH_ARG(int64_t, min_8bit_size) = 4096;

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
};

class SGD8bit : public Blockwise8bitOptimizer {
 public:
  explicit SGD8bit(const std::vector<torch::optim::OptimizerParamGroup>& param_groups, SGD8bitOptions defaults = {});
  explicit SGD8bit(std::vector<at::Tensor> params, SGD8bitOptions defaults = {})
      : SGD8bit({torch::optim::OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 protected:
  void update(at::Tensor& param, const torch::optim::OptimizerOptions& options, int64_t ordinal) override;
};

}  // namespace ternary
