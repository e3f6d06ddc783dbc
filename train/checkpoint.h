// Training checkpoints: one directory per checkpoint, written atomically (files go to a hidden
// temporary directory, each fsync'ed, then one rename), so a crash or Ctrl-C never leaves a half
// checkpoint and never damages an existing one.
//   step_000500/  manifest.json  format, version, step, and the size + FNV-1a hash of every file
//                 model.pt       parameters and buffers (torch archive)
//                 optimizer.pt   optimizer state (torch archive)
//                 trainer.pt     step, tokens seen, val losses, data-sampling RNG state
//                 config.yaml    the resolved training config (TrainConfig::to_yaml)
// Loading checks the manifest and every hash first: a corrupt or truncated checkpoint is a clear
// error that names the file, and nothing is loaded from it.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace ternary {

// A checkpoint that cannot be used (missing, corrupt, incompatible); the message names the file.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TrainerState {
  int64_t step = 0;         // optimizer steps done
  int64_t tokens_seen = 0;  // training tokens consumed
  double val_loss = std::numeric_limits<double>::quiet_NaN();  // at this step, NaN when not evaluated
  double best_val_loss = std::numeric_limits<double>::infinity();
  at::Tensor rng_state;     // the data-sampling generator's state (uint8)
};

// Writes `dir` atomically; an existing `dir` is replaced only once the new one is complete.
void write_checkpoint(const std::string& dir, const torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                      const TrainerState& state, const std::string& config_yaml);

// Checks the manifest and every file's size and hash; throws CheckpointError naming the problem.
void verify_checkpoint(const std::string& dir);
// The resolved config stored in a (verified) checkpoint.
std::string read_checkpoint_config(const std::string& dir);
// Copies the model's parameters and buffers from the checkpoint (same names and shapes required;
// nothing changes on a mismatch). Without quantizer state ("*_quantizer.*"), for starting a new
// run from trained weights under another recipe: call initialize_quantizers() afterwards.
void load_model_tensors(const std::string& dir, torch::nn::Module& model, bool include_quantizer_state);
// Loads parameters (same names and shapes required), the optimizer state when `optimizer` is
// given, and returns the trainer state. Verifies the checkpoint first.
TrainerState load_checkpoint(const std::string& dir, torch::nn::Module& model, torch::optim::Optimizer* optimizer);

// `path` itself when it is a checkpoint, else the newest <path>/checkpoints/step_* ; throws when none.
std::string find_checkpoint(const std::string& path);
// The step_* directories under `checkpoints_dir`, oldest first.
std::vector<std::string> list_step_checkpoints(const std::string& checkpoints_dir);
// Deletes all but the newest `keep_last` step_* checkpoints (and leftovers of interrupted writes).
void prune_checkpoints(const std::string& checkpoints_dir, int64_t keep_last);
// "step_000500"
std::string step_checkpoint_name(int64_t step);

}  // namespace ternary
