#include "kernels/ternary_matrix.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ternary::kernels {
namespace {

void check_shape(int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0 || cols % kTernaryBlock != 0 || cols > kMaxTernaryCols)
    throw std::invalid_argument("ternary matrix " + std::to_string(rows) + "x" + std::to_string(cols) +
                                ": the input dimension must be a positive multiple of 256, at most " +
                                std::to_string(kMaxTernaryCols));
}

// Row scales from the blocks' d when the caller has no exact ones; a row must not mix scales.
template <typename Block>
std::vector<float> scales_from_blocks(const Block* blocks, int64_t rows, int64_t cols) {
  std::vector<float> scales(static_cast<size_t>(rows));
  const int64_t per_row = cols / kTernaryBlock;
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t d = blocks[r * per_row].d;
    for (int64_t b = 1; b < per_row; ++b)
      if (blocks[r * per_row + b].d != d)
        throw std::invalid_argument("row " + std::to_string(r) +
                                    " has different block scales; the kernels need one scale per row");
    scales[static_cast<size_t>(r)] = fp16_to_fp32(d);
  }
  return scales;
}

}  // namespace

void TernaryMatrix::allocate(int64_t rows, int64_t cols) {
  check_shape(rows, cols);
  rows_ = rows, cols_ = cols;
  codes_ = allocate_aligned(static_cast<size_t>(rows * cols / 4));
}

TernaryMatrix TernaryMatrix::from_trits(const int8_t* trits, int64_t rows, int64_t cols,
                                        const std::vector<float>& row_scales) {
  TernaryMatrix m;
  m.allocate(rows, cols);
  if (row_scales.size() != 1 && static_cast<int64_t>(row_scales.size()) != rows)
    throw std::invalid_argument("ternary matrix: " + std::to_string(row_scales.size()) + " scales for " +
                                std::to_string(rows) + " rows (give one per row, or one)");
  m.scales_ = row_scales.size() == 1 ? std::vector<float>(static_cast<size_t>(rows), row_scales[0]) : row_scales;
  BlockTQ2_0 block;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < cols / kTernaryBlock; ++b) {
      pack_tq2_0(trits + r * cols + b * kTernaryBlock, kTernaryBlock, 1.0f, &block);
      std::memcpy(m.codes_.get() + r * m.row_bytes() + b * 64, block.qs, 64);
    }
  return m;
}

TernaryMatrix TernaryMatrix::from_tq2_0(const BlockTQ2_0* blocks, int64_t rows, int64_t cols,
                                        std::vector<float> row_scales) {
  check_shape(rows, cols);
  if (row_scales.empty()) row_scales = scales_from_blocks(blocks, rows, cols);
  TernaryMatrix m;
  m.allocate(rows, cols);
  m.scales_ = row_scales.size() == 1 ? std::vector<float>(static_cast<size_t>(rows), row_scales[0]) : row_scales;
  const int64_t n_blocks = rows * cols / kTernaryBlock;
  for (int64_t b = 0; b < n_blocks; ++b) std::memcpy(m.codes_.get() + b * 64, blocks[b].qs, 64);
  return m;
}

TernaryMatrix TernaryMatrix::from_tq1_0(const BlockTQ1_0* blocks, int64_t rows, int64_t cols,
                                        std::vector<float> row_scales) {
  check_shape(rows, cols);
  if (row_scales.empty()) row_scales = scales_from_blocks(blocks, rows, cols);
  std::vector<int8_t> trits(static_cast<size_t>(cols));
  TernaryMatrix m;
  m.allocate(rows, cols);
  m.scales_ = row_scales.size() == 1 ? std::vector<float>(static_cast<size_t>(rows), row_scales[0]) : row_scales;
  BlockTQ2_0 block;
  for (int64_t r = 0; r < rows; ++r) {
    unpack_tq1_0(blocks + r * (cols / kTernaryBlock), cols, trits.data());
    for (int64_t b = 0; b < cols / kTernaryBlock; ++b) {
      pack_tq2_0(trits.data() + b * kTernaryBlock, kTernaryBlock, 1.0f, &block);
      std::memcpy(m.codes_.get() + r * m.row_bytes() + b * 64, block.qs, 64);
    }
  }
  return m;
}

TernaryMatrix TernaryMatrix::clone() const {
  TernaryMatrix m;
  m.allocate(rows_, cols_);
  std::memcpy(m.codes_.get(), codes_.get(), static_cast<size_t>(bytes()));
  m.scales_ = scales_;
  return m;
}

TernaryMatrix TernaryMatrix::stack_rows(const std::vector<const TernaryMatrix*>& parts) {
  if (parts.empty()) throw std::invalid_argument("stack_rows: no matrices");
  int64_t rows = 0;
  for (const TernaryMatrix* p : parts) {
    if (p->cols() != parts[0]->cols())
      throw std::invalid_argument("stack_rows: matrices of " + std::to_string(parts[0]->cols()) + " and " +
                                  std::to_string(p->cols()) + " columns");
    rows += p->rows();
  }
  TernaryMatrix m;
  m.allocate(rows, parts[0]->cols());
  uint8_t* out = m.codes_.get();
  for (const TernaryMatrix* p : parts) {
    std::memcpy(out, p->codes_.get(), static_cast<size_t>(p->bytes()));
    out += p->bytes();
    m.scales_.insert(m.scales_.end(), p->scales_.begin(), p->scales_.end());
  }
  return m;
}

void TernaryMatrix::unpack_row(int64_t r, int8_t* trits) const {
  BlockTQ2_0 block{};
  for (int64_t b = 0; b < cols_ / kTernaryBlock; ++b) {
    std::memcpy(block.qs, row(r) + b * 64, 64);
    unpack_tq2_0(&block, kTernaryBlock, trits + b * kTernaryBlock);
  }
}

}  // namespace ternary::kernels
