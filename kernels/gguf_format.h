// GGUF v3, the llama.cpp file format: constants and the metadata value type, shared by the
// writer (export/) and the reader (runtime/). Layout: "GGUF", version, tensor count, metadata
// count; metadata (key string, value type, value); tensor infos (name, n_dims, dims with the
// contiguous dimension first, ggml type, data offset); padding to general.alignment (32); data.
// Type ids are ggml's; we never invent one.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace ternary::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;

enum class ValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6, kBool = 7,
  kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};

enum class TensorType : uint32_t { kF32 = 0, kF16 = 1, kTQ1_0 = 34, kTQ2_0 = 35 };

// general.architecture of our two model variants. The LLaMA variant is llama.cpp's `llama`
// (checked against llama.cpp itself: tests/golden/llama_cpp_logits.py). The BitNet variant
// (SubLN + ReLU^2) has a name of its own because llama.cpp's `bitnet` graph computes a SiLU
// FFN with rotate-half RoPE: under that name llama.cpp would load our file and run it wrong;
// under this one it refuses it as an unknown architecture.
constexpr const char* kLlamaArchitecture = "llama";
constexpr const char* kBitNetArchitecture = "ternary-bitnet";

const char* to_string(TensorType type);
bool is_known(uint32_t tensor_type);
// Bytes of `elements` values (a multiple of the block size for block types).
uint64_t tensor_bytes(TensorType type, uint64_t elements);
int64_t block_elements(TensorType type);  // 1 for F32/F16, 256 for TQ1_0/TQ2_0

// A metadata value: integers widen to int64, floats to double; arrays are homogeneous.
struct Value {
  ValueType type = ValueType::kUint32;
  ValueType array_type = ValueType::kUint32;  // element type when type == kArray
  std::variant<int64_t, double, bool, std::string, std::vector<int64_t>, std::vector<double>,
               std::vector<std::string>>
      data;

  static Value u32(uint32_t v) { return {ValueType::kUint32, ValueType::kUint32, int64_t{v}}; }
  static Value i32(int32_t v) { return {ValueType::kInt32, ValueType::kInt32, int64_t{v}}; }
  static Value f32(float v) { return {ValueType::kFloat32, ValueType::kFloat32, double{v}}; }
  static Value boolean(bool v) { return {ValueType::kBool, ValueType::kBool, v}; }
  static Value string(std::string v) { return {ValueType::kString, ValueType::kString, std::move(v)}; }
  static Value strings(std::vector<std::string> v) { return {ValueType::kArray, ValueType::kString, std::move(v)}; }
  static Value f32s(std::vector<double> v) { return {ValueType::kArray, ValueType::kFloat32, std::move(v)}; }
  static Value i32s(std::vector<int64_t> v) { return {ValueType::kArray, ValueType::kInt32, std::move(v)}; }
  static Value u8s(std::vector<int64_t> v) { return {ValueType::kArray, ValueType::kUint8, std::move(v)}; }
};

}  // namespace ternary::gguf
