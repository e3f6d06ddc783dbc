// The gated activations of the feed-forward block, in place over n values:
//   SwiGLU (LLaMA):        gate[i] = silu(gate[i]) * up[i],  silu(g) = g / (1 + exp(-g));
//   ReLU^2 (BitNet b1.58): gate[i] = max(gate[i], 0)^2 * up[i].
// The decode step runs SwiGLU over ffn_dim values per layer (124 k per token at the 1B shape);
// glibc's scalar expf made it ~3 % of the step, so exp here is exp_poly (kernels/exp_polynomial.h),
// which the compiler vectorizes, compiled per ISA level with identical results on every tier. The
// reference is the same formula with std::exp. NaN in gives NaN out.
#pragma once

#include <cstdint>

namespace ternary::kernels {

void swiglu(float* gate, const float* up, int64_t n);
void swiglu_reference(float* gate, const float* up, int64_t n);
void relu_squared_glu(float* gate, const float* up, int64_t n);

}  // namespace ternary::kernels
