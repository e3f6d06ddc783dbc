// Helpers for optimizer tests: drive two optimizers with identical gradients, read 8-bit state.
#pragma once

#include <ATen/ATen.h>
#include <torch/optim/optimizer.h>

#include <cmath>

#include "optim/blockwise_optimizer.h"
#include "kernels/blockwise_update.h"
#include "kernels/dynamic_map.h"

namespace ternary::testing {

using namespace kernels;

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

// The 8-bit optimizer state of `param`.
inline const Blockwise8bitParamState& state_of(const torch::optim::Optimizer& opt, const at::Tensor& param) {
  return static_cast<const Blockwise8bitParamState&>(*opt.state().at(param.unsafeGetTensorImpl()));
}

// Blockwise codes and scales back to fp32 values (flat).
inline at::Tensor dequantize(const at::Tensor& codes, const at::Tensor& absmax, bool is_signed) {
  at::Tensor c = codes.reshape(-1).contiguous(), a = absmax.contiguous(), out = at::empty({c.numel()});
  dequantize_blockwise({c.data_ptr<uint8_t>(), a.data_ptr<float>()}, c.numel(), is_signed, out.data_ptr<float>());
  return out;
}

// The brute-force nearest code: smallest float distance, ties to the lower code.
inline int brute_force_nearest(const DynamicCodebook& book, float x) {
  int best = 0;
  for (int c = 1; c < 256; ++c)
    if (std::fabs(x - book.value(c)) < std::fabs(x - book.value(best))) best = c;
  return best;
}

}  // namespace ternary::testing
