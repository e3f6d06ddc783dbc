// What every model file ternary-export writes has in common, whether its weights come from a
// checkpoint (export/gguf_export.h) or are random (export/random_model.h): the architecture and
// ternary.* keys, the tokenizer keys, and the byte encodings of ternary and full-precision
// matrices. LibTorch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/tokenizer.h"
#include "export/gguf_writer.h"
#include "models/llama_config.h"

namespace ternary::model_file {

// general.*, <arch>.* shape keys and the ternary.* keys that do not depend on the weights.
void set_model_keys(gguf::Writer& w, const LlamaConfig& m, const std::string& name, gguf::TensorType ternary_type);

// Keys that depend on the ternary layers: their activation eps, weight granularity and preset.
void set_quantization_keys(gguf::Writer& w, float activation_eps, const std::string& granularity,
                           const std::string& preset);

// tokenizer.ggml.* (llama.cpp's, padded with unused pieces up to vocab_size) and ours.
void set_tokenizer(gguf::Writer& w, const Tokenizer& tokenizer, int64_t vocab_size);

// A full-precision (out, in) row-major matrix as F32, F16 or Q8_0; Q8_0 needs `in` to be a
// multiple of 32 (an error naming the tensor otherwise).
void add_matrix(gguf::Writer& w, const std::string& name, const float* values, int64_t out, int64_t in,
                gguf::TensorType type);

// An (out, in) trit matrix with one scale or one per row, as TQ2_0 or TQ1_0 blocks (in: a
// multiple of 256), and its exact fp32 scales under ternary.scale.<name>.
void add_ternary(gguf::Writer& w, const std::string& name, const int8_t* trits, int64_t out, int64_t in,
                 const std::vector<float>& scales, gguf::TensorType type);

}  // namespace ternary::model_file
