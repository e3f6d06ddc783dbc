#include "kernels/gguf_format.h"

#include <stdexcept>

namespace ternary::gguf {

const char* to_string(TensorType type) {
  switch (type) {
    case TensorType::kF32: return "F32";
    case TensorType::kF16: return "F16";
    case TensorType::kQ8_0: return "Q8_0";
    case TensorType::kTQ1_0: return "TQ1_0";
    case TensorType::kTQ2_0: return "TQ2_0";
  }
  return "?";
}

bool is_known(uint32_t t) { return t == 0 || t == 1 || t == 8 || t == 34 || t == 35; }

int64_t block_elements(TensorType type) {
  return type == TensorType::kTQ1_0 || type == TensorType::kTQ2_0 ? 256 : type == TensorType::kQ8_0 ? 32 : 1;
}

uint64_t tensor_bytes(TensorType type, uint64_t elements) {
  switch (type) {
    case TensorType::kF32: return elements * 4;
    case TensorType::kF16: return elements * 2;
    case TensorType::kQ8_0: return elements / 32 * 34;
    case TensorType::kTQ1_0: return elements / 256 * 54;
    case TensorType::kTQ2_0: return elements / 256 * 66;
  }
  throw std::invalid_argument("unknown tensor type");
}

FileType file_type_for(TensorType ternary_type) {
  if (ternary_type == TensorType::kTQ1_0) return FileType::kMostlyTQ1_0;
  if (ternary_type == TensorType::kTQ2_0) return FileType::kMostlyTQ2_0;
  throw std::invalid_argument(std::string("no ternary file type for tensor type ") + to_string(ternary_type));
}

std::string architecture_key(const std::string& architecture, const char* suffix) {
  return architecture + "." + suffix;
}

std::string scale_key(const std::string& tensor_name) { return "ternary.scale." + tensor_name; }

std::string tensor_name(int64_t layer, LayerTensor kind) {
  const char* suffix = "";
  switch (kind) {
    case LayerTensor::kAttnNorm: suffix = "attn_norm"; break;
    case LayerTensor::kAttnQ: suffix = "attn_q"; break;
    case LayerTensor::kAttnK: suffix = "attn_k"; break;
    case LayerTensor::kAttnV: suffix = "attn_v"; break;
    case LayerTensor::kAttnSubNorm: suffix = "attn_sub_norm"; break;
    case LayerTensor::kAttnOutput: suffix = "attn_output"; break;
    case LayerTensor::kFfnNorm: suffix = "ffn_norm"; break;
    case LayerTensor::kFfnGate: suffix = "ffn_gate"; break;
    case LayerTensor::kFfnUp: suffix = "ffn_up"; break;
    case LayerTensor::kFfnSubNorm: suffix = "ffn_sub_norm"; break;
    case LayerTensor::kFfnDown: suffix = "ffn_down"; break;
  }
  return "blk." + std::to_string(layer) + "." + suffix + ".weight";
}

}  // namespace ternary::gguf
