// QuantizerSpec: the composition of one quantizer from its parts (levels, granularity, scale,
// threshold, gradient estimator). Pure data with validation; presets and YAML recipes produce
// it, QuantizerImpl executes it. No LibTorch here.
#pragma once

#include <string>

#include "quantizers/granularity.h"
#include "quantizers/levels.h"

namespace ternary {

enum class ScaleStatistic {
  kAbsMean,  // mean |x| per row (BitNet b1.58)
  kAbsMax,   // max |x| / max_code per row (int8 absmax)
  kTwnMean,  // mean |x| over |x| > threshold (TWN's optimal scale for a fixed threshold)
};

struct ScaleSpec {
  ScaleStatistic statistic = ScaleStatistic::kAbsMean;  // the value, or the init when learned
  bool learned = false;     // a registered parameter per row (LSQ), initialised from statistic
  bool asymmetric = false;  // TTQ: separate learned positive and negative scales
  double eps = 1e-5;        // floor, so an all-zero row quantizes to zeros, not NaN
  bool operator==(const ScaleSpec&) const = default;
};

enum class ThresholdKind {
  kImplicit,   // round to nearest: the dead zone is |x| < scale/2
  kMeanRatio,  // ratio * mean |x| per row (TWN: 0.7)
  kMaxRatio,   // ratio * max |x| per row (TTQ: 0.05)
  kLearned,    // a registered parameter per row, initialised to ratio * mean |x|
};

struct ThresholdSpec {
  ThresholdKind kind = ThresholdKind::kImplicit;
  double ratio = 0.7;
  // Width of the sigmoid relaxation through which a learned threshold (and TTQ scales) get
  // gradient, relative to the row's scale. The forward pass stays hard.
  double temperature = 0.1;
  bool operator==(const ThresholdSpec&) const = default;
};

enum class GradientEstimator {
  kSte,         // straight-through: identity gradient everywhere, dead zone included
  kClippedSte,  // identity inside the representable range, zero outside it
  kLsq,         // clipped STE for x; LSQ gradient for the learned scale, scaled by 1/sqrt(N*Qp)
};

struct QuantizerSpec {
  Levels levels = Levels::ternary();
  Granularity granularity = Granularity::tensor();
  ScaleSpec scale;
  ThresholdSpec threshold;
  GradientEstimator gradient = GradientEstimator::kSte;
  std::string preset;  // the preset this came from ("" when written out by hand), for reports

  bool explicit_threshold() const { return threshold.kind != ThresholdKind::kImplicit; }
  bool has_learned_parameters() const { return scale.learned || threshold.kind == ThresholdKind::kLearned; }
  // Throws std::invalid_argument naming the first combination that cannot work.
  void validate() const;
  // "ternary/tensor/absmean/implicit/ste" (prefixed with the preset name when there is one).
  std::string describe() const;

  bool operator==(const QuantizerSpec& other) const {
    return levels == other.levels && granularity == other.granularity && scale == other.scale &&
           threshold == other.threshold && gradient == other.gradient;
  }
};

const char* to_string(ScaleStatistic);
const char* to_string(ThresholdKind);
const char* to_string(GradientEstimator);

}  // namespace ternary
