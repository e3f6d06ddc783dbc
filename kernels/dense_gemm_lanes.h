// The summation order of kernels/dense_gemm.h in plain code, shared by the reference row dots
// and the reference tiles (so the two cannot drift apart). Internal to the dense GEMM sources.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/dense_gemm.h"
#include "kernels/fp16.h"

namespace ternary::kernels::lanes {

// F16: column k's product into partial sum k % 8, fused; then the 8 sums' final order.
inline void f16_accumulate(float* sums, int64_t k, uint16_t w, float x) {
  sums[k % kF16Sums] = std::fmaf(fp16_to_fp32(w), x, sums[k % kF16Sums]);
}
inline float f16_combine(const float* s) { return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); }

// Q8_0: one block's exact integer dot, then acc = fma(float(dot), d_w * d_x, acc).
inline float q8_0_accumulate(float acc, const BlockQ8_0& w, const BlockQ8_0& x, float x_scale) {
  int32_t dot = 0;
  for (int64_t i = 0; i < kQ8Block; ++i) dot += int32_t{w.qs[i]} * int32_t{x.qs[i]};
  return std::fmaf(static_cast<float>(dot), fp16_to_fp32(w.d) * x_scale, acc);
}

}  // namespace ternary::kernels::lanes
