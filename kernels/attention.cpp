#include "kernels/attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu_features.h"

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
    float dot = 0;
    for (float lane : lanes) dot += lane;
    scores[p] = dot * inv_sqrt;
    max_score = std::max(max_score, scores[p]);
  }
  float denom = 0;
  for (int64_t p = 0; p < positions; ++p) denom += (scores[p] = std::exp(scores[p] - max_score));
  for (int64_t p = 0; p < positions; ++p) scores[p] /= denom;
  // 16 outputs at a time, summed over the positions in registers (out may not stay in memory).
  int64_t d = 0;
  for (; d + kLanes <= hd; d += kLanes) {
    float acc[kLanes] = {};
    for (int64_t p = 0; p < positions; ++p)
      for (int64_t j = 0; j < kLanes; ++j) acc[j] += scores[p] * values[p * stride + d + j];
    std::copy_n(acc, kLanes, out + d);
  }
  for (; d < hd; ++d) {
    float acc = 0;
    for (int64_t p = 0; p < positions; ++p) acc += scores[p] * values[p * stride + d];
    out[d] = acc;
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
