#include "optim/sgd8bit.h"

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include "kernels/update_rules.h"

namespace ternary {

void SGD8bitOptions::serialize(torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(lr);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(momentum);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(weight_decay);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(min_8bit_size);
}

void SGD8bitOptions::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, lr);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, momentum);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, weight_decay);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(int64_t, min_8bit_size);
}

SGD8bit::SGD8bit(const std::vector<torch::optim::OptimizerParamGroup>& param_groups, SGD8bitOptions defaults)
    : Blockwise8bitOptimizer(param_groups, std::make_unique<SGD8bitOptions>(defaults)) {
  restore_group_options(param_groups);
  for (const auto& group : param_groups_) {
    const auto& o = static_cast<const SGD8bitOptions&>(group.options());
    TORCH_CHECK(o.lr() >= 0, "SGD8bit: invalid learning rate ", o.lr());
    TORCH_CHECK(o.momentum() > 0 && o.momentum() < 1, "SGD8bit: momentum must be in (0, 1) (its state is what is ",
                "stored in 8 bits), got ", o.momentum());
    TORCH_CHECK(o.weight_decay() >= 0, "SGD8bit: invalid weight_decay ", o.weight_decay());
  }
}

void SGD8bit::update(at::Tensor& param, const torch::optim::OptimizerOptions& options, int64_t ordinal) {
  update_with<SGD8bitOptions>(param, options, ordinal, "SGD8bit", 1, [](const SGD8bitOptions& o, int64_t step) {
    return kernels::MomentumRule{static_cast<float>(o.momentum()), static_cast<float>(o.lr()),
                        static_cast<float>(o.weight_decay()), step == 1};
  });
}

void SGD8bit::save(torch::serialize::OutputArchive& archive) const { save_archive<SGD8bitOptions>(archive); }

void SGD8bit::load(torch::serialize::InputArchive& archive) { load_archive<SGD8bitOptions>(archive, "SGD8bit", 1); }

}  // namespace ternary
