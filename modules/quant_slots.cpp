#include "modules/quant_slots.h"

#include <ATen/ATen.h>

namespace ternary {

Quantizer make_quantizer_slot(torch::nn::Module& owner, const std::string& name,
                              const std::optional<QuantizerSpec>& spec, const at::Tensor& weight) {
  if (!spec) return Quantizer(nullptr);
  Quantizer quantizer = owner.register_module(name, Quantizer(*spec));
  if (weight.defined()) quantizer->attach(weight);
  return quantizer;
}

void adopt_weight_and_bias(const char* module_name, at::Tensor& weight, at::Tensor& bias, const at::Tensor& new_weight,
                           const at::Tensor& new_bias, Quantizer& weight_quantizer) {
  TORCH_CHECK(new_weight.sizes() == weight.sizes(), module_name, "::adopt_weights: weight shape ", new_weight.sizes(),
              " does not match ", weight.sizes());
  TORCH_CHECK(new_bias.defined() == bias.defined(), module_name, "::adopt_weights: bias presence differs");
  at::NoGradGuard no_grad;
  weight.set_data(new_weight.detach());
  if (bias.defined()) bias.set_data(new_bias.detach());
  if (weight_quantizer) weight_quantizer->attach(weight);
}

std::string describe_slot(const std::optional<QuantizerSpec>& spec) { return spec ? spec->describe() : "none"; }

}  // namespace ternary
