// ternary-run: generate text from, or measure perplexity of, a GGUF written by ternary-export.
// LibTorch-free: mmap'd weights, ternary x int8 SIMD kernels, KV cache.
//   ternary-run --model model.gguf --prompt "ROMEO:" [-n 200] [--temperature 0.8] [--top-k 40] [--top-p 0.95] [--seed 0] [--threads N]
//   ternary-run --model model.gguf --perplexity valid.txt [--window N]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/cli.h"
#include "common/threads.h"
#include "runtime/gguf_tokenizer.h"
#include "runtime/llama_runtime.h"
#include "runtime/perplexity.h"
#include "runtime/sampler.h"

namespace {

using namespace ternary::runtime;

int generate(LlamaRuntime& model, const ternary::Tokenizer& tokenizer, const std::string& prompt, int64_t n,
             const SamplerOptions& options) {
  Sampler sampler(options);
  std::vector<int32_t> context = tokenizer.encode(prompt);
  if (context.empty()) throw std::invalid_argument("--prompt is empty after tokenization; give some text");
  const int64_t ctx = model.shape().context_length;
  if (static_cast<int64_t>(context.size()) >= ctx)
    throw std::invalid_argument("--prompt is " + std::to_string(context.size()) + " tokens, but the model's context is " +
                                std::to_string(ctx) + " (room for at most " + std::to_string(ctx - 1) +
                                " prompt tokens); shorten the prompt");
  // Model rows past the tokenizer's vocabulary (padding) are never sampled: they have no text.
  const int64_t sampled_vocab = std::min(model.shape().vocab_size, tokenizer.vocab_size());
  std::cout << prompt << std::flush;
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const int64_t prompt_tokens = static_cast<int64_t>(context.size());
  std::vector<float> logits = model.forward(context);  // the prompt in one batch
  const auto prompt_done = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    const int32_t next = sampler.sample(logits.data(), sampled_vocab);
    std::cout << tokenizer.decode_one(next) << std::flush;
    context.push_back(next);
    if (model.position() >= ctx) {  // full: continue from the last half of the window
      model.reset();
      context.erase(context.begin(), context.end() - ctx / 2);
      logits = model.forward(context);
    } else {
      logits = model.forward({next});
    }
  }
  const double prompt_s = std::chrono::duration<double>(prompt_done - start).count();
  const double generation_s = std::chrono::duration<double>(Clock::now() - prompt_done).count();
  std::cout << std::endl;
  std::cerr << "[prompt: " << prompt_tokens << " tokens in " << prompt_s << " s, "
            << static_cast<double>(prompt_tokens) / prompt_s << " tokens/s; generation: " << n << " tokens in "
            << generation_s << " s, " << static_cast<double>(n) / generation_s << " tokens/s; kernel "
            << ternary::kernels::to_string(model.kernel_tier()) << ", " << omp_get_max_threads() << " threads]"
            << std::endl;
  return 0;
}

int measure_perplexity(LlamaRuntime& model, const ternary::Tokenizer& tokenizer, const std::string& path, int64_t window) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open the text file for --perplexity");
  std::stringstream text;
  text << in.rdbuf();
  const PerplexityResult r = perplexity(model, tokenizer.encode(text.str()), window > 0 ? window : model.shape().context_length);
  std::cout << "perplexity " << r.perplexity << " (mean NLL " << r.mean_nll << " nats/token over " << r.tokens
            << " tokens in " << r.windows << " windows)" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ternary-run: run a ternary GGUF model (LibTorch-free)"};
  std::string model_path, prompt, perplexity_file;
  int64_t n = 200, window = 0;
  int threads = 0;
  SamplerOptions sampling;
  app.add_option("-m,--model", model_path, "GGUF file from ternary-export")->required();
  auto* prompt_opt = app.add_option("-p,--prompt", prompt, "text to continue");
  auto* ppl_opt = app.add_option("--perplexity", perplexity_file, "a text file: print its perplexity");
  prompt_opt->excludes(ppl_opt);
  constexpr int64_t kMaxTokens = 1'000'000'000;
  app.add_option("-n", n, "tokens to generate (default 200)")->check(CLI::Range(int64_t{0}, kMaxTokens));
  app.add_option("--temperature", sampling.temperature, "0 = greedy (default 0.8)")->check(CLI::Range(0.0, 100.0));
  app.add_option("--top-k", sampling.top_k, "sample from the k most likely tokens, 0 = all (default 40)")
      ->check(CLI::Range(int64_t{0}, kMaxTokens));
  app.add_option("--top-p", sampling.top_p, "nucleus sampling mass in (0, 1] (default 0.95)")->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", sampling.seed, "random seed (default 0)");
  app.add_option("--threads", threads, "threads (default: all cores)")->check(CLI::Range(1, ternary::max_threads()));
  app.add_option("--window", window, "perplexity window in tokens (default: the model's context length)")
      ->check(CLI::Range(int64_t{1}, kMaxTokens));
  std::string device = "cpu";
  app.add_option("--device", device, "cpu, or cuda: ternary linears on the GPU (CUDA builds; default cpu)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.set_version_flag("--version", std::string("ternary-run ") + TERNARY_ENGINE_VERSION);
  if (const int exit_code = ternary::cli::parse(app, argc, argv); exit_code >= 0) return exit_code;
  if (prompt.empty() && perplexity_file.empty()) {
    std::cerr << "ternary-run: error: give --prompt TEXT or --perplexity FILE" << std::endl;
    return ternary::cli::kUsageError;
  }
  try {
    if (threads > 0) omp_set_num_threads(threads);
    LlamaRuntime model(model_path, ternary::parse_device(device));
    const ternary::Tokenizer tokenizer = tokenizer_from_gguf(model.file());
    return perplexity_file.empty() ? generate(model, tokenizer, prompt, n, sampling)
                                   : measure_perplexity(model, tokenizer, perplexity_file, window);
  } catch (const std::bad_alloc&) {
    std::cerr << "ternary-run: error: out of memory loading or running " << model_path << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "ternary-run: error: " << e.what() << std::endl;
    return 1;
  }
}
