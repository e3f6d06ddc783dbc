#include "export/model_file.h"

#include <stdexcept>

#include "kernels/fp16.h"
#include "kernels/q8_0_blocks.h"
#include "kernels/ternary_blocks.h"

namespace ternary::model_file {
namespace {
using gguf::TensorType;
using gguf::Value;
namespace key = gguf::key;

gguf::TokenType token_type(PieceType type) {
  switch (type) {
    case PieceType::kNormal: return gguf::TokenType::kNormal;
    case PieceType::kUnknown: return gguf::TokenType::kUnknown;
    case PieceType::kControl: return gguf::TokenType::kControl;
    case PieceType::kByte: return gguf::TokenType::kByte;
    case PieceType::kUnused: return gguf::TokenType::kUnused;
  }
  return gguf::TokenType::kNormal;
}

std::vector<uint8_t> matrix_bytes(const float* values, int64_t out, int64_t in, TensorType type,
                                  const std::string& name) {
  const size_t n = static_cast<size_t>(out * in);
  if (type == TensorType::kF32) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(values);
    return {bytes, bytes + 4 * n};
  }
  if (type == TensorType::kF16) {
    std::vector<uint8_t> bytes(2 * n);
    auto* halves = reinterpret_cast<uint16_t*>(bytes.data());
    for (size_t i = 0; i < n; ++i) halves[i] = kernels::fp32_to_fp16(values[i]);
    return bytes;
  }
  if (type != TensorType::kQ8_0) throw std::invalid_argument(std::string("no matrix encoding ") + gguf::to_string(type));
  if (in % kernels::kQ8Block != 0)
    throw std::runtime_error("tensor " + name + " has rows of " + std::to_string(in) + " values, not a multiple of 32 "
                             "(the Q8_0 block); export with --output-type f16 or f32");
  std::vector<uint8_t> bytes(gguf::tensor_bytes(TensorType::kQ8_0, n));
  kernels::quantize_q8_0(values, out * in, reinterpret_cast<kernels::BlockQ8_0*>(bytes.data()));
  return bytes;
}

}  // namespace

void set_model_keys(gguf::Writer& w, const LlamaConfig& m, const std::string& name, TensorType ternary_type) {
  const std::string arch = m.variant == LlamaVariant::kBitNet ? gguf::kBitNetArchitecture : gguf::kLlamaArchitecture;
  auto arch_key = [&](const char* suffix) { return gguf::architecture_key(arch, suffix); };
  w.set(key::kArchitecture, Value::string(arch));
  w.set(key::kName, Value::string(name));
  w.set(key::kQuantizationVersion, Value::u32(2));
  w.set(key::kFileType, Value::u32(static_cast<uint32_t>(gguf::file_type_for(ternary_type))));
  w.set(key::kAlignment, Value::u32(static_cast<uint32_t>(gguf::kDefaultAlignment)));
  w.set(arch_key(key::kContextLength), Value::u32(static_cast<uint32_t>(m.max_seq_len)));
  w.set(arch_key(key::kEmbeddingLength), Value::u32(static_cast<uint32_t>(m.dim)));
  w.set(arch_key(key::kBlockCount), Value::u32(static_cast<uint32_t>(m.n_layers)));
  w.set(arch_key(key::kFeedForwardLength), Value::u32(static_cast<uint32_t>(m.ffn_dim)));
  w.set(arch_key(key::kHeadCount), Value::u32(static_cast<uint32_t>(m.n_heads)));
  w.set(arch_key(key::kHeadCountKv), Value::u32(static_cast<uint32_t>(m.n_kv_heads)));
  w.set(arch_key(key::kRopeFreqBase), Value::f32(static_cast<float>(m.rope_theta)));
  w.set(arch_key(key::kRopeDimensionCount), Value::u32(static_cast<uint32_t>(m.head_dim())));
  w.set(arch_key(key::kRmsNormEpsilon), Value::f32(static_cast<float>(m.norm_eps)));
  w.set(arch_key(key::kVocabSize), Value::u32(static_cast<uint32_t>(m.vocab_size)));
  w.set(key::kProducer, Value::string(std::string("ternary-engine ") + TERNARY_ENGINE_VERSION));
  w.set(key::kVariant, Value::string(to_string(m.variant)));
  w.set(key::kActivationBits, Value::u32(8));
  w.set(key::kActivationGranularity, Value::string("token"));
  w.set(key::kActivationScale, Value::string("absmax/127"));
  w.set(key::kActivationRounding, Value::string("nearest, ties to even"));
  w.set(key::kRotaryLayout, Value::string("interleaved"));
}

void set_quantization_keys(gguf::Writer& w, float activation_eps, const std::string& granularity,
                           const std::string& preset) {
  w.set(key::kActivationScaleEps, Value::f32(activation_eps));
  w.set(key::kWeightGranularity, Value::string(granularity));
  w.set(key::kWeightPreset, Value::string(preset));
}

void set_tokenizer(gguf::Writer& w, const Tokenizer& tokenizer, int64_t vocab_size) {
  std::vector<std::string> tokens;
  std::vector<double> scores;
  std::vector<int64_t> types;
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    const Piece piece = tokenizer.piece(id);
    tokens.push_back(piece.text);
    scores.push_back(piece.score);
    types.push_back(static_cast<int64_t>(token_type(piece.type)));
  }
  w.set(key::kTokenizerModel, Value::string("llama"));
  auto special = [&](const char* k, int32_t id) {
    if (id >= 0) w.set(k, Value::u32(static_cast<uint32_t>(id)));
  };
  special(key::kUnknownTokenId, tokenizer.unknown_id());
  special(key::kBosTokenId, tokenizer.bos_id());
  special(key::kEosTokenId, tokenizer.eos_id());
  w.set(key::kAddBosToken, Value::boolean(false));  // training data had none
  if (tokenizer.kind() == TokenizerKind::kBytes) w.set(key::kAddSpacePrefix, Value::boolean(false));
  w.set(key::kTokenizer, Value::string(to_string(tokenizer.kind())));
  if (tokenizer.kind() == TokenizerKind::kSentencePiece) {
    const std::string& proto = tokenizer.model_blob();
    w.set(key::kSentencePieceModel, Value::u8s(std::vector<int64_t>(proto.begin(), proto.end())));
  }
  for (int64_t id = static_cast<int64_t>(tokens.size()); id < vocab_size; ++id) {  // model rows past the tokenizer
    tokens.push_back("<unused" + std::to_string(id) + ">");
    scores.push_back(0.0);
    types.push_back(static_cast<int64_t>(gguf::TokenType::kUnused));
  }
  w.set(key::kTokens, Value::strings(std::move(tokens)));
  w.set(key::kScores, Value::f32s(std::move(scores)));
  w.set(key::kTokenTypes, Value::i32s(std::move(types)));
}

void add_matrix(gguf::Writer& w, const std::string& name, const float* values, int64_t out, int64_t in,
                TensorType type) {
  w.add_tensor(name, {static_cast<uint64_t>(in), static_cast<uint64_t>(out)}, type,
               matrix_bytes(values, out, in, type, name));
}

void add_ternary(gguf::Writer& w, const std::string& name, const int8_t* trits, int64_t out, int64_t in,
                 const std::vector<float>& scales, TensorType type) {
  const int64_t blocks_per_row = in / kernels::kTernaryBlock;
  std::vector<uint8_t> bytes(gguf::tensor_bytes(type, static_cast<uint64_t>(out * in)));
  for (int64_t r = 0; r < out; ++r) {
    const float d = scales[scales.size() > 1 ? static_cast<size_t>(r) : 0];
    if (type == TensorType::kTQ2_0)
      kernels::pack_tq2_0(trits + r * in, in, d, reinterpret_cast<kernels::BlockTQ2_0*>(bytes.data()) + r * blocks_per_row);
    else
      kernels::pack_tq1_0(trits + r * in, in, d, reinterpret_cast<kernels::BlockTQ1_0*>(bytes.data()) + r * blocks_per_row);
  }
  w.add_tensor(name, {static_cast<uint64_t>(in), static_cast<uint64_t>(out)}, type, std::move(bytes));
  w.set(gguf::scale_key(name), Value::f32s(std::vector<double>(scales.begin(), scales.end())));
}

}  // namespace ternary::model_file
