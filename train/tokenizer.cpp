#include "train/tokenizer.h"

#include <sentencepiece_processor.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ternary {
namespace {

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open the SentencePiece model (check data.tokenizer_model)");
    std::stringstream bytes;
    bytes << in.rdbuf();
    const std::string blob = bytes.str();
    const auto status = processor_.LoadFromSerializedProto(blob);
    if (!status.ok())
      throw std::runtime_error(path + ": not a SentencePiece model (" + status.ToString() + ")");
    id_ = "sentencepiece:" + std::to_string(fnv1a(blob.data(), blob.size()));
  }
  std::vector<int32_t> encode(const std::string& text) const override {
    std::vector<int> ids;
    processor_.Encode(text, &ids);
    return {ids.begin(), ids.end()};
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string text;
    processor_.Decode(std::vector<int>(ids.begin(), ids.end()), &text);
    return text;
  }
  int64_t vocab_size() const override { return processor_.GetPieceSize(); }
  std::string id() const override { return id_; }

 private:
  sentencepiece::SentencePieceProcessor processor_;
  std::string id_;
};

}  // namespace

uint64_t fnv1a(const void* data, size_t size, uint64_t seed) {
  uint64_t hash = seed;
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 0x100000001b3ull;
  return hash;
}

std::vector<int32_t> ByteTokenizer::encode(const std::string& text) const {
  std::vector<int32_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
  return ids;
}

std::string ByteTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string text(ids.size(), '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] > 255)
      throw std::out_of_range("byte tokenizer: id " + std::to_string(ids[i]) + " is not a byte (0..255)");
    text[i] = static_cast<char>(ids[i]);
  }
  return text;
}

std::unique_ptr<Tokenizer> make_tokenizer(const std::string& kind, const std::string& model_path) {
  if (kind == "bytes") return std::make_unique<ByteTokenizer>();
  if (kind == "sentencepiece") return std::make_unique<SentencePieceTokenizer>(model_path);
  throw std::invalid_argument("unknown tokenizer '" + kind + "' (expected bytes or sentencepiece)");
}

}  // namespace ternary
