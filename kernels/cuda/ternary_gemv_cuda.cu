#include "kernels/cuda/ternary_gemv_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_runtime_check.h"

namespace ternary::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kMaxTokens = 8;               // tokens per GEMM launch (accumulators per lane)
constexpr int64_t kSharedLimit = 48 << 10;  // activations beyond this are read from global memory

__device__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, offset));
  return v;
}

__device__ int warp_sum(int v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// One block of 256 threads per token. max is order-independent and the sum is of integers, so the
// result is exactly the CPU quantize_activations'. Comparisons written as std::max / std::min are.
__global__ void quantize_activations_kernel(const float* __restrict__ x, int64_t k, float eps, int8_t* __restrict__ q,
                                            float* __restrict__ scales, int32_t* __restrict__ sums) {
  __shared__ float warp_maxima[32];
  __shared__ int warp_sums[32];
  __shared__ float scale_shared;
  const float* row = x + blockIdx.x * k;
  int8_t* out = q + blockIdx.x * k;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;

  float absmax = 0.0f;
  int finite = 1;
  for (int64_t i = threadIdx.x; i < k; i += blockDim.x) {
    absmax = fmaxf(absmax, fabsf(row[i]));
    finite &= fabsf(row[i]) <= FLT_MAX;  // false for NaN and Inf
  }
  // A token with a NaN or Inf value: scale NaN, codes 0 (as the CPU kernel; training gives NaN).
  if (!__syncthreads_and(finite)) {
    for (int64_t i = threadIdx.x; i < k; i += blockDim.x) out[i] = 0;
    if (threadIdx.x == 0) scales[blockIdx.x] = __int_as_float(0x7fc00000), sums[blockIdx.x] = 0;
    return;
  }
  absmax = warp_max(absmax);
  if (lane == 0) warp_maxima[warp] = absmax;
  __syncthreads();
  if (threadIdx.x == 0) {
    float m = 0.0f;
    for (int w = 0; w < warps; ++w) m = fmaxf(m, warp_maxima[w]);
    const float a = m / 127.0f;
    scale_shared = a < eps ? eps : a;
    scales[blockIdx.x] = scale_shared;
  }
  __syncthreads();
  const float scale = scale_shared;
  int sum = 0;
  for (int64_t i = threadIdx.x; i < k; i += blockDim.x) {
    float code = rintf(row[i] / scale);  // round half to even, as nearbyintf on the CPU
    code = code < -128.0f ? -128.0f : code;
    code = 127.0f < code ? 127.0f : code;
    out[i] = static_cast<int8_t>(code);
    sum += static_cast<int>(code);
  }
  sum = warp_sum(sum);
  if (lane == 0) warp_sums[warp] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    int total = 0;
    for (int w = 0; w < warps; ++w) total += warp_sums[w];
    sums[blockIdx.x] = total;
  }
}

// One warp per output row. Each lane reads 16 code bytes at a time (64 weights): in a 64-byte block
// row, byte 32j + m holds weights 128j + 32l + m at bits 2l (TQ2_0), so four consecutive bytes
// masked at bits 2l are four codes whose activations q[128j + 32l + m .. + 3] are one int32 too.
template <int Tokens>
__global__ void ternary_gemm_kernel(const uint8_t* __restrict__ codes, const float* __restrict__ w_scales,
                                    int64_t rows, int64_t cols, const int8_t* __restrict__ q_global,
                                    const float* __restrict__ a_scales, const int32_t* __restrict__ a_sums,
                                    bool stage_in_shared, float* __restrict__ y, int64_t y_stride) {
  extern __shared__ int4 shared_q[];
  const int8_t* q = q_global;
  if (stage_in_shared) {
    const int64_t chunks = Tokens * cols / 16;  // cols is a multiple of 256
    const int4* src = reinterpret_cast<const int4*>(q_global);
    for (int64_t i = threadIdx.x; i < chunks; i += blockDim.x) shared_q[i] = src[i];
    __syncthreads();
    q = reinterpret_cast<const int8_t*>(shared_q);
  }
  const int lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= rows) return;
  const int64_t row_chunks = cols / 64;  // 16-byte chunks per row
  const uint4* row_codes = reinterpret_cast<const uint4*>(codes + row * (cols / 4));

  int acc[Tokens] = {};
  for (int64_t c = lane; c < row_chunks; c += 32) {
    const uint4 chunk = __ldg(row_codes + c);
    const int64_t byte = c * 16;
    const int64_t base = (byte / 64) * 256 + ((byte % 64) / 32) * 128 + (byte % 32);
    const unsigned words[4] = {chunk.x, chunk.y, chunk.z, chunk.w};
#pragma unroll
    for (int w = 0; w < 4; ++w) {
#pragma unroll
      for (int l = 0; l < 4; ++l) {
        const int packed = static_cast<int>((words[w] >> (2 * l)) & 0x03030303u);
        const int64_t offset = base + 32 * l + 4 * w;
#pragma unroll
        for (int t = 0; t < Tokens; ++t)
          acc[t] = __dp4a(packed, *reinterpret_cast<const int*>(q + t * cols + offset), acc[t]);
      }
    }
  }
#pragma unroll
  for (int t = 0; t < Tokens; ++t) {
    const int total = warp_sum(acc[t]);
    if (lane == 0) y[t * y_stride + row] = static_cast<float>(total - a_sums[t]) * a_scales[t] * w_scales[row];
  }
}

template <int Tokens>
void launch_gemm(const CudaTernaryMatrix& w, const int8_t* q, const float* scales, const int32_t* sums, float* y,
                 cudaStream_t stream) {
  const int64_t shared_bytes = Tokens * w.cols();
  const bool stage = shared_bytes <= kSharedLimit;
  const dim3 grid(static_cast<unsigned>((w.rows() + kWarpsPerBlock - 1) / kWarpsPerBlock));
  ternary_gemm_kernel<Tokens><<<grid, kWarpsPerBlock * 32, stage ? shared_bytes : 0, stream>>>(
      w.codes(), w.scales(), w.rows(), w.cols(), q, scales, sums, stage, y, w.rows());
}

}  // namespace

CudaTernaryMatrix::CudaTernaryMatrix(const kernels::TernaryMatrix& host)
    : rows_(host.rows()), cols_(host.cols()), codes_(static_cast<size_t>(host.bytes())),
      scales_(static_cast<size_t>(host.rows()) * sizeof(float)) {
  // Host rows are contiguous (row_bytes apart), so one copy moves them all.
  if (rows_ > 0) codes_.upload(host.row(0), static_cast<size_t>(host.bytes()));
  std::vector<float> scales(static_cast<size_t>(rows_));
  for (int64_t r = 0; r < rows_; ++r) scales[static_cast<size_t>(r)] = host.scale(r);
  scales_.upload(scales.data(), scales.size() * sizeof(float));
}

void quantize_activations(const float* x, int64_t batch, int64_t k, float eps, int8_t* q, float* scales,
                          int32_t* sums, void* stream) {
  if (batch == 0) return;
  quantize_activations_kernel<<<static_cast<unsigned>(batch), 256, 0, static_cast<cudaStream_t>(stream)>>>(
      x, k, eps, q, scales, sums);
  check(cudaGetLastError(), "quantize_activations kernel launch");
}

void ternary_gemm(const CudaTernaryMatrix& w, const int8_t* q, const float* scales, const int32_t* sums, int64_t batch,
                  float* y, void* stream) {
  if (w.cols() % 256 != 0)
    throw std::invalid_argument("cuda::ternary_gemm: " + std::to_string(w.cols()) + " columns, not a multiple of 256");
  const auto s = static_cast<cudaStream_t>(stream);
  for (int64_t t = 0; t < batch; t += kMaxTokens) {
    const int64_t n = std::min<int64_t>(kMaxTokens, batch - t);
    const int8_t* qt = q + t * w.cols();
    float* yt = y + t * w.rows();
    switch (n) {
      case 1: launch_gemm<1>(w, qt, scales + t, sums + t, yt, s); break;
      case 2: launch_gemm<2>(w, qt, scales + t, sums + t, yt, s); break;
      case 3: launch_gemm<3>(w, qt, scales + t, sums + t, yt, s); break;
      case 4: launch_gemm<4>(w, qt, scales + t, sums + t, yt, s); break;
      case 5: launch_gemm<5>(w, qt, scales + t, sums + t, yt, s); break;
      case 6: launch_gemm<6>(w, qt, scales + t, sums + t, yt, s); break;
      case 7: launch_gemm<7>(w, qt, scales + t, sums + t, yt, s); break;
      default: launch_gemm<8>(w, qt, scales + t, sums + t, yt, s); break;
    }
    check(cudaGetLastError(), "ternary_gemm kernel launch");
  }
}

}  // namespace ternary::cuda
