// ternary-calibrate: initialise a ternary model from a pretrained full-precision one with
// calibration (GPTQ, AWQ or both; docs/conversion.md), measure it before any training, and
// optionally write it as a checkpoint that ternary-export and ternary-train (init.from: checkpoint)
// take.
//   ternary-calibrate --config configs/llama_qat.yaml --set init.from=checkpoint \
//       --set init.path=runs/teacher/checkpoints/best --method gptq [--out runs/converted]
// It runs what `init.calibrate` runs at the start of training: statistics are collected once into
// init.calibration_statistics and reused. Prints one JSON line (method, val loss, mean relative
// output errors, seconds); the per-layer report is <output_dir>/calibration_report.json.
// Exit codes: 0 done, 1 error (one line on stderr), 2 usage.
#include <c10/util/Exception.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/cli.h"
#include "common/heap_policy.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace {

int calibrate(const std::string& config_path, std::vector<std::string> overrides, const std::string& method,
              const std::string& out) {
  using namespace ternary;
  if (!method.empty()) overrides.push_back("init.calibrate=" + method);
  TrainConfig config = TrainConfig::from_file(config_path, overrides);
  if (config.init.from == ModelSource::kScratch)
    throw ConfigError("ternary-calibrate converts a pretrained model: set init.from: checkpoint or hf and init.path");
  const auto start = std::chrono::steady_clock::now();
  Trainer trainer(std::move(config), "", &std::cerr);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double val_loss = trainer.evaluate();
  const TrainConfig& resolved = trainer.config();
  nlohmann::ordered_json line;
  line["method"] = to_string(resolved.init.calibrate);
  line["val_loss"] = val_loss;
  line["seconds"] = seconds;
  line["report"] = resolved.init.calibrate == CalibrationMethod::kAbsmean
                       ? std::string()
                       : resolved.output_dir + "/calibration_report.json";
  if (!out.empty()) {
    TrainerState state;
    state.val_loss = val_loss;
    state.best_val_loss = val_loss;
    write_checkpoint(out, *trainer.model(), nullptr, state, resolved.to_yaml());
    line["checkpoint"] = out;
  }
  std::cout << line.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ternary::return_large_frees_to_the_os();
  CLI::App app{"ternary-calibrate: initialise ternary weights from a pretrained model with GPTQ / AWQ calibration"};
  std::string config_path, method, out;
  std::vector<std::string> overrides;
  app.add_option("-c,--config", config_path, "training config (YAML) with init.from and init.path")->required();
  app.add_option("--set", overrides, "override a config key: section.key=value (repeatable)");
  app.add_option("--method", method, "absmean, gptq, awq or awq+gptq (default: the config's init.calibrate)")
      ->check(CLI::IsMember({"absmean", "gptq", "awq", "awq+gptq"}));
  app.add_option("--out", out, "write the initialised model as a checkpoint directory");
  if (const int exit_code = ternary::cli::parse(app, argc, argv); exit_code >= 0) return exit_code;
  try {
    return calibrate(config_path, overrides, method, out);
  } catch (const std::bad_alloc&) {
    std::cerr << "ternary-calibrate: error: out of memory (fewer init.calibration_sequences fit)" << std::endl;
  } catch (const c10::Error& e) {
    std::cerr << "ternary-calibrate: error: " << e.what_without_backtrace() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "ternary-calibrate: error: " << e.what() << std::endl;
  }
  return 1;
}
