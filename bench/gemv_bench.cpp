// gemv: the ternary x int8 GEMV (batch 1 decode) on LLaMA-7B shapes, one thread and all threads.
// Reports packed-weight bytes per second against the machine's read bandwidth measured in the same
// run (a streaming read of 1 GiB), and the fp32 GEMV (Eigen) of the same shape as a baseline.
// Matrices are rotated through copies totalling > 512 MiB so every call streams from DRAM, not cache.
#include <omp.h>

#include <Eigen/Core>
#include <cstdio>
#include <random>
#include <vector>

#include "bench/bench_cases.h"
#include "bench/timing.h"
#include "kernels/ternary_gemv.h"

namespace ternary::bench {
namespace {

constexpr size_t kStreamBytes = size_t{1} << 30;
constexpr size_t kRotateBytes = size_t{512} << 20;

// Reads every byte once (OR of 64-bit words), with the same 1 KiB software prefetch as the
// kernel, split across threads: the best plain read the kernel could hope to match.
uint64_t stream_read(const uint8_t* data, size_t bytes) {
  const int64_t lines = static_cast<int64_t>(bytes / 64);
  uint64_t acc = 0;
#pragma omp parallel for reduction(| : acc) schedule(static)
  for (int64_t i = 0; i < lines; ++i) {
    const auto* line = reinterpret_cast<const uint64_t*>(data + i * 64);
    __builtin_prefetch(data + i * 64 + 1024);
    acc |= line[0] | line[1] | line[2] | line[3] | line[4] | line[5] | line[6] | line[7];
  }
  return acc;
}

double read_bandwidth_gbs(const std::vector<uint8_t, Eigen::aligned_allocator<uint8_t>>& buffer, int repeats) {
  std::vector<double> gbs;
  volatile uint64_t sink = 0;
  for (int r = 0; r < repeats; ++r)
    gbs.push_back(static_cast<double>(kStreamBytes) / (time_ms([&] { sink = sink + stream_read(buffer.data(), kStreamBytes); }) * 1e6));
  return median(gbs);
}

}  // namespace

int run_gemv(const Options& options) {
  std::vector<uint8_t, Eigen::aligned_allocator<uint8_t>> stream(kStreamBytes, 1);
  struct Shape { int64_t rows, cols; };
  const int all_threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  const kernels::KernelTier tier = kernels::selected_tier();
  std::mt19937 rng(0);
  for (const Shape s : {Shape{4096, 4096}, Shape{11008, 4096}, Shape{4096, 11008}}) {
    std::vector<int8_t> trits(static_cast<size_t>(s.rows * s.cols));
    std::uniform_int_distribution<int> trit(-1, 1);
    for (auto& t : trits) t = static_cast<int8_t>(trit(rng));
    std::vector<kernels::TernaryMatrix> copies;
    copies.push_back(kernels::TernaryMatrix::from_trits(trits.data(), s.rows, s.cols, {0.01f}));
    while (copies.size() * static_cast<size_t>(copies[0].bytes()) < kRotateBytes) copies.push_back(copies[0].clone());
    std::vector<float> x(static_cast<size_t>(s.cols)), y(static_cast<size_t>(s.rows));
    std::normal_distribution<float> normal;
    for (auto& v : x) v = normal(rng);
    kernels::QuantizedActivations a;
    kernels::quantize_activations(x.data(), s.cols, 1e-5f, a);
    using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const size_t fp32_bytes = static_cast<size_t>(s.rows * s.cols * 4);
    std::vector<RowMajor> dense(std::max<size_t>(2, kRotateBytes / fp32_bytes + 1), RowMajor::Random(s.rows, s.cols));
    const Eigen::Map<const Eigen::VectorXf> xv(x.data(), s.cols);
    Eigen::VectorXf yv(s.rows);

    for (int threads : {1, all_threads}) {
      omp_set_num_threads(threads);
      Eigen::setNbThreads(threads);
      const double bandwidth = read_bandwidth_gbs(stream, std::max(3, options.repeats / 2));
      size_t next = 0;
      for (int i = 0; i < 3; ++i) kernels::ternary_gemv(copies[next++ % copies.size()], a, y.data(), tier);
      std::vector<double> ternary_ms, fp32_ms;
      for (int r = 0; r < options.repeats; ++r) {
        ternary_ms.push_back(time_ms([&] { kernels::ternary_gemv(copies[next++ % copies.size()], a, y.data(), tier); }));
        fp32_ms.push_back(time_ms([&] { yv.noalias() = dense[static_cast<size_t>(r) % dense.size()] * xv; }));
      }
      const double t = median(ternary_ms), f = median(fp32_ms);
      const double gbs = static_cast<double>(copies[0].bytes()) / (t * 1e6);
      std::printf(
          "{\"bench\": \"gemv\", \"rows\": %lld, \"cols\": %lld, \"threads\": %d, \"kernel\": \"%s\", \"repeats\": %d, "
          "\"packed_bytes\": %lld, \"ternary_ms\": %.4f, \"ternary_gb_per_s\": %.2f, \"read_bandwidth_gb_per_s\": %.2f, "
          "\"fraction_of_read_bandwidth\": %.3f, \"target_fraction_1_thread\": 0.6, \"baseline\": \"Eigen fp32 GEMV\", "
          "\"fp32_ms\": %.4f, \"ratio_fp32_over_ternary\": %.2f}\n",
          (long long)s.rows, (long long)s.cols, threads, kernels::to_string(tier), options.repeats,
          (long long)copies[0].bytes(), t, gbs, bandwidth, gbs / bandwidth, f, f / t);
      std::fflush(stdout);
    }
  }
  omp_set_num_threads(all_threads);
  return 0;
}

}  // namespace ternary::bench
