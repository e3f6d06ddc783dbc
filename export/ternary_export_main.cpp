// ternary-export: freeze a ternary-train checkpoint into one GGUF file.
//   ternary-export --checkpoint runs/llama_qat/checkpoints/step_001500 --out model.gguf [--type tq2_0|tq1_0]
//                  [--output-type f32|f16|q8_0]
//   ternary-export --random configs/llama_qat.yaml [--set model.dim=2048 ...] [--seed N] --out random.gguf
// (--random: the config's shape and tokenizer with random weights, for benchmarks.)
// (--checkpoint may also name an output dir: its newest checkpoint is used.)
#include <c10/util/Exception.h>

#include <filesystem>
#include <iostream>

#include "common/cli.h"

#include "export/gguf_export.h"
#include "export/random_model.h"
#include "train/checkpoint.h"

int main(int argc, char** argv) {
  CLI::App app{"ternary-export: a ternary-train checkpoint (or a config's shape, with random weights) -> GGUF"};
  std::string checkpoint, random_config, out, type = "tq2_0", output_type = "f32", name;
  std::vector<std::string> overrides;
  uint64_t seed = 0;
  auto* from_checkpoint =
      app.add_option("--checkpoint", checkpoint, "checkpoint dir, or a training output dir (newest checkpoint)");
  auto* from_random = app.add_option("--random", random_config,
                                     "a training config (YAML): write a model of its shape and tokenizer with random "
                                     "weights, for benchmarks (no training)");
  from_checkpoint->excludes(from_random);
  app.add_option("--set", overrides, "with --random: override a config key, section.key=value (repeatable)")
      ->needs(from_random);
  app.add_option("--seed", seed, "with --random: the weights' seed (default 0)")->needs(from_random);
  app.add_option("--out", out, "the GGUF file to write")->required();
  app.add_option("--type", type, "ternary block format: tq2_0 (default, 2.06 bits) or tq1_0 (1.69 bits)")
      ->check(CLI::IsMember({"tq2_0", "tq1_0"}));
  app.add_option("--output-type", output_type,
                 "full-precision matrices (embedding, output): f32 (default, exact), f16, or q8_0 (8.5 bits, "
                 "llama.cpp's Q8_0; logits within the tolerance docs/export_runtime.md states)")
      ->check(CLI::IsMember({"f32", "f16", "q8_0"}));
  app.add_option("--name", name, "general.name (default: the checkpoint directory name, or 'random')");
  app.set_version_flag("--version", std::string("ternary-export ") + TERNARY_ENGINE_VERSION);
  if (const int exit_code = ternary::cli::parse(app, argc, argv); exit_code >= 0) return exit_code;
  if (checkpoint.empty() && random_config.empty()) {
    std::cerr << "ternary-export: error: give --checkpoint DIR (a trained model) or --random CONFIG.yaml (random "
                 "weights)"
              << std::endl;
    return ternary::cli::kUsageError;
  }
  if (std::filesystem::is_directory(out)) {
    std::cerr << "ternary-export: error: --out " << out << " is a directory; give the GGUF file's name, e.g. "
              << out << "/model.gguf" << std::endl;
    return ternary::cli::kUsageError;
  }
  const std::string& source = random_config.empty() ? checkpoint : random_config;
  try {
    ternary::ExportOptions options;
    options.ternary_type = type == "tq1_0" ? ternary::gguf::TensorType::kTQ1_0 : ternary::gguf::TensorType::kTQ2_0;
    options.output_type = output_type == "q8_0" ? ternary::gguf::TensorType::kQ8_0
                          : output_type == "f16" ? ternary::gguf::TensorType::kF16
                                                 : ternary::gguf::TensorType::kF32;
    options.name = name;
    std::string from;
    ternary::ExportSummary s;
    if (!random_config.empty()) {
      s = ternary::write_random_model(ternary::TrainConfig::from_file(random_config, overrides), out, options, seed);
      from = "random weights (seed " + std::to_string(seed) + ") in the shape of " + random_config;
    } else {
      from = ternary::find_checkpoint(checkpoint, "--checkpoint");
      s = ternary::export_gguf(from, out, options);
      from += " (checkpoint model.pt: " + std::to_string(s.checkpoint_model_bytes) + " bytes)";
    }
    std::cout << "wrote " << out << ": " << s.ternary_tensors << " ternary (" << type << "), " << s.matrix_tensors
              << " full-precision (" << output_type << ") and " << s.float_tensors << " F32 norm tensors, "
              << s.file_bytes << " bytes, from " << from << std::endl;
    return 0;
  } catch (const std::bad_alloc&) {
    std::cerr << "ternary-export: error: out of memory exporting " << source << std::endl;
  } catch (const c10::Error& e) {
    std::cerr << "ternary-export: error: " << e.what_without_backtrace() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "ternary-export: error: " << e.what() << std::endl;
  }
  return 1;
}
