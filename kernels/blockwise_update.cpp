#include "kernels/blockwise_update.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/blockwise_codec_avx512.h"
#include "kernels/cpu_features.h"
#include "kernels/dynamic_map.h"
#include "kernels/update_rules.h"

namespace ternary::kernels {
namespace {

inline float to_float(float x) { return x; }
inline float to_float(BFloat16 x) { return x.to_float(); }
// The parameter's new value in its dtype; element `index` of the tensor.
template <typename T>
inline T from_float(float x, ParamRounding rounding, int64_t index) {
  if constexpr (std::is_same_v<T, BFloat16>)
    return rounding.stochastic ? BFloat16::from_float_stochastic(x, rounding_bits(rounding.key, index))
                               : BFloat16::from_float(x);  // round to nearest even
  else return x;
}

// Code for a state value normalised by its block's absmax; first moments get the sign fix.
inline uint8_t encode(const DynamicCodebook& book, bool is_signed, float value, float absmax, bool reference) {
  if (absmax == 0.0f) return book.zero_code();  // all-zero block
  const float x = value / absmax;
  const uint8_t code = reference ? book.nearest_reference(x) : book.nearest(x);
  return is_signed ? nearest_signed_with_sign_fix(book, x, code) : code;
}

// The fused step works on one 256-element block at a time in small stack arrays, as separate
// branch-free loops the compiler vectorizes (table lookups become gathers). Written once here,
// compiled per ISA tier below (TERNARY_ISA_VARIANTS-style), chosen by cpu_features.
constexpr float kFloatMax = std::numeric_limits<float>::max();

TERNARY_ALWAYS_INLINE void dequantize_block(const uint8_t* __restrict codes, int64_t len,
                                            const float* __restrict values, float absmax, float* __restrict out) {
  for (int64_t i = 0; i < len; ++i) out[i] = values[codes[i]] * absmax;
}

// Nearest codes for s / absmax (DynamicCodebook::nearest, vectorized); first moments get the sign fix.
TERNARY_ALWAYS_INLINE void encode_block(const float* __restrict s, int64_t len, float absmax,
                                        const int32_t* __restrict candidates, const float* __restrict thresholds,
                                        bool is_signed, int32_t zero_code, uint8_t* __restrict out) {
  if (absmax == 0.0f) {  // all-zero block
    for (int64_t i = 0; i < len; ++i) out[i] = zero_code;
    return;
  }
  for (int64_t i = 0; i < len; ++i) {
    const float x = s[i] / absmax;
    const uint32_t bucket = __builtin_bit_cast(uint32_t, x) >> 16;
    int32_t code = candidates[bucket] + (x > thresholds[bucket]);
    if (is_signed) {  // sign fix; values[code] < 0 exactly when code < zero_code (sorted map)
      const bool flip = x != 0.0f && (code < zero_code) != std::signbit(x);
      code += flip ? (x > 0.0f ? 1 : -1) : 0;
    }
    out[i] = static_cast<uint8_t>(code);
  }
}

TERNARY_ALWAYS_INLINE float block_abs_max(const float* __restrict s, int64_t len) {
  float lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= len; i += 16)
    for (int j = 0; j < 16; ++j) lanes[j] = std::max(lanes[j], std::fabs(s[i + j]));
  float m = 0.0f;
  for (; i < len; ++i) m = std::max(m, std::fabs(s[i]));
  for (int j = 0; j < 16; ++j) m = std::max(m, lanes[j]);
  return m;
}

// The rule over a block; a non-finite gradient keeps p and zeroes the state (branch-free).
// `start`: the block's first element in the tensor (the stochastic rounding counter).
template <typename Rule, typename T>
TERNARY_ALWAYS_INLINE void update_block(T* __restrict param, const T* __restrict grad, int64_t start, int64_t len,
                                        float* __restrict m, float* __restrict v, const Rule& rule_ref,
                                        ParamRounding rounding) {
  const Rule rule = rule_ref;  // a local copy: its coefficients cannot alias the arrays, so this vectorizes
  for (int64_t i = 0; i < len; ++i) {
    const float g = to_float(grad[i]);
    const float p_old = to_float(param[i]);
    float p = p_old, mi = m[i], vi = v[i];
    rule(p, g, mi, vi);
    const bool finite = std::fabs(g) <= kFloatMax;
    param[i] = finite ? from_float<T>(p, rounding, start + i) : param[i];
    m[i] = finite ? mi : 0.0f;
    v[i] = finite ? vi : 0.0f;
  }
}

// The table lookups of a tier: the loops above, or the AVX-512 intrinsics (same results bit for bit).
struct PortableCodec {
  static TERNARY_ALWAYS_INLINE void dequantize(const uint8_t* codes, int64_t len, const float* values, float absmax,
                                               float* out) {
    dequantize_block(codes, len, values, absmax, out);
  }
  static TERNARY_ALWAYS_INLINE float abs_max(const float* s, int64_t len) { return block_abs_max(s, len); }
  static TERNARY_ALWAYS_INLINE void encode(const float* s, int64_t len, float absmax, const DynamicCodebook& book,
                                           bool is_signed, uint8_t* out) {
    encode_block(s, len, absmax, book.candidates(), book.thresholds(), is_signed, book.zero_code(), out);
  }
};
struct Avx512Codec {
  static TERNARY_ALWAYS_INLINE void dequantize(const uint8_t* codes, int64_t len, const float* values, float absmax,
                                               float* out) {
    dequantize_block_avx512(codes, len, values, absmax, out);
  }
  static TERNARY_ALWAYS_INLINE float abs_max(const float* s, int64_t len) { return abs_max_avx512(s, len); }
  static TERNARY_ALWAYS_INLINE void encode(const float* s, int64_t len, float absmax, const DynamicCodebook& book,
                                           bool is_signed, uint8_t* out) {
    if (absmax == 0.0f) encode_block(s, len, absmax, book.candidates(), book.thresholds(), is_signed, book.zero_code(), out);
    else encode_block_avx512(s, len, absmax, book.candidates(), book.thresholds(), is_signed, book.zero_code(), out);
  }
};

// Blocks [first_block, end_block) of the fused step.
template <typename Codec, typename Rule, typename T>
TERNARY_ALWAYS_INLINE void step_blocks(T* param, const T* grad, int64_t n, int64_t first_block, int64_t end_block,
                                       QuantizedState state1, QuantizedState state2, const Rule& rule,
                                       ParamRounding rounding) {
  const DynamicCodebook& book1 = DynamicCodebook::signed_map();
  const DynamicCodebook& book2 = DynamicCodebook::unsigned_map();
  constexpr bool two_states = Rule::kStates == 2;
  alignas(64) float m[kStateBlockSize], v[kStateBlockSize];
  for (int64_t block = first_block; block < end_block; ++block) {
    const int64_t start = block * kStateBlockSize;
    const int64_t len = std::min(kStateBlockSize, n - start);
    Codec::dequantize(state1.codes + start, len, book1.values(), state1.absmax[block], m);
    if (two_states) Codec::dequantize(state2.codes + start, len, book2.values(), state2.absmax[block], v);
    else std::fill(v, v + len, 0.0f);
    update_block(param + start, grad + start, start, len, m, v, rule, rounding);
    const float max1 = Codec::abs_max(m, len);
    state1.absmax[block] = max1;
    Codec::encode(m, len, max1, book1, true, state1.codes + start);
    if (two_states) {
      const float max2 = Codec::abs_max(v, len);
      state2.absmax[block] = max2;
      Codec::encode(v, len, max2, book2, false, state2.codes + start);
    }
  }
}

template <typename Rule, typename T>
using StepBlocks = void (*)(T*, const T*, int64_t, int64_t, int64_t, QuantizedState, QuantizedState, const Rule&,
                            ParamRounding);

template <typename Rule, typename T>
void step_blocks_reference(T* param, const T* grad, int64_t n, int64_t first, int64_t end, QuantizedState s1,
                           QuantizedState s2, const Rule& rule, ParamRounding rounding) {
  step_blocks<PortableCodec>(param, grad, n, first, end, s1, s2, rule, rounding);
}
template <typename Rule, typename T>
__attribute__((target("avx2,fma"))) void step_blocks_avx2(T* param, const T* grad, int64_t n, int64_t first,
                                                           int64_t end, QuantizedState s1, QuantizedState s2,
                                                           const Rule& rule, ParamRounding rounding) {
  step_blocks<PortableCodec>(param, grad, n, first, end, s1, s2, rule, rounding);
}
template <typename Rule, typename T>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) void step_blocks_avx512(
    T* param, const T* grad, int64_t n, int64_t first, int64_t end, QuantizedState s1, QuantizedState s2,
    const Rule& rule, ParamRounding rounding) {
  step_blocks<Avx512Codec>(param, grad, n, first, end, s1, s2, rule, rounding);
}

// Work is split in tasks of this many blocks: big enough to amortise a thread, small enough to balance.
constexpr int64_t kBlocksPerTask = 16;

}  // namespace

template <typename Rule, typename T>
void fused_blockwise_step(T* param, const T* grad, int64_t n, QuantizedState state1, QuantizedState state2,
                          const Rule& rule, ParamRounding rounding) {
  const StepBlocks<Rule, T> run =
      pick_isa_variant<StepBlocks<Rule, T>>(step_blocks_reference, step_blocks_avx2, step_blocks_avx512);
  const int64_t blocks = state_blocks(n);
  const int64_t tasks = (blocks + kBlocksPerTask - 1) / kBlocksPerTask;
#pragma omp parallel for schedule(static) if (tasks > 1)
  for (int64_t task = 0; task < tasks; ++task)
    run(param, grad, n, task * kBlocksPerTask, std::min(blocks, (task + 1) * kBlocksPerTask), state1, state2, rule,
        rounding);
}

template <typename Rule, typename T>
void reference_blockwise_step(T* param, const T* grad, int64_t n, QuantizedState state1, QuantizedState state2,
                              const Rule& rule, ParamRounding rounding) {
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
    param[i] = from_float<T>(p, rounding, i);
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
void fp32_state_step(T* param, const T* grad, int64_t n, float* state1, float* state2, const Rule& rule,
                     ParamRounding rounding) {
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
    param[i] = from_float<T>(p, rounding, i);
  }
}

void quantize_blockwise(const float* values, int64_t n, bool is_signed, QuantizedState out) {
  const DynamicCodebook& book = is_signed ? DynamicCodebook::signed_map() : DynamicCodebook::unsigned_map();
  const int64_t blocks = state_blocks(n);
#pragma omp parallel for schedule(static) if (blocks > kBlocksPerTask)
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t start = block * kStateBlockSize, end = std::min(n, start + kStateBlockSize);
    float absmax = 0.0f;
    for (int64_t i = start; i < end; ++i) absmax = std::max(absmax, std::fabs(values[i]));
    out.absmax[block] = absmax;
    for (int64_t i = start; i < end; ++i) out.codes[i] = encode(book, is_signed, values[i], absmax, false);
  }
}

void dequantize_blockwise(QuantizedState in, int64_t n, bool is_signed, float* values) {
  const DynamicCodebook& book = is_signed ? DynamicCodebook::signed_map() : DynamicCodebook::unsigned_map();
  for (int64_t i = 0; i < n; ++i) values[i] = book.value(in.codes[i]) * in.absmax[i / kStateBlockSize];
}

#define TERNARY_INSTANTIATE_STEP(Rule, T)                                                                    \
  template void fused_blockwise_step<Rule, T>(T*, const T*, int64_t, QuantizedState, QuantizedState,        \
                                              const Rule&, ParamRounding);                                   \
  template void reference_blockwise_step<Rule, T>(T*, const T*, int64_t, QuantizedState, QuantizedState,    \
                                                  const Rule&, ParamRounding);                               \
  template void fp32_state_step<Rule, T>(T*, const T*, int64_t, float*, float*, const Rule&, ParamRounding);

TERNARY_INSTANTIATE_STEP(AdamRule, float)
TERNARY_INSTANTIATE_STEP(AdamRule, BFloat16)
TERNARY_INSTANTIATE_STEP(MomentumRule, float)
TERNARY_INSTANTIATE_STEP(MomentumRule, BFloat16)
TERNARY_INSTANTIATE_STEP(LionRule, float)
TERNARY_INSTANTIATE_STEP(LionRule, BFloat16)

}  // namespace ternary::kernels
