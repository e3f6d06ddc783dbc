// Helpers for optimizer tests: drive two optimizers with identical gradients.
#pragma once

#include <ATen/ATen.h>
#include <torch/optim/optimizer.h>

namespace ternary::testing {

// One step of each optimizer, both parameters receiving a copy of `grad`.
inline void step_both(torch::optim::Optimizer& first, const at::Tensor& first_param, torch::optim::Optimizer& second,
                      const at::Tensor& second_param, const at::Tensor& grad) {
  at::Tensor a = first_param, b = second_param;
  a.mutable_grad() = grad.clone().view(a.sizes()).to(a.scalar_type());
  b.mutable_grad() = grad.clone().view(b.sizes()).to(b.scalar_type());
  first.step();
  second.step();
}

// `steps` steps of both with fresh N(0, scale^2) gradients shaped like first_param.
inline void run_both(torch::optim::Optimizer& first, const at::Tensor& first_param, torch::optim::Optimizer& second,
                     const at::Tensor& second_param, int steps, double scale = 1.0) {
  for (int step = 0; step < steps; ++step)
    step_both(first, first_param, second, second_param, at::randn(first_param.sizes()) * scale);
}

}  // namespace ternary::testing
