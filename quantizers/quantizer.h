// Quantizer: a torch::nn::Module that fake-quantizes tensors as its QuantizerSpec says.
// Learned scales/thresholds are registered parameters shaped (rows, 1) for the granularity, so
// parameters(), torch::save/load, clone() and .to() all see them.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "quantizers/quantizer_spec.h"

namespace ternary {

// Integer codes and the scales that decode them: value = code * scale (codes < 0 use scale_neg
// when it is defined, TTQ). What export packs into blocks.
struct QuantizedValues {
  at::Tensor codes;      // int8, the input's shape, within [levels.min_code(), levels.max_code()]
  at::Tensor scale;      // (rows, 1) float32
  at::Tensor scale_neg;  // (rows, 1) float32, TTQ only, else undefined
  Granularity granularity;
  at::Tensor decode() const;  // float32, the input's shape
};

class QuantizerImpl : public torch::nn::Cloneable<QuantizerImpl> {
 public:
  explicit QuantizerImpl(QuantizerSpec spec);

  void reset() override;
  // Sizes the learned parameters for tensors shaped like `reference` (a weight) and initialises
  // them from its statistics. Activation quantizers skip this: their (1, 1) learned scale is
  // initialised from the first batch seen in training.
  void attach(const at::Tensor& reference);

  // Fake-quantized x (same shape and dtype). Takes the fused kernel when it applies.
  at::Tensor forward(const at::Tensor& x);
  // The same computation from composite ATen ops: the reference the fused path is tested against.
  at::Tensor forward_reference(const at::Tensor& x);
  // Codes and scales for x, no autograd: export packs these.
  QuantizedValues encode(const at::Tensor& x);

  // Warm-up mix for fine-tuning: x + lambda * (q(x) - x). lambda in [0, 1]; 1 = fully quantized.
  void set_warmup_lambda(double lambda);
  double warmup_lambda() const { return warmup_lambda_; }
  // Whether the fused path keeps its output's memory from one call to the next (default on: a
  // fresh allocation costs more in page faults than the pass). Off drops it: between steps it is
  // a second copy of every quantized weight, which memory-lean training cannot afford.
  void set_output_buffer_reuse(bool on);
  const QuantizerSpec& spec() const { return spec_; }
  void pretty_print(std::ostream& stream) const override;

  at::Tensor scale;        // (rows, 1) learned, > 0 after the eps floor; undefined unless learned
  at::Tensor scale_neg;    // (rows, 1) learned TTQ negative scale; undefined unless asymmetric
  at::Tensor threshold;    // (rows, 1) learned, >= 0; undefined unless threshold is learned
  at::Tensor initialized;  // () bool buffer: learned parameters hold data-derived values

 private:
  struct RowParams {
    at::Tensor scale, scale_neg, threshold;  // (rows, 1), with gradient where learned
  };
  std::pair<int64_t, int64_t> rows_and_cols(const at::Tensor& x) const;
  void initialize_learned(const at::Tensor& rows);
  RowParams row_params(const at::Tensor& rows);
  at::Tensor quantize_rows_reference(const at::Tensor& rows, const RowParams& params);
  at::Tensor finish(const at::Tensor& x, const at::Tensor& q_rows) const;

  QuantizerSpec spec_;
  at::Tensor fused_output_buffer_;  // memory the fused path reuses across steps (not state)
  bool reuse_output_buffer_ = true;
  int64_t learned_rows_ = 1;  // rows of the learned parameters, set by attach()
  double warmup_lambda_ = 1.0;
};
TORCH_MODULE(Quantizer);

}  // namespace ternary
