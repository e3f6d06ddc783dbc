// Named quantizer presets with the names users know from the papers and peer tools.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "quantizers/quantizer_spec.h"

namespace ternary {

struct Preset {
  std::string name;
  std::string summary;
  std::optional<QuantizerSpec> weight;      // what the preset quantizes weights with
  std::optional<QuantizerSpec> activation;  // what it quantizes layer inputs with
};

// Throws std::invalid_argument listing the known names when `name` is not one.
const Preset& find_preset(const std::string& name);
const std::vector<Preset>& all_presets();

// The spec a preset gives for one slot: its weight spec for weights, its activation spec for
// inputs/outputs, falling back to the other when the preset defines only one.
QuantizerSpec preset_spec(const std::string& name, bool for_weight);

}  // namespace ternary
