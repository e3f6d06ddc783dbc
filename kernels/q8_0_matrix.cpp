#include "kernels/q8_0_matrix.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace ternary::kernels {
namespace {

// Where weight i of row r's block b lives in its tile: the byte offset from quants(tile).
int64_t quant_offset(int64_t r, int64_t b, int64_t i) {
  return b * Q8_0Matrix::kBlockBytes + (i / 4) * Q8_0Matrix::kGroupBytes + (r % Q8_0Matrix::kTileRows) * 4 + i % 4;
}

}  // namespace

Q8_0Matrix Q8_0Matrix::from_blocks(const BlockQ8_0* blocks, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0 || cols % kQ8Block != 0)
    throw std::invalid_argument("Q8_0 matrix " + std::to_string(rows) + "x" + std::to_string(cols) +
                                ": the input dimension must be a positive multiple of 32");
  Q8_0Matrix m;
  m.rows_ = rows, m.cols_ = cols;
  const int64_t per_row = m.blocks_per_row();
  m.scale_bytes_ = (per_row * kTileRows * 2 + 63) / 64 * 64;
  m.tile_bytes_ = m.scale_bytes_ + per_row * kBlockBytes;
  const size_t total = static_cast<size_t>(m.tiles() * m.tile_bytes_);
  m.data_ = allocate_aligned(total);
  std::memset(m.data_.get(), 0, total);
  for (int64_t tile = 0; tile < m.tiles(); ++tile) {  // padding rows: d = 0, q = 0 (stored 128)
    uint8_t* quants = m.data_.get() + tile * m.tile_bytes_ + m.scale_bytes_;
    std::memset(quants, 128, static_cast<size_t>(per_row * kBlockBytes));
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t tile = r / kTileRows;
    auto* scales = reinterpret_cast<uint16_t*>(m.data_.get() + tile * m.tile_bytes_);
    uint8_t* quants = m.data_.get() + tile * m.tile_bytes_ + m.scale_bytes_;
    for (int64_t b = 0; b < per_row; ++b) {
      const BlockQ8_0& block = blocks[r * per_row + b];
      scales[b * kTileRows + r % kTileRows] = block.d;
      for (int64_t i = 0; i < kQ8Block; ++i)
        quants[quant_offset(r, b, i)] = static_cast<uint8_t>(static_cast<uint8_t>(block.qs[i]) ^ 0x80);
    }
  }
  return m;
}

BlockQ8_0 Q8_0Matrix::block(int64_t row, int64_t b) const {
  const int64_t tile = row / kTileRows;
  BlockQ8_0 block;
  block.d = scales(tile)[b * kTileRows + row % kTileRows];
  for (int64_t i = 0; i < kQ8Block; ++i)
    block.qs[i] = static_cast<int8_t>(quants(tile)[quant_offset(row, b, i)] ^ 0x80);
  return block;
}

Q8_0Matrix Q8_0Matrix::clone() const {
  Q8_0Matrix m;
  m.rows_ = rows_, m.cols_ = cols_, m.scale_bytes_ = scale_bytes_, m.tile_bytes_ = tile_bytes_;
  const size_t total = static_cast<size_t>(tiles() * tile_bytes_);
  m.data_ = allocate_aligned(total);
  std::memcpy(m.data_.get(), data_.get(), total);
  return m;
}

}  // namespace ternary::kernels
