#include "kernels/gated_activation.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu_features.h"
#include "kernels/exp_polynomial.h"

namespace ternary::kernels {
namespace {

TERNARY_ALWAYS_INLINE void swiglu_body(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + exp_poly(-gate[i])) * up[i];
}

TERNARY_ISA_VARIANTS(void, swiglu_body, (float* gate, const float* up, int64_t n), (gate, up, n))

}  // namespace

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
