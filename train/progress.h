// What a training run tells the user: a one-line progress bar on a terminal (step, loss, lr,
// tokens/s, ETA) or a plain line every `log_every` steps otherwise, eval results and samples,
// and every step and eval as one JSON object per line in <output_dir>/metrics.jsonl (and, when
// asked, as TensorBoard scalars: train/loss, train/lr, train/lambda, train/grad_norm,
// train/tokens_per_s, val/loss, val/perplexity).
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <ostream>
#include <memory>
#include <string>

#include "train/tensorboard_events.h"

namespace ternary {

struct StepMetrics {
  int64_t step = 0;  // 1-based: optimizer steps done
  double loss = 0, lr = 0, lambda = 1, grad_norm = 0;
  double tokens_per_second = 0;
  bool skipped = false;  // the loss or gradient was not finite: no update (training.on_nonfinite: skip)
};

struct EvalMetrics {
  int64_t step = 0;
  double val_loss = 0;
  std::string sample;
};

class TrainingProgress {
 public:
  // Appends to `metrics_path`, first dropping records past `start_step` (left by a run that was
  // resumed from an earlier checkpoint). `log` may be nullptr (silent). A non-empty
  // `tensorboard_dir` also gets a new event file.
  TrainingProgress(const std::string& metrics_path, int64_t start_step, int64_t total_steps, int64_t log_every,
                   std::ostream* log, const std::string& tensorboard_dir = "");
  void on_step(const StepMetrics& m);
  void on_eval(const EvalMetrics& m);
  void message(const std::string& text);  // a line for the user (ends the progress bar line first)

 private:
  void append_metrics(const std::string& json_line);  // throws naming the file when the write fails

  std::string metrics_path_;
  std::ofstream metrics_;
  std::unique_ptr<TensorBoardWriter> tensorboard_;
  std::ostream* log_;
  bool terminal_;
  bool bar_open_ = false;
  int64_t start_step_, total_steps_, log_every_;
  std::chrono::steady_clock::time_point start_time_;
};

}  // namespace ternary
