// Calibration-based initialisation of ternary weights from a pretrained full-precision model
// (`init.calibrate`, `ternary-calibrate`; docs/conversion.md).
//
// 1. collect_calibration_statistics runs calibration sequences through the model in full
//    precision, one decoder layer at a time over the kept hidden states, and writes for every
//    input site (models/llama_input_sites.h) H = XᵀX / n and mean |x| per channel. Each layer's
//    statistics are written when the layer is done and then dropped, so memory holds one layer's.
//    The directory is verified like a checkpoint (manifest with sizes and hashes; each layer's
//    file checked when it is read); its description (model fingerprint, calibration tokens)
//    decides whether a later run may reuse it. Memory: the calibration hidden states
//    (sequences x seq_len x dim floats) and one layer's statistics.
// 2. calibrate_model turns each linear's latent weight into one whose quantized form is the
//    method's choice: absmean (the recipe's round-to-nearest: nothing changes), gptq, awq (input
//    scales folded into the preceding RMSNorm; sites without one are left unscaled), or awq+gptq.
//    The statistics come from the unmodified full-precision model, so every method reuses them.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/llama_model.h"
#include "quantizers/gptq.h"
#include "train/train_config.h"

namespace ternary {

class Checkpoint;

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::kAbsmean;
  GptqOptions gptq;
  int64_t awq_grid = 20;  // α steps on each side of 0, α ∈ [−1, 1]
};

struct SiteStatistics {
  at::Tensor hessian;   // float32 (in, in): XᵀX / n
  at::Tensor abs_mean;  // float32 (in): mean |x| per input channel
};

// What the statistics were taken from: the model's weights, the calibration tokens and the
// format version. Two runs with equal descriptions may share statistics.
std::string calibration_description(LlamaModel& model, const std::vector<at::Tensor>& batches);

// Runs `batches` ((b, T) int64 token tensors) through `model` with its quantizers bypassed
// (warm-up λ = 0) and writes the statistics directory `dir` (replacing one that is there).
void collect_calibration_statistics(LlamaModel& model, const std::vector<at::Tensor>& batches, const std::string& dir,
                                    std::ostream* log);

class CalibrationStatistics {
 public:
  // Verifies the directory; throws CheckpointError naming the problem.
  static CalibrationStatistics open(const std::string& dir);
  ~CalibrationStatistics();
  CalibrationStatistics(CalibrationStatistics&&) noexcept;
  const std::string& description() const;
  int64_t n_layers() const;
  // Reads and checks every layer's file, one at a time; throws CheckpointError on the first bad one.
  void verify() const;
  std::map<std::string, SiteStatistics> layer(int64_t index) const;  // site name -> statistics

 private:
  explicit CalibrationStatistics(std::unique_ptr<Checkpoint> checkpoint);
  std::unique_ptr<Checkpoint> checkpoint_;
};

struct LinearReport {
  std::string name;           // "layers.3.self_attn.q_proj"
  double error_absmean = 0;   // relative output error of the recipe's round-to-nearest
  double error_after = 0;     // relative output error of the chosen codes (AWQ-scaled input included)
  double awq_alpha = 0;       // the site's AWQ exponent (0 when not scaled)
  double seconds = 0;
};

struct CalibrationReport {
  CalibrationMethod method = CalibrationMethod::kAbsmean;
  std::vector<LinearReport> linears;
  std::vector<std::string> notes;  // what was left out and why (sites AWQ could not fold)
  double seconds = 0;
  double mean_error_absmean() const;
  double mean_error_after() const;
  std::string to_json() const;
};

// Initialises every quantized linear of the decoder layers from the statistics. Linears whose
// quantizer cannot take chosen codes (not ternary, group scales) raise a ConfigError naming them.
CalibrationReport calibrate_model(LlamaModel& model, const CalibrationStatistics& statistics,
                                  const CalibrationOptions& options, std::ostream* log);

}  // namespace ternary
