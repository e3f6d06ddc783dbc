#include "kernels/blockwise_codec_avx512.h"

#include <immintrin.h>

// GCC 12's AVX-512 intrinsics pass an undefined source operand internally and warn about it.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ternary::kernels {
namespace {

// The scalar definition, for tails shorter than a vector (same formula as DynamicCodebook).
inline uint8_t encode_one(float x, const int32_t* candidates, const float* thresholds, bool is_signed,
                          int32_t zero_code) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int32_t code = candidates[bits >> 16] + (x > thresholds[bits >> 16]);
  if (is_signed && x != 0.0f && (code < zero_code) != std::signbit(x)) code += x > 0.0f ? 1 : -1;
  return static_cast<uint8_t>(code);
}

}  // namespace

float abs_max_avx512(const float* s, int64_t len) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
  __m512 lanes = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= len; i += 16)
    lanes = _mm512_max_ps(lanes, _mm512_castsi512_ps(_mm512_and_si512(_mm512_loadu_si512(s + i), abs_mask)));
  float m = _mm512_reduce_max_ps(lanes);
  for (; i < len; ++i) m = std::max(m, std::fabs(s[i]));
  return m;
}

void dequantize_block_avx512(const uint8_t* codes, int64_t len, const float* values, float absmax, float* out) {
  const __m512 scale = _mm512_set1_ps(absmax);
  int64_t i = 0;
  for (; i + 16 <= len; i += 16) {
    const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i)));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_i32gather_ps(idx, values, 4), scale));
  }
  for (; i < len; ++i) out[i] = values[codes[i]] * absmax;
}

void encode_block_avx512(const float* s, int64_t len, float absmax, const int32_t* candidates,
                         const float* thresholds, bool is_signed, int32_t zero_code, uint8_t* out) {
  const __m512 scale = _mm512_set1_ps(absmax);
  const __m512i one = _mm512_set1_epi32(1), zero_index = _mm512_set1_epi32(zero_code);
  int64_t i = 0;
  for (; i + 16 <= len; i += 16) {
    const __m512 x = _mm512_div_ps(_mm512_loadu_ps(s + i), scale);
    const __m512i x_bits = _mm512_castps_si512(x);
    const __m512i bucket = _mm512_srli_epi32(x_bits, 16);
    const __m512i low = _mm512_i32gather_epi32(bucket, candidates, 4);
    const __m512 threshold = _mm512_i32gather_ps(bucket, thresholds, 4);
    __m512i code = _mm512_mask_add_epi32(low, _mm512_cmp_ps_mask(x, threshold, _CMP_GT_OQ), low, one);
    if (is_signed) {
      // sign(values[code]) is negative exactly when code < zero_code (the map is sorted)
      const __mmask16 code_negative = _mm512_cmplt_epi32_mask(code, zero_index);
      const __mmask16 x_negative = _mm512_cmplt_epi32_mask(x_bits, _mm512_setzero_si512());
      const __mmask16 nonzero = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NEQ_UQ);
      const __mmask16 flip = (code_negative ^ x_negative) & nonzero;
      const __mmask16 up = flip & _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
      code = _mm512_mask_add_epi32(code, up, code, one);
      code = _mm512_mask_sub_epi32(code, flip & ~up, code, one);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(code));
  }
  for (; i < len; ++i) out[i] = encode_one(s[i] / absmax, candidates, thresholds, is_signed, zero_code);
}

}  // namespace ternary::kernels
