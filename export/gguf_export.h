// ternary-export: a ternary-train checkpoint -> one GGUF v3 file that llama.cpp-style readers and
// our runtime load. Ternary linears (weights {-1,0,1} x a per-tensor or per-row scale, inputs
// quantized to int8 per token) become TQ2_0 (default) or TQ1_0 blocks whose d is the trained scale
// in fp16; the exact fp32 scales go to `ternary.scale.<tensor>` for our runtime. Norms are F32;
// full-precision matrices (embedding, output, unquantized linears) are F32, F16 or Q8_0
// (--output-type; Q8_0 as ggml lays it out). Q and K rows are permuted to llama.cpp's interleaved rotary layout, as its own
// converter does. A quantizer the format cannot represent exactly is an error naming the layer.
#pragma once

#include <string>

#include "kernels/gguf_format.h"

namespace ternary {

struct ExportOptions {
  gguf::TensorType ternary_type = gguf::TensorType::kTQ2_0;  // or kTQ1_0
  gguf::TensorType output_type = gguf::TensorType::kF32;     // full-precision matrices: or kF16, kQ8_0
  std::string name;  // general.name; empty = the checkpoint directory's name
};

struct ExportSummary {
  int64_t ternary_tensors = 0, matrix_tensors = 0, float_tensors = 0;  // float: F32 norms
  int64_t file_bytes = 0;
  int64_t checkpoint_model_bytes = 0;  // model.pt, fp32 latent weights
};

// Throws CheckpointError / std::runtime_error with a message naming the checkpoint, layer or file.
ExportSummary export_gguf(const std::string& checkpoint_dir, const std::string& out_path, const ExportOptions& options);

}  // namespace ternary
