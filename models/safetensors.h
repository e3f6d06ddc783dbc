// Our reader for Hugging Face .safetensors files: an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}}, then the raw data. F32, F16 and BF16 tensors;
// every size and offset is checked, so a truncated or corrupt file is a clear error naming it.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace ternary {

// All tensors of one file, in their stored dtype. Throws std::runtime_error "<path>: ...".
std::map<std::string, at::Tensor> read_safetensors(const std::string& path);

// All tensors of a checkpoint directory: model.safetensors, or every shard named by
// model.safetensors.index.json.
std::map<std::string, at::Tensor> read_safetensors_dir(const std::string& dir);

}  // namespace ternary
