#include "optim/lion8bit.h"

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include "kernels/update_rules.h"

namespace ternary {

void Lion8bitOptions::serialize(torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(lr);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(betas);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(weight_decay);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(min_8bit_size);
}

void Lion8bitOptions::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, lr);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(betas_t, betas);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, weight_decay);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(int64_t, min_8bit_size);
}

Lion8bit::Lion8bit(const std::vector<torch::optim::OptimizerParamGroup>& param_groups, Lion8bitOptions defaults)
    : Blockwise8bitOptimizer(param_groups, std::make_unique<Lion8bitOptions>(defaults)) {
  restore_group_options(param_groups);
  for (const auto& group : param_groups_) {
    const auto& o = static_cast<const Lion8bitOptions&>(group.options());
    const auto [beta1, beta2] = o.betas();
    TORCH_CHECK(o.lr() >= 0, "Lion8bit: invalid learning rate ", o.lr());
    TORCH_CHECK(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "Lion8bit: betas must be in [0, 1), got (", beta1,
                ", ", beta2, ")");
    TORCH_CHECK(o.weight_decay() >= 0, "Lion8bit: invalid weight_decay ", o.weight_decay());
  }
}

void Lion8bit::update(at::Tensor& param, const torch::optim::OptimizerOptions& options, int64_t ordinal) {
  update_with<Lion8bitOptions>(param, options, ordinal, "Lion8bit", 1, [](const Lion8bitOptions& o, int64_t) {
    const auto [beta1, beta2] = o.betas();
    return kernels::LionRule::make(o.lr(), beta1, beta2, o.weight_decay());
  });
}

void Lion8bit::save(torch::serialize::OutputArchive& archive) const { save_archive<Lion8bitOptions>(archive); }

void Lion8bit::load(torch::serialize::InputArchive& archive) { load_archive<Lion8bitOptions>(archive, "Lion8bit", 1); }

}  // namespace ternary
