// The fused fake-quant pass of quantizers/fused_fake_quant.h on a CUDA device:
//   out[r][i] = clamp(round_half_even(x[r][i] / scale[r]), lo, hi) * scale[r]
// the same IEEE operations in the same order as the CPU pass, so the two are bit-identical for
// the same scale. Device pointers; `stream` is a cudaStream_t (nullptr = legacy default stream).
#pragma once

#include <cstdint>

namespace ternary::cuda {

void fake_quant_rows(const float* x, const float* row_scales, float* out, int64_t rows, int64_t cols, float lo,
                     float hi, void* stream = nullptr);

}  // namespace ternary::cuda
