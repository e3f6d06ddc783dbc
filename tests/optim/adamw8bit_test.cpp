// AdamW8bit as a torch::optim::Optimizer: against torch::optim::AdamW (first step, the
// bitsandbytes 50-step protocol, a 1000-step noisy quadratic), state size, state_dict round
// trips, bad state dicts, param groups, bf16, and the fused kernel against the reference.
#include "optim/adamw8bit.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include <cmath>
#include <optional>
#include <sstream>

#include "kernels/blockwise_update.h"
#include "optimizer_test_util.h"

namespace ternary {
using namespace kernels;
namespace {

at::Tensor parameter(at::IntArrayRef shape, uint64_t seed = 0) {
  at::manual_seed(seed);
  return at::randn(shape).requires_grad_();
}

using testing::state_of;

}  // namespace

TEST(AdamW8bit, FirstStepMatchesTorchAdamW) {
  at::Tensor p8 = parameter({1024, 1024}), p32 = parameter({1024, 1024});
  AdamW8bit ours({p8}, AdamW8bitOptions(1e-3).weight_decay(0.01));
  torch::optim::AdamW theirs({p32}, torch::optim::AdamWOptions(1e-3).weight_decay(0.01));
  testing::run_both(ours, p8, theirs, p32, 1);
  EXPECT_LT((p8 - p32).abs().max().item<float>(), 1e-6);
}

TEST(AdamW8bit, BitsandbytesFiftyStepProtocolWithResync) {
  // bitsandbytes tests/test_optim.py: each step, compare with fp32 AdamW, then copy our
  // (dequantized) state and parameters into it so errors do not accumulate.
  for (int64_t cols : {32, 1024, 4097}) {
    at::Tensor p8 = parameter({1024, cols}, cols), p32 = p8.detach().clone().requires_grad_();
    AdamW8bit ours({p8}, AdamW8bitOptions(1e-3).weight_decay(0.0));
    torch::optim::AdamW theirs({p32}, torch::optim::AdamWOptions(1e-3).weight_decay(0.0));
    double worst_abs = 0, worst_rel = 0;
    for (int step = 0; step < 50; ++step) {
      testing::run_both(ours, p8, theirs, p32, 1, 0.01);
      const at::Tensor err = (p8 - p32).abs();
      worst_abs = std::max(worst_abs, err.mean().item<double>());
      worst_rel = std::max(worst_rel, (err / (p32.abs() + 1e-8)).mean().item<double>());
      // resync
      const auto& s = state_of(ours, p8);
      auto& fp32_state = static_cast<torch::optim::AdamWParamState&>(*theirs.state().at(p32.unsafeGetTensorImpl()));
      at::NoGradGuard no_grad;
      fp32_state.exp_avg().copy_(testing::dequantize(s.state1(), s.absmax1(), true).view_as(p32));
      fp32_state.exp_avg_sq().copy_(testing::dequantize(s.state2(), s.absmax2(), false).view_as(p32));
      p32.copy_(p8);
    }
    EXPECT_LT(worst_abs, 6e-5) << "1024x" << cols;
    EXPECT_LT(worst_rel, 6e-4) << "1024x" << cols;
  }
}

TEST(AdamW8bit, NoisyQuadraticModelMatchesFp32AdamWWithoutResync) {
  // Noisy quadratic model (Zhang et al., 2019): f(w) = 0.5 sum h_i (w_i - t_i)^2 with curvatures
  // h log-spaced in [1e-3, 1], gradient noise std 0.5 sqrt(h_i), cosine learning-rate decay.
  const int64_t n = 64 * 128;
  const at::Tensor target = parameter({64, 128}, 7).detach();
  const at::Tensor h = at::exp(at::linspace(std::log(1e-3), 0.0, n)).view({64, 128});
  auto run = [&](bool eight_bit) {
    at::Tensor w = at::zeros({64, 128}).requires_grad_();
    std::unique_ptr<torch::optim::Optimizer> opt;
    if (eight_bit) opt = std::make_unique<AdamW8bit>(std::vector<at::Tensor>{w}, AdamW8bitOptions(1e-2).weight_decay(0));
    else opt = std::make_unique<torch::optim::AdamW>(std::vector<at::Tensor>{w},
                                                     torch::optim::AdamWOptions(1e-2).weight_decay(0));
    at::manual_seed(99);  // the same noise for both
    for (int step = 0; step < 1000; ++step) {
      for (auto& group : opt->param_groups()) group.options().set_lr(1e-2 * 0.5 * (1 + std::cos(M_PI * step / 1000.0)));
      w.mutable_grad() = h * (w.detach() - target) + 0.5 * at::sqrt(h) * at::randn({64, 128});
      opt->step();
    }
    return 0.5 * (h * (w.detach() - target).pow(2)).mean().item<double>();
  };
  const double fp32 = run(false), eight = run(true);
  EXPECT_LT(std::abs(eight - fp32), 0.05 * fp32) << "fp32 " << fp32 << " vs 8-bit " << eight;
}

TEST(AdamW8bit, StateIsTwoBytesPlusBlockScalesPerParameter) {
  at::Tensor p = parameter({1024, 1024});
  AdamW8bit opt({p});
  p.mutable_grad() = at::randn({1024, 1024});
  opt.step();
  EXPECT_DOUBLE_EQ(static_cast<double>(opt.state_bytes()) / p.numel(), 2.0 + 8.0 / 256.0);
  EXPECT_EQ(state_of(opt, p).state1().scalar_type(), at::kByte);
}

TEST(AdamW8bit, SmallTensorsKeepFp32StateAndMatchAdamW) {
  at::Tensor p8 = parameter({10, 10}), p32 = p8.detach().clone().requires_grad_();
  AdamW8bit ours({p8});
  torch::optim::AdamW theirs({p32});
  testing::run_both(ours, p8, theirs, p32, 20);
  EXPECT_EQ(state_of(ours, p8).state1().scalar_type(), at::kFloat);
  EXPECT_LT((p8 - p32).abs().max().item<float>(), 1e-6);
}

TEST(AdamW8bit, FusedKernelEqualsReferenceThroughTheOptimizer) {
  at::Tensor a = parameter({300, 70}), b = a.detach().clone().requires_grad_();
  AdamW8bit fused({a}), reference({b});
  reference.use_reference_kernel(true);
  testing::run_both(fused, a, reference, b, 5);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_TRUE(at::equal(state_of(fused, a).state1(), state_of(reference, b).state1()));
  EXPECT_TRUE(at::equal(state_of(fused, a).state2(), state_of(reference, b).state2()));
}

TEST(AdamW8bit, StateDictRoundTripGivesTheIdenticalNextStep) {
  at::Tensor p = parameter({128, 64});
  AdamW8bit opt({p}, AdamW8bitOptions(1e-2));
  for (int step = 0; step < 3; ++step) {
    p.mutable_grad() = at::randn({128, 64});
    opt.step();
  }
  std::stringstream buffer;
  torch::save(opt, buffer);
  at::Tensor q = p.detach().clone().requires_grad_();
  AdamW8bit restored({q}, AdamW8bitOptions(1e-2));
  torch::load(restored, buffer);
  EXPECT_EQ(state_of(restored, q).step(), 3);
  EXPECT_TRUE(at::equal(state_of(restored, q).state1(), state_of(opt, p).state1()));
  testing::run_both(opt, p, restored, q, 1);
  EXPECT_TRUE(at::equal(p, q));
}

TEST(AdamW8bit, StateDictOfAnotherModelIsAClearError) {
  at::Tensor big = parameter({128, 64});
  AdamW8bit opt({big});
  big.mutable_grad() = at::randn({128, 64});
  opt.step();
  std::stringstream buffer;
  torch::save(opt, buffer);
  at::Tensor other = parameter({64, 128 + 1});
  AdamW8bit wrong({other});
  try {
    torch::load(wrong, buffer);
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    EXPECT_NE(msg.find("AdamW8bit::load: state of parameter #1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("does not belong to this model"), std::string::npos) << msg;
  }
}

TEST(AdamW8bit, CorruptArchiveIsAClearError) {
  at::Tensor p = parameter({8, 8});
  AdamW8bit opt({p});
  std::stringstream garbage("this is not a torch archive");
  EXPECT_THROW(torch::load(opt, garbage), c10::Error);  // LibTorch's archive reader refuses it
  // an archive of another optimizer type is ours to reject
  torch::optim::AdamW other({parameter({8, 8})});
  std::stringstream foreign;
  torch::save(other, foreign);
  try {
    torch::load(opt, foreign);
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("AdamW8bit"), std::string::npos)
        << e.what_without_backtrace();
  }
}

TEST(AdamW8bit, ParamGroupsKeepTheirOwnOptions) {
  at::Tensor frozen = parameter({64, 64}, 1), trained = parameter({64, 64}, 2);
  const at::Tensor frozen_before = frozen.detach().clone();
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<at::Tensor>{frozen}, std::make_unique<AdamW8bitOptions>(0.0));
  groups.emplace_back(std::vector<at::Tensor>{trained});
  AdamW8bit opt(groups, AdamW8bitOptions(1e-2));
  frozen.mutable_grad() = at::randn({64, 64});
  trained.mutable_grad() = at::randn({64, 64});
  opt.step();
  EXPECT_TRUE(at::equal(frozen, frozen_before));
  EXPECT_EQ(opt.param_groups()[1].options().get_lr(), 1e-2);
}

TEST(AdamW8bit, Bf16ParametersTrainWithEightBitState) {
  at::Tensor p = parameter({96, 64}).detach().to(at::kBFloat16).requires_grad_();
  at::Tensor reference = p.detach().to(at::kFloat).requires_grad_();
  AdamW8bit ours({p}, AdamW8bitOptions(1e-2));
  torch::optim::AdamW theirs({reference}, torch::optim::AdamWOptions(1e-2));
  for (int step = 0; step < 10; ++step)  // the fp32 reference sees the same bf16-rounded gradient
    testing::step_both(ours, p, theirs, reference, at::randn({96, 64}).to(at::kBFloat16).to(at::kFloat));
  EXPECT_EQ(p.scalar_type(), at::kBFloat16);
  // bf16 keeps 8 mantissa bits, so each stored step rounds; the mean drift stays at that scale
  EXPECT_LT((p.to(at::kFloat) - reference).abs().mean().item<float>(), 5e-3);
}

// step_parameter (optimizer.step_in_backward) gives each parameter exactly what step() gives it,
// in any order, with its own group's options.
TEST(AdamW8bit, StepParameterEqualsTheStepOfThatParameter) {
  std::vector<at::Tensor> mine = {parameter({64, 80}, 1), parameter({300}, 2)};
  std::vector<at::Tensor> theirs = {mine[0].detach().clone().requires_grad_(), mine[1].detach().clone().requires_grad_()};
  auto groups = [](const std::vector<at::Tensor>& p) {
    return std::vector<torch::optim::OptimizerParamGroup>{
        torch::optim::OptimizerParamGroup({p[0]}, std::make_unique<AdamW8bitOptions>(AdamW8bitOptions(1e-2))),
        torch::optim::OptimizerParamGroup({p[1]}, std::make_unique<AdamW8bitOptions>(
                                                      AdamW8bitOptions(3e-3).weight_decay(0.0).min_8bit_size(0)))};
  };
  AdamW8bit by_parameter(groups(mine)), whole(groups(theirs));
  for (int step = 0; step < 5; ++step) {
    for (size_t k = 0; k < 2; ++k) {
      const at::Tensor grad = at::randn(mine[k].sizes());
      mine[k].mutable_grad() = grad.clone();
      theirs[k].mutable_grad() = grad.clone();
    }
    by_parameter.step_parameter(mine[1]);  // the reverse order backward would produce
    by_parameter.step_parameter(mine[0]);
    whole.step();
  }
  for (size_t k = 0; k < 2; ++k) EXPECT_TRUE(at::equal(mine[k], theirs[k])) << k;
  at::Tensor stranger = parameter({4});
  EXPECT_THROW(by_parameter.step_parameter(stranger), c10::Error);
}

// bf16 parameters with stochastic rounding: determined by the seed (the same seed, the same
// weights), another seed gives other roundings, and the result tracks fp32 AdamW closer than
// rounding to nearest does when updates are under half a bf16 ulp.
TEST(AdamW8bit, Bf16StochasticRoundingIsSeededAndTracksFp32) {
  auto train = [](std::optional<uint64_t> seed) {
    at::Tensor p = (at::ones({64, 128}) * 3.0f).to(at::kBFloat16).requires_grad_();
    AdamW8bit optimizer({p}, AdamW8bitOptions(2e-3).weight_decay(0.0));
    optimizer.set_bf16_stochastic_rounding(seed);
    at::manual_seed(5);
    for (int step = 0; step < 50; ++step) {
      p.mutable_grad() = (at::randn({64, 128}) + 0.5f).to(at::kBFloat16);
      optimizer.step();
    }
    return p.detach().to(at::kFloat);
  };
  at::Tensor reference = (at::ones({64, 128}) * 3.0f).requires_grad_();
  {
    torch::optim::AdamW fp32({reference}, torch::optim::AdamWOptions(2e-3).weight_decay(0.0));
    at::manual_seed(5);
    for (int step = 0; step < 50; ++step) {
      reference.mutable_grad() = (at::randn({64, 128}) + 0.5f).to(at::kBFloat16).to(at::kFloat);
      fp32.step();
    }
  }
  const at::Tensor a = train(1), b = train(1), c = train(2), nearest = train(std::nullopt);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(at::equal(a, c));
  const double drift_stochastic = (a.mean() - reference.detach().mean()).abs().item<double>();
  const double drift_nearest = (nearest.mean() - reference.detach().mean()).abs().item<double>();
  EXPECT_LT(drift_stochastic, 0.2 * drift_nearest) << drift_stochastic << " vs " << drift_nearest;
}

TEST(AdamW8bit, RejectsBadOptionsAndParameters) {
  EXPECT_THROW(AdamW8bit({parameter({4})}, AdamW8bitOptions(-1.0)), c10::Error);
  EXPECT_THROW(AdamW8bit({parameter({4})}, AdamW8bitOptions(1e-3).betas({1.0, 0.999})), c10::Error);
  at::Tensor p = at::zeros({4}, at::kDouble).requires_grad_();
  AdamW8bit opt({p});
  p.mutable_grad() = at::ones({4}, at::kDouble);
  EXPECT_THROW(opt.step(), c10::Error);
}

TEST(Adam8bit, DefaultsToNoWeightDecay) {
  at::Tensor p = parameter({4});
  Adam8bit opt({p});
  EXPECT_EQ(static_cast<const AdamW8bitOptions&>(opt.defaults()).weight_decay(), 0.0);
}

}  // namespace ternary
