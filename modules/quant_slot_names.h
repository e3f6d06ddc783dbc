// The names of the quantizer slots every quant module registers, and the naming rule that
// follows from them: a parameter or buffer inside a slot ("layers.0.mlp.up_proj.weight_quantizer.
// scale") is quantizer state. One place, so checkpoints, weight decay, imports and models agree.
// LibTorch-free.
#pragma once

#include <string_view>

namespace ternary {

constexpr const char* kWeightQuantizerSlot = "weight_quantizer";
constexpr const char* kInputQuantizerSlot = "input_quantizer";
constexpr const char* kOutputQuantizerSlot = "output_quantizer";

// True for the parameters and buffers of a quantizer slot (learned scales, thresholds, ...).
inline bool is_quantizer_state(std::string_view name) {
  for (std::string_view slot : {kWeightQuantizerSlot, kInputQuantizerSlot, kOutputQuantizerSlot}) {
    for (size_t at = name.find(slot); at != std::string_view::npos; at = name.find(slot, at + 1)) {
      const bool starts_component = at == 0 || name[at - 1] == '.';
      const size_t end = at + slot.size();
      if (starts_component && end < name.size() && name[end] == '.') return true;
    }
  }
  return false;
}

}  // namespace ternary
