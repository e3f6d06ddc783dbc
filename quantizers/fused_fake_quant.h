// Fast path for the most used quantizers (BitNet weights, int8 per-token activations): a per-row
// statistic scale, then q = clamp(round(x / s), lo, hi) * s in one multithreaded, vectorized pass,
// with the straight-through (identity) gradient and nothing saved for backward. On CUDA tensors
// (builds with TERNARY_ENABLE_CUDA) the pass is kernels/cuda/fake_quant_cuda.h.
// Bit-identical to QuantizerImpl::forward_reference; tests/quantizers/fused_fake_quant_test.cpp.
#pragma once

#include <ATen/core/Tensor.h>

#include "quantizers/quantizer_spec.h"

namespace ternary {

// True when `spec` on `x` can take the fused path: float32 on the CPU (or CUDA in CUDA builds),
// statistic (not learned) scale, implicit threshold, round-to-nearest levels (ternary / int /
// uint), plain STE.
bool fused_fake_quant_applies(const QuantizerSpec& spec, const at::Tensor& x);

// rows: (rows, cols) float32; scale: (rows, 1) from scale_statistic. When `reusable_buffer` is
// given, the result is written into its memory if nothing else still references it (the caller
// keeps the buffer between steps), else into a new allocation that becomes the buffer.
at::Tensor fused_fake_quant(const at::Tensor& rows, const at::Tensor& scale, int64_t min_code, int64_t max_code,
                            at::Tensor* reusable_buffer = nullptr);

}  // namespace ternary
