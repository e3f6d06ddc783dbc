// Ternary x int8 GEMV / small-batch GEMM, the inference form of a BitNet b1.58 linear:
//   activations: per token, scale a = max(max|x| / 127, eps), q = clamp(round_half_even(x / a), -128, 127)
//                (exactly the training quantizer int8_per_token; eps is its scale floor, 1e-5 by
//                default, carried in the GGUF as ternary.activation.scale_eps);
//   y[row] = float(sum_k trit[row][k] * q[k]) * a * w_scale[row]   (integer accumulation).
// Tiers: a scalar reference, AVX2, AVX-512 VNNI, and AMX (AVX-512 VNNI, with batches of 16 tokens
// and more on the AMX tile unit); the highest at or below kernels::selected_isa()
// (kernels/cpu_features.h: cpuid, or TERNARY_KERNEL) runs. Integer accumulation makes every tier
// bit-identical to the reference. Output rows are split across OpenMP threads in tiles of 4.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/ternary_matrix.h"

namespace ternary::kernels {

enum class KernelTier { kReference, kAvx2, kAvx512Vnni, kAvx512Amx };

const char* to_string(KernelTier tier);
bool cpu_supports(KernelTier tier);
// The highest tier at or below selected_isa(); throws for an unknown or unsupported TERNARY_KERNEL.
KernelTier selected_tier();

struct QuantizedActivations {
  std::vector<int8_t> q;  // (k)
  float scale = 1;        // a
  int32_t sum = 0;        // sum of q (the kernels accumulate codes = trit + 1 and subtract it)
};
// A token with a NaN or Inf value gets scale NaN (all codes 0), so its outputs are NaN, as in training.
void quantize_activations(const float* x, int64_t k, float eps, QuantizedActivations& out);

// y (batch x rows) = the ternary linear of `batch` token activations (each of w.cols() values).
void ternary_gemm(const TernaryMatrix& w, const QuantizedActivations* activations, int64_t batch, float* y,
                  KernelTier tier);
inline void ternary_gemv(const TernaryMatrix& w, const QuantizedActivations& x, float* y, KernelTier tier) {
  ternary_gemm(w, &x, 1, y, tier);
}

// The reference row dot product: sum_k code[k] * q[k] over `cols` (a multiple of 256), codes in
// the TernaryMatrix row layout. Declared here for the dispatcher and the tests.
int32_t code_dot_reference(const uint8_t* codes, const int8_t* q, int64_t cols);
// SIMD tiers work on tiles of 4 rows (row_bytes apart) x `tokens` (1..4) tokens:
// sums[t * 4 + r] = the code dot of row r and token t. The AVX2 tile reads each token's
// activations in their natural order, the AVX-512 one as interleave_for_avx512 arranges them.
void code_dot_tile_avx2(const uint8_t* codes, int64_t row_bytes, const int8_t* const* x, int tokens, int64_t cols,
                        int32_t* sums);
void code_dot_tile_avx512vnni(const uint8_t* codes, int64_t row_bytes, const int8_t* const* x, int tokens,
                              int64_t cols, int32_t* sums);
// One output: the code dot (codes = trit + 1) of a row and a token, scaled back. Every tier ends here.
inline float ternary_output(int32_t codes_dot, const QuantizedActivations& a, float w_scale) {
  return static_cast<float>(codes_dot - a.sum) * a.scale * w_scale;
}
// AMX: a tile multiply covers kAmxRows rows (a row group) and kAmxRows tokens (a token chunk).
constexpr int64_t kAmxRows = 16;
// Tokens (each as interleave_for_avx512 arranges it) laid out as tdpbusd's second operand, in
// chunks of kAmxRows tokens (the last one padded with zeros): amx_packed_bytes(batch, cols) bytes.
inline int64_t amx_packed_bytes(int64_t batch, int64_t cols) { return (batch + kAmxRows - 1) / kAmxRows * cols * kAmxRows; }
void pack_tokens_for_amx(const int8_t* const* x, int64_t batch, int64_t cols, int8_t* out);
// y rows [kAmxRows * group_begin, kAmxRows * group_end) of every token, from `packed`
// (pack_tokens_for_amx). scratch: amx_scratch_bytes(w.cols()), 64-byte aligned, the calling
// thread's own. Configures and releases the calling thread's tiles.
inline int64_t amx_scratch_bytes(int64_t cols) { return 2 * cols * kAmxRows; }  // two row groups' unpacked codes
void ternary_gemm_amx(const TernaryMatrix& w, int64_t group_begin, int64_t group_end, const int8_t* packed,
                      const QuantizedActivations* activations, int64_t batch, uint8_t* scratch, float* y);
// Decode (one token) over `tiles` consecutive 4-row tiles: sums[4i + r], as code_dot_tile_avx512vnni
// gives them, in one call (no per-tile call or epilogue between tiles).
void code_dot_rows_avx512vnni(const uint8_t* codes, int64_t row_bytes, const int8_t* x, int64_t cols, int64_t tiles,
                              int32_t* sums);
void interleave_for_avx512(const int8_t* q, int64_t cols, int8_t* out);  // out[64l + 32j + m] = q[128j + 32l + m] per block

}  // namespace ternary::kernels
