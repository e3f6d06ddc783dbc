// Ternary x int8 GEMV (batch-1 decode) and small-batch GEMM on a CUDA device, reading the same
// packed layout as the CPU kernels (kernels/ternary_matrix.h: TQ2_0 `qs` rows, codes trit + 1)
// and computing the same numbers bit for bit:
//   activations: a = max(max|x| / 127, eps), q = clamp(round_half_even(x / a), -128, 127)
//   y[t][row]  = float(sum_k code[row][k] * q[t][k] - sum_k q[t][k]) * a[t] * w_scale[row]
// The dot products are __dp4a on four 2-bit codes at a time; one warp per row, the token
// activations in shared memory. All pointers are device pointers; `stream` is a cudaStream_t
// (nullptr = the legacy default stream, the one LibTorch uses unless told otherwise).
#pragma once

#include <cstdint>

#include "kernels/cuda/device_buffer.h"
#include "kernels/ternary_matrix.h"

namespace ternary::cuda {

// A TernaryMatrix copied to the device once (codes and row scales).
class CudaTernaryMatrix {
 public:
  explicit CudaTernaryMatrix(const kernels::TernaryMatrix& host);
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t bytes() const { return rows_ * cols_ / 4; }  // packed weight bytes one GEMV streams
  const uint8_t* codes() const { return codes_.as<uint8_t>(); }
  const float* scales() const { return scales_.as<float>(); }

 private:
  int64_t rows_, cols_;
  DeviceBuffer codes_, scales_;
};

// x: (batch, k) floats -> q: (batch, k) int8, scales: (batch), sums: (batch) = sum of each row of q.
void quantize_activations(const float* x, int64_t batch, int64_t k, float eps, int8_t* q, float* scales,
                          int32_t* sums, void* stream = nullptr);

// y: (batch, w.rows()) from quantize_activations' outputs (k = w.cols()). Any batch; tokens are
// processed eight at a time, each weight byte read once per eight tokens.
void ternary_gemm(const CudaTernaryMatrix& w, const int8_t* q, const float* scales, const int32_t* sums, int64_t batch,
                  float* y, void* stream = nullptr);

}  // namespace ternary::cuda
