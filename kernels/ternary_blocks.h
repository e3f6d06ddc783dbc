// ggml's ternary block formats, declared once and shared by export (packing) and the runtime
// (unpacking), so training and inference cannot drift. Both hold 256 weights and an fp16 scale d;
// a weight is (trit) * d with trit in {-1, 0, 1}, stored as the code trit + 1 in {0, 1, 2}.
//   TQ2_0 (ggml type 35, 66 bytes, 2.06 bits/weight): qs[64], 2 bits per code. Byte 32*j + m holds,
//         in bits 2l..2l+1, weight 128*j + 32*l + m (j in 0..1, l in 0..3, m in 0..31).
//   TQ1_0 (ggml type 34, 54 bytes, 1.69 bits/weight): qs[48] with 5 codes per byte and qh[4] with 4,
//         each byte the base-3 number of its codes (first code most significant) scaled to 0..255
//         by ceil(q * 256 / 243), so that ((uint8)(byte * 3^n) * 3) >> 8 extracts code n.
//         qs[m], m < 32: weights m + 32n (n 0..4); qs[32 + m], m < 16: weights 160 + m + 16n;
//         qh[j]: weights 240 + j + 4n (n 0..3).
#pragma once

#include <cstdint>

#include "kernels/fp16.h"

namespace ternary::kernels {

constexpr int64_t kTernaryBlock = 256;  // weights per block (ggml's QK_K)

struct BlockTQ2_0 {
  uint8_t qs[kTernaryBlock / 4];
  uint16_t d;  // fp16
};
static_assert(sizeof(BlockTQ2_0) == 66, "TQ2_0 block must be 66 bytes, as ggml defines it");

struct BlockTQ1_0 {
  uint8_t qs[(kTernaryBlock - 4 * kTernaryBlock / 64) / 5];
  uint8_t qh[kTernaryBlock / 64];
  uint16_t d;  // fp16
};
static_assert(sizeof(BlockTQ1_0) == 54, "TQ1_0 block must be 54 bytes, as ggml defines it");

// `n` trits (a multiple of 256) <-> blocks; every block gets scale `d`.
void pack_tq2_0(const int8_t* trits, int64_t n, float d, BlockTQ2_0* blocks);
void unpack_tq2_0(const BlockTQ2_0* blocks, int64_t n, int8_t* trits);
void pack_tq1_0(const int8_t* trits, int64_t n, float d, BlockTQ1_0* blocks);
void unpack_tq1_0(const BlockTQ1_0* blocks, int64_t n, int8_t* trits);

}  // namespace ternary::kernels
