// A ternary weight matrix in the kernels' layout: each row is cols/256 blocks of 64 bytes, the
// TQ2_0 `qs` bytes (codes trit + 1, TQ2_0 bit order) without the per-block d, rows contiguous and
// 64-byte aligned; plus one float scale per row. Built at load time from TQ2_0 blocks (a copy) or
// TQ1_0 blocks (unpacked and repacked), so one GEMV kernel serves both file formats.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/aligned_bytes.h"
#include "kernels/ternary_blocks.h"

namespace ternary::kernels {

// The widest input the kernels accumulate exactly in int32 (the AVX-512 decode tile's bound).
constexpr int64_t kMaxTernaryCols = int64_t{1} << 22;

class TernaryMatrix {
 public:
  TernaryMatrix() = default;
  // (rows, cols) trits, row-major; cols a multiple of 256. row_scales: rows values, or 1 = per tensor.
  static TernaryMatrix from_trits(const int8_t* trits, int64_t rows, int64_t cols, const std::vector<float>& row_scales);
  // From a GGUF tensor's blocks (rows * cols / 256 of them). The scale of each row is taken from
  // `row_scales` when given (exact fp32 values), else from the blocks' fp16 d (must agree within a row).
  static TernaryMatrix from_tq2_0(const BlockTQ2_0* blocks, int64_t rows, int64_t cols, std::vector<float> row_scales = {});
  static TernaryMatrix from_tq1_0(const BlockTQ1_0* blocks, int64_t rows, int64_t cols, std::vector<float> row_scales = {});

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t row_bytes() const { return cols_ / 4; }
  const uint8_t* row(int64_t r) const { return codes_.get() + r * row_bytes(); }
  float scale(int64_t r) const { return scales_[static_cast<size_t>(r)]; }
  const float* scales() const { return scales_.data(); }  // rows values
  int64_t bytes() const { return rows_ * row_bytes(); }  // packed weight bytes a GEMV streams
  void unpack_row(int64_t r, int8_t* trits) const;      // for tests and the reference path
  TernaryMatrix clone() const;                          // a deep copy (benchmarks rotate copies past the cache)
  // The parts' rows one after another (same cols): linears that read one input run as one GEMV.
  static TernaryMatrix stack_rows(const std::vector<const TernaryMatrix*>& parts);

 private:
  void allocate(int64_t rows, int64_t cols);
  int64_t rows_ = 0, cols_ = 0;
  AlignedBytes codes_;
  std::vector<float> scales_;
};

}  // namespace ternary::kernels
