// AVX-512 VNNI tier of code_dot: one 64-byte load holds a block's two 32-byte chunks; for each of
// the 4 bit pairs, lanes 0..31 are weights 32l + m and lanes 32..63 weights 128 + 32l + m, so the
// activations are gathered as two 32-byte halves. vpdpbusd (u8 codes x s8 activations -> i32)
// accumulates without intermediate saturation.
#include <immintrin.h>

// GCC 12's _mm512_inserti64x4 passes an undefined mask source internally and warns about it.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/ternary_gemv.h"

namespace ternary::kernels {

__attribute__((target("avx512f,avx512bw,avx512vnni"))) int32_t code_dot_avx512vnni(const uint8_t* codes,
                                                                                    const int8_t* q, int64_t cols) {
  const __m512i mask = _mm512_set1_epi8(3);
  __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  for (int64_t b = 0; b < cols / 256; ++b) {
    // Ask for the codes 1 KiB ahead: rows are streamed once, so the hardware prefetcher alone
    // leaves the load ports waiting at the start of every row.
    _mm_prefetch(reinterpret_cast<const char*>(codes + b * 64 + 1024), _MM_HINT_T0);
    const __m512i bytes = _mm512_loadu_si512(codes + b * 64);
    const int8_t* a = q + b * 256;
    for (int l = 0; l < 4; ++l) {  // one accumulator per bit pair: four independent dpbusd chains
      const __m512i c = _mm512_and_si512(_mm512_srli_epi16(bytes, 2 * l), mask);
      const __m512i x = _mm512_inserti64x4(
          _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 32 * l))),
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 128 + 32 * l)), 1);
      acc[l] = _mm512_dpbusd_epi32(acc[l], c, x);
    }
  }
  alignas(64) int32_t lanes[16];  // (GCC 12's _mm512_reduce_add_epi32 trips -Wuninitialized)
  _mm512_store_si512(lanes, _mm512_add_epi32(_mm512_add_epi32(acc[0], acc[1]), _mm512_add_epi32(acc[2], acc[3])));
  int32_t sum = 0;
  for (int32_t lane : lanes) sum += lane;
  return sum;
}

}  // namespace ternary::kernels
