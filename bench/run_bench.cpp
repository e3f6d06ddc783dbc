// run: end-to-end decode speed of ternary-run on the default config's model shape
// (configs/llama_qat.yaml), exported as TQ2_0, against the same model exported in full precision
// (F32 linears, Eigen), both through the LibTorch-free runtime; and file sizes: the GGUF against
// the fp32 checkpoint. Then a 1B-shaped model (TinyLlama's: dim 2048, 22 layers, 32 heads, 4 kv
// heads, ffn 5632, vocab 32000; TQ2_0 with a Q8_0 output, made by ternary-export --random):
// decode and 256-token prefill tokens/s at 1 and 2 threads against the bandwidth bound (weight
// bytes per token / the best read probe), with the F32-output variant as the baseline. Weights
// are random (speed does not depend on training).
#include <omp.h>

#include <cstdio>
#include <filesystem>

#include "bench/bench_cases.h"
#include "bench/timing.h"
#include "bench/read_bandwidth.h"
#include "export/gguf_export.h"
#include "export/random_model.h"
#include "models/llama_model.h"
#include "runtime/llama_runtime.h"
#include "train/checkpoint.h"
#include "train/train_config.h"

namespace ternary::bench {
namespace {

std::string export_default_model(const std::string& preset, const std::string& dir) {
  TrainConfig config = TrainConfig::from_file(std::string(TERNARY_SOURCE_DIR) + "/configs/llama_qat.yaml",
                                              {"quantization.preset=" + preset});
  config.model.vocab_size = 256;
  LlamaModel model(config.model, config.quantization.recipe());
  const std::string checkpoint = dir + "/checkpoint_" + preset;
  write_checkpoint(checkpoint, *model, nullptr, TrainerState{}, config.to_yaml());
  const std::string gguf = dir + "/model_" + preset + ".gguf";
  export_gguf(checkpoint, gguf, {});
  return gguf;
}

// Median tokens/s of decoding `tokens` tokens one at a time after an 8-token prompt.
double decode_tokens_per_second(runtime::LlamaRuntime& model, int tokens, int repeats) {
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    model.reset();
    model.forward({10, 20, 30, 40, 50, 60, 70, 80});
    const double ms = time_ms([&] {
      int32_t next = 65;
      for (int i = 0; i < tokens; ++i) {
        const std::vector<float> logits = model.forward({next});
        next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      }
    });
    rates.push_back(tokens / (ms / 1e3));
  }
  return median(rates);
}

// Median tokens/s of one `prompt_tokens` prompt through the batched path.
double prefill_tokens_per_second(runtime::LlamaRuntime& model, int prompt_tokens, int repeats) {
  std::vector<int32_t> prompt(static_cast<size_t>(prompt_tokens));
  for (int i = 0; i < prompt_tokens; ++i) prompt[static_cast<size_t>(i)] = 32 + i % 90;
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    model.reset();
    rates.push_back(prompt_tokens / (time_ms([&] { model.forward(prompt); }) / 1e3));
  }
  return median(rates);
}

const std::vector<std::string> k1bShape = {"model.dim=2048",        "model.n_layers=22",     "model.n_heads=32",
                                           "model.n_kv_heads=4",    "model.ffn_dim=5632",    "model.vocab_size=32000",
                                           "model.max_seq_len=2048"};

void run_1b(const std::string& dir, const Options& options) {
  const TrainConfig config = TrainConfig::from_file(std::string(TERNARY_SOURCE_DIR) + "/configs/llama_qat.yaml", k1bShape);
  const std::string q8_path = dir + "/1b_q8_0.gguf", f32_path = dir + "/1b_f32.gguf";
  write_random_model(config, q8_path, {gguf::TensorType::kTQ2_0, gguf::TensorType::kQ8_0, "1b"}, 0);
  write_random_model(config, f32_path, {gguf::TensorType::kTQ2_0, gguf::TensorType::kF32, "1b"}, 0);
  runtime::LlamaRuntime q8(q8_path), f32(f32_path);
  const int repeats = std::max(3, options.repeats / 3), decode_tokens = 32, prompt_tokens = 256;
  const int all_threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  for (int threads : {1, all_threads}) {
    omp_set_num_threads(threads);
    ProbeResult best = read_bandwidth_probes(size_t{1} << 30, threads, 5).front();
    decode_tokens_per_second(q8, 4, 1);  // warm-up: the mapping is paged in
    decode_tokens_per_second(f32, 4, 1);
    struct Phase {
      const char* name;
      double ours, baseline, bytes_per_token, paired_fraction;
    };
    const double q8_bytes = static_cast<double>(q8.weight_bytes());
    // Decode repeats each follow a run of the winning probe: on a shared VM the bandwidth drifts
    // by 10 - 20 % within minutes, so besides the strict fraction (median decode against the best
    // probe run of all) the paired one (each decode against the probe run just before it) says
    // how close the decode comes to what the machine gave at that moment.
    std::vector<double> decode_rates, paired;
    for (int r = 0; r < repeats; ++r) {
      const double gb_per_s = read_bandwidth_probes(size_t{1} << 30, threads, 1, best.probe).front().gb_per_s;
      best.gb_per_s = std::max(best.gb_per_s, gb_per_s);
      decode_rates.push_back(decode_tokens_per_second(q8, decode_tokens, 1));
      paired.push_back(decode_rates.back() / (gb_per_s * 1e9 / q8_bytes));
    }
    const Phase phases[] = {
        {"decode", median(decode_rates), decode_tokens_per_second(f32, decode_tokens, repeats), q8_bytes, median(paired)},
        {"prefill", prefill_tokens_per_second(q8, prompt_tokens, repeats),
         prefill_tokens_per_second(f32, prompt_tokens, repeats), q8_bytes / prompt_tokens, 0}};
    for (const Phase& p : phases) {
      const double bound = best.gb_per_s * 1e9 / p.bytes_per_token;
      char paired_json[16] = "null";  // prefill has no paired fraction
      if (p.paired_fraction > 0) std::snprintf(paired_json, sizeof paired_json, "%.3f", p.paired_fraction);
      std::printf("{\"bench\": \"run\", \"model\": \"1b (TinyLlama shape, random weights, TQ2_0 + Q8_0 output)\", "
                  "\"params\": %lld, \"threads\": %d, \"phase\": \"%s\", \"tokens\": %d, \"kernel\": \"%s\", "
                  "\"repeats\": %d, \"tokens_per_s\": %.2f, \"weight_bytes_per_token\": %.0f, \"read_gb_per_s\": %.2f, "
                  "\"probe\": \"%s\", \"bound_tokens_per_s\": %.2f, \"fraction_of_bound\": %.3f, "
                  "\"paired_fraction_of_bound\": %s, \"target_fraction\": 0.8, "
                  "\"baseline\": \"same model with an F32 output matrix\", \"baseline_tokens_per_s\": %.2f, "
                  "\"ratio\": %.2f}\n",
                  (long long)config.model.parameter_count(), threads, p.name,
                  p.name[0] == 'd' ? decode_tokens : prompt_tokens, kernels::to_string(q8.kernel_tier()), repeats,
                  p.ours, p.bytes_per_token, best.gb_per_s, best.probe.c_str(), bound, p.ours / bound,
                  paired_json,
                  p.baseline,
                  p.ours / p.baseline);
      std::fflush(stdout);
    }
  }
}

}  // namespace

int run_run(const Options& options) {
  const std::string dir = (std::filesystem::temp_directory_path() / "ternary_bench_run").string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string ternary_gguf = export_default_model("bitnet_b158", dir);
  const std::string fp32_gguf = export_default_model("none", dir);
  runtime::LlamaRuntime ternary(ternary_gguf), full(fp32_gguf);
  const int tokens = static_cast<int>(ternary.shape().context_length) - 8;
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  omp_set_num_threads(threads);
  decode_tokens_per_second(ternary, 16, 1);  // warm-up
  decode_tokens_per_second(full, 16, 1);
  const double t = decode_tokens_per_second(ternary, tokens, options.repeats);
  const double f = decode_tokens_per_second(full, tokens, options.repeats);
  const auto gguf_bytes = std::filesystem::file_size(ternary_gguf);
  const auto checkpoint_bytes = std::filesystem::file_size(dir + "/checkpoint_bitnet_b158/model.pt");
  std::printf(
      "{\"bench\": \"run\", \"model\": \"configs/llama_qat.yaml shape\", \"dim\": %lld, \"n_layers\": %lld, "
      "\"ffn_dim\": %lld, \"vocab\": %lld, \"kernel\": \"%s\", \"threads\": %d, \"repeats\": %d, \"decode_tokens\": %d, "
      "\"ternary_tokens_per_s\": %.0f, \"baseline\": \"same model with F32 linears (Eigen)\", "
      "\"fp32_tokens_per_s\": %.0f, \"ratio\": %.2f, \"gguf_bytes\": %llu, \"fp32_checkpoint_bytes\": %llu, "
      "\"size_ratio\": %.3f, \"linear_weight_bytes_per_token\": %lld}\n",
      (long long)ternary.shape().dim, (long long)ternary.shape().n_layers, (long long)ternary.shape().ffn_dim,
      (long long)ternary.shape().vocab_size, kernels::to_string(ternary.kernel_tier()), threads, options.repeats, tokens,
      t, f, t / f, (unsigned long long)gguf_bytes, (unsigned long long)checkpoint_bytes,
      static_cast<double>(gguf_bytes) / static_cast<double>(checkpoint_bytes), (long long)ternary.weight_bytes());
  std::fflush(stdout);
  run_1b(dir, options);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace ternary::bench
