// GEMV / small-batch GEMM for the non-ternary matrices the runtime streams every token: the
// output (and tied embedding) matrix in F16 or Q8_0 (ternary-export --output-type). Float
// activations in, float logits out; rows are split across OpenMP threads.
//   F16:  w converted exactly to float; per row, 8 partial sums s_j (j = k % 8), each a fused
//         multiply-add chain s_j = fma(w[k], x[k], s_j) in increasing k, then
//         y = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)). The weights are the repacked
//         F16Matrix (kernels/f16_matrix.h), 16 rows a tile.
//   Q8_0: x is quantized per 32 values to Q8_0 as llama.cpp does (q8_0_activations); each block's
//         integer dot is exact, and a row's blocks are accumulated in order by a fused
//         multiply-add: acc = fma(float(dot_b), d_w(b) * d_x(b), acc), from 0. The weights are
//         the repacked Q8_0Matrix (kernels/q8_0_matrix.h), 16 rows a tile.
// That fixed order is the contract: the reference tier computes it in plain code and every SIMD
// tier (AVX2 with F16C, AVX-512) reproduces it bit for bit, so the tests compare them exactly.
// The float answer (w and x not rounded) is within the stated tolerance of both (tests).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/f16_matrix.h"
#include "kernels/q8_0_blocks.h"
#include "kernels/q8_0_matrix.h"

namespace ternary::kernels {

// y (batch x rows) = x (batch x cols) times the F16 matrix w, transposed. Tiers: reference, AVX2, AVX-512.
void f16_gemm(const F16Matrix& w, const float* x, int64_t batch, float* y);

// One token's activations as Q8_0 blocks, with each block's scale as float and the sum of its
// codes (the AVX-512 tier multiplies weights stored as q + 128, so 128 * sum comes off).
struct Q8Activations {
  std::vector<BlockQ8_0> blocks;
  std::vector<float> scales;
  std::vector<int32_t> sums;
};
void q8_0_activations(const float* x, int64_t cols, Q8Activations& out);  // cols: a multiple of 32

// y (batch x rows) = the Q8_0 matrix w times each token. Tiers: reference, AVX2, AVX-512 VNNI.
void q8_0_gemm(const Q8_0Matrix& w, const Q8Activations* x, int64_t batch, float* y);

// Per-tier row dot products, declared for the dispatchers and the tests.
constexpr int kF16Sums = 8;
constexpr int64_t kF16PrefetchBytes = 8192;  // how far ahead the F16 tiles prefetch their stream, into L2
// How far ahead the Q8_0 tiles prefetch their stream, into L2: on the 32000 x 2048 output matrix
// 0.90 - 0.94 of the best read probe, against 0.80 - 0.83 for L1 2 KiB ahead (the first choice).
constexpr int64_t kQ8PrefetchBytes = 8192;
// The F16 contract in plain code over one row as the file holds it.
float f16_dot_reference(const uint16_t* w, const float* x, int64_t cols);
// y16[r] = row r of `tile` times x, for the tile's 16 rows (padding rows included).
void f16_tile_reference(const F16Matrix& w, int64_t tile, const float* x, float* y16);
void f16_tile_avx2(const F16Matrix& w, int64_t tile, const float* x, float* y16);
void f16_tile_avx512(const F16Matrix& w, int64_t tile, const float* x, float* y16);
// The Q8_0 contract in plain code over one row of ggml blocks (what the tests hold every tier to).
float q8_0_dot_reference(const BlockQ8_0* w, const Q8Activations& x, int64_t blocks);
// y16[r] = row r of `tile` times x, for the tile's 16 rows (padding rows included).
void q8_0_tile_reference(const Q8_0Matrix& w, int64_t tile, const Q8Activations& x, float* y16);
void q8_0_tile_avx2(const Q8_0Matrix& w, int64_t tile, const Q8Activations& x, float* y16);
void q8_0_tile_avx512vnni(const Q8_0Matrix& w, int64_t tile, const Q8Activations& x, float* y16);

}  // namespace ternary::kernels
