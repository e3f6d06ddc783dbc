#include "kernels/f16_matrix.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace ternary::kernels {

F16Matrix F16Matrix::from_rows(const uint16_t* values, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0)
    throw std::invalid_argument("F16 matrix " + std::to_string(rows) + "x" + std::to_string(cols) + ": empty");
  F16Matrix m;
  m.rows_ = rows, m.cols_ = cols;
  m.data_ = allocate_aligned(m.storage_bytes());
  std::memset(m.data_.get(), 0, m.storage_bytes());
  auto* out = reinterpret_cast<uint16_t*>(m.data_.get());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k)
      out[(r / kTileRows) * cols * kTileRows + k * kTileRows + r % kTileRows] = values[r * cols + k];
  return m;
}

F16Matrix F16Matrix::clone() const {
  F16Matrix m;
  m.rows_ = rows_, m.cols_ = cols_;
  m.data_ = allocate_aligned(storage_bytes());
  std::memcpy(m.data_.get(), data_.get(), storage_bytes());
  return m;
}

}  // namespace ternary::kernels
