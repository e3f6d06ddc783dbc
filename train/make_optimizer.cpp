#include "train/make_optimizer.h"

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "common/config_error.h"
#include "optim/adamw8bit.h"
#include "optim/lion8bit.h"
#include "optim/sgd8bit.h"

namespace ternary {
namespace {

using Name = OptimizerName;

// Each group with `options`, its weight decay switched off where the group says so, and its own
// min_8bit_size for the 8-bit optimizers.
template <typename Options>
std::vector<torch::optim::OptimizerParamGroup> torch_groups(const Options& options, std::vector<ParameterGroup> groups) {
  std::vector<torch::optim::OptimizerParamGroup> result;
  for (auto& group : groups) {
    Options o = options;
    if (!group.weight_decay) o.weight_decay(0.0);
    if constexpr (requires { o.min_8bit_size(int64_t{0}); })
      if (group.min_8bit_size) o.min_8bit_size(*group.min_8bit_size);
    result.emplace_back(std::move(group.parameters), std::make_unique<Options>(o));
  }
  return result;
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& c, std::vector<at::Tensor> decay,
                                                        std::vector<at::Tensor> no_decay) {
  std::vector<ParameterGroup> groups;
  groups.push_back({std::move(decay), true, std::nullopt});
  if (!no_decay.empty()) groups.push_back({std::move(no_decay), false, std::nullopt});
  return make_optimizer(c, std::move(groups));
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& c, std::vector<ParameterGroup> groups) {
  if (groups.empty()) groups.emplace_back();
  const auto betas = std::make_tuple(c.beta1, c.beta2);
  switch (c.name) {
    case Name::kAdamW8bit:
    case Name::kAdam8bit: {
      const auto options =
          AdamW8bitOptions(c.lr).betas(betas).eps(c.eps).weight_decay(c.weight_decay).min_8bit_size(c.min_8bit_size);
      return std::make_unique<AdamW8bit>(torch_groups(options, std::move(groups)), options);
    }
    case Name::kSgd8bit: {
      const auto options =
          SGD8bitOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay).min_8bit_size(c.min_8bit_size);
      return std::make_unique<SGD8bit>(torch_groups(options, std::move(groups)), options);
    }
    case Name::kLion8bit: {
      const auto options =
          Lion8bitOptions(c.lr).betas(betas).weight_decay(c.weight_decay).min_8bit_size(c.min_8bit_size);
      return std::make_unique<Lion8bit>(torch_groups(options, std::move(groups)), options);
    }
    case Name::kAdamW: {
      const auto options = torch::optim::AdamWOptions(c.lr).betas(betas).eps(c.eps).weight_decay(c.weight_decay);
      return std::make_unique<torch::optim::AdamW>(torch_groups(options, std::move(groups)), options);
    }
    case Name::kSgd: {
      // LibTorch treats a group value equal to the options' constructor default (weight_decay 0 for
      // SGD) as "unset" and replaces it with the optimizer's defaults; passing the no-decay options
      // as the defaults keeps the no-decay group at 0.
      const auto options = torch::optim::SGDOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay);
      auto defaults = options;
      defaults.weight_decay(0.0);
      return std::make_unique<torch::optim::SGD>(torch_groups(options, std::move(groups)), defaults);
    }
  }
  throw ConfigError(std::string("unknown optimizer '") + to_string(c.name) + "'");
}

}  // namespace ternary
