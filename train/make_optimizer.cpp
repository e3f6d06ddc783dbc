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

// Two groups sharing `options`; the second with weight decay 0.
template <typename Options>
std::vector<torch::optim::OptimizerParamGroup> groups(const Options& options, std::vector<at::Tensor> decay,
                                                      std::vector<at::Tensor> no_decay) {
  std::vector<torch::optim::OptimizerParamGroup> result;
  result.emplace_back(std::move(decay), std::make_unique<Options>(options));
  if (!no_decay.empty()) {
    Options zero = options;
    zero.weight_decay(0.0);
    result.emplace_back(std::move(no_decay), std::make_unique<Options>(zero));
  }
  return result;
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& c, std::vector<at::Tensor> decay,
                                                        std::vector<at::Tensor> no_decay) {
  const auto betas = std::make_tuple(c.beta1, c.beta2);
  switch (c.name) {
    case Name::kAdamW8bit:
    case Name::kAdam8bit: {
      const auto options =
          AdamW8bitOptions(c.lr).betas(betas).eps(c.eps).weight_decay(c.weight_decay).min_8bit_size(c.min_8bit_size);
      return std::make_unique<AdamW8bit>(groups(options, std::move(decay), std::move(no_decay)), options);
    }
    case Name::kSgd8bit: {
      const auto options =
          SGD8bitOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay).min_8bit_size(c.min_8bit_size);
      return std::make_unique<SGD8bit>(groups(options, std::move(decay), std::move(no_decay)), options);
    }
    case Name::kLion8bit: {
      const auto options =
          Lion8bitOptions(c.lr).betas(betas).weight_decay(c.weight_decay).min_8bit_size(c.min_8bit_size);
      return std::make_unique<Lion8bit>(groups(options, std::move(decay), std::move(no_decay)), options);
    }
    case Name::kAdamW: {
      const auto options = torch::optim::AdamWOptions(c.lr).betas(betas).eps(c.eps).weight_decay(c.weight_decay);
      return std::make_unique<torch::optim::AdamW>(groups(options, std::move(decay), std::move(no_decay)), options);
    }
    case Name::kSgd: {
      // LibTorch treats a group value equal to the options' constructor default (weight_decay 0 for
      // SGD) as "unset" and replaces it with the optimizer's defaults; passing the no-decay options
      // as the defaults keeps the no-decay group at 0.
      const auto options = torch::optim::SGDOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay);
      auto defaults = options;
      defaults.weight_decay(0.0);
      return std::make_unique<torch::optim::SGD>(groups(options, std::move(decay), std::move(no_decay)), defaults);
    }
  }
  throw ConfigError(std::string("unknown optimizer '") + to_string(c.name) + "'");
}

}  // namespace ternary
