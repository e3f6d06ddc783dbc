// The F16 and Q8_0 kernels of the full-precision matrices: ggml's Q8_0 bit for bit (golden data
// from the gguf package), every SIMD tier equal to the reference bit for bit, and the reference
// within its stated tolerance of the exact float answer.
#include "kernels/dense_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "kernels/fp16.h"

namespace ternary::kernels {
namespace {

std::vector<float> normal(int64_t n, std::mt19937& rng, float scale = 1) {
  std::normal_distribution<float> d(0, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

TEST(Q8_0, QuantizesAsGgufDoesBitForBit) {
  std::ifstream in(std::string(TERNARY_SOURCE_DIR) + "/tests/golden/q8_0_blocks.bin", std::ios::binary);
  ASSERT_TRUE(in) << "tests/golden/q8_0_blocks.bin is missing (tests/golden/q8_0_blocks.py)";
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint32_t n;
  std::memcpy(&n, bytes.data(), 4);
  ASSERT_EQ(bytes.size(), 4 + n * 4 + n / 32 * 34);
  std::vector<float> x(n);
  std::memcpy(x.data(), bytes.data() + 4, n * 4);
  std::vector<BlockQ8_0> ours(n / 32);
  quantize_q8_0(x.data(), n, ours.data());
  EXPECT_EQ(std::memcmp(ours.data(), bytes.data() + 4 + n * 4, ours.size() * sizeof(BlockQ8_0)), 0);
  for (size_t b = 0; b < ours.size(); ++b)
    ASSERT_EQ(std::memcmp(&ours[b], bytes.data() + 4 + n * 4 + b * 34, 34), 0) << "block " << b;
  // Halves round away from zero (block 1 has d = 1: 0.5 -> 1, -0.5 -> -1, 2.5 -> 3).
  EXPECT_EQ(ours[1].qs[1 + 15], 1);
  EXPECT_EQ(ours[1].qs[1 + 14], -1);
  EXPECT_EQ(ours[1].qs[1 + 17], 3);
}

TEST(Q8_0, NonFiniteBlocksGiveNanNotGarbage) {
  std::vector<float> x(64, 1.0f);
  x[3] = NAN;
  x[40] = INFINITY;
  std::vector<BlockQ8_0> blocks(2);
  quantize_q8_0(x.data(), 64, blocks.data());
  std::vector<float> back(64);
  dequantize_q8_0(blocks.data(), 64, back.data());
  for (float v : back) EXPECT_TRUE(std::isnan(v));
  EXPECT_THROW(quantize_q8_0(x.data(), 33, blocks.data()), std::invalid_argument);
  // Tiny values: 1 / d overflows to inf; the codes stay in range (0 for the zeros), d rounds to 0.
  std::vector<float> tiny(32, 0.0f);
  tiny[0] = 1e-38f, tiny[1] = -5e-39f;
  quantize_q8_0(tiny.data(), 32, blocks.data());
  EXPECT_EQ(blocks[0].d, 0);
  EXPECT_EQ(blocks[0].qs[0], 127);
  EXPECT_EQ(blocks[0].qs[1], -128);
  EXPECT_EQ(blocks[0].qs[2], 0);
}

struct Shapes {
  int64_t rows, cols, batch;
};
// Column counts with and without tails (cols % 8), row counts with and without a partial tile.
const Shapes kShapes[] = {{1, 32, 1}, {7, 64, 2}, {33, 288, 3}, {64, 512, 1}, {5, 2048 + 96, 2}, {50, 2048, 5}};
const Shapes kF16Shapes[] = {{1, 3, 1}, {7, 13, 2}, {17, 100, 3}, {5, 2048 + 96, 2}, {50, 2048, 5}};

TEST(F16Gemm, EveryTierEqualsTheReferenceBitForBit) {
  std::mt19937 rng(7);
  for (const Shapes& s : kF16Shapes) {
    const std::vector<float> wf = normal(s.rows * s.cols, rng, 0.05f), x = normal(s.batch * s.cols, rng);
    std::vector<uint16_t> w(wf.size());
    for (size_t i = 0; i < w.size(); ++i) w[i] = fp32_to_fp16(wf[i]);
    // The contract, in plain code over the rows as the file holds them; every tier runs the tiles.
    const F16Matrix packed = F16Matrix::from_rows(w.data(), s.rows, s.cols);
    std::vector<float> reference(static_cast<size_t>(s.rows * s.batch));
    for (int64_t t = 0; t < s.batch; ++t)
      for (int64_t r = 0; r < s.rows; ++r)
        reference[t * s.rows + r] = f16_dot_reference(w.data() + r * s.cols, x.data() + t * s.cols, s.cols);
    // The reference is the float answer within the FMA chains' rounding bound: each of the 8
    // partial sums adds ceil(cols / 8) products, then 3 more additions (gamma_n = n * 2^-24).
    const double bound = (static_cast<double>((s.cols + 7) / 8) + 3) * 0x1.0p-24;
    for (int64_t t = 0; t < s.batch; ++t)
      for (int64_t r = 0; r < s.rows; ++r) {
        double exact = 0, magnitude = 0;
        for (int64_t k = 0; k < s.cols; ++k) {
          const double p = double{fp16_to_fp32(w[r * s.cols + k])} * x[t * s.cols + k];
          exact += p, magnitude += std::fabs(p);
        }
        EXPECT_NEAR(reference[t * s.rows + r], exact, bound * magnitude + 1e-30);
      }
    for (Isa isa : {Isa::kReference, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni}) {
      if (!cpu_supports(isa)) {
        std::cout << "[ SKIPPED  ] " << to_string(isa) << " (not on this CPU)\n";
        continue;
      }
      ScopedIsa scoped(isa);
      std::vector<float> y(reference.size());
      f16_gemm(packed, x.data(), s.batch, y.data());
      EXPECT_EQ(std::memcmp(y.data(), reference.data(), y.size() * 4), 0) << to_string(isa) << " cols " << s.cols;
    }
    for (int64_t r = 0; r < s.rows; ++r)  // the repacking keeps every value
      for (int64_t k = 0; k < s.cols; ++k) ASSERT_EQ(packed.at(r, k), w[r * s.cols + k]);
  }
  EXPECT_THROW(F16Matrix::from_rows(nullptr, 0, 8), std::invalid_argument);
}

TEST(Q8_0Gemm, EveryTierEqualsTheReferenceBitForBit) {
  std::mt19937 rng(11);
  for (const Shapes& s : kShapes) {
    const std::vector<float> wf = normal(s.rows * s.cols, rng, 0.05f), x = normal(s.batch * s.cols, rng);
    std::vector<BlockQ8_0> w(wf.size() / 32);
    quantize_q8_0(wf.data(), static_cast<int64_t>(wf.size()), w.data());
    w[0].qs[0] = -128;  // not what ggml writes, but a file may hold it: the SIMD sign trick must agree
    std::vector<Q8Activations> acts(static_cast<size_t>(s.batch));
    for (int64_t t = 0; t < s.batch; ++t) q8_0_activations(x.data() + t * s.cols, s.cols, acts[t]);
    // The contract, in plain code over the file's blocks; every tier runs the repacked matrix.
    const Q8_0Matrix packed = Q8_0Matrix::from_blocks(w.data(), s.rows, s.cols);
    std::vector<float> reference(static_cast<size_t>(s.rows * s.batch));
    for (int64_t t = 0; t < s.batch; ++t)
      for (int64_t r = 0; r < s.rows; ++r)
        reference[t * s.rows + r] = q8_0_dot_reference(w.data() + r * s.cols / 32, acts[t], s.cols / 32);
    // Against the float answer with the unrounded w and x: each is rounded to 8 bits per block
    // (relative error up to 1/254 of its block's absmax), so the bound is on sum |w| |x|.
    std::vector<float> wq(wf.size());
    dequantize_q8_0(w.data(), static_cast<int64_t>(wf.size()), wq.data());
    for (int64_t t = 0; t < s.batch; ++t)
      for (int64_t r = 0; r < s.rows; ++r) {
        double exact = 0, magnitude = 0;
        for (int64_t k = 0; k < s.cols; ++k) {
          exact += double{wq[r * s.cols + k]} * x[t * s.cols + k];
          magnitude += std::fabs(double{wq[r * s.cols + k]} * x[t * s.cols + k]);
        }
        EXPECT_NEAR(reference[t * s.rows + r], exact, 0.02 * magnitude) << r;
      }
    for (Isa isa : {Isa::kReference, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni}) {
      if (!cpu_supports(isa)) {
        std::cout << "[ SKIPPED  ] " << to_string(isa) << " (not on this CPU)\n";
        continue;
      }
      ScopedIsa scoped(isa);
      std::vector<float> y(reference.size());
      q8_0_gemm(packed, acts.data(), s.batch, y.data());
      EXPECT_EQ(std::memcmp(y.data(), reference.data(), y.size() * 4), 0) << to_string(isa) << " cols " << s.cols;
    }
  }
}

TEST(Q8_0Gemm, NanActivationsGiveNanAndShapesAreChecked) {
  std::mt19937 rng(3);
  const std::vector<float> wf = normal(4 * 64, rng);
  std::vector<BlockQ8_0> w(wf.size() / 32);
  quantize_q8_0(wf.data(), 256, w.data());
  std::vector<float> x(64, 0.5f);
  x[5] = NAN;
  Q8Activations a;
  q8_0_activations(x.data(), 64, a);
  std::vector<float> y(4);
  q8_0_gemm(Q8_0Matrix::from_blocks(w.data(), 4, 64), &a, 1, y.data());
  for (float v : y) EXPECT_TRUE(std::isnan(v));
  EXPECT_THROW(q8_0_gemm(Q8_0Matrix::from_blocks(w.data(), 2, 128), &a, 1, y.data()), std::invalid_argument);
  EXPECT_THROW(Q8_0Matrix::from_blocks(w.data(), 2, 48), std::invalid_argument);
  EXPECT_THROW(Q8_0Matrix::from_blocks(w.data(), 0, 64), std::invalid_argument);
}

TEST(Q8_0Matrix, RepackingKeepsEveryBlockAndPadsTheLastTile) {
  std::mt19937 rng(5);
  const int64_t rows = 37, cols = 96;  // three tiles, the last with 5 rows
  const std::vector<float> wf = normal(rows * cols, rng);
  std::vector<BlockQ8_0> w(wf.size() / 32);
  quantize_q8_0(wf.data(), rows * cols, w.data());
  w[7].qs[3] = -128;
  const Q8_0Matrix m = Q8_0Matrix::from_blocks(w.data(), rows, cols);
  EXPECT_EQ(m.tiles(), 3);
  EXPECT_EQ(m.bytes(), rows * 3 * 34);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < 3; ++b) {
      const BlockQ8_0 back = m.block(r, b);
      ASSERT_EQ(std::memcmp(&back, &w[r * 3 + b], sizeof(BlockQ8_0)), 0) << "row " << r << " block " << b;
    }
  for (int64_t r = rows; r < 48; ++r) {  // padding: d = 0 and q = 0
    const BlockQ8_0 pad = m.block(r, 1);
    EXPECT_EQ(pad.d, 0);
    for (int8_t q : pad.qs) EXPECT_EQ(q, 0);
  }
}

}  // namespace
}  // namespace ternary::kernels
