#include "kernels/q8_0_blocks.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/fp16.h"

namespace ternary::kernels {
namespace {

void check_length(int64_t n) {
  if (n < 0 || n % kQ8Block != 0)
    throw std::invalid_argument("Q8_0 holds multiples of 32 values, got " + std::to_string(n));
}

}  // namespace

void quantize_q8_0(const float* x, int64_t n, BlockQ8_0* blocks) {
  check_length(n);
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const float* v = x + b * kQ8Block;
    BlockQ8_0& block = blocks[b];
    float absmax = 0;
    bool finite = true;
    for (int64_t i = 0; i < kQ8Block; ++i) {
      finite &= std::fabs(v[i]) <= std::numeric_limits<float>::max();  // false for NaN and Inf
      absmax = std::max(absmax, std::fabs(v[i]));
    }
    if (!finite) {
      block.d = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
      for (int8_t& q : block.qs) q = 0;
      continue;
    }
    const float d = absmax / 127;
    const float inverse = d != 0 ? 1 / d : 0;
    // A block of tiny values (absmax below ~1.5e-36) makes 1 / d overflow to inf; its fp16 d is 0 all
    // the same, so its codes only need to be defined: clamped, and 0 for 0 * inf (found by fuzzing).
    for (int64_t i = 0; i < kQ8Block; ++i) {
      const float q = std::roundf(v[i] * inverse);
      block.qs[i] = q == q ? static_cast<int8_t>(std::min(std::max(q, -128.0f), 127.0f)) : int8_t{0};
    }
    block.d = fp32_to_fp16(d);
  }
}

void dequantize_q8_0(const BlockQ8_0* blocks, int64_t n, float* x) {
  check_length(n);
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const float d = fp16_to_fp32(blocks[b].d);
    for (int64_t i = 0; i < kQ8Block; ++i) x[b * kQ8Block + i] = static_cast<float>(blocks[b].qs[i]) * d;
  }
}

}  // namespace ternary::kernels
