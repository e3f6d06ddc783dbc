// Shape and variant of a LLaMA-architecture decoder. Pure data with validation; the training
// config and the Hugging Face importer fill it.
#pragma once

#include <cstdint>
#include <string>

namespace ternary {

enum class LlamaVariant {
  kLlama,   // RMSNorm, SwiGLU MLP
  kBitNet,  // BitNet b1.58: extra SubLN RMSNorms before o_proj and down_proj, ReLU^2 MLP
};

struct LlamaConfig {
  int64_t vocab_size = 256;
  int64_t dim = 256;            // hidden size
  int64_t n_layers = 4;
  int64_t n_heads = 4;
  int64_t n_kv_heads = 4;       // grouped-query attention when < n_heads
  int64_t ffn_dim = 768;        // MLP intermediate size
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;
  int64_t max_seq_len = 256;
  bool tie_embeddings = false;  // lm_head shares embed_tokens' weight
  LlamaVariant variant = LlamaVariant::kLlama;

  int64_t head_dim() const { return dim / n_heads; }
  // Every weight, as LlamaModel holds them: embedding, per-layer linears and norms (BitNet's
  // sub-norms too), the final norm, and lm_head unless tied. (Learned quantizer scales aside.)
  int64_t parameter_count() const;
  bool operator==(const LlamaConfig&) const = default;
  // Throws FieldError (common/config_error.h) whose field() is the key at fault, e.g. "n_heads"
  // with "n_heads (6) must divide dim (256)".
  void validate() const;
};

const char* to_string(LlamaVariant variant);

}  // namespace ternary
