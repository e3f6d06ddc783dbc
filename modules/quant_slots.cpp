#include "modules/quant_slots.h"

namespace ternary {

Quantizer make_quantizer_slot(torch::nn::Module& owner, const std::string& name,
                              const std::optional<QuantizerSpec>& spec, const at::Tensor& weight) {
  if (!spec) return Quantizer(nullptr);
  Quantizer quantizer = owner.register_module(name, Quantizer(*spec));
  if (weight.defined()) quantizer->attach(weight);
  return quantizer;
}

std::string describe_slot(const std::optional<QuantizerSpec>& spec) { return spec ? spec->describe() : "none"; }

}  // namespace ternary
