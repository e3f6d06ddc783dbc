// AVX2 (+FMA, F16C) tiers of the F16 and Q8_0 tiles, in dense_gemm.h's order.
#include <immintrin.h>

#include <cstring>

#include "kernels/dense_gemm.h"

namespace ternary::kernels {

// An F16 tile in two halves of 8 rows (8 partial sums of 8 rows fill half the 16 registers).
__attribute__((target("avx2,fma,f16c"))) void f16_tile_avx2(const F16Matrix& w, int64_t tile, const float* x,
                                                             float* y16) {
  const uint16_t* values = w.tile(tile);
  const int64_t cols = w.cols();
  for (int h = 0; h < 2; ++h) {
    __m256 sums[kF16Sums];
    for (__m256& s : sums) s = _mm256_setzero_ps();
    for (int64_t k = 0; k < cols; ++k) {
      if (h == 0 && k % 2 == 0)
        _mm_prefetch(reinterpret_cast<const char*>(values + k * 16) + kF16PrefetchBytes, _MM_HINT_T1);
      const __m256 v = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(values + k * 16 + 8 * h)));
      sums[k % kF16Sums] = _mm256_fmadd_ps(v, _mm256_set1_ps(x[k]), sums[k % kF16Sums]);
    }
    const __m256 total = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(sums[0], sums[1]), _mm256_add_ps(sums[2], sums[3])),
                                       _mm256_add_ps(_mm256_add_ps(sums[4], sums[5]), _mm256_add_ps(sums[6], sums[7])));
    _mm256_storeu_ps(y16 + 8 * h, total);
  }
}

// A Q8_0 tile (kernels/q8_0_matrix.h) in two halves of 8 rows: each 32-byte half of a group is
// 8 rows x 4 weights, turned back to signed q and multiplied with llama.cpp's sign trick, |w|
// (unsigned) times x with w's sign by vpmaddubsw; no pair can saturate (2 * 128 * 127 < 32767),
// and vpmaddwd by 1 leaves each row's 4-weight sum in its own int32 lane, so the dot is exact.
__attribute__((target("avx2,fma,f16c"))) void q8_0_tile_avx2(const Q8_0Matrix& w, int64_t tile, const Q8Activations& x,
                                                              float* y16) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80)), ones = _mm256_set1_epi16(1);
  const uint16_t* scales = w.scales(tile);
  const uint8_t* quants = w.quants(tile);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t b = 0; b < w.blocks_per_row(); ++b) {
    const int8_t* xq = x.blocks[static_cast<size_t>(b)].qs;
    const __m256 x_scale = _mm256_set1_ps(x.scales[static_cast<size_t>(b)]);
    for (int h = 0; h < 2; ++h) {
      __m256i dot = _mm256_setzero_si256();
      for (int g = 0; g < kQ8Block / 4; ++g) {
        if (h == 0)
          _mm_prefetch(reinterpret_cast<const char*>(quants + b * Q8_0Matrix::kBlockBytes + g * Q8_0Matrix::kGroupBytes +
                                                     kQ8PrefetchBytes),
                       _MM_HINT_T1);
        int32_t four;
        std::memcpy(&four, xq + 4 * g, 4);
        const __m256i xs = _mm256_set1_epi32(four);
        const __m256i q = _mm256_xor_si256(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(quants + b * Q8_0Matrix::kBlockBytes +
                                                                g * Q8_0Matrix::kGroupBytes + 32 * h)),
            flip);
        const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(xs, q));
        dot = _mm256_add_epi32(dot, _mm256_madd_epi16(pairs, ones));
      }
      const __m256 d = _mm256_cvtph_ps(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + b * Q8_0Matrix::kTileRows + 8 * h)));
      acc[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(d, x_scale), acc[h]);
    }
  }
  _mm256_storeu_ps(y16, acc[0]);
  _mm256_storeu_ps(y16 + 8, acc[1]);
}

}  // namespace ternary::kernels
