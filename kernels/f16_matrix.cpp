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
  const size_t total = static_cast<size_t>(m.tiles() * kTileRows * cols * 2);
  m.data_ = allocate_aligned(total);
  std::memset(m.data_.get(), 0, total);
  auto* out = reinterpret_cast<uint16_t*>(m.data_.get());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k)
      out[(r / kTileRows) * cols * kTileRows + k * kTileRows + r % kTileRows] = values[r * cols + k];
  return m;
}

F16Matrix F16Matrix::clone() const {
  F16Matrix m;
  m.rows_ = rows_, m.cols_ = cols_;
  const size_t total = static_cast<size_t>(tiles() * kTileRows * cols_ * 2);
  m.data_ = allocate_aligned(total);
  std::memcpy(m.data_.get(), data_.get(), total);
  return m;
}

}  // namespace ternary::kernels
