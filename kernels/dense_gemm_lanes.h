// The summation order of kernels/dense_gemm.h in plain code, shared by the reference tier and the
// scalar tails of the SIMD tiers (so the tails cannot drift from the reference). Internal to
// the dense GEMM sources.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/dense_gemm.h"
#include "kernels/fp16.h"

namespace ternary::kernels::lanes {

// F16: products of columns [from, to) into lane k % 64, then the 64 lanes summed in order.
inline float f16_finish(const uint16_t* w, const float* x, int64_t from, int64_t to, float* lanes) {
  for (int64_t k = from; k < to; ++k) {
    const float product = fp16_to_fp32(w[k]) * x[k];
    lanes[k % kF16Lanes] += product;
  }
  float sum = 0;
  for (int64_t j = 0; j < kF16Lanes; ++j) sum += lanes[j];
  return sum;
}

// Q8_0: one block's exact integer dot, then acc = fma(float(dot), d_w * d_x, acc).
inline float q8_0_accumulate(float acc, const BlockQ8_0& w, const BlockQ8_0& x, float x_scale) {
  int32_t dot = 0;
  for (int64_t i = 0; i < kQ8Block; ++i) dot += int32_t{w.qs[i]} * int32_t{x.qs[i]};
  return std::fmaf(static_cast<float>(dot), fp16_to_fp32(w.d) * x_scale, acc);
}

}  // namespace ternary::kernels::lanes
