// The blockwise 8-bit optimizer step of kernels/blockwise_update.h on a CUDA device: one thread
// block per 256-element state block dequantizes both states, applies the same update rule
// (kernels/update_rules.h, compiled for the device), takes the new block absmax and re-encodes with
// the same nearest-code tables and sign fix. Built without FMA contraction, like the CPU
// kernels, so parameters and codes are bit-identical to reference_blockwise_step.
// All pointers are device pointers; `stream` is a cudaStream_t (nullptr = legacy default stream).
#pragma once

#include <cstdint>

#include "kernels/blockwise_update.h"

namespace ternary::cuda {

using kernels::QuantizedState;

enum class ParamType { kFloat32, kBFloat16 };

// Rule is AdamRule, MomentumRule or LionRule; state2 is ignored by one-state rules.
template <typename Rule>
void blockwise_step(void* param, const void* grad, ParamType type, int64_t n, QuantizedState state1,
                    QuantizedState state2, const Rule& rule, void* stream = nullptr);

// fp32 state for tensors under min_8bit_size (fp32_state_step).
template <typename Rule>
void fp32_state_step(void* param, const void* grad, ParamType type, int64_t n, float* state1, float* state2,
                     const Rule& rule, void* stream = nullptr);

}  // namespace ternary::cuda
