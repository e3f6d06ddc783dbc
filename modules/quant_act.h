// QuantAct: an activation (identity or ReLU) followed by an activation quantizer, like
// Brevitas' QuantIdentity / QuantReLU. Default: int8 per-token absmax.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "modules/quant_slots.h"
#include "quantizers/presets.h"

namespace ternary {

enum class Activation { kIdentity, kRelu };

struct QuantActOptions {
  TORCH_ARG(Activation, activation) = Activation::kIdentity;
  TORCH_ARG(std::optional<QuantizerSpec>, act_quant) = preset_spec("int8_per_token", false);
};

class QuantActImpl : public torch::nn::Cloneable<QuantActImpl> {
 public:
  explicit QuantActImpl(QuantActOptions options = {});
  void reset() override;
  at::Tensor forward(const at::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  QuantActOptions options;
  Quantizer act_quantizer{nullptr};
};
TORCH_MODULE(QuantAct);

}  // namespace ternary
