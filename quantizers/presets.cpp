#include "quantizers/presets.h"

#include <stdexcept>

namespace ternary {
namespace {

QuantizerSpec make(const std::string& preset, Levels levels, Granularity granularity, ScaleSpec scale,
                   ThresholdSpec threshold = {}, GradientEstimator gradient = GradientEstimator::kSte) {
  QuantizerSpec spec{levels, granularity, scale, threshold, gradient, preset};
  spec.validate();
  return spec;
}

std::vector<Preset> build_presets() {
  using S = ScaleStatistic;
  using T = ThresholdKind;
  const auto ternary = Levels::ternary();
  const auto int8_token = [](const std::string& name) {
    return make(name, Levels::signed_int(8), Granularity::token(), {S::kAbsMax});
  };
  std::vector<Preset> presets;
  presets.push_back({"bitnet_b158",
                     "BitNet b1.58: absmean per-tensor ternary weights, per-token int8 absmax activations",
                     make("bitnet_b158", ternary, Granularity::tensor(), {S::kAbsMean}),
                     int8_token("bitnet_b158")});
  presets.push_back({"twn", "Ternary Weight Networks: threshold 0.7*mean|w|, scale = mean |w| above it",
                     make("twn", ternary, Granularity::tensor(), {S::kTwnMean}, {T::kMeanRatio, 0.7}), std::nullopt});
  presets.push_back({"ttq",
                     "Trained Ternary Quantization: threshold 0.05*max|w|, learned positive/negative scales",
                     make("ttq", ternary, Granularity::tensor(), {S::kTwnMean, true, true}, {T::kMaxRatio, 0.05}),
                     std::nullopt});
  presets.push_back({"lsq_ternary", "LSQ ternary: learned per-channel scale with LSQ gradient scaling",
                     make("lsq_ternary", ternary, Granularity::channel(), {S::kAbsMean, true}, {},
                          GradientEstimator::kLsq),
                     std::nullopt});
  presets.push_back({"ternary_learned_threshold",
                     "Ternary with learned per-channel scale and threshold (sigmoid-relaxed threshold gradient)",
                     make("ternary_learned_threshold", ternary, Granularity::channel(), {S::kTwnMean, true},
                          {T::kLearned, 0.7, 0.1}),
                     std::nullopt});
  presets.push_back({"binary_xnor", "XNOR-Net binary weights: sign(w) * mean|w| per output channel",
                     make("binary_xnor", Levels::binary(), Granularity::channel(), {S::kAbsMean}), std::nullopt});
  presets.push_back({"int8_per_token", "int8 absmax per token (dynamic activation quantization)", std::nullopt,
                     int8_token("int8_per_token")});
  presets.push_back({"int8_per_channel", "int8 absmax per output channel weights",
                     make("int8_per_channel", Levels::signed_int(8), Granularity::channel(), {S::kAbsMax}),
                     std::nullopt});
  presets.push_back({"int4_group128", "int4 absmax weights, one scale per 128 inputs",
                     make("int4_group128", Levels::signed_int(4), Granularity::group(128), {S::kAbsMax}),
                     std::nullopt});
  presets.push_back({"uint8_per_tensor", "uint8 absmax per tensor (post-ReLU activations)", std::nullopt,
                     make("uint8_per_tensor", Levels::unsigned_int(8), Granularity::tensor(), {S::kAbsMax})});
  return presets;
}

}  // namespace

const std::vector<Preset>& all_presets() {
  static const std::vector<Preset> presets = build_presets();
  return presets;
}

const Preset& find_preset(const std::string& name) {
  std::string known;
  for (const Preset& preset : all_presets()) {
    if (preset.name == name) return preset;
    known += (known.empty() ? "" : ", ") + preset.name;
  }
  throw std::invalid_argument("unknown quantizer preset '" + name + "' (known presets: " + known + ")");
}

QuantizerSpec preset_spec(const std::string& name, bool for_weight) {
  const Preset& preset = find_preset(name);
  const auto& first = for_weight ? preset.weight : preset.activation;
  return first ? *first : *(for_weight ? preset.activation : preset.weight);
}

}  // namespace ternary
