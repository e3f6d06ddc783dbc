// AVX2 (+FMA, F16C) tiers of the F16 and Q8_0 row dots, in dense_gemm.h's lane order. The Q8_0 dot
// is llama.cpp's sign trick: |w| (unsigned) times x with w's sign, by vpmaddubsw; no pair can
// saturate (2 * 128 * 127 < 32767), so the integer dot is exact.
#include <immintrin.h>

#include "kernels/dense_gemm.h"
#include "kernels/dense_gemm_lanes.h"

namespace ternary::kernels {

__attribute__((target("avx2,fma,f16c"))) float f16_dot_avx2(const uint16_t* w, const float* x, int64_t cols) {
  __m256 acc[8];
  for (__m256& a : acc) a = _mm256_setzero_ps();
  const int64_t whole = cols / kF16Lanes * kF16Lanes;
  for (int64_t k = 0; k < whole; k += kF16Lanes)
    for (int j = 0; j < 8; ++j) {  // lanes 8j..8j+7
      const __m256 wf = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + k + 8 * j)));
      acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(wf, _mm256_loadu_ps(x + k + 8 * j)));
    }
  alignas(32) float partial[kF16Lanes];
  for (int j = 0; j < 8; ++j) _mm256_store_ps(partial + 8 * j, acc[j]);
  return lanes::f16_finish(w, x, whole, cols, partial);
}

namespace {

__attribute__((target("avx2,fma,f16c"))) inline __m256i block_dot(const BlockQ8_0& w, const BlockQ8_0& x) {
  const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs));
  const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs));
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));  // 8 partial int32 sums
}

}  // namespace

__attribute__((target("avx2,fma,f16c"))) float q8_0_dot_avx2(const BlockQ8_0* w, const Q8Activations& x,
                                                              int64_t blocks) {
  __m256 acc = _mm256_setzero_ps();  // lane j: blocks j, j + 8, ...
  const int64_t whole = blocks / kQ8Lanes * kQ8Lanes;
  for (int64_t b = 0; b < whole; b += kQ8Lanes) {
    const BlockQ8_0* wb = w + b;
    const BlockQ8_0* xb = x.blocks.data() + b;
    // Eight blocks' partial sums -> one vector of their eight totals (integer, so exact).
    const __m256i h01 = _mm256_hadd_epi32(block_dot(wb[0], xb[0]), block_dot(wb[1], xb[1]));
    const __m256i h23 = _mm256_hadd_epi32(block_dot(wb[2], xb[2]), block_dot(wb[3], xb[3]));
    const __m256i h45 = _mm256_hadd_epi32(block_dot(wb[4], xb[4]), block_dot(wb[5], xb[5]));
    const __m256i h67 = _mm256_hadd_epi32(block_dot(wb[6], xb[6]), block_dot(wb[7], xb[7]));
    const __m256i h0123 = _mm256_hadd_epi32(h01, h23), h4567 = _mm256_hadd_epi32(h45, h67);
    const __m256i dots = _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20),
                                          _mm256_permute2x128_si256(h0123, h4567, 0x31));
    const __m256 w_scales = _mm256_cvtph_ps(_mm_setr_epi16(
        static_cast<int16_t>(wb[0].d), static_cast<int16_t>(wb[1].d), static_cast<int16_t>(wb[2].d),
        static_cast<int16_t>(wb[3].d), static_cast<int16_t>(wb[4].d), static_cast<int16_t>(wb[5].d),
        static_cast<int16_t>(wb[6].d), static_cast<int16_t>(wb[7].d)));
    const __m256 scale = _mm256_mul_ps(w_scales, _mm256_loadu_ps(x.scales.data() + b));
    acc = _mm256_add_ps(acc, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(dots)));
  }
  alignas(32) float partial[kQ8Lanes];
  _mm256_store_ps(partial, acc);
  return lanes::q8_0_finish(w, x, whole, blocks, partial);
}

}  // namespace ternary::kernels
