#include "runtime/gguf_tokenizer.h"

#include <stdexcept>

namespace ternary::runtime {

Tokenizer tokenizer_from_gguf(const gguf::File& file) {
  const std::string& kind_name = file.string(gguf::key::kTokenizer);
  TokenizerKind kind;
  try {
    kind = parse_tokenizer_kind(kind_name);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(file.path() + ": " + gguf::key::kTokenizer + ": " + e.what());
  }
  if (kind == TokenizerKind::kBytes) return Tokenizer::bytes();
  const gguf::Value& model = file.value(gguf::key::kSentencePieceModel);
  const auto* bytes = std::get_if<std::vector<int64_t>>(&model.data);
  if (model.type != gguf::ValueType::kArray || model.array_type != gguf::ValueType::kUint8 || !bytes)
    throw std::runtime_error(file.path() + ": " + gguf::key::kSentencePieceModel + " must be a uint8 array");
  return Tokenizer(kind, std::string(bytes->begin(), bytes->end()),
                   file.path() + ": " + gguf::key::kSentencePieceModel);
}

}  // namespace ternary::runtime
