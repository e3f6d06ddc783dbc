// One optimizer step over a parameter whose state is blockwise 8-bit (block 256, fp32 absmax per
// block; first state on the signed dynamic map, second on the unsigned one), or fp32 for small
// tensors. LibTorch-free raw-pointer kernels; the optimizers in optim/ call them.
//
//   fused_blockwise_step     one pass per block: dequantize, update (Rule), new absmax, update p,
//                            re-quantize; parallel over blocks (OpenMP); no full-size temporaries;
//                            tiers ref / avx2 / avx512 chosen by cpu_features.h
//   reference_blockwise_step the same step as separate whole-tensor passes, plain loops
//   fp32_state_step          Rule on fp32 state (tensors under min_8bit_size)
// A gradient element that is NaN or Inf leaves its parameter unchanged and resets its state.
// bf16 parameters are written rounded to nearest, or stochastically (ParamRounding).
#pragma once

#include <cstdint>

#include "kernels/bfloat16.h"

namespace ternary::kernels {

constexpr int64_t kStateBlockSize = 256;

inline int64_t state_blocks(int64_t n) { return (n + kStateBlockSize - 1) / kStateBlockSize; }

struct QuantizedState {
  uint8_t* codes = nullptr;  // (n) codes into the dynamic map
  float* absmax = nullptr;   // (state_blocks(n)) per-block scale
};

// How a bf16 parameter takes its updated value. Stochastic: element i's 16 random bits are
// rounding_bits(key, i), a counter-based hash, so a step's rounding depends only on the key (the
// optimizer derives it from the run's seed, the parameter and its step) and not on threads or
// block order: resumed runs round exactly as uninterrupted ones.
struct ParamRounding {
  bool stochastic = false;
  uint32_t key = 0;
};

// 16 uniform random bits for element `index` under `key` (a 32-bit integer hash, lowbias32).
inline uint32_t rounding_bits(uint32_t key, int64_t index) {
  uint32_t x = static_cast<uint32_t>(index) * 0x9E3779B1u ^ key ^ static_cast<uint32_t>(index >> 32) * 0x85EBCA77u;
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x *= 0x846CA68Bu;
  x ^= x >> 16;
  return x >> 16;
}

// T is float or BFloat16 (parameter and gradient dtype). state2 is ignored by 1-state rules.
// `rounding` matters only for BFloat16.
template <typename Rule, typename T>
void fused_blockwise_step(T* param, const T* grad, int64_t n, QuantizedState state1, QuantizedState state2,
                          const Rule& rule, ParamRounding rounding = {});
template <typename Rule, typename T>
void reference_blockwise_step(T* param, const T* grad, int64_t n, QuantizedState state1, QuantizedState state2,
                              const Rule& rule, ParamRounding rounding = {});
template <typename Rule, typename T>
void fp32_state_step(T* param, const T* grad, int64_t n, float* state1, float* state2, const Rule& rule,
                     ParamRounding rounding = {});

// Blockwise quantization of fp32 values onto a dynamic map (signed: with the sign fix), and back.
void quantize_blockwise(const float* values, int64_t n, bool is_signed, QuantizedState out);
void dequantize_blockwise(QuantizedState in, int64_t n, bool is_signed, float* values);

}  // namespace ternary::kernels
