// Tokenizers for training data: byte-level (built in, vocab 256) and SentencePiece
// (`tokenizer.model`, the format Hugging Face LLaMA checkpoints ship).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ternary {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::vector<int32_t> encode(const std::string& text) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  // Identifies the tokenizer and its vocabulary (e.g. "bytes" or "sentencepiece:<hash>"), so a
  // cached tokenized corpus is rebuilt when the tokenizer changes.
  virtual std::string id() const = 0;
};

class ByteTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> encode(const std::string& text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;  // ids outside 0..255 are errors
  int64_t vocab_size() const override { return 256; }
  std::string id() const override { return "bytes"; }
};

// kind: "bytes" or "sentencepiece" (then model_path names the tokenizer.model).
// Throws std::runtime_error naming the file for a missing or unreadable model.
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& kind, const std::string& model_path = "");

// 64-bit FNV-1a, for fingerprints of files and vocabularies.
uint64_t fnv1a(const void* data, size_t size, uint64_t seed = 0xcbf29ce484222325ull);

}  // namespace ternary
