// OptimizerConfig -> the torch::optim::Optimizer it names (LibTorch; the config itself is not).
#pragma once

#include <torch/optim/optimizer.h>

#include <memory>
#include <optional>
#include <vector>

#include "train/optimizer_config.h"

namespace ternary {

// Weight decay applies to `decay` only; `no_decay` (norms, biases, quantizer scales) gets 0.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& config, std::vector<at::Tensor> decay,
                                                        std::vector<at::Tensor> no_decay = {});

// One parameter group with its own weight-decay switch and, for 8-bit optimizers, its own
// min_8bit_size (the sharded optimizer decides 8-bit or fp32 state on whole parameters, not on
// the pieces it steps).
struct ParameterGroup {
  std::vector<at::Tensor> parameters;
  bool weight_decay = true;
  std::optional<int64_t> min_8bit_size;
};

// The same optimizer over explicit groups (at least one; an empty one is allowed).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& config,
                                                        std::vector<ParameterGroup> groups);

}  // namespace ternary
