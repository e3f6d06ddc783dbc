#include "optim/adamw8bit.h"

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include "kernels/update_rules.h"

namespace ternary {

void AdamW8bitOptions::serialize(torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(lr);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(betas);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(eps);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(weight_decay);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(min_8bit_size);
}

void AdamW8bitOptions::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, lr);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(betas_t, betas);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, eps);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, weight_decay);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(int64_t, min_8bit_size);
}

void AdamW8bitOptions::validate() const {
  const auto [beta1, beta2] = betas();
  TORCH_CHECK(lr() >= 0, "AdamW8bit: invalid learning rate ", lr());
  TORCH_CHECK(eps() >= 0, "AdamW8bit: invalid eps ", eps());
  TORCH_CHECK(beta1 >= 0 && beta1 < 1, "AdamW8bit: invalid beta1 ", beta1, " (need 0 <= beta1 < 1)");
  TORCH_CHECK(beta2 >= 0 && beta2 < 1, "AdamW8bit: invalid beta2 ", beta2, " (need 0 <= beta2 < 1)");
  TORCH_CHECK(weight_decay() >= 0, "AdamW8bit: invalid weight_decay ", weight_decay());
  TORCH_CHECK(min_8bit_size() >= 0, "AdamW8bit: invalid min_8bit_size ", min_8bit_size());
}

AdamW8bit::AdamW8bit(const std::vector<torch::optim::OptimizerParamGroup>& param_groups, AdamW8bitOptions defaults)
    : Blockwise8bitOptimizer(param_groups, std::make_unique<AdamW8bitOptions>(defaults)) {
  restore_group_options(param_groups);
  for (const auto& group : param_groups_) static_cast<const AdamW8bitOptions&>(group.options()).validate();
}

void AdamW8bit::update(at::Tensor& param, const torch::optim::OptimizerOptions& options, int64_t ordinal) {
  update_with<AdamW8bitOptions>(param, options, ordinal, "AdamW8bit", 2, [](const AdamW8bitOptions& o, int64_t step) {
    const auto [beta1, beta2] = o.betas();
    return kernels::AdamRule::make(o.lr(), beta1, beta2, o.eps(), o.weight_decay(), step);
  });
}

void AdamW8bit::save(torch::serialize::OutputArchive& archive) const { save_archive<AdamW8bitOptions>(archive); }

void AdamW8bit::load(torch::serialize::InputArchive& archive) {
  load_archive<AdamW8bitOptions>(archive, "AdamW8bit", 2);
}

}  // namespace ternary
