#include "modules/quantize.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include "modules/quant_conv2d.h"
#include "modules/quant_linear.h"

namespace ternary {
namespace {

// A user model whose layers live in containers, so quantize_ can swap them.
struct ContainerModel : torch::nn::Module {
  ContainerModel() {
    embed = register_module("embed", torch::nn::Embedding(50, 16));
    blocks = register_module("blocks", torch::nn::Sequential(torch::nn::Linear(16, 32), torch::nn::ReLU(),
                                                            torch::nn::Linear(32, 16)));
    heads = register_module("heads", torch::nn::ModuleDict());
    heads->update({{"lm_head", torch::nn::Linear(16, 50).ptr()}});
  }
  torch::nn::Embedding embed{nullptr};
  torch::nn::Sequential blocks{nullptr};
  torch::nn::ModuleDict heads{nullptr};
};

// The common C++ pattern: a member holds the layer. Swapping in the registry cannot reach it.
struct MemberModel : torch::nn::Module {
  MemberModel() {
    fc1 = register_module("fc1", torch::nn::Linear(8, 8));
    fc2 = register_module("fc2", torch::nn::Linear(8, 8));
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

}  // namespace

TEST(Quantize, SwapsLayersInSequentialAndDictKeepingWeights) {
  auto holder = std::make_shared<ContainerModel>();
  ContainerModel& model = *holder;
  const at::Tensor w0 = model.blocks[0]->as<torch::nn::Linear>()->weight.clone();
  const Recipe recipe = Recipe::from_preset("bitnet_b158");
  const QuantizeReport report = quantize_(model, recipe);

  ASSERT_EQ(report.replaced.size(), 2u);
  EXPECT_EQ(report.replaced[0].name, "blocks.0");
  EXPECT_EQ(report.replaced[0].to, "ternary::QuantLinear");
  EXPECT_EQ(report.replaced[1].name, "blocks.2");
  EXPECT_EQ(report.kept_full_precision, (std::vector<std::string>{"embed", "heads.lm_head"}));
  EXPECT_TRUE(report.unmatched.empty());

  auto* q0 = model.blocks[0]->as<QuantLinearImpl>();
  ASSERT_NE(q0, nullptr);
  EXPECT_TRUE(at::equal(q0->weight, w0));
  // forward goes through the swapped layers
  const at::Tensor x = at::randn({3, 16});
  const at::Tensor h = model.blocks->forward(x);
  auto* q2 = model.blocks[2]->as<QuantLinearImpl>();
  EXPECT_TRUE(at::allclose(h, q2->forward(at::relu(q0->forward(x)))));
  // the registry agrees
  EXPECT_NE(dynamic_cast<QuantLinearImpl*>(model.named_modules()["blocks.0"].get()), nullptr);
  EXPECT_NE(report.to_string().find("blocks.0: torch::nn::Linear -> ternary::QuantLinear"), std::string::npos);
}

TEST(Quantize, ModuleListAndDictEntriesCanBeQuantized) {
  torch::nn::Module root;
  auto list = root.register_module("list", torch::nn::ModuleList(torch::nn::Linear(4, 4), torch::nn::Conv2d(3, 4, 3)));
  auto dict = root.register_module("dict", torch::nn::ModuleDict());
  dict->update({{"proj", torch::nn::Linear(4, 4).ptr()}});
  const QuantizeReport report = quantize_(root, Recipe::from_yaml_string("- {match: '*', weight: twn}\n"));
  ASSERT_EQ(report.replaced.size(), 3u);
  EXPECT_NE(list->ptr(0)->as<QuantLinearImpl>(), nullptr);
  EXPECT_NE(list->ptr(1)->as<QuantConv2dImpl>(), nullptr);
  EXPECT_NE((*dict)["proj"]->as<QuantLinearImpl>(), nullptr);
  EXPECT_EQ(list->ptr(0)->as<QuantLinearImpl>()->options.weight_quant()->preset, "twn");
}

TEST(Quantize, UnmatchedLayersAreReportedAndLeftAlone) {
  torch::nn::Sequential model(torch::nn::Linear(4, 4), torch::nn::Linear(4, 4));
  const QuantizeReport report = quantize_(*model, Recipe::from_yaml_string("- {match: '1', preset: bitnet_b158}\n"));
  EXPECT_EQ(report.unmatched, (std::vector<std::string>{"0"}));
  EXPECT_NE(model[0]->as<torch::nn::LinearImpl>(), nullptr);
  EXPECT_NE(model[1]->as<QuantLinearImpl>(), nullptr);
}

TEST(Quantize, MemberHeldLayerIsAnErrorAndNothingChanges) {
  MemberModel model;
  try {
    quantize_(model, Recipe::from_preset("bitnet_b158"));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    EXPECT_NE(msg.find("'fc1'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("held by a member variable"), std::string::npos) << msg;
  }
  EXPECT_NE(model.named_children()["fc1"]->as<torch::nn::LinearImpl>(), nullptr);
  EXPECT_NE(model.named_children()["fc2"]->as<torch::nn::LinearImpl>(), nullptr);
}

TEST(Quantize, RootLayerIsAnError) {
  torch::nn::Linear layer(4, 4);
  EXPECT_THROW(quantize_(*layer, Recipe::from_preset("bitnet_b158")), c10::Error);
}

TEST(Quantize, IsIdempotent) {
  torch::nn::Sequential model(torch::nn::Linear(4, 4));
  quantize_(*model, Recipe::from_yaml_string("- {match: '*', preset: bitnet_b158}\n"));
  const QuantizeReport again = quantize_(*model, Recipe::from_yaml_string("- {match: '*', preset: bitnet_b158}\n"));
  EXPECT_TRUE(again.replaced.empty());
}

TEST(Quantize, WarmupLambdaReachesEveryQuantizer) {
  torch::nn::Sequential model(torch::nn::Linear(4, 4), torch::nn::Linear(4, 4));
  quantize_(*model, Recipe::from_yaml_string("- {match: '*', preset: bitnet_b158}\n"));
  set_warmup_lambda(*model, 0.3);
  for (const auto& m : model->modules())
    if (auto* q = dynamic_cast<QuantizerImpl*>(m.get())) EXPECT_DOUBLE_EQ(q->warmup_lambda(), 0.3);
}

}  // namespace ternary
