// AWQ (Lin et al., 2023) for ternary weights: per-input-channel scales s = m^α from the inputs' mean
// magnitudes m, searched over α on a grid for the least output error of the recipe's own rounding.
// AWQ searches α ∈ [0, 1]: scaling a salient channel up gives its weights finer steps of an int
// grid. A ternary grid has no finer steps (a larger weight saturates at ±1), so the search here
// runs over α ∈ [−1, 1] and lets the output error pick the direction.
// A scaled layer computes Q(W·diag(s)) · (x / s): the scales multiply the weight's columns and
// divide the input, which the caller folds into whatever produces the input (an RMSNorm's weight).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "quantizers/quantizer_spec.h"

namespace ternary {

struct AwqResult {
  at::Tensor input_scales;    // float32 (in): multiply W's columns by them, divide the input by them
  double alpha = 0;           // the exponent chosen (0 = no scaling)
  double error_before = 0;    // summed output error of round-to-nearest without scales
  double error_after = 0;     // ... with the chosen scales
};

// `weights` share one input (q, k and v; gate and up), each quantized by its spec; H = XᵀX and
// `input_abs_mean` = mean |x| per channel of that input. α ∈ {−1, ..., −1/grid, 0, 1/grid, ..., 1}.
AwqResult awq_search(const std::vector<at::Tensor>& weights, const std::vector<QuantizerSpec>& specs,
                     const at::Tensor& H, const at::Tensor& input_abs_mean, int64_t grid);

}  // namespace ternary
