// QuantLinear / QuantEmbedding / QuantConv2d / QuantAct against the float op applied to
// quantizer outputs, plus defaults, parameters, serialization and cloning.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/functional/conv.h>
#include <torch/serialize.h>

#include <sstream>

#include "modules/quant_act.h"
#include "modules/quant_conv2d.h"
#include "modules/quant_embedding.h"
#include "modules/quant_linear.h"

namespace ternary {

TEST(QuantLinear, DefaultIsBitnetAndForwardIsLinearOfQuantizedOperands) {
  QuantLinear layer(64, 32);
  EXPECT_EQ(layer->weight_quantizer->spec(), preset_spec("bitnet_b158", true));
  EXPECT_EQ(layer->input_quantizer->spec(), preset_spec("bitnet_b158", false));
  EXPECT_FALSE(layer->output_quantizer);
  const at::Tensor x = at::randn({4, 10, 64});
  const at::Tensor expected =
      at::linear(layer->input_quantizer->forward(x), layer->weight_quantizer->forward(layer->weight), layer->bias);
  EXPECT_TRUE(at::allclose(layer->forward(x), expected));
  EXPECT_EQ(layer->forward(x).sizes(), (at::IntArrayRef{4, 10, 32}));
}

TEST(QuantLinear, QuantizedWeightIsTernaryTimesScale) {
  QuantLinear layer(QuantLinearOptions(128, 16).bias(false));
  EXPECT_FALSE(layer->bias.defined());
  const at::Tensor wq = layer->quantized_weight();
  const double s = layer->weight.abs().mean().item<double>();
  const at::Tensor codes = wq / s;
  EXPECT_TRUE(at::allclose(codes, codes.round(), 1e-5, 1e-5));
  EXPECT_LE(codes.abs().max().item<double>(), 1.0 + 1e-5);
}

TEST(QuantLinear, EmptySlotsMakeItAPlainLinear) {
  QuantLinear layer(QuantLinearOptions(8, 4).weight_quant(std::nullopt).input_quant(std::nullopt));
  const at::Tensor x = at::randn({3, 8});
  EXPECT_TRUE(at::equal(layer->forward(x), at::linear(x, layer->weight, layer->bias)));
  EXPECT_EQ(layer->parameters().size(), 2u);
}

TEST(QuantLinear, LearnedQuantizerParametersAreModuleParameters) {
  QuantLinear layer(QuantLinearOptions(32, 8).weight_quant(preset_spec("lsq_ternary", true)));
  const auto params = layer->named_parameters();
  ASSERT_TRUE(params.contains("weight_quantizer.scale"));
  EXPECT_EQ(params["weight_quantizer.scale"].sizes(), (at::IntArrayRef{8, 1}));
  layer->forward(at::randn({2, 32})).sum().backward();
  EXPECT_TRUE(params["weight_quantizer.scale"].grad().defined());
  EXPECT_TRUE(layer->weight.grad().defined());
}

TEST(QuantLinear, SaveLoadRoundTrip) {
  QuantLinear original(QuantLinearOptions(32, 8).weight_quant(preset_spec("ttq", true)));
  {
    at::NoGradGuard no_grad;
    original->weight_quantizer->scale.mul_(1.3);
  }
  std::stringstream buffer;
  torch::save(original, buffer);
  QuantLinear restored(QuantLinearOptions(32, 8).weight_quant(preset_spec("ttq", true)));
  torch::load(restored, buffer);
  const at::Tensor x = at::randn({5, 32});
  EXPECT_TRUE(at::equal(restored->forward(x), original->forward(x)));
}

TEST(QuantLinear, CloneIsIndependent) {
  QuantLinear original(QuantLinearOptions(16, 4).weight_quant(preset_spec("lsq_ternary", true)));
  auto copy = std::dynamic_pointer_cast<QuantLinearImpl>(original->clone());
  const at::Tensor x = at::randn({2, 16});
  EXPECT_TRUE(at::equal(copy->forward(x), original->forward(x)));
  {
    at::NoGradGuard no_grad;
    copy->weight.mul_(2);
  }
  EXPECT_FALSE(at::equal(copy->weight, original->weight));
}

TEST(QuantEmbedding, LooksUpQuantizedRows) {
  QuantEmbedding embedding(20, 8);
  const at::Tensor idx = at::tensor({3, 0, 19, 3}, at::kLong);
  const at::Tensor table = embedding->weight_quantizer->forward(embedding->weight);
  EXPECT_TRUE(at::equal(embedding->forward(idx), table.index_select(0, idx)));
  // per-row ternary: every row is {-s, 0, s} for its own s
  const at::Tensor row = table[3];
  EXPECT_LE(std::get<0>(at::_unique(row.abs())).size(0), 2);
}

TEST(QuantConv2d, ConvolvesQuantizedWeights) {
  QuantConv2d conv(QuantConv2dOptions(torch::nn::Conv2dOptions(3, 8, 3).padding(1).stride(2))
                       .input_quant(preset_spec("int8_per_token", false)));
  const at::Tensor x = at::randn({2, 3, 9, 9});
  const at::Tensor expected =
      at::conv2d(conv->input_quantizer->forward(x), conv->weight_quantizer->forward(conv->weight), conv->bias, {2, 2},
                 {1, 1});
  const at::Tensor y = conv->forward(x);
  EXPECT_EQ(y.sizes(), (at::IntArrayRef{2, 8, 5, 5}));
  EXPECT_TRUE(at::allclose(y, expected, 1e-5, 1e-5));
}

TEST(QuantConv2d, RejectsUnsupportedPaddingMode) {
  EXPECT_THROW(QuantConv2d(QuantConv2dOptions(torch::nn::Conv2dOptions(3, 8, 3).padding_mode(torch::kReflect))),
               c10::Error);
}

TEST(QuantAct, ReluThenQuantize) {
  QuantAct act(QuantActOptions().activation(Activation::kRelu).act_quant(preset_spec("uint8_per_tensor", false)));
  const at::Tensor x = at::randn({4, 16});
  const at::Tensor y = act->forward(x);
  EXPECT_GE(y.min().item<float>(), 0.0f);
  Quantizer reference(preset_spec("uint8_per_tensor", false));
  EXPECT_TRUE(at::equal(y, reference->forward(at::relu(x))));
}

}  // namespace ternary
