#include "kernels/cuda/fake_quant_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cuda/cuda_runtime_check.h"

namespace ternary::cuda {
namespace {

__global__ void fake_quant_rows_kernel(const float* __restrict__ x, const float* __restrict__ row_scales,
                                       float* __restrict__ out, int64_t total, int64_t cols, float lo, float hi) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const float scale = row_scales[i / cols];
    float code = rintf(x[i] / scale);
    code = code < lo ? lo : code;  // std::max(code, lo)
    code = hi < code ? hi : code;  // std::min(code, hi)
    out[i] = code * scale;
  }
}

}  // namespace

void fake_quant_rows(const float* x, const float* row_scales, float* out, int64_t rows, int64_t cols, float lo,
                     float hi, void* stream) {
  const int64_t total = rows * cols;
  if (total == 0) return;
  const int64_t blocks = std::min<int64_t>((total + 255) / 256, 65536);
  fake_quant_rows_kernel<<<static_cast<unsigned>(blocks), 256, 0, static_cast<cudaStream_t>(stream)>>>(
      x, row_scales, out, total, cols, lo, hi);
  check(cudaGetLastError(), "fake_quant_rows kernel launch");
}

}  // namespace ternary::cuda
