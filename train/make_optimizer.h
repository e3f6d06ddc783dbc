// OptimizerConfig -> the torch::optim::Optimizer it names (LibTorch; the config itself is not).
#pragma once

#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

#include "train/optimizer_config.h"

namespace ternary {

// Weight decay applies to `decay` only; `no_decay` (norms, biases, quantizer scales) gets 0.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& config, std::vector<at::Tensor> decay,
                                                        std::vector<at::Tensor> no_decay = {});

}  // namespace ternary
