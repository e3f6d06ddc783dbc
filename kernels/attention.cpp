#include "kernels/attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu_features.h"
#include "kernels/exp_polynomial.h"

namespace ternary::kernels {
namespace {

constexpr int64_t kLanes = 16;

TERNARY_ALWAYS_INLINE void attend(const float* q, const float* keys, const float* values, int64_t stride,
                                  int64_t positions, int64_t hd, float* scores, float* out) {
  const float inv_sqrt = 1.0f / std::sqrt(static_cast<float>(hd));
  float max_score = -INFINITY;
  for (int64_t p = 0; p < positions; ++p) {
    const float* k = keys + p * stride;
    float lanes[kLanes] = {};
    int64_t d = 0;
    for (; d + kLanes <= hd; d += kLanes)
      for (int64_t j = 0; j < kLanes; ++j) lanes[j] += q[d + j] * k[d + j];
    for (; d < hd; ++d) lanes[d % kLanes] += q[d] * k[d];
    // A tree: 4 dependent adds, not 16. Constant widths, so the compiler turns each level into
    // one vector add (a loop over the widths stayed scalar, through the stack).
    for (int64_t j = 0; j < 8; ++j) lanes[j] += lanes[j + 8];
    for (int64_t j = 0; j < 4; ++j) lanes[j] += lanes[j + 4];
    for (int64_t j = 0; j < 2; ++j) lanes[j] += lanes[j + 2];
    scores[p] = (lanes[0] + lanes[1]) * inv_sqrt;
    max_score = std::max(max_score, scores[p]);
  }
  for (int64_t p = 0; p < positions; ++p) scores[p] = exp_poly(scores[p] - max_score);  // vectorized
  float denom = 0;
  for (int64_t p = 0; p < positions; ++p) denom += scores[p];  // in order: one chain, as every tier
  for (int64_t p = 0; p < positions; ++p) scores[p] /= denom;
  // Up to 64 outputs at a time, each summed over the positions in order, in a local accumulator
  // (out may alias nothing we know of, so it would round-trip memory): each value row is read
  // once, contiguously, and the 64 sums are independent chains.
  constexpr int64_t kChunk = 64;
  for (int64_t d0 = 0; d0 < hd; d0 += kChunk) {
    const int64_t width = std::min(kChunk, hd - d0);
    float acc[kChunk] = {};
    if (width == kChunk) {
      for (int64_t p = 0; p < positions; ++p)
        for (int64_t j = 0; j < kChunk; ++j) acc[j] += scores[p] * values[p * stride + d0 + j];
    } else {
      for (int64_t p = 0; p < positions; ++p)
        for (int64_t j = 0; j < width; ++j) acc[j] += scores[p] * values[p * stride + d0 + j];
    }
    std::copy_n(acc, width, out + d0);
  }
}

TERNARY_ISA_VARIANTS(void, attend,
                     (const float* q, const float* keys, const float* values, int64_t stride, int64_t positions,
                      int64_t hd, float* scores, float* out),
                     (q, keys, values, stride, positions, hd, scores, out))

}  // namespace

void attend_head(const float* q, const float* keys, const float* values, int64_t stride, int64_t positions, int64_t hd,
                 float* scores, float* out) {
  pick_isa_variant(attend_reference, attend_avx2, attend_avx512)(q, keys, values, stride, positions, hd, scores, out);
}

}  // namespace ternary::kernels
