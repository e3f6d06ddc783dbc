// Per-row statistics that set scales and thresholds from data. Input: the (rows, cols) view of
// granularity.h; output: (rows, 1). Callers pass detached tensors: statistics carry no gradient.
#pragma once

#include <ATen/core/Tensor.h>

#include "quantizers/quantizer_spec.h"

namespace ternary {

// Scale per row, floored at eps. kTwnMean needs the (rows, 1) threshold; others ignore it.
at::Tensor scale_statistic(const at::Tensor& rows, ScaleStatistic statistic, const Levels& levels,
                           const at::Tensor& threshold, double eps);

// Explicit ternary threshold per row (kMeanRatio / kMaxRatio; kLearned gives its init value).
at::Tensor threshold_statistic(const at::Tensor& rows, const ThresholdSpec& spec);

}  // namespace ternary
