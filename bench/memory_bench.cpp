// memory: peak memory and speed of QAT training steps at seq 512, batch 1, on the 135M and 1.1B
// LLaMA shapes (configs/llama_135m.yaml, configs/llama_1.1b.yaml; --shape 3b for
// configs/llama_3b.yaml). Each case runs in a child process (this program again) that takes two
// steps (the first creates the optimizer state) and an eval, then a third step with an eval and a
// checkpoint save. It reports the kernel's peak RSS (VmHWM), what the save added to it, and the
// third step's tokens/s. Cases, as issue 13 numbers them:
//   1  fp32 AdamW (the baseline)
//   2  AdamW8bit
//   3  AdamW8bit + training.activation_checkpointing
//   4  case 3 + optimizer.step_in_backward (per-parameter clipping)
//   5  case 4 + training.master_weights: bf16 (with bf16 autocast)
// A child the kernel kills (out of memory) is reported as such, with no figures.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_cases.h"
#include "common/heap_policy.h"
#include "train/trainer.h"

extern char** environ;

namespace ternary::bench {
namespace {
namespace fs = std::filesystem;

constexpr int kCases = 5;

int64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

std::string config_file(const std::string& shape) {
  if (shape == "135m") return "configs/llama_135m.yaml";
  if (shape == "1.1b") return "configs/llama_1.1b.yaml";
  if (shape == "3b") return "configs/llama_3b.yaml";
  throw std::invalid_argument("memory: unknown shape '" + shape + "' (135m, 1.1b or 3b)");
}

// Every case sets every memory key, so a shipped config's own choices never leak into a case.
std::vector<std::string> case_overrides(int number) {
  if (number < 1 || number > kCases)
    throw std::invalid_argument("memory: unknown case " + std::to_string(number) + " (1.." + std::to_string(kCases) +
                                ")");
  auto flag = [](bool on) { return std::string(on ? "true" : "false"); };
  std::vector<std::string> overrides = {
      std::string("optimizer.name=") + (number == 1 ? "adamw" : "adamw8bit"),
      "training.activation_checkpointing=" + flag(number >= 3),
      std::string("training.grad_clip_scope=") + (number >= 4 ? "parameter" : "global"),
      std::string("training.master_weights=") + (number >= 5 ? "bf16" : "fp32"),
      std::string("training.autocast=") + (number >= 5 ? "bf16" : "none")};
  if (number >= 2) overrides.push_back("optimizer.step_in_backward=" + flag(number >= 4));  // 8-bit optimizers' key
  return overrides;
}

// Runs this program with `arguments`, its stderr into `stderr_path`; returns the wait status.
int run_child(const std::vector<std::string>& arguments, const std::string& stderr_path) {
  std::vector<char*> argv;
  static std::string self = "/proc/self/exe";
  argv.push_back(self.data());
  std::vector<std::string> copies = arguments;
  for (auto& a : copies) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int spawned = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw std::runtime_error("memory: cannot start a child process");
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// The last line a failed child wrote to stderr: its one-line error.
std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

}  // namespace

int run_memory_case(const Options& options, const std::string& result_path) {
  const std::string& shape = options.shape;
  const int number = options.case_number;
  if (!std::getenv("TERNARY_BENCH_GLIBC_DEFAULT_HEAP")) return_large_frees_to_the_os();  // as ternary-train does
  const std::string source = TERNARY_SOURCE_DIR;
  const std::string out =
      (fs::temp_directory_path() / ("ternary_bench_memory_" + shape + "_" + std::to_string(::getpid()))).string();
  fs::remove_all(out);
  const std::string tokens = (fs::temp_directory_path() / "ternary_bench_memory.tokens").string();
  std::vector<std::string> overrides = {
      "output_dir=" + out, "data.text_files=[" + source + "/data/tinyshakespeare.txt]", "data.cache=" + tokens,
      "training.steps=3", "training.seq_len=512", "training.grad_accum=1", "model.max_seq_len=512",
      "training.batch_size=1", "eval.batches=1", "eval.every=0", "eval.sample_tokens=0", "checkpoint.keep_best=false"};
  for (const auto& o : case_overrides(number)) overrides.push_back(o);
  Trainer trainer(TrainConfig::from_file(source + "/" + config_file(shape), overrides), "", nullptr);
  trainer.train_step();  // the optimizer state comes into being
  trainer.train_step();
  trainer.evaluate();
  const int64_t peak_before_save = peak_rss_bytes();  // two steps and an eval
  trainer.run();  // step 3 (as step 2), an eval and the checkpoint save: what it adds is the save's
  double tokens_per_s = 0;  // step 3's, as run() logged it (its clock starts with the step)
  std::ifstream metrics(out + "/metrics.jsonl");
  for (std::string line; std::getline(metrics, line);)
    if (const auto record = nlohmann::json::parse(line); record.contains("tokens_per_s"))
      tokens_per_s = record["tokens_per_s"].get<double>();
  fs::remove_all(out);
  const int64_t params = trainer.config().model.parameter_count();
  const int64_t peak = peak_rss_bytes();
  nlohmann::json result{{"params", params}, {"peak_rss_bytes", peak},
                        {"bytes_per_param", static_cast<double>(peak) / static_cast<double>(params)},
                        {"tokens_per_s", tokens_per_s},
                        {"save_added_bytes", peak - peak_before_save}};
  std::ofstream(result_path) << result.dump();
  return 0;
}

int run_memory(const Options& options) {
  if (options.case_number != 0) case_overrides(options.case_number);  // an unknown case fails here
  const std::string result_path = (fs::temp_directory_path() / "ternary_bench_memory_result.json").string();
  const std::string stderr_path = (fs::temp_directory_path() / "ternary_bench_memory_stderr.txt").string();
  const char* names[] = {"", "fp32 AdamW", "AdamW8bit", "AdamW8bit + activation checkpointing",
                         "+ step_in_backward", "+ bf16 master weights"};
  const std::vector<std::string> shapes =
      options.shape.empty() ? std::vector<std::string>{"135m", "1.1b"} : std::vector<std::string>{options.shape};
  for (const std::string& shape : shapes) {
    config_file(shape);  // an unknown shape fails before any child starts
    for (int number = 1; number <= kCases; ++number) {
      if (options.case_number != 0 && number != options.case_number) continue;
      fs::remove(result_path);
      const int status = run_child({"memory-case", "--shape", shape, "--case", std::to_string(number), "--result",
                                    result_path},
                                   stderr_path);
      nlohmann::json line{{"bench", "memory"}, {"shape", shape}, {"case", number}, {"name", names[number]},
                          {"seq_len", 512}, {"batch", 1}, {"threads", at::get_num_threads()}};
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && fs::exists(result_path)) {
        std::ifstream in(result_path);
        line.update(nlohmann::json::parse(in));
      } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
        line["oom"] = true;  // a result: this machine cannot hold the case
        line["error"] = "killed by the kernel (out of memory)";
      } else {
        line["error"] = "the case failed (exit status " + std::to_string(WEXITSTATUS(status)) +
                        "): " + last_line(stderr_path);
      }
      std::printf("%s\n", line.dump().c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace ternary::bench
