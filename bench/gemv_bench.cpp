// gemv: the ternary x int8 GEMV (batch 1 decode) on LLaMA-7B shapes, one thread and all threads,
// the output-matrix GEMV (vocab 32000 x 2048) in F32, F16 and Q8_0, and a decode step's ternary
// GEMVs streamed in order at the 1B shape (gemv_layer_stream), then the decode tile's work
// ceiling (decode_work_ceiling: the best probe loaded with the tile's vector ops). Reports weight bytes per
// second against the best read-bandwidth probe of the same run at the same thread count
// (bench/read_bandwidth.h), and the fp32 GEMV (Eigen) of the same shape as a baseline.
// Matrices are rotated through copies totalling > 512 MiB so every call streams from DRAM, not cache.
#include <omp.h>

#include <Eigen/Core>
#include <cstdio>
#include <random>
#include <vector>

#include "bench/bench_cases.h"
#include "bench/read_bandwidth.h"
#include "bench/timing.h"
#include "kernels/dense_gemm.h"
#include "kernels/fp16.h"
#include "kernels/ternary_gemv.h"

namespace ternary::bench {
namespace {

constexpr size_t kStreamBytes = size_t{1} << 30;
constexpr size_t kRotateBytes = size_t{512} << 20;

// The output matrix of a 32k-vocabulary, d2048 model (what every decoded token streams) in each
// --output-type, against the Eigen fp32 GEMV.
template <typename BandwidthAt>
void run_output_gemv(int all_threads, int repeats, std::mt19937& rng, BandwidthAt& bandwidth_at) {
  const int64_t rows = 32000, cols = 2048;
  std::normal_distribution<float> normal(0, 0.02f);
  std::vector<float> w(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
  for (float& v : w) v = normal(rng);
  for (float& v : x) v = normal(rng) * 50;
  std::vector<uint16_t> halves(w.size());
  for (size_t i = 0; i < w.size(); ++i) halves[i] = kernels::fp32_to_fp16(w[i]);
  std::vector<kernels::F16Matrix> f16;
  f16.push_back(kernels::F16Matrix::from_rows(halves.data(), rows, cols));  // as the runtime repacks it
  std::vector<kernels::BlockQ8_0> blocks(w.size() / kernels::kQ8Block);
  kernels::quantize_q8_0(w.data(), rows * cols, blocks.data());
  std::vector<kernels::Q8_0Matrix> q8;
  q8.push_back(kernels::Q8_0Matrix::from_blocks(blocks.data(), rows, cols));  // as the runtime repacks it
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  std::vector<RowMajor> f32(1, Eigen::Map<const RowMajor>(w.data(), rows, cols));
  while (f32.size() * w.size() * 4 < kRotateBytes) f32.push_back(f32[0]);  // every call streams from DRAM
  while (f16.size() * static_cast<size_t>(f16[0].bytes()) < kRotateBytes) f16.push_back(f16[0].clone());
  while (q8.size() * static_cast<size_t>(q8[0].bytes()) < kRotateBytes) q8.push_back(q8[0].clone());
  const Eigen::Map<const Eigen::VectorXf> xv(x.data(), cols);
  Eigen::VectorXf yv(rows);
  kernels::Q8Activations xq;
  for (int threads : {1, all_threads}) {
    omp_set_num_threads(threads);
    Eigen::setNbThreads(threads);
    const ProbeResult best = bandwidth_at(threads);
    std::vector<double> f32_ms, f16_ms, q8_ms;
    for (int r = 0; r < repeats + 1; ++r) {  // the first round warms up
      f32_ms.push_back(time_ms([&] { yv.noalias() = f32[static_cast<size_t>(r) % f32.size()] * xv; }));
      f16_ms.push_back(time_ms([&] { kernels::f16_gemm(f16[static_cast<size_t>(r) % f16.size()], x.data(), 1, y.data()); }));
      q8_ms.push_back(time_ms([&] {
        kernels::q8_0_activations(x.data(), cols, xq);  // part of every token's cost
        kernels::q8_0_gemm(q8[static_cast<size_t>(r) % q8.size()], &xq, 1, y.data());
      }));
    }
    for (auto* v : {&f32_ms, &f16_ms, &q8_ms}) v->erase(v->begin());
    const double f = median(f32_ms);
    const std::pair<const char*, std::pair<double, double>> cases[] = {
        {"F32", {f, 4.0}}, {"F16", {median(f16_ms), 2.0}}, {"Q8_0", {median(q8_ms), 34.0 / 32}}};
    for (const auto& [type, ms_bytes] : cases) {
      const double gbs = static_cast<double>(rows * cols) * ms_bytes.second / (ms_bytes.first * 1e6);
      std::printf("{\"bench\": \"output_gemv\", \"type\": \"%s\", \"rows\": %lld, \"cols\": %lld, \"threads\": %d, "
                  "\"isa\": \"%s\", \"repeats\": %d, \"ms\": %.4f, \"gb_per_s\": %.2f, \"fraction_of_read_bandwidth\": %.3f, "
                  "\"probe\": \"%s\", \"baseline\": \"Eigen fp32 GEMV\", \"fp32_ms\": %.4f, \"ratio_fp32_over_this\": %.2f}\n",
                  type, (long long)rows, (long long)cols, threads, kernels::to_string(kernels::selected_isa()), repeats,
                  ms_bytes.first, gbs, gbs / best.gb_per_s, best.probe.c_str(), f, f / ms_bytes.first);
    }
    std::fflush(stdout);
  }
}

// A decode step's ternary GEMVs at the 1B shape (TinyLlama: dim 2048, ffn 5632, 4 KV heads of 64):
// q, k, v, o, gate, up, down of 22 layers in order, 242 MB, as the runtime streams them per token.
// Separate matrices per layer, so nothing is reused from cache; the fraction is what the decode
// step's ternary part reaches of the best read probe, start-up of each matrix included.
template <typename BandwidthAt>
void run_layer_stream(int all_threads, int repeats, std::mt19937& rng, BandwidthAt& bandwidth_at) {
  const int64_t dim = 2048, kv = 256, ffn = 5632, layers = 22;
  const std::pair<int64_t, int64_t> shapes[] = {{dim, dim}, {kv, dim}, {kv, dim}, {dim, dim}, {ffn, dim}, {ffn, dim}, {dim, ffn}};
  std::uniform_int_distribution<int> trit(-1, 1);
  std::vector<kernels::TernaryMatrix> first;  // one random matrix per shape, cloned for every layer
  for (const auto& [rows, cols] : shapes) {
    std::vector<int8_t> trits(static_cast<size_t>(rows * cols));
    for (auto& t : trits) t = static_cast<int8_t>(trit(rng));
    first.push_back(kernels::TernaryMatrix::from_trits(trits.data(), rows, cols, {0.01f}));
  }
  std::vector<kernels::TernaryMatrix> stream;
  int64_t bytes = 0;
  for (int64_t l = 0; l < layers; ++l)
    for (const auto& m : first) {
      stream.push_back(m.clone());
      bytes += m.bytes();
    }
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(ffn)), y(static_cast<size_t>(ffn));
  for (auto& v : x) v = normal(rng);
  kernels::QuantizedActivations narrow, wide;
  kernels::quantize_activations(x.data(), dim, 1e-5f, narrow);
  kernels::quantize_activations(x.data(), ffn, 1e-5f, wide);
  const kernels::KernelTier tier = kernels::selected_tier();
  auto token = [&] {
    for (const auto& m : stream) kernels::ternary_gemv(m, m.cols() == dim ? narrow : wide, y.data(), tier);
  };
  for (int threads : {1, all_threads}) {
    omp_set_num_threads(threads);
    const ProbeResult best = bandwidth_at(threads);
    token();  // warm-up
    std::vector<double> ms;
    for (int r = 0; r < repeats; ++r) ms.push_back(time_ms(token));
    const double t = median(ms), gbs = static_cast<double>(bytes) / (t * 1e6);
    std::printf("{\"bench\": \"gemv_layer_stream\", \"model\": \"1b ternary linears (22 layers of q, k, v, o, gate, up, "
                "down)\", \"threads\": %d, \"kernel\": \"%s\", \"repeats\": %d, \"packed_bytes\": %lld, \"ms\": %.3f, "
                "\"gb_per_s\": %.2f, \"read_bandwidth_gb_per_s\": %.2f, \"fraction_of_read_bandwidth\": %.3f, "
                "\"probe\": \"%s\"}\n",
                threads, kernels::to_string(tier), repeats, (long long)bytes, t, gbs, best.gb_per_s, gbs / best.gb_per_s,
                best.probe.c_str());
    std::fflush(stdout);
  }
}

}  // namespace

int run_gemv(const Options& options) {
  struct Shape { int64_t rows, cols; };
  const int all_threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  const kernels::KernelTier tier = kernels::selected_tier();
  std::mt19937 rng(0);
  std::vector<ProbeResult> best_at(static_cast<size_t>(all_threads) + 1);
  auto bandwidth_at = [&](int threads) {  // measured once per thread count, printed as its own case
    ProbeResult& best = best_at[static_cast<size_t>(threads)];
    if (best.gb_per_s > 0) return best;
    const auto probes = read_bandwidth_probes(kStreamBytes, threads, std::max(3, options.repeats / 2));
    best = probes.front();
    std::printf("{\"bench\": \"read_bandwidth\", \"threads\": %d, \"bytes\": %zu, \"probe\": \"%s\", "
                "\"gb_per_s\": %.2f, \"probes\": %s}\n",
                threads, kStreamBytes, best.probe.c_str(), best.gb_per_s, probes_json(probes).c_str());
    std::fflush(stdout);
    return best;
  };
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
      const ProbeResult best = bandwidth_at(threads);
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
          "\"fraction_of_read_bandwidth\": %.3f, \"probe\": \"%s\", \"target_fraction_1_thread\": 0.6, \"baseline\": \"Eigen fp32 GEMV\", "
          "\"fp32_ms\": %.4f, \"ratio_fp32_over_ternary\": %.2f}\n",
          (long long)s.rows, (long long)s.cols, threads, kernels::to_string(tier), options.repeats,
          (long long)copies[0].bytes(), t, gbs, best.gb_per_s, gbs / best.gb_per_s, best.probe.c_str(), f, f / t);
      std::fflush(stdout);
    }
  }
  run_output_gemv(all_threads, options.repeats, rng, bandwidth_at);
  run_layer_stream(all_threads, options.repeats, rng, bandwidth_at);
  for (int threads : {1, all_threads}) {
    const auto ceilings = decode_work_ceilings(kStreamBytes, threads, std::max(3, options.repeats / 2));
    for (const DecodeWorkCeiling& c : ceilings)
      std::printf("{\"bench\": \"decode_work_ceiling\", \"threads\": %d, \"vector_ops_per_line\": %d, "
                  "\"gb_per_s\": %.2f, \"hot_gb_per_s\": %.2f, \"fraction_of_0_op_run\": %.3f}\n",
                  threads, c.vector_ops_per_line, c.stream_gb_per_s, c.hot_gb_per_s,
                  c.stream_gb_per_s / ceilings.front().stream_gb_per_s);
    std::fflush(stdout);
  }
  omp_set_num_threads(all_threads);
  return 0;
}

}  // namespace ternary::bench
