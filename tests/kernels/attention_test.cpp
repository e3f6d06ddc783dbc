// One query head over a KV cache: the plain softmax-weighted sum, and every SIMD tier equal to the
// plain-code tier bit for bit.
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"

namespace ternary::kernels {
namespace {

TEST(Attention, SoftmaxWeightedValuesAndEveryTierBitIdentical) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0, 1);
  for (const auto [positions, hd, stride] : {std::tuple<int64_t, int64_t, int64_t>{1, 64, 64}, {37, 64, 256},
                                             {300, 128, 512}, {5, 20, 40}}) {
    std::vector<float> q(static_cast<size_t>(hd)), keys(static_cast<size_t>(positions * stride)),
        values(keys.size());
    for (auto* v : {&q, &keys, &values})
      for (float& x : *v) x = normal(rng);
    std::vector<float> scores(static_cast<size_t>(positions)), reference(static_cast<size_t>(hd));
    {
      ScopedIsa isa(Isa::kReference);
      attend_head(q.data(), keys.data(), values.data(), stride, positions, hd, scores.data(), reference.data());
    }
    std::vector<double> weights(static_cast<size_t>(positions));
    double max_logit = -INFINITY, denom = 0;
    for (int64_t p = 0; p < positions; ++p) {
      double dot = 0;
      for (int64_t d = 0; d < hd; ++d) dot += double{q[d]} * keys[p * stride + d];
      weights[p] = dot / std::sqrt(static_cast<double>(hd));
      max_logit = std::max(max_logit, weights[p]);
    }
    for (double& w : weights) denom += (w = std::exp(w - max_logit));
    for (int64_t d = 0; d < hd; ++d) {
      double expected = 0;
      for (int64_t p = 0; p < positions; ++p) expected += weights[p] / denom * values[p * stride + d];
      EXPECT_NEAR(reference[d], expected, 1e-5) << positions << " positions, d " << d;
    }
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
      if (!cpu_supports(isa)) continue;
      ScopedIsa scoped(isa);
      std::vector<float> out(static_cast<size_t>(hd));
      attend_head(q.data(), keys.data(), values.data(), stride, positions, hd, scores.data(), out.data());
      EXPECT_EQ(std::memcmp(out.data(), reference.data(), out.size() * 4), 0) << to_string(isa);
    }
  }
}

}  // namespace
}  // namespace ternary::kernels
