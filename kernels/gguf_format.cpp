#include "kernels/gguf_format.h"

#include <stdexcept>

namespace ternary::gguf {

const char* to_string(TensorType type) {
  switch (type) {
    case TensorType::kF32: return "F32";
    case TensorType::kF16: return "F16";
    case TensorType::kTQ1_0: return "TQ1_0";
    case TensorType::kTQ2_0: return "TQ2_0";
  }
  return "?";
}

bool is_known(uint32_t t) { return t == 0 || t == 1 || t == 34 || t == 35; }

int64_t block_elements(TensorType type) {
  return type == TensorType::kTQ1_0 || type == TensorType::kTQ2_0 ? 256 : 1;
}

uint64_t tensor_bytes(TensorType type, uint64_t elements) {
  switch (type) {
    case TensorType::kF32: return elements * 4;
    case TensorType::kF16: return elements * 2;
    case TensorType::kTQ1_0: return elements / 256 * 54;
    case TensorType::kTQ2_0: return elements / 256 * 66;
  }
  throw std::invalid_argument("unknown tensor type");
}

}  // namespace ternary::gguf
