// AdamW8bit, Lion8bit and SGD8bit against bitsandbytes 0.50.2 (tests/golden/bitsandbytes_optim.py).
//
// Each step k starts from bitsandbytes' own parameters and 8-bit state after step k-1, so the
// comparison isolates one update: dequantization, the update rule, block scales and
// re-quantization. Parameters must agree to float noise. Codes may differ only where ours is
// provably the nearest code (bitsandbytes' CPU binary search is approximate for small values)
// or where our first moment got the sign fix (bitsandbytes' CUDA kernels apply it, its CPU
// backend does not).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "golden_data.h"
#include "optim/adamw8bit.h"
#include "kernels/blockwise_update.h"
#include "kernels/dynamic_map.h"
#include "optim/lion8bit.h"
#include "optim/sgd8bit.h"
#include "optimizer_test_util.h"

namespace ternary {
using namespace kernels;
namespace {

using testing::brute_force_nearest;
using testing::dequantize;

// `expected_state`: the fp32 moment before quantization, recomputed from bitsandbytes' previous
// state and the gradient, in which our codes must be exact wherever they differ from theirs.
void check_codes(const at::Tensor& ours, const at::Tensor& absmax, const at::Tensor& theirs,
                 const at::Tensor& expected_state, bool is_signed, const std::string& what) {
  const DynamicCodebook& book = is_signed ? DynamicCodebook::signed_map() : DynamicCodebook::unsigned_map();
  const at::Tensor t = theirs.reshape(-1);
  int64_t differences = 0;
  for (int64_t i = 0; i < ours.numel(); ++i) {
    const int o = ours[i].item<uint8_t>(), th = t[i].item<uint8_t>();
    if (o == th) continue;
    ++differences;
    const float scale = absmax[i / kStateBlockSize].item<float>();
    const float x = expected_state[i].item<float>() / scale;
    int nearest = brute_force_nearest(book, x);
    if (is_signed) nearest = nearest_signed_with_sign_fix(book, x, static_cast<uint8_t>(nearest));
    ASSERT_EQ(o, nearest) << what << " i=" << i << " x=" << x << " theirs=" << th;
  }
  EXPECT_LT(differences, ours.numel() / 20) << what;
}

struct Case {
  std::string name;
  bool two_states;
  std::function<std::unique_ptr<Blockwise8bitOptimizer>(at::Tensor)> make;
  // fp32 moments after the rule, from the previous (dequantized) moments and the gradient
  std::function<std::pair<at::Tensor, at::Tensor>(const at::Tensor& m, const at::Tensor& v, const at::Tensor& p,
                                                  const at::Tensor& g, int step)>
      moments;
};

void replay(const Case& c) {
  const testing::GoldenArrays golden("bitsandbytes_optim");
  for (int k = 1; k <= 3; ++k) {
    const std::string prev = std::to_string(k - 1), step = std::to_string(k);
    at::Tensor p = golden[c.name + "_p" + prev].requires_grad_();
    auto opt = c.make(p);
    at::Tensor m_prev = at::zeros({p.numel()}), v_prev = at::zeros({p.numel()});
    if (k > 1) {  // start from bitsandbytes' state after step k-1
      auto state = std::make_unique<Blockwise8bitParamState>();
      state->step(k - 1);
      state->state1(golden[c.name + "_state1_" + prev].reshape(-1).clone());
      state->absmax1(golden[c.name + "_absmax1_" + prev]);
      m_prev = dequantize(state->state1(), state->absmax1(), true);
      if (c.two_states) {
        state->state2(golden[c.name + "_state2_" + prev].reshape(-1).clone());
        state->absmax2(golden[c.name + "_absmax2_" + prev]);
        v_prev = dequantize(state->state2(), state->absmax2(), false);
      }
      opt->state()[p.unsafeGetTensorImpl()] = std::move(state);
    }
    const at::Tensor g = golden[c.name + "_grad" + step];
    p.mutable_grad() = g;
    const at::Tensor p_before = p.detach().reshape(-1).clone();
    opt->step();
    const std::string what = c.name + " step " + step;
    EXPECT_LT((p.detach() - golden[c.name + "_p" + step]).abs().max().item<float>(), 2e-6) << what;

    const auto& s = testing::state_of(*opt, p);
    const auto [m, v] = c.moments(m_prev, v_prev, p_before, g.reshape(-1), k);
    EXPECT_TRUE(at::allclose(s.absmax1(), golden[c.name + "_absmax1_" + step], 1e-5, 0)) << what;
    check_codes(s.state1(), s.absmax1(), golden[c.name + "_state1_" + step], m, true, what + " state1");
    if (c.two_states) {
      EXPECT_TRUE(at::allclose(s.absmax2(), golden[c.name + "_absmax2_" + step], 1e-5, 0)) << what;
      check_codes(s.state2(), s.absmax2(), golden[c.name + "_state2_" + step], v, false, what + " state2");
    }
  }
}

}  // namespace

TEST(BitsandbytesGolden, AdamW8bitStepFromTheirState) {
  replay({"adamw", true,
          [](at::Tensor p) {
            return std::make_unique<AdamW8bit>(std::vector<at::Tensor>{p},
                                               AdamW8bitOptions(1e-2).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.1));
          },
          [](const at::Tensor& m, const at::Tensor& v, const at::Tensor&, const at::Tensor& g, int) {
            return std::make_pair(m * 0.9f + g * 0.1f, v * 0.999f + g * g * 0.001f);
          }});
}

TEST(BitsandbytesGolden, Lion8bitStepFromTheirState) {
  replay({"lion", false,
          [](at::Tensor p) {
            return std::make_unique<Lion8bit>(std::vector<at::Tensor>{p},
                                              Lion8bitOptions(1e-3).betas({0.9, 0.99}).weight_decay(0.1));
          },
          [](const at::Tensor& m, const at::Tensor& v, const at::Tensor&, const at::Tensor& g, int) {
            return std::make_pair(m * 0.99f + g * 0.01f, v);
          }});
}

TEST(BitsandbytesGolden, SGD8bitMomentumStepFromTheirState) {
  replay({"momentum", false,
          [](at::Tensor p) {
            return std::make_unique<SGD8bit>(std::vector<at::Tensor>{p},
                                             SGD8bitOptions(1e-2).momentum(0.9).weight_decay(0.0));
          },
          [](const at::Tensor& m, const at::Tensor& v, const at::Tensor&, const at::Tensor& g, int step) {
            return std::make_pair(step == 1 ? g : m * 0.9f + g, v);
          }});
}

TEST(BitsandbytesGolden, NoisyProblemFinalLossMatchesBitsandbytesAdamW8bit) {
  // Same seeds as the golden script: LibTorch's CPU generator gives the same noise as Python's.
  std::ifstream manifest(std::string(TERNARY_SOURCE_DIR) + "/tests/golden/bitsandbytes_optim.json");
  const auto scalars = nlohmann::json::parse(manifest)["scalars"];
  at::manual_seed(7);
  const at::Tensor target = at::randn({64, 128});
  at::Tensor w = at::zeros({64, 128}).requires_grad_();
  AdamW8bit opt({w}, AdamW8bitOptions(1e-2).weight_decay(0));
  at::manual_seed(99);
  for (int step = 0; step < 1000; ++step) {
    w.mutable_grad() = (w.detach() - target) + 0.5 * at::randn({64, 128});
    opt.step();
  }
  const double ours = 0.5 * (w.detach() - target).pow(2).mean().item<double>();
  const double theirs = scalars["noisy_bnb_adamw8bit_loss"];
  EXPECT_NEAR(ours, theirs, 0.01 * theirs) << "fp32 AdamW reaches " << scalars["noisy_fp32_adamw_loss"];
}

}  // namespace ternary
