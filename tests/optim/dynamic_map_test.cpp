// The dynamic maps and blockwise quantization against bitsandbytes, and the fast nearest-code
// lookup against its references.
#include "kernels/dynamic_map.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "golden_data.h"
#include "kernels/blockwise_update.h"
#include "optimizer_test_util.h"

namespace ternary {
using namespace kernels;
namespace {

at::Tensor map_tensor(bool is_signed) {
  const auto map = create_dynamic_map(is_signed);
  return at::tensor(std::vector<float>(map.begin(), map.end()));
}

using testing::brute_force_nearest;

std::vector<float> probe_values() {
  std::vector<float> xs;
  const at::Tensor uniform = at::rand({200000}) * 2 - 1;
  const at::Tensor tiny = at::randn({50000}) * 1e-5;
  for (const auto& t : {uniform, tiny})
    for (int64_t i = 0; i < t.numel(); ++i) xs.push_back(t[i].item<float>());
  for (bool is_signed : {true, false}) {  // every code value, every midpoint and their neighbours
    const auto map = create_dynamic_map(is_signed);
    for (int c = 0; c < 256; ++c) {
      xs.push_back(map[c]);
      if (c < 255) {
        const float mid = (map[c] + map[c + 1]) / 2;
        xs.insert(xs.end(), {mid, std::nextafter(mid, -2.0f), std::nextafter(mid, 2.0f)});
      }
    }
  }
  xs.insert(xs.end(), {0.0f, -0.0f, 1.0f, -1.0f, 1e-30f, -1e-30f});
  return xs;
}

}  // namespace

TEST(DynamicMap, EqualsBitsandbytesBitForBit) {
  const testing::GoldenArrays golden("bitsandbytes_optim");
  EXPECT_TRUE(at::equal(map_tensor(true), golden["map_signed"]));
  EXPECT_TRUE(at::equal(map_tensor(false), golden["map_unsigned"]));
}

TEST(DynamicMap, ShapeAndSums) {
  const auto s = create_dynamic_map(true), u = create_dynamic_map(false);
  EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
  EXPECT_TRUE(std::is_sorted(u.begin(), u.end()));
  EXPECT_EQ(s.back(), 1.0f);
  EXPECT_GT(s.front(), -1.0f);  // the signed map has no -1
  EXPECT_EQ(u.front(), 0.0f);
  double signed_sum = 0, unsigned_sum = 0;
  for (int i = 0; i < 256; ++i) signed_sum += s[i], unsigned_sum += u[i];
  EXPECT_NEAR(signed_sum, 1.0, 1e-6);
  EXPECT_NEAR(unsigned_sum, 75.1052631, 1e-4);
}

TEST(DynamicCodebook, FastLookupEqualsBinarySearchEqualsBruteForce) {
  for (const DynamicCodebook* book : {&DynamicCodebook::signed_map(), &DynamicCodebook::unsigned_map()}) {
    int64_t checked = 0;
    for (float x : probe_values()) {
      const uint8_t reference = book->nearest_reference(x);
      ASSERT_EQ(book->nearest(x), reference) << "x=" << x;
      if (checked++ % 7 == 0) ASSERT_EQ(reference, brute_force_nearest(*book, x)) << "x=" << x;
    }
  }
}

TEST(DynamicCodebook, SignFixKeepsTheFirstMomentsSign) {
  const DynamicCodebook& book = DynamicCodebook::signed_map();
  for (float x : probe_values()) {
    if (x == 0.0f || std::fabs(x) > 1.0f) continue;
    const uint8_t code = nearest_signed_with_sign_fix(book, x, book.nearest(x));
    ASSERT_EQ(std::signbit(book.value(code)), std::signbit(x)) << "x=" << x;
    if (x < 0) ASSERT_NE(book.value(code), 0.0f) << "x=" << x;  // +0 would flip a negative moment
  }
  // a tiny negative moment would round to +0 and lose its direction; it moves one code down
  const uint8_t zero = book.zero_code();
  EXPECT_EQ(book.nearest(-1e-9f), zero);
  EXPECT_EQ(nearest_signed_with_sign_fix(book, -1e-9f, zero), zero - 1);
}

TEST(QuantizeBlockwise, MatchesBitsandbytesExceptDocumentedSignFixes) {
  const testing::GoldenArrays golden("bitsandbytes_optim");
  const at::Tensor x = golden["blockwise_input"];
  const int64_t n = x.numel();
  at::Tensor codes = at::empty({n}, at::kByte), absmax = at::empty({state_blocks(n)});
  quantize_blockwise(x.data_ptr<float>(), n, true, {codes.data_ptr<uint8_t>(), absmax.data_ptr<float>()});
  const at::Tensor expected_absmax = golden["blockwise_absmax"];
  // bitsandbytes' CPU quantizer divides 0 by 0 in an all-zero block; we define its scale as 0.
  EXPECT_TRUE(at::equal(absmax.slice(0, 0, 1), expected_absmax.slice(0, 0, 1)));
  EXPECT_EQ(absmax[1].item<float>(), 0.0f);
  EXPECT_TRUE(at::equal(absmax.slice(0, 2), expected_absmax.slice(0, 2)));
  const at::Tensor expected = golden["blockwise_codes"];
  auto x_at = [&](int64_t i) { return x[i].item<float>(); };
  const DynamicCodebook& book = DynamicCodebook::signed_map();
  int64_t differences = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (i >= 256 && i < 512) {
      EXPECT_EQ(codes[i].item<uint8_t>(), book.zero_code());
      continue;
    }
    const int ours = codes[i].item<uint8_t>(), theirs = expected[i].item<uint8_t>();
    if (ours == theirs) continue;
    // Where we differ, ours is the exact nearest code (with the sign fix): bitsandbytes' CPU
    // binary search is approximate, and its CPU backend omits the sign fix its CUDA kernels apply.
    ++differences;
    const float x = x_at(i) / absmax[i / 256].item<float>();
    const auto nearest = static_cast<uint8_t>(brute_force_nearest(book, x));
    ASSERT_EQ(ours, nearest_signed_with_sign_fix(book, x, nearest)) << "i=" << i;
    ASSERT_EQ(std::abs(ours - theirs), 1) << "i=" << i;
  }
  EXPECT_LT(differences, 10);
}

TEST(QuantizeBlockwise, RoundTripErrorIsSmallRelativeToTheBlock) {
  const int64_t n = 4096 + 77;
  const at::Tensor x = at::randn({n});
  at::Tensor codes = at::empty({n}, at::kByte), absmax = at::empty({state_blocks(n)}), back = at::empty({n});
  const QuantizedState state{codes.data_ptr<uint8_t>(), absmax.data_ptr<float>()};
  quantize_blockwise(x.data_ptr<float>(), n, true, state);
  dequantize_blockwise(state, n, true, back.data_ptr<float>());
  const at::Tensor block_scale = absmax.repeat_interleave(256).slice(0, 0, n);
  EXPECT_LT(((back - x).abs() / block_scale).max().item<float>(), 0.0071f);  // half the widest code gap
}

}  // namespace ternary
