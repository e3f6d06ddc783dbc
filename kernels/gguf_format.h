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

enum class TensorType : uint32_t { kF32 = 0, kF16 = 1, kQ8_0 = 8, kTQ1_0 = 34, kTQ2_0 = 35 };

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
int64_t block_elements(TensorType type);  // 1 for F32/F16, 32 for Q8_0, 256 for TQ1_0/TQ2_0

// ---- The vocabulary of our files: every key and tensor name the exporter writes and the runtime
// reads, spelled once. Keys of llama.cpp's are its own spelling (gguf-py/gguf/constants.py).

// llama_ftype of a file whose linears are mostly ternary (general.file_type).
enum class FileType : uint32_t { kMostlyTQ1_0 = 36, kMostlyTQ2_0 = 37 };
FileType file_type_for(TensorType ternary_type);  // TQ1_0 -> 36, TQ2_0 -> 37

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

namespace key {
constexpr const char* kArchitecture = "general.architecture";
constexpr const char* kName = "general.name";
constexpr const char* kQuantizationVersion = "general.quantization_version";
constexpr const char* kFileType = "general.file_type";
constexpr const char* kAlignment = "general.alignment";
// Per-architecture keys are "<architecture>.<suffix>": architecture_key(arch, kContextLength).
constexpr const char* kContextLength = "context_length";
constexpr const char* kEmbeddingLength = "embedding_length";
constexpr const char* kBlockCount = "block_count";
constexpr const char* kFeedForwardLength = "feed_forward_length";
constexpr const char* kHeadCount = "attention.head_count";
constexpr const char* kHeadCountKv = "attention.head_count_kv";
constexpr const char* kRopeFreqBase = "rope.freq_base";
constexpr const char* kRopeDimensionCount = "rope.dimension_count";
constexpr const char* kRmsNormEpsilon = "attention.layer_norm_rms_epsilon";
constexpr const char* kVocabSize = "vocab_size";

constexpr const char* kTokenizerModel = "tokenizer.ggml.model";
constexpr const char* kTokens = "tokenizer.ggml.tokens";
constexpr const char* kScores = "tokenizer.ggml.scores";
constexpr const char* kTokenTypes = "tokenizer.ggml.token_type";
constexpr const char* kUnknownTokenId = "tokenizer.ggml.unknown_token_id";
constexpr const char* kBosTokenId = "tokenizer.ggml.bos_token_id";
constexpr const char* kEosTokenId = "tokenizer.ggml.eos_token_id";
constexpr const char* kAddBosToken = "tokenizer.ggml.add_bos_token";
constexpr const char* kAddSpacePrefix = "tokenizer.ggml.add_space_prefix";

// Ours: what the runtime needs to compute exactly what training computed.
constexpr const char* kProducer = "ternary.producer";
constexpr const char* kVariant = "ternary.variant";
constexpr const char* kActivationBits = "ternary.activation.bits";
constexpr const char* kActivationGranularity = "ternary.activation.granularity";
constexpr const char* kActivationScale = "ternary.activation.scale";          // "absmax/127", descriptive
constexpr const char* kActivationScaleEps = "ternary.activation.scale_eps";   // float32: the scale's floor
constexpr const char* kActivationRounding = "ternary.activation.rounding";
constexpr const char* kRotaryLayout = "ternary.rotary_layout";
constexpr const char* kWeightGranularity = "ternary.weight.granularity";
constexpr const char* kWeightPreset = "ternary.weight.preset";
constexpr const char* kTokenizer = "ternary.tokenizer";                       // bytes | sentencepiece
constexpr const char* kSentencePieceModel = "ternary.tokenizer.sentencepiece_model";  // uint8 array
}  // namespace key

// "<architecture>.<suffix>", e.g. "llama.context_length".
std::string architecture_key(const std::string& architecture, const char* suffix);
// "ternary.scale.<tensor>": a ternary tensor's per-row (or one) fp32 scale, exact beside the fp16 d.
std::string scale_key(const std::string& tensor_name);

// Files exported before ternary.activation.scale_eps existed state the floor in this string only.
constexpr const char* kLegacyActivationScale = "absmax/127, min 1e-5";
constexpr float kLegacyActivationScaleEps = 1e-5f;

// Tensor names (llama.cpp's LLM_TENSOR_* spelling).
constexpr const char* kTokenEmbedding = "token_embd.weight";
constexpr const char* kOutputNorm = "output_norm.weight";
constexpr const char* kOutput = "output.weight";
enum class LayerTensor {
  kAttnNorm, kAttnQ, kAttnK, kAttnV, kAttnSubNorm, kAttnOutput,
  kFfnNorm, kFfnGate, kFfnUp, kFfnSubNorm, kFfnDown,
};
std::string tensor_name(int64_t layer, LayerTensor kind);  // "blk.<layer>.attn_q.weight"

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
