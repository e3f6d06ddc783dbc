// train: training throughput (tokens/s) of the default config's model with ternary quantization
// (bitnet_b158) against the same model, optimizer and data in full precision (preset none),
// timing Trainer::train_step (forward, backward, clipping, AdamW8bit step), interleaved.
#include <ATen/Parallel.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_cases.h"
#include "bench/timing.h"
#include "train/trainer.h"

namespace ternary::bench {
namespace {

struct TrainCase {
  std::string name;
  std::vector<std::string> overrides;
};

Trainer make_trainer(const TrainCase& c, const std::string& preset) {
  const std::string source = TERNARY_SOURCE_DIR;
  const std::string out = (std::filesystem::temp_directory_path() / ("ternary_bench_train_" + c.name + "_" + preset)).string();
  std::filesystem::remove_all(out);
  std::vector<std::string> overrides = {"output_dir=" + out, "quantization.preset=" + preset,
                                        "data.text_files=[" + source + "/data/tinyshakespeare.txt]",
                                        "data.cache=" + out + ".tokens", "training.steps=100000"};
  overrides.insert(overrides.end(), c.overrides.begin(), c.overrides.end());
  return Trainer(TrainConfig::from_file(source + "/configs/llama_qat.yaml", overrides), "", nullptr);
}

}  // namespace

int run_train(const Options& options) {
  const std::vector<TrainCase> cases = {
      {"llama_qat", {}},
      {"nanogpt_shakespeare_shape", {"model.dim=128", "model.ffn_dim=384", "model.max_seq_len=64", "training.seq_len=64"}},
      {"d512_seq256", {"model.dim=512", "model.ffn_dim=1536", "model.n_heads=8", "model.n_kv_heads=8",
                       "model.max_seq_len=256", "training.seq_len=256", "training.batch_size=8"}},
  };
  constexpr int kStepsPerSample = 10;
  for (const TrainCase& c : cases) {
    Trainer ternary = make_trainer(c, "bitnet_b158");
    Trainer full = make_trainer(c, "none");
    const TrainingConfig& t = ternary.config().training;
    const double tokens = static_cast<double>(kStepsPerSample * t.batch_size * t.seq_len * t.grad_accum);
    for (int i = 0; i < 3; ++i) ternary.train_step(), full.train_step();  // warm-up
    std::vector<double> ternary_tps, full_tps;
    for (int r = 0; r < options.repeats; ++r) {
      full_tps.push_back(tokens / time_ms([&] { for (int i = 0; i < kStepsPerSample; ++i) full.train_step(); }) * 1e3);
      ternary_tps.push_back(tokens / time_ms([&] { for (int i = 0; i < kStepsPerSample; ++i) ternary.train_step(); }) * 1e3);
    }
    const double f = median(full_tps), q = median(ternary_tps);
    const LlamaConfig& m = ternary.config().model;
    std::printf(
        "{\"bench\": \"train\", \"case\": \"%s\", \"dim\": %lld, \"n_layers\": %lld, \"ffn_dim\": %lld, "
        "\"batch\": %lld, \"seq_len\": %lld, \"optimizer\": \"%s\", \"threads\": %d, \"repeats\": %d, "
        "\"steps_per_sample\": %d, \"baseline\": \"same model, preset none (fp32)\", \"baseline_tokens_per_s\": %.0f, "
        "\"ternary_tokens_per_s\": %.0f, \"ratio\": %.3f, \"target_ratio\": 0.8}\n",
        c.name.c_str(), (long long)m.dim, (long long)m.n_layers, (long long)m.ffn_dim, (long long)t.batch_size,
        (long long)t.seq_len, to_string(ternary.config().optimizer.name), at::get_num_threads(), options.repeats,
        kStepsPerSample, f, q, q / f);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace ternary::bench
