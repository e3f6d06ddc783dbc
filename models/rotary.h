// Rotary position embeddings in the Hugging Face LLaMA convention (rotate_half: the first and
// second halves of each head are the pair), with cos/sin tables built once per length.
#pragma once

#include <ATen/core/Tensor.h>

namespace ternary {

class RotaryEmbedding {
 public:
  RotaryEmbedding(int64_t head_dim, int64_t max_seq_len, double theta);
  // x: (batch, heads, seq, head_dim), positions start..start+seq. Returns the rotated x.
  at::Tensor apply(const at::Tensor& x, int64_t start = 0) const;
  int64_t max_seq_len() const { return max_seq_len_; }

 private:
  int64_t max_seq_len_;
  at::Tensor cos_, sin_;  // (max_seq_len, head_dim) float32
};

}  // namespace ternary
