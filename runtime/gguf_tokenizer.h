// The tokenizer a GGUF from ternary-export carries: `ternary.tokenizer` = bytes (one token per
// byte, as training) or sentencepiece (the training tokenizer.model, stored whole in
// `ternary.tokenizer.sentencepiece_model`). LibTorch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/gguf_file.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace ternary::runtime {

class GgufTokenizer {
 public:
  explicit GgufTokenizer(const gguf::File& file);  // throws naming the file when the keys are missing
  ~GgufTokenizer();
  std::vector<int32_t> encode(const std::string& text) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string decode_one(int32_t id) const;  // for streaming output
  int64_t vocab_size() const { return vocab_size_; }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sentencepiece_;  // null = bytes
  int64_t vocab_size_ = 256;
};

}  // namespace ternary::runtime
