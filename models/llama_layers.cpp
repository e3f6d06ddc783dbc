#include "models/llama_layers.h"

#include <ATen/ATen.h>

namespace ternary {

QuantLinear make_recipe_linear(int64_t in, int64_t out, const Recipe& recipe, const std::string& name) {
  const RecipeRule* rule = recipe.match(name);
  const QuantSlots slots = rule && !rule->keep_full_precision ? rule->slots : QuantSlots{};
  return QuantLinear(QuantLinearOptions(in, out).bias(false).slots(slots));
}

LlamaAttentionImpl::LlamaAttentionImpl(const LlamaConfig& config, const Recipe& recipe, const std::string& prefix,
                                       std::shared_ptr<const RotaryEmbedding> rotary)
    : config_(config), rotary_(std::move(rotary)) {
  const int64_t kv_dim = config.n_kv_heads * config.head_dim();
  q_proj = register_module("q_proj", make_recipe_linear(config.dim, config.dim, recipe, prefix + "q_proj"));
  k_proj = register_module("k_proj", make_recipe_linear(config.dim, kv_dim, recipe, prefix + "k_proj"));
  v_proj = register_module("v_proj", make_recipe_linear(config.dim, kv_dim, recipe, prefix + "v_proj"));
  o_proj = register_module("o_proj", make_recipe_linear(config.dim, config.dim, recipe, prefix + "o_proj"));
  if (config.variant == LlamaVariant::kBitNet)
    attn_sub_norm = register_module("attn_sub_norm", RMSNorm(config.dim, config.norm_eps));
}

at::Tensor LlamaAttentionImpl::forward(const at::Tensor& x) {
  const int64_t batch = x.size(0), seq = x.size(1), hd = config_.head_dim();
  // (batch, seq, heads * hd) -> (batch, heads, seq, hd)
  auto heads = [&](const at::Tensor& t, int64_t n) { return t.view({batch, seq, n, hd}).transpose(1, 2); };
  const at::Tensor q = rotary_->apply(heads(q_proj->forward(x), config_.n_heads));
  const at::Tensor k = rotary_->apply(heads(k_proj->forward(x), config_.n_kv_heads));
  const at::Tensor v = heads(v_proj->forward(x), config_.n_kv_heads);
  // Fused causal attention (flash / memory-efficient kernels where available); enable_gqa shares
  // each kv head across n_heads / n_kv_heads query heads without materialising copies.
  at::Tensor out = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/true,
                                                    /*scale=*/std::nullopt,
                                                    /*enable_gqa=*/config_.n_kv_heads != config_.n_heads);
  out = out.transpose(1, 2).reshape({batch, seq, config_.dim});
  if (attn_sub_norm) out = attn_sub_norm->forward(out);
  return o_proj->forward(out);
}

LlamaMLPImpl::LlamaMLPImpl(const LlamaConfig& config, const Recipe& recipe, const std::string& prefix)
    : variant_(config.variant) {
  gate_proj = register_module("gate_proj", make_recipe_linear(config.dim, config.ffn_dim, recipe, prefix + "gate_proj"));
  up_proj = register_module("up_proj", make_recipe_linear(config.dim, config.ffn_dim, recipe, prefix + "up_proj"));
  down_proj = register_module("down_proj", make_recipe_linear(config.ffn_dim, config.dim, recipe, prefix + "down_proj"));
  if (config.variant == LlamaVariant::kBitNet)
    ffn_sub_norm = register_module("ffn_sub_norm", RMSNorm(config.ffn_dim, config.norm_eps));
}

at::Tensor LlamaMLPImpl::forward(const at::Tensor& x) {
  const at::Tensor gate = gate_proj->forward(x);
  if (variant_ == LlamaVariant::kLlama) return down_proj->forward(at::silu(gate) * up_proj->forward(x));
  return down_proj->forward(ffn_sub_norm->forward(at::relu(gate).square() * up_proj->forward(x)));
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const LlamaConfig& config, const Recipe& recipe, const std::string& prefix,
                                             std::shared_ptr<const RotaryEmbedding> rotary) {
  input_layernorm = register_module("input_layernorm", RMSNorm(config.dim, config.norm_eps));
  self_attn = register_module("self_attn", LlamaAttention(config, recipe, prefix + "self_attn.", std::move(rotary)));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(config.dim, config.norm_eps));
  mlp = register_module("mlp", LlamaMLP(config, recipe, prefix + "mlp."));
}

at::Tensor LlamaDecoderLayerImpl::forward(const at::Tensor& x) {
  const at::Tensor h = x + self_attn->forward(input_layernorm->forward(x));
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

}  // namespace ternary
