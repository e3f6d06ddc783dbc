#include "models/rotary.h"

#include <ATen/ATen.h>

namespace ternary {

RotaryEmbedding::RotaryEmbedding(int64_t head_dim, int64_t max_seq_len, double theta) : max_seq_len_(max_seq_len) {
  // As transformers: inv_freq = 1 / theta^(arange(0, d, 2) / d) in float32.
  const at::Tensor exponents = at::arange(0, head_dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(head_dim);
  const at::Tensor inv_freq = 1.0 / at::pow(theta, exponents);
  const at::Tensor positions = at::arange(max_seq_len, at::kLong).to(at::kFloat);
  const at::Tensor freqs = at::outer(positions, inv_freq);  // (seq, head_dim / 2)
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  cos_ = emb.cos();
  sin_ = emb.sin();
}

at::Tensor RotaryEmbedding::apply(const at::Tensor& x, int64_t start) const {
  const int64_t seq = x.size(-2), half = x.size(-1) / 2;
  TORCH_CHECK(start + seq <= max_seq_len_, "sequence of ", start + seq, " positions exceeds max_seq_len ",
              max_seq_len_, "; raise model.max_seq_len");
  const at::Tensor cos = cos_.slice(0, start, start + seq).to(x.scalar_type());
  const at::Tensor sin = sin_.slice(0, start, start + seq).to(x.scalar_type());
  const at::Tensor rotated = at::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

}  // namespace ternary
