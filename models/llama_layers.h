// The LLaMA decoder layer: grouped-query self-attention with rotary embeddings and a SwiGLU MLP
// (BitNet variant: SubLN before o_proj / down_proj and a ReLU^2 gate), pre-norm residuals.
// Every linear is a QuantLinear whose quantizers come from the recipe rule matching its dotted
// name (Hugging Face names: "layers.3.self_attn.q_proj"); no match or `preset: none` = full precision.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>

#include "models/llama_config.h"
#include "models/rms_norm.h"
#include "models/rotary.h"
#include "modules/quant_linear.h"
#include "quantizers/recipe.h"

namespace ternary {

// A bias-free QuantLinear configured by the recipe rule that matches `name`.
QuantLinear make_recipe_linear(int64_t in, int64_t out, const Recipe& recipe, const std::string& name);

class LlamaAttentionImpl : public torch::nn::Module {
 public:
  LlamaAttentionImpl(const LlamaConfig& config, const Recipe& recipe, const std::string& prefix,
                     std::shared_ptr<const RotaryEmbedding> rotary);
  at::Tensor forward(const at::Tensor& x);  // (batch, seq, dim) -> (batch, seq, dim), causal

  QuantLinear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm attn_sub_norm{nullptr};  // BitNet only

 private:
  LlamaConfig config_;
  std::shared_ptr<const RotaryEmbedding> rotary_;
};
TORCH_MODULE(LlamaAttention);

class LlamaMLPImpl : public torch::nn::Module {
 public:
  LlamaMLPImpl(const LlamaConfig& config, const Recipe& recipe, const std::string& prefix);
  at::Tensor forward(const at::Tensor& x);

  QuantLinear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
  RMSNorm ffn_sub_norm{nullptr};  // BitNet only

 private:
  LlamaVariant variant_;
};
TORCH_MODULE(LlamaMLP);

class LlamaDecoderLayerImpl : public torch::nn::Module {
 public:
  LlamaDecoderLayerImpl(const LlamaConfig& config, const Recipe& recipe, const std::string& prefix,
                        std::shared_ptr<const RotaryEmbedding> rotary);
  at::Tensor forward(const at::Tensor& x);

  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  LlamaAttention self_attn{nullptr};
  LlamaMLP mlp{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

}  // namespace ternary
