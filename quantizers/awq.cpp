#include "quantizers/awq.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

#include "quantizers/gptq.h"
#include "quantizers/weight_rounding.h"

namespace ternary {
namespace {

// m^α, normalised so that the largest and smallest scale multiply to 1 (AWQ's normalisation):
// only the scales' spread matters, and it keeps them near 1.
at::Tensor scales_for(const at::Tensor& magnitude, double alpha) {
  const at::Tensor s = magnitude.pow(alpha).clamp_min(1e-4);
  return s / (s.max() * s.min()).sqrt();
}

double scaled_error(const std::vector<at::Tensor>& weights, const std::vector<QuantizerSpec>& specs,
                    const at::Tensor& H, const at::Tensor& scales) {
  double error = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const at::Tensor W = weights[i].to(at::kFloat);
    const at::Tensor restored = round_to_nearest(W * scales, specs[i]) / scales;
    error += output_error(W, restored, H);
  }
  return error;
}

}  // namespace

AwqResult awq_search(const std::vector<at::Tensor>& weights, const std::vector<QuantizerSpec>& specs,
                     const at::Tensor& H, const at::Tensor& input_abs_mean, int64_t grid) {
  if (weights.empty() || weights.size() != specs.size() || grid < 1)
    throw std::invalid_argument("awq: one spec per weight, at least one weight, grid >= 1");
  const int64_t in = input_abs_mean.numel();
  for (const auto& W : weights)
    if (W.dim() != 2 || W.size(1) != in) throw std::invalid_argument("awq: every weight must have the input's width");
  const at::Tensor magnitude = input_abs_mean.to(at::kFloat).reshape({in}).clamp_min(1e-8);

  AwqResult result;
  result.input_scales = at::ones({in}, at::kFloat);
  result.error_before = scaled_error(weights, specs, H, result.input_scales);
  result.error_after = result.error_before;
  for (int64_t k = -grid; k <= grid; ++k) {
    if (k == 0) continue;
    const double alpha = static_cast<double>(k) / grid;
    const at::Tensor scales = scales_for(magnitude, alpha);
    const double error = scaled_error(weights, specs, H, scales);
    if (error < result.error_after) result = {scales, alpha, result.error_before, error};
  }
  return result;
}

}  // namespace ternary
