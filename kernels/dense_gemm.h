// GEMV / small-batch GEMM for the non-ternary matrices the runtime streams every token: the
// output (and tied embedding) matrix in F16 or Q8_0 (ternary-export --output-type). Float
// activations in, float logits out; rows are split across OpenMP threads.
//   F16:  y = sum_k w[k] * x[k], w converted exactly to float; products go to 64 partial sums
//         (lane k % 64), added with separate multiply and add, then the lanes summed in order.
//   Q8_0: x is quantized per 32 values to Q8_0 as llama.cpp does (q8_0_activations); each block's
//         integer dot is exact, scaled by (d_w * d_x), and goes to lane (block % 8); the 8 lanes
//         are then summed in order.
// That fixed order is the contract: the reference tier computes it in plain code and every SIMD
// tier (AVX2 with F16C, AVX-512) reproduces it bit for bit, so the tests compare them exactly.
// The float answer (w and x not rounded) is within the stated tolerance of both (tests).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/q8_0_blocks.h"

namespace ternary::kernels {

// y (batch x rows) = x (batch x cols) times the (rows x cols) row-major F16 matrix w, transposed.
void f16_gemm(const uint16_t* w, int64_t rows, int64_t cols, const float* x, int64_t batch, float* y);

// One token's activations as Q8_0 blocks, with the block scales as float.
struct Q8Activations {
  std::vector<BlockQ8_0> blocks;
  std::vector<float> scales;
};
void q8_0_activations(const float* x, int64_t cols, Q8Activations& out);  // cols: a multiple of 32

// y (batch x rows) = the Q8_0 matrix w (rows x cols, cols / 32 blocks a row) times each token.
void q8_0_gemm(const BlockQ8_0* w, int64_t rows, int64_t cols, const Q8Activations* x, int64_t batch, float* y);

// Per-tier row dot products, declared for the dispatchers and the tests.
constexpr int kF16Lanes = 64, kQ8Lanes = 8;
float f16_dot_reference(const uint16_t* w, const float* x, int64_t cols);
float f16_dot_avx2(const uint16_t* w, const float* x, int64_t cols);
float f16_dot_avx512(const uint16_t* w, const float* x, int64_t cols);
float q8_0_dot_reference(const BlockQ8_0* w, const Q8Activations& x, int64_t blocks);
float q8_0_dot_avx2(const BlockQ8_0* w, const Q8Activations& x, int64_t blocks);  // also the avx512 tier

}  // namespace ternary::kernels
