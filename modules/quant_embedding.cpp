#include "modules/quant_embedding.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <ostream>

namespace ternary {

QuantizerSpec default_embedding_weight_quant() {
  QuantizerSpec spec;  // ternary absmean, implicit threshold, STE
  spec.granularity = Granularity::channel();
  spec.preset = "ternary_absmean_row";
  return spec;
}

QuantEmbeddingImpl::QuantEmbeddingImpl(QuantEmbeddingOptions options_) : options(std::move(options_)) { reset(); }

void QuantEmbeddingImpl::reset() {
  TORCH_CHECK(options.num_embeddings() > 0 && options.embedding_dim() > 0, "QuantEmbedding needs positive sizes, got ",
              options.num_embeddings(), "x", options.embedding_dim());
  weight = register_parameter("weight", at::empty({options.num_embeddings(), options.embedding_dim()}));
  torch::nn::init::normal_(weight);  // as torch::nn::Embedding
  weight_quantizer = make_quantizer_slot(*this, kWeightQuantizerSlot, options.weight_quant(), weight);
  output_quantizer = make_quantizer_slot(*this, kOutputQuantizerSlot, options.output_quant());
}

void QuantEmbeddingImpl::adopt_weights(const at::Tensor& new_weight) {
  at::Tensor no_bias;
  adopt_weight_and_bias("QuantEmbedding", weight, no_bias, new_weight, {}, weight_quantizer);
}

at::Tensor QuantEmbeddingImpl::forward(const at::Tensor& indices) {
  return apply_slot(output_quantizer, at::embedding(apply_slot(weight_quantizer, weight), indices));
}

void QuantEmbeddingImpl::pretty_print(std::ostream& stream) const {
  stream << "ternary::QuantEmbedding(num_embeddings=" << options.num_embeddings()
         << ", embedding_dim=" << options.embedding_dim() << ", weight=" << describe_slot(options.weight_quant())
         << ", output=" << describe_slot(options.output_quant()) << ")";
}

}  // namespace ternary
