#include "quantizers/statistics.h"

#include <ATen/ATen.h>

#include <limits>
#include <stdexcept>

namespace ternary {
namespace {

// One pass over the data (vector norms reduce without materialising |x|); the fused fast path
// and the reference both call this, so their scales are bit-identical.
at::Tensor row_abs_mean(const at::Tensor& rows) {
  return at::linalg_vector_norm(rows, 1, {1}, /*keepdim=*/true) / static_cast<double>(rows.size(1));
}

at::Tensor row_abs_max(const at::Tensor& rows) {
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
