// ddp: data-parallel training throughput on the default config. 2 ranks x 1 thread, each with half
// the global batch, against the strongest one-process baseline on the same 2 cores: 1 process x
// 2 threads with the whole batch. Both are measured in this run. The ranks are this program run
// again by run_local_ranks (the launcher behind `ternary-train --nproc`), on loopback; rank 0
// hands its figures back through a file. Also reported: bytes per step into the gradient
// collective (all-reduce, or reduce-scatter when sharded, which then all-gathers as many), the fraction of
// that communication hidden under backward (1 - time finish() waited / time the same all-reduces
// take back to back; per step, the wait of the rank whose backward ended last), and the optimizer
// state bytes per parameter held by each rank; unsharded, and sharded (optimizer.shard_state:
// reduce-scatter, then an all-gather of the parameters after the step).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_cases.h"
#include "bench/timing.h"
#include "optim/blockwise_optimizer.h"
#include "train/distributed_group.h"
#include "train/gradient_reducer.h"
#include "train/rank_launcher.h"
#include "train/trainer.h"

namespace ternary::bench {
namespace {
namespace fs = std::filesystem;

constexpr int kWorld = 2;
constexpr int kStepsPerSample = 5;

// The default config with `threads`, its batch split over `ranks` (the global batch stays).
TrainConfig bench_config(int threads, int ranks, const std::string& output_dir, bool shard_state = false) {
  const std::string source = TERNARY_SOURCE_DIR;
  TrainConfig config = TrainConfig::from_file(
      source + "/configs/llama_qat.yaml",
      {"output_dir=" + output_dir, "data.text_files=[" + source + "/data/tinyshakespeare.txt]",
       "training.steps=100000", "threads=" + std::to_string(threads),
       std::string("optimizer.shard_state=") + (shard_state ? "true" : "false")});
  if (config.training.batch_size % ranks != 0)
    throw std::runtime_error("ddp bench: the default batch_size does not split over " + std::to_string(ranks) + " ranks");
  config.training.batch_size /= ranks;
  return config;
}

// Median tokens/s of `trainer` over `repeats` samples of kStepsPerSample steps; calls `after_step`
// after each timed step.
template <typename AfterStep>
double tokens_per_s(Trainer& trainer, int64_t tokens_per_step, int repeats, AfterStep after_step) {
  for (int i = 0; i < 3; ++i) trainer.train_step();  // warm-up
  std::vector<double> samples;
  for (int r = 0; r < repeats; ++r) {
    double ms = 0;
    for (int i = 0; i < kStepsPerSample; ++i) {
      ms += time_ms([&] { trainer.train_step(); });
      after_step();
    }
    samples.push_back(static_cast<double>(tokens_per_step * kStepsPerSample) / ms * 1e3);
  }
  return median(samples);
}

double state_bytes_per_param(Trainer& trainer) {
  const auto* optimizer = dynamic_cast<const Blockwise8bitOptimizer*>(&trainer.optimizer());
  if (!optimizer) return -1;
  int64_t params = 0;
  for (const auto& p : trainer.model()->parameters()) params += p.numel();
  return static_cast<double>(optimizer->state_bytes()) / static_cast<double>(params);
}

}  // namespace

int run_ddp_rank(const std::string& result_path, bool shard_state, const Options& options) {
  const LaunchEnvironment environment = LaunchEnvironment::from_environment();
  auto group = DistributedGroup::connect(environment, std::chrono::seconds(120));
  const std::string out = (fs::temp_directory_path() / "ternary_bench_ddp_ranks").string();
  Trainer trainer(bench_config(1, kWorld, out, shard_state), nullptr, nullptr, group.get());
  const TrainingConfig& t = trainer.config().training;
  std::vector<double> waits;  // per timed step: how long finish() waited on this rank
  const double tps = tokens_per_s(trainer, t.batch_size * kWorld * t.seq_len * t.grad_accum, options.repeats,
                                  [&] { waits.push_back(trainer.gradient_reducer()->last_wait_seconds()); });
  // The rank whose backward ended last waits only for communication left unhidden; the other also
  // waits for it. So each step counts the smaller wait over the ranks (max of the negated waits).
  at::Tensor negated = -at::tensor(waits, at::kDouble);
  group->all_reduce_max(negated, "the wait-time exchange");
  const double wait = -negated.mean().item<double>();
  GradientReducer& reducer = *trainer.gradient_reducer();
  std::vector<double> blocking;
  for (int i = 0; i < 5; ++i) blocking.push_back(reducer.time_blocking_collectives());  // gradients only
  const double comm = median(blocking);
  if (group->is_main()) {
    nlohmann::json result{{"tokens_per_s", tps},
                          {"per_rank_batch", t.batch_size},
                          {"seq_len", t.seq_len},
                          {"allreduce_bytes_per_step", reducer.bytes_per_step()},
                          {"buckets", reducer.bucket_count()},
                          {"comm_s_per_step", comm},
                          {"wait_s_per_step", wait},
                          {"hidden_fraction", std::clamp(1.0 - wait / comm, 0.0, 1.0)},
                          {"state_bytes_per_param_per_rank", state_bytes_per_param(trainer)}};
    std::ofstream(result_path) << result.dump();
  }
  return 0;
}

int run_ddp(const Options& options) {
  // The baseline: one process, both cores, the whole batch.
  const std::string out = (fs::temp_directory_path() / "ternary_bench_ddp_one").string();
  fs::remove_all(out);
  double baseline = 0;
  {
    Trainer trainer(bench_config(kWorld, 1, out), nullptr, nullptr);
    const TrainingConfig& t = trainer.config().training;
    baseline = tokens_per_s(trainer, t.batch_size * t.seq_len * t.grad_accum, options.repeats, [] {});
  }
  for (const bool sharded : {false, true}) {
    fs::remove_all((fs::temp_directory_path() / "ternary_bench_ddp_ranks").string());
    const std::string result_path = (fs::temp_directory_path() / "ternary_bench_ddp_result.json").string();
    fs::remove(result_path);
    std::vector<std::string> arguments = {"ddp-rank", "--result", result_path, "--repeats", std::to_string(options.repeats)};
    if (sharded) arguments.push_back("--shard-state");
    const int rc = run_local_ranks(kWorld, arguments, std::chrono::seconds(60));
    if (rc != 0 || !fs::exists(result_path)) {
      std::fprintf(stderr, "ternary-bench ddp: the ranks failed (exit code %d)\n", rc);
      return 1;
    }
    std::ifstream in(result_path);
    nlohmann::json r = nlohmann::json::parse(in);
    const double tps = r["tokens_per_s"].get<double>();
    nlohmann::json line{{"bench", "ddp"}, {"case", "llama_qat"}, {"world_size", kWorld}, {"threads_per_rank", 1},
                        {"global_batch", r["per_rank_batch"].get<int64_t>() * kWorld}, {"seq_len", r["seq_len"]},
                        {"baseline", "1 process x 2 threads, the same global batch"},
                        {"baseline_tokens_per_s", baseline}, {"tokens_per_s", tps}, {"ratio", tps / baseline},
                        {"target_ratio", 0.85}, {"allreduce_bytes_per_step", r["allreduce_bytes_per_step"]},
                        {"allgather_bytes_per_step", sharded ? r["allreduce_bytes_per_step"].get<int64_t>() : 0},
                        {"buckets", r["buckets"]}, {"comm_s_per_step", r["comm_s_per_step"]},
                        {"wait_s_per_step", r["wait_s_per_step"]}, {"hidden_fraction", r["hidden_fraction"]},
                        {"state_bytes_per_param_per_rank", r["state_bytes_per_param_per_rank"]}, {"sharded", sharded},
                        {"repeats", options.repeats}, {"steps_per_sample", kStepsPerSample}};
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace ternary::bench
