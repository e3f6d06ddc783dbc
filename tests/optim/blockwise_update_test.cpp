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
StepResult run_steps(at::ScalarType dtype, int64_t n, int steps, bool fused, const Rule& rule) {
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
      if (fused) fused_blockwise_step(p, g, n, s1, s2, rule);
      else reference_blockwise_step(p, g, n, s1, s2, rule);
    };
    if (dtype == at::kFloat) go(r.param.data_ptr<float>(), grad.const_data_ptr<float>());
    else go(reinterpret_cast<BFloat16*>(r.param.data_ptr<c10::BFloat16>()),
            reinterpret_cast<const BFloat16*>(grad.const_data_ptr<c10::BFloat16>()));
  }
  return r;
}

template <typename Rule>
void expect_fused_equals_reference(const Rule& rule, at::ScalarType dtype, int64_t n) {
  const StepResult fused = run_steps(dtype, n, 4, true, rule);
  const StepResult reference = run_steps(dtype, n, 4, false, rule);
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
