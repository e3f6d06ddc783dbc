// AVX-512 tier of the F16 row dot, in dense_gemm.h's lane order (four 16-lane accumulators).
#include <immintrin.h>

#include "kernels/dense_gemm.h"
#include "kernels/dense_gemm_lanes.h"

namespace ternary::kernels {

__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) float f16_dot_avx512(const uint16_t* w, const float* x,
                                                                                    int64_t cols) {
  __m512 acc[4];
  for (__m512& a : acc) a = _mm512_setzero_ps();
  const int64_t whole = cols / kF16Lanes * kF16Lanes;
  for (int64_t k = 0; k < whole; k += kF16Lanes)
    for (int j = 0; j < 4; ++j) {  // lanes 16j..16j+15
      const __m512 wf = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k + 16 * j)));
      acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(wf, _mm512_loadu_ps(x + k + 16 * j)));
    }
  alignas(64) float partial[kF16Lanes];
  for (int j = 0; j < 4; ++j) _mm512_store_ps(partial + 16 * j, acc[j]);
  return lanes::f16_finish(w, x, whole, cols, partial);
}

}  // namespace ternary::kernels
