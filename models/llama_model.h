// LlamaModel: token embedding, decoder layers, final RMSNorm, lm_head (or tied embeddings).
// Parameter names follow Hugging Face's LlamaForCausalLM without its "model." prefix, so
// checkpoints map one to one (models/hf_import.h).
#pragma once

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>

#include "models/llama_layers.h"

namespace ternary {

class LlamaModelImpl : public torch::nn::Module {
 public:
  // Linears get quantizers from `recipe` (Recipe{} = all full precision). The embedding stays
  // full precision; a tied lm_head cannot be quantized (an error says so).
  LlamaModelImpl(LlamaConfig config, const Recipe& recipe);
  at::Tensor forward(const at::Tensor& tokens);  // (batch, seq) int64 -> (batch, seq, vocab) logits
  // Sizes and initialises every weight quantizer's learned parameters from the current weights
  // (after construction, and again after loading weights from elsewhere).
  void initialize_quantizers();
  const LlamaConfig& config() const { return config_; }
  // In training, run each decoder layer without keeping its activations and recompute it in
  // backward (training.activation_checkpointing; models/activation_checkpoint.h). On also stops
  // the quantizers keeping their output buffers between calls: a layer's quantized weights then
  // live only while the layer runs, instead of a standing copy of all of them (4 bytes/parameter).
  void set_activation_checkpointing(bool on);

  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
  QuantLinear lm_head{nullptr};  // nullptr when tie_embeddings

 private:
  LlamaConfig config_;
  std::shared_ptr<const RotaryEmbedding> rotary_;
  bool activation_checkpointing_ = false;
};
TORCH_MODULE(LlamaModel);

}  // namespace ternary
