#include "optim/blockwise_update.h"

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "optim/dynamic_map.h"
#include "optim/update_rules.h"

namespace ternary {
namespace {

inline float to_float(float x) { return x; }
inline float to_float(c10::BFloat16 x) { return static_cast<float>(x); }
template <typename T>
inline T from_float(float x) {
  return static_cast<T>(x);  // BFloat16: round to nearest even
}

// Code for a state value normalised by its block's absmax; first moments get the sign fix.
inline uint8_t encode(const DynamicCodebook& book, bool is_signed, float value, float absmax, bool reference) {
  if (absmax == 0.0f) return book.zero_code();  // all-zero block
  const float x = value / absmax;
  const uint8_t code = reference ? book.nearest_reference(x) : book.nearest(x);
  return is_signed ? nearest_signed_with_sign_fix(book, x, code) : code;
}

}  // namespace

template <typename Rule, typename T>
void fused_blockwise_step(T* param, const T* grad, int64_t n, QuantizedState state1, QuantizedState state2,
                          const Rule& rule) {
  const DynamicCodebook& book1 = DynamicCodebook::signed_map();
  const DynamicCodebook& book2 = DynamicCodebook::unsigned_map();
  constexpr bool two_states = Rule::kStates == 2;
  at::parallel_for(0, state_blocks(n), 16, [&](int64_t first_block, int64_t end_block) {
    float s1[kStateBlockSize], s2[kStateBlockSize];
    for (int64_t block = first_block; block < end_block; ++block) {
      const int64_t start = block * kStateBlockSize;
      const int64_t len = std::min(kStateBlockSize, n - start);
      const float absmax1 = state1.absmax[block];
      const float absmax2 = two_states ? state2.absmax[block] : 0.0f;
      float max1 = 0.0f, max2 = 0.0f;
      for (int64_t i = 0; i < len; ++i) {
        const float g = to_float(grad[start + i]);
        float m = book1.value(state1.codes[start + i]) * absmax1;
        float v = two_states ? book2.value(state2.codes[start + i]) * absmax2 : 0.0f;
        if (!std::isfinite(g)) {
          s1[i] = s2[i] = 0.0f;
          continue;
        }
        float p = to_float(param[start + i]);
        rule(p, g, m, v);
        param[start + i] = from_float<T>(p);
        s1[i] = m;
        s2[i] = v;
        max1 = std::max(max1, std::fabs(m));
        max2 = std::max(max2, v);
      }
      state1.absmax[block] = max1;
      for (int64_t i = 0; i < len; ++i) state1.codes[start + i] = encode(book1, true, s1[i], max1, false);
      if (two_states) {
        state2.absmax[block] = max2;
        for (int64_t i = 0; i < len; ++i) state2.codes[start + i] = encode(book2, false, s2[i], max2, false);
      }
    }
  });
}

template <typename Rule, typename T>
void reference_blockwise_step(T* param, const T* grad, int64_t n, QuantizedState state1, QuantizedState state2,
                              const Rule& rule) {
  constexpr bool two_states = Rule::kStates == 2;
  std::vector<float> m(n), v(n, 0.0f);
  dequantize_blockwise(state1, n, true, m.data());
  if (two_states) dequantize_blockwise(state2, n, false, v.data());
  for (int64_t i = 0; i < n; ++i) {
    const float g = to_float(grad[i]);
    if (!std::isfinite(g)) {
      m[i] = v[i] = 0.0f;
      continue;
    }
    float p = to_float(param[i]);
    rule(p, g, m[i], v[i]);
    param[i] = from_float<T>(p);
  }
  const DynamicCodebook& book1 = DynamicCodebook::signed_map();
  const DynamicCodebook& book2 = DynamicCodebook::unsigned_map();
  for (int64_t block = 0; block < state_blocks(n); ++block) {
    const int64_t start = block * kStateBlockSize, end = std::min(n, start + kStateBlockSize);
    float max1 = 0.0f, max2 = 0.0f;
    for (int64_t i = start; i < end; ++i) max1 = std::max(max1, std::fabs(m[i]));
    for (int64_t i = start; i < end; ++i) max2 = std::max(max2, v[i]);
    state1.absmax[block] = max1;
    for (int64_t i = start; i < end; ++i) state1.codes[i] = encode(book1, true, m[i], max1, true);
    if (two_states) {
      state2.absmax[block] = max2;
      for (int64_t i = start; i < end; ++i) state2.codes[i] = encode(book2, false, v[i], max2, true);
    }
  }
}

template <typename Rule, typename T>
void fp32_state_step(T* param, const T* grad, int64_t n, float* state1, float* state2, const Rule& rule) {
  float unused = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float g = to_float(grad[i]);
    float& v = Rule::kStates == 2 ? state2[i] : unused;
    if (!std::isfinite(g)) {
      state1[i] = v = 0.0f;
      continue;
    }
    float p = to_float(param[i]);
    rule(p, g, state1[i], v);
    param[i] = from_float<T>(p);
  }
}

void quantize_blockwise(const float* values, int64_t n, bool is_signed, QuantizedState out) {
  const DynamicCodebook& book = is_signed ? DynamicCodebook::signed_map() : DynamicCodebook::unsigned_map();
  at::parallel_for(0, state_blocks(n), 16, [&](int64_t first_block, int64_t end_block) {
    for (int64_t block = first_block; block < end_block; ++block) {
      const int64_t start = block * kStateBlockSize, end = std::min(n, start + kStateBlockSize);
      float absmax = 0.0f;
      for (int64_t i = start; i < end; ++i) absmax = std::max(absmax, std::fabs(values[i]));
      out.absmax[block] = absmax;
      for (int64_t i = start; i < end; ++i) out.codes[i] = encode(book, is_signed, values[i], absmax, false);
    }
  });
}

void dequantize_blockwise(QuantizedState in, int64_t n, bool is_signed, float* values) {
  const DynamicCodebook& book = is_signed ? DynamicCodebook::signed_map() : DynamicCodebook::unsigned_map();
  for (int64_t i = 0; i < n; ++i) values[i] = book.value(in.codes[i]) * in.absmax[i / kStateBlockSize];
}

#define TERNARY_INSTANTIATE_STEP(Rule, T)                                                                    \
  template void fused_blockwise_step<Rule, T>(T*, const T*, int64_t, QuantizedState, QuantizedState,        \
                                              const Rule&);                                                  \
  template void reference_blockwise_step<Rule, T>(T*, const T*, int64_t, QuantizedState, QuantizedState,    \
                                                  const Rule&);                                              \
  template void fp32_state_step<Rule, T>(T*, const T*, int64_t, float*, float*, const Rule&);

TERNARY_INSTANTIATE_STEP(AdamRule, float)
TERNARY_INSTANTIATE_STEP(AdamRule, c10::BFloat16)
TERNARY_INSTANTIATE_STEP(MomentumRule, float)
TERNARY_INSTANTIATE_STEP(MomentumRule, c10::BFloat16)
TERNARY_INSTANTIATE_STEP(LionRule, float)
TERNARY_INSTANTIATE_STEP(LionRule, c10::BFloat16)

}  // namespace ternary
