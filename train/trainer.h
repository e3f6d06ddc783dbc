// The training loop behind `ternary-train`: data, model (from scratch, a checkpoint or a Hugging
// Face directory), optimizer, lr and λ schedules, gradient accumulation and clipping, optional
// distillation, eval with samples, metrics, checkpoints, and exact resume: N steps straight and
// N/2 + resume + N/2 give identical losses on CPU (same thread count). Given a DistributedGroup,
// it is one rank of a data-parallel run (docs/distributed.md): each rank trains on its share of
// the global batch, gradients are averaged across ranks, and only rank 0 logs and writes.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/optim/optimizer.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "common/tokenizer.h"
#include "models/autocast_scope.h"
#include "models/llama_model.h"
#include "train/checkpoint.h"
#include "train/optimizer_shards.h"
#include "train/progress.h"
#include "train/token_dataset.h"
#include "train/train_config.h"

namespace ternary {

class DistributedGroup;
class GradientReducer;
class StepInBackward;

struct TrainResult {
  int64_t step = 0;                 // optimizer steps done in total
  bool interrupted = false;         // stopped by a stop request (Ctrl-C) before training.steps
  double val_loss = std::numeric_limits<double>::quiet_NaN();  // last eval, NaN when none ran
  std::string checkpoint;           // the last checkpoint written
  std::vector<double> losses;       // training loss of every step of this run
};

// Weight decay belongs on matrices only: not on norms, biases (1-D) or quantizer scales / thresholds.
bool uses_weight_decay(const std::string& parameter_name, const at::Tensor& parameter);

class Trainer {
 public:
  // Prepares everything; with `resume` (an opened checkpoint) restores model, optimizer, data RNG
  // and step from it. `log` gets progress and samples (nullptr = silent). `group` (not owned;
  // nullptr = one process) makes this trainer one rank of a data-parallel run. Throws ConfigError /
  // CheckpointError / DistributedError / std::runtime_error with a message naming the problem.
  Trainer(TrainConfig config, const Checkpoint* resume, std::ostream* log = &std::cerr,
          DistributedGroup* group = nullptr);
  // The same, opening `resume_checkpoint` (a checkpoint directory) when it is not empty.
  explicit Trainer(TrainConfig config, const std::string& resume_checkpoint = "", std::ostream* log = &std::cerr,
                   DistributedGroup* group = nullptr);
  ~Trainer();

  // Trains until training.steps, or until *stop_requested becomes true (then checkpoints and returns).
  TrainResult run(const std::atomic<bool>* stop_requested = nullptr);
  // One optimizer step (schedules, accumulation, clipping), without eval, metrics or checkpoints;
  // run() is a loop of these. A non-finite loss or gradient norm skips the update (or stops the
  // run, per training.on_nonfinite); the run stops after training.max_nonfinite_steps in a row.
  StepMetrics train_step();
  double evaluate();  // mean cross-entropy over the fixed validation batches

  const TrainConfig& config() const { return config_; }  // resolved (vocab size, init shapes)
  LlamaModel& model() { return model_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  int64_t step() const { return state_.step; }
  // The rank that logs and writes files: rank 0, or the only process.
  bool is_main() const;
  GradientReducer* gradient_reducer() { return gradient_reducer_.get(); }  // nullptr in one process

 private:
  void prepare_data();
  void build_model();
  void calibrate_initial_weights();  // init.calibrate (train/calibration.h)
  void build_teacher();
  void build_optimizer();
  void build_sharded_optimizer();
  std::unique_ptr<torch::optim::Optimizer> make_whole_optimizer() const;  // over the whole parameters
  at::Tensor loss_of(const at::Tensor& inputs, const at::Tensor& targets);
  std::string sample_text();
  AutocastScope bf16_weight_scope() const;
  std::string save_checkpoint(const std::string& name);
  int64_t world_size() const;
  bool any_rank_requests_stop(bool local_request);
  void zero_gradients();
  double clip_sharded_gradients(double max_norm);  // returns the global gradient norm
  void load_optimizer_state(const Checkpoint& checkpoint);
  std::vector<StateRange> whole_parameter_ranges() const;

  TrainConfig config_;
  std::ostream* log_;
  at::Device device_{at::kCPU};
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<TokenDataset> dataset_;
  std::vector<std::pair<at::Tensor, at::Tensor>> val_batches_;
  LlamaModel model_{nullptr};
  LlamaModel teacher_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  at::Generator data_generator_;  // draws training windows; checkpointed
  TrainerState state_;
  int64_t nonfinite_in_a_row_ = 0;  // consecutive skipped steps (training.on_nonfinite)
  DistributedGroup* group_ = nullptr;
  std::unique_ptr<GradientReducer> gradient_reducer_;
  std::unique_ptr<StepInBackward> step_in_backward_;  // optimizer.step_in_backward
  bool sharded_ = false;                  // optimizer.shard_state in a run of 2+ ranks: ZeRO-1
  std::vector<StateRange> shard_ranges_;  // sharded: the pieces this rank's optimizer steps
};

}  // namespace ternary
