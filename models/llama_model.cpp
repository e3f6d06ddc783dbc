#include "models/llama_model.h"

#include "models/activation_checkpoint.h"
#include "modules/quant_slot_names.h"
#include "modules/quantize.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

namespace ternary {

LlamaModelImpl::LlamaModelImpl(LlamaConfig config, const Recipe& recipe) : config_(std::move(config)) {
  try {
    config_.validate();
  } catch (const std::invalid_argument& e) {
    TORCH_CHECK(false, "model config: ", e.what());
  }
  rotary_ = std::make_shared<RotaryEmbedding>(config_.head_dim(), config_.max_seq_len, config_.rope_theta);
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(config_.vocab_size, config_.dim));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.n_layers; ++i)
    layers->push_back(LlamaDecoderLayer(config_, recipe, "layers." + std::to_string(i) + ".", rotary_));
  norm = register_module("norm", RMSNorm(config_.dim, config_.norm_eps));
  if (config_.tie_embeddings) {
    const RecipeRule* rule = recipe.match("lm_head");
    TORCH_CHECK(!rule || rule->keep_full_precision || (!rule->slots.weight && !rule->slots.input),
                "model config: a tied lm_head shares the embedding and cannot be quantized; keep lm_head "
                "`preset: none` in the recipe or set tie_embeddings: false");
  } else {
    lm_head = register_module("lm_head", make_recipe_linear(config_.dim, config_.vocab_size, recipe, "lm_head"));
  }
  // GPT-style small-std init: N(0, 0.02) for embeddings and linears (not the quantizer scales).
  at::NoGradGuard no_grad;
  for (auto& param : named_parameters()) {
    const auto& name = param.key();
    if (!is_quantizer_state(name) && param.value().dim() == 2)
      torch::nn::init::normal_(param.value(), 0.0, 0.02);
  }
  initialize_quantizers();
}

void LlamaModelImpl::initialize_quantizers() {
  for (const auto& module : modules(/*include_self=*/false))
    if (auto* linear = dynamic_cast<QuantLinearImpl*>(module.get()))
      if (linear->weight_quantizer) linear->weight_quantizer->attach(linear->weight);
}

at::Tensor LlamaModelImpl::forward(const at::Tensor& tokens) {
  TORCH_CHECK(tokens.dim() == 2, "LlamaModel expects (batch, seq) token ids, got shape ", tokens.sizes());
  at::Tensor h = embed_tokens->forward(tokens);
  const bool checkpointing = activation_checkpointing_ && is_training();
  for (const auto& layer : *layers) {
    auto* decoder_layer = layer->as<LlamaDecoderLayerImpl>();
    h = checkpointing ? checkpointed_forward(*decoder_layer, h) : decoder_layer->forward(h);
  }
  h = norm->forward(h);
  return lm_head ? lm_head->forward(h) : at::linear(h, embed_tokens->weight);
}

void LlamaModelImpl::set_activation_checkpointing(bool on) {
  activation_checkpointing_ = on;
  set_output_buffer_reuse(*this, !on);
}

}  // namespace ternary
