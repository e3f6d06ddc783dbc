// AVX-512 versions of the two table-lookup loops of the fused optimizer step, bit-identical to
// the portable loops in blockwise_update.cpp (tests run both tiers against the reference).
// Compiled with -mavx512f; the dispatcher calls these only at Isa::kAvx512 or above (cpu_features.h).
#pragma once

#include <cstdint>

namespace ternary::kernels {

// max |s[i]| (0 for an empty block)
float abs_max_avx512(const float* s, int64_t len);

// out[i] = values[codes[i]] * absmax
void dequantize_block_avx512(const uint8_t* codes, int64_t len, const float* values, float absmax, float* out);

// Nearest code of s[i] / absmax (absmax > 0) via DynamicCodebook's candidate and threshold
// tables, with the sign fix when is_signed; zero_code is the index of 0.0 in the sorted map.
void encode_block_avx512(const float* s, int64_t len, float absmax, const int32_t* candidates,
                         const float* thresholds, bool is_signed, int32_t zero_code, uint8_t* out);

}  // namespace ternary::kernels
