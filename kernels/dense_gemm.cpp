#include "kernels/dense_gemm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/dense_gemm_lanes.h"
#include "kernels/fp16.h"

namespace ternary::kernels {

float f16_dot_reference(const uint16_t* w, const float* x, int64_t cols) {
  float sums[kF16Sums] = {};
  for (int64_t k = 0; k < cols; ++k) sums[k % kF16Sums] = std::fmaf(fp16_to_fp32(w[k]), x[k], sums[k % kF16Sums]);
  return lanes::f16_combine(sums);
}

void f16_tile_reference(const F16Matrix& w, int64_t tile, const float* x, float* y16) {
  for (int64_t r = 0; r < F16Matrix::kTileRows; ++r) {
    float sums[kF16Sums] = {};
    for (int64_t k = 0; k < w.cols(); ++k)
      sums[k % kF16Sums] = std::fmaf(fp16_to_fp32(w.at(tile * F16Matrix::kTileRows + r, k)), x[k], sums[k % kF16Sums]);
    y16[r] = lanes::f16_combine(sums);
  }
}

float q8_0_dot_reference(const BlockQ8_0* w, const Q8Activations& x, int64_t blocks) {
  float acc = 0;
  for (int64_t b = 0; b < blocks; ++b) acc = lanes::q8_0_accumulate(acc, w[b], x.blocks[b], x.scales[b]);
  return acc;
}

void q8_0_tile_reference(const Q8_0Matrix& w, int64_t tile, const Q8Activations& x, float* y16) {
  for (int64_t r = 0; r < Q8_0Matrix::kTileRows; ++r) {
    float acc = 0;
    for (int64_t b = 0; b < w.blocks_per_row(); ++b)
      acc = lanes::q8_0_accumulate(acc, w.block(tile * Q8_0Matrix::kTileRows + r, b), x.blocks[b], x.scales[b]);
    y16[r] = acc;
  }
}

void q8_0_activations(const float* x, int64_t cols, Q8Activations& out) {
  out.blocks.resize(static_cast<size_t>(cols / kQ8Block));
  quantize_q8_0(x, cols, out.blocks.data());
  out.scales.resize(out.blocks.size());
  out.sums.resize(out.blocks.size());
  for (size_t b = 0; b < out.blocks.size(); ++b) {
    out.scales[b] = fp16_to_fp32(out.blocks[b].d);
    int32_t sum = 0;
    for (int8_t q : out.blocks[b].qs) sum += q;
    out.sums[b] = sum;
  }
}

void f16_gemm(const F16Matrix& w, const float* x, int64_t batch, float* y) {
  const int64_t rows = w.rows(), cols = w.cols();
  auto tile_dot = pick_isa_variant(f16_tile_reference, f16_tile_avx2, f16_tile_avx512);
#pragma omp parallel for schedule(static)
  for (int64_t tile = 0; tile < w.tiles(); ++tile) {
    const int64_t first = tile * F16Matrix::kTileRows;
    const int64_t valid = std::min(F16Matrix::kTileRows, rows - first);
    for (int64_t t = 0; t < batch; ++t) {  // later tokens find the tile in cache
      float y16[F16Matrix::kTileRows];
      tile_dot(w, tile, x + t * cols, y16);
      std::copy(y16, y16 + valid, y + t * rows + first);
    }
  }
}

void q8_0_gemm(const Q8_0Matrix& w, const Q8Activations* x, int64_t batch, float* y) {
  const int64_t rows = w.rows();
  for (int64_t t = 0; t < batch; ++t)
    if (static_cast<int64_t>(x[t].blocks.size()) != w.blocks_per_row())
      throw std::invalid_argument("q8_0_gemm: activations of " + std::to_string(x[t].blocks.size()) +
                                  " blocks for a matrix of " + std::to_string(w.cols()) + " columns");
  const Isa isa = selected_isa();
  auto tile_dot = isa >= Isa::kAvx512Vnni ? q8_0_tile_avx512vnni
                  : isa >= Isa::kAvx2     ? q8_0_tile_avx2
                                          : q8_0_tile_reference;
#pragma omp parallel for schedule(static)
  for (int64_t tile = 0; tile < w.tiles(); ++tile) {
    const int64_t first = tile * Q8_0Matrix::kTileRows;
    const int64_t valid = std::min(Q8_0Matrix::kTileRows, rows - first);
    for (int64_t t = 0; t < batch; ++t) {  // later tokens find the tile in cache
      float y16[Q8_0Matrix::kTileRows];
      tile_dot(w, tile, x[t], y16);
      std::copy(y16, y16 + valid, y + t * rows + first);
    }
  }
}

}  // namespace ternary::kernels
