// The LLaMA decoder: shapes, causality, GQA, the BitNet variant, recipe-driven quantization and
// config validation.
#include "models/llama_model.h"

#include "models/autocast_scope.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/function.h>

#include <unordered_set>

namespace ternary {
namespace {

LlamaConfig tiny(LlamaVariant variant = LlamaVariant::kLlama) {
  LlamaConfig c;
  c.vocab_size = 50;
  c.dim = 32;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn_dim = 64;
  c.max_seq_len = 16;
  c.variant = variant;
  return c;
}

}  // namespace

TEST(LlamaModel, LogitsShapeAndCausality) {
  for (auto variant : {LlamaVariant::kLlama, LlamaVariant::kBitNet}) {
    LlamaModel model(tiny(variant), Recipe::from_preset("bitnet_b158"));
    const at::Tensor tokens = at::randint(50, {2, 10}, at::kLong);
    const at::Tensor logits = model->forward(tokens);
    EXPECT_EQ(logits.sizes(), (at::IntArrayRef{2, 10, 50}));
    // changing the last token cannot change earlier positions
    at::Tensor changed = tokens.clone();
    changed[0][9] = (tokens[0][9].item<int64_t>() + 1) % 50;
    const at::Tensor other = model->forward(changed);
    EXPECT_TRUE(at::allclose(other.slice(1, 0, 9), logits.slice(1, 0, 9), 1e-5, 1e-6)) << to_string(variant);
    EXPECT_FALSE(at::allclose(other[0][9], logits[0][9]));
  }
}

TEST(LlamaModel, RecipeQuantizesLinearsAndKeepsHeadFullPrecision) {
  LlamaModel model(tiny(), Recipe::from_preset("bitnet_b158"));
  auto* q = model->layers[0]->as<LlamaDecoderLayerImpl>()->self_attn->q_proj.get();
  ASSERT_TRUE(q->weight_quantizer);
  EXPECT_EQ(q->weight_quantizer->spec().preset, "bitnet_b158");
  EXPECT_FALSE(model->lm_head->weight_quantizer);
  EXPECT_EQ(model->layers[0]->as<LlamaDecoderLayerImpl>()->self_attn->k_proj->weight.size(0), 16);  // 2 kv heads x 8
}

TEST(LlamaModel, BitnetVariantHasSubLnNorms) {
  LlamaModel model(tiny(LlamaVariant::kBitNet), Recipe{});
  const auto names = model->named_parameters();
  EXPECT_TRUE(names.contains("layers.0.self_attn.attn_sub_norm.weight"));
  EXPECT_TRUE(names.contains("layers.1.mlp.ffn_sub_norm.weight"));
  LlamaModel plain(tiny(), Recipe{});
  EXPECT_FALSE(plain->named_parameters().contains("layers.0.self_attn.attn_sub_norm.weight"));
}

TEST(LlamaModel, ParameterCountIsWhatTheModelHolds) {
  for (const LlamaVariant variant : {LlamaVariant::kLlama, LlamaVariant::kBitNet})
    for (const bool tied : {false, true}) {
      LlamaConfig c = tiny(variant);
      c.tie_embeddings = tied;
      LlamaModel model(c, Recipe{});
      int64_t held = 0;
      for (const auto& p : model->parameters()) held += p.numel();
      EXPECT_EQ(c.parameter_count(), held) << to_string(variant) << (tied ? " tied" : "");
    }
}

TEST(LlamaModel, GradientsReachEveryParameter) {
  LlamaModel model(tiny(), Recipe::from_preset("bitnet_b158"));
  const at::Tensor tokens = at::randint(50, {2, 8}, at::kLong);
  at::cross_entropy_loss(model->forward(tokens).reshape({-1, 50}), tokens.reshape(-1)).backward();
  for (const auto& p : model->named_parameters())
    EXPECT_TRUE(p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0) << p.key();
}

TEST(LlamaModel, TiedEmbeddingsShareTheTable) {
  LlamaConfig c = tiny();
  c.tie_embeddings = true;
  LlamaModel model(c, Recipe::from_preset("bitnet_b158"));
  EXPECT_FALSE(model->lm_head);
  EXPECT_FALSE(model->named_parameters().contains("lm_head.weight"));
  EXPECT_THROW(LlamaModel(c, Recipe::from_yaml_string("- {match: '*', preset: bitnet_b158}\n")), c10::Error);
}

TEST(LlamaModel, ConfigErrorsNameTheField) {
  LlamaConfig c = tiny();
  c.n_heads = 5;
  try {
    LlamaModel model(c, Recipe{});
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("n_heads (5) must divide dim (32)"), std::string::npos);
  }
  c = tiny();
  c.n_kv_heads = 3;
  EXPECT_THROW(c.validate(), std::invalid_argument);
  LlamaModel model(tiny(), Recipe{});
  EXPECT_THROW(model->forward(at::zeros({1, 17}, at::kLong)), c10::Error);  // longer than max_seq_len
}

}  // namespace ternary

namespace ternary {
namespace {

// Gradients of every parameter after one forward/backward of `model` on `tokens`.
std::vector<at::Tensor> gradients_of(LlamaModel& model, const at::Tensor& tokens) {
  model->zero_grad();
  const at::Tensor logits = model->forward(tokens);
  at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), tokens.reshape({-1})).backward();
  std::vector<at::Tensor> grads;
  for (const auto& p : model->parameters()) grads.push_back(p.grad().clone());
  return grads;
}

// The autograd nodes reachable from `output`: what backward keeps alive.
size_t graph_nodes(const at::Tensor& output) {
  std::unordered_set<const torch::autograd::Node*> seen;
  std::vector<torch::autograd::Node*> stack{output.grad_fn().get()};
  while (!stack.empty()) {
    torch::autograd::Node* node = stack.back();
    stack.pop_back();
    if (!node || !seen.insert(node).second) continue;
    for (const auto& edge : node->next_edges()) stack.push_back(edge.function.get());
  }
  return seen.size();
}

}  // namespace

// With checkpointing, backward keeps one node per decoder layer instead of the layer's whole
// graph (its activations): that is where the memory goes.
TEST(LlamaModel, ActivationCheckpointingKeepsOneNodePerLayer) {
  LlamaModel model(tiny(), Recipe::from_preset("bitnet_b158"));
  model->train();
  const at::Tensor tokens = at::randint(50, {2, 12}, at::kLong);
  const size_t plain = graph_nodes(model->forward(tokens));
  model->set_activation_checkpointing(true);
  const size_t checkpointed = graph_nodes(model->forward(tokens));
  const size_t per_layer_plain = (plain - checkpointed) / tiny().n_layers + 1;
  EXPECT_LT(checkpointed, plain);
  EXPECT_GT(per_layer_plain, 20u) << plain << " nodes plain, " << checkpointed << " checkpointed";
  model->eval();  // evaluation keeps no graph to save: the plain forward
  at::NoGradGuard no_grad;
  EXPECT_FALSE(model->forward(tokens).grad_fn());
}

// training.activation_checkpointing recomputes each layer in backward: the fake-quant forward is
// deterministic, so every gradient equals the plain backward's bit for bit, with and without
// bf16 autocast (the recomputation runs under the forward's autocast state), for both variants.
TEST(LlamaModel, ActivationCheckpointingGivesIdenticalGradients) {
  for (auto variant : {LlamaVariant::kLlama, LlamaVariant::kBitNet}) {
    for (const bool autocast : {false, true}) {
      at::manual_seed(5);
      LlamaModel model(tiny(variant), Recipe::from_preset("bitnet_b158"));
      model->train();
      const at::Tensor tokens = at::randint(50, {2, 12}, at::kLong);
      auto run = [&](bool checkpointing) {
        model->set_activation_checkpointing(checkpointing);
        const AutocastScope scope(autocast, at::kCPU);
        return gradients_of(model, tokens);
      };
      const auto plain = run(false), checkpointed = run(true);
      ASSERT_EQ(plain.size(), checkpointed.size());
      for (size_t i = 0; i < plain.size(); ++i)
        EXPECT_TRUE(at::equal(plain[i], checkpointed[i]))
            << to_string(variant) << (autocast ? " bf16" : "") << " parameter #" << i;
    }
  }
}

}  // namespace ternary
