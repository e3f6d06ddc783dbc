// bitsandbytes' dynamic 8-bit data type for optimizer state, and nearest-code lookup into it.
// create_dynamic_map equals bitsandbytes.functional.create_dynamic_map (signed: 127 values per
// sign, 0 and 1, sum 1.0; unsigned: 254 positive values, 0 and 1, sum 75.1052631); tested
// against golden values from bitsandbytes in tests/optim/dynamic_map_test.cpp. LibTorch-free.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace ternary::kernels {

std::array<float, 256> create_dynamic_map(bool is_signed);

// The 256 sorted code values and an exact nearest-code lookup for normalised x in [-1, 1].
class DynamicCodebook {
 public:
  explicit DynamicCodebook(bool is_signed);
  static const DynamicCodebook& signed_map();    // first moments (can be negative)
  static const DynamicCodebook& unsigned_map();  // second moments (>= 0)

  float value(uint8_t code) const { return values_[code]; }
  const float* values() const { return values_.data(); }
  uint8_t zero_code() const { return zero_code_; }

  // Nearest code, ties to the lower code, distances in float as bitsandbytes' CPU quantizer
  // computes them. O(1): a table indexed by the top 16 bits of x names the lower of the (at most
  // two) codes a value with those bits can be nearest to, and the largest x in the bucket that
  // still maps to it, found exactly when the table is built.
  uint8_t nearest(float x) const {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const uint32_t bucket = bits >> 16;
    return static_cast<uint8_t>(candidate_[bucket] + (x > threshold_[bucket]));
  }
  // The same tables for vectorized kernels (32-bit entries, so they can be gathered).
  const int32_t* candidates() const { return candidate_.data(); }
  const float* thresholds() const { return threshold_.data(); }
  // The same by binary search: the plain reference `nearest` is tested against.
  uint8_t nearest_reference(float x) const;

 private:
  std::array<float, 257> values_;  // values_[256] = +inf, so nearest() never moves past 255
  std::array<int32_t, 1 << 16> candidate_;  // lower candidate code per top-16-bit bucket
  std::array<float, 1 << 16> threshold_;    // x > threshold_ moves to candidate + 1
  uint8_t zero_code_ = 0;
};

// Nearest code for a first moment, with bitsandbytes' sign fix: a code whose sign differs from
// x's moves one step towards x, so momentum never flips direction through quantization.
inline uint8_t nearest_signed_with_sign_fix(const DynamicCodebook& book, float x, uint8_t code) {
  if (x != 0.0f && std::signbit(book.value(code)) != std::signbit(x)) return x > 0.0f ? code + 1 : code - 1;
  return code;
}

}  // namespace ternary::kernels
