// run: end-to-end decode speed of ternary-run on the default config's model shape
// (configs/llama_qat.yaml), exported as TQ2_0, against the same model exported in full precision
// (F32 linears, Eigen), both through the LibTorch-free runtime; and file sizes: the GGUF against
// the fp32 checkpoint. Weights are random (speed does not depend on training).
#include <omp.h>

#include <cstdio>
#include <filesystem>

#include "bench/bench_cases.h"
#include "bench/timing.h"
#include "export/gguf_export.h"
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
  return 0;
}

}  // namespace ternary::bench
