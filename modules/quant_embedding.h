// QuantEmbedding: torch::nn::Embedding with weight and output quantizer slots. Default weight
// quantizer: ternary absmean per row (channel), since rows are looked up independently.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "modules/quant_slots.h"

namespace ternary {

QuantizerSpec default_embedding_weight_quant();

struct QuantEmbeddingOptions {
  QuantEmbeddingOptions(int64_t num_embeddings, int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  TORCH_ARG(int64_t, num_embeddings);
  TORCH_ARG(int64_t, embedding_dim);
  TORCH_ARG(std::optional<QuantizerSpec>, weight_quant) = default_embedding_weight_quant();
  TORCH_ARG(std::optional<QuantizerSpec>, output_quant) = std::nullopt;
};

class QuantEmbeddingImpl : public torch::nn::Cloneable<QuantEmbeddingImpl> {
 public:
  QuantEmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim)
      : QuantEmbeddingImpl(QuantEmbeddingOptions(num_embeddings, embedding_dim)) {}
  explicit QuantEmbeddingImpl(QuantEmbeddingOptions options);

  void reset() override;
  void adopt_weights(const at::Tensor& weight);
  at::Tensor forward(const at::Tensor& indices);
  void pretty_print(std::ostream& stream) const override;

  QuantEmbeddingOptions options;
  at::Tensor weight;  // (num_embeddings, embedding_dim) latent full-precision table
  Quantizer weight_quantizer{nullptr};
  Quantizer output_quantizer{nullptr};
};
TORCH_MODULE(QuantEmbedding);

}  // namespace ternary
