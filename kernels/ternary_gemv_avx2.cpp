// AVX2 tier: a tile of 4 rows x 1 token. Per 32 bytes of codes, (bytes >> 2l) & 3 are the codes
// of 32 consecutive weights, multiplied with 32 activations by maddubs (u8 x s8 -> i16 pairs, at
// most 2*2*128, no saturation), summed in i16 over a block (8 * 512 < 32767), then widened to
// i32. Each activation vector serves the 4 rows; activations are in their natural order.
#include <immintrin.h>

#include "kernels/ternary_gemv.h"

namespace ternary::kernels {

__attribute__((target("avx2"))) void code_dot_tile_avx2(const uint8_t* codes, int64_t row_bytes, const int8_t* const* x,
                                                        int tokens, int64_t cols, int32_t* sums) {
  const __m256i mask = _mm256_set1_epi8(3);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int t = 0; t < tokens; ++t) {  // the 4 rows' codes stay in L1 across the tokens
    const int8_t* q = x[t];
    __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int64_t b = 0; b < cols / 256; ++b) {
      __m256i block[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                          _mm256_setzero_si256()};
      for (int j = 0; j < 2; ++j) {
        __m256i bytes[4];
        for (int r = 0; r < 4; ++r)
          bytes[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(codes + r * row_bytes + b * 64 + 32 * j));
        for (int l = 0; l < 4; ++l) {
          const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + b * 256 + 128 * j + 32 * l));
          for (int r = 0; r < 4; ++r) {
            const __m256i c = _mm256_and_si256(_mm256_srli_epi16(bytes[r], 2 * l), mask);
            block[r] = _mm256_add_epi16(block[r], _mm256_maddubs_epi16(c, a));
          }
        }
      }
      for (int r = 0; r < 4; ++r) acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(block[r], ones));
    }
    for (int r = 0; r < 4; ++r) {
      __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc[r]), _mm256_extracti128_si256(acc[r], 1));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
      sums[t * 4 + r] = _mm_cvtsi128_si32(s);
    }
  }
}

}  // namespace ternary::kernels
