#include "models/llama_input_sites.h"

namespace ternary {

std::vector<InputSite> input_sites(LlamaDecoderLayerImpl& layer) {
  LlamaAttentionImpl& attn = *layer.self_attn;
  LlamaMLPImpl& mlp = *layer.mlp;
  return {
      {"self_attn.qkv",
       {{"self_attn.q_proj", attn.q_proj}, {"self_attn.k_proj", attn.k_proj}, {"self_attn.v_proj", attn.v_proj}},
       layer.input_layernorm},
      {"self_attn.o", {{"self_attn.o_proj", attn.o_proj}}, attn.attn_sub_norm},
      {"mlp.gate_up", {{"mlp.gate_proj", mlp.gate_proj}, {"mlp.up_proj", mlp.up_proj}}, layer.post_attention_layernorm},
      {"mlp.down", {{"mlp.down_proj", mlp.down_proj}}, mlp.ffn_sub_norm},
  };
}

}  // namespace ternary
