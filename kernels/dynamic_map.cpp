#include "kernels/dynamic_map.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

namespace ternary::kernels {
namespace {

// A float strictly between lo and hi (lo < hi, not adjacent), halfway in representation order
// when they share a sign, so a bisection over a bucket takes ~16 steps.
float midpoint_float(float lo, float hi) {
  uint32_t a, b;
  std::memcpy(&a, &lo, sizeof a);
  std::memcpy(&b, &hi, sizeof b);
  float mid;
  if ((a >> 31) == (b >> 31)) {
    const uint32_t m = a / 2 + b / 2 + (a & b & 1u);
    std::memcpy(&mid, &m, sizeof mid);
  } else {
    mid = 0.0f;
  }
  if (!(mid > lo && mid < hi)) mid = std::nextafter(lo, hi);
  return mid;
}

// torch.linspace(start, end, steps) in float32, as ATen's CPU kernel computes each element: the
// first half counts up from start, the second half down from end, so both ends are exact. ATen's
// kernel is built with FMA contraction, so each element is one fused multiply-add (checked
// against LibTorch's own linspace bit for bit: the dynamic-map golden test).
std::vector<float> linspace_float(float start, float end, int64_t steps) {
  const float step = (end - start) / static_cast<float>(steps - 1);
  const int64_t halfway = steps / 2;
  std::vector<float> out(static_cast<size_t>(steps));
  for (int64_t i = 0; i < steps; ++i)
    out[static_cast<size_t>(i)] = i < halfway ? std::fma(step, static_cast<float>(i), start)
                                              : std::fma(-step, static_cast<float>(steps - i - 1), end);
  return out;
}

}  // namespace

std::array<float, 256> create_dynamic_map(bool is_signed) {
  // bitsandbytes builds this with torch float32 ops (linspace, midpoints, scaling by 10^k); these
  // are the same float operations in the same order (checked against bitsandbytes' own maps).
  constexpr int kMaxExponentBits = 7;
  std::vector<float> data;
  for (int i = 0; i < kMaxExponentBits; ++i) {
    const int64_t fraction_items = is_signed ? (int64_t{1} << i) + 1 : (int64_t{1} << (i + 1)) + 1;
    const std::vector<float> boundaries = linspace_float(0.1f, 1.0f, fraction_items);
    const auto magnitude = static_cast<float>(std::pow(10.0, -(kMaxExponentBits - 1) + i));
    for (size_t k = 0; k + 1 < boundaries.size(); ++k) data.push_back((boundaries[k] + boundaries[k + 1]) / 2.0f * magnitude);
    if (is_signed)
      for (size_t k = 0; k + 1 < boundaries.size(); ++k)
        data.push_back((boundaries[k] + boundaries[k + 1]) / 2.0f * -magnitude);
  }
  data.push_back(0.0f);
  data.push_back(1.0f);
  if (data.size() != 256) throw std::logic_error("dynamic map must have 256 entries");
  std::sort(data.begin(), data.end());
  std::array<float, 256> map;
  std::copy(data.begin(), data.end(), map.begin());
  return map;
}

DynamicCodebook::DynamicCodebook(bool is_signed) {
  const auto map = create_dynamic_map(is_signed);
  std::copy(map.begin(), map.end(), values_.begin());
  values_[256] = std::numeric_limits<float>::infinity();
  zero_code_ = static_cast<uint8_t>(std::find(map.begin(), map.end(), 0.0f) - map.begin());
  // For each top-16-bit bucket: the lower of the codes nearest to its two ends (buckets are
  // narrower than any gap between midpoints, so a bucket spans at most one code boundary) and
  // the largest float in it still nearest to that code (nearest_reference is monotone in x).
  for (uint32_t bucket = 0; bucket < (1u << 16); ++bucket) {
    const uint32_t first_bits = bucket << 16, last_bits = first_bits | 0xFFFFu;
    float first, last;
    std::memcpy(&first, &first_bits, sizeof first);
    std::memcpy(&last, &last_bits, sizeof last);
    candidate_[bucket] = 0;
    threshold_[bucket] = std::numeric_limits<float>::infinity();
    if (std::isnan(first) || std::isnan(last)) continue;
    float lo_x = std::min(first, last), hi_x = std::max(first, last);
    const uint8_t a = nearest_reference(lo_x), b = nearest_reference(hi_x);
    if (b < a || b - a > 1) throw std::logic_error("dynamic map lookup: a bucket spans more than one code boundary");
    candidate_[bucket] = a;
    if (a == b) continue;
    while (std::nextafter(lo_x, hi_x) != hi_x) {  // invariant: lo_x maps to a, hi_x to b
      const float mid = midpoint_float(lo_x, hi_x);
      (nearest_reference(mid) == a ? lo_x : hi_x) = mid;
    }
    threshold_[bucket] = lo_x;
  }
}

uint8_t DynamicCodebook::nearest_reference(float x) const {
  // The last code <= x (or 0), then the right neighbour when strictly closer.
  int lo = 0, hi = 255;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (values_[mid] <= x) lo = mid; else hi = mid - 1;
  }
  if (lo < 255 && std::fabs(x - values_[lo + 1]) < std::fabs(x - values_[lo])) ++lo;
  return static_cast<uint8_t>(lo);
}

const DynamicCodebook& DynamicCodebook::signed_map() {
  static const DynamicCodebook book(true);
  return book;
}

const DynamicCodebook& DynamicCodebook::unsigned_map() {
  static const DynamicCodebook book(false);
  return book;
}

}  // namespace ternary::kernels
