// The training config of `ternary-train`: every option in one place, with its default.
// Resolution order: these defaults < the YAML file < `--set section.key=value` overrides.
// Each section declares its keys once (train/config_schema.h): parse, to_yaml and the key table
// of docs/training.md come from that one list. Unknown keys, wrong types, non-finite numbers and
// impossible shapes are ConfigErrors naming file, line and key ("configs/x.yaml:7: unknown key
// 'dimm' in model (expected one of: ...)"); a bad --set value names the override instead.
// `to_yaml()` prints the resolved config (--dump-config, checkpoints), and parsing that text
// gives the same config back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config_error.h"
#include "common/device.h"
#include "common/tokenizer.h"
#include "models/llama_config.h"
#include "quantizers/recipe.h"
#include "train/optimizer_config.h"

namespace ternary {

struct QuantizationConfig {
  std::string preset = "bitnet_b158";  // Recipe::from_preset(preset): embeddings and lm_head stay full precision
  std::string rules_yaml;              // an explicit recipe (inline `rules:` or a `recipe:` file), as YAML text
  int64_t warmup_steps = 0;            // λ ramps 0 -> 1 over these steps (fine-tuning); 0 = fully quantized
  Recipe recipe() const;               // the rules when given, else the preset's recipe
  bool operator==(const QuantizationConfig&) const = default;
};

struct ScheduleConfig {
  int64_t warmup_steps = 100;  // linear lr warm-up
  int64_t decay_steps = 0;     // cosine decay ends here; 0 = training.steps
  double min_lr_ratio = 0.1;   // lr floor as a fraction of optimizer.lr
  bool operator==(const ScheduleConfig&) const = default;
};

enum class Autocast { kNone, kBf16 };  // kBf16: forward in bfloat16 autocast (master weights stay fp32)
const char* to_string(Autocast autocast);

// What training.grad_clip bounds: the norm of all gradients together, or each parameter's own.
enum class GradClipScope { kGlobal, kParameter };
const char* to_string(GradClipScope scope);

// The dtype of the latent (trained) weight matrices: fp32, or bf16 updated by the 8-bit optimizer
// with stochastic rounding (norms and quantizer scales stay fp32).
enum class MasterWeights { kFp32, kBf16 };
const char* to_string(MasterWeights dtype);

// A step whose loss or gradient norm is NaN/Inf: kSkip leaves the weights and optimizer state as
// they were (as AMP's GradScaler skips), and the run stops after max_nonfinite_steps in a row;
// kStop stops at the first.
enum class OnNonFinite { kSkip, kStop };
const char* to_string(OnNonFinite policy);

struct TrainingConfig {
  int64_t steps = 2000;
  int64_t batch_size = 12;
  int64_t seq_len = 64;
  int64_t grad_accum = 1;    // micro-batches per optimizer step
  double grad_clip = 1.0;    // max global grad norm; 0 = no clipping
  GradClipScope grad_clip_scope = GradClipScope::kGlobal;
  MasterWeights master_weights = MasterWeights::kFp32;
  Autocast autocast = Autocast::kNone;
  OnNonFinite on_nonfinite = OnNonFinite::kSkip;
  int64_t max_nonfinite_steps = 10;  // consecutive skipped steps before the run stops as diverged
  bool tensorboard = false;          // also write TensorBoard event files to <output_dir>/tensorboard
  bool activation_checkpointing = false;  // recompute each decoder layer in backward (less memory)
  bool operator==(const TrainingConfig&) const = default;
};

struct EvalConfig {
  int64_t every = 250;           // eval (and sample) every N steps and at the end; 0 = only at the end
  int64_t batches = 20;          // validation batches of training.batch_size x training.seq_len
  int64_t log_every = 50;        // a progress line every N steps when stderr is not a terminal
  int64_t sample_tokens = 200;   // 0 = no samples
  std::string sample_prompt = "\n";
  double temperature = 0.8;
  int64_t top_k = 0;             // 0 = the whole vocabulary
  bool operator==(const EvalConfig&) const = default;
};

struct CheckpointConfig {
  int64_t every = 500;   // and always at the end and on Ctrl-C; 0 = only then
  int64_t keep_last = 2;
  bool keep_best = true;  // also keep `best/`, the checkpoint with the lowest val loss
  bool operator==(const CheckpointConfig&) const = default;
};

struct DataConfig {
  std::vector<std::string> text_files = {"data/tinyshakespeare.txt"};
  std::string tokenized;          // a pre-tokenized TTOKENS1 file instead of text_files
  TokenizerKind tokenizer = TokenizerKind::kBytes;
  std::string tokenizer_model;    // tokenizer.model for sentencepiece
  std::string cache;              // tokenized cache; empty = <output_dir>/tokens.bin
  double val_fraction = 0.1;
  bool operator==(const DataConfig&) const = default;
};

// Where initial (or teacher) weights come from.
enum class ModelSource { kScratch, kCheckpoint, kHf };
const char* to_string(ModelSource source);

// How the ternary weights are chosen from pretrained ones (train/calibration.h).
enum class CalibrationMethod { kAbsmean, kGptq, kAwq, kAwqGptq };
const char* to_string(CalibrationMethod method);

struct InitConfig {
  ModelSource from = ModelSource::kScratch;
  std::string path;              // checkpoint dir or Hugging Face LLaMA dir
  CalibrationMethod calibrate = CalibrationMethod::kAbsmean;  // absmean = the recipe's rounding, no calibration
  int64_t calibration_sequences = 128;  // of training.seq_len tokens from the training split
  std::string calibration_statistics;   // directory; empty = <output_dir>/calibration
  double gptq_damp = 0.01;
  int64_t gptq_block_size = 128;
  int64_t awq_grid = 20;
  bool operator==(const InitConfig&) const = default;
};

struct DistillationConfig {
  std::string teacher;                                 // empty = no distillation
  ModelSource teacher_from = ModelSource::kCheckpoint;  // checkpoint | hf; the teacher runs in full precision
  double weight = 0.5;                 // loss = (1 - weight) * CE + weight * T^2 * KL(teacher || student)
  double temperature = 2.0;
  bool enabled() const { return !teacher.empty(); }
  bool operator==(const DistillationConfig&) const = default;
};

// A multi-process run (torchrun's variables or `ternary-train --nproc N`; docs/distributed.md).
struct DistributedConfig {
  int64_t timeout_seconds = 300;  // a collective or the rendezvous waiting longer fails with one line
  double bucket_mb = 25.0;        // gradients all-reduced in buckets of about this size, as DDP's bucket_cap_mb
  bool operator==(const DistributedConfig&) const = default;
};

struct TrainConfig {
  LlamaConfig model;        // vocab_size 0 = the tokenizer's; max_seq_len 0 = training.seq_len
  QuantizationConfig quantization;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  TrainingConfig training;
  EvalConfig eval;
  CheckpointConfig checkpoint;
  DataConfig data;
  InitConfig init;
  DistillationConfig distillation;
  DistributedConfig distributed;
  int64_t seed = 1337;
  int64_t threads = 0;      // 0 = LibTorch's default; at most 4 x the hardware threads
  Device device = Device::kCpu;
  std::string output_dir = "runs/llama_qat";
  bool operator==(const TrainConfig&) const = default;

  // Defaults, then `yaml_text` (named `source` in errors), then each "a.b=value" of `overrides`.
  static TrainConfig parse(const std::string& yaml_text, const std::string& source,
                           const std::vector<std::string>& overrides = {});
  static TrainConfig from_file(const std::string& path, const std::vector<std::string>& overrides = {});
  std::string to_yaml() const;  // the resolved config, every key
  // The table of every key (markdown rows: key, default, allowed values, meaning) that
  // docs/training.md carries; `ternary-train --config-keys` prints it.
  static std::string keys_markdown();
};

}  // namespace ternary
