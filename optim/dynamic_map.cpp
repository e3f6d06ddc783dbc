#include "optim/dynamic_map.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <vector>

namespace ternary {

std::array<float, 256> create_dynamic_map(bool is_signed) {
  // bitsandbytes builds this with torch float32 ops (linspace, midpoints, scaling by 10^k);
  // the same ATen ops give the same bits.
  constexpr int kMaxExponentBits = 7;
  std::vector<float> data;
  for (int i = 0; i < kMaxExponentBits; ++i) {
    const int64_t fraction_items = is_signed ? (int64_t{1} << i) + 1 : (int64_t{1} << (i + 1)) + 1;
    const at::Tensor boundaries = at::linspace(0.1, 1.0, fraction_items, at::kFloat);
    const at::Tensor means = (boundaries.slice(0, 0, -1) + boundaries.slice(0, 1)) / 2.0;
    const double magnitude = std::pow(10.0, -(kMaxExponentBits - 1) + i);
    const at::Tensor positive = means * magnitude;
    const at::Tensor negative = means * -magnitude;
    for (int64_t k = 0; k < positive.numel(); ++k) data.push_back(positive[k].item<float>());
    if (is_signed)
      for (int64_t k = 0; k < negative.numel(); ++k) data.push_back(negative[k].item<float>());
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
  // For each top-16-bit bucket, the lower of the codes nearest to its two ends. Buckets are
  // narrower than any gap between midpoints, so a bucket spans at most one code boundary.
  for (uint32_t bucket = 0; bucket < (1u << 16); ++bucket) {
    const uint32_t first_bits = bucket << 16, last_bits = first_bits | 0xFFFFu;
    float first, last;
    std::memcpy(&first, &first_bits, sizeof first);
    std::memcpy(&last, &last_bits, sizeof last);
    if (std::isnan(first) || std::isnan(last)) {
      candidate_[bucket] = 0;
      continue;
    }
    const uint8_t a = nearest_reference(first), b = nearest_reference(last);
    if (std::max(a, b) - std::min(a, b) > 1)
      throw std::logic_error("dynamic map lookup: a bucket spans more than one code boundary");
    candidate_[bucket] = std::min(a, b);
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

}  // namespace ternary
