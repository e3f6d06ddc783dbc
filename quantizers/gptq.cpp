#include "quantizers/gptq.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace ternary {
namespace {

// Scale candidates, as multiples of mean |w|: round-to-nearest's own choice is 1; error
// compensation moves the best one, mostly below it.
constexpr double kScaleMultiples[] = {0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5};

int8_t ternary_code(double w, double scale) { return static_cast<int8_t>(std::clamp(std::nearbyint(w / scale), -1.0, 1.0)); }

void check_shapes(const at::Tensor& W, const at::Tensor& row_scales, const at::Tensor& U) {
  if (W.dim() != 2 || U.dim() != 2 || U.size(0) != W.size(1) || U.size(1) != W.size(1) ||
      row_scales.numel() != W.size(0))
    throw std::invalid_argument("gptq: W (out, in), row scales (out) and the factor (in, in) do not fit together");
}

// Both paths' working copies: W (updated as columns are rounded), the factor and the scales in
// float64, and the codes to fill.
struct Working {
  at::Tensor w, u, s, codes;
};

Working working_copies(const at::Tensor& W, const at::Tensor& row_scales, const at::Tensor& U) {
  check_shapes(W, row_scales, U);
  return {W.to(at::kDouble).contiguous().clone(), U.to(at::kDouble).contiguous(),
          row_scales.to(at::kDouble).reshape({W.size(0)}).contiguous(), at::empty({W.size(0), W.size(1)}, at::kChar)};
}

// Per-row output error trace-wise: ((W−Q) H (W−Q)ᵀ)_rr for every row r, float64.
at::Tensor row_output_errors(const at::Tensor& W, const at::Tensor& Q, const at::Tensor& H) {
  const at::Tensor delta = W.to(at::kDouble) - Q.to(at::kDouble);
  return (delta.matmul(H.to(at::kDouble)) * delta).sum(1);
}

}  // namespace

double output_error(const at::Tensor& W, const at::Tensor& Q, const at::Tensor& H) {
  return row_output_errors(W, Q, H).sum().item<double>();
}

at::Tensor gptq_inverse_factor(const at::Tensor& H, const GptqOptions& options) {
  at::Tensor h = H.to(at::kDouble).clone();
  at::Tensor diagonal = h.diagonal();
  diagonal.masked_fill_(diagonal <= 0, 1.0);  // dead inputs: rounded plainly
  diagonal.add_(options.damp * diagonal.mean().item<double>());
  // U upper with Uᵀ U = H⁻¹: GPTQ's row i of U gives the compensation for column i.
  const at::Tensor inverse = at::cholesky_inverse(at::linalg_cholesky(h));
  return at::linalg_cholesky(inverse, /*upper=*/true);
}

at::Tensor gptq_ternary_codes(const at::Tensor& W, const at::Tensor& row_scales, const at::Tensor& U,
                              int64_t block_size, at::Tensor* compensated) {
  const int64_t rows = W.size(0), cols = W.size(1);
  auto [w, u, s, codes] = working_copies(W, row_scales, U);
  // The columns already rounded keep, in w, the value they were rounded from: later updates only
  // reach the columns to their right.
  const double* u_data = u.data_ptr<double>();
  const double* s_data = s.data_ptr<double>();
  int8_t* code_data = codes.data_ptr<int8_t>();
  for (int64_t begin = 0; begin < cols; begin += block_size) {
    const int64_t end = std::min(cols, begin + block_size), width = end - begin;
    at::Tensor errors = at::empty({rows, width}, at::kDouble);
    double* w_data = w.data_ptr<double>();
    double* e_data = errors.data_ptr<double>();
    // Inside the block every update is immediate; rows are independent, so threads split them.
    at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        double* row = w_data + r * cols;
        for (int64_t i = begin; i < end; ++i) {
          const int8_t q = ternary_code(row[i], s_data[r]);
          code_data[r * cols + i] = q;
          const double e = (row[i] - q * s_data[r]) / u_data[i * cols + i];
          e_data[r * width + (i - begin)] = e;
          for (int64_t j = i + 1; j < end; ++j) row[j] -= e * u_data[i * cols + j];
        }
      }
    });
    // The block's errors reach the later columns in one product: the lazy update.
    if (end < cols) w.narrow(1, end, cols - end).sub_(errors.matmul(u.narrow(0, begin, width).narrow(1, end, cols - end)));
  }
  if (compensated) *compensated = w;
  return codes;
}

at::Tensor gptq_ternary_codes_reference(const at::Tensor& W, const at::Tensor& row_scales, const at::Tensor& U,
                                        at::Tensor* compensated) {
  const int64_t rows = W.size(0), cols = W.size(1);
  auto [w, u, s, codes] = working_copies(W, row_scales, U);
  auto wa = w.accessor<double, 2>();
  auto ua = u.accessor<double, 2>();
  auto sa = s.accessor<double, 1>();
  auto ca = codes.accessor<int8_t, 2>();
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t r = 0; r < rows; ++r) {
      const int8_t q = ternary_code(wa[r][i], sa[r]);
      ca[r][i] = q;
      const double e = (wa[r][i] - q * sa[r]) / ua[i][i];
      for (int64_t j = i + 1; j < cols; ++j) wa[r][j] -= e * ua[i][j];
    }
  if (compensated) *compensated = w;
  return codes;
}

TernaryRounding gptq_ternary(const at::Tensor& W, const at::Tensor& H, bool per_row, const GptqOptions& options) {
  if (W.dim() != 2 || H.dim() != 2 || H.size(0) != W.size(1) || H.size(1) != W.size(1))
    throw std::invalid_argument("gptq: H must be (in, in) for W (out, in)");
  if (options.block_size < 1 || !(options.damp >= 0))
    throw std::invalid_argument("gptq: block_size must be >= 1 and damp >= 0");
  const int64_t rows = W.size(0);
  const at::Tensor w = W.to(at::kDouble);
  const at::Tensor h = H.to(at::kDouble);
  const at::Tensor U = gptq_inverse_factor(h, options);
  const at::Tensor base = (per_row ? w.abs().mean(1, true) : w.abs().mean().reshape({1, 1}).expand({rows, 1}))
                              .clamp_min(1e-12);

  // Per row (or, per tensor, the sum over rows), the candidate with the least output error.
  at::Tensor best_codes = at::zeros({rows, W.size(1)}, at::kChar);
  at::Tensor best_residual = at::zeros({rows, W.size(1)}, at::kDouble);
  at::Tensor best_error = at::full({rows}, std::numeric_limits<double>::infinity(), at::kDouble);
  double best_total = std::numeric_limits<double>::infinity();
  for (double multiple : kScaleMultiples) {
    const at::Tensor scales = base * multiple;
    at::Tensor compensated;
    const at::Tensor codes = gptq_ternary_codes(w, scales, U, options.block_size, &compensated);
    const at::Tensor residual = (compensated / scales - codes.to(at::kDouble)).clamp(-0.5, 0.5);
    const at::Tensor errors = row_output_errors(w, codes.to(at::kDouble) * scales, h);
    if (per_row) {
      const at::Tensor better = errors < best_error;
      best_codes = at::where(better.unsqueeze(1), codes, best_codes);
      best_residual = at::where(better.unsqueeze(1), residual, best_residual);
      best_error = at::where(better, errors, best_error);
    } else if (const double total = errors.sum().item<double>(); total < best_total) {
      best_total = total;
      best_codes = codes;
      best_residual = residual;
    }
  }

  // The scale that minimises the output error for these codes: <W, T>_H / <T, T>_H.
  const at::Tensor t = best_codes.to(at::kDouble);
  const at::Tensor t_h = t.matmul(h);
  at::Tensor numerator = (w * t_h).sum(1, true), denominator = (t * t_h).sum(1, true);
  if (!per_row) numerator = numerator.sum().reshape({1, 1}), denominator = denominator.sum().reshape({1, 1});
  const at::Tensor fallback = per_row ? base : base.narrow(0, 0, 1);
  const at::Tensor scale = at::where(denominator > 0, numerator / denominator.clamp_min(1e-300), fallback);
  // A non-positive fit (codes that anti-correlate with W cannot be the best candidate, but stay safe)
  // keeps the candidate's base.
  return {best_codes, at::where(scale > 0, scale, fallback).to(at::kFloat), best_residual.to(at::kFloat)};
}

}  // namespace ternary
