// IEEE half <-> float, round to nearest even (what ggml's GGML_FP32_TO_FP16 and numpy's float16
// do). Plain code: the ggml block scales (TQ1_0, TQ2_0, Q8_0 d) and F16 tensors go through it;
// SIMD tiers convert with F16C, which rounds the same way.
#pragma once

#include <cstdint>

namespace ternary::kernels {

uint16_t fp32_to_fp16(float value);
float fp16_to_fp32(uint16_t value);

}  // namespace ternary::kernels
