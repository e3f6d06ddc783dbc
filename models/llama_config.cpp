#include "models/llama_config.h"

#include <stdexcept>

#include "common/config_error.h"

namespace ternary {
namespace {

void require(bool ok, const char* field, const std::string& message) {
  if (!ok) throw FieldError(field, message);
}

std::string value(const char* name, int64_t v) { return std::string(name) + " (" + std::to_string(v) + ")"; }

}  // namespace

void LlamaConfig::validate() const {
  require(vocab_size > 0, "vocab_size", value("vocab_size", vocab_size) + " must be > 0");
  require(dim > 0, "dim", value("dim", dim) + " must be > 0");
  require(n_layers > 0, "n_layers", value("n_layers", n_layers) + " must be > 0");
  require(n_heads > 0 && dim % n_heads == 0, "n_heads", value("n_heads", n_heads) + " must divide " + value("dim", dim));
  require(head_dim() % 2 == 0, "n_heads", "head_dim = dim / n_heads (" + std::to_string(head_dim()) +
                                   ") must be even for rotary embeddings");
  require(n_kv_heads > 0 && n_heads % n_kv_heads == 0, "n_kv_heads",
          value("n_kv_heads", n_kv_heads) + " must divide " + value("n_heads", n_heads));
  require(ffn_dim > 0, "ffn_dim", value("ffn_dim", ffn_dim) + " must be > 0");
  require(max_seq_len > 0, "max_seq_len", value("max_seq_len", max_seq_len) + " must be > 0");
  require(rope_theta > 0, "rope_theta", "rope_theta must be > 0");
  require(norm_eps > 0, "norm_eps", "norm_eps must be > 0");
}

int64_t LlamaConfig::parameter_count() const {
  const int64_t kv_dim = n_kv_heads * head_dim();
  const int64_t linears = 2 * dim * dim + 2 * kv_dim * dim + 3 * dim * ffn_dim;
  const int64_t norms = 2 * dim + (variant == LlamaVariant::kBitNet ? dim + ffn_dim : 0);
  return vocab_size * dim * (tie_embeddings ? 1 : 2) + n_layers * (linears + norms) + dim;
}

const char* to_string(LlamaVariant variant) { return variant == LlamaVariant::kBitNet ? "bitnet" : "llama"; }

}  // namespace ternary
