// GPTQ (Frantar et al., 2022) for the ternary grid: columns are rounded one at a time and each
// rounding error is spread over the columns not yet rounded, through the Cholesky factor of the
// inverse of H = XᵀX (X: the layer's calibration inputs), which minimises the layer's output error
// ||(W − Q) X||² rather than the weights' own error. Damping and block-wise lazy updates as in the
// paper. Rows are independent, so every scale candidate is a stacked copy of the rows and one pass
// tries them all; the scale (per tensor or per row) is then refitted in closed form for the codes.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace ternary {

struct GptqOptions {
  double damp = 0.01;        // added to H's diagonal, as a fraction of its mean (the paper's percdamp)
  int64_t block_size = 128;  // columns per lazy update
};

// Codes in {-1, 0, +1} and the scale that decodes them: W ≈ codes · scale.
struct TernaryRounding {
  at::Tensor codes;     // int8, (out, in)
  at::Tensor scale;     // float32, (1, 1) per tensor or (out, 1) per row
  // Where each weight stood in its rounding cell when GPTQ rounded it: the compensated weight over
  // the scale it was rounded with, minus its code, clamped to [-0.5, 0.5] (float32, (out, in)).
  at::Tensor residual;
};

// The output error of replacing W by Q for inputs whose second moment is H: trace((W−Q) H (W−Q)ᵀ).
double output_error(const at::Tensor& W, const at::Tensor& Q, const at::Tensor& H);

// The factor GPTQ rounds with: upper Cholesky factor of (H + damp·mean(diag H)·I)⁻¹, in float64.
// Columns that never saw input (H_ii = 0) get H_ii = 1; their weights are then rounded without
// compensation, as the paper does.
at::Tensor gptq_inverse_factor(const at::Tensor& H, const GptqOptions& options);

// The codes GPTQ picks for W (out, in) with the given per-row scales (out, 1) and factor U:
// the fast path (blocks of options.block_size, lazy updates as matrix products) and the plain
// reference (one column at a time, every update immediate, scalar loops). They are the same
// algorithm; tests hold them equal.
// With `compensated`, each weight as GPTQ rounded it (after the earlier columns' compensation) is
// written there too (float64, (out, in)).
at::Tensor gptq_ternary_codes(const at::Tensor& W, const at::Tensor& row_scales, const at::Tensor& U,
                              int64_t block_size, at::Tensor* compensated = nullptr);
at::Tensor gptq_ternary_codes_reference(const at::Tensor& W, const at::Tensor& row_scales, const at::Tensor& U,
                                        at::Tensor* compensated = nullptr);

// The whole method: scale candidates around mean |W| (per tensor or per row), GPTQ codes for each,
// the candidate with the least output error, then its scale refitted for those codes.
TernaryRounding gptq_ternary(const at::Tensor& W, const at::Tensor& H, bool per_row, const GptqOptions& options);

}  // namespace ternary
