#include "train/tokenizer.h"

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
  ByteTokenizer t;
  const std::string text = "To be, or not to be:\nthat is the question. \xc3\xa9\x00\xff";
  const auto ids = t.encode(text);
  EXPECT_EQ(ids.size(), text.size());
  EXPECT_EQ(ids[0], 'T');
  EXPECT_EQ(t.decode(ids), text);
  EXPECT_THROW(t.decode({300}), std::out_of_range);
  EXPECT_EQ(t.vocab_size(), 256);
}

TEST(SentencePieceTokenizer, LoadsAModelAndRoundTrips) {
  const auto t = make_tokenizer("sentencepiece", tiny_sentencepiece_model());
  EXPECT_EQ(t->vocab_size(), 300);
  const std::string text = "ROMEO: What light through yonder window breaks?";
  const auto ids = t->encode(text);
  EXPECT_LT(ids.size(), text.size());  // merges actually happen
  EXPECT_EQ(t->decode(ids), text);
  EXPECT_EQ(t->id().rfind("sentencepiece:", 0), 0u);
}

TEST(Tokenizer, BadModelsAreClearErrors) {
  try {
    make_tokenizer("sentencepiece", "/nonexistent/tokenizer.model");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tokenizer.model: cannot open"), std::string::npos);
  }
  const std::string garbage = ::testing::TempDir() + "/garbage.model";
  std::ofstream(garbage) << "not a protobuf";
  try {
    make_tokenizer("sentencepiece", garbage);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a SentencePiece model"), std::string::npos);
  }
  EXPECT_THROW(make_tokenizer("wordpiece"), std::invalid_argument);
}

}  // namespace ternary
