// The Brevitas-style quantizer slots every quant module has (weight / input / output), and the
// helpers that create and apply them. An empty slot leaves that tensor in full precision.
#pragma once

#include <torch/nn/module.h>

#include <optional>
#include <string>

#include "modules/quant_slot_names.h"
#include "quantizers/quantizer.h"
#include "quantizers/recipe.h"

namespace ternary {

// Registers a Quantizer for `spec` under `name` (nullptr holder when spec is empty); when
// `weight` is given, sizes and initialises its learned parameters from it.
Quantizer make_quantizer_slot(torch::nn::Module& owner, const std::string& name,
                              const std::optional<QuantizerSpec>& spec, const at::Tensor& weight = {});

// q(x) when the slot holds a quantizer, else x.
inline at::Tensor apply_slot(Quantizer& quantizer, const at::Tensor& x) {
  return quantizer ? quantizer->forward(x) : x;
}

// Takes over a float layer's weight (and bias, undefined for none), sharing their storage, then
// re-initialises the weight quantizer's learned parameters from the new weight.
void adopt_weight_and_bias(const char* module_name, at::Tensor& weight, at::Tensor& bias, const at::Tensor& new_weight,
                           const at::Tensor& new_bias, Quantizer& weight_quantizer);

// "ternary/tensor/absmean/implicit/ste" or "none", for reports.
std::string describe_slot(const std::optional<QuantizerSpec>& spec);

}  // namespace ternary
