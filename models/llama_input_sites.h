// The places in a LLaMA decoder layer where linears read an input: which linears share it and
// which RMSNorm (if any) produces it, so that a per-input-channel scale can be folded into that
// norm's weight exactly. Calibration (train/calibration.h) walks these.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "models/llama_layers.h"

namespace ternary {

struct InputSite {
  std::string name;                                        // "self_attn.qkv", "self_attn.o", "mlp.gate_up", "mlp.down"
  std::vector<std::pair<std::string, QuantLinear>> linears;  // names relative to the layer: "self_attn.q_proj"
  RMSNorm norm{nullptr};  // the norm whose output is the input, or nullptr (then no fold is exact)
};

// q/k/v after input_layernorm, o_proj (after attn_sub_norm in BitNet), gate/up after
// post_attention_layernorm, down_proj (after ffn_sub_norm in BitNet).
std::vector<InputSite> input_sites(LlamaDecoderLayerImpl& layer);

}  // namespace ternary
