// The fused fake-quant kernel against the composite-ATen reference: bit-identical forward,
// identical gradients, on many shapes and every spec the fast path accepts.
#include "quantizers/fused_fake_quant.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "quantizers/presets.h"
#include "quantizers/quantizer.h"

namespace ternary {

struct FusedCase {
  const char* preset;
  bool weight;
  std::vector<int64_t> shape;
};

class FusedFakeQuantTest : public ::testing::TestWithParam<FusedCase> {};

TEST_P(FusedFakeQuantTest, BitIdenticalToReference) {
  const FusedCase& c = GetParam();
  const QuantizerSpec spec = preset_spec(c.preset, c.weight);
  const at::Tensor x = (at::randn(c.shape) * 3).requires_grad_();
  ASSERT_TRUE(fused_fake_quant_applies(spec, x));
  Quantizer q(spec);
  const at::Tensor fused = q->forward(x);
  const at::Tensor reference = q->forward_reference(x);
  EXPECT_TRUE(at::equal(fused, reference)) << "max diff " << (fused - reference).abs().max().item<float>();

  const at::Tensor g = at::randn(c.shape);
  const at::Tensor grad_fused = torch::autograd::grad({fused}, {x}, {g})[0];
  const at::Tensor grad_reference = torch::autograd::grad({reference}, {x}, {g})[0];
  EXPECT_TRUE(at::allclose(grad_fused, grad_reference, 1e-5, 1e-6));
  EXPECT_TRUE(at::equal(grad_fused, g));  // plain STE: exactly the identity
}

INSTANTIATE_TEST_SUITE_P(Shapes, FusedFakeQuantTest,
                         ::testing::Values(FusedCase{"bitnet_b158", true, {1, 1}},
                                           FusedCase{"bitnet_b158", true, {7, 13}},
                                           FusedCase{"bitnet_b158", true, {256, 1000}},
                                           FusedCase{"bitnet_b158", false, {3, 5, 64}},
                                           FusedCase{"bitnet_b158", false, {1000, 17}},
                                           FusedCase{"int8_per_channel", true, {33, 70}},
                                           FusedCase{"int4_group128", true, {5, 384}},
                                           FusedCase{"uint8_per_tensor", false, {9, 300}},
                                           FusedCase{"int8_per_token", false, {2, 3, 4, 96}}),
                         [](const ::testing::TestParamInfo<FusedCase>& info) {
                           std::string name = std::string(info.param.preset) + (info.param.weight ? "_w" : "_a");
                           for (int64_t d : info.param.shape) name += "_" + std::to_string(d);
                           return name;
                         });

TEST(FusedFakeQuant, DeclinesWhatItCannotComputeExactly) {
  const at::Tensor x = at::randn({4, 8});
  EXPECT_FALSE(fused_fake_quant_applies(preset_spec("twn", true), x));          // explicit threshold
  EXPECT_FALSE(fused_fake_quant_applies(preset_spec("lsq_ternary", true), x));  // learned scale
  EXPECT_FALSE(fused_fake_quant_applies(preset_spec("binary_xnor", true), x));  // sign, not round
  EXPECT_FALSE(fused_fake_quant_applies(preset_spec("bitnet_b158", true), x.to(at::kDouble)));
  QuantizerSpec clipped = preset_spec("bitnet_b158", true);
  clipped.gradient = GradientEstimator::kClippedSte;
  EXPECT_FALSE(fused_fake_quant_applies(clipped, x));
}

TEST(FusedFakeQuant, NonContiguousInputMatchesReference) {
  Quantizer q(preset_spec("bitnet_b158", false));
  const at::Tensor x = at::randn({64, 32}).t();
  EXPECT_TRUE(at::equal(q->forward(x), q->forward_reference(x)));
}

}  // namespace ternary

namespace ternary {

TEST(FusedFakeQuant, ReusesItsOutputOnlyWhenNothingHoldsIt) {
  Quantizer q(preset_spec("bitnet_b158", true));
  const at::Tensor w1 = at::randn({64, 64}), w2 = at::randn({64, 64});
  const at::Tensor expected1 = q->forward_reference(w1);
  at::Tensor first = q->forward(w1);
  const void* first_memory = first.data_ptr();
  const at::Tensor second = q->forward(w2);  // `first` is still held: must not be overwritten
  EXPECT_NE(second.data_ptr(), first_memory);
  EXPECT_TRUE(at::equal(first, expected1));
  EXPECT_TRUE(at::equal(second, q->forward_reference(w2)));
  const void* second_memory = second.data_ptr();
  first = at::Tensor();
  // the buffer now tracks `second`'s memory, which is still held, so a new one is made again
  const at::Tensor third = q->forward(w1);
  EXPECT_NE(third.data_ptr(), second_memory);
  EXPECT_TRUE(at::equal(third, expected1));
}

TEST(FusedFakeQuant, ReusesMemoryAcrossTrainingSteps) {
  Quantizer q(preset_spec("bitnet_b158", true));
  const at::Tensor w = at::randn({64, 64}).requires_grad_();
  const void* previous = nullptr;
  for (int step = 0; step < 3; ++step) {
    const at::Tensor out = q->forward(w);
    out.sum().backward();  // frees the graph, as a training step does
    if (previous) EXPECT_EQ(out.data_ptr(), previous) << "step " << step;
    previous = out.data_ptr();
  }
}

}  // namespace ternary
