// ternary-train: train or fine-tune a LLaMA-style model to ternary weights from a YAML config.
//   ternary-train --config configs/llama_qat.yaml [--set optimizer.lr=3e-4 ...] [--dump-config]
//   ternary-train --resume runs/llama_qat            (continues exactly where it stopped)
//   ternary-train --config-keys                      (every config key, as docs/training.md lists them)
//   ternary-train --nproc 2 --config ...              (2 data-parallel ranks on this machine)
// Under torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set) each process is one rank
// (docs/distributed.md). Exit codes: 0 done, 1 error (one line on stderr), 2 usage, 130 stopped by
// Ctrl-C (checkpoint written).
#include <c10/util/Exception.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "common/cli.h"
#include "common/fnv1a.h"
#include "common/heap_policy.h"
#include "train/distributed_group.h"
#include "train/rank_launcher.h"
#include "train/trainer.h"

namespace {

std::atomic<bool> g_stop_requested{false};

void on_interrupt(int signal) {
  g_stop_requested = true;
  std::signal(signal, SIG_DFL);  // a second Ctrl-C kills at once
}

// The command line minus --nproc: what each launched rank runs.
std::vector<std::string> rank_arguments(int argc, char** argv) {
  std::vector<std::string> arguments;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--nproc") ++i;
    else if (a.rfind("--nproc=", 0) != 0) arguments.push_back(a);
  }
  return arguments;
}

// What every rank must share: the config without the paths and thread count a node may set for
// itself (output_dir, data files, init / teacher paths), hashed.
std::string job_fingerprint(ternary::TrainConfig config) {
  config.output_dir.clear();
  config.threads = 0;
  config.data.text_files.clear();
  config.data.tokenized.clear();
  config.data.tokenizer_model.clear();
  config.data.cache.clear();
  config.init.path.clear();
  config.distillation.teacher.clear();
  const std::string yaml = config.to_yaml();
  return ternary::fnv1a_hex(yaml.data(), yaml.size());
}

int train(const std::string& config_path, const std::vector<std::string>& overrides, const std::string& resume,
          bool dump_config, int nproc, const std::vector<std::string>& arguments) {
  using namespace ternary;
  const LaunchEnvironment environment = LaunchEnvironment::from_environment();
  if (nproc > 1 && environment.distributed())
    throw DistributedError("--nproc " + std::to_string(nproc) + " with RANK/WORLD_SIZE already set: use one or the "
                           "other (torchrun sets them; --nproc starts the ranks itself)");
  std::unique_ptr<Checkpoint> checkpoint;  // read once: its config here, its state in the Trainer
  TrainConfig config;
  if (!resume.empty()) checkpoint = std::make_unique<Checkpoint>(Checkpoint::open(find_checkpoint(resume)));
  if (!config_path.empty()) config = TrainConfig::from_file(config_path, overrides);
  else config = TrainConfig::parse(checkpoint->config_yaml(), checkpoint->dir() + "/config.yaml", overrides);
  if (dump_config) {
    std::cout << config.to_yaml();
    return 0;
  }
  const std::chrono::seconds timeout(config.distributed.timeout_seconds);
  if (nproc > 1) return run_local_ranks(nproc, arguments, timeout);  // the config was checked once, here
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  std::unique_ptr<DistributedGroup> group;
  if (environment.distributed()) {
    // Ranks on one machine share its cores: threads: 0 means this rank's share.
    if (config.threads == 0)
      at::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) /
                                          environment.local_world_size));
    group = DistributedGroup::connect(environment, timeout, job_fingerprint(config));
  }
  Trainer trainer(std::move(config), checkpoint.get(), environment.rank == 0 ? &std::cerr : nullptr, group.get());
  const TrainResult result = trainer.run(&g_stop_requested);
  if (result.interrupted) return 130;
  if (environment.rank != 0) return 0;
  if (result.checkpoint.empty()) {
    std::cerr << "done: the run had already finished at step " << result.step << "; nothing to train" << std::endl;
    return 0;
  }
  std::cerr << "done: " << result.step << " steps, val loss " << result.val_loss << ", checkpoint "
            << result.checkpoint << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ternary::return_large_frees_to_the_os();
  CLI::App app{"ternary-train: quantization-aware training of LLaMA-style models to ternary weights"};
  std::string config_path, resume;
  std::vector<std::string> overrides;
  bool dump_config = false, config_keys = false;
  int nproc = 1;
  app.add_option("-c,--config", config_path, "training config (YAML), e.g. configs/llama_qat.yaml");
  app.add_option("--set", overrides, "override a config key: section.key=value (repeatable)");
  app.add_option("--resume", resume, "continue from a checkpoint dir, or the newest checkpoint of an output dir");
  app.add_flag("--dump-config", dump_config, "print the resolved config and exit");
  app.add_option("--nproc", nproc, "run N data-parallel ranks on this machine (docs/distributed.md)")
      ->check(CLI::Range(1, 1024));
  app.add_flag("--config-keys", config_keys, "print every config key (default, allowed values, meaning) and exit");
  app.set_version_flag("--version", std::string("ternary-train ") + TERNARY_ENGINE_VERSION);
  if (const int exit_code = ternary::cli::parse(app, argc, argv); exit_code >= 0) return exit_code;
  if (config_keys) {
    std::cout << ternary::TrainConfig::keys_markdown();
    return 0;
  }
  if (config_path.empty() && resume.empty()) {
    std::cerr << "ternary-train: error: give --config FILE.yaml (e.g. configs/llama_qat.yaml) or --resume DIR"
              << std::endl;
    return ternary::cli::kUsageError;
  }
  try {
    return train(config_path, overrides, resume, dump_config, nproc, rank_arguments(argc, argv));
  } catch (const std::bad_alloc&) {
    std::cerr << "ternary-train: error: out of memory (a smaller model.dim, training.batch_size or seq_len fits)"
              << std::endl;
  } catch (const c10::Error& e) {
    std::cerr << "ternary-train: error: " << e.what_without_backtrace() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "ternary-train: error: " << e.what() << std::endl;
  }
  return 1;
}
