#include "quantizers/quantizer_spec.h"

#include <stdexcept>

namespace ternary {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

}  // namespace

const char* to_string(ScaleStatistic s) {
  switch (s) {
    case ScaleStatistic::kAbsMean: return "absmean";
    case ScaleStatistic::kAbsMax: return "absmax";
    case ScaleStatistic::kTwnMean: return "twn_mean";
  }
  return "?";
}

const char* to_string(ThresholdKind t) {
  switch (t) {
    case ThresholdKind::kImplicit: return "implicit";
    case ThresholdKind::kMeanRatio: return "mean_ratio";
    case ThresholdKind::kMaxRatio: return "max_ratio";
    case ThresholdKind::kLearned: return "learned";
  }
  return "?";
}

const char* to_string(GradientEstimator g) {
  switch (g) {
    case GradientEstimator::kSte: return "ste";
    case GradientEstimator::kClippedSte: return "clipped_ste";
    case GradientEstimator::kLsq: return "lsq";
  }
  return "?";
}

void QuantizerSpec::validate() const {
  levels.validate();
  const bool ternary = levels.kind == LevelKind::kTernary;
  require(granularity.kind != GranularityKind::kGroup || granularity.group_size > 0,
          "group granularity needs group_size > 0, got " + std::to_string(granularity.group_size));
  require(scale.eps > 0, "scale eps must be > 0, got " + std::to_string(scale.eps));
  require(!explicit_threshold() || ternary,
          std::string("threshold '") + to_string(threshold.kind) + "' applies to ternary levels only, not " +
              levels.describe());
  require(!explicit_threshold() || threshold.ratio > 0,
          "threshold ratio must be > 0, got " + std::to_string(threshold.ratio));
  require(threshold.temperature > 0, "threshold temperature must be > 0, got " + std::to_string(threshold.temperature));
  require(scale.statistic != ScaleStatistic::kTwnMean || explicit_threshold(),
          "scale 'twn_mean' averages |x| above the threshold, so it needs an explicit threshold "
          "(mean_ratio, max_ratio or learned)");
  require(!scale.asymmetric || (ternary && scale.learned && explicit_threshold()),
          "asymmetric (TTQ) scales need ternary levels, learned_scale: true and an explicit threshold");
  require(gradient != GradientEstimator::kLsq || scale.learned,
          "gradient 'lsq' is the gradient of a learned scale: set learned_scale: true");
  require(!(has_learned_parameters() && granularity.kind == GranularityKind::kToken),
          "learned scales/thresholds need a fixed number of rows; token granularity changes with the "
          "batch, use tensor granularity for learned activation scales");
}

std::string QuantizerSpec::describe() const {
  std::string s = levels.describe() + "/" + granularity.describe() + "/" + to_string(scale.statistic);
  if (scale.learned) s += scale.asymmetric ? "+learned_pos_neg" : "+learned";
  s += std::string("/") + to_string(threshold.kind) + "/" + to_string(gradient);
  return preset.empty() ? s : preset + "(" + s + ")";
}

}  // namespace ternary
