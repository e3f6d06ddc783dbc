// AVX-512 VNNI tier: a tile of 4 rows x up to 4 tokens at once. One 64-byte load holds a row
// block's two 32-byte chunks; for each of the 4 bit pairs l, lanes 0..31 are weights 32l + m and
// lanes 32..63 weights 128 + 32l + m, which is why the activations arrive pre-arranged
// (interleave_for_avx512: 64 bytes per (block, l)). vpdpbusd (u8 codes x s8 activations -> i32)
// accumulates without intermediate saturation. A decode step (1 token) does 8 vector ops per 64
// bytes of codes (4 masks, 4 vpdpbusd): on the project's VM that work alone runs at 20 - 40 GB/s
// and costs the read stream 10 - 20 % (ternary-bench gemv: decode_work_ceiling); a prefill tile
// reuses each unpacked code vector for up to 4 tokens.
#include <immintrin.h>

#include <cstring>

#include "kernels/ternary_gemv.h"

namespace ternary::kernels {
namespace {

__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline int32_t sum_lanes(__m512i v) {
  const __m256i half = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(half), _mm256_extracti128_si256(half, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// How far ahead (in rows of this tile's stream) the tiles prefetch codes, and into which cache.
// Prefill: the next tile into L1 (on the 1B shape 24.8 decode tokens/s against 20.0 to 21.8 for
// 1 KiB or 8 and 16 rows ahead, when this tile also decoded). Decode: two levels, 12 rows ahead
// into L2 and 4 rows ahead into L1, the best of a sweep over the 1B model's layer sequence
// (docs/benchmarks.md): 0.74 - 0.76 of the best read probe, against 0.64 - 0.69 for L2 alone 8
// rows ahead, 0.63 - 0.72 for L1 alone and 0.50 for non-temporal.
constexpr int kPrefetchRowsDecodeL2 = 12, kPrefetchRowsDecodeL1 = 4, kPrefetchRowsBatch = 4;

// Decode (one token): no shifts. Masking bit pair l in place (3 << 2l) leaves code * 4^l, so
// vpdpbusd accumulates 4^l times the dot into accumulator l, and an exact arithmetic shift by 2l
// undoes it at the end (a lane adds at most 4 * 2 * 64 * 128 a block: exact while cols < 2^23;
// TernaryMatrix allows at most 2^22).
// Port 0 then runs only the multiply-adds, and each row keeps one accumulator per bit pair,
// so no chain is longer than one vpdpbusd per block.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void decode_tile(const uint8_t* codes, int64_t row_bytes,
                                                                        const int8_t* x, int64_t cols, int32_t* sums) {
  __m512i masks[4], acc[4][4];
  for (int l = 0; l < 4; ++l) masks[l] = _mm512_set1_epi8(static_cast<char>(3 << (2 * l)));
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_si512();
  for (int64_t b = 0; b < cols / 256; ++b) {
    __m512i bytes[4];
    for (int r = 0; r < 4; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(codes + (r + kPrefetchRowsDecodeL2) * row_bytes + b * 64), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(codes + (r + kPrefetchRowsDecodeL1) * row_bytes + b * 64), _MM_HINT_T0);
      bytes[r] = _mm512_load_si512(codes + r * row_bytes + b * 64);
    }
    for (int l = 0; l < 4; ++l) {
      const __m512i xs = _mm512_loadu_si512(x + b * 256 + 64 * l);
      for (int r = 0; r < 4; ++r) acc[r][l] = _mm512_dpbusd_epi32(acc[r][l], _mm512_and_si512(bytes[r], masks[l]), xs);
    }
  }
  for (int r = 0; r < 4; ++r) {
    __m512i total = acc[r][0];
    for (int l = 1; l < 4; ++l) total = _mm512_add_epi32(total, _mm512_srai_epi32(acc[r][l], 2 * l));
    sums[r] = sum_lanes(total);
  }
}

// Prefill (2 to 4 tokens): each unpacked code vector serves every token, so the shift per bit
// pair is paid once for up to 4 tokens; 16 accumulators hold 4 rows x 4 tokens.
template <int kTokens>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void tile(const uint8_t* codes, int64_t row_bytes,
                                                                 const int8_t* const* x, int64_t cols, int32_t* sums) {
  const __m512i mask = _mm512_set1_epi8(3);
  __m512i acc[4][kTokens];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_si512();
  for (int64_t b = 0; b < cols / 256; ++b) {
    __m512i bytes[4];
    for (int r = 0; r < 4; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(codes + (r + kPrefetchRowsBatch) * row_bytes + b * 64), _MM_HINT_T0);
      bytes[r] = _mm512_load_si512(codes + r * row_bytes + b * 64);
    }
    for (int l = 0; l < 4; ++l) {
      __m512i xs[kTokens];
      for (int t = 0; t < kTokens; ++t) xs[t] = _mm512_loadu_si512(x[t] + b * 256 + 64 * l);
      for (int r = 0; r < 4; ++r) {
        const __m512i c = _mm512_and_si512(_mm512_srli_epi16(bytes[r], 2 * l), mask);
        for (int t = 0; t < kTokens; ++t) acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], c, xs[t]);
      }
    }
  }
  for (int t = 0; t < kTokens; ++t)
    for (int r = 0; r < 4; ++r) sums[t * 4 + r] = sum_lanes(acc[r][t]);
}

}  // namespace

void interleave_for_avx512(const int8_t* q, int64_t cols, int8_t* out) {
  for (int64_t b = 0; b < cols / 256; ++b)  // 32-byte runs: run (j, l) of the block goes to (l, j)
    for (int l = 0; l < 4; ++l)
      for (int j = 0; j < 2; ++j) std::memcpy(out + b * 256 + 64 * l + 32 * j, q + b * 256 + 128 * j + 32 * l, 32);
}

void code_dot_rows_avx512vnni(const uint8_t* codes, int64_t row_bytes, const int8_t* x, int64_t cols, int64_t tiles,
                              int32_t* sums) {
  for (int64_t i = 0; i < tiles; ++i) decode_tile(codes + 4 * i * row_bytes, row_bytes, x, cols, sums + 4 * i);
}

void code_dot_tile_avx512vnni(const uint8_t* codes, int64_t row_bytes, const int8_t* const* x, int tokens,
                              int64_t cols, int32_t* sums) {
  switch (tokens) {
    case 1: return decode_tile(codes, row_bytes, x[0], cols, sums);
    case 2: return tile<2>(codes, row_bytes, x, cols, sums);
    case 3: return tile<3>(codes, row_bytes, x, cols, sums);
    default: return tile<4>(codes, row_bytes, x, cols, sums);
  }
}

}  // namespace ternary::kernels
