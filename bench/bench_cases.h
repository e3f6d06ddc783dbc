// The suites ternary-bench runs; each prints one JSON line per case.
#pragma once

#include <string>

namespace ternary::bench {

struct Options {
  int repeats = 10;  // timed iterations per case; the median is reported
  int threads = 0;   // 0 = LibTorch's default
  std::string shape;    // memory, memory-case: one shape (135m, 1.1b, 3b); memory's default is 135m and 1.1b
  int case_number = 0;  // memory, memory-case: one case (1..5); memory's default is all
};

int run_quantlinear(const Options& options);
int run_optim(const Options& options);
int run_train(const Options& options);
int run_gemv(const Options& options);
int run_run(const Options& options);
int run_checkpoint(const Options& options);
int run_ddp(const Options& options);
int run_memory(const Options& options);
// One case of the memory suite, in its own process; writes its figures to `result_path`.
int run_memory_case(const Options& options, const std::string& result_path);
// One rank of the ddp suite (ternary-bench re-run by the launcher); rank 0 writes its figures to
// `result_path`.
int run_ddp_rank(const std::string& result_path, bool shard_state, const Options& options);
int run_cuda(const Options& options);  // bench/cuda_bench.cpp, CUDA builds only

}  // namespace ternary::bench
