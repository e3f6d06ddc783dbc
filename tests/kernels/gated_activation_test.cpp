// The feed-forward gates: the vectorized exp within 2 ulp of std::exp over the whole float range
// it serves, SwiGLU within a few ulp of the std::exp reference, every ISA tier bit-identical,
// NaN kept, and ReLU^2 exact.
#include "kernels/gated_activation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/exp_polynomial.h"

namespace ternary::kernels {
namespace {

int64_t ulp_distance(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::abs(static_cast<int64_t>(ia) - ib);  // a and b positive
}

TEST(GatedActivation, ExpIsWithinTwoUlpOfStdExp) {
  int64_t worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.001953125f * 3.1f) worst = std::max(worst, ulp_distance(exp_poly(x), std::exp(x)));
  EXPECT_LE(worst, 2);
  EXPECT_EQ(exp_poly(0.0f), 1.0f);
  EXPECT_TRUE(std::isnan(exp_poly(NAN)));
  EXPECT_GT(exp_poly(200.0f), 1e38f);  // clamped, not inf: silu(-200) is then ~0, not NaN
  EXPECT_LT(exp_poly(-200.0f), 1e-37f);
}

TEST(GatedActivation, SwigluMatchesTheReferenceAndEveryTierAgrees) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0, 4);
  const int64_t n = 5632 + 7;  // a vector tail
  std::vector<float> gate(n), up(n);
  for (float& v : gate) v = normal(rng);
  for (float& v : up) v = normal(rng);
  gate[0] = 100, gate[1] = -100, gate[2] = 0, gate[3] = NAN;
  std::vector<float> reference = gate;
  swiglu_reference(reference.data(), up.data(), n);
  std::vector<float> first;
  for (Isa isa : {Isa::kReference, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni}) {
    if (!cpu_supports(isa)) continue;
    ScopedIsa scoped(isa);
    std::vector<float> ours = gate;
    swiglu(ours.data(), up.data(), n);
    EXPECT_TRUE(std::isnan(ours[3]));
    for (int64_t i = 0; i < n; ++i)
      if (i != 3) EXPECT_NEAR(ours[i], reference[i], 4e-7f * std::fabs(reference[i]) + 1e-30f) << "i " << i << " g " << gate[i];
    if (first.empty()) first = ours;
    EXPECT_EQ(std::memcmp(ours.data(), first.data(), n * 4), 0) << to_string(isa);
  }
}

TEST(GatedActivation, ReluSquaredIsExact) {
  std::vector<float> gate = {-2, -0.0f, 0.5f, 3}, up = {7, 7, 2, -1};
  relu_squared_glu(gate.data(), up.data(), 4);
  EXPECT_EQ(gate, (std::vector<float>{0, 0, 0.5f, -9}));
}

}  // namespace
}  // namespace ternary::kernels
