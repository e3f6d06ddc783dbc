// SGD8bit and Lion8bit: against fp32 references, fused vs reference kernel, state size,
// state_dict round trip.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>

#include <sstream>

#include "optim/lion8bit.h"
#include "optim/sgd8bit.h"
#include "optimizer_test_util.h"

namespace ternary {
namespace {

at::Tensor parameter(at::IntArrayRef shape, uint64_t seed = 0) {
  at::manual_seed(seed);
  return at::randn(shape).requires_grad_();
}

// Lion in fp32, written out: the reference for Lion8bit.
void lion_fp32_step(at::Tensor& p, at::Tensor& m, const at::Tensor& g, double lr, double b1, double b2, double wd) {
  at::NoGradGuard no_grad;
  p.mul_(1 - lr * wd);
  p.add_(at::sign(m * b1 + g * (1 - b1)), -lr);
  m.mul_(b2).add_(g, 1 - b2);
}

}  // namespace

TEST(SGD8bit, TracksTorchSgdWithMomentum) {
  at::Tensor p8 = parameter({256, 64}), p32 = p8.detach().clone().requires_grad_();
  SGD8bit ours({p8}, SGD8bitOptions(1e-2).momentum(0.9).weight_decay(1e-4));
  torch::optim::SGD theirs({p32}, torch::optim::SGDOptions(1e-2).momentum(0.9).weight_decay(1e-4));
  testing::run_both(ours, p8, theirs, p32, 30);
  const double rel = ((p8 - p32).abs().mean() / (p32 - parameter({256, 64})).abs().mean()).item<double>();
  EXPECT_LT(rel, 0.02) << "8-bit momentum drifted from fp32 SGD by " << rel << " of the distance travelled";
  EXPECT_DOUBLE_EQ(static_cast<double>(ours.state_bytes()) / p8.numel(), 1.0 + 4.0 / 256.0);
}

TEST(SGD8bit, FusedEqualsReferenceAndRoundTrips) {
  at::Tensor a = parameter({70, 90}), b = a.detach().clone().requires_grad_();
  SGD8bit fused({a}), reference({b});
  reference.use_reference_kernel(true);
  testing::run_both(fused, a, reference, b, 4);
  EXPECT_TRUE(at::equal(a, b));
  std::stringstream buffer;
  torch::save(fused, buffer);
  at::Tensor c = a.detach().clone().requires_grad_();
  SGD8bit restored({c});
  torch::load(restored, buffer);
  testing::run_both(fused, a, restored, c, 1);
  EXPECT_TRUE(at::equal(a, c));
}

TEST(SGD8bit, RejectsZeroMomentum) { EXPECT_THROW(SGD8bit({parameter({4})}, SGD8bitOptions().momentum(0)), c10::Error); }

TEST(Lion8bit, TracksFp32Lion) {
  at::Tensor p8 = parameter({256, 64});
  at::Tensor p32 = p8.detach().clone(), m = at::zeros_like(p32);
  Lion8bit ours({p8}, Lion8bitOptions(1e-3).weight_decay(0.1));
  int64_t flips = 0;
  for (int step = 0; step < 20; ++step) {
    const at::Tensor g = at::randn({256, 64});
    p8.mutable_grad() = g.clone();
    const at::Tensor before8 = p8.detach().clone(), before32 = p32.clone();
    ours.step();
    lion_fp32_step(p32, m, g, 1e-3, 0.9, 0.99, 0.1);
    // Lion moves every element by +-lr: count elements whose direction differs
    flips += ((p8.detach() - before8).sign() != (p32 - before32).sign()).sum().item<int64_t>();
  }
  EXPECT_LT(static_cast<double>(flips) / (20.0 * p8.numel()), 0.01);
}

TEST(Lion8bit, FusedEqualsReference) {
  at::Tensor a = parameter({100, 50}), b = a.detach().clone().requires_grad_();
  Lion8bit fused({a}), reference({b});
  reference.use_reference_kernel(true);
  testing::run_both(fused, a, reference, b, 4);
  EXPECT_TRUE(at::equal(a, b));
}

}  // namespace ternary
