#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ternary_blocks.h"
#include "kernels/ternary_gemv.h"
#include "kernels/ternary_matrix.h"

namespace ternary::kernels {
namespace {

std::vector<int8_t> random_trits(int64_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-1, 1);
  std::vector<int8_t> t(static_cast<size_t>(n));
  for (auto& v : t) v = static_cast<int8_t>(d(rng));
  return t;
}

// ggml's dequantize_row_tq1_0 / tq2_0 formulas, written out independently of our unpackers.
float ggml_tq2_0_weight(const BlockTQ2_0& b, int i) {
  const int j = i / 128, l = (i % 128) / 32, m = i % 32;
  return static_cast<float>(((b.qs[32 * j + m] >> (2 * l)) & 3) - 1) * fp16_to_fp32(b.d);
}
float ggml_tq1_0_weight(const BlockTQ1_0& b, int i) {
  static const uint8_t pow3[6] = {1, 3, 9, 27, 81, 243};
  uint8_t byte;
  int n;
  if (i < 160) byte = b.qs[i % 32], n = i / 32;
  else if (i < 240) byte = b.qs[32 + (i - 160) % 16], n = (i - 160) / 16;
  else byte = b.qh[(i - 240) % 4], n = (i - 240) / 4;
  const uint8_t q = static_cast<uint8_t>(byte * pow3[n]);
  return static_cast<float>(((static_cast<uint16_t>(q) * 3) >> 8) - 1) * fp16_to_fp32(b.d);
}

}  // namespace

TEST(TernaryBlocks, Fp16ConversionRoundsToNearestEven) {
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(1e6f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(5.9604645e-8f), 0x0001);           // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(1.0f + 1.0f / 2048), 0x3c00);      // tie -> even
  EXPECT_EQ(fp32_to_fp16(1.0f + 3.0f / 2048), 0x3c02);      // tie -> even (up)
  for (uint32_t h = 0; h < 0x7c00; ++h) EXPECT_EQ(fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h))), h) << h;
}

TEST(TernaryBlocks, PackingRoundTripsAndMatchesGgmlDequantization) {
  std::mt19937 rng(1);
  const auto trits = random_trits(1024, rng);
  std::vector<BlockTQ2_0> tq2(4);
  std::vector<BlockTQ1_0> tq1(4);
  pack_tq2_0(trits.data(), 1024, 0.5f, tq2.data());
  pack_tq1_0(trits.data(), 1024, 0.5f, tq1.data());
  std::vector<int8_t> back2(1024), back1(1024);
  unpack_tq2_0(tq2.data(), 1024, back2.data());
  unpack_tq1_0(tq1.data(), 1024, back1.data());
  EXPECT_EQ(back2, trits);
  EXPECT_EQ(back1, trits);
  for (int i = 0; i < 1024; ++i) {
    EXPECT_EQ(ggml_tq2_0_weight(tq2[i / 256], i % 256), 0.5f * trits[i]) << i;
    EXPECT_EQ(ggml_tq1_0_weight(tq1[i / 256], i % 256), 0.5f * trits[i]) << i;
  }
  EXPECT_THROW(pack_tq2_0(trits.data(), 100, 1.0f, tq2.data()), std::invalid_argument);
  std::vector<int8_t> bad(256, 2);
  EXPECT_THROW(pack_tq1_0(bad.data(), 256, 1.0f, tq1.data()), std::invalid_argument);
}

TEST(TernaryMatrix, BothFileFormatsGiveTheSameKernelLayout) {
  std::mt19937 rng(2);
  const int64_t rows = 5, cols = 512;
  const auto trits = random_trits(rows * cols, rng);
  std::vector<BlockTQ2_0> tq2(rows * cols / 256);
  std::vector<BlockTQ1_0> tq1(rows * cols / 256);
  for (int64_t r = 0; r < rows; ++r) {
    pack_tq2_0(trits.data() + r * cols, cols, 0.25f * (r + 1), tq2.data() + r * 2);
    pack_tq1_0(trits.data() + r * cols, cols, 0.25f * (r + 1), tq1.data() + r * 2);
  }
  const auto a = TernaryMatrix::from_tq2_0(tq2.data(), rows, cols);
  const auto b = TernaryMatrix::from_tq1_0(tq1.data(), rows, cols);
  std::vector<int8_t> row_a(cols), row_b(cols);
  for (int64_t r = 0; r < rows; ++r) {
    a.unpack_row(r, row_a.data());
    b.unpack_row(r, row_b.data());
    EXPECT_EQ(row_a, std::vector<int8_t>(trits.begin() + r * cols, trits.begin() + (r + 1) * cols));
    EXPECT_EQ(row_b, row_a);
    EXPECT_EQ(a.scale(r), 0.25f * (r + 1));
    EXPECT_EQ(b.scale(r), a.scale(r));
  }
  // Exact fp32 scales override the fp16 d.
  EXPECT_EQ(TernaryMatrix::from_tq2_0(tq2.data(), rows, cols, {0.1f}).scale(3), 0.1f);
  EXPECT_THROW(TernaryMatrix::from_tq2_0(tq2.data(), 1, 1024), std::invalid_argument);  // mixed d in a row
  EXPECT_THROW(TernaryMatrix::from_trits(trits.data(), 2, 100, {1.0f}), std::invalid_argument);
}

// q, k and v (or gate and up) run as one GEMV over their stacked rows: the same outputs, bit for bit.
TEST(TernaryMatrix, StackedRowsGiveEachPartsOutputsExactly) {
  std::mt19937 rng(4);
  const int64_t cols = 512;
  const int64_t part_rows[] = {9, 4, 6};  // row tails inside and at the end of the stack
  std::vector<TernaryMatrix> parts;
  for (int64_t i = 0; i < 3; ++i) {
    const auto trits = random_trits(part_rows[i] * cols, rng);
    std::vector<float> scales;
    for (int64_t r = 0; r < part_rows[i]; ++r) scales.push_back(0.01f * static_cast<float>(i * 10 + r + 1));
    parts.push_back(TernaryMatrix::from_trits(trits.data(), part_rows[i], cols, scales));
  }
  const TernaryMatrix stacked = TernaryMatrix::stack_rows({&parts[0], &parts[1], &parts[2]});
  ASSERT_EQ(stacked.rows(), 19);
  std::normal_distribution<float> normal;
  std::vector<float> x(cols);
  for (float& v : x) v = normal(rng);
  QuantizedActivations a;
  quantize_activations(x.data(), cols, 1e-5f, a);
  for (KernelTier tier : {KernelTier::kReference, KernelTier::kAvx2, KernelTier::kAvx512Vnni, KernelTier::kAvx512Amx}) {
    if (!cpu_supports(tier)) continue;
    std::vector<float> whole(19), expected;
    ternary_gemv(stacked, a, whole.data(), tier);
    for (const TernaryMatrix& p : parts) {
      std::vector<float> y(static_cast<size_t>(p.rows()));
      ternary_gemv(p, a, y.data(), tier);
      expected.insert(expected.end(), y.begin(), y.end());
    }
    EXPECT_EQ(whole, expected) << to_string(tier);
  }
  std::vector<int8_t> trits(256 * 2);
  const TernaryMatrix narrow = TernaryMatrix::from_trits(trits.data(), 2, 256, {1.0f});
  EXPECT_THROW(TernaryMatrix::stack_rows({&parts[0], &narrow}), std::invalid_argument);
}

TEST(ActivationQuantization, MatchesTheTrainingQuantizerFormula) {
  const std::vector<float> x = {0.5f, -1.27f, 0.0f, 0.005f, 0.015f};
  QuantizedActivations a;
  quantize_activations(x.data(), 5, 1e-5f, a);
  EXPECT_EQ(a.scale, 1.27f / 127.0f);
  EXPECT_EQ(a.q, (std::vector<int8_t>{50, -127, 0, 0, 2}));  // 0.5 -> 50; 0.015/0.01 = 1.5 -> 2 (half to even)
  EXPECT_EQ(a.sum, 50 - 127 + 2);
  const std::vector<float> zeros(4, 0.0f);
  quantize_activations(zeros.data(), 4, 1e-5f, a);
  EXPECT_EQ(a.scale, 1e-5f);
  EXPECT_EQ(a.q, std::vector<int8_t>(4, 0));
  // The floor is the caller's (a recipe's eps travels in the GGUF): small inputs stay under it.
  const std::vector<float> small = {0.05f, -0.02f};
  quantize_activations(small.data(), 2, 1e-3f, a);
  EXPECT_EQ(a.scale, 1e-3f);
  EXPECT_EQ(a.q, (std::vector<int8_t>{50, -20}));
  // Found by the GGUF fuzzer (UBSan: NaN cast to int8): non-finite inputs give NaN outputs.
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    const std::vector<float> poisoned = {0.5f, bad, -1.0f};
    quantize_activations(poisoned.data(), 3, 1e-5f, a);
    EXPECT_TRUE(std::isnan(a.scale));
    EXPECT_EQ(a.q, std::vector<int8_t>(3, 0));
  }
}

// The activation quantizer compiled for each ISA level gives the reference's codes, scale and sum,
// ties (x / scale exactly k + 0.5) and poisoned tokens included.
TEST(TernaryGemv, ActivationQuantizationIsTheSameAtEveryIsaLevel) {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (const int64_t k : {1, 15, 16, 17, 256, 2048, 5632}) {
    std::vector<float> x(static_cast<size_t>(k));
    for (float& v : x) v = normal(rng);
    x[0] = 127.0f;                                   // scale 1: the others below become exact ties
    for (int64_t i = 1; i < k; i += 3) x[i] = static_cast<float>(i % 50) - 24.5f;
    std::vector<std::vector<float>> inputs = {x};
    inputs.push_back(x), inputs.back()[k / 2] = std::numeric_limits<float>::quiet_NaN();
    inputs.push_back(x), inputs.back()[k - 1] = -std::numeric_limits<float>::infinity();
    for (const auto& input : inputs) {
      QuantizedActivations reference;
      {
        ScopedIsa isa(Isa::kReference);
        quantize_activations(input.data(), k, 1e-5f, reference);
      }
      for (Isa isa : {Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni, Isa::kAvx512Amx}) {
        if (!cpu_supports(isa)) continue;
        ScopedIsa scoped(isa);
        QuantizedActivations a;
        quantize_activations(input.data(), k, 1e-5f, a);
        EXPECT_EQ(a.q, reference.q) << to_string(isa) << " k " << k;
        EXPECT_EQ(a.sum, reference.sum);
        EXPECT_TRUE(a.scale == reference.scale || (std::isnan(a.scale) && std::isnan(reference.scale)));
      }
    }
  }
}

// Every tier the CPU has equals the reference bit for bit, on many shapes and batch sizes.
TEST(TernaryGemv, EveryTierIsBitIdenticalToTheReference) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const auto [rows, cols, batch] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 256, 1}, {7, 512, 1}, {33, 768, 3}, {64, 4096, 1}, {130, 1280, 8}, {3, 11008, 2}, {12, 512, 5}, {8, 256, 7},
           // AMX: whole chunks of 16 tokens, a last chunk of 1 and of 15, rows past the last group of 16
           {16, 256, 16}, {50, 512, 17}, {35, 768, 47}, {130, 1280, 64}}) {
    const auto trits = random_trits(rows * cols, rng);
    std::vector<float> scales(rows);
    for (auto& s : scales) s = std::fabs(normal(rng)) + 0.01f;
    const auto w = TernaryMatrix::from_trits(trits.data(), rows, cols, scales);
    std::vector<QuantizedActivations> acts(batch);
    for (auto& a : acts) {
      std::vector<float> x(cols);
      for (auto& v : x) v = normal(rng) * 3.0f;
      quantize_activations(x.data(), cols, 1e-5f, a);
    }
    // Plain definition: unpack, multiply, accumulate.
    std::vector<float> expected(batch * rows);
    std::vector<int8_t> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
      w.unpack_row(r, row.data());
      for (int64_t t = 0; t < batch; ++t) {
        int32_t isum = 0;
        for (int64_t k = 0; k < cols; ++k) isum += row[k] * acts[t].q[k];
        expected[t * rows + r] = static_cast<float>(isum) * acts[t].scale * scales[r];
      }
    }
    for (KernelTier tier : {KernelTier::kReference, KernelTier::kAvx2, KernelTier::kAvx512Vnni, KernelTier::kAvx512Amx}) {
      if (!cpu_supports(tier)) {
        std::printf("[  SKIP    ] %s: not supported by this CPU\n", to_string(tier));
        continue;
      }
      std::vector<float> y(batch * rows);
      ternary_gemm(w, acts.data(), batch, y.data(), tier);
      EXPECT_EQ(y, expected) << to_string(tier) << " " << rows << "x" << cols << " batch " << batch;
    }
  }
}

TEST(TernaryGemv, TierSelectionHonoursTheEnvironment) {
  ::setenv("TERNARY_KERNEL", "ref", 1);
  EXPECT_EQ(selected_tier(), KernelTier::kReference);
  ::setenv("TERNARY_KERNEL", "sse9", 1);
  EXPECT_THROW(selected_tier(), std::runtime_error);
  ::unsetenv("TERNARY_KERNEL");
  EXPECT_TRUE(cpu_supports(selected_tier()));
}

}  // namespace ternary::kernels
