#include "kernels/dense_gemm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/dense_gemm_lanes.h"
#include "kernels/fp16.h"

namespace ternary::kernels {
namespace {

// The driver both 16-row tile layouts share: tiles split across threads, every token of a tile
// before the next (later tokens find it in cache), and only a tile's real rows written to y.
static_assert(F16Matrix::kTileRows == Q8_0Matrix::kTileRows);
constexpr int64_t kTileRows = F16Matrix::kTileRows;

template <typename TileDot>  // tile_dot(tile, token, y16)
void gemm_by_tiles(int64_t rows, int64_t tiles, int64_t batch, float* y, const TileDot& tile_dot) {
#pragma omp parallel for schedule(static)
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t first = tile * kTileRows, valid = std::min(kTileRows, rows - first);
    for (int64_t t = 0; t < batch; ++t) {
      float y16[kTileRows];
      tile_dot(tile, t, y16);
      std::copy(y16, y16 + valid, y + t * rows + first);
    }
  }
}

}  // namespace

float f16_dot_reference(const uint16_t* w, const float* x, int64_t cols) {
  float sums[kF16Sums] = {};
  for (int64_t k = 0; k < cols; ++k) lanes::f16_accumulate(sums, k, w[k], x[k]);
  return lanes::f16_combine(sums);
}

void f16_tile_reference(const F16Matrix& w, int64_t tile, const float* x, float* y16) {
  for (int64_t r = 0; r < F16Matrix::kTileRows; ++r) {
    float sums[kF16Sums] = {};
    for (int64_t k = 0; k < w.cols(); ++k) lanes::f16_accumulate(sums, k, w.at(tile * F16Matrix::kTileRows + r, k), x[k]);
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
  auto tile_dot = pick_isa_variant(f16_tile_reference, f16_tile_avx2, f16_tile_avx512);
  gemm_by_tiles(w.rows(), w.tiles(), batch, y,
                [&](int64_t tile, int64_t t, float* y16) { tile_dot(w, tile, x + t * w.cols(), y16); });
}

void q8_0_gemm(const Q8_0Matrix& w, const Q8Activations* x, int64_t batch, float* y) {
  for (int64_t t = 0; t < batch; ++t)
    if (static_cast<int64_t>(x[t].blocks.size()) != w.blocks_per_row())
      throw std::invalid_argument("q8_0_gemm: activations of " + std::to_string(x[t].blocks.size()) +
                                  " blocks for a matrix of " + std::to_string(w.cols()) + " columns");
  const Isa isa = selected_isa();
  auto tile_dot = isa >= Isa::kAvx512Vnni ? q8_0_tile_avx512vnni
                  : isa >= Isa::kAvx2     ? q8_0_tile_avx2
                                          : q8_0_tile_reference;
  gemm_by_tiles(w.rows(), w.tiles(), batch, y, [&](int64_t tile, int64_t t, float* y16) { tile_dot(w, tile, x[t], y16); });
}

}  // namespace ternary::kernels
