// bfloat16 as the optimizer kernels see a parameter or gradient: the top 16 bits of an IEEE
// float. Same bits and rounding as LibTorch's c10::BFloat16 (round to nearest even, NaN to a quiet
// NaN), so a LibTorch bf16 tensor's data can be passed straight in. LibTorch-free.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace ternary::kernels {

struct BFloat16 {
  uint16_t bits;

  static BFloat16 from_float(float value) {
    if (std::isnan(value)) return {0x7FC0};
    uint32_t u;
    std::memcpy(&u, &value, sizeof u);
    const uint32_t rounding_bias = ((u >> 16) & 1u) + 0x7FFFu;  // ties to even
    return {static_cast<uint16_t>((u + rounding_bias) >> 16)};
  }
  // Stochastic rounding: up (in magnitude) with probability equal to the fraction the truncation
  // drops, given 16 uniform random bits, so the expected result is `value` (torchao's
  // bf16_stochastic_round). Keeps small updates that round-to-nearest would lose every step.
  static BFloat16 from_float_stochastic(float value, uint32_t random16) {
    if (std::isnan(value)) return {0x7FC0};
    uint32_t u;
    std::memcpy(&u, &value, sizeof u);
    return {static_cast<uint16_t>((u + (random16 & 0xFFFFu)) >> 16)};
  }
  float to_float() const {
    const uint32_t u = static_cast<uint32_t>(bits) << 16;
    float value;
    std::memcpy(&value, &u, sizeof value);
    return value;
  }
};
static_assert(sizeof(BFloat16) == 2, "bfloat16 is two bytes, as c10::BFloat16");

}  // namespace ternary::kernels
