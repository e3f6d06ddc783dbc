#include "runtime/gguf_tokenizer.h"

#include <sentencepiece_processor.h>

#include <stdexcept>

namespace ternary::runtime {

GgufTokenizer::GgufTokenizer(const gguf::File& file) {
  const std::string& kind = file.string("ternary.tokenizer");
  if (kind == "bytes") return;
  if (kind != "sentencepiece")
    throw std::runtime_error(file.path() + ": unknown ternary.tokenizer '" + kind + "' (bytes or sentencepiece)");
  const auto& bytes = std::get<std::vector<int64_t>>(file.value("ternary.tokenizer.sentencepiece_model").data);
  const std::string proto(bytes.begin(), bytes.end());
  sentencepiece_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  if (!sentencepiece_->LoadFromSerializedProto(proto).ok())
    throw std::runtime_error(file.path() + ": ternary.tokenizer.sentencepiece_model is not a SentencePiece model");
  vocab_size_ = sentencepiece_->GetPieceSize();
}

GgufTokenizer::~GgufTokenizer() = default;

std::vector<int32_t> GgufTokenizer::encode(const std::string& text) const {
  if (!sentencepiece_) {
    std::vector<int32_t> ids;
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::vector<int> ids;
  sentencepiece_->Encode(text, &ids);
  return {ids.begin(), ids.end()};
}

std::string GgufTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string text;
  if (!sentencepiece_) {
    for (int32_t id : ids) text += id >= 0 && id < 256 ? std::string(1, static_cast<char>(id)) : std::string();
    return text;
  }
  std::vector<int> valid;
  for (int32_t id : ids)
    if (id >= 0 && id < vocab_size_) valid.push_back(id);
  sentencepiece_->Decode(valid, &text);
  return text;
}

std::string GgufTokenizer::decode_one(int32_t id) const {
  if (!sentencepiece_) return decode({id});
  if (id < 0 || id >= vocab_size_) return "";
  std::string piece = sentencepiece_->IdToPiece(id);
  if (sentencepiece_->IsByte(id) && piece.size() == 6) return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
  if (sentencepiece_->IsControl(id) || sentencepiece_->IsUnknown(id)) return "";
  std::string out;
  for (size_t i = 0; i < piece.size();) {  // SentencePiece's "▁" is a space
    if (piece.compare(i, 3, "\xe2\x96\x81") == 0) out += ' ', i += 3;
    else out += piece[i++];
  }
  return out;
}

}  // namespace ternary::runtime
