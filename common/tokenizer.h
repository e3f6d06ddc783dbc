// The one tokenizer of training, export and the runtime, built from (kind, model blob):
//   bytes          one token per byte, vocabulary 256, no model
//   sentencepiece  a SentencePiece model proto (the tokenizer.model Hugging Face LLaMA ships);
//                  the same bytes travel inside the GGUF, so the runtime tokenizes as training did.
// Ids outside [0, vocab_size) are std::out_of_range everywhere. LibTorch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace ternary {

enum class TokenizerKind { kBytes, kSentencePiece };
const char* to_string(TokenizerKind kind);  // "bytes" | "sentencepiece"
// Throws std::invalid_argument naming the choices.
TokenizerKind parse_tokenizer_kind(const std::string& name);

// What a vocabulary entry is, in SentencePiece's terms (the exporter maps these to GGUF token types).
enum class PieceType { kNormal, kUnknown, kControl, kByte, kUnused };

struct Piece {
  std::string text;  // SentencePiece notation: "▁" for a space, "<0x0A>" for a byte token
  float score = 0.0f;
  PieceType type = PieceType::kNormal;
};

class Tokenizer {
 public:
  // `model_blob` is the SentencePiece proto (empty for bytes); `source` names it in errors.
  // Throws std::runtime_error "<source>: not a SentencePiece model (...)".
  Tokenizer(TokenizerKind kind, std::string model_blob, const std::string& source);
  static Tokenizer bytes();
  // Reads the model file for sentencepiece; throws naming the path when it cannot be read.
  static Tokenizer from_file(TokenizerKind kind, const std::string& model_path);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  TokenizerKind kind() const { return kind_; }
  const std::string& model_blob() const { return model_blob_; }
  int64_t vocab_size() const { return vocab_size_; }
  // "bytes" or "sentencepiece:<FNV-1a of the model>": a cached tokenized corpus is rebuilt when it changes.
  const std::string& id() const { return id_; }

  std::vector<int32_t> encode(const std::string& text) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string decode_one(int32_t id) const;  // one token's text, for streaming output
  Piece piece(int32_t id) const;             // the vocabulary entry, for the GGUF tokenizer keys
  // Special token ids, -1 when the model has none (always -1 for bytes).
  int32_t unknown_id() const;
  int32_t bos_id() const;
  int32_t eos_id() const;

 private:
  void check_id(int32_t id) const;

  TokenizerKind kind_;
  std::string model_blob_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sentencepiece_;  // null for bytes
  int64_t vocab_size_ = 256;
  std::string id_ = "bytes";
};

}  // namespace ternary
