// The fused blockwise kernel against the plain reference: bit-identical parameters, codes and
// scales for every rule and dtype, ragged sizes, non-finite gradients and all-zero blocks.
#include "kernels/blockwise_update.h"

#include <ATen/ATen.h>
#include <c10/util/BFloat16.h>
#include <gtest/gtest.h>

#include <limits>
#include <memory>

#include "kernels/cpu_features.h"
#include "kernels/dynamic_map.h"
#include "kernels/update_rules.h"

namespace ternary {
using namespace kernels;
namespace {

struct StepResult {
  at::Tensor param, codes1, absmax1, codes2, absmax2;
};

template <typename Rule>
StepResult run_steps(at::ScalarType dtype, int64_t n, int steps, bool fused, const Rule& rule,
                     ParamRounding rounding = {}) {
  at::manual_seed(42);
  StepResult r;
  r.param = at::randn({n}).to(dtype);
  r.codes1 = at::zeros({n}, at::kByte);
  r.codes2 = at::zeros({n}, at::kByte);
  r.absmax1 = at::zeros({state_blocks(n)});
  r.absmax2 = at::zeros({state_blocks(n)});
  for (int s = 0; s < steps; ++s) {
    at::Tensor grad = (at::randn({n}) * 0.1).to(dtype);
    if (n > 700) {
      grad[5] = std::numeric_limits<float>::quiet_NaN();
      grad[300] = std::numeric_limits<float>::infinity();
      grad.slice(0, 512, 768).zero_();  // a block whose gradient vanishes
    }
    const QuantizedState s1{r.codes1.data_ptr<uint8_t>(), r.absmax1.data_ptr<float>()};
    const QuantizedState s2{r.codes2.data_ptr<uint8_t>(), r.absmax2.data_ptr<float>()};
    auto go = [&](auto* p, const auto* g) {
      if (fused) fused_blockwise_step(p, g, n, s1, s2, rule, rounding);
      else reference_blockwise_step(p, g, n, s1, s2, rule, rounding);
    };
    if (dtype == at::kFloat) go(r.param.data_ptr<float>(), grad.const_data_ptr<float>());
    else go(reinterpret_cast<BFloat16*>(r.param.data_ptr<c10::BFloat16>()),
            reinterpret_cast<const BFloat16*>(grad.const_data_ptr<c10::BFloat16>()));
  }
  return r;
}

template <typename Rule>
void expect_fused_equals_reference(const Rule& rule, at::ScalarType dtype, int64_t n, ParamRounding rounding = {}) {
  const StepResult fused = run_steps(dtype, n, 4, true, rule, rounding);
  const StepResult reference = run_steps(dtype, n, 4, false, rule, rounding);
  EXPECT_TRUE(at::equal(fused.param, reference.param)) << "n=" << n;
  EXPECT_TRUE(at::equal(fused.codes1, reference.codes1)) << "n=" << n;
  EXPECT_TRUE(at::equal(fused.absmax1, reference.absmax1)) << "n=" << n;
  EXPECT_TRUE(at::equal(fused.codes2, reference.codes2)) << "n=" << n;
  EXPECT_TRUE(at::equal(fused.absmax2, reference.absmax2)) << "n=" << n;
  EXPECT_TRUE(at::isfinite(fused.param.to(at::kFloat)).all().item<bool>());
}

}  // namespace

// Every tier of the fused kernel this CPU can run (ref, avx2, avx512), each forced in turn.
class BlockwiseUpdateTiers : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!cpu_supports(GetParam())) GTEST_SKIP() << to_string(GetParam()) << " is not supported by this CPU";
    forced_ = std::make_unique<ScopedIsa>(GetParam());
  }
  std::unique_ptr<ScopedIsa> forced_;
};

TEST_P(BlockwiseUpdateTiers, FusedEqualsReferenceAdam) {
  for (auto dtype : {at::kFloat, at::kBFloat16})
    for (int64_t n : {1, 255, 256, 1000, 4097, 70001})
      expect_fused_equals_reference(AdamRule::make(1e-3, 0.9, 0.999, 1e-8, 0.01, 3), dtype, n);
}

TEST_P(BlockwiseUpdateTiers, FusedEqualsReferenceWithStochasticRounding) {
  for (int64_t n : {255, 4097, 70001})
    expect_fused_equals_reference(AdamRule::make(1e-3, 0.9, 0.999, 1e-8, 0.01, 3), at::kBFloat16, n,
                                  ParamRounding{true, 0x5EEDu});
}

TEST_P(BlockwiseUpdateTiers, FusedEqualsReferenceMomentumAndLion) {
  for (auto dtype : {at::kFloat, at::kBFloat16})
    for (int64_t n : {300, 4097}) {
      expect_fused_equals_reference(MomentumRule{0.9f, 1e-2f, 1e-4f, false}, dtype, n);
      expect_fused_equals_reference(LionRule::make(1e-3, 0.9, 0.99, 1e-2), dtype, n);
    }
}

INSTANTIATE_TEST_SUITE_P(Tiers, BlockwiseUpdateTiers, ::testing::Values(Isa::kReference, Isa::kAvx2, Isa::kAvx512),
                         [](const ::testing::TestParamInfo<Isa>& info) { return std::string(to_string(info.param)); });

TEST(BlockwiseUpdate, NonFiniteGradientLeavesParameterAndResetsState) {
  const int64_t n = 1024;
  const StepResult before = run_steps(at::kFloat, n, 1, true, AdamRule::make(1e-3, 0.9, 0.999, 1e-8, 0.0, 1));
  const StepResult after = run_steps(at::kFloat, n, 2, true, AdamRule::make(1e-3, 0.9, 0.999, 1e-8, 0.0, 1));
  at::manual_seed(42);
  const at::Tensor initial = at::randn({n});
  for (int64_t i : {5, 300}) {
    EXPECT_EQ(before.param[i].item<float>(), initial[i].item<float>()) << i;
    EXPECT_EQ(after.param[i].item<float>(), initial[i].item<float>()) << i;
    EXPECT_EQ(after.codes1[i].item<uint8_t>(), DynamicCodebook::signed_map().zero_code()) << i;
    EXPECT_EQ(after.codes2[i].item<uint8_t>(), DynamicCodebook::unsigned_map().zero_code()) << i;
  }
  EXPECT_NE(after.param[6].item<float>(), initial[6].item<float>());
}

// Over all 2^16 values of the random bits, stochastic rounding averages to the value exactly:
// it rounds up in magnitude with probability equal to the dropped fraction.
TEST(StochasticRounding, IsExactlyUnbiasedOverItsRandomBits) {
  for (const float value : {1.0f + 3e-5f, -2.5f - 1e-4f, 3.14159265f, 1e-30f, -65504.7f, 0.0f}) {
    double sum = 0;
    for (uint32_t r = 0; r < 65536; ++r) sum += BFloat16::from_float_stochastic(value, r).to_float();
    EXPECT_DOUBLE_EQ(sum / 65536.0, static_cast<double>(value)) << value;
  }
  EXPECT_EQ(BFloat16::from_float_stochastic(1.0f, 0xFFFF).to_float(), 1.0f) << "representable values stay";
  EXPECT_TRUE(std::isnan(BFloat16::from_float_stochastic(std::numeric_limits<float>::quiet_NaN(), 7).to_float()));
  EXPECT_TRUE(std::isinf(BFloat16::from_float_stochastic(std::numeric_limits<float>::infinity(), 0xFFFF).to_float()));
}

// The counter-based bits: uniform over 16 bits, different per key, and the same for the same
// (key, index) whatever the order of the calls.
TEST(StochasticRounding, BitsAreUniformAndKeyed) {
  const int64_t n = 1 << 20;
  std::vector<int64_t> histogram(16, 0);
  double mean = 0;
  int64_t same_as_other_key = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = rounding_bits(12345u, i);
    ASSERT_LT(bits, 65536u);
    ++histogram[bits >> 12];
    mean += bits;
    same_as_other_key += bits == rounding_bits(12346u, i);
  }
  EXPECT_NEAR(mean / n, 32767.5, 100.0);
  for (int64_t count : histogram) EXPECT_NEAR(static_cast<double>(count), n / 16.0, 0.02 * n / 16.0);
  EXPECT_LT(same_as_other_key, 100) << "one key's bits must not repeat another's";
  EXPECT_EQ(rounding_bits(7u, 123456789012LL), rounding_bits(7u, 123456789012LL));
}

// An update far under half a bf16 ulp: rounding to nearest loses it every step, stochastic
// rounding keeps it on average (what makes bf16 master weights train).
TEST(StochasticRounding, KeepsUpdatesThatRoundingToNearestLoses) {
  const int64_t n = 1 << 16;
  const MomentumRule rule{0.0f, 1e-4f, 0.0f, true};  // plain SGD, p -= 1e-4 * g
  for (const bool stochastic : {false, true}) {
    at::Tensor param = at::ones({n}, at::kBFloat16), grad = at::ones({n}, at::kBFloat16);
    std::vector<float> state(n, 0.0f);
    for (int step = 0; step < 100; ++step)
      fp32_state_step(reinterpret_cast<BFloat16*>(param.data_ptr<c10::BFloat16>()),
                      reinterpret_cast<const BFloat16*>(grad.const_data_ptr<c10::BFloat16>()), n, state.data(),
                      nullptr, rule, ParamRounding{stochastic, static_cast<uint32_t>(step)});
    const double mean = param.to(at::kDouble).mean().item<double>();
    if (stochastic) EXPECT_NEAR(mean, 1.0 - 100 * 1e-4, 2e-4);  // fp32 would give 0.99
    else EXPECT_EQ(mean, 1.0);
  }
}

TEST(BlockwiseUpdate, AllZeroStateBlockStaysFinite) {
  const int64_t n = 512;
  at::Tensor p = at::zeros({n}), g = at::zeros({n});
  at::Tensor c1 = at::zeros({n}, at::kByte), c2 = at::zeros({n}, at::kByte), a1 = at::zeros({2}), a2 = at::zeros({2});
  fused_blockwise_step(p.data_ptr<float>(), g.const_data_ptr<float>(), n, {c1.data_ptr<uint8_t>(), a1.data_ptr<float>()},
                       {c2.data_ptr<uint8_t>(), a2.data_ptr<float>()}, AdamRule::make(1e-3, 0.9, 0.999, 1e-8, 0.1, 1));
  EXPECT_TRUE(at::equal(p, at::zeros({n})));
  EXPECT_EQ(a1.abs().sum().item<float>(), 0.0f);
  EXPECT_TRUE((c1 == DynamicCodebook::signed_map().zero_code()).all().item<bool>());
}

}  // namespace ternary
