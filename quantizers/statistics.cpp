#include "quantizers/statistics.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/cpu_features.h"

namespace ternary {
namespace {

enum class Reduce { kAbsSum, kAbsMax };

// |x| summed (float, per block) or maxed over fixed blocks of each row. Fixed blocks, combined
// in order in double, make the result independent of the thread count.
constexpr int64_t kBlock = 16384;

// 16 independent lanes, so the compiler vectorizes without reassociating a float sum.
constexpr int kLanes = 16;

TERNARY_ALWAYS_INLINE float block_abs_sum(const float* x, int64_t n) {
  float lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) lanes[j] += std::fabs(x[i + j]);
  float sum = 0.0f;
  for (; i < n; ++i) sum += std::fabs(x[i]);
  for (int j = 0; j < kLanes; ++j) sum += lanes[j];
  return sum;
}

TERNARY_ALWAYS_INLINE float block_abs_max(const float* x, int64_t n) {
  float lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) lanes[j] = std::max(lanes[j], std::fabs(x[i + j]));
  float m = 0.0f;
  for (; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  for (int j = 0; j < kLanes; ++j) m = std::max(m, lanes[j]);
  return m;
}

// Each compiled per ISA tier; kernels::selected_isa() picks one (TERNARY_KERNEL can force it).
TERNARY_ISA_VARIANTS(float, block_abs_sum, (const float* x, int64_t n), (x, n))
TERNARY_ISA_VARIANTS(float, block_abs_max, (const float* x, int64_t n), (x, n))

// (rows, 1) float32 from a (rows, cols) float32 CPU tensor, in one parallel pass over the data.
// The fused fast path and the reference both call this, so their scales are bit-identical.
at::Tensor row_reduce(const at::Tensor& rows, Reduce op) {
  const at::Tensor x = rows.contiguous();
  const int64_t n_rows = x.size(0), cols = x.size(1);
  const int64_t blocks_per_row = (cols + kBlock - 1) / kBlock;
  std::vector<float> partial(n_rows * blocks_per_row);
  const float* data = x.const_data_ptr<float>();
  using Reduction = float (*)(const float*, int64_t);
  const Reduction reduce =
      op == Reduce::kAbsSum
          ? kernels::pick_isa_variant<Reduction>(block_abs_sum_reference, block_abs_sum_avx2, block_abs_sum_avx512)
          : kernels::pick_isa_variant<Reduction>(block_abs_max_reference, block_abs_max_avx2, block_abs_max_avx512);
  at::parallel_for(0, n_rows * blocks_per_row, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t row = b / blocks_per_row, start = (b % blocks_per_row) * kBlock;
      const float* p = data + row * cols + start;
      const int64_t n = std::min(kBlock, cols - start);
      partial[b] = reduce(p, n);
    }
  });
  at::Tensor out = at::empty({n_rows, 1}, x.options());
  float* o = out.data_ptr<float>();
  for (int64_t row = 0; row < n_rows; ++row) {
    double acc = 0.0;
    for (int64_t k = 0; k < blocks_per_row; ++k) {
      const float v = partial[row * blocks_per_row + k];
      acc = op == Reduce::kAbsSum ? acc + v : std::max(acc, static_cast<double>(v));
    }
    o[row] = static_cast<float>(op == Reduce::kAbsSum ? acc / static_cast<double>(cols) : acc);
  }
  return out;
}

bool fast_reducible(const at::Tensor& rows) {
  return rows.scalar_type() == at::kFloat && rows.device().is_cpu() && !rows.requires_grad();
}

at::Tensor row_abs_mean(const at::Tensor& rows) {
  if (fast_reducible(rows)) return row_reduce(rows, Reduce::kAbsSum);
  return at::linalg_vector_norm(rows, 1, {1}, /*keepdim=*/true) / static_cast<double>(rows.size(1));
}

at::Tensor row_abs_max(const at::Tensor& rows) {
  if (fast_reducible(rows)) return row_reduce(rows, Reduce::kAbsMax);
  return at::linalg_vector_norm(rows, std::numeric_limits<double>::infinity(), {1}, /*keepdim=*/true);
}

}  // namespace

at::Tensor scale_statistic(const at::Tensor& rows, ScaleStatistic statistic, const Levels& levels,
                           const at::Tensor& threshold, double eps) {
  at::Tensor scale;
  switch (statistic) {
    case ScaleStatistic::kAbsMean: scale = row_abs_mean(rows); break;
    case ScaleStatistic::kAbsMax: scale = row_abs_max(rows) / static_cast<double>(levels.max_code()); break;
    case ScaleStatistic::kTwnMean: {
      if (!threshold.defined()) throw std::invalid_argument("twn_mean scale needs a threshold");
      const at::Tensor magnitude = rows.abs();
      const at::Tensor above = magnitude > threshold;
      const at::Tensor count = above.sum(1, /*keepdim=*/true).clamp_min(1);
      scale = (magnitude * above).sum(1, /*keepdim=*/true) / count;
      break;
    }
  }
  return scale.clamp_min(eps);
}

at::Tensor threshold_statistic(const at::Tensor& rows, const ThresholdSpec& spec) {
  switch (spec.kind) {
    case ThresholdKind::kMeanRatio:
    case ThresholdKind::kLearned: return row_abs_mean(rows) * spec.ratio;
    case ThresholdKind::kMaxRatio: return row_abs_max(rows) * spec.ratio;
    case ThresholdKind::kImplicit: break;
  }
  throw std::invalid_argument("an implicit threshold has no statistic");
}

}  // namespace ternary
