// Our quantizers against Brevitas (tests/golden/brevitas_quantizers.py generated the JSON):
// int8/int4 absmax per tensor/channel/group, ternary absmean per tensor/channel, and the
// gradient of a learned scale.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "quantizers/quantizer.h"

namespace ternary {
namespace {

nlohmann::json load_golden() {
  std::ifstream in(std::string(TERNARY_SOURCE_DIR) + "/tests/golden/brevitas_quantizers.json");
  EXPECT_TRUE(in) << "missing tests/golden/brevitas_quantizers.json";
  return nlohmann::json::parse(in);
}

at::Tensor tensor_from(const nlohmann::json& values, at::IntArrayRef shape) {
  return at::tensor(values.get<std::vector<float>>()).reshape(shape);
}

QuantizerSpec spec_for(const std::string& name) {
  const std::map<std::string, std::pair<Levels, Granularity>> parts = {
      {"int8_narrow_tensor_absmax", {Levels::signed_int(8, true), Granularity::tensor()}},
      {"int8_narrow_channel_absmax", {Levels::signed_int(8, true), Granularity::channel()}},
      {"int4_narrow_tensor_absmax", {Levels::signed_int(4, true), Granularity::tensor()}},
      {"ternary_tensor_absmean", {Levels::ternary(), Granularity::tensor()}},
      {"ternary_channel_absmean", {Levels::ternary(), Granularity::channel()}},
      {"int4_narrow_group32_absmax", {Levels::signed_int(4, true), Granularity::group(32)}},
      {"int8_narrow_tensor_learned", {Levels::signed_int(8, true), Granularity::tensor()}},
  };
  QuantizerSpec spec;
  std::tie(spec.levels, spec.granularity) = parts.at(name);
  spec.scale.statistic = spec.levels == Levels::ternary() ? ScaleStatistic::kAbsMean : ScaleStatistic::kAbsMax;
  if (name == "int8_narrow_tensor_learned") {
    spec.scale.learned = true;
    spec.gradient = GradientEstimator::kLsq;
  }
  return spec;
}

}  // namespace

TEST(BrevitasGolden, FakeQuantizedWeightsMatch) {
  const nlohmann::json golden = load_golden();
  ASSERT_GE(golden["cases"].size(), 7u);
  for (const auto& c : golden["cases"]) {
    const std::string name = c["name"];
    if (c.contains("scale_grad")) continue;  // learned scale: its own test sets Brevitas' value
    const auto shape = c["shape"].get<std::vector<int64_t>>();
    const at::Tensor w = tensor_from(c["weight"], shape);
    const at::Tensor expected = tensor_from(c["quantized"], shape);
    Quantizer q(spec_for(name));
    q->attach(w);
    const at::Tensor ours = q->forward(w).detach();
    const double max_diff = (ours - expected).abs().max().item<double>();
    EXPECT_LT(max_diff, 1e-6) << name << " (" << q->spec().describe() << ")";
  }
}

TEST(BrevitasGolden, LearnedScaleGradientIsBrevitasTimesLsqFactor) {
  const nlohmann::json golden = load_golden();
  const auto& c = golden["cases"].back();
  ASSERT_EQ(c["name"], "int8_narrow_tensor_learned");
  const auto shape = c["shape"].get<std::vector<int64_t>>();
  const at::Tensor w = tensor_from(c["weight"], shape).requires_grad_();
  const at::Tensor upstream = tensor_from(c["upstream"], shape);
  // Brevitas learns the absmax statistic p and uses s = p / 127; we learn s itself.
  const double brevitas_param = c["scale"][0];
  Quantizer q(spec_for("int8_narrow_tensor_learned"));
  q->attach(w);
  {
    at::NoGradGuard no_grad;
    q->scale.fill_(brevitas_param / 127.0);
  }
  const at::Tensor out = q->forward(w);
  EXPECT_LT((out.detach() - tensor_from(c["quantized"], shape)).abs().max().item<double>(), 1e-6);
  (out * upstream).sum().backward();
  EXPECT_TRUE(at::allclose(w.grad(), tensor_from(c["weight_grad"], shape), 1e-5, 1e-6));
  const double lsq_factor = 1.0 / std::sqrt(static_cast<double>(w.numel()) * 127.0);
  const double ours_as_brevitas = q->scale.grad().item<double>() / lsq_factor / 127.0;
  const double brevitas = c["scale_grad"][0];
  EXPECT_NEAR(ours_as_brevitas, brevitas, 1e-4 * std::fabs(brevitas) + 1e-6);
}

}  // namespace ternary
