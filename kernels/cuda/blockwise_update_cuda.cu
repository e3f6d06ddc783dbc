#include "kernels/cuda/blockwise_update_cuda.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <map>
#include <mutex>
#include <utility>

#include "kernels/cuda/cuda_runtime_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/dynamic_map.h"
#include "kernels/update_rules.h"

namespace ternary::cuda {

using kernels::AdamRule;
using kernels::DynamicCodebook;
using kernels::kStateBlockSize;
using kernels::LionRule;
using kernels::MomentumRule;
using kernels::state_blocks;

namespace {

static_assert(kStateBlockSize == 256, "one thread per state element in a 256-thread block");

// A DynamicCodebook's tables on the device.
struct DeviceCodebook {
  const float* values;
  const int32_t* candidates;
  const float* thresholds;
  int32_t zero_code;
};

// Uploaded once per (codebook, device) and kept for the life of the process (512 KiB each).
DeviceCodebook device_codebook(const DynamicCodebook& book) {
  struct Tables {
    DeviceBuffer values, candidates, thresholds;
  };
  static std::mutex mutex;
  static std::map<std::pair<const DynamicCodebook*, int>, Tables> cache;
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  std::lock_guard<std::mutex> lock(mutex);
  auto found = cache.find({&book, device});
  if (found == cache.end()) {
    constexpr size_t kBuckets = 1 << 16;
    Tables t{DeviceBuffer(256 * sizeof(float)), DeviceBuffer(kBuckets * sizeof(int32_t)),
             DeviceBuffer(kBuckets * sizeof(float))};
    t.values.upload(book.values(), 256 * sizeof(float));
    t.candidates.upload(book.candidates(), kBuckets * sizeof(int32_t));
    t.thresholds.upload(book.thresholds(), kBuckets * sizeof(float));
    found = cache.emplace(std::make_pair(&book, device), std::move(t)).first;
  }
  const Tables& t = found->second;
  return {t.values.as<float>(), t.candidates.as<int32_t>(), t.thresholds.as<float>(), book.zero_code()};
}

__device__ float to_float(float x) { return x; }
__device__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T>
__device__ T from_float(float x);
template <>
__device__ float from_float<float>(float x) { return x; }
template <>
__device__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

__device__ float block_max(float v, float* scratch) {
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, offset));
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  float m = 0.0f;
  for (int w = 0; w < kStateBlockSize / 32; ++w) m = fmaxf(m, scratch[w]);
  __syncthreads();  // scratch is reused by the next reduction
  return m;
}

// DynamicCodebook::nearest plus, for first moments, the sign fix (as encode_block on the CPU).
__device__ uint8_t encode(float s, float absmax, const DeviceCodebook& book, bool is_signed) {
  if (absmax == 0.0f) return static_cast<uint8_t>(book.zero_code);
  const float x = s / absmax;
  const uint32_t bucket = __float_as_uint(x) >> 16;
  int32_t code = book.candidates[bucket] + (x > book.thresholds[bucket] ? 1 : 0);
  if (is_signed) {
    const bool flip = x != 0.0f && (code < book.zero_code) != static_cast<bool>(signbit(x));
    code += flip ? (x > 0.0f ? 1 : -1) : 0;
  }
  return static_cast<uint8_t>(code);
}

template <typename Rule, typename T>
__global__ void blockwise_step_kernel(T* __restrict__ param, const T* __restrict__ grad, int64_t n,
                                      QuantizedState state1, QuantizedState state2, Rule rule, DeviceCodebook book1,
                                      DeviceCodebook book2) {
  __shared__ float scratch[kStateBlockSize / 32];
  constexpr bool two_states = Rule::kStates == 2;
  const int64_t block = blockIdx.x;
  const int64_t i = block * kStateBlockSize + threadIdx.x;
  const bool active = i < n;
  float m = 0.0f, v = 0.0f;
  if (active) {
    m = book1.values[state1.codes[i]] * state1.absmax[block];
    if (two_states) v = book2.values[state2.codes[i]] * state2.absmax[block];
    const float g = to_float(grad[i]);
    const float p_old = to_float(param[i]);
    float p = p_old, mi = m, vi = v;
    rule(p, g, mi, vi);
    const bool finite = fabsf(g) <= FLT_MAX;  // NaN/Inf gradient: keep p, reset the state
    param[i] = from_float<T>(finite ? p : p_old);
    m = finite ? mi : 0.0f;
    v = finite ? vi : 0.0f;
  }
  const float max1 = block_max(fabsf(m), scratch);
  if (threadIdx.x == 0) state1.absmax[block] = max1;
  if (active) state1.codes[i] = encode(m, max1, book1, true);
  if (two_states) {
    const float max2 = block_max(fabsf(v), scratch);
    if (threadIdx.x == 0) state2.absmax[block] = max2;
    if (active) state2.codes[i] = encode(v, max2, book2, false);
  }
}

template <typename Rule, typename T>
__global__ void fp32_state_kernel(T* __restrict__ param, const T* __restrict__ grad, int64_t n,
                                  float* __restrict__ state1, float* __restrict__ state2, Rule rule) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float g = to_float(grad[i]);
    float unused = 0.0f;
    float& v = Rule::kStates == 2 ? state2[i] : unused;
    if (!(fabsf(g) <= FLT_MAX)) {
      state1[i] = v = 0.0f;
      continue;
    }
    float p = to_float(param[i]);
    rule(p, g, state1[i], v);
    param[i] = from_float<T>(p);
  }
}

}  // namespace

template <typename Rule>
void blockwise_step(void* param, const void* grad, ParamType type, int64_t n, QuantizedState state1,
                    QuantizedState state2, const Rule& rule, void* stream) {
  if (n == 0) return;
  const DeviceCodebook book1 = device_codebook(DynamicCodebook::signed_map());
  const DeviceCodebook book2 = device_codebook(DynamicCodebook::unsigned_map());
  const auto blocks = static_cast<unsigned>(state_blocks(n));
  const auto s = static_cast<cudaStream_t>(stream);
  if (type == ParamType::kFloat32)
    blockwise_step_kernel<Rule, float><<<blocks, kStateBlockSize, 0, s>>>(
        static_cast<float*>(param), static_cast<const float*>(grad), n, state1, state2, rule, book1, book2);
  else
    blockwise_step_kernel<Rule, __nv_bfloat16><<<blocks, kStateBlockSize, 0, s>>>(
        static_cast<__nv_bfloat16*>(param), static_cast<const __nv_bfloat16*>(grad), n, state1, state2, rule, book1,
        book2);
  check(cudaGetLastError(), "blockwise 8-bit optimizer kernel launch");
}

template <typename Rule>
void fp32_state_step(void* param, const void* grad, ParamType type, int64_t n, float* state1, float* state2,
                     const Rule& rule, void* stream) {
  if (n == 0) return;
  const auto blocks = static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 65536));
  const auto s = static_cast<cudaStream_t>(stream);
  if (type == ParamType::kFloat32)
    fp32_state_kernel<Rule, float><<<blocks, 256, 0, s>>>(static_cast<float*>(param),
                                                           static_cast<const float*>(grad), n, state1, state2, rule);
  else
    fp32_state_kernel<Rule, __nv_bfloat16><<<blocks, 256, 0, s>>>(
        static_cast<__nv_bfloat16*>(param), static_cast<const __nv_bfloat16*>(grad), n, state1, state2, rule);
  check(cudaGetLastError(), "fp32-state optimizer kernel launch");
}

#define TERNARY_INSTANTIATE_CUDA_STEP(Rule)                                                                    \
  template void blockwise_step<Rule>(void*, const void*, ParamType, int64_t, QuantizedState, QuantizedState, \
                                     const Rule&, void*);                                                     \
  template void fp32_state_step<Rule>(void*, const void*, ParamType, int64_t, float*, float*, const Rule&, void*);

TERNARY_INSTANTIATE_CUDA_STEP(AdamRule)
TERNARY_INSTANTIATE_CUDA_STEP(MomentumRule)
TERNARY_INSTANTIATE_CUDA_STEP(LionRule)

}  // namespace ternary::cuda
