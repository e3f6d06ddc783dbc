// AVX2 tier of code_dot: per 32 bytes of codes, (bytes >> 2l) & 3 are the codes of 32 consecutive
// weights, multiplied with 32 activations by maddubs (u8 x s8 -> i16 pairs, at most 2*2*127, no
// saturation), summed in i16 over a block (8 * 508 < 32767), then widened to i32.
#include <immintrin.h>

#include "kernels/ternary_gemv.h"

namespace ternary::kernels {

__attribute__((target("avx2"))) int32_t code_dot_avx2(const uint8_t* codes, const int8_t* q, int64_t cols) {
  const __m256i mask = _mm256_set1_epi8(3);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc = _mm256_setzero_si256();
  for (int64_t b = 0; b < cols / 256; ++b) {
    __m256i block = _mm256_setzero_si256();
    for (int j = 0; j < 2; ++j) {
      const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + b * 64 + 32 * j));
      const int8_t* a = q + b * 256 + 128 * j;
      for (int l = 0; l < 4; ++l) {
        const __m256i c = _mm256_and_si256(_mm256_srli_epi16(bytes, 2 * l), mask);
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 32 * l));
        block = _mm256_add_epi16(block, _mm256_maddubs_epi16(c, x));
      }
    }
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(block, ones));
  }
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

}  // namespace ternary::kernels
