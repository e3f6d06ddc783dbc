// GPTQ and AWQ for ternary weights against their references and the recipe's round-to-nearest,
// and the latent weights that make a quantizer produce chosen codes.
#include "quantizers/gptq.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "quantizers/awq.h"
#include "quantizers/presets.h"
#include "quantizers/weight_rounding.h"

namespace ternary {
namespace {

// Calibration inputs with correlated channels (a random mixing of few latent factors) and uneven
// magnitudes: the case where compensating rounding errors pays.
at::Tensor correlated_inputs(int64_t rows, int64_t cols, uint64_t seed) {
  at::manual_seed(seed);
  const at::Tensor factors = at::randn({rows, cols / 4});
  const at::Tensor mixing = at::randn({cols / 4, cols});
  const at::Tensor magnitudes = at::linspace(0.2, 3.0, cols);
  return (factors.matmul(mixing) + 0.1 * at::randn({rows, cols})) * magnitudes;
}

at::Tensor second_moment(const at::Tensor& X) { return X.t().matmul(X) / static_cast<double>(X.size(0)); }

}  // namespace

TEST(Gptq, BlockedLazyUpdatesEqualThePlainReference) {
  const at::Tensor X = correlated_inputs(512, 96, 1);
  const at::Tensor W = at::randn({24, 96}) * 0.05;
  const at::Tensor U = gptq_inverse_factor(second_moment(X), GptqOptions{});
  const at::Tensor scales = W.abs().mean(1, true);
  at::Tensor reference_compensated, compensated;
  const at::Tensor reference = gptq_ternary_codes_reference(W, scales, U, &reference_compensated);
  for (int64_t block : {1, 7, 32, 96, 500}) {
    EXPECT_TRUE(gptq_ternary_codes(W, scales, U, block, &compensated).equal(reference)) << block;
    EXPECT_TRUE(at::allclose(compensated, reference_compensated, 1e-9, 1e-12)) << block;
  }
  // Each code is the rounding of the compensated weight it was taken from.
  EXPECT_TRUE(at::clamp(at::round(reference_compensated / scales), -1, 1).to(at::kChar).equal(reference));
  // And it is not round-to-nearest: error compensation changed codes.
  const at::Tensor nearest = at::clamp(at::round(W / scales), -1, 1).to(at::kChar);
  EXPECT_GT(reference.ne(nearest).sum().item<int64_t>(), 0);
}

TEST(Gptq, LowersTheOutputErrorBelowAbsmeanRounding) {
  const at::Tensor X = correlated_inputs(1024, 128, 2);
  const at::Tensor H = second_moment(X);
  const at::Tensor W = at::randn({64, 128}) * 0.05;
  for (const char* preset : {"bitnet_b158", "lsq_ternary"}) {
    const QuantizerSpec spec = preset_spec(preset, true);
    const double absmean = output_error(W, round_to_nearest(W, spec), H);
    const TernaryRounding r = gptq_ternary(W, H, scales_per_row(spec), GptqOptions{});
    const double gptq = output_error(W, r.codes.to(at::kFloat) * r.scale, H);
    std::printf("[ gptq ] %s: output error %.4g (absmean) -> %.4g\n", preset, absmean, gptq);
    EXPECT_LT(gptq, 0.5 * absmean) << preset;
    EXPECT_EQ(r.scale.size(0), scales_per_row(spec) ? 64 : 1);
  }
}

TEST(Gptq, WithoutCorrelationItIsNoWorseThanRoundingToNearest) {
  // H diagonal: nothing to compensate through, so only the scale search and refit act.
  const at::Tensor H = at::diag(at::linspace(0.5, 2.0, 64));
  const at::Tensor W = at::randn({16, 64});
  const QuantizerSpec spec = preset_spec("bitnet_b158", true);
  const TernaryRounding r = gptq_ternary(W, H, false, GptqOptions{});
  EXPECT_LE(output_error(W, r.codes.to(at::kFloat) * r.scale, H), output_error(W, round_to_nearest(W, spec), H) + 1e-9);
}

TEST(Gptq, DeadInputsAndBadShapesAreHandled) {
  at::Tensor H = second_moment(correlated_inputs(256, 32, 3));
  H.index_put_({5}, 0);
  H.index_put_({at::indexing::Slice(), 5}, 0);  // channel 5 never saw input
  const at::Tensor W = at::randn({8, 32});
  const TernaryRounding r = gptq_ternary(W, H, true, GptqOptions{});
  EXPECT_TRUE(at::isfinite(r.scale).all().item<bool>());
  EXPECT_THROW(gptq_ternary(W, at::eye(16), true, GptqOptions{}), std::invalid_argument);
  EXPECT_THROW(gptq_ternary(W, H, true, GptqOptions{0.01, 0}), std::invalid_argument);
}

TEST(Awq, FindsInputScalesThatLowerTheError) {
  // A few input channels carry most of the signal: protecting their weights pays.
  at::manual_seed(4);
  at::Tensor X = at::randn({2048, 64});
  X.narrow(1, 0, 4).mul_(25.0);
  const at::Tensor H = second_moment(X);
  const at::Tensor W = at::randn({48, 64}) * 0.05;
  const QuantizerSpec spec = preset_spec("bitnet_b158", true);
  const AwqResult r = awq_search({W, W.flip(0)}, {spec, spec}, H, X.abs().mean(0), 20);
  std::printf("[ awq ] alpha %.2f: output error %.4g -> %.4g\n", r.alpha, r.error_before, r.error_after);
  EXPECT_NE(r.alpha, 0.0);
  EXPECT_LT(r.error_after, 0.9 * r.error_before);
  EXPECT_NEAR(r.input_scales.max().item<double>() * r.input_scales.min().item<double>(), 1.0, 1e-4);
}

TEST(LatentForCodes, EveryTernaryRecipeEncodesTheChosenCodesExactly) {
  at::manual_seed(5);
  const at::Tensor W = at::randn({12, 40});
  const at::Tensor codes = at::randint(-1, 2, {12, 40}).to(at::kChar);
  codes[3].zero_();  // an all-zero row
  for (const char* preset : {"bitnet_b158", "twn", "lsq_ternary", "ternary_learned_threshold"}) {
    Quantizer q(preset_spec(preset, true));
    q->attach(W);
    const at::Tensor scale = scales_per_row(q->spec()) ? at::rand({12, 1}) + 0.1 : at::full({1, 1}, 0.37);
    const at::Tensor residual = at::rand({12, 40}) - 0.5;
    for (const at::Tensor& r : {at::Tensor(), residual}) {
      const at::Tensor latent = latent_for_codes(q, codes, scale, r);
      const QuantizedValues v = q->encode(latent);
      EXPECT_TRUE(v.codes.equal(codes)) << preset;
      // The forward the model trains with gives the same weight.
      EXPECT_TRUE(at::allclose(q->forward(latent), codes.to(at::kFloat) * scale, 1e-5, 1e-7)) << preset;
      // With a residual, weights keep their place in the rounding cell: the zeros are not all 0.
      if (r.defined()) EXPECT_GT(latent.masked_select(codes.eq(0)).abs().max().item<float>(), 0.0f) << preset;
    }
  }
  Quantizer int8(preset_spec("int8_per_channel", true));
  EXPECT_THROW(latent_for_codes(int8, codes, at::ones({12, 1})), std::invalid_argument);
  EXPECT_NE(codes_unsupported(preset_spec("int4_group128", true)), "");
  EXPECT_NE(codes_unsupported(preset_spec("ttq", true)), "");
}

}  // namespace ternary
