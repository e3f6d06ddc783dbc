#include "kernels/dense_gemm.h"

#include <stdexcept>
#include <string>

#include "kernels/dense_gemm_lanes.h"
#include "kernels/fp16.h"

namespace ternary::kernels {

float f16_dot_reference(const uint16_t* w, const float* x, int64_t cols) {
  float partial[kF16Lanes] = {};
  return lanes::f16_finish(w, x, 0, cols, partial);
}

float q8_0_dot_reference(const BlockQ8_0* w, const Q8Activations& x, int64_t blocks) {
  float partial[kQ8Lanes] = {};
  return lanes::q8_0_finish(w, x, 0, blocks, partial);
}

void q8_0_activations(const float* x, int64_t cols, Q8Activations& out) {
  out.blocks.resize(static_cast<size_t>(cols / kQ8Block));
  quantize_q8_0(x, cols, out.blocks.data());
  out.scales.resize(out.blocks.size());
  for (size_t b = 0; b < out.blocks.size(); ++b) out.scales[b] = fp16_to_fp32(out.blocks[b].d);
}

void f16_gemm(const uint16_t* w, int64_t rows, int64_t cols, const float* x, int64_t batch, float* y) {
  auto dot = pick_isa_variant(f16_dot_reference, f16_dot_avx2, f16_dot_avx512);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < batch; ++t) y[t * rows + r] = dot(w + r * cols, x + t * cols, cols);
}

void q8_0_gemm(const BlockQ8_0* w, int64_t rows, int64_t cols, const Q8Activations* x, int64_t batch, float* y) {
  const int64_t blocks = cols / kQ8Block;
  for (int64_t t = 0; t < batch; ++t)
    if (cols % kQ8Block != 0 || static_cast<int64_t>(x[t].blocks.size()) != blocks)
      throw std::invalid_argument("q8_0_gemm: activations of " + std::to_string(x[t].blocks.size()) +
                                  " blocks for a matrix of " + std::to_string(cols) + " columns");
  auto dot = pick_isa_variant(q8_0_dot_reference, q8_0_dot_avx2, q8_0_dot_avx2);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < batch; ++t) y[t * rows + r] = dot(w + r * blocks, x[t], blocks);
}

}  // namespace ternary::kernels
