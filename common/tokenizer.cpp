#include "common/tokenizer.h"

#include <sentencepiece_processor.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string_view>
#include <sstream>
#include <stdexcept>

#include "common/fnv1a.h"

namespace ternary {
namespace {

constexpr const char* kSpaceMarker = "\xe2\x96\x81";  // SentencePiece's "▁"

// Protocol-buffer wire format, as far as a ModelProto's pieces need it.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  // False when the input is not well-formed at this point.
  bool varint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      const auto byte = static_cast<uint8_t>(data_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return true;
    }
    return false;
  }
  // The next field: its number, and for length-delimited fields their bytes; others are skipped.
  bool field(uint64_t& number, std::string_view& bytes, bool& delimited) {
    uint64_t key = 0;
    if (!varint(key)) return false;
    number = key >> 3;
    delimited = (key & 7) == 2;
    switch (key & 7) {
      case 0: return varint(key);
      case 1: return skip(8);
      case 5: return skip(4);
      case 2: {
        uint64_t length = 0;
        if (!varint(length) || length > data_.size() - pos_) return false;
        bytes = data_.substr(pos_, length);
        pos_ += length;
        return true;
      }
      case 3: return skip_group(number);  // not in a ModelProto, but protobuf skips unknown groups
      default: return false;              // an end-group without its start
    }
  }

 private:
  // Skips the fields of group `number` through its end-group tag, as protobuf skips an unknown
  // group (found by the tokenizer fuzzer: a group hid an empty piece from this check).
  bool skip_group(uint64_t number, int depth = 0) {
    if (depth > 100) return false;  // protobuf's own recursion limit
    while (!done()) {
      uint64_t key = 0;
      if (!varint(key)) return false;
      const uint64_t wire = key & 7;
      if (wire == 4) return (key >> 3) == number;
      uint64_t value = 0;
      const bool ok = wire == 0   ? varint(value)
                      : wire == 1 ? skip(8)
                      : wire == 5 ? skip(4)
                      : wire == 2 ? varint(value) && skip(value)
                      : wire == 3 ? skip_group(key >> 3, depth + 1)
                                  : false;
      if (!ok) return false;
    }
    return false;
  }
  bool skip(uint64_t n) {
    if (n > data_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

// SentencePiece builds a trie of the pieces whose builder aborts the process (an exception through
// a noexcept frame) on an empty piece, a NUL byte or a repeated piece: reject those first.
void check_sentencepiece_pieces(std::string_view blob, const std::string& source) {
  WireReader model(blob);
  std::set<std::string_view> seen;
  while (!model.done()) {
    uint64_t number = 0;
    std::string_view bytes;
    bool delimited = false;
    if (!model.field(number, bytes, delimited)) return;  // malformed: SentencePiece's parser reports it
    if (number != 1 || !delimited) continue;              // field 1: repeated SentencePiece
    WireReader piece_fields(bytes);
    while (!piece_fields.done()) {
      uint64_t piece_number = 0;
      std::string_view piece;
      bool piece_delimited = false;
      if (!piece_fields.field(piece_number, piece, piece_delimited)) return;
      if (piece_number != 1 || !piece_delimited) continue;  // field 1: the piece's text
      if (piece.empty() || piece.find('\0') != std::string_view::npos || !seen.insert(piece).second)
        throw std::runtime_error(source + ": not a usable SentencePiece model (piece " + std::to_string(seen.size()) +
                                 " is empty, repeated or contains a NUL byte)");
    }
  }
}

}  // namespace

const char* to_string(TokenizerKind kind) { return kind == TokenizerKind::kBytes ? "bytes" : "sentencepiece"; }

TokenizerKind parse_tokenizer_kind(const std::string& name) {
  if (name == "bytes") return TokenizerKind::kBytes;
  if (name == "sentencepiece") return TokenizerKind::kSentencePiece;
  throw std::invalid_argument("unknown tokenizer '" + name + "' (expected bytes or sentencepiece)");
}

Tokenizer::Tokenizer(TokenizerKind kind, std::string model_blob, const std::string& source)
    : kind_(kind), model_blob_(std::move(model_blob)) {
  if (kind_ == TokenizerKind::kBytes) {
    model_blob_.clear();
    return;
  }
  check_sentencepiece_pieces(model_blob_, source);
  sentencepiece_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = sentencepiece_->LoadFromSerializedProto(model_blob_);
  if (!status.ok()) throw std::runtime_error(source + ": not a SentencePiece model (" + status.ToString() + ")");
  vocab_size_ = sentencepiece_->GetPieceSize();
  if (vocab_size_ <= 0) throw std::runtime_error(source + ": the SentencePiece model has an empty vocabulary");
  id_ = "sentencepiece:" + std::to_string(fnv1a(model_blob_.data(), model_blob_.size()));
}

Tokenizer Tokenizer::bytes() { return Tokenizer(TokenizerKind::kBytes, {}, "bytes"); }

Tokenizer Tokenizer::from_file(TokenizerKind kind, const std::string& model_path) {
  if (kind == TokenizerKind::kBytes) return bytes();
  std::ifstream in(model_path, std::ios::binary);
  if (!in) throw std::runtime_error(model_path + ": cannot open the SentencePiece model (check data.tokenizer_model)");
  std::stringstream blob;
  blob << in.rdbuf();
  return Tokenizer(kind, blob.str(), model_path);
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

void Tokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size_)
    throw std::out_of_range("tokenizer: id " + std::to_string(id) + " is outside the vocabulary (0.." +
                            std::to_string(vocab_size_ - 1) + ")");
}

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  if (!sentencepiece_) {
    std::vector<int32_t> ids(text.size());
    for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
    return ids;
  }
  std::vector<int> ids;
  sentencepiece_->Encode(text, &ids);
  return {ids.begin(), ids.end()};
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  for (const int32_t id : ids) check_id(id);
  if (!sentencepiece_) {
    std::string text(ids.size(), '\0');
    for (size_t i = 0; i < ids.size(); ++i) text[i] = static_cast<char>(ids[i]);
    return text;
  }
  std::string text;
  sentencepiece_->Decode(std::vector<int>(ids.begin(), ids.end()), &text);
  return text;
}

std::string Tokenizer::decode_one(int32_t id) const {
  check_id(id);
  if (!sentencepiece_) return std::string(1, static_cast<char>(id));
  if (sentencepiece_->IsControl(id) || sentencepiece_->IsUnknown(id)) return "";
  const std::string piece = sentencepiece_->IdToPiece(id);
  if (sentencepiece_->IsByte(id) && piece.size() == 6)  // "<0x0A>"
    return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, 3, kSpaceMarker) == 0) out += ' ', i += 3;
    else out += piece[i++];
  }
  return out;
}

Piece Tokenizer::piece(int32_t id) const {
  check_id(id);
  if (!sentencepiece_) {  // byte tokens as SentencePiece writes them; the space is its "▁"
    if (id == ' ') return {kSpaceMarker, 0.0f, PieceType::kNormal};
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", id);
    return {name, 0.0f, PieceType::kByte};
  }
  const PieceType type = sentencepiece_->IsUnknown(id)  ? PieceType::kUnknown
                         : sentencepiece_->IsControl(id) ? PieceType::kControl
                         : sentencepiece_->IsByte(id)    ? PieceType::kByte
                         : sentencepiece_->IsUnused(id)  ? PieceType::kUnused
                                                         : PieceType::kNormal;
  return {sentencepiece_->IdToPiece(id), sentencepiece_->GetScore(id), type};
}

int32_t Tokenizer::unknown_id() const { return sentencepiece_ ? sentencepiece_->unk_id() : -1; }
int32_t Tokenizer::bos_id() const { return sentencepiece_ ? sentencepiece_->bos_id() : -1; }
int32_t Tokenizer::eos_id() const { return sentencepiece_ ? sentencepiece_->eos_id() : -1; }

}  // namespace ternary
