// Lion8bit: Lion (sign of interpolated momentum) with a blockwise 8-bit momentum buffer.
#pragma once

#include "optim/blockwise_optimizer.h"

namespace ternary {

struct Lion8bitOptions : public torch::optim::OptimizerCloneableOptions<Lion8bitOptions> {
  Lion8bitOptions(double lr = 1e-4) : lr_(lr) {}
  TORCH_ARG(double, lr) = 1e-4;
  typedef std::tuple<double, double> betas_t;
  TORCH_ARG(betas_t, betas) = std::make_tuple(0.9, 0.99);
  TORCH_ARG(double, weight_decay) = 0.0;  // decoupled
  TORCH_ARG(int64_t, min_8bit_size) = 4096;

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
};

class Lion8bit : public Blockwise8bitOptimizer {
 public:
  explicit Lion8bit(const std::vector<torch::optim::OptimizerParamGroup>& param_groups, Lion8bitOptions defaults = {});
  explicit Lion8bit(std::vector<at::Tensor> params, Lion8bitOptions defaults = {})
      : Lion8bit({torch::optim::OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 protected:
  void update(at::Tensor& param, const torch::optim::OptimizerOptions& options, int64_t ordinal) override;
};

}  // namespace ternary
