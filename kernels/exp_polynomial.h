// exp as a polynomial the compiler vectorizes, for the kernels that take exp of every element
// (SwiGLU's gate, attention's softmax): glibc's scalar expf is a call per value. Cody-Waite range
// reduction, degree-6 polynomial on |r| <= ln2 / 2; within 2 ulp of std::exp (tests), and the same
// floats at every ISA level, since each tier compiles this one function. NaN in gives NaN out.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cpu_features.h"

namespace ternary::kernels {

// exp(x) = 2^n * exp(r), x = n ln2 + r. ln2 is split in two (Cody-Waite) so r is exact enough;
// x is clamped so that 2^n stays a normal float (exp underflows to ~1e-38 and overflows to
// ~3e38 instead of 0 and inf: silu's g / (1 + e) is then g or ~0, as with the exact value).
TERNARY_ALWAYS_INLINE float exp_poly(float x) {
  x = std::min(std::max(x, -87.3f), 88.3f);  // keeps NaN (both compare false)
  // n comes from a number (a NaN cast to int is undefined: the fuzzer found it); NaN flows on through r.
  const float n = std::nearbyint((x == x ? x : 0.0f) * 1.44269504088896341f);
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * (r * r) + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 127]
  float scale;
  std::memcpy(&scale, &bits, 4);
  return e * scale;
}

}  // namespace ternary::kernels
