#include "runtime/cuda_ternary_linear.h"

namespace ternary::runtime {

void CudaTernaryLinear::forward(const float* x, int64_t batch, float* y) {
  const auto n = static_cast<size_t>(batch);
  const auto in = static_cast<size_t>(weights_.cols()), out = static_cast<size_t>(weights_.rows());
  x_.reserve(n * in * sizeof(float));
  q_.reserve(n * in);
  scales_.reserve(n * sizeof(float));
  sums_.reserve(n * sizeof(int32_t));
  y_.reserve(n * out * sizeof(float));
  x_.upload(x, n * in * sizeof(float));
  cuda::quantize_activations(x_.as<float>(), batch, weights_.cols(), activation_eps_, q_.as<int8_t>(), scales_.as<float>(),
                             sums_.as<int32_t>());
  cuda::ternary_gemm(weights_, q_.as<int8_t>(), scales_.as<float>(), sums_.as<int32_t>(), batch, y_.as<float>());
  y_.download(y, n * out * sizeof(float));  // a blocking copy: waits for the kernels
}

}  // namespace ternary::runtime
