// cuda: the GPU cases (builds with TERNARY_ENABLE_CUDA, on a machine where LibTorch sees a GPU).
//   cuda_gemv   ternary x int8 GEMV (batch 1) on the packed layout: effective bandwidth as a
//               fraction of the measured device-to-device copy bandwidth, and cuBLAS bf16 GEMV
//               (cublasGemmEx, fp32 accumulation) on the same shape as the baseline. Weight copies
//               are rotated so the 50 MB L2 of an H100 cannot serve repeated reads.
//   cuda_optim  one AdamW8bit step on CUDA parameters against torch::optim::AdamW on the same GPU.
//   cuda_train  Trainer::train_step tokens/s of configs/llama_qat.yaml on the GPU against the CPU.
#include <ATen/ATen.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <torch/cuda.h>
#include <torch/optim/adamw.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <vector>

#include "bench/bench_cases.h"
#include "bench/timing.h"
#include "kernels/cuda/cuda_runtime_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/ternary_gemv_cuda.h"
#include "optim/adamw8bit.h"
#include "train/trainer.h"

namespace ternary::bench {
namespace {

using cuda::check;

// Median milliseconds of `fn` (which enqueues GPU work) over `repeats` samples of `inner` calls each.
template <typename Fn>
double median_gpu_ms(int repeats, int inner, Fn fn) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  for (int i = 0; i < inner; ++i) fn(i);  // warm-up
  std::vector<double> samples;
  for (int r = 0; r < repeats; ++r) {
    check(cudaEventRecord(start), "cudaEventRecord");
    for (int i = 0; i < inner; ++i) fn(i);
    check(cudaEventRecord(stop), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    samples.push_back(ms / inner);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return median(samples);
}

// Device-to-device copy bandwidth (bytes read + bytes written per second) on 1 GiB.
double copy_bandwidth_gbs(int repeats) {
  const size_t bytes = size_t{1} << 30;
  cuda::DeviceBuffer a(bytes), b(bytes);
  const double ms = median_gpu_ms(repeats, 5, [&](int) {
    check(cudaMemcpyAsync(b.as<void>(), a.as<void>(), bytes, cudaMemcpyDeviceToDevice), "cudaMemcpyAsync");
  });
  return 2.0 * static_cast<double>(bytes) / (ms * 1e6);
}

void bench_gemv(const Options& options) {
  const double copy_gbs = copy_bandwidth_gbs(options.repeats);
  cublasHandle_t cublas;
  check(cublasCreate(&cublas) == CUBLAS_STATUS_SUCCESS ? cudaSuccess : cudaErrorUnknown, "cublasCreate");
  std::mt19937 rng(1);
  for (const auto& [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{
           {4096, 4096}, {8192, 8192}, {16384, 8192}, {28672, 8192}, {8192, 28672}}) {
    std::vector<int8_t> trits(static_cast<size_t>(rows * cols));
    std::uniform_int_distribution<int> trit(-1, 1);
    for (auto& t : trits) t = static_cast<int8_t>(trit(rng));
    const auto host = kernels::TernaryMatrix::from_trits(trits.data(), rows, cols, std::vector<float>(rows, 0.02f));
    const int copies = static_cast<int>(std::max<int64_t>(2, (256LL << 20) / host.bytes() + 1));  // > 256 MB in all
    std::vector<cuda::CudaTernaryMatrix> weights;
    for (int c = 0; c < copies; ++c) weights.emplace_back(host);
    std::vector<float> x(static_cast<size_t>(cols));
    std::normal_distribution<float> normal;
    for (auto& v : x) v = normal(rng);
    cuda::DeviceBuffer dx(x.size() * 4), q(x.size()), scale(4), sum(4), y(static_cast<size_t>(rows) * 4);
    dx.upload(x.data(), x.size() * 4);
    cuda::quantize_activations(dx.as<float>(), 1, cols, 1e-5f, q.as<int8_t>(), scale.as<float>(), sum.as<int32_t>());
    const double ours_ms = median_gpu_ms(options.repeats, 50, [&](int i) {
      cuda::ternary_gemm(weights[static_cast<size_t>(i % copies)], q.as<int8_t>(), scale.as<float>(),
                         sum.as<int32_t>(), 1, y.as<float>());
    });

    // cuBLAS: y = W x with W (rows, cols) bf16 row-major = (cols, rows) column-major, transposed.
    const size_t dense_bytes = static_cast<size_t>(rows * cols) * 2;
    const int dense_copies = static_cast<int>(std::max<size_t>(2, (256u << 20) / dense_bytes + 1));
    std::vector<cuda::DeviceBuffer> dense;
    for (int c = 0; c < dense_copies; ++c) {
      dense.emplace_back(dense_bytes);
      check(cudaMemset(dense.back().as<void>(), 0, dense_bytes), "cudaMemset");
    }
    cuda::DeviceBuffer xb(static_cast<size_t>(cols) * 2), yb(static_cast<size_t>(rows) * 4);
    check(cudaMemset(xb.as<void>(), 0, xb.bytes()), "cudaMemset");
    const float alpha = 1.0f, beta = 0.0f;
    const double cublas_ms = median_gpu_ms(options.repeats, 50, [&](int i) {
      cublasGemmEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows), 1, static_cast<int>(cols), &alpha,
                   dense[static_cast<size_t>(i % dense_copies)].as<void>(), CUDA_R_16BF, static_cast<int>(cols),
                   xb.as<void>(), CUDA_R_16BF, static_cast<int>(cols), &beta, yb.as<void>(), CUDA_R_32F,
                   static_cast<int>(rows), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    });
    const double ours_gbs = static_cast<double>(host.bytes()) / (ours_ms * 1e6);
    std::printf(
        "{\"bench\": \"cuda_gemv\", \"device\": \"%s\", \"rows\": %lld, \"cols\": %lld, \"weight_bytes\": %lld, "
        "\"ternary_us\": %.2f, \"ternary_gb_per_s\": %.1f, \"copy_gb_per_s\": %.1f, \"fraction_of_copy_bandwidth\": "
        "%.3f, \"target_fraction\": 0.5, \"baseline\": \"cuBLAS bf16 GEMV (cublasGemmEx, fp32 accumulate)\", "
        "\"baseline_us\": %.2f, \"speedup\": %.2f, \"repeats\": %d}\n",
        cuda::device_description().c_str(), (long long)rows, (long long)cols, (long long)host.bytes(), ours_ms * 1e3,
        ours_gbs, copy_gbs, ours_gbs / copy_gbs, cublas_ms * 1e3, cublas_ms / ours_ms, options.repeats);
    std::fflush(stdout);
  }
  cublasDestroy(cublas);
}

void bench_optimizer(const Options& options) {
  const auto make = [] {
    std::vector<at::Tensor> params;
    for (int i = 0; i < 4; ++i) params.push_back(at::randn({4096, 4096}, at::kCUDA));
    return params;
  };
  std::vector<at::Tensor> ours_params = make(), torch_params = make();
  for (auto* group : {&ours_params, &torch_params})
    for (auto& p : *group) p.mutable_grad() = at::randn_like(p);
  AdamW8bit ours(ours_params, AdamW8bitOptions(1e-3).weight_decay(0.01));
  torch::optim::AdamW baseline(torch_params, torch::optim::AdamWOptions(1e-3).weight_decay(0.01));
  std::vector<double> ours_ms, torch_ms;
  for (int r = 0; r < options.repeats + 2; ++r) {  // two warm-up steps (state creation)
    const double a = time_ms([&] { ours.step(); torch::cuda::synchronize(); });
    const double b = time_ms([&] { baseline.step(); torch::cuda::synchronize(); });
    if (r >= 2) ours_ms.push_back(a), torch_ms.push_back(b);
  }
  std::printf(
      "{\"bench\": \"cuda_optim\", \"params\": %lld, \"ours\": \"AdamW8bit\", \"ours_ms\": %.3f, \"baseline\": "
      "\"torch::optim::AdamW (fp32 state, C++ per-parameter kernels)\", \"baseline_ms\": %.3f, \"speedup\": %.2f, "
      "\"ours_state_bytes\": %lld, \"repeats\": %d}\n",
      (long long)(4LL * 4096 * 4096), median(ours_ms), median(torch_ms), median(torch_ms) / median(ours_ms),
      (long long)ours.state_bytes(), options.repeats);
  std::fflush(stdout);
}

void bench_training(const Options& options) {
  const std::string source = TERNARY_SOURCE_DIR;
  auto make = [&](const std::string& device) {
    const std::string out = (std::filesystem::temp_directory_path() / ("ternary_bench_cuda_train_" + device)).string();
    std::filesystem::remove_all(out);
    return Trainer(TrainConfig::from_file(source + "/configs/llama_qat.yaml",
                                          {"output_dir=" + out, "device=" + device, "training.steps=100000",
                                           "data.text_files=[" + source + "/data/tinyshakespeare.txt]",
                                           "data.cache=" + out + ".tokens"}),
                   "", nullptr);
  };
  Trainer gpu = make("cuda"), cpu = make("cpu");
  const TrainingConfig& t = gpu.config().training;
  constexpr int kSteps = 5;
  const double tokens = static_cast<double>(kSteps * t.batch_size * t.seq_len * t.grad_accum);
  for (int i = 0; i < 2; ++i) gpu.train_step(), cpu.train_step();
  std::vector<double> gpu_tps, cpu_tps;
  for (int r = 0; r < options.repeats; ++r) {
    gpu_tps.push_back(tokens / time_ms([&] { for (int i = 0; i < kSteps; ++i) gpu.train_step(); }) * 1e3);
    cpu_tps.push_back(tokens / time_ms([&] { for (int i = 0; i < kSteps; ++i) cpu.train_step(); }) * 1e3);
  }
  std::printf(
      "{\"bench\": \"cuda_train\", \"config\": \"configs/llama_qat.yaml\", \"gpu_tokens_per_s\": %.0f, \"baseline\": "
      "\"the same config on the CPU (%d threads)\", \"cpu_tokens_per_s\": %.0f, \"speedup\": %.2f, \"repeats\": %d}\n",
      median(gpu_tps), at::get_num_threads(), median(cpu_tps), median(gpu_tps) / median(cpu_tps), options.repeats);
  std::fflush(stdout);
}

}  // namespace

int run_cuda(const Options& options) {
  if (!cuda::device_available()) {
    std::printf("{\"bench\": \"cuda\", \"skipped\": \"%s\"}\n", cuda::device_description().c_str());
    return 0;
  }
  bench_gemv(options);
  if (!torch::cuda::is_available()) {
    std::printf("{\"bench\": \"cuda_optim\", \"skipped\": \"LibTorch sees no GPU (a CPU build of LibTorch)\"}\n");
    return 0;
  }
  bench_optimizer(options);
  bench_training(options);
  return 0;
}

}  // namespace ternary::bench
