// ggml's Q8_0 block (type 8, 34 bytes, 8.5 bits/weight): 32 values q[i] * d, d in fp16, q int8.
// The format of the non-ternary matrices ternary-export writes with --output-type q8_0 (the
// embedding and output matrices), and of the activations the Q8_0 GEMV multiplies them with, as
// llama.cpp does. Quantization is ggml's reference, bit for bit (tests/golden/q8_0_blocks.py):
//   d = max|x| / 127;  q = roundf(x * (1 / d)) (0 when d is 0);  d stored as fp16.
// A block holding NaN or Inf gets d = NaN and q = 0, so what it touches is NaN, never garbage.
#pragma once

#include <cstdint>

namespace ternary::kernels {

constexpr int64_t kQ8Block = 32;  // values per block (ggml's QK8_0)

struct BlockQ8_0 {
  uint16_t d;  // fp16
  int8_t qs[kQ8Block];
};
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block must be 34 bytes, as ggml defines it");

// `n` values (a multiple of 32) <-> n / 32 blocks.
void quantize_q8_0(const float* x, int64_t n, BlockQ8_0* blocks);
void dequantize_q8_0(const BlockQ8_0* blocks, int64_t n, float* x);

}  // namespace ternary::kernels
