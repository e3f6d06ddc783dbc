// AVX-512 tiers, in dense_gemm.h's order: the F16 tile and the Q8_0 tile (with VNNI).
#include <immintrin.h>

#include <cstring>

#include "kernels/dense_gemm.h"

namespace ternary::kernels {

// An F16 tile (kernels/f16_matrix.h): column k's 16 fp16 values convert to one register and meet
// x[k] broadcast in one FMA into partial sum k % 8, so no chain is longer than one FMA per 8 columns.
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) void f16_tile_avx512(const F16Matrix& w, int64_t tile,
                                                                                    const float* x, float* y16) {
  const uint16_t* values = w.tile(tile);
  const int64_t cols = w.cols();
  __m512 sums[kF16Sums];
  for (__m512& s : sums) s = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + kF16Sums <= cols; k += kF16Sums) {
    for (int j = 0; j < kF16Sums; ++j) {
      if (j % 2 == 0)
        _mm_prefetch(reinterpret_cast<const char*>(values + (k + j) * 16) + kF16PrefetchBytes, _MM_HINT_T1);
      const __m512 v = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(values + (k + j) * 16)));
      sums[j] = _mm512_fmadd_ps(v, _mm512_set1_ps(x[k + j]), sums[j]);
    }
  }
  for (; k < cols; ++k) {
    const __m512 v = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(values + k * 16)));
    sums[k % kF16Sums] = _mm512_fmadd_ps(v, _mm512_set1_ps(x[k]), sums[k % kF16Sums]);
  }
  const __m512 total = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(sums[0], sums[1]), _mm512_add_ps(sums[2], sums[3])),
                                     _mm512_add_ps(_mm512_add_ps(sums[4], sums[5]), _mm512_add_ps(sums[6], sums[7])));
  _mm512_storeu_ps(y16, total);
}

// A Q8_0 tile (kernels/q8_0_matrix.h): each 64-byte group is 16 rows x 4 weights stored as
// q + 128; vpdpbusd multiplies them (unsigned) by 4 activation bytes broadcast (signed) into the
// 16 rows' int32 lanes, exactly, and 128 * (the block's activation code sum) comes off. Two
// accumulators halve the dependency chain. The software prefetch (kQ8PrefetchBytes ahead) took
// the 32000 x 2048 GEMV from 0.73 to ~0.9 of the best read probe on one thread: on this VM the
// hardware prefetcher alone kept too few lines in flight.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void q8_0_tile_avx512vnni(const Q8_0Matrix& w,
                                                                                          int64_t tile,
                                                                                          const Q8Activations& x,
                                                                                          float* y16) {
  const uint16_t* scales = w.scales(tile);
  const uint8_t* quants = w.quants(tile);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < w.blocks_per_row(); ++b) {
    const int8_t* xq = x.blocks[static_cast<size_t>(b)].qs;
    const uint8_t* q = quants + b * Q8_0Matrix::kBlockBytes;
    __m512i dot[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    for (int g = 0; g < kQ8Block / 4; ++g) {
      _mm_prefetch(reinterpret_cast<const char*>(q + g * Q8_0Matrix::kGroupBytes + kQ8PrefetchBytes), _MM_HINT_T1);
      int32_t four;
      std::memcpy(&four, xq + 4 * g, 4);
      dot[g % 2] = _mm512_dpbusd_epi32(dot[g % 2], _mm512_load_si512(q + g * Q8_0Matrix::kGroupBytes),
                                       _mm512_set1_epi32(four));
    }
    const __m512i exact = _mm512_sub_epi32(_mm512_add_epi32(dot[0], dot[1]),
                                           _mm512_set1_epi32(128 * x.sums[static_cast<size_t>(b)]));
    const __m512 d = _mm512_cvtph_ps(
        _mm256_load_si256(reinterpret_cast<const __m256i*>(scales + b * Q8_0Matrix::kTileRows)));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(d, _mm512_set1_ps(x.scales[static_cast<size_t>(b)])),
                          acc);
  }
  _mm512_storeu_ps(y16, acc);
}

}  // namespace ternary::kernels
