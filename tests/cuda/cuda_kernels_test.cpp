// The CUDA kernels against their CPU references on random inputs of many shapes: exact for the
// integer and table paths (ternary GEMM, activation quantization, fake-quant given the scale, the
// 8-bit optimizer step). Built with TERNARY_ENABLE_CUDA; every test skips where no GPU is usable.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cuda/blockwise_update_cuda.h"
#include "kernels/cuda/cuda_runtime_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/fake_quant_cuda.h"
#include "kernels/cuda/ternary_gemv_cuda.h"
#include "kernels/ternary_gemv.h"
#include "kernels/blockwise_update.h"
#include "kernels/dynamic_map.h"
#include "kernels/update_rules.h"
#include "quantizers/fused_fake_quant.h"

namespace ternary {
using namespace kernels;
namespace {

#define SKIP_WITHOUT_GPU() \
  if (!cuda::device_available()) GTEST_SKIP() << "no CUDA device: " << cuda::device_description()

template <typename T>
cuda::DeviceBuffer to_device(const std::vector<T>& host) {
  cuda::DeviceBuffer buffer(std::max<size_t>(1, host.size() * sizeof(T)));
  if (!host.empty()) buffer.upload(host.data(), host.size() * sizeof(T));
  return buffer;
}

template <typename T>
std::vector<T> to_host(const cuda::DeviceBuffer& buffer, size_t n) {
  std::vector<T> host(n);
  if (n > 0) buffer.download(host.data(), n * sizeof(T));
  return host;
}

// Bitwise equality of float arrays, reporting the first difference.
void expect_bit_identical(const std::vector<float>& expected, const std::vector<float>& actual, const char* what) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_EQ(0, std::memcmp(&expected[i], &actual[i], sizeof(float)))
        << what << "[" << i << "]: cpu " << expected[i] << " vs cuda " << actual[i];
}

struct GemmShape {
  int64_t rows, cols, batch;
};

}  // namespace

TEST(CudaTernaryGemm, ActivationsAndOutputsAreBitIdenticalToTheCpuKernels) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(7);
  // Single rows, ragged warps, batches past the 8-token launch, and activations too big for shared memory.
  for (const GemmShape s : {GemmShape{1, 256, 1}, GemmShape{7, 512, 3}, GemmShape{300, 1024, 1},
                            GemmShape{513, 2816, 8}, GemmShape{64, 11008, 9}, GemmShape{4096, 4096, 1},
                            GemmShape{1000, 8192, 17}}) {
    SCOPED_TRACE("rows " + std::to_string(s.rows) + " cols " + std::to_string(s.cols) + " batch " +
                 std::to_string(s.batch));
    std::uniform_int_distribution<int> trit(-1, 1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<int8_t> trits(static_cast<size_t>(s.rows * s.cols));
    for (auto& t : trits) t = static_cast<int8_t>(trit(rng));
    std::vector<float> row_scales(static_cast<size_t>(s.rows));
    for (auto& r : row_scales) r = 0.01f + std::fabs(normal(rng));
    const auto w = kernels::TernaryMatrix::from_trits(trits.data(), s.rows, s.cols, row_scales);
    std::vector<float> x(static_cast<size_t>(s.batch * s.cols));
    for (auto& v : x) v = normal(rng) * 3.0f;
    x[0] = 0.5f * 127.0f;  // an exact .5 code: round half to even must agree

    std::vector<kernels::QuantizedActivations> acts(static_cast<size_t>(s.batch));
    for (int64_t t = 0; t < s.batch; ++t) kernels::quantize_activations(x.data() + t * s.cols, s.cols, 1e-5f, acts[t]);
    std::vector<float> expected(static_cast<size_t>(s.batch * s.rows));
    kernels::ternary_gemm(w, acts.data(), s.batch, expected.data(), kernels::KernelTier::kReference);

    const cuda::CudaTernaryMatrix device_w(w);
    const cuda::DeviceBuffer dx = to_device(x);
    cuda::DeviceBuffer q(x.size()), scales(s.batch * sizeof(float)), sums(s.batch * sizeof(int32_t)),
        y(expected.size() * sizeof(float));
    cuda::quantize_activations(dx.as<float>(), s.batch, s.cols, 1e-5f, q.as<int8_t>(), scales.as<float>(), sums.as<int32_t>());
    cuda::ternary_gemm(device_w, q.as<int8_t>(), scales.as<float>(), sums.as<int32_t>(), s.batch, y.as<float>());

    const auto q_host = to_host<int8_t>(q, x.size());
    const auto scales_host = to_host<float>(scales, s.batch);
    const auto sums_host = to_host<int32_t>(sums, s.batch);
    for (int64_t t = 0; t < s.batch; ++t) {
      ASSERT_EQ(0, std::memcmp(acts[t].q.data(), q_host.data() + t * s.cols, s.cols)) << "int8 codes of token " << t;
      ASSERT_EQ(acts[t].scale, scales_host[t]) << "activation scale of token " << t;
      ASSERT_EQ(acts[t].sum, sums_host[t]) << "code sum of token " << t;
    }
    expect_bit_identical(expected, to_host<float>(y, expected.size()), "y");
  }
}

TEST(CudaFakeQuant, BitIdenticalToTheCpuFusedPassForTheSameScale) {
  SKIP_WITHOUT_GPU();
  at::manual_seed(3);
  for (const auto& [rows, cols, lo, hi] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>{
           {1, 1, -1, 1}, {7, 13, -1, 1}, {256, 1000, -1, 1}, {33, 70, -128, 127}, {1, 70000, -8, 7}}) {
    at::Tensor x = at::randn({rows, cols}) * 2;
    at::Tensor scale = x.abs().mean(1, true).clamp_min(1e-5);
    scale.index_put_({0, 0}, 0.5f);  // makes x = 0.25 a tie: half to even on both sides
    x.index_put_({0, 0}, 0.25f);
    const at::Tensor expected = fused_fake_quant(x, scale, lo, hi).contiguous();

    std::vector<float> xs(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
    std::vector<float> ss(scale.data_ptr<float>(), scale.data_ptr<float>() + rows);
    const cuda::DeviceBuffer dx = to_device(xs), ds = to_device(ss);
    cuda::DeviceBuffer out(xs.size() * sizeof(float));
    cuda::fake_quant_rows(dx.as<float>(), ds.as<float>(), out.as<float>(), rows, cols, static_cast<float>(lo),
                          static_cast<float>(hi));
    expect_bit_identical(std::vector<float>(expected.data_ptr<float>(), expected.data_ptr<float>() + expected.numel()),
                         to_host<float>(out, xs.size()), "fake-quant");
  }
}

namespace {

// float -> the parameter type (kernels::BFloat16 rounds to nearest even, as c10::BFloat16).
template <typename T>
T value_of(float x) {
  if constexpr (std::is_same_v<T, BFloat16>) return BFloat16::from_float(x);
  else return x;
}

// `steps` optimizer steps of `rule_for(step)` on the CPU reference and on the device, from the same
// start; parameters and both states must agree exactly after every step.
template <typename T, typename MakeRule>
void compare_optimizer_steps(int64_t n, int steps, MakeRule rule_for) {
  using Rule = decltype(rule_for(1));
  constexpr bool two = Rule::kStates == 2;
  std::mt19937 rng(static_cast<unsigned>(n));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<T> param(static_cast<size_t>(n));
  for (auto& p : param) p = value_of<T>(normal(rng));
  const size_t blocks = static_cast<size_t>(state_blocks(n));
  std::vector<uint8_t> codes1(static_cast<size_t>(n), DynamicCodebook::signed_map().zero_code());
  std::vector<uint8_t> codes2(static_cast<size_t>(n), DynamicCodebook::unsigned_map().zero_code());
  std::vector<float> absmax1(blocks, 0.0f), absmax2(blocks, 0.0f);

  cuda::DeviceBuffer d_param = to_device(param), d_codes1 = to_device(codes1), d_codes2 = to_device(codes2),
                     d_absmax1 = to_device(absmax1), d_absmax2 = to_device(absmax2);
  const auto type = std::is_same_v<T, float> ? cuda::ParamType::kFloat32 : cuda::ParamType::kBFloat16;
  for (int step = 1; step <= steps; ++step) {
    std::vector<T> grad(static_cast<size_t>(n));
    for (auto& g : grad) g = value_of<T>(normal(rng) * 0.1f);
    if (n > 10) grad[5] = value_of<T>(std::numeric_limits<float>::quiet_NaN());  // keeps p, resets state
    const Rule rule = rule_for(step);
    reference_blockwise_step(param.data(), grad.data(), n, {codes1.data(), absmax1.data()},
                             {codes2.data(), absmax2.data()}, rule);
    const cuda::DeviceBuffer d_grad = to_device(grad);
    cuda::blockwise_step(d_param.as<void>(), d_grad.as<void>(), type, n,
                         {d_codes1.as<uint8_t>(), d_absmax1.as<float>()},
                         {d_codes2.as<uint8_t>(), d_absmax2.as<float>()}, rule);
    SCOPED_TRACE("n " + std::to_string(n) + " step " + std::to_string(step));
    ASSERT_EQ(0, std::memcmp(param.data(), to_host<T>(d_param, param.size()).data(), param.size() * sizeof(T)))
        << "parameters differ";
    ASSERT_EQ(codes1, to_host<uint8_t>(d_codes1, codes1.size())) << "first-moment codes differ";
    ASSERT_EQ(absmax1, to_host<float>(d_absmax1, blocks)) << "first-moment block scales differ";
    if (two) {
      ASSERT_EQ(codes2, to_host<uint8_t>(d_codes2, codes2.size())) << "second-moment codes differ";
      ASSERT_EQ(absmax2, to_host<float>(d_absmax2, blocks)) << "second-moment block scales differ";
    }
  }
}

}  // namespace

TEST(CudaBlockwiseStep, AdamMomentumAndLionMatchTheCpuReferenceExactly) {
  SKIP_WITHOUT_GPU();
  for (const int64_t n : {1, 255, 256, 1000, 70001}) {
    auto adam = [](int step) { return AdamRule::make(1e-3, 0.9, 0.999, 1e-8, 0.01, step); };
    auto momentum = [](int step) { return MomentumRule{0.9f, 1e-2f, 1e-4f, step == 1}; };
    auto lion = [](int) { return LionRule::make(1e-4, 0.9, 0.99, 0.1); };
    compare_optimizer_steps<float>(n, 5, adam);
    compare_optimizer_steps<BFloat16>(n, 5, adam);
    compare_optimizer_steps<float>(n, 5, momentum);
    compare_optimizer_steps<BFloat16>(n, 5, lion);
  }
}

TEST(CudaDeviceBuffer, CopiesPastTheEndAreErrorsNotCorruption) {
  SKIP_WITHOUT_GPU();
  cuda::DeviceBuffer buffer(16);
  std::vector<char> host(32);
  EXPECT_THROW(buffer.upload(host.data(), 32), std::out_of_range);
  EXPECT_THROW(buffer.download(host.data(), 8, 12), std::out_of_range);
}

}  // namespace ternary
