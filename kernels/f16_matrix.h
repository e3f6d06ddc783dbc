// An F16 matrix (rows x cols, row-major in the file) repacked once at load time for the GEMV, in
// tiles of 16 rows: per tile, for each column k, the 16 rows' fp16 values (32 bytes). One
// vcvtph2ps of them then meets x[k] broadcast in one FMA for 16 rows, with no horizontal sums
// (the row layout needed a 64-lane reduction per row and read at ~0.47 of the read bandwidth).
// Rows past the end fill the last tile as zeros and their outputs are never written.
#pragma once

#include <cstdint>

#include "kernels/aligned_bytes.h"

namespace ternary::kernels {

class F16Matrix {
 public:
  static constexpr int64_t kTileRows = 16;

  F16Matrix() = default;
  // Throws std::invalid_argument unless rows > 0 and cols > 0.
  static F16Matrix from_rows(const uint16_t* values, int64_t rows, int64_t cols);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t tiles() const { return (rows_ + kTileRows - 1) / kTileRows; }
  const uint16_t* tile(int64_t t) const {  // (cols, 16) fp16
    return reinterpret_cast<const uint16_t*>(data_.get()) + t * cols_ * kTileRows;
  }
  uint16_t at(int64_t row, int64_t col) const { return tile(row / kTileRows)[col * kTileRows + row % kTileRows]; }
  int64_t bytes() const { return rows_ * cols_ * 2; }  // what a GEMV streams
  F16Matrix clone() const;                             // a deep copy (benchmarks rotate copies past the cache)

 private:
  size_t storage_bytes() const { return static_cast<size_t>(tiles() * kTileRows * cols_ * 2); }  // padded tiles
  int64_t rows_ = 0, cols_ = 0;
  AlignedBytes data_;
};

}  // namespace ternary::kernels
