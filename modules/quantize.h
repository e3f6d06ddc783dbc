// quantize_(model, recipe): swaps the torch::nn::Linear / Embedding / Conv2d modules that a recipe
// matches for QuantLinear / QuantEmbedding / QuantConv2d, keeping their weights, and reports what
// it did. All-or-nothing: it checks every swap before making any.
//
// C++ cannot rebind a parent's member variable, so a layer is swappable when forward() reaches it
// through the module tree: inside a Sequential, ModuleList or ModuleDict, or registered but not
// also held in a member. A layer also held by a member is an error naming it (declare that member
// as a Quant* module instead, configured from recipe.match(name)->slots).
#pragma once

#include <torch/nn/module.h>

#include <string>
#include <vector>

#include "quantizers/recipe.h"

namespace ternary {

struct QuantizeReport {
  struct Replacement {
    std::string name;   // dotted module path, "blocks.0.fc1"
    std::string from;   // "torch::nn::Linear"
    std::string to;     // "ternary::QuantLinear"
    std::string weight, input, output;  // describe() of each slot, or "none"
    std::string rule;   // where the matching rule came from, "recipe.yaml:7"
  };
  std::vector<Replacement> replaced;
  std::vector<std::string> kept_full_precision;  // matched a `preset: none` rule
  std::vector<std::string> unmatched;            // quantizable, but no rule matched
  std::string to_string() const;
};

QuantizeReport quantize_(torch::nn::Module& model, const Recipe& recipe);

// Sets the warm-up lambda of every Quantizer in `model` (see QuantizerImpl::set_warmup_lambda).
void set_warmup_lambda(torch::nn::Module& model, double lambda);
// Sets output-buffer reuse of every Quantizer in `model` (see QuantizerImpl::set_output_buffer_reuse).
void set_output_buffer_reuse(torch::nn::Module& model, bool on);

}  // namespace ternary
