// Attention of one query head over the cached positions 0..positions-1 (causal decoding):
//   out = sum_p softmax_p(q . k_p / sqrt(hd)) v_p
// keys and values are rows `stride` floats apart (the KV cache's layout, one kv head's slice).
// q . k_p is summed in 16 lanes (d % 16), the lanes then added as a tree (j + 8, + 4, + 2, + 1);
// the softmax's exp is exp_poly (kernels/exp_polynomial.h), its sum over the positions in order;
// the weighted sum of values is per d, over the positions in order. That order is fixed, so the tiers (plain code, and the same code compiled for AVX2 and
// AVX-512) give the same floats bit for bit, and so does any thread count. LibTorch-free.
#pragma once

#include <cstdint>

namespace ternary::kernels {

// scores: room for `positions` floats (scratch); out: hd floats.
void attend_head(const float* q, const float* keys, const float* values, int64_t stride, int64_t positions, int64_t hd,
                 float* scores, float* out);

}  // namespace ternary::kernels
