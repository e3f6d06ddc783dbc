#include "kernels/gated_activation.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu_features.h"

namespace ternary::kernels {
namespace {

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

TERNARY_ALWAYS_INLINE void swiglu_body(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + exp_poly(-gate[i])) * up[i];
}

TERNARY_ISA_VARIANTS(void, swiglu_body, (float* gate, const float* up, int64_t n), (gate, up, n))

}  // namespace

float exp_polynomial(float x) { return exp_poly(x); }

void swiglu(float* gate, const float* up, int64_t n) {
  pick_isa_variant(swiglu_body_reference, swiglu_body_avx2, swiglu_body_avx512)(gate, up, n);
}

void swiglu_reference(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void relu_squared_glu(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = std::max(gate[i], 0.0f);
    gate[i] = g * g * up[i];
  }
}

}  // namespace ternary::kernels
