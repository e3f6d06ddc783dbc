// A Q8_0 matrix (ggml blocks, rows x cols, cols / 32 blocks a row) repacked once at load time
// for the GEMV, in tiles of 16 rows. Per tile:
//   scales: for each block column b, the 16 rows' fp16 d (32 bytes), padded to whole cache lines;
//   quants: for each block column b, 8 groups of 64 bytes; group g holds bytes 4g..4g+3 of each
//           of the 16 rows' block, row after row, each stored as q + 128 (an unsigned byte).
// Why: one 64-byte load then feeds vpdpbusd (u8 x s8) with 16 rows x 4 weights against 4
// activation bytes broadcast, so a tile's 16 row dots build up in one register with no
// horizontal sums, and the 8.5 bits a weight of the file are all a GEMV reads. ggml's row layout
// needed shuffles and horizontal adds per block and streamed at half the read bandwidth.
// Rows past the end fill the last tile as zeros (d = 0), and their outputs are never written.
#pragma once

#include <cstdint>

#include "kernels/aligned_bytes.h"
#include "kernels/q8_0_blocks.h"

namespace ternary::kernels {

class Q8_0Matrix {
 public:
  static constexpr int64_t kTileRows = 16;
  static constexpr int64_t kGroupBytes = 64;                          // 16 rows x 4 weights
  static constexpr int64_t kBlockBytes = kQ8Block / 4 * kGroupBytes;  // one block column of a tile: 512

  Q8_0Matrix() = default;
  // Throws std::invalid_argument unless rows > 0 and cols is a positive multiple of 32.
  static Q8_0Matrix from_blocks(const BlockQ8_0* blocks, int64_t rows, int64_t cols);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t blocks_per_row() const { return cols_ / kQ8Block; }
  int64_t tiles() const { return (rows_ + kTileRows - 1) / kTileRows; }
  const uint16_t* scales(int64_t tile) const {  // (blocks_per_row, 16) fp16
    return reinterpret_cast<const uint16_t*>(data_.get() + tile * tile_bytes_);
  }
  const uint8_t* quants(int64_t tile) const {  // (blocks_per_row, 8 groups, 16 rows, 4) of q + 128
    return data_.get() + tile * tile_bytes_ + scale_bytes_;
  }
  BlockQ8_0 block(int64_t row, int64_t b) const;  // a block as the file held it (tests, the reference)
  int64_t bytes() const { return rows_ * blocks_per_row() * static_cast<int64_t>(sizeof(BlockQ8_0)); }
  Q8_0Matrix clone() const;  // a deep copy (benchmarks rotate copies past the cache)

 private:
  int64_t rows_ = 0, cols_ = 0, scale_bytes_ = 0, tile_bytes_ = 0;
  AlignedBytes data_;
};

}  // namespace ternary::kernels
