// ternary-bench: one JSON object per measured case, each with its baseline measured in the same
// run and the ratio. Usage: ternary-bench [quantlinear|optim|train|gemv|run|checkpoint|ddp|memory|cuda|all] [--repeats N] [--threads N]
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdio>
#include <vector>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "bench/bench_cases.h"

int main(int argc, char** argv) try {
  ternary::bench::Options options;
  std::string suite = "all", result_path;
  bool shard_state = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repeats" && i + 1 < argc) {
      options.repeats = std::stoi(argv[++i]);
    } else if (arg == "--threads" && i + 1 < argc) {
      options.threads = std::stoi(argv[++i]);
    } else if (arg == "--result" && i + 1 < argc) {  // ddp-rank only: where rank 0 writes its figures
      result_path = argv[++i];
    } else if (arg == "--shape" && i + 1 < argc) {  // memory, memory-case
      options.shape = argv[++i];
    } else if (arg == "--case" && i + 1 < argc) {  // memory, memory-case
      options.case_number = std::stoi(argv[++i]);
    } else if (arg == "--shard-state") {  // ddp-rank only
      shard_state = true;
    } else if (arg == "--help" || arg == "-h") {
      std::puts("usage: ternary-bench [quantlinear|optim|train|gemv|run|checkpoint|ddp|memory|cuda|all] [--repeats N] [--threads N]\n"
                "  memory: [--shape 135m|1.1b|3b] [--case 1..5] (default: 135m and 1.1b, every case)");
      return 0;
    } else if (arg.rfind("--", 0) == 0) {
      throw std::invalid_argument("unknown option '" + arg + "' (see --help)");
    } else {
      suite = arg;
    }
  }
  if (options.threads > 0) at::set_num_threads(options.threads);
  const std::vector<std::string> suites = {"quantlinear", "optim", "train", "gemv", "run", "checkpoint", "ddp", "ddp-rank", "memory", "memory-case", "cuda", "all"};
  if (std::find(suites.begin(), suites.end(), suite) == suites.end())
    throw std::invalid_argument("unknown suite '" + suite + "' (known: quantlinear, optim, train, gemv, run, checkpoint, ddp, memory, cuda, all)");
#if !TERNARY_WITH_CUDA
  if (suite == "cuda")
    throw std::invalid_argument("suite 'cuda': this build has no CUDA kernels; rebuild with -DTERNARY_ENABLE_CUDA=ON "
                                "(scripts/build_gpu.sh)");
#endif
  if (suite == "ddp-rank") return ternary::bench::run_ddp_rank(result_path, shard_state, options);
  if (suite == "memory-case") return ternary::bench::run_memory_case(options, result_path);
  int rc = 0;
  if (suite == "quantlinear" || suite == "all") rc |= ternary::bench::run_quantlinear(options);
  if (suite == "optim" || suite == "all") rc |= ternary::bench::run_optim(options);
  if (suite == "train" || suite == "all") rc |= ternary::bench::run_train(options);
  if (suite == "gemv" || suite == "all") rc |= ternary::bench::run_gemv(options);
  if (suite == "run" || suite == "all") rc |= ternary::bench::run_run(options);
  if (suite == "checkpoint" || suite == "all") rc |= ternary::bench::run_checkpoint(options);
  if (suite == "ddp" || suite == "all") rc |= ternary::bench::run_ddp(options);
  if (suite == "memory") rc |= ternary::bench::run_memory(options);  // minutes and GBs: not in "all"
#if TERNARY_WITH_CUDA
  if (suite == "cuda" || suite == "all") rc |= ternary::bench::run_cuda(options);
#endif
  return rc;
} catch (const std::exception& e) {
  std::fprintf(stderr, "ternary-bench: %s\n", e.what());
  return 2;
}
