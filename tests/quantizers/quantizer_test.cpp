// Forward values of every quantizer part against hand-computed references (plain loops over
// std::vector, no ATen), plus encode/decode, warm-up, degenerate input and serialization.
#include "quantizers/quantizer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/serialize.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "quantizers/presets.h"

namespace ternary {
namespace {

using Rows = std::vector<std::vector<float>>;

at::Tensor tensor_of(const Rows& rows) {
  at::Tensor t = at::empty({static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t c = 0; c < rows[r].size(); ++c) t[r][c] = rows[r][c];
  return t;
}

Rows rows_of(const at::Tensor& t) {
  const at::Tensor c = t.contiguous().to(at::kFloat).reshape({t.size(0), -1});
  Rows rows(c.size(0), std::vector<float>(c.size(1)));
  for (int64_t r = 0; r < c.size(0); ++r)
    for (int64_t k = 0; k < c.size(1); ++k) rows[r][k] = c[r][k].item<float>();
  return rows;
}

Rows random_rows(int64_t r, int64_t c) { return rows_of(at::randn({r, c})); }

float mean_abs(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += std::fabs(x);
  return static_cast<float>(s / v.size());
}

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

// q = clamp(round_half_even(x / s), lo, hi) * s, element by element.
std::vector<float> round_quant(const std::vector<float>& v, float s, float lo, float hi) {
  std::vector<float> out;
  for (float x : v) out.push_back(std::min(std::max(std::nearbyint(x / s), lo), hi) * s);
  return out;
}

void expect_rows_near(const at::Tensor& actual, const Rows& expected, float tol = 1e-5f) {
  const Rows got = rows_of(actual);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t r = 0; r < got.size(); ++r)
    for (size_t c = 0; c < got[r].size(); ++c)
      ASSERT_NEAR(got[r][c], expected[r][c], tol * std::max(1.0f, std::fabs(expected[r][c]))) << "at " << r << "," << c;
}

Quantizer weight_preset(const std::string& name, const at::Tensor& w) {
  Quantizer q(preset_spec(name, true));
  q->attach(w);
  return q;
}

}  // namespace

TEST(Quantizer, BitnetWeightsAreAbsmeanTernaryPerTensor) {
  const Rows w = random_rows(8, 16);
  std::vector<float> flat;
  for (const auto& row : w) flat.insert(flat.end(), row.begin(), row.end());
  const float s = mean_abs(flat);
  Rows expected;
  for (const auto& row : w) expected.push_back(round_quant(row, s, -1, 1));
  expect_rows_near(weight_preset("bitnet_b158", tensor_of(w))->forward(tensor_of(w)), expected);
}

TEST(Quantizer, Int8PerTokenAbsmaxActivations) {
  const at::Tensor x = at::randn({2, 3, 32});
  const Rows rows = rows_of(x.reshape({6, 32}));
  Rows expected;
  for (const auto& row : rows) expected.push_back(round_quant(row, max_abs(row) / 127.0f, -128, 127));
  Quantizer q(preset_spec("int8_per_token", false));
  const at::Tensor out = q->forward(x);
  EXPECT_EQ(out.sizes(), x.sizes());
  expect_rows_near(out.reshape({6, 32}), expected);
}

TEST(Quantizer, TwnThresholdAndMeanAboveThreshold) {
  const Rows w = random_rows(4, 64);
  std::vector<float> flat;
  for (const auto& row : w) flat.insert(flat.end(), row.begin(), row.end());
  const float delta = 0.7f * mean_abs(flat);
  double sum = 0;
  int count = 0;
  for (float x : flat)
    if (std::fabs(x) > delta) sum += std::fabs(x), ++count;
  const float s = static_cast<float>(sum / count);
  Rows expected = w;
  for (auto& row : expected)
    for (float& x : row) x = x > delta ? s : (x < -delta ? -s : 0.0f);
  expect_rows_near(weight_preset("twn", tensor_of(w))->forward(tensor_of(w)), expected);
}

TEST(Quantizer, TtqUsesMaxRatioThresholdAndSeparateScales) {
  const Rows w = random_rows(4, 64);
  Quantizer q = weight_preset("ttq", tensor_of(w));
  {
    at::NoGradGuard no_grad;
    q->scale.fill_(0.8);
    q->scale_neg.fill_(0.3);
  }
  float m = 0;
  for (const auto& row : w) m = std::max(m, max_abs(row));
  const float delta = 0.05f * m;
  Rows expected = w;
  for (auto& row : expected)
    for (float& x : row) x = x > delta ? 0.8f : (x < -delta ? -0.3f : 0.0f);
  expect_rows_near(q->forward(tensor_of(w)), expected);
}

TEST(Quantizer, ChannelAndGroupScalesAreIndependentPerRow) {
  const Rows w = random_rows(4, 256);
  Rows expected_channel, expected_group;
  for (const auto& row : w) {
    expected_channel.push_back(round_quant(row, max_abs(row) / 127.0f, -128, 127));
    std::vector<float> out;
    for (int g = 0; g < 2; ++g) {
      const std::vector<float> part(row.begin() + g * 128, row.begin() + (g + 1) * 128);
      const auto q = round_quant(part, max_abs(part) / 7.0f, -8, 7);
      out.insert(out.end(), q.begin(), q.end());
    }
    expected_group.push_back(out);
  }
  expect_rows_near(weight_preset("int8_per_channel", tensor_of(w))->forward(tensor_of(w)), expected_channel);
  expect_rows_near(weight_preset("int4_group128", tensor_of(w))->forward(tensor_of(w)), expected_group);
}

TEST(Quantizer, BinaryIsSignTimesChannelAbsmean) {
  Rows w = random_rows(3, 16);
  w[0][0] = 0.0f;  // sign(0) = +1
  Rows expected = w;
  for (size_t r = 0; r < w.size(); ++r)
    for (float& x : expected[r]) x = (x >= 0 ? 1.0f : -1.0f) * mean_abs(w[r]);
  expect_rows_near(weight_preset("binary_xnor", tensor_of(w))->forward(tensor_of(w)), expected);
}

TEST(Quantizer, UnsignedClampsNegativesToZero) {
  const Rows x = random_rows(2, 16);
  float m = 0;
  for (const auto& row : x) m = std::max(m, max_abs(row));
  Rows expected;
  for (const auto& row : x) expected.push_back(round_quant(row, m / 255.0f, 0, 255));
  Quantizer q(preset_spec("uint8_per_tensor", false));
  expect_rows_near(q->forward(tensor_of(x)), expected);
}

TEST(Quantizer, AllZeroInputGivesZerosNotNan) {
  for (const auto& preset : all_presets()) {
    const bool weight = preset.weight.has_value();
    Quantizer q(preset_spec(preset.name, weight));
    const at::Tensor zeros = at::zeros({4, 128});
    if (weight) q->attach(zeros);
    const at::Tensor out = q->forward(zeros);
    EXPECT_TRUE(at::isfinite(out).all().item<bool>()) << preset.name;
    // binary has no zero level: sign(0) = +1 times the eps floor of the scale
    const float expected = preset.name == "binary_xnor" ? 1e-5f : 0.0f;
    EXPECT_EQ(out.abs().max().item<float>(), expected) << preset.name;
  }
}

TEST(Quantizer, EncodeDecodeEqualsForward) {
  const at::Tensor w = at::randn({16, 256});
  for (const char* name : {"bitnet_b158", "twn", "ttq", "lsq_ternary", "int4_group128", "int8_per_channel",
                           "binary_xnor", "ternary_learned_threshold"}) {
    Quantizer q = weight_preset(name, w);
    const QuantizedValues values = q->encode(w);
    EXPECT_EQ(values.codes.scalar_type(), at::kChar);
    EXPECT_LE(values.codes.max().item<int>(), q->spec().levels.max_code()) << name;
    EXPECT_GE(values.codes.min().item<int>(), q->spec().levels.min_code()) << name;
    EXPECT_TRUE(at::allclose(values.decode(), q->forward(w).detach(), 1e-6, 1e-6)) << name;
  }
}

TEST(Quantizer, TernaryCodesAreOnlyMinusOneZeroOne) {
  const at::Tensor w = at::randn({32, 64}) * 3;
  const QuantizedValues v = weight_preset("bitnet_b158", w)->encode(w);
  EXPECT_TRUE(((v.codes == -1) | (v.codes == 0) | (v.codes == 1)).all().item<bool>());
  EXPECT_GT((v.codes == 0).sum().item<int64_t>(), 0);
}

TEST(Quantizer, WarmupLambdaMixesLatentAndQuantized) {
  const at::Tensor w = at::randn({8, 32});
  Quantizer q = weight_preset("bitnet_b158", w);
  const at::Tensor full = q->forward(w);
  q->set_warmup_lambda(0.25);
  EXPECT_TRUE(at::allclose(q->forward(w), w + 0.25 * (full - w), 1e-6, 1e-6));
  q->set_warmup_lambda(0.0);
  EXPECT_TRUE(at::equal(q->forward(w), w));
  EXPECT_THROW(q->set_warmup_lambda(1.5), c10::Error);
}

TEST(Quantizer, LearnedParametersAreRegisteredAndShapedPerRow) {
  const at::Tensor w = at::randn({12, 64});
  Quantizer lsq = weight_preset("lsq_ternary", w);
  ASSERT_EQ(lsq->parameters().size(), 1u);
  EXPECT_EQ(lsq->scale.sizes(), (at::IntArrayRef{12, 1}));
  EXPECT_TRUE(at::allclose(lsq->scale, w.abs().mean(1, true)));
  Quantizer ttq = weight_preset("ttq", w);
  EXPECT_EQ(ttq->parameters().size(), 2u);
  Quantizer thr = weight_preset("ternary_learned_threshold", w);
  EXPECT_EQ(thr->named_parameters().size(), 2u);
  EXPECT_TRUE(thr->named_parameters().contains("threshold"));
  EXPECT_TRUE(at::allclose(thr->threshold, 0.7 * w.abs().mean(1, true)));
}

TEST(Quantizer, LearnedActivationScaleInitialisesFromFirstBatch) {
  QuantizerSpec spec = preset_spec("uint8_per_tensor", false);
  spec.scale.learned = true;
  spec.gradient = GradientEstimator::kLsq;
  Quantizer q(spec);
  EXPECT_FALSE(q->initialized.item<bool>());
  const at::Tensor x = at::rand({4, 16}) * 6;
  q->forward(x);
  EXPECT_TRUE(q->initialized.item<bool>());
  EXPECT_NEAR(q->scale.item<float>(), x.max().item<float>() / 255.0f, 1e-6);
}

TEST(Quantizer, SaveLoadRoundTripKeepsLearnedValues) {
  const at::Tensor w = at::randn({8, 64});
  Quantizer original = weight_preset("ttq", w);
  {
    at::NoGradGuard no_grad;
    original->scale.mul_(1.7);
  }
  std::stringstream buffer;
  torch::save(original, buffer);
  Quantizer restored = weight_preset("ttq", at::randn({8, 64}));
  torch::load(restored, buffer);
  EXPECT_TRUE(at::equal(restored->scale, original->scale));
  EXPECT_TRUE(at::equal(restored->scale_neg, original->scale_neg));
  EXPECT_TRUE(at::equal(restored->forward(w), original->forward(w)));
}

TEST(Quantizer, CloneDeepCopiesLearnedParameters) {
  const at::Tensor w = at::randn({8, 64});
  Quantizer original = weight_preset("lsq_ternary", w);
  auto copy = std::dynamic_pointer_cast<QuantizerImpl>(original->clone());
  ASSERT_TRUE(copy);
  EXPECT_TRUE(at::equal(copy->scale, original->scale));
  {
    at::NoGradGuard no_grad;
    copy->scale.add_(1);
  }
  EXPECT_FALSE(at::equal(copy->scale, original->scale));
}

TEST(Quantizer, BadShapeErrorNamesTheQuantizer) {
  Quantizer q(preset_spec("int4_group128", true));
  try {
    q->forward(at::randn({4, 100}));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    EXPECT_NE(msg.find("int4_group128"), std::string::npos) << msg;
    EXPECT_NE(msg.find("does not divide"), std::string::npos) << msg;
  }
}

TEST(QuantizerSpec, RejectsCombinationsThatCannotWork) {
  QuantizerSpec spec;
  spec.levels = Levels::signed_int(8);
  spec.threshold.kind = ThresholdKind::kMeanRatio;
  EXPECT_THROW(spec.validate(), std::invalid_argument);  // threshold on non-ternary
  spec = QuantizerSpec{};
  spec.gradient = GradientEstimator::kLsq;
  EXPECT_THROW(spec.validate(), std::invalid_argument);  // LSQ without a learned scale
  spec = QuantizerSpec{};
  spec.scale.statistic = ScaleStatistic::kTwnMean;
  EXPECT_THROW(spec.validate(), std::invalid_argument);  // twn_mean needs a threshold
  spec = QuantizerSpec{};
  spec.scale.learned = true;
  spec.granularity = Granularity::token();
  EXPECT_THROW(spec.validate(), std::invalid_argument);  // learned per-token
  spec = QuantizerSpec{};
  spec.scale.asymmetric = true;
  EXPECT_THROW(spec.validate(), std::invalid_argument);  // TTQ scales need learned + threshold
}

}  // namespace ternary
