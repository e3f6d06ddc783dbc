// Gradients: STE reaches latent weights in the dead zone; clipped STE zeroes outside the range;
// learned scales and thresholds match finite differences (of the forward, or of the documented
// sigmoid relaxation for thresholds); LSQ matches the paper's closed form.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

#include <cmath>
#include <functional>

#include "quantizers/presets.h"
#include "quantizers/quantizer.h"

namespace ternary {
namespace {

Quantizer attached(const QuantizerSpec& spec, const at::Tensor& w) {
  Quantizer q(spec);
  q->attach(w);
  return q;
}

// loss = sum(G * q(w)) for a fixed random G, and its gradients.
double weighted_loss(Quantizer& q, const at::Tensor& w, const at::Tensor& g) {
  at::NoGradGuard no_grad;
  return (q->forward(w).to(at::kDouble) * g).sum().item<double>();
}

// Central difference of weighted_loss in one element of a learned parameter.
double finite_difference(Quantizer& q, at::Tensor parameter, int64_t row, const at::Tensor& w, const at::Tensor& g,
                         double h) {
  const float original = parameter[row][0].item<float>();
  {
    at::NoGradGuard no_grad;
    parameter[row][0] = original + h;
  }
  const double plus = weighted_loss(q, w, g);
  {
    at::NoGradGuard no_grad;
    parameter[row][0] = original - h;
  }
  const double minus = weighted_loss(q, w, g);
  {
    at::NoGradGuard no_grad;
    parameter[row][0] = original;
  }
  return (plus - minus) / (2 * h);
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

TEST(Gradient, SteReachesLatentWeightsInTheDeadZone) {
  const at::Tensor w = at::randn({16, 64}).requires_grad_();
  Quantizer q = attached(preset_spec("bitnet_b158", true), w);
  const at::Tensor g = at::randn({16, 64});
  (q->forward(w) * g).sum().backward();
  const at::Tensor dead_zone = (q->forward(w) == 0);
  ASSERT_GT(dead_zone.sum().item<int64_t>(), 0);
  EXPECT_TRUE(at::allclose(w.grad(), g));
  EXPECT_TRUE(at::allclose(w.grad().masked_select(dead_zone), g.masked_select(dead_zone)));
}

TEST(Gradient, ClippedSteZeroesOutsideTheRangeOnly) {
  QuantizerSpec spec = preset_spec("bitnet_b158", true);
  spec.gradient = GradientEstimator::kClippedSte;
  spec.preset.clear();
  const at::Tensor w = (at::randn({16, 64}) * 2).requires_grad_();
  Quantizer q = attached(spec, w);
  q->forward(w).sum().backward();
  const double s = w.detach().abs().mean().item<double>();
  const at::Tensor inside = (w.detach() / s).abs() <= 1;
  EXPECT_TRUE(at::equal(w.grad(), inside.to(at::kFloat)));
  EXPECT_GT((~inside).sum().item<int64_t>(), 0);
}

TEST(Gradient, TtqScalesMatchFiniteDifferences) {
  const at::Tensor w = at::randn({4, 64});
  Quantizer q = attached(preset_spec("ttq", true), w);
  const at::Tensor g = at::randn({4, 64}, at::kDouble);
  (q->forward(w) * g.to(at::kFloat)).sum().backward();
  EXPECT_NEAR(q->scale.grad()[0][0].item<double>(), finite_difference(q, q->scale, 0, w, g, 1e-2), 1e-3);
  EXPECT_NEAR(q->scale_neg.grad()[0][0].item<double>(), finite_difference(q, q->scale_neg, 0, w, g, 1e-2), 1e-3);
}

TEST(Gradient, LearnedChannelScaleMatchesFiniteDifferences) {
  const at::Tensor w = at::randn({6, 48});
  Quantizer q = attached(preset_spec("ternary_learned_threshold", true), w);
  const at::Tensor g = at::randn({6, 48}, at::kDouble);
  (q->forward(w) * g.to(at::kFloat)).sum().backward();
  for (int64_t row = 0; row < 6; ++row)
    EXPECT_NEAR(q->scale.grad()[row][0].item<double>(), finite_difference(q, q->scale, row, w, g, 1e-2), 1e-3)
        << "row " << row;
}

TEST(Gradient, LearnedThresholdMatchesFiniteDifferencesOfTheRelaxation) {
  const at::Tensor w = at::randn({3, 40}, at::kDouble).to(at::kFloat);
  Quantizer q = attached(preset_spec("ternary_learned_threshold", true), w);
  const at::Tensor g = at::randn({3, 40}, at::kDouble);
  (q->forward(w) * g.to(at::kFloat)).sum().backward();
  const double temperature = q->spec().threshold.temperature;
  for (int64_t row = 0; row < 3; ++row) {
    const double s = q->scale[row][0].item<double>();
    const double tau = temperature * s;
    auto relaxed = [&](double t) {
      double total = 0;
      for (int64_t k = 0; k < 40; ++k) {
        const double x = w[row][k].item<double>();
        total += g[row][k].item<double>() * (s * sigmoid((x - t) / tau) - s * sigmoid((-x - t) / tau));
      }
      return total;
    };
    const double t = q->threshold[row][0].item<double>();
    const double h = 1e-5;
    const double fd = (relaxed(t + h) - relaxed(t - h)) / (2 * h);
    EXPECT_NEAR(q->threshold.grad()[row][0].item<double>(), fd, 1e-3 * std::max(1.0, std::fabs(fd))) << "row " << row;
  }
  EXPECT_GT(q->threshold.grad().abs().sum().item<double>(), 0.0);  // the relaxation is what makes it train
}

TEST(Gradient, LsqScaleGradientIsThePaperClosedForm) {
  const int64_t rows = 5, cols = 32;
  const at::Tensor w = (at::randn({rows, cols}) * 1.5).requires_grad_();
  Quantizer q = attached(preset_spec("lsq_ternary", true), w);
  {
    at::NoGradGuard no_grad;
    q->scale.mul_(0.6);  // push some elements past the clipping range
  }
  const at::Tensor g = at::randn({rows, cols});
  (q->forward(w) * g).sum().backward();
  const double grad_scale = 1.0 / std::sqrt(static_cast<double>(cols * 1));  // N = cols, Qp = 1
  for (int64_t r = 0; r < rows; ++r) {
    const double s = q->scale[r][0].item<double>();
    double expected = 0;
    for (int64_t k = 0; k < cols; ++k) {
      const double v = w[r][k].item<double>() / s;
      const double dq_ds = v < -1 ? -1.0 : (v > 1 ? 1.0 : std::nearbyint(v) - v);
      expected += g[r][k].item<double>() * dq_ds;
      const double dq_dw = (v < -1 || v > 1) ? 0.0 : 1.0;
      EXPECT_NEAR(w.grad()[r][k].item<double>(), g[r][k].item<double>() * dq_dw, 1e-5);
    }
    EXPECT_NEAR(q->scale.grad()[r][0].item<double>(), expected * grad_scale, 1e-4) << "row " << r;
  }
}

TEST(Gradient, WarmupKeepsIdentityForWeightsAndScalesLearnedGradients) {
  const at::Tensor w = at::randn({4, 64}).requires_grad_();
  Quantizer q = attached(preset_spec("ttq", true), w);
  const at::Tensor g = at::randn({4, 64});
  (q->forward(w) * g).sum().backward();
  const at::Tensor full_scale_grad = q->scale.grad().clone();
  w.mutable_grad().zero_();
  q->scale.mutable_grad().zero_();
  q->set_warmup_lambda(0.5);
  (q->forward(w) * g).sum().backward();
  EXPECT_TRUE(at::allclose(w.grad(), g, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(q->scale.grad(), 0.5 * full_scale_grad, 1e-5, 1e-6));
}

}  // namespace ternary
