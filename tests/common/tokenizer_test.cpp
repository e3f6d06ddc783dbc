// The one tokenizer (common/tokenizer.h) that training, export and the runtime share.
#include "common/tokenizer.h"

#include <gtest/gtest.h>
#include <sentencepiece_trainer.h>

#include <fstream>
#include <sstream>

namespace ternary {
namespace {

// A small BPE SentencePiece model trained on the bundled corpus, made once per test run.
std::string tiny_sentencepiece_model() {
  static const std::string prefix = ::testing::TempDir() + "/tiny_sp";
  static const bool trained = [] {
    const auto status = sentencepiece::SentencePieceTrainer::Train(
        "--input=" + std::string(TERNARY_SOURCE_DIR) + "/data/tinyshakespeare.txt --model_prefix=" + prefix +
        " --vocab_size=300 --model_type=bpe --input_sentence_size=20000 --minloglevel=2");
    return status.ok();
  }();
  EXPECT_TRUE(trained);
  return prefix + ".model";
}

}  // namespace

TEST(ByteTokenizer, RoundTripsAnyBytes) {
  const Tokenizer t = Tokenizer::bytes();
  const std::string text = "To be, or not to be:\nthat is the question. \xc3\xa9\x00\xff";
  const auto ids = t.encode(text);
  EXPECT_EQ(ids.size(), text.size());
  EXPECT_EQ(ids[0], 'T');
  EXPECT_EQ(t.decode(ids), text);
  EXPECT_THROW(t.decode({300}), std::out_of_range);
  EXPECT_EQ(t.vocab_size(), 256);
  EXPECT_EQ(t.id(), "bytes");
  EXPECT_EQ(t.decode_one('x'), "x");
  // As SentencePiece would spell a byte vocabulary (what GGUF's tokenizer.ggml.tokens stores).
  EXPECT_EQ(t.piece(' ').text, "\xe2\x96\x81");
  EXPECT_EQ(t.piece(' ').type, PieceType::kNormal);
  EXPECT_EQ(t.piece('\n').text, "<0x0A>");
  EXPECT_EQ(t.piece('\n').type, PieceType::kByte);
}

TEST(SentencePieceTokenizer, LoadsAModelAndRoundTrips) {
  const Tokenizer t = Tokenizer::from_file(TokenizerKind::kSentencePiece, tiny_sentencepiece_model());
  EXPECT_EQ(t.vocab_size(), 300);
  const std::string text = "ROMEO: What light through yonder window breaks?";
  const auto ids = t.encode(text);
  EXPECT_LT(ids.size(), text.size());  // merges actually happen
  EXPECT_EQ(t.decode(ids), text);
  EXPECT_EQ(t.id().rfind("sentencepiece:", 0), 0u);
  std::string streamed;  // token by token, as ternary-run prints
  for (const int32_t id : ids) streamed += t.decode_one(id);
  EXPECT_EQ(streamed, " " + text);  // SentencePiece's leading "▁" is a space
  // The same bytes give the same tokenizer: what the GGUF carries is enough.
  const Tokenizer again(TokenizerKind::kSentencePiece, t.model_blob(), "copy");
  EXPECT_EQ(again.encode(text), ids);
  EXPECT_EQ(again.id(), t.id());
}

// One rule for ids outside the vocabulary, whatever the kind and whichever call: an error naming
// the id and the range (before, the runtime silently dropped them and training threw).
TEST(Tokenizer, OutOfRangeIdsAreErrorsForEveryKind) {
  const Tokenizer bytes = Tokenizer::bytes();
  const Tokenizer sp = Tokenizer::from_file(TokenizerKind::kSentencePiece, tiny_sentencepiece_model());
  for (const Tokenizer* t : {&bytes, &sp}) {
    const int32_t past = static_cast<int32_t>(t->vocab_size());
    EXPECT_THROW(t->decode({1, past}), std::out_of_range);
    EXPECT_THROW(t->decode({-1}), std::out_of_range);
    EXPECT_THROW(t->decode_one(past), std::out_of_range);
    EXPECT_THROW(t->piece(past), std::out_of_range);
    try {
      t->decode({past});
      FAIL();
    } catch (const std::out_of_range& e) {
      EXPECT_EQ(std::string(e.what()), "tokenizer: id " + std::to_string(past) + " is outside the vocabulary (0.." +
                                           std::to_string(past - 1) + ")");
    }
  }
}

TEST(Tokenizer, BadModelsAreClearErrors) {
  try {
    Tokenizer::from_file(TokenizerKind::kSentencePiece, "/nonexistent/tokenizer.model");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tokenizer.model: cannot open"), std::string::npos);
  }
  const std::string garbage = ::testing::TempDir() + "/garbage.model";
  std::ofstream(garbage) << "not a protobuf";
  try {
    Tokenizer::from_file(TokenizerKind::kSentencePiece, garbage);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a SentencePiece model"), std::string::npos);
  }
  EXPECT_THROW(parse_tokenizer_kind("wordpiece"), std::invalid_argument);
  // Found by the tokenizer fuzzer: a piece with a NUL byte made SentencePiece's trie builder abort
  // the process. It is refused before SentencePiece sees it.
  const std::string crash = std::string(TERNARY_SOURCE_DIR) + "/tests/fuzz/regressions/tokenizer/nul_byte_in_piece.model";
  try {
    Tokenizer::from_file(TokenizerKind::kSentencePiece, crash);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a usable SentencePiece model"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse_tokenizer_kind(to_string(TokenizerKind::kSentencePiece)), TokenizerKind::kSentencePiece);
}

}  // namespace ternary
