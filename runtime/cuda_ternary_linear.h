// A ternary linear of the runtime on a CUDA device (ternary-run --device cuda): the weights live
// on the device; each call copies the token activations in, quantizes them and runs the ternary
// GEMM there (kernels/cuda/ternary_gemv_cuda.h), and copies the outputs back. Same numbers as the
// CPU kernels bit for bit. Built only with TERNARY_ENABLE_CUDA.
#pragma once

#include <cstdint>

#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/ternary_gemv_cuda.h"

namespace ternary::runtime {

class CudaTernaryLinear {
 public:
  // activation_eps: the activation scale floor (ternary.activation.scale_eps).
  CudaTernaryLinear(const kernels::TernaryMatrix& weights, float activation_eps)
      : weights_(weights), activation_eps_(activation_eps) {}
  // x: (batch, cols) and y: (batch, rows), host memory.
  void forward(const float* x, int64_t batch, float* y);

 private:
  cuda::CudaTernaryMatrix weights_;
  float activation_eps_;
  cuda::DeviceBuffer x_, q_, scales_, sums_, y_;  // grown on demand, reused across calls
};

}  // namespace ternary::runtime
