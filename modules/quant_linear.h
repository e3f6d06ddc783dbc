// QuantLinear: torch::nn::Linear with weight / input / output quantizer slots. By default it is
// a BitNet b1.58 layer (ternary absmean weights, per-token int8 activations).
//   QuantLinear fc(QuantLinearOptions(512, 512).bias(false));
//   QuantLinear twn(QuantLinearOptions(512, 512).weight_quant(preset_spec("twn", true)).input_quant({}));
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <functional>

#include "modules/quant_slots.h"
#include "quantizers/presets.h"

namespace ternary {

struct QuantLinearOptions {
  QuantLinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(std::optional<QuantizerSpec>, weight_quant) = preset_spec("bitnet_b158", true);
  TORCH_ARG(std::optional<QuantizerSpec>, input_quant) = preset_spec("bitnet_b158", false);
  TORCH_ARG(std::optional<QuantizerSpec>, output_quant) = std::nullopt;

 public:
  // All three slots from a recipe rule (recipe.match(name)->slots).
  QuantLinearOptions& slots(const QuantSlots& s) {
    weight_quant_ = s.weight;
    input_quant_ = s.input;
    output_quant_ = s.output;
    return *this;
  }
};

class QuantLinearImpl : public torch::nn::Cloneable<QuantLinearImpl> {
 public:
  QuantLinearImpl(int64_t in_features, int64_t out_features)
      : QuantLinearImpl(QuantLinearOptions(in_features, out_features)) {}
  explicit QuantLinearImpl(QuantLinearOptions options);

  void reset() override;
  void reset_parameters();  // torch::nn::Linear's initialisation
  // Takes over a float layer's weight and bias (sharing storage) and re-initialises learned
  // quantizer parameters from them.
  void adopt_weights(const at::Tensor& weight, const at::Tensor& bias);
  at::Tensor forward(const at::Tensor& input);
  // The weight as the forward pass uses it (fake-quantized), without autograd.
  at::Tensor quantized_weight();
  void pretty_print(std::ostream& stream) const override;

  QuantLinearOptions options;
  at::Tensor weight;  // (out_features, in_features) latent full-precision weight
  at::Tensor bias;    // (out_features) or undefined
  Quantizer weight_quantizer{nullptr};
  Quantizer input_quantizer{nullptr};
  Quantizer output_quantizer{nullptr};
  // Sees every forward's input before it is quantized: calibration gathers the input statistics
  // through it (like a forward pre-hook). Empty by default.
  std::function<void(const at::Tensor&)> input_observer;
};
TORCH_MODULE(QuantLinear);

}  // namespace ternary
