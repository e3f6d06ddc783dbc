// Gradient estimators as autograd functions: the forward pass quantizes hard, the backward pass
// is the estimator's choice. Each has a documented reference formula tested in tests/quantizers.
#pragma once

#include <ATen/core/Tensor.h>

namespace ternary {

// round half to even forward; identity backward (straight-through).
at::Tensor round_ste(const at::Tensor& x);
// clamp forward; identity backward, so clipped elements keep their gradient (plain STE).
at::Tensor clamp_ste(const at::Tensor& x, double lo, double hi);
// sign with sign(0) = +1 forward (binary levels); identity backward.
at::Tensor sign_ste(const at::Tensor& x);
// identity forward; gradient multiplied by `factor` (LSQ's 1/sqrt(N*Qp) gradient scale).
at::Tensor scale_gradient(const at::Tensor& x, double factor);

// Ternary quantization with an explicit threshold, all tensors broadcast from (rows, 1):
//   q = scale_pos if x > threshold, -scale_neg if x < -threshold, else 0.
// Backward: x gets the identity (or, when clip_gradient, zero where |x| > the level it maps to);
// the scales get their exact derivatives; the threshold gets the derivative of the relaxation
//   scale_pos * sigmoid((x - t) / tau) - scale_neg * sigmoid((-x - t) / tau),
// which is what lets a learned threshold train. Pass the same tensor twice for symmetric scales.
at::Tensor ternary_threshold_quantize(const at::Tensor& x, const at::Tensor& threshold, const at::Tensor& scale_pos,
                                      const at::Tensor& scale_neg, const at::Tensor& tau, bool clip_gradient);

}  // namespace ternary
