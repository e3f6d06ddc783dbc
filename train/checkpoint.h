// Training checkpoints: one directory per checkpoint, written atomically (files go to a hidden
// temporary directory, each fsync'ed, then one rename), so a crash or Ctrl-C never leaves a half
// checkpoint and never damages an existing one.
//   step_000500/  manifest.json  format, version, step, and the size + FNV-1a hash of every file
//                 model.pt       parameters and buffers (torch archive)
//                 optimizer.pt   optimizer state (torch archive)
//                 trainer.pt     step, tokens seen, val losses, data-sampling RNG state
//                 config.yaml    the resolved training config (TrainConfig::to_yaml)
//                 optimizer_shard_<r>_of_<n>.pt  each rank's optimizer state, when it is sharded
//                                (optimizer.shard_state; optimizer.pt is then empty)
// Checkpoint::open reads the manifest and every file once and checks every size and hash before
// anything is used: a corrupt or truncated checkpoint is a clear error that names the file, and
// nothing is loaded from it. Export sits above train/ because it reads these directories.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}
namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize

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
// `parts` are files other processes already wrote into it (begin_checkpoint, write_checkpoint_part):
// they are hashed from disk and listed in the manifest with the rest.
void write_checkpoint(const std::string& dir, const torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                      const TrainerState& state, const std::string& config_yaml,
                      const std::vector<std::string>& parts = {});
// A checkpoint written by several processes (a sharded optimizer): one process calls
// begin_checkpoint (an empty staging directory); each writes its parts; after all are written, the
// first calls write_checkpoint with their names. The caller orders the calls (barriers).
void begin_checkpoint(const std::string& dir);
void write_checkpoint_part(const std::string& dir, const std::string& file,
                           torch::serialize::OutputArchive& archive);

// A verified checkpoint. By default every file is read and checked once at open() and held in
// memory; with FileReading::kOnDemand open() checks the manifest and the files' sizes, and each
// file is read and checked by hash when it is used, then dropped, so a reader of one file at a
// time (calibration statistics, layer by layer) holds one file's bytes.
enum class FileReading { kAtOpen, kOnDemand };

class Checkpoint {
 public:
  // Checks the manifest and every file's size (and, read at open, hash); throws CheckpointError
  // naming the problem.
  static Checkpoint open(const std::string& dir, FileReading reading = FileReading::kAtOpen);

  const std::string& dir() const { return dir_; }
  // The resolved config it was trained with.
  const std::string& config_yaml() const { return files_.at("config.yaml"); }
  // Copies the model's parameters and buffers (same names and shapes required; nothing changes on
  // a mismatch). Without quantizer state (is_quantizer_state), for starting a new run from
  // trained weights under another recipe: call initialize_quantizers() afterwards.
  void load_model(torch::nn::Module& model, bool include_quantizer_state) const;
  // Restores optimizer state onto the device of the optimizer's parameters.
  void load_optimizer(torch::optim::Optimizer& optimizer, const at::Device& device) const;
  TrainerState trainer_state() const;
  // The names of the files it holds (the manifest's), e.g. to find optimizer shards.
  std::vector<std::string> file_names() const;
  // Runs `read` on file `name` as a torch archive loaded onto the CPU; LibTorch's errors from a
  // damaged file become CheckpointErrors naming it.
  void read_archive_file(const std::string& name, const std::function<void(torch::serialize::InputArchive&)>& read) const;

 private:
  std::string dir_;
  // Runs `read` on file `name` as a torch archive loaded onto `device`.
  void read_archive_on(const std::string& name, const at::Device& device,
                       const std::function<void(torch::serialize::InputArchive&)>& read) const;

  std::map<std::string, std::string> files_;  // file name -> verified bytes (config.yaml always)
  std::map<std::string, std::pair<uintmax_t, std::string>> deferred_;  // on demand: name -> (bytes, fnv1a)
};

// `path` itself when it is a checkpoint, else the newest <path>/checkpoints/step_* ; throws when none.
// `flag` names the command-line option the path came from, for the message ("--resume").
std::string find_checkpoint(const std::string& path, const std::string& flag = "--resume");
// The step_* directories under `checkpoints_dir`, oldest first (by step number, any width).
std::vector<std::string> list_step_checkpoints(const std::string& checkpoints_dir);
// Deletes all but the newest `keep_last` step_* checkpoints (and leftovers of interrupted writes).
void prune_checkpoints(const std::string& checkpoints_dir, int64_t keep_last);
// "step_000500"
std::string step_checkpoint_name(int64_t step);

}  // namespace ternary
