// RMSNorm as LLaMA (and Hugging Face) computes it: x * rsqrt(mean(x^2) + eps) * weight, in fp32.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

namespace ternary {

class RMSNormImpl : public torch::nn::Cloneable<RMSNormImpl> {
 public:
  RMSNormImpl(int64_t dim, double eps);
  void reset() override;
  at::Tensor forward(const at::Tensor& x);

  int64_t dim;
  double eps;
  at::Tensor weight;  // (dim) learned gain, initialised to 1
};
TORCH_MODULE(RMSNorm);

}  // namespace ternary
