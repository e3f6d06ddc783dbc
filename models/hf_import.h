// Hugging Face LLaMA checkpoints (config.json + safetensors, fp32/fp16/bf16) -> LlamaModel.
// Unsupported architectures or options, missing or misshapen tensors are errors that name them.
#pragma once

#include <string>

#include "models/llama_model.h"

namespace ternary {

// LlamaConfig from a Hugging Face config.json (LlamaForCausalLM / model_type llama).
LlamaConfig llama_config_from_hf(const std::string& config_json_path);

// Builds the model (linears quantized per `recipe`) and loads the checkpoint's weights as fp32.
LlamaModel load_hf_llama(const std::string& dir, const Recipe& recipe);

}  // namespace ternary
